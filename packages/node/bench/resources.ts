/**
 * Handles and memory after many failures: 10,000 refused connects and 10,000 connects
 * interrupted mid-flight (against a loopback port whose accept queue is full, so the SYN
 * hangs), 64 at a time, through dial. Prints the process's socket handles and memory before
 * and after (after a full GC). The first round grows the process's capacity, which it keeps:
 * V8 enlarges its young generation when a program allocates fast (most of the RSS growth), and
 * malloc keeps its arenas. After two such rounds, a third is measured against that baseline:
 * what grows then is what a leak would look like.
 *
 *   node --expose-gc packages/node/bench/resources.ts
 *
 * Loopback only; the one helper process (python3, the full accept queue) is started and
 * stopped here, by its pid.
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { spawn } from "node:child_process"
import * as net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void
const count = 10_000
const concurrency = 64

const sockets = () =>
  process.getActiveResourcesInfo().filter((name) => name.startsWith("TCP") || name.startsWith("Pipe")).length
const measure = () => {
  gc()
  const { rss, heapUsed, heapTotal } = process.memoryUsage()
  const newSpace = V8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0
  return { handles: sockets(), rss, heapUsed, heapTotal, newSpace }
}
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`

const closedPort = await new Promise<number>((resolve) => {
  const probe = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as net.AddressInfo
    probe.close(() => resolve(port))
  })
})

// A listener with backlog 0 that never accepts, its queue filled by one held connection.
const helper = spawn(
  "python3",
  [
    "-c",
    "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"
  ],
  { stdio: ["pipe", "pipe", "inherit"] }
)
const hangingPort = await new Promise<number>((resolve) =>
  helper.stdout.once("data", (d) => resolve(Number(String(d).trim())))
)
const filler = net.connect(hangingPort, "127.0.0.1")
await new Promise((resolve) => filler.once("connect", resolve))

const refused = Effect.scoped(
  Effect.flatMap(Network.open("stream"), (h) => Effect.ignore(h.connect(`127.0.0.1:${closedPort}`)))
)
const interrupted = Effect.gen(function* () {
  const fiber = yield* Effect.forkChild(
    Effect.scoped(Effect.flatMap(Network.open("stream"), (h) => h.connect(`127.0.0.1:${hangingPort}`)))
  )
  yield* Effect.yieldNow
  yield* Fiber.interrupt(fiber)
})
const run = (effect: Effect.Effect<void, unknown, Network.Network>) =>
  Effect.runPromise(
    Effect.forEach(Array.from({ length: count }), () => effect, { concurrency, discard: true }).pipe(
      Effect.provide(NodeNetwork.layer)
    )
  )

// The first bursts grow the process's capacity (V8's young generation, malloc's arenas), which
// it keeps for reuse: report that, then measure a third, identical round against the grown
// baseline. Two warm-up rounds, as the Resources test takes: after one, V8 may still be
// resizing its young generation, and RSS moves by tens of MB either way.
const cold = measure()
for (let round = 0; round < 2; round++) {
  await run(refused)
  await run(interrupted)
}
const warm = measure()
const before = warm
const t0 = performance.now()
await run(refused)
const t1 = performance.now()
await run(interrupted)
const t2 = performance.now()
const after = measure()

filler.destroy()
helper.kill()

console.log(
  `${count} refused connects in ${(t1 - t0).toFixed(0)} ms, ${count} interrupted in ${(t2 - t1).toFixed(0)} ms (concurrency ${concurrency})`
)
console.log(
  `two warm-up rounds (the process grows and keeps its capacity): RSS ${mb(cold.rss)} -> ${mb(warm.rss)}, heap used ${mb(cold.heapUsed)} -> ${mb(warm.heapUsed)}, V8 heap reserved ${mb(cold.heapTotal)} -> ${mb(warm.heapTotal)}, of which the young generation ${mb(cold.newSpace)} -> ${mb(warm.newSpace)}`
)
console.log("measured round  socket handles   RSS        heap used")
console.log(`before          ${String(before.handles).padEnd(17)}${mb(before.rss).padEnd(11)}${mb(before.heapUsed)}`)
console.log(`after           ${String(after.handles).padEnd(17)}${mb(after.rss).padEnd(11)}${mb(after.heapUsed)}`)
console.log(
  `difference      ${String(after.handles - before.handles).padEnd(17)}${mb(after.rss - before.rss).padEnd(11)}${mb(after.heapUsed - before.heapUsed)}`
)
