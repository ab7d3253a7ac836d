/**
 * The connect path against raw `node:net`: throughput, main-thread CPU, allocations and GC per
 * operation, and memory per held connection.
 *
 *   node --expose-gc packages/node/bench/connect.ts [--rounds 25] [--scale 1] [--out FILE]
 *
 * Contenders, each in a process of its own (in one process they tax each other: the JIT's
 * feedback for Node's `net` code turns polymorphic, and one's garbage is collected during
 * another's round):
 *
 * - **node:net**: `net.connect`, `destroy()` on 'connect', done on 'close' (promises, no Effect);
 * - **NodeSocket.makeNet**: Effect's own socket, connected by acquiring its reader in a scope;
 * - **floor**: `net.connect` in one `Effect.callback`, `destroy()` in one finalizer of the
 *   caller's scope, Node's error as it comes: the fewest steps any scoped Effect socket takes
 *   (no state, no typed errors);
 * - **dial**: `Network.open("stream")` + `connect(address)` in a scope, the address parsed once,
 *   `NodeNetwork.layer` provided once around the run (as an application provides it).
 *
 * Cases: connect+close at concurrency 1, 64 and 512, and refused connects at 1 and 64, over TCP
 * (loopback) and over unix sockets, against a server in another process (its work does not
 * share the measured event loop). Every round runs each contender once per case, in an order
 * that rotates from round to round; a ratio is taken within a round (paired), and the table
 * shows the median of the per-round ratios with their 10th-90th percentile spread.
 *
 * Per operation, measured inside the contender's process around its run:
 * - main-thread CPU (`process.threadCpuUsage`, user + system): what the connect costs the
 *   event loop, whatever else the machine runs;
 * - bytes allocated on the JavaScript heap (heap used at the end minus at the start, plus what
 *   every GC in between freed, from `v8.GCProfiler`), and the time those GCs took.
 *
 * Then memory per held connection: each contender holds 64, 512 and 2,048 connections open at
 * once; heap used and RSS after a full GC, minus the same before, divided by the count.
 *
 * A program, not a test: it prints tables and, with `--out`, writes them as Markdown.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as V8 from "node:v8"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "25" },
    scale: { type: "string", default: "1" },
    out: { type: "string" },
    worker: { type: "string" }
  }
})
const rounds = Number(args.rounds)
const scale = Number(args.scale)

/** Where to connect: TCP port on 127.0.0.1, or a unix socket path. */
type Target = { readonly tcp: number } | { readonly unix: string }
type Outcome = "connect" | "refused"

interface Case {
  readonly name: string
  readonly transport: "tcp" | "unix"
  readonly outcome: Outcome
  readonly concurrency: number
  readonly count: number
}

// A unix listener refuses (EAGAIN) once its backlog (net.core.somaxconn, 4096 here) is full, and
// a raw client connects faster than a Node server accepts: a unix run stays below the backlog,
// and every run starts with the backlog drained (see `drained`).
const cases: ReadonlyArray<Case> = (["tcp", "unix"] as const).flatMap((transport) => [
  { name: `${transport} connect+close c=1`, transport, outcome: "connect" as const, concurrency: 1, count: 2400 },
  {
    name: `${transport} connect+close c=64`,
    transport,
    outcome: "connect" as const,
    concurrency: 64,
    count: transport === "tcp" ? 4000 : 3000
  },
  {
    name: `${transport} connect+close c=512`,
    transport,
    outcome: "connect" as const,
    concurrency: 512,
    count: transport === "tcp" ? 5000 : 3000
  },
  { name: `${transport} refused c=1`, transport, outcome: "refused" as const, concurrency: 1, count: 2400 },
  { name: `${transport} refused c=64`, transport, outcome: "refused" as const, concurrency: 64, count: 4000 }
])
const heldCounts = [64, 512, 2048]

// ---------------------------------------------------------------------------------------------
// The contenders. `run` performs `count` operations at `concurrency`; `hold` opens `count`
// connections and keeps them until the returned function is called.

interface Contender {
  readonly name: string
  readonly run: (target: Target, outcome: Outcome, count: number, concurrency: number) => Promise<void>
  readonly hold: (target: Target, count: number) => Promise<() => Promise<void>>
}

const netOptions = (target: Target): Net.NetConnectOpts =>
  "tcp" in target ? { host: "127.0.0.1", port: target.tcp } : { path: target.unix }

const isRefused = (error: { readonly code?: unknown; readonly _tag?: unknown }) =>
  error.code === "ECONNREFUSED" || error._tag === "ECONNREFUSED"

const rawOnce = (target: Target, outcome: Outcome): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(netOptions(target))
    let failure: Error | undefined
    socket.once("connect", () => {
      if (outcome === "refused") failure = new Error("connected to a refusing address")
      socket.destroy()
    })
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (outcome !== "refused" || !isRefused(error)) failure = error
    })
    socket.once("close", () => (failure === undefined ? resolve() : reject(failure)))
  })

const raw: Contender = {
  name: "node:net",
  run: async (target, outcome, count, concurrency) => {
    let started = 0
    const worker = async () => {
      while (started < count) {
        started++
        await rawOnce(target, outcome)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  },
  hold: async (target, count) => {
    const sockets: Array<Net.Socket> = []
    for (let opened = 0; opened < count; opened += 64) {
      const batch = Math.min(64, count - opened)
      await Promise.all(
        Array.from(
          { length: batch },
          () =>
            new Promise<void>((resolve, reject) => {
              const socket = Net.connect(netOptions(target))
              socket.once("connect", () => resolve())
              socket.once("error", reject)
              sockets.push(socket)
            })
        )
      )
    }
    return async () => {
      await Promise.all(
        sockets.map((socket) => new Promise<void>((resolve) => socket.destroy().once("close", resolve)))
      )
    }
  }
}

/**
 * Runs `count` copies of `operation` at `concurrency` in one Effect program. A contender's
 * services are provided once around the run, as an application provides its layers once: built
 * per operation, `NodeNetwork.layer` cost dial 10 run-loop steps (a memo map, a scope and two
 * context merges) that were the benchmark's, not the connect's.
 */
const runEffect = <E, R = never>(
  operation: Effect.Effect<void, E, R>,
  count: number,
  concurrency: number,
  layer?: Layer.Layer<R>
): Promise<void> => {
  const each = Effect.forEach(Array.from({ length: count }), () => operation, { concurrency, discard: true })
  const all = layer === undefined ? (each as Effect.Effect<void, E>) : Effect.provide(each, layer)
  return Effect.runPromise(counting === undefined ? all : Effect.provideService(all, Scheduler.Scheduler, counting))
}

/**
 * Counts the fiber run loop's steps: it asks the scheduler whether to yield once per step. Set
 * only while steps are counted (a separate pass, not a measured round).
 */
class CountingScheduler extends Scheduler.MixedScheduler {
  steps = 0
  override shouldYield(fiber: Parameters<Scheduler.MixedScheduler["shouldYield"]>[0]) {
    this.steps++
    return super.shouldYield(fiber)
  }
}
let counting: CountingScheduler | undefined

/** The operation as the case wants it: it fails unless it connected, or was refused. */
const expecting = <E extends object, R>(
  outcome: Outcome,
  connect: Effect.Effect<void, E, R>
): Effect.Effect<void, unknown, R> =>
  outcome === "connect"
    ? connect
    : Effect.flatMap(Effect.flip(connect), (error) => (isRefused(error) ? Effect.void : Effect.fail(error)))

/** Holds `count` scoped connections in one scope, opened 64 at a time; closing it closes them. */
const holdScoped = async <E, R = never>(
  connect: Effect.Effect<void, E, Scope.Scope | R>,
  count: number,
  layer?: Layer.Layer<R>
) => {
  const scope = Effect.runSync(Scope.make())
  const all = Effect.forEach(Array.from({ length: count }), () => Scope.provide(connect, scope), {
    concurrency: 64,
    discard: true
  })
  await Effect.runPromise(layer === undefined ? (all as Effect.Effect<void, E>) : Effect.provide(all, layer))
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}

const floorConnect = (target: Target): Effect.Effect<void, NodeJS.ErrnoException, Scope.Scope> =>
  Effect.flatMap(
    Effect.callback<Net.Socket, NodeJS.ErrnoException>((resume) => {
      const socket = Net.connect(netOptions(target))
      const onConnect = () => resume(Effect.succeed(socket))
      socket.once("connect", onConnect)
      socket.on("error", (error: NodeJS.ErrnoException) => {
        socket.off("connect", onConnect)
        resume(Effect.fail(error))
      })
      return Effect.sync(() => socket.destroy())
    }),
    (socket) => Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
  )

const floor: Contender = {
  name: "floor",
  run: (target, outcome, count, concurrency) =>
    runEffect(expecting(outcome, Effect.scoped(floorConnect(target))), count, concurrency),
  hold: (target, count) => holdScoped(floorConnect(target), count)
}

const makeNetConnect = (target: Target) =>
  Effect.flatMap(NodeSocket.makeNet(netOptions(target)), (socket) => Effect.asVoid(socket.reader))

const makeNet: Contender = {
  name: "NodeSocket.makeNet",
  run: (target, outcome, count, concurrency) => {
    const connect = Effect.scoped(makeNetConnect(target))
    const operation = outcome === "connect" ? connect : Effect.asVoid(Effect.flip(connect))
    return runEffect(operation, count, concurrency)
  },
  hold: (target, count) => holdScoped(makeNetConnect(target), count)
}

const dialAddress = (target: Target): SockAddr.SockAddr =>
  "tcp" in target
    ? Result.getOrThrow(SockAddr.inet("127.0.0.1", target.tcp))
    : Result.getOrThrow(SockAddr.unixPath(target.unix))

const dialConnect = (address: SockAddr.SockAddr) =>
  Effect.flatMap(Network.open("stream"), (handle) => handle.connect(address))

const dial: Contender = {
  name: "dial",
  run: (target, outcome, count, concurrency) => {
    const address = dialAddress(target)
    return runEffect(expecting(outcome, Effect.scoped(dialConnect(address))), count, concurrency, NodeNetwork.layer)
  },
  hold: (target, count) => holdScoped(dialConnect(dialAddress(target)), count, NodeNetwork.layer)
}

const contenders: ReadonlyArray<Contender> = [raw, makeNet, floor, dial]

// ---------------------------------------------------------------------------------------------
// A contender's process: measures each run it is asked for.

interface RunReport {
  readonly ops: number
  readonly wallMillis: number
  readonly cpuMicros: number
  readonly allocatedBytes: number
  readonly gcMicros: number
}

interface HeldReport {
  readonly heapBytes: number
  readonly rssBytes: number
}

type Request =
  | {
      readonly kind: "run"
      readonly target: Target
      readonly outcome: Outcome
      readonly count: number
      readonly concurrency: number
    }
  | { readonly kind: "hold"; readonly target: Target; readonly count: number }
  | { readonly kind: "steps"; readonly target: Target; readonly outcome: Outcome }

const collect = (globalThis as { gc?: () => void }).gc ?? (() => {})

const measureRun = async (contender: Contender, request: Extract<Request, { kind: "run" }>): Promise<RunReport> => {
  const profiler = new V8.GCProfiler()
  profiler.start()
  const usedBefore = V8.getHeapStatistics().used_heap_size
  const cpuBefore = process.threadCpuUsage()
  const start = performance.now()
  await contender.run(request.target, request.outcome, request.count, request.concurrency)
  const wallMillis = performance.now() - start
  const cpu = process.threadCpuUsage(cpuBefore)
  const usedAfter = V8.getHeapStatistics().used_heap_size
  const profile = profiler.stop()
  let freed = 0
  let gcMicros = 0
  for (const gc of profile?.statistics ?? []) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize
    gcMicros += gc.cost
  }
  return {
    ops: request.count,
    wallMillis,
    cpuMicros: cpu.user + cpu.system,
    allocatedBytes: usedAfter - usedBefore + freed,
    gcMicros
  }
}

const measureHeld = async (contender: Contender, request: Extract<Request, { kind: "hold" }>): Promise<HeldReport> => {
  collect()
  const before = process.memoryUsage()
  const release = await contender.hold(request.target, request.count)
  collect()
  const after = process.memoryUsage()
  await release()
  await new Promise((resolve) => setTimeout(resolve, 20))
  return {
    heapBytes: (after.heapUsed - before.heapUsed) / request.count,
    rssBytes: (after.rss - before.rss) / request.count
  }
}

/** Run-loop steps per operation at concurrency 1, less those of `forEach` itself; undefined without Effect. */
const measureSteps = async (
  contender: Contender,
  request: Extract<Request, { kind: "steps" }>
): Promise<number | undefined> => {
  const count = 200
  counting = new CountingScheduler()
  try {
    await runEffect(Effect.void, count, 1)
    const overhead = counting.steps
    counting.steps = 0
    await contender.run(request.target, request.outcome, count, 1)
    return counting.steps === 0 ? undefined : (counting.steps - overhead) / count
  } finally {
    counting = undefined
  }
}

const serveWorker = (contender: Contender) => {
  process.on("message", async (request: Request) => {
    try {
      const report =
        request.kind === "run"
          ? await measureRun(contender, request)
          : request.kind === "hold"
            ? await measureHeld(contender, request)
            : await measureSteps(contender, request)
      process.send!({ ok: report })
    } catch (error) {
      process.send!({ error: String(error) })
    }
  })
  process.send!({ ready: true })
}

// ---------------------------------------------------------------------------------------------
// The driver.

// The server, in its own process, listens on TCP and on a unix path. It waits for the client's
// FIN, then answers with a reset: neither side keeps a TIME_WAIT socket, which by the tens of
// thousands would slow connect(2)'s port search as the run goes on. It exits when stdin closes.
const serverSource = `
const net = require("node:net")
const serve = (reset) => (c) => {
  c.on("error", () => {})
  c.on("end", () => (reset ? c.resetAndDestroy() : c.destroy()))
  c.on("data", () => c.write("."))
  c.resume()
}
const tcp = net.createServer({ allowHalfOpen: true }, serve(true))
const unix = net.createServer({ allowHalfOpen: true }, serve(false))
tcp.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () =>
  unix.listen({ path: process.argv[1], backlog: 4096 }, () => console.log(tcp.address().port))
)
process.stdin.on("end", () => process.exit(0)).resume()
`

const spawnNode = (source: string, argv: ReadonlyArray<string>) =>
  ChildProcess.spawn(process.execPath, ["-e", source, ...argv], { stdio: ["pipe", "pipe", "inherit"] })

const startServer = (path: string): Promise<{ readonly port: number; readonly stop: () => void }> =>
  new Promise((resolve, reject) => {
    const child = spawnNode(serverSource, [path])
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

/**
 * Resolves once the server has answered a connection made now. It accepts in order, so every
 * connection made before this one has been accepted: the backlog is empty.
 */
const drained = (target: Target): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(netOptions(target), () => socket.write("."))
    socket.once("data", () => {
      socket.destroy()
      resolve()
    })
    socket.once("error", reject)
  })

/** A TCP port nobody listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = Net.createServer().listen(0, "127.0.0.1", () => {
      const port = (probe.address() as Net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

/** A stale unix socket file: its listener's process was killed, so connects are refused. */
const staleSocket = (path: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawnNode(
      `require("node:net").createServer().listen(process.argv[1], () => process.kill(process.pid, "SIGKILL"))`,
      [path]
    )
    child.once("error", reject)
    child.once("exit", () => (Fs.existsSync(path) ? resolve() : reject(new Error("no stale socket file"))))
  })

interface Worker {
  readonly ask: <A>(request: Request) => Promise<A>
  readonly stop: () => void
}

const startWorker = (contender: Contender): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(new URL(import.meta.url), ["--worker", contender.name], {
      execArgv: [...process.execArgv.filter((flag) => flag !== "--expose-gc"), "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    // A worker that dies fails its pending request (and the benchmark) rather than hanging it.
    let failPending = (error: Error) => reject(error)
    child.once("error", (error) => failPending(error))
    child.once("exit", (code) => failPending(new Error(`the ${contender.name} worker exited (${code})`)))
    child.once("message", () =>
      resolve({
        ask: <A>(request: Request) =>
          new Promise<A>((done, fail) => {
            failPending = fail
            child.once("message", (reply: { readonly ok?: A; readonly error?: string }) =>
              reply.error === undefined ? done(reply.ok!) : fail(new Error(`${contender.name}: ${reply.error}`))
            )
            child.send(request)
          }),
        stop: () => {
          failPending = () => {}
          child.kill()
        }
      })
    )
  })

const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low)
}
const median = (values: ReadonlyArray<number>) => quantile(values, 0.5)

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

/** A paired ratio: median of the per-round ratios, with the 10th-90th percentile spread. */
const ratio = (all: ReadonlyArray<number>) => {
  // A run too short for the CPU clock's resolution measures 0: leave such rounds out.
  const values = all.filter(Number.isFinite)
  if (values.length === 0) return "n/a"
  return `${median(values).toFixed(2)}x (${quantile(values, 0.1).toFixed(2)}-${quantile(values, 0.9).toFixed(2)})`
}

const main = async () => {
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dial-bench-"))
  const listening = Path.join(directory, "server.sock")
  const stale = Path.join(directory, "stale.sock")
  const server = await startServer(listening)
  await staleSocket(stale)
  const refusedPort = await closedPort()
  const targetOf = (c: Case): Target =>
    c.transport === "tcp"
      ? { tcp: c.outcome === "connect" ? server.port : refusedPort }
      : { unix: c.outcome === "connect" ? listening : stale }
  const reports = new Map<string, Array<RunReport>>()
  const held = new Map<string, HeldReport>()
  const steps = new Map<string, number | undefined>()
  const workers = new Map<string, Worker>()
  const started = performance.now()
  const loadAtStart = Os.loadavg()[0]!.toFixed(2)
  try {
    for (const contender of contenders) workers.set(contender.name, await startWorker(contender))
    const runOnce = async (contender: Contender, c: Case, count: number) => {
      if (c.outcome === "connect") await drained(targetOf(c))
      return workers.get(contender.name)!.ask<RunReport>({
        kind: "run",
        target: targetOf(c),
        outcome: c.outcome,
        count,
        concurrency: c.concurrency
      })
    }
    // Warm-up: every case once, so that the JIT has seen every path before the first round.
    for (const c of cases) for (const contender of contenders) await runOnce(contender, c, Math.ceil(c.count * scale))
    for (let round = 0; round < rounds; round++) {
      for (const [index, c] of cases.entries()) {
        for (let i = 0; i < contenders.length; i++) {
          const contender = contenders[(i + round + index) % contenders.length]!
          const key = `${c.name}/${contender.name}`
          reports.set(key, [...(reports.get(key) ?? []), await runOnce(contender, c, Math.ceil(c.count * scale))])
        }
      }
      console.error(`round ${round + 1}/${rounds} (${((performance.now() - started) / 1000).toFixed(0)} s)`)
    }
    for (const c of cases.filter((c) => c.concurrency === 1)) {
      for (const contender of contenders) {
        steps.set(
          `${c.name}/${contender.name}`,
          await workers.get(contender.name)!.ask<number | undefined>({
            kind: "steps",
            target: targetOf(c),
            outcome: c.outcome
          })
        )
      }
    }
    // Holding once first, so that the measured holds do not count the code they compile.
    for (const contender of contenders) {
      await drained({ tcp: server.port })
      await workers.get(contender.name)!.ask<HeldReport>({ kind: "hold", target: { tcp: server.port }, count: 64 })
    }
    for (const count of heldCounts) {
      for (const contender of contenders) {
        held.set(
          `${count}/${contender.name}`,
          await workers.get(contender.name)!.ask<HeldReport>({ kind: "hold", target: { tcp: server.port }, count })
        )
      }
    }
  } finally {
    for (const worker of workers.values()) worker.stop()
    server.stop()
    Fs.rmSync(directory, { recursive: true, force: true })
  }

  const of = (c: Case, name: string) => reports.get(`${c.name}/${name}`)!
  const rate = (report: RunReport) => (report.ops / report.wallMillis) * 1000
  const perRound = (c: Case, name: string, versus: string, f: (mine: RunReport, theirs: RunReport) => number) =>
    of(c, name).map((mine, round) => f(mine, of(c, versus)[round]!))
  const throughputRatio = (c: Case, name: string, versus: string) =>
    ratio(perRound(c, name, versus, (mine, theirs) => rate(mine) / rate(theirs)))
  const cpuRatio = (c: Case, name: string, versus: string) =>
    ratio(perRound(c, name, versus, (mine, theirs) => mine.cpuMicros / mine.ops / (theirs.cpuMicros / theirs.ops)))

  const throughput = markdownTable(
    ["case", ...contenders.map((x) => `${x.name} ops/s`), "dial / node:net", "dial / floor", "dial / makeNet"],
    cases.map((c) => [
      c.name,
      ...contenders.map((x) => median(of(c, x.name).map(rate)).toFixed(0)),
      throughputRatio(c, "dial", "node:net"),
      throughputRatio(c, "dial", "floor"),
      throughputRatio(c, "dial", "NodeSocket.makeNet")
    ])
  )
  const perOp = (f: (report: RunReport) => number, digits: number) => (c: Case) =>
    contenders.map((x) => median(of(c, x.name).map((report) => f(report) / report.ops)).toFixed(digits))
  const cpu = markdownTable(
    ["case", ...contenders.map((x) => `${x.name} µs`), "dial / node:net", "floor / node:net"],
    cases.map((c) => [
      c.name,
      ...perOp((report) => report.cpuMicros, 1)(c),
      cpuRatio(c, "dial", "node:net"),
      cpuRatio(c, "floor", "node:net")
    ])
  )
  const allocations = markdownTable(
    ["case", ...contenders.map((x) => `${x.name} KB`), ...contenders.map((x) => `${x.name} GC µs`)],
    cases.map((c) => [
      c.name,
      ...perOp((report) => report.allocatedBytes / 1024, 2)(c),
      ...perOp((report) => report.gcMicros, 2)(c)
    ])
  )
  const effectContenders = contenders.filter((x) => x.name !== "node:net")
  const stepTable = markdownTable(
    ["case", ...effectContenders.map((x) => `${x.name} steps`)],
    cases
      .filter((c) => c.concurrency === 1)
      .map((c) => [c.name, ...effectContenders.map((x) => steps.get(`${c.name}/${x.name}`)?.toFixed(1) ?? "n/a")])
  )
  const memory = markdownTable(
    ["held (tcp)", ...contenders.map((x) => `${x.name} heap KB`), ...contenders.map((x) => `${x.name} RSS KB`)],
    heldCounts.map((count) => [
      String(count),
      ...contenders.map((x) => (held.get(`${count}/${x.name}`)!.heapBytes / 1024).toFixed(2)),
      ...contenders.map((x) => (held.get(`${count}/${x.name}`)!.rssBytes / 1024).toFixed(2))
    ])
  )
  const model = Os.cpus()[0]?.model ?? "unknown cpu"
  const load = Os.loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")
  const environment = `Node ${process.version}, ${Os.platform()} ${Os.release()}, ${Os.cpus().length} x ${model}, load average ${loadAtStart} at the start, ${load} at the end; ${rounds} rounds in rotating order after one warm-up round; ${((performance.now() - started) / 1000).toFixed(0)} s.`
  const text = [
    "Throughput (median ops/s; ratios: median of per-round ratios, 10th-90th percentile in parentheses):",
    "",
    throughput,
    "",
    "Main-thread CPU per operation (median µs; ratio of CPU per op, paired per round):",
    "",
    cpu,
    "",
    "JavaScript heap allocated, and GC time, per operation (medians):",
    "",
    allocations,
    "",
    "Fiber run-loop steps per operation (concurrency 1, counted through the scheduler, less forEach's own):",
    "",
    stepTable,
    "",
    "Memory per held connection (after a full GC; heap used and RSS):",
    "",
    memory,
    "",
    environment
  ].join("\n")
  console.log(text)
  if (args.out !== undefined) Fs.writeFileSync(args.out, `# @dial/node connect benchmark\n\n${text}\n`)
}

if (args.worker === undefined) {
  await main()
} else {
  const contender = contenders.find((candidate) => candidate.name === args.worker)
  if (contender === undefined) throw new Error(`no contender named ${args.worker}`)
  serveWorker(contender)
}
