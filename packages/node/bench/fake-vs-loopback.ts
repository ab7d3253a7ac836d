/**
 * Bulk transfer: 1 GiB from a dial client to a server, through TestNetwork's fake connection
 * (no toxics) and through real loopback (NodeNetwork to a `node:net` server). Both use the same
 * client code: `effect/socket` writes of 64 KiB, the server's reader counting bytes.
 *
 * Each contender runs in its own process (one transfer per process), rounds alternate which goes
 * first, and the report gives the paired ratio (loopback time / fake time: above 1 means the fake
 * is faster) per round with its spread, and CPU per GiB (user + system of the child).
 *
 *   node packages/node/bench/fake-vs-loopback.ts [rounds] [MiB]
 *
 * Loopback only. Bounded: rounds x 2 children, each with a wall-clock cap.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { TestNetwork } from "@dial/testkit"
import { Effect, Result } from "effect"
import * as Socket from "effect/socket/Socket"
import { execFileSync } from "node:child_process"
import * as Net from "node:net"

const chunkSize = 64 * 1024
const capMillis = 120_000

/** Writes `total` bytes in 64 KiB chunks through `socket`. */
const send = (socket: Socket.Socket, total: number) =>
  Effect.gen(function* () {
    const writer = yield* socket.writer
    const chunk = new Uint8Array(chunkSize).fill(7)
    for (let sent = 0; sent < total; sent += chunkSize) yield* writer.write(chunk)
  })

/** Reads until `total` bytes arrived. */
const receive = (socket: Socket.Socket, total: number) =>
  Effect.gen(function* () {
    const pull = yield* Socket.readerBytes(socket)
    let got = 0
    while (got < total) for (const chunk of yield* pull) got += chunk.length
  })

const fake = (total: number) =>
  Effect.gen(function* () {
    const listener = yield* TestNetwork.listen("127.0.0.1:7000")
    const handle = yield* Network.connect(listener.address)
    const client = yield* handle.socket
    const server = (yield* listener.accept).socket
    yield* Effect.all([send(client, total), receive(server, total)], { concurrency: 2 })
  }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ record: false })))

const loopback = (total: number) =>
  Effect.gen(function* () {
    let got = 0
    let done: (() => void) | undefined
    const finished = new Promise<void>((resolve) => {
      done = resolve
    })
    const server = Net.createServer((socket) => {
      socket.on("data", (data) => {
        got += data.length
        if (got >= total) done?.()
      })
    })
    yield* Effect.addFinalizer(() => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void))))
    yield* Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
    const port = (server.address() as Net.AddressInfo).port
    const handle = yield* Network.connect(Result.getOrThrow(SockAddr.inet("127.0.0.1", port)))
    yield* send(yield* handle.socket, total)
    yield* Effect.promise(() => finished)
  }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

const child = async (mode: string, total: number) => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Effect.runPromise(Effect.orDie(mode === "fake" ? fake(total) : loopback(total)))
  const millis = performance.now() - started
  const used = process.cpuUsage(cpu)
  console.log(JSON.stringify({ millis, cpuMillis: (used.user + used.system) / 1000 }))
  process.exit(0)
}

interface Run {
  readonly millis: number
  readonly cpuMillis: number
}

const runChild = (mode: string, mib: number): Run =>
  JSON.parse(
    execFileSync(process.execPath, [import.meta.filename, "--child", mode, String(mib)], {
      timeout: capMillis,
      encoding: "utf8"
    })
  )

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]!, Number(process.argv[4]) * 2 ** 20)
} else {
  const rounds = Number(process.argv[2] ?? 5)
  const mib = Number(process.argv[3] ?? 1024)
  const gib = mib / 1024
  const ratios: Array<number> = []
  const runs: Record<"fake" | "loopback", Array<Run>> = { fake: [], loopback: [] }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (["fake", "loopback"] as const) : (["loopback", "fake"] as const)
    const result: Partial<Record<"fake" | "loopback", Run>> = {}
    for (const mode of order) result[mode] = runChild(mode, mib)
    runs.fake.push(result.fake!)
    runs.loopback.push(result.loopback!)
    ratios.push(result.loopback!.millis / result.fake!.millis)
    console.log(
      `round ${round + 1}: fake ${result.fake!.millis.toFixed(0)} ms, loopback ${result.loopback!.millis.toFixed(0)} ms, ratio ${ratios.at(-1)!.toFixed(2)}`
    )
  }
  for (const mode of ["fake", "loopback"] as const) {
    const times = runs[mode].map((r) => r.millis)
    const cpu = runs[mode].map((r) => r.cpuMillis / gib)
    const rate = (mib / median(times)) * 1000
    console.log(
      `${mode.padEnd(9)} median ${median(times).toFixed(0)} ms for ${mib} MiB (${rate.toFixed(0)} MiB/s), CPU ${median(cpu).toFixed(0)} ms per GiB`
    )
  }
  console.log(
    `paired ratio loopback/fake: median ${median(ratios).toFixed(2)}, min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)} (above 1: the fake is faster)`
  )
  if (median(ratios) < 1) {
    console.log("the fake is slower than loopback")
    process.exit(1)
  }
}
