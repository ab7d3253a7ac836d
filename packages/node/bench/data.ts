/**
 * The data path on loopback: dial's connected stream (`handle.socket`, the `effect/socket`
 * view) against a raw `net.Socket` and Effect's `NodeSocket.makeNet`, in the same run.
 *
 *   node packages/node/bench/data.ts [--rounds 5] [--mib 256] [--pings 20000] [--out FILE]
 *
 * Contenders: raw `net.Socket` (callbacks, no Effect), the floor (the fewest Effect steps a
 * socket can take, see `floorSocket`), dial, and Effect's `NodeSocket.makeNet`.
 *
 * Cases: bulk `--mib` MiB written in 4 KiB and in 64 KiB writes (each write waits for the
 * writer as the API says: raw waits for 'drain' when `write()` returns false), and a 64-byte
 * ping-pong (`--pings` round trips, one in flight). The server runs in a child process: it
 * counts the bulk bytes and answers one byte when all have arrived, or echoes.
 *
 * Each contender runs in a process of its own (an application uses one; in one process they
 * would tax each other's JIT and GC), driven over IPC. Every round runs each contender once per
 * case in rotating order; a round's ratio pairs dial and makeNet with the raw socket of the same
 * round. The table reports the median ratio, its spread (min..max over rounds) and CPU per
 * operation (user+system of the contender's process) against raw's.
 *
 * A program, not a test.
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import type * as Socket from "effect/socket/Socket"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import { parseArgs } from "node:util"
import * as Instructions from "./instructions.ts"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    mib: { type: "string", default: "256" },
    pings: { type: "string", default: "20000" },
    out: { type: "string" },
    instructions: { type: "boolean", default: false },
    worker: { type: "string" }
  }
})

type Case = "bulk-4k" | "bulk-64k" | "ping-64"
type Contender = "raw" | "floor" | "dial" | "makeNet"
const cases: ReadonlyArray<Case> = ["bulk-4k", "bulk-64k", "ping-64"]
const contenders: ReadonlyArray<Contender> = ["raw", "floor", "dial", "makeNet"]

interface Result {
  readonly millis: number
  readonly cpuMicros: number
  readonly ops: number
}

// ---------------------------------------------------------------------------------------------
// The server (its own process): `B<bytes>\n` then bulk bytes, answered with one byte at the end;
// `P` then echo.
// ---------------------------------------------------------------------------------------------

const serverSource = `
const net = require("node:net")
const server = net.createServer((c) => {
  c.on("error", () => {})
  let mode, want = 0, got = 0, header = ""
  c.on("data", (chunk) => {
    if (mode === "P") return void c.write(chunk)
    if (mode === "B") { got += chunk.length; if (got >= want) c.write("!"); return }
    header += chunk.toString("latin1")
    const nl = header.indexOf("\\n")
    if (nl < 0) return
    mode = header[0]
    const rest = Buffer.from(header.slice(nl + 1), "latin1")
    if (mode === "B") { want = Number(header.slice(1, nl)); got = rest.length; if (got >= want) c.write("!") }
    else if (rest.length > 0) c.write(rest)
  })
})
server.listen({ host: "127.0.0.1", port: 0 }, () => console.log(server.address().port))
process.stdin.on("end", () => process.exit(0)).resume()
`

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

const mib = Number(args.mib)
const pings = Number(args.pings)
const chunkOf = (c: Case) => (c === "bulk-4k" ? 4096 : c === "bulk-64k" ? 65536 : 64)

const rawRun = (port: number, c: Case): Promise<Result> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port, noDelay: true }, () => {
      const size = chunkOf(c)
      const chunk = Buffer.alloc(size, 7)
      Instructions.window(true)
      const cpu = process.cpuUsage()
      const started = performance.now()
      const done = (ops: number) => {
        const cpuUsed = process.cpuUsage(cpu)
        Instructions.window(false)
        resolve({ millis: performance.now() - started, cpuMicros: cpuUsed.user + cpuUsed.system, ops })
        socket.destroy()
      }
      if (c === "ping-64") {
        socket.write("P\n")
        let left = pings
        let pending = 0
        socket.on("data", (data: Buffer) => {
          pending -= data.length
          if (pending > 0) return
          if (--left === 0) return done(pings)
          pending = size
          socket.write(chunk)
        })
        pending = size
        socket.write(chunk)
        return
      }
      const total = mib * 1024 * 1024
      const writes = total / size
      socket.write(`B${total}\n`)
      socket.once("data", () => done(writes))
      let i = 0
      const pump = () => {
        while (i < writes) {
          i++
          if (!socket.write(chunk)) return void socket.once("drain", pump)
        }
      }
      pump()
    })
    socket.on("error", reject)
  })

/** The same loop over an `effect/socket` Socket: a write per chunk, a pull per answer. */
const effectRun = (socket: Socket.Socket, c: Case) =>
  Effect.scoped(
    Effect.gen(function* () {
      const size = chunkOf(c)
      // The same bytes in the same kind of object as raw's: Node turns a plain Uint8Array into
      // a Buffer on every write, a cost of the caller's chunk, not of the socket.
      const chunk = Buffer.alloc(size, 7)
      const writer = yield* socket.writer
      const reader = yield* socket.reader
      Instructions.window(true)
      const cpu = process.cpuUsage()
      const started = performance.now()
      let ops: number
      if (c === "ping-64") {
        yield* writer.write("P\n")
        for (let i = 0; i < pings; i++) {
          yield* writer.write(chunk)
          let got = 0
          while (got < size) for (const part of yield* reader.pull) got += part.length
        }
        ops = pings
      } else {
        const total = mib * 1024 * 1024
        ops = total / size
        yield* writer.write(`B${total}\n`)
        for (let i = 0; i < ops; i++) yield* writer.write(chunk)
        yield* reader.pull
      }
      const cpuUsed = process.cpuUsage(cpu)
      Instructions.window(false)
      return { millis: performance.now() - started, cpuMicros: cpuUsed.user + cpuUsed.system, ops }
    })
  )

const dialRun = (port: number, c: Case): Promise<Result> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Network.connect(`127.0.0.1:${port}`, { noDelay: true })
        return yield* effectRun(yield* handle.socket, c)
      })
    ).pipe(Effect.provide(NodeNetwork.layer))
  )

const makeNetRun = (port: number, c: Case): Promise<Result> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port, noDelay: true })
      return yield* effectRun(socket, c)
    })
  )

/**
 * The fewest steps an Effect socket over `net.Socket` can take, as a yardstick for dial's own:
 * a write is one `Effect.suspend` around `socket.write` (a callback for 'drain' when it returns
 * false), a pull one `Effect.callback` that reads what is buffered or waits for 'readable'. No
 * typed errors, no end or close handling, no scopes: not a usable socket, only the floor that
 * Effect's run loop and a generator put under every contender written with Effect.
 */
const floorSocket = (socket: Net.Socket): Socket.Socket => {
  let waiter: ((effect: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>>) => void) | undefined
  socket.pause()
  socket.on("readable", () => {
    const resume = waiter
    if (resume === undefined) return
    const chunk = socket.read() as Buffer | null
    if (chunk === null) return
    waiter = undefined
    resume(Effect.succeed([chunk]))
  })
  const drain = Effect.callback<void>((resume) => void socket.once("drain", () => resume(Effect.void)))
  const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
    Effect.suspend(() => (socket.write(chunk as Uint8Array) ? Effect.void : drain))
  const pull = Effect.callback<NonEmptyReadonlyArray<Uint8Array>>((resume) => {
    const chunk = socket.read() as Buffer | null
    if (chunk !== null) return resume(Effect.succeed([chunk]))
    waiter = resume
  })
  return {
    writer: Effect.succeed({ write, writeAll: (chunks: ReadonlyArray<Uint8Array>) => write(Buffer.concat(chunks)) }),
    reader: Effect.succeed({ pull, upgrade: () => Effect.void })
  } as unknown as Socket.Socket
}

const floorRun = (port: number, c: Case): Promise<Result> =>
  new Promise<Net.Socket>((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(socket))
    socket.on("error", reject)
  }).then((socket) => Effect.runPromise(effectRun(floorSocket(socket), c)).finally(() => socket.destroy()))

const runners: Record<Contender, (port: number, c: Case) => Promise<Result>> = {
  raw: rawRun,
  floor: floorRun,
  dial: dialRun,
  makeNet: makeNetRun
}

// ---------------------------------------------------------------------------------------------
// Worker: one contender, commands over IPC.
// ---------------------------------------------------------------------------------------------

if (args.worker !== undefined) {
  const run = runners[args.worker as Contender]
  process.on("message", (message: { readonly port: number; readonly case: Case; readonly measure?: boolean }) => {
    Instructions.measure(message.measure === true)
    run(message.port, message.case).then(
      (result) => process.send!(result),
      (error) => process.send!({ error: String(error) })
    )
  })
} else {
  await main()
}

async function main() {
  const server = ChildProcess.spawn(process.execPath, ["-e", serverSource], { stdio: ["pipe", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve) =>
    server.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
  )
  if (args.instructions) {
    try {
      return await countInstructions(port)
    } finally {
      server.stdin.end()
    }
  }
  const workers = new Map(
    contenders.map((name) => [
      name,
      ChildProcess.fork(new URL(import.meta.url).pathname, [
        "--worker",
        name,
        "--mib",
        String(mib),
        "--pings",
        String(pings)
      ])
    ])
  )
  const ask = (name: Contender, c: Case) =>
    new Promise<Result>((resolve, reject) => {
      const worker = workers.get(name)!
      worker.once("message", (message: Result | { error: string }) =>
        "error" in message ? reject(new Error(message.error)) : resolve(message)
      )
      worker.send({ port, case: c })
    })
  const rounds = Number(args.rounds)
  const results = new Map<string, Array<Result>>()
  for (const c of cases) for (const name of contenders) await ask(name, c) // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!)
      for (const name of order) {
        const key = `${c}/${name}`
        const list = results.get(key) ?? []
        list.push(await ask(name, c))
        results.set(key, list)
      }
    }
    console.error(`round ${round + 1}/${rounds} done`)
  }
  for (const worker of workers.values()) worker.kill()
  server.stdin.end()

  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const rate = (r: Result) => r.ops / (r.millis / 1000)
  const lines = [
    `Data path, ${new Date().toISOString().slice(0, 10)}, ${Os.cpus().length} vCPU ${Os.cpus()[0]?.model ?? ""}, Node ${process.versions.node}; ${rounds} rounds, ${mib} MiB bulk, ${pings} pings.`,
    "",
    "| case | contender | ops/s (median) | throughput vs raw: median (min..max) | CPU/op vs raw (median) |",
    "|---|---|---:|---|---:|"
  ]
  for (const c of cases) {
    const raw = results.get(`${c}/raw`)!
    for (const name of contenders) {
      const mine = results.get(`${c}/${name}`)!
      const ratios = mine.map((r, i) => rate(r) / rate(raw[i]!))
      const cpu = mine.map((r, i) => r.cpuMicros / r.ops / (raw[i]!.cpuMicros / raw[i]!.ops))
      lines.push(
        `| ${c} | ${name} | ${Math.round(median(mine.map(rate)))} | ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}) | ${median(cpu).toFixed(2)}x |`
      )
    }
  }
  const table = lines.join("\n")
  console.log(table)
  if (args.out !== undefined) Fs.writeFileSync(args.out, `${table}\n`)
}

/**
 * `--instructions`: per case, each contender in a fresh process under callgrind runs once to
 * warm up, then once counted; the table is user-space instructions per operation.
 */
async function countInstructions(port: number) {
  const missing = Instructions.unavailable()
  if (missing !== undefined) throw new Error(`--instructions ${missing}`)
  const counts = new Map<string, number>()
  for (const c of cases) {
    for (const name of contenders) {
      const counted = Instructions.forkCounted(new URL(import.meta.url).pathname, [
        "--worker",
        name,
        "--mib",
        String(mib),
        "--pings",
        String(pings)
      ])
      const ask = (measure: boolean) =>
        new Promise<Result>((resolve, reject) => {
          counted.worker.once("message", (message: Result | { error: string }) =>
            "error" in message ? reject(new Error(message.error)) : resolve(message)
          )
          counted.worker.send({ port, case: c, measure })
        })
      await ask(false)
      const result = await ask(true)
      counted.worker.kill("SIGTERM")
      counts.set(`${c}/${name}`, (await counted.total) / result.ops)
      console.error(`${c} ${name}: ${Math.round(counts.get(`${c}/${name}`)!)} instructions/op`)
    }
  }
  const lines = [
    `Data path, user-space instructions per operation (callgrind, counted window only), ${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node}; ${mib} MiB bulk, ${pings} pings.`,
    "",
    `| case | ${contenders.join(" | ")} | ${contenders
      .slice(1)
      .map((name) => `${name} / raw`)
      .join(" | ")} | dial / floor |`,
    `|---|${contenders.map(() => "---:").join("|")}|${contenders
      .slice(1)
      .map(() => "---:")
      .join("|")}|---:|`
  ]
  for (const c of cases) {
    const of = (name: Contender) => counts.get(`${c}/${name}`)!
    lines.push(
      `| ${c} | ${contenders.map((name) => Math.round(of(name))).join(" | ")} | ${contenders
        .slice(1)
        .map((name) => `${(of(name) / of("raw")).toFixed(2)}x`)
        .join(" | ")} | ${(of("dial") / of("floor")).toFixed(2)}x |`
    )
  }
  const table = lines.join("\n")
  console.log(table)
  if (args.out !== undefined) Fs.writeFileSync(args.out, `${table}\n`)
}
