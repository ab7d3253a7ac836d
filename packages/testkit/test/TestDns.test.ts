/**
 * The fake resolver: answers per name and family, delays per family, NXDOMAIN, SERVFAIL and
 * timeouts; and Happy Eyeballs (core's Dialer) end to end over it and the fake network.
 */
import { assert, describe, it } from "@effect/vitest"
import { Dialer, SockAddr } from "@dial/core"
import { TestDns, TestNetwork } from "@dial/testkit"
import { Clock, Effect, Fiber, Layer } from "effect"
import { AddressResolver, type NetAddress } from "effect/net"
import { TestClock } from "effect/testing"

/** Forks `effect` to start at t = 1000 as a clock wake-up (so its forks run before time moves). */
const origin = 1000
const start = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(Effect.andThen(Effect.sleep(origin), effect))
    yield* TestClock.adjust(origin)
    return fiber
  })
const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - origin)

const answers: Record<string, TestDns.Answer> = {
  "db.test": { IPv4: ["10.0.0.10"], IPv6: ["2001:db8::10"], delay: { IPv6: "1 second" } },
  "v6down.test": { IPv4: ["10.0.0.10"], IPv6: ["2001:db8::10"] },
  "broken.test": { IPv4: ["10.0.0.10"], IPv6: "SERVFAIL" },
  "gone.test": { IPv4: "NXDOMAIN", IPv6: "NXDOMAIN" },
  "slow.test": { IPv4: "timeout" },
  "Mixed.Case.test.": { IPv4: ["10.0.0.11"] }
}

const layer = Layer.mergeAll(TestNetwork.layer(), TestDns.layer(answers, { timeout: "2 seconds" }))

const resolve = (target: string, family?: NetAddress.IpFamily) =>
  AddressResolver.AddressResolver.use((resolver) =>
    Effect.map(resolver.resolve(target, { family }), (addresses) =>
      addresses.map((a) => SockAddr.format(new SockAddr.Inet({ address: a as NetAddress.InetAddress })))
    )
  )

describe("TestDns", () => {
  it.effect("answers per name and family, after each family's delay", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* resolve("db.test:5432", "IPv4"), ["10.0.0.10:5432"])
      const v6 = yield* start(
        Effect.flatMap(resolve("db.test:5432", "IPv6"), (a) => Effect.map(elapsed, (t) => [t, a]))
      )
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(v6), [1000, ["[2001:db8::10]:5432"]])
      assert.deepStrictEqual(yield* resolve("mixed.case.test:1"), ["10.0.0.11:1"])
    }).pipe(Effect.provide(layer))
  )

  it.effect("NXDOMAIN, NODATA and SERVFAIL are DnsErrors with their reasons; a timeout fails after the timeout", () =>
    Effect.gen(function* () {
      const reason = (target: string, family?: NetAddress.IpFamily) =>
        Effect.map(Effect.flip(resolve(target, family)), (e) => (e._tag === "DnsError" ? e.reason : e._tag))
      assert.strictEqual(yield* reason("gone.test:1"), "NotFound")
      assert.strictEqual(yield* reason("unknown.test:1"), "NotFound")
      assert.strictEqual(yield* reason("slow.test:1", "IPv6"), "NotFound")
      assert.strictEqual(yield* reason("broken.test:1", "IPv6"), "ServerFailure")
      const slow = yield* start(
        Effect.flatMap(reason("slow.test:1", "IPv4"), (r) => Effect.map(elapsed, (t) => [t, r]))
      )
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(slow.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(slow), [2000, "Timeout"])
    }).pipe(Effect.provide(layer))
  )

  it.effect("a malformed table fails the layer with InvalidInput", () =>
    Effect.gen(function* () {
      const bad = [
        { "x.test": { IPv4: ["not an ip"] } },
        { "x.test": { IPv4: ["2001:db8::1"] } },
        { "x.test": { IPv6: "LOST" as TestDns.Failure } },
        { "x.test": { IPv4: ["10.0.0.1"], delay: { IPv4: -1 } } }
      ]
      for (const table of bad) {
        const error = yield* Effect.flip(Layer.build(TestDns.layer(table)).pipe(Effect.scoped))
        assert.strictEqual(error._tag, "InvalidInput")
      }
    })
  )
})

describe("Happy Eyeballs over TestDns and TestNetwork", () => {
  const dial = (target: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const dialed = yield* Dialer.dial(target)
        return { address: SockAddr.format(dialed.address), at: yield* elapsed }
      })
    )

  it.effect("a slow AAAA: the A answer is used after the 50 ms resolution delay", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("10.0.0.10:5432", { echo: true })
      yield* TestNetwork.listen("[2001:db8::10]:5432", { echo: true })
      const fiber = yield* start(dial("db.test:5432"))
      yield* TestClock.adjust("50 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { address: "10.0.0.10:5432", at: 50 })
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.effect("IPv6 answers but blackholes: IPv4 starts after the 250 ms attempt delay and wins", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("10.0.0.10:5432", { echo: true })
      yield* TestNetwork.script("[2001:db8::10]:5432", ["blackhole"])
      const fiber = yield* start(dial("v6down.test:5432"))
      yield* TestClock.adjust("250 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { address: "10.0.0.10:5432", at: 250 })
    }).pipe(Effect.scoped, Effect.provide(layer))
  )

  it.effect("AAAA SERVFAIL: the dial goes on with IPv4; NXDOMAIN fails the dial with the DnsError", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("10.0.0.10:5432", { echo: true })
      const fiber = yield* start(dial("broken.test:5432"))
      yield* TestClock.adjust("50 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).address, "10.0.0.10:5432")
      const gone = yield* Effect.flip(dial("gone.test:5432"))
      assert.strictEqual(gone._tag === "DnsError" && gone.reason, "NotFound")
    }).pipe(Effect.scoped, Effect.provide(layer))
  )
})
