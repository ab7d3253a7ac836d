/**
 * Parse time against input length (issue 10): every entry point that parses an untrusted string
 * (`SockAddr.fromString`, `SockAddr.fromJson`, `Dialer.dial`'s target, `InvalidInput.duration`),
 * fed strings of 1 KiB .. 1 MiB in the shapes that made the old parser backtrack. Growth must be
 * constant (each is refused by its length limit before it is parsed): the program prints the
 * time per call at each length and the ratio of the 1 MiB time to the 1 KiB time, and exits 1
 * when a ratio passes 8 (a linear parser would show ~1024, the old quadratic one ~10^6).
 *
 * For scale, the regular expression the address parser used before (`/^[\w.-]*[a-zA-Z][\w.-]*:\d+$/`)
 * runs on the same shapes up to 16 KiB only: beyond that it takes seconds per call.
 *
 * Rounds rotate over the lengths; each figure is the CPU time per call (wall time swings too much
 * on a shared machine for microsecond calls), the median of the rounds with the spread (min..max). One process: these are microsecond calls with no I/O, so a
 * process per contender would measure start-up, not parsing. The machine may be shared: the
 * ratios, not the absolute times, are the result.
 *
 *   node packages/core/bench/parse.ts
 */
import { Effect, Exit, Layer } from "effect"
import { AddressResolver, Dns } from "effect/net"
import { Dialer, InvalidInput, Network, SockAddr, type Transport } from "../src/index.ts"

const KiB = 1024
const lengths = [1, 4, 16, 64, 256, 1024].map((k) => k * KiB)
const rounds = 5
const maxRatio = 8

/** Worst shapes for a backtracking parser: long runs of one class, then a mismatch. */
const shapes: ReadonlyArray<{ readonly name: string; readonly make: (n: number) => string }> = [
  { name: "letters", make: (n) => "a".repeat(n) },
  { name: "name:port!", make: (n) => `${"a".repeat(n - 3)}:1!` },
  { name: "digits", make: (n) => "1".repeat(n) },
  { name: "[colons]:1", make: (n) => `[${":".repeat(n - 4)}]:1` },
  { name: "unix:path", make: (n) => `unix:${"a".repeat(n - 5)}` }
]

const refusing: Transport.Transport = {
  platform: "bench",
  connectStream: () => Effect.die("unreachable: every input is refused"),
  openDatagram: () => Effect.die("unreachable: every input is refused")
}
const context = Effect.runSync(
  Layer.build(
    Layer.merge(
      Layer.succeed(Network.Network)(Network.make(refusing)),
      AddressResolver.layer().pipe(Layer.provide(Dns.layerStatic({ hosts: {} })))
    )
  ).pipe(Effect.scoped)
)

const entryPoints: ReadonlyArray<{ readonly name: string; readonly run: (input: string) => boolean }> = [
  { name: "SockAddr.fromString", run: (s) => SockAddr.fromString(s)._tag === "Failure" },
  { name: "SockAddr.fromJson", run: (s) => SockAddr.fromJson({ _tag: "Inet", ip: s, port: 1 })._tag === "Failure" },
  {
    name: "Dialer.dial",
    run: (s) => Exit.isFailure(Effect.runSyncExit(Dialer.dial(s).pipe(Effect.scoped, Effect.provide(context))))
  },
  { name: "InvalidInput.duration", run: (s) => InvalidInput.duration("d", s as never)._tag === "Failure" }
]

const oldRegex = /^[\w.-]*[a-zA-Z][\w.-]*:\d+$/

/** Nanoseconds of wall and CPU time per call of `run` over `input`, `calls` times. */
const time = (run: (input: string) => boolean, input: string, calls: number) => {
  const cpu = process.cpuUsage()
  const started = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) {
    if (!run(input)) throw new Error("an oversized input was accepted")
  }
  const wall = Number(process.hrtime.bigint() - started) / calls
  const used = process.cpuUsage(cpu)
  return { wall, cpu: ((used.user + used.system) * 1000) / calls }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (ns: number) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`

let failed = false
console.log(
  `CPU time per call: median of ${rounds} rounds [min..max]; the last row is the 1 MiB / 1 KiB ratio of the medians. Noisy shared machine.`
)
for (const entry of entryPoints) {
  console.log(`\n${entry.name}\n`)
  console.log(`| length | ${shapes.map((shape) => shape.name).join(" | ")} |`)
  console.log(`|---|${shapes.map(() => "---").join("|")}|`)
  const columns = shapes.map((shape) => {
    const inputs = lengths.map((n) => shape.make(n))
    for (const input of inputs) time(entry.run, input, 100) // warm up
    const cpus: Array<Array<number>> = lengths.map(() => [])
    for (let round = 0; round < rounds; round++) {
      // Rotate the starting length each round, so no length always runs first.
      for (let k = 0; k < lengths.length; k++) {
        const i = (k + round) % lengths.length
        cpus[i]!.push(time(entry.run, inputs[i]!, 300).cpu)
      }
    }
    return cpus
  })
  lengths.forEach((n, i) => {
    const cells = columns.map((cpus) => {
      const xs = cpus[i]!
      return `${fmt(median(xs))} [${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}]`
    })
    console.log(`| ${n / KiB} KiB | ${cells.join(" | ")} |`)
  })
  const ratios = columns.map((cpus) => median(cpus[cpus.length - 1]!) / median(cpus[0]!))
  if (ratios.some((r) => r > maxRatio)) failed = true
  console.log(`| ratio | ${ratios.map((r) => `×${r.toFixed(2)}`).join(" | ")} |`)
}

console.log("\nfor scale: the regular expression used before, on `name:port!` (quadratic)")
const oldLengths = [1, 2, 4, 8, 16].map((k) => k * KiB)
const oldTimes = oldLengths.map((n) => {
  const input = `${"a".repeat(n - 3)}:1!`
  const calls = n <= 4 * KiB ? 20 : 3
  return time((s) => !oldRegex.test(s), input, calls).wall
})
console.log(
  `  ${oldLengths.map((n, i) => `${n / KiB} KiB ${fmt(oldTimes[i]!)}`).join("  ")}  16 KiB/1 KiB ×${(oldTimes[oldTimes.length - 1]! / oldTimes[0]!).toFixed(0)}`
)

if (failed) {
  console.log(`\nFAIL: a 1 MiB input took more than ${maxRatio}× the time of a 1 KiB one`)
  process.exitCode = 1
}
