/**
 * Fake connects per second: connect + close through core's `Network` service on the in-memory
 * network (core's state machine, a scope per connection, a listener that takes every
 * connection), with recording (journal and fault coverage) off and on. For scale it also measures the floor: the same
 * loop over a transport that does nothing, i.e. what core's handle costs by itself.
 *
 * Bounded by a count per round, a few rounds (best of, the machine is shared) and a wall-clock
 * cap. Prints the figures; exits 1 when the fake stays below the target.
 *
 *   node packages/testkit/bench/fake-connects.ts [count-per-round]
 */
import { Network, SockAddr, type Transport } from "@dial/core"
import { Effect, Layer, Result } from "effect"
import { TestNetwork } from "../src/index.ts"

const count = Number(process.argv[2] ?? 200_000)
const rounds = 3
const capMillis = 60_000
const target = 300_000
const address = Result.getOrThrow(SockAddr.fromString("127.0.0.1:7000"))

/** Connects and closes `count` times (bounded by the cap); connects per second. */
const loop = Effect.gen(function* () {
  const network = yield* Network.Network
  const connectAndClose = Effect.scoped(Effect.flatMap(network.open("stream"), (handle) => handle.connect(address)))
  // Warm up the JIT before timing.
  for (let i = 0; i < 5_000; i++) yield* connectAndClose
  const started = performance.now()
  let done = 0
  while (done < count && performance.now() - started < capMillis / (rounds * 3)) {
    for (let i = 0; i < 1_000; i++) yield* connectAndClose
    done += 1_000
  }
  return done / ((performance.now() - started) / 1000)
})

const fake = (record: boolean) =>
  Effect.gen(function* () {
    yield* TestNetwork.listen(address, { echo: true })
    return yield* loop
  }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ record })))

const nothing: Transport.Transport = {
  platform: "nothing",
  connectStream: (request) =>
    Effect.succeed({ local: request.address, peer: request.address, socket: null as never, close: Effect.void }),
  openDatagram: () => Effect.die("not measured")
}
const floor = loop.pipe(Effect.provide(Layer.succeed(Network.Network)(Network.make(nothing))))

const main = Effect.gen(function* () {
  const best = { floor: 0, off: 0, on: 0 }
  for (let round = 0; round < rounds; round++) {
    best.off = Math.max(best.off, yield* fake(false))
    best.on = Math.max(best.on, yield* fake(true))
    best.floor = Math.max(best.floor, yield* floor)
  }
  const line = (label: string, perSecond: number) => console.log(`${label.padEnd(44)} ${Math.round(perSecond)}/s`)
  line("floor: core's handle over a no-op transport", best.floor)
  line("fake connect+close, recording off", best.off)
  line("fake connect+close, recording on (journal)", best.on)
  const verdict = best.off >= target ? "meets" : "is below"
  console.log(
    `fake (recording off) ${verdict} the ${target}/s target: ${(best.off / best.floor).toFixed(2)} of the floor`
  )
  return best.off >= target
})

process.exitCode = (await Effect.runPromise(main)) ? 0 : 1
