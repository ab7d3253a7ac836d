/**
 * Happy Eyeballs on the real kernel: how long it takes to connect to a name whose first
 * address (`::1`) is blackholed while the second (`127.0.0.1`) listens, with dial's
 * `Dialer.dial` and with Node's own `net.connect({ autoSelectFamily: true })`.
 *
 *   node packages/node/bench/happy-eyeballs.ts [--runs 20]
 *
 * It runs inside a network namespace it makes (`unshare -n`), so it needs root, `unshare`, `ip`
 * and `nft`; without them it says why and exits 0. In the namespace it brings `lo` up, listens
 * on 127.0.0.1, and adds an nft rule that drops TCP SYNs to [::1] at that port: a route that
 * never answers, the case Happy Eyeballs exists for. Both clients resolve `db.test` to `::1`
 * then `127.0.0.1` without any DNS server (dial: `Dns.layerStatic`; Node: a `lookup` function),
 * and each run ends when the socket is connected. Both wait 250 ms before trying the next
 * address (dial's connection attempt delay, Node's `autoSelectFamilyAttemptTimeout`), so the
 * expected ratio is about 1: the point is that dial keeps the blackholed attempt alive
 * (it would still win if it answered) and reports every attempt, at no cost in latency.
 *
 * A program, not a test: it prints the median, p90 and range of each, and the ratio.
 */
import { Dialer } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { AddressResolver, Dns } from "effect/net"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import { parseArgs } from "node:util"

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    warmup: { type: "string", default: "2" },
    "in-netns": { type: "boolean", default: false }
  }
})
const runs = Number(args.runs)
const warmup = Number(args.warmup)

const hasCommand = (name: string): boolean =>
  ChildProcess.spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0

/** Outside the namespace: check what is needed, then run this program again inside one. */
const parent = (): number => {
  if (process.getuid?.() !== 0) {
    console.log("happy-eyeballs: skipped: needs root (it makes a network namespace and an nft rule)")
    return 0
  }
  const missing = ["unshare", "ip", "nft"].filter((name) => !hasCommand(name))
  if (missing.length > 0) {
    console.log(`happy-eyeballs: skipped: needs ${missing.join(", ")}`)
    return 0
  }
  const child = ChildProcess.spawnSync(
    "unshare",
    [
      "-n",
      "--",
      process.execPath,
      import.meta.filename,
      "--in-netns",
      "--runs",
      String(runs),
      "--warmup",
      String(warmup)
    ],
    { stdio: "inherit" }
  )
  if (child.status !== 0) console.error(`happy-eyeballs: the namespaced run failed (${child.status ?? child.signal})`)
  return child.status ?? 1
}

const run = (file: string, argv: ReadonlyArray<string>) => ChildProcess.execFileSync(file, argv, { stdio: "inherit" })

/** Inside the namespace: the server, the rule, then the runs. */
const inNamespace = async (): Promise<void> => {
  run("ip", ["link", "set", "lo", "up"])
  const server = Net.createServer((socket) => {
    socket.on("error", () => {})
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve))
  const port = (server.address() as Net.AddressInfo).port
  run("nft", ["add", "table", "inet", "happy_eyeballs"])
  run("nft", ["add", "chain", "inet", "happy_eyeballs", "input", "{ type filter hook input priority 0; }"])
  run("nft", [
    "add",
    "rule",
    "inet",
    "happy_eyeballs",
    "input",
    "ip6",
    "daddr",
    "::1",
    "tcp",
    "dport",
    String(port),
    "drop"
  ])

  const runtime = ManagedRuntime.make(
    Layer.merge(
      NodeNetwork.layer,
      AddressResolver.layer().pipe(
        Layer.provide(Layer.orDie(Dns.layerStatic({ hosts: { "db.test": ["::1", "127.0.0.1"] } })))
      )
    )
  )

  /** One dial; resolves with the milliseconds to connected, and the winning address. */
  const dialOnce = () =>
    runtime.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const started = performance.now()
          const dialed = yield* Dialer.dial(`db.test:${port}`, { deadline: "10 seconds" })
          const [first, second] = dialed.attempts
          return {
            millis: performance.now() - started,
            winner: String(dialed.address),
            // Where the time goes: resolution until the first attempt, the delay between the
            // attempts, the winning handshake.
            phases: [
              first?.startedAtMillis ?? Number.NaN,
              (second?.startedAtMillis ?? Number.NaN) - (first?.startedAtMillis ?? Number.NaN),
              (second?.endedAtMillis ?? Number.NaN) - (second?.startedAtMillis ?? Number.NaN)
            ] as const
          }
        })
      )
    )

  // Node's lookup contract: `all` (which autoSelectFamily asks for) wants every address.
  const addresses = [
    { address: "::1", family: 6 },
    { address: "127.0.0.1", family: 4 }
  ]
  const lookup = ((
    _hostname: string,
    options: { readonly all?: boolean },
    callback: (...args: Array<unknown>) => void
  ) =>
    options.all === true
      ? callback(null, addresses)
      : callback(null, addresses[0]!.address, addresses[0]!.family)) as unknown as Net.LookupFunction

  const nodeOnce = () =>
    new Promise<{ readonly millis: number; readonly winner: string }>((resolve, reject) => {
      const started = performance.now()
      const socket = Net.connect({ host: "db.test", port, lookup, autoSelectFamily: true })
      socket.once("connect", () => {
        const millis = performance.now() - started
        const winner = `${socket.remoteAddress}:${socket.remotePort}`
        socket.destroy()
        resolve({ millis, winner })
      })
      socket.once("error", (error) => {
        socket.destroy()
        reject(error)
      })
    })

  const timings = { dial: [] as Array<number>, node: [] as Array<number> }
  const winners = { dial: new Set<string>(), node: new Set<string>() }
  const phases: Array<readonly [number, number, number]> = []
  for (let i = 0; i < warmup; i++) {
    await dialOnce()
    await nodeOnce()
  }
  // Alternate, so that both see the same machine.
  for (let i = 0; i < runs; i++) {
    const d = await dialOnce()
    timings.dial.push(d.millis)
    winners.dial.add(d.winner)
    phases.push(d.phases)
    const n = await nodeOnce()
    timings.node.push(n.millis)
    winners.node.add(n.winner)
  }
  await runtime.dispose()
  server.close()

  const percentile = (values: ReadonlyArray<number>, p: number) => {
    const sorted = [...values].sort((a, b) => a - b)
    return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
  }
  const row = (name: string, values: ReadonlyArray<number>, winner: Set<string>) =>
    `${name.padEnd(44)} ${percentile(values, 50).toFixed(1).padStart(8)} ${percentile(values, 90).toFixed(1).padStart(8)} ${Math.min(
      ...values
    )
      .toFixed(1)
      .padStart(8)} ${Math.max(...values)
      .toFixed(1)
      .padStart(8)}   ${[...winner].join(", ")}`

  console.log(
    `Happy Eyeballs, ::1 blackholed (nft drop), 127.0.0.1 listening; ${runs} runs each after ${warmup} warm-up, ms`
  )
  console.log(
    `Node ${process.version}, autoSelectFamilyAttemptTimeout ${Net.getDefaultAutoSelectFamilyAttemptTimeout()} ms`
  )
  console.log(
    `${"".padEnd(44)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"min".padStart(8)} ${"max".padStart(8)}   winner`
  )
  console.log(row("dial Dialer.dial (attemptDelay 250 ms)", timings.dial, winners.dial))
  console.log(row("node net.connect autoSelectFamily", timings.node, winners.node))
  const phase = (i: 0 | 1 | 2) =>
    percentile(
      phases.map((p) => p[i]),
      50
    ).toFixed(1)
  console.log(
    `dial's trace, medians: first attempt at ${phase(0)}, second ${phase(1)} after it, connected ${phase(2)} later`
  )
  console.log(
    `ratio dial/node: median ${(percentile(timings.dial, 50) / percentile(timings.node, 50)).toFixed(3)}, p90 ${(
      percentile(timings.dial, 90) / percentile(timings.node, 90)
    ).toFixed(3)}`
  )
}

if (args["in-netns"]) {
  await inNamespace()
} else {
  process.exitCode = parent()
}
