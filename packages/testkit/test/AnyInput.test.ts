// Issue 10: every public entry point of @dial/testkit, given any JavaScript value for any
// argument, succeeds or fails with InvalidInput (or the error it documents): never a throw, a
// defect, or an Effect that does not come back. RUNS generated cases per entry point.
import { ConnectError, InvalidInput, Network, type SockAddr } from "@dial/core"
import { describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import { TestNetwork } from "../src/index.ts"
import { addressLike, anyOptions, anyValue, oneOf } from "./helpers/anyValue.ts"

const RUNS = 10_000
const params = { numRuns: RUNS }

const isInvalid = (e: unknown): boolean => e instanceof InvalidInput.InvalidInput
const expectExit = (exit: Exit.Exit<unknown, unknown>, allowed: (e: unknown) => boolean = isInvalid): void => {
  if (Exit.isSuccess(exit)) return
  if (Cause.hasDies(exit.cause)) throw new Error(`defect: ${Cause.pretty(exit.cause)}`)
  if (Cause.hasInterrupts(exit.cause)) throw new Error(`interrupted: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !allowed(error.value)) throw new Error(`unexpected failure: ${Cause.pretty(exit.cause)}`)
}

const anyAddress = fc.oneof(anyValue, addressLike, oneOf("127.0.0.1:7000", "[::1]:0", "unix:@t", "*", "127.0.0.1"))
const build = <A, E>(layer: Layer.Layer<A, E>) => Effect.runSync(Layer.build(layer).pipe(Effect.scoped))
const run = (
  effect: Effect.Effect<unknown, unknown, TestNetwork.TestNetwork | Network.Network | Scope.Scope>,
  context: ReturnType<typeof build<TestNetwork.TestNetwork | Network.Network, InvalidInput.InvalidInput>>
) => Effect.runSyncExit(effect.pipe(Effect.scoped, Effect.provide(context)))

describe("TestNetwork: any input", () => {
  it("layer(options)", { timeout: 120_000 }, () => {
    const options = anyOptions(["seed", "kernelTimeout", "ephemeralPorts", "hostAddresses", "record"])
    fc.assert(
      fc.property(options, (make) => {
        expectExit(Effect.runSyncExit(Layer.build(TestNetwork.layer(make() as never)).pipe(Effect.scoped)))
      }),
      params
    )
  })

  it("layer options out of range fail the layer with InvalidInput, not a defect", () => {
    for (const options of [
      { ephemeralPorts: { from: 5, to: 1 } },
      { ephemeralPorts: { from: 0.5, to: 9 } },
      { hostAddresses: { IPv4: "::1" } },
      { kernelTimeout: {} },
      { seed: Number.NaN }
    ]) {
      const exit = Effect.runSyncExit(Layer.build(TestNetwork.layer(options as never)).pipe(Effect.scoped))
      expectExit(exit)
      if (Exit.isSuccess(exit) && !("seed" in options)) throw new Error(`accepted ${JSON.stringify(options)}`)
    }
  })

  it("listen, bindDatagram, script, latency, partition, hold", { timeout: 120_000 }, () => {
    const context = build(TestNetwork.layer())
    const bindFailure = (e: unknown) => isInvalid(e) || (ConnectError.isConnectError(e) && e._tag === "EADDRINUSE")
    const listenKeys = ["backlog", "accept", "permission", "type", "echo"]
    fc.assert(
      fc.property(
        anyAddress,
        anyAddress,
        anyOptions(listenKeys),
        anyOptions(["base", "jitter", "errno", "echo"]),
        fc.oneof(anyValue, fc.array(fc.oneof(anyValue, oneOf("accept", "refuse", { delay: "1 millis" })))),
        (a, b, o, p, outcomes) => {
          const [x, y] = [a(), b()]
          expectExit(run(TestNetwork.listen(x as never, o() as never), context), bindFailure)
          expectExit(run(TestNetwork.bindDatagram(x as never, p() as never), context), bindFailure)
          const list = typeof outcomes === "function" ? outcomes() : outcomes.map((f) => f())
          expectExit(run(TestNetwork.script(y as never, list as never), context))
          expectExit(run(TestNetwork.latency(x as never, p() as never), context))
          expectExit(run(TestNetwork.partition(x as never, y as never, p() as never), context))
          expectExit(run(TestNetwork.hold(y as never), context))
        }
      ),
      params
    )
  })

  it("Network.connect over the fake kernel", { timeout: 120_000 }, () => {
    const context = build(TestNetwork.layer())
    const connectFailure = (e: unknown) =>
      isInvalid(e) || ConnectError.isConnectError(e) || (e as { _tag?: unknown })?._tag === "DeadlineExceeded"
    fc.assert(
      fc.property(anyAddress, anyOptions(["local", "keepAlive", "noDelay", "deadline", "signal"]), (a, o) => {
        const address = a()
        // Only addresses a fake connect answers at once (refused): no latency, no blackhole is scripted here.
        expectExit(run(Network.connect(address as SockAddr.Input, o() as never), context), connectFailure)
      }),
      params
    )
  })
})
