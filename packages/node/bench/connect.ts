/**
 * Connect throughput on loopback: dial (`Network.open` + `connect`, scope closed) against raw
 * `node:net` and Effect's `NodeSocket.makeNet`, in the same run.
 *
 *   node packages/node/bench/connect.ts [--iterations 2000] [--rounds 5] [--cap-seconds 20] [--out FILE]
 *
 * Cases: connect-and-close at concurrency 1 and 64 against a server in a child process (so the
 * server's work does not share this event loop), and refused connects (a closed loopback port)
 * at concurrency 1 and 64. Each round runs every implementation once per case, in rotating
 * order; the table reports each one's median round. One operation of every implementation ends
 * when its socket is closed: raw waits for 'close', dial's scope waits for 'close', `makeNet`'s
 * finalizer starts the close (it does not wait).
 *
 * Each implementation runs in a process of its own, driven by this one over IPC. An
 * application uses one of them, and in one process they tax each other: the JIT's feedback
 * for Node's `net` code and Effect's runtime turns polymorphic, and one's garbage is collected
 * during another's round. In our measurements in one process, the same code's
 * rate moved by up to 25% depending on which others ran beside it.
 *
 * Implementations: raw `node:net` (promises); the same raw operation wrapped in an Effect (the
 * cost of Effect's runtime alone: a fiber per connect); raw `node:net` as a scoped Effect (one
 * callback to connect, one scope finalizer to close: the floor for a scoped Effect socket); dial
 * with the address parsed once; dial with the address as a string on every connect (as most
 * programs write it); `NodeSocket.makeNet`.
 *
 * A program, not a test: it prints a table and, with `--out`, writes it as Markdown.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import { parseArgs } from "node:util"

const { values: args } = parseArgs({
  options: {
    iterations: { type: "string", default: "2000" },
    warmup: { type: "string", default: "300" },
    rounds: { type: "string", default: "5" },
    "cap-seconds": { type: "string", default: "20" },
    out: { type: "string" },
    worker: { type: "string" }
  }
})
const iterations = Number(args.iterations)
const warmup = Number(args.warmup)
const rounds = Number(args.rounds)
const capMillis = Number(args["cap-seconds"]) * 1000

const host = "127.0.0.1"

// The server, in its own process: waits for the client's FIN, then answers with a reset. So
// neither side keeps a TIME_WAIT socket: tens of thousands of them would slow down the kernel's
// ephemeral port search (connect(2) itself) as the run goes on and skew later cases. It exits
// when our stdin pipe closes.
const serverSource = `
const net = require("node:net")
const server = net.createServer({ allowHalfOpen: true }, (c) => {
  c.on("error", () => {})
  c.on("end", () => c.resetAndDestroy())
  c.resume()
})
server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => console.log(server.address().port))
process.stdin.on("end", () => process.exit(0)).resume()
`

const startServer = (): Promise<{ readonly port: number; readonly stop: () => void }> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, ["-e", serverSource], { stdio: ["pipe", "pipe", "inherit"] })
    child.once("error", reject)
    child.stdout.once("data", (chunk: Buffer) =>
      resolve({
        port: Number(chunk.toString().trim()),
        stop: () => {
          child.stdin.end()
          child.kill()
        }
      })
    )
  })

const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = Net.createServer().listen(0, host, () => {
      const port = (probe.address() as Net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

type Outcome = "connect" | "refused"

interface Implementation {
  readonly name: string
  /** Runs `count` operations at `concurrency`, stopping at the deadline; returns how many ran. */
  readonly run: (
    port: number,
    outcome: Outcome,
    count: number,
    concurrency: number,
    deadline: number
  ) => Promise<number>
}

const rawOnce = (port: number, outcome: Outcome): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host, port })
    let failure: Error | undefined
    socket.once("connect", () => {
      if (outcome === "refused") failure = new Error("connected to a closed port")
      socket.destroy()
    })
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (outcome !== "refused" || error.code !== "ECONNREFUSED") failure = error
    })
    socket.once("close", () => (failure === undefined ? resolve() : reject(failure)))
  })

const raw: Implementation = {
  name: "node:net",
  run: async (port, outcome, count, concurrency, deadline) => {
    let started = 0
    const worker = async () => {
      while (started < count && performance.now() < deadline) {
        started++
        await rawOnce(port, outcome)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return started
  }
}

const runEffect = <R>(
  operation: Effect.Effect<void, unknown, R>,
  provide: (effect: Effect.Effect<void, unknown, R>) => Effect.Effect<void, unknown>,
  count: number,
  concurrency: number,
  deadline: number
): Promise<number> => {
  let done = 0
  const step = Effect.suspend(() =>
    performance.now() < deadline
      ? Effect.map(operation, () => {
          done++
        })
      : Effect.void
  )
  const all = Effect.forEach(Array.from({ length: count }), () => step, { concurrency, discard: true })
  return Effect.runPromise(Effect.map(provide(all), () => done))
}

const unprovided = <A, E>(effect: Effect.Effect<A, E>) => effect

/** Fails unless the effect ended as the case expects: connected, or ECONNREFUSED. */
const expecting = <R>(
  outcome: Outcome,
  connect: Effect.Effect<void, { readonly _tag: string }, R>
): Effect.Effect<void, unknown, R> =>
  outcome === "connect"
    ? connect
    : Effect.flatMap(Effect.flip(connect), (error) =>
        error._tag === "ECONNREFUSED" ? Effect.void : Effect.fail(error)
      )

const rawInEffect: Implementation = {
  name: "node:net in Effect",
  run: (port, outcome, count, concurrency, deadline) =>
    runEffect(
      Effect.tryPromise(() => rawOnce(port, outcome)),
      unprovided,
      count,
      concurrency,
      deadline
    )
}

/** One raw connect as a callback: the socket once connected, Node's error once the failed socket closed. */
const rawConnect = (port: number) =>
  Effect.callback<Net.Socket, NodeJS.ErrnoException>((resume) => {
    const socket = Net.connect({ host, port })
    const onConnect = () => resume(Effect.succeed(socket))
    socket.once("connect", onConnect)
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.off("connect", onConnect)
      socket.once("close", () => resume(Effect.fail(error)))
    })
    return Effect.callback<void>((closed) => {
      socket.once("close", () => closed(Effect.void))
      socket.destroy()
    })
  })

const rawClose = (socket: Net.Socket) =>
  Effect.callback<void>((closed) => {
    if (socket.closed) return closed(Effect.void)
    socket.once("close", () => closed(Effect.void))
    socket.destroy()
  })

// The fewest Effect steps a scoped socket can take: one callback to connect, one finalizer to
// close, in the caller's scope. No state, no typed errors: a floor, not a library.
const rawScoped: Implementation = {
  name: "node:net, scoped Effect",
  run: (port, outcome, count, concurrency, deadline) => {
    const connect = Effect.scoped(
      Effect.flatMap(Effect.scope, (scope) =>
        Effect.flatMap(rawConnect(port), (socket) => Scope.addFinalizer(scope, rawClose(socket)))
      )
    )
    const operation =
      outcome === "connect"
        ? connect
        : Effect.flatMap(Effect.flip(connect), (error) =>
            error.code === "ECONNREFUSED" ? Effect.void : Effect.fail(error)
          )
    return runEffect(operation, unprovided, count, concurrency, deadline)
  }
}

const dialWith = (name: string, address: (port: number) => SockAddr.Input): Implementation => ({
  name,
  run: (port, outcome, count, concurrency, deadline) => {
    const target = address(port)
    const connect = Effect.scoped(Effect.flatMap(Network.open("stream"), (handle) => handle.connect(target)))
    return runEffect(expecting(outcome, connect), Effect.provide(NodeNetwork.layer), count, concurrency, deadline)
  }
})

// Parsed once, as a program that connects to one address repeatedly would.
const dial = dialWith("dial", (port) => Result.getOrThrow(SockAddr.inet(host, port)))
// A string on every connect, as most programs write it (SockAddr keeps its parses).
const dialString = dialWith("dial, string address", (port) => `${host}:${port}`)

const nodeSocket: Implementation = {
  name: "NodeSocket.makeNet",
  run: (port, outcome, count, concurrency, deadline) => {
    const connect = Effect.scoped(Effect.flatMap(NodeSocket.makeNet({ host, port }), (socket) => socket.reader))
    const operation = outcome === "connect" ? Effect.asVoid(connect) : Effect.asVoid(Effect.flip(connect))
    return runEffect(operation, unprovided, count, concurrency, deadline)
  }
}

const implementations: ReadonlyArray<Implementation> = [raw, rawInEffect, rawScoped, dial, dialString, nodeSocket]

interface Case {
  readonly name: string
  readonly outcome: Outcome
  readonly concurrency: number
}

const cases: ReadonlyArray<Case> = [
  { name: "connect+close c=1", outcome: "connect", concurrency: 1 },
  { name: "connect+close c=64", outcome: "connect", concurrency: 64 },
  { name: "refused c=1", outcome: "refused", concurrency: 1 },
  { name: "refused c=64", outcome: "refused", concurrency: 64 }
]

/** One implementation's process: runs what the parent asks, answers with the rate. */
const serveWorker = (impl: Implementation) => {
  process.on("message", async (request: { readonly port: number; readonly case: Case; readonly count: number }) => {
    const start = performance.now()
    const ran = await impl.run(
      request.port,
      request.case.outcome,
      request.count,
      request.case.concurrency,
      start + capMillis
    )
    process.send!({ rate: (ran / (performance.now() - start)) * 1000 })
  })
  process.send!({ ready: true })
}

interface Worker {
  readonly run: (port: number, c: Case, count: number) => Promise<number>
  readonly stop: () => void
}

const startWorker = (impl: Implementation): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(new URL(import.meta.url), ["--worker", impl.name], {
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    // A worker that dies fails its pending run (and the benchmark) rather than hanging it.
    let failPending = (error: Error) => reject(error)
    child.once("error", (error) => failPending(error))
    child.once("exit", (code) => failPending(new Error(`the ${impl.name} worker exited (${code})`)))
    child.once("message", () =>
      resolve({
        run: (port, c, count) =>
          new Promise((done, fail) => {
            failPending = fail
            child.once("message", (reply: { readonly rate: number }) => done(reply.rate))
            child.send({ port, case: c, count })
          }),
        stop: () => {
          failPending = () => {}
          child.kill()
        }
      })
    )
  })

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** A Markdown table laid out as the repository's formatter (Biome) lays it out; numbers right-aligned. */
const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  return [
    line(header.map((cell, column) => cell.padEnd(widths[column]!))),
    line(widths.map((width, column) => (column === 0 ? "-".repeat(width) : `${"-".repeat(width - 1)}:`))),
    ...rows.map((row) =>
      line(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))))
    )
  ].join("\n")
}

const main = async () => {
  const server = await startServer()
  const refusedPort = await closedPort()
  const rates = new Map<string, Array<number>>()
  const workers = new Map<string, Worker>()
  try {
    for (const impl of implementations) workers.set(impl.name, await startWorker(impl))
    for (const c of cases) {
      const port = c.outcome === "connect" ? server.port : refusedPort
      for (const impl of implementations) await workers.get(impl.name)!.run(port, c, warmup)
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < implementations.length; i++) {
          const impl = implementations[(i + round) % implementations.length]!
          const key = `${c.name}/${impl.name}`
          rates.set(key, [...(rates.get(key) ?? []), await workers.get(impl.name)!.run(port, c, iterations)])
        }
      }
    }
  } finally {
    for (const worker of workers.values()) worker.stop()
    server.stop()
  }
  const names = implementations.map((impl) => impl.name)
  const compared = ["node:net", "node:net, scoped Effect", "NodeSocket.makeNet"]
  const header = ["case", ...names.map((name) => `${name} (ops/s)`), ...compared.map((name) => `dial / ${name}`)]
  const rows = cases.map((c) => {
    const rate = (name: string) => median(rates.get(`${c.name}/${name}`) ?? [0])
    const dialRate = rate("dial")
    return [
      c.name,
      ...names.map((name) => rate(name).toFixed(0)),
      ...compared.map((name) => `${(dialRate / rate(name)).toFixed(2)}x`)
    ]
  })
  const table = markdownTable(header, rows)
  const cpu = Os.cpus()[0]?.model ?? "unknown cpu"
  const environment = `Node ${process.version}, ${Os.platform()} ${Os.release()}, ${Os.cpus().length} x ${cpu}; ${iterations} operations per case and round after ${warmup} warm-up; median of ${rounds} rounds.`
  console.log(table)
  console.log(`\n${environment}`)
  if (args.out !== undefined) {
    Fs.writeFileSync(
      args.out,
      [
        "# @dial/node connect benchmark",
        "",
        table,
        "",
        environment,
        "",
        "- **node:net**: `net.connect`, destroy on 'connect', done on 'close' (promises, no Effect).",
        "- **node:net in Effect**: the same operation in `Effect.tryPromise`: what a fiber per connect costs.",
        "- **node:net, scoped Effect**: `net.connect` in one `Effect.callback`, closed by a finalizer of the caller's scope: the fewest Effect steps a scoped socket can take (no state, no typed errors). The floor for any Effect socket library used as dial is.",
        '- **dial**: `Network.open("stream")` + `connect(address)` in a scope, the address parsed once.',
        '- **dial, string address**: the same with `"127.0.0.1:port"` as a string on every connect, as most programs write it.',
        "- **NodeSocket.makeNet**: Effect's own socket, connected by acquiring its reader.",
        "",
        "Each implementation runs in its own process, driven by the benchmark over IPC; the server is another process.",
        "",
        `Produced by \`node packages/node/bench/connect.ts --out ${args.out}\` on ${new Date().toISOString().slice(0, 10)}.`,
        ""
      ].join("\n")
    )
  }
}

if (args.worker === undefined) {
  await main()
} else {
  const impl = implementations.find((candidate) => candidate.name === args.worker)
  if (impl === undefined) throw new Error(`no implementation named ${args.worker}`)
  serveWorker(impl)
}
