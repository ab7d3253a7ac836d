// Issue 10: every public entry point of @dial/testkit, given any JavaScript value for any
// argument, succeeds or fails with InvalidInput (or the error it documents): never a throw, a
// defect, or an Effect that does not come back. RUNS generated cases per entry point.
import { ConnectError, InvalidInput, Network, type SockAddr } from "@dial/core"
import { describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fc from "fast-check"
import * as Result from "effect/Result"
import * as Dns from "effect/net/Dns"
import { TestClock } from "effect/testing"
import { TestDns, TestNetwork } from "../src/index.ts"
import { addressLike, anyOptions, anyValue, lift, oneOf } from "./helpers/anyValue.ts"

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

describe("TestNetwork controls: any input", () => {
  const durationLike = fc.oneof(anyValue, oneOf("10 millis", "1 second", 0, -1, {}, [Number.NaN, 0], "abc"))
  const numberLike = fc.oneof(anyValue, lift(fc.double()), lift(fc.integer({ min: -5, max: 1 << 20 })))
  const rate = fc.oneof(anyValue, lift(fc.double({ min: -0.5, max: 1.5 })), oneOf(0, 1, Number.NaN))
  const toxicLike = fc.oneof(
    anyValue,
    fc
      .record(
        {
          type: fc.oneof(
            anyValue,
            oneOf("latency", "bandwidth", "slicer", "timeout", "reset_peer", "limit_data", "slow_close", "nope")
          ),
          latency: durationLike,
          jitter: durationLike,
          bytesPerSecond: numberLike,
          averageSize: numberLike,
          sizeVariation: numberLike,
          delay: durationLike,
          timeout: durationLike,
          after: durationLike,
          bytes: numberLike
        },
        { requiredKeys: ["type"] }
      )
      .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  )
  const toxicOptions = fc.oneof(
    anyOptions(["direction"]),
    fc.oneof(anyValue, oneOf("upstream", "downstream", "both", "sideways")).map((d) => () => ({ direction: d() }))
  )
  const ratesLike = fc.oneof(
    anyOptions(["refuse", "reset", "drop", "per"]),
    fc
      .record(
        { refuse: rate, reset: rate, drop: rate, per: fc.oneof(anyValue, oneOf("connect", "chunk", "byte")) },
        { requiredKeys: [] }
      )
      .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  )
  const ipLike = fc.oneof(anyValue, addressLike, oneOf("127.0.0.1", "10.0.0.1", "::1", "10.0.0.1:80"))
  const crashOptions = fc.oneof(
    anyOptions(["connections", "connects"]),
    fc
      .record({
        connections: fc.oneof(anyValue, oneOf("reset", "vanish", "x")),
        connects: fc.oneof(anyValue, oneOf("refuse", "blackhole", "x"))
      })
      .map((bag) => () => ({ connections: bag.connections(), connects: bag.connects() }))
  )

  it("toxic and faults", { timeout: 120_000 }, () => {
    const context = build(TestNetwork.layer())
    fc.assert(
      fc.property(anyAddress, toxicLike, toxicOptions, ratesLike, (a, t, o, r) => {
        const address = a()
        expectExit(run(TestNetwork.toxic(address as never, t() as never, o() as never), context))
        expectExit(run(TestNetwork.faults(address as never, r() as never), context))
      }),
      params
    )
  })

  it("host, crash and restart", { timeout: 120_000 }, () => {
    const context = build(TestNetwork.layer())
    const server = fc.oneof(anyValue, oneOf(Effect.void, Effect.fail("server failed"), Effect.never))
    fc.assert(
      fc.property(ipLike, server, crashOptions, (i, s, o) => {
        const ip = i()
        expectExit(run(TestNetwork.host(ip as never, s() as never), context))
        expectExit(run(TestNetwork.crash(ip as never, o() as never), context))
        expectExit(run(TestNetwork.restart(ip as never), context))
      }),
      params
    )
  })
})

describe("TestDns: any input", () => {
  const familyAnswer = fc.oneof(
    anyValue,
    oneOf("NXDOMAIN", "SERVFAIL", "timeout", "other"),
    fc
      .array(fc.oneof(anyValue, oneOf("10.0.0.1", "2001:db8::1", "::1", "x")), { maxLength: 4 })
      .map((xs) => () => xs.map((x) => x()))
  )
  const answer = fc.oneof(
    anyValue,
    fc
      .record(
        {
          IPv4: familyAnswer,
          IPv6: familyAnswer,
          delay: fc.oneof(
            anyOptions(["IPv4", "IPv6"]),
            fc
              .record({ IPv4: fc.oneof(anyValue, oneOf("1 second")), IPv6: fc.oneof(anyValue, oneOf(5)) })
              .map((d) => () => ({ IPv4: d.IPv4(), IPv6: d.IPv6() }))
          )
        },
        { requiredKeys: [] }
      )
      .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  )
  const table = fc.oneof(
    anyValue,
    fc
      .array(fc.tuple(fc.oneof(oneOf("db.internal", "", "DB.Internal.", "a".repeat(300)), lift(fc.string())), answer), {
        maxLength: 3
      })
      .map((entries) => () => Object.fromEntries(entries.map(([k, v]) => [k() as string, v()])))
  )

  it("make, layer, and a lookup through the layer", { timeout: 300_000 }, async () => {
    // The name goes to effect/net's own Dns service, which takes a string.
    const names = fc.oneof(oneOf("db.internal", "DB.INTERNAL.", "nope", ""), lift(fc.string()))
    await fc.assert(
      fc.asyncProperty(table, anyOptions(["timeout"]), names, async (t, o, name) => {
        const [answers, options] = [t(), o()]
        const made = TestDns.make(answers as never, options as never)
        if (!Result.isResult(made)) throw new Error("make: not a Result")
        if (Result.isFailure(made) && !isInvalid(made.failure)) throw new Error("make: not InvalidInput")
        const lookup = Effect.gen(function* () {
          const dns = yield* Dns.Dns
          return yield* dns.lookup(name() as string)
        }).pipe(Effect.provide(TestDns.layer(answers as never, options as never)))
        // Delayed answers and timeouts run on the TestClock: move it past every delay.
        const exit = await Effect.runPromiseExit(
          Effect.gen(function* () {
            const fiber = yield* Effect.forkChild(lookup)
            yield* TestClock.adjust("1 day")
            return yield* Fiber.join(fiber)
          }).pipe(Effect.provide(TestClock.layer()))
        )
        expectExit(exit, (e) => isInvalid(e) || e instanceof Dns.DnsError)
      }),
      params
    )
  })
})

describe("connection life (#12): any input", () => {
  const durationLike = fc.oneof(
    anyValue,
    oneOf("10 millis", "1 second", Number.POSITIVE_INFINITY, 0, -1, {}, [Number.NaN, 0], "abc", undefined)
  )
  const operationOptions = fc.oneof(
    anyOptions(["deadline"]),
    durationLike.map((d) => () => ({ deadline: d() }))
  )
  const deadlines = fc.oneof(
    anyOptions(["read", "write", "idle"]),
    fc
      .record({ read: durationLike, write: durationLike, idle: durationLike }, { requiredKeys: [] })
      .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  )
  const data = fc.oneof(anyValue, oneOf("hello", new Uint8Array([1, 2, 3]), new Uint8Array(0), ""))
  const lifeFailure = (e: unknown) =>
    isInvalid(e) ||
    ConnectError.isConnectError(e) ||
    ["DeadlineExceeded", "SocketError"].includes(String((e as { _tag?: unknown })?._tag))

  it("read, write, setDeadlines and end on a connected handle", { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        deadlines,
        operationOptions,
        data,
        operationOptions,
        fc.boolean(),
        async (limits, writeOptions, bytes, readOptions, end) => {
          const closedAfter: Array<string> = []
          const scenario = Effect.gen(function* () {
            yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
            const outcomes = yield* Effect.scoped(
              Effect.gen(function* () {
                const handle = yield* Network.connect("127.0.0.1:7000")
                const results = [
                  yield* Effect.exit(handle.setDeadlines(limits() as never)),
                  yield* Effect.exit(handle.write(bytes() as never, writeOptions() as never)),
                  yield* Effect.exit(end ? handle.end : Effect.void),
                  // Bounded in virtual time: with no deadline and nothing echoed, a read waits.
                  yield* Effect.exit(Effect.timeoutOption(handle.read(readOptions() as never), "1 hour"))
                ]
                const state = yield* handle.state
                closedAfter.push(state._tag)
                return { results, handle }
              })
            )
            // The scope closed the handle: no connection is left behind.
            const after = yield* outcomes.handle.state
            closedAfter.push(after._tag)
            return outcomes.results
          }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
          const exit = await Effect.runPromiseExit(
            Effect.gen(function* () {
              const fiber = yield* Effect.forkChild(scenario)
              yield* TestClock.adjust("1 day")
              return yield* Fiber.join(fiber)
            }).pipe(Effect.provide(TestClock.layer()))
          )
          expectExit(exit)
          if (Exit.isFailure(exit)) throw new Error("the scenario itself failed")
          for (const result of exit.value) expectExit(result, lifeFailure)
          if (closedAfter.at(-1) !== "Closed") throw new Error(`left ${closedAfter.join(" → ")}`)
        }
      ),
      params
    )
  })
})
