/**
 * `Dialer.dial` (RFC 8305, Happy Eyeballs v2) on the in-memory network and virtual time: which
 * address is tried when, to the millisecond, what happens to the losers, and what the caller
 * gets back (the handle, the trace, the typed errors, the spans).
 *
 * Names resolve through `effect/net`'s `AddressResolver` over a static `Dns` (never a real
 * server); the resolution-delay cases use a static `Dns` whose AAAA and A answers come after
 * chosen virtual delays.
 */
import { assert, describe, it } from "@effect/vitest"
import { type DialError, Dialer, Retry, SockAddr } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Layer, Result, Scope, Tracer } from "effect"
import { AddressResolver, Dns, Host, type NetAddress } from "effect/net"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const decoder = new TextDecoder()
const text = (chunks: ReadonlyArray<Uint8Array>) => chunks.map((chunk) => decoder.decode(chunk)).join("")

// --- virtual time ------------------------------------------------------------------------------

/**
 * Every dial starts at this virtual time, as a `TestClock` wake-up. `TestClock.adjust` waits for
 * everything a woken fiber does at an instant (the fibers it forks and resumes included) before
 * it moves time on; a fiber that was merely forked gets one scheduler turn, and the dial's
 * lookups and attempts would race the clock. Times in assertions are relative to it.
 */
const origin = 1000

/** Forks `effect` so that it begins at `origin`, and runs it up to its first wait there. */
const start = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(Effect.andThen(Effect.sleep(origin), effect))
    yield* TestClock.adjust(origin)
    return fiber
  })

/** Milliseconds since `origin`. */
const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - origin)

/** Moves the virtual clock to `millis` after `origin`. */
const advanceTo = (millis: number) => Effect.flatMap(elapsed, (now) => TestClock.adjust(Math.max(0, millis - now)))

const pending = <A, E>(fiber: Fiber.Fiber<A, E>) => assert.isUndefined(fiber.pollUnsafe(), "the dial is still running")

/** The fiber's result, which must be there already: a dial that hangs fails the test at once. */
const finished = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.suspend(() => {
    assert.isDefined(fiber.pollUnsafe(), "the dial has finished")
    return Fiber.join(fiber)
  })

// --- names -------------------------------------------------------------------------------------

type Hosts = Record<string, ReadonlyArray<string>>

/** `AddressResolver.layer()` over `Dns.layerStatic`: answers at once. */
const staticNames = (hosts: Hosts) =>
  AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({ hosts }))))

/**
 * A static `Dns` whose answers for each family come after a virtual delay, or fail
 * (`"ServerFailure"`). `Dns.layerStatic` answers at once, and the dialer looks up each family
 * on its own (AAAA and A in parallel), so a per-family delay is all RFC 8305 section 3 needs.
 */
const delayedNames = (
  hosts: Hosts,
  delays: { readonly [F in NetAddress.IpFamily]?: Duration.Input | "ServerFailure" }
) =>
  AddressResolver.layer().pipe(
    Layer.provide(
      Layer.effect(
        Dns.Dns,
        Effect.map(Effect.orDie(Effect.fromResult(Dns.makeStatic({ hosts }))), (zone) =>
          Dns.make({
            lookup: (host, family) => {
              const delay = delays[family ?? "IPv4"] ?? 0
              return delay === "ServerFailure"
                ? Effect.fail(new Dns.DnsError({ reason: "ServerFailure", method: "lookup", hostname: host }))
                : Effect.andThen(Effect.sleep(delay), zone.lookup(host, { family }))
            }
          })
        )
      )
    )
  )

/** The network and the names of one test. */
const world = (names: Layer.Layer<AddressResolver.AddressResolver>, options?: TestNetwork.Options) =>
  Layer.merge(TestNetwork.layer(options), names)

const dbNames = { "db.test": ["::1", "127.0.0.1"] }

// --- reading results ---------------------------------------------------------------------------

/** An attempt as `address start..end outcome`, the outcome being the error's tag when it failed. */
const traceLine = (a: Dialer.AttemptTrace) =>
  `${String(a.address)} ${a.startedAtMillis}..${a.endedAtMillis} ${a.outcome === "failed" ? a.error?._tag : a.outcome}`

const failureLine = (a: DialError.Attempt) =>
  `${String(a.address)} ${a.startedAtMillis}..${a.endedAtMillis} ${a.error._tag}`

/** The journal without listeners, times relative to `origin`, as `formatEntry` prints it. */
const journal = Effect.map(TestNetwork.journal, (entries) =>
  entries.filter((e) => e.op !== "listen").map((e) => TestNetwork.formatEntry({ ...e, at: e.at - origin }))
)

/** The connect lines only, as `at address outcome`. */
const connects = Effect.map(TestNetwork.journal, (entries) =>
  entries.filter((e) => e.op === "connect").map((e) => `${e.at - origin} ${String(e.address)} ${e.outcome}`)
)

/** Sockets opened and not closed (the winner's, while the caller's scope is open). */
const openSockets = Effect.map(TestNetwork.journal, (entries) => {
  const open = new Set<number>()
  for (const e of entries) {
    if (e.op === "open") open.add(e.socket)
    if (e.op === "close") open.delete(e.socket)
  }
  return [...open]
})

/** A dial whose result is its trace, as `traceLine`s. */
const dialTrace = (target: Dialer.Target, options?: Dialer.Options) =>
  Dialer.dial(target, options).pipe(Effect.map((dialed) => dialed.attempts.map(traceLine)))

// --- the tests ---------------------------------------------------------------------------------

describe("Dialer: racing addresses (RFC 8305 section 5)", () => {
  it.effect("IPv6 blackholed: IPv4 starts at exactly 250 ms and wins; the IPv6 attempt is interrupted and closed", () =>
    Effect.gen(function* () {
      const v4 = yield* TestNetwork.listen("127.0.0.1:5432")
      yield* TestNetwork.script("[::1]:5432", ["blackhole"])
      const fiber = yield* start(Dialer.dial("db.test:5432"))
      yield* advanceTo(249)
      pending(fiber)
      assert.deepStrictEqual(yield* journal, ["0ms #2 open stream [::1]:5432 ok"])
      yield* advanceTo(250)
      const dialed = yield* finished(fiber)
      assert.strictEqual(String(dialed.address), "127.0.0.1:5432")
      assert.deepStrictEqual(dialed.attempts.map(traceLine), [
        "[::1]:5432 0..250 cancelled",
        "127.0.0.1:5432 250..250 connected"
      ])
      assert.deepStrictEqual(yield* journal, [
        "0ms #2 open stream [::1]:5432 ok",
        "250ms #3 open stream 127.0.0.1:5432 ok",
        "250ms #3 connect stream 127.0.0.1:5432 (local 127.0.0.1:32769) ok",
        "250ms #2 connect stream [::1]:5432 (local [::1]:32768) interrupted",
        "250ms #2 close stream [::1]:5432 (local [::1]:32768) ok"
      ])
      assert.deepStrictEqual(yield* openSockets, [3])
      // Long after the kernel would have given up on the lost SYN: nothing else happened.
      yield* TestClock.adjust("200 seconds")
      assert.strictEqual((yield* journal).length, 5)
      assert.strictEqual(yield* v4.connections, 1)
      assert.strictEqual((yield* dialed.handle.state)._tag, "Connected")
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("a slow IPv6 handshake is abandoned at 250 ms and never reaches its listener", () =>
    Effect.gen(function* () {
      const v6 = yield* TestNetwork.listen("[::1]:5432")
      const v4 = yield* TestNetwork.listen("127.0.0.1:5432")
      yield* TestNetwork.script("[::1]:5432", [{ delay: "1 second" }])
      const fiber = yield* start(Dialer.dial("db.test:5432"))
      yield* advanceTo(250)
      const dialed = yield* finished(fiber)
      assert.strictEqual(String(dialed.address), "127.0.0.1:5432")
      yield* TestClock.adjust("10 seconds")
      // The SYN that would have been answered at 1 s was withdrawn with its socket.
      assert.strictEqual(yield* v6.connections, 0)
      assert.strictEqual(yield* v4.connections, 1)
      assert.deepStrictEqual(yield* connects, ["250 127.0.0.1:5432 ok", "250 [::1]:5432 interrupted"])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("both handshakes complete together: one winner; the other is closed, not leaked", () =>
    Effect.gen(function* () {
      const v6 = yield* TestNetwork.listen("[::1]:5432")
      const v4 = yield* TestNetwork.listen("127.0.0.1:5432")
      const hold6 = yield* TestNetwork.hold("[::1]:5432")
      const hold4 = yield* TestNetwork.hold("127.0.0.1:5432")
      const fiber = yield* start(Dialer.dial("db.test:5432"))
      yield* advanceTo(250)
      yield* hold6.awaitParked(1)
      yield* hold4.awaitParked(1)
      // Both parked SYNs go through in the same instant.
      yield* hold6.release
      yield* hold4.release
      const dialed = yield* Fiber.join(fiber)
      assert.deepStrictEqual((yield* connects).sort(), ["250 127.0.0.1:5432 ok", "250 [::1]:5432 ok"])
      assert.deepStrictEqual(
        dialed.attempts.map((a) => a.outcome).sort(),
        ["cancelled", "connected"],
        "one connected, one cancelled"
      )
      const [loserListener, winnerListener] = String(dialed.address) === "[::1]:5432" ? [v4, v6] : [v6, v4]
      assert.strictEqual(yield* winnerListener.connections, 1)
      assert.strictEqual(yield* loserListener.connections, 1)
      // The loser's server side sees its client close: end of stream, not a dangling connection.
      const loser = yield* loserListener.accept
      const end = yield* Effect.flip(Effect.flatMap(Socket.readerBytes(loser.socket), (pull) => pull))
      assert.strictEqual(end.reason._tag, "SocketCloseError")
      assert.strictEqual((yield* dialed.handle.state)._tag, "Connected")
      assert.strictEqual((yield* openSockets).length, 1)
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("a refused address: the next attempt starts at once, not after the attempt delay", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:5432")
      // Nothing listens on [::1]:5432: refused at 0 ms.
      const atOnce = yield* Fiber.join(yield* start(dialTrace("db.test:5432")))
      assert.deepStrictEqual(atOnce, ["[::1]:5432 0..0 ECONNREFUSED", "127.0.0.1:5432 0..0 connected"])
      assert.strictEqual(yield* elapsed, 0)
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("a refusal that takes a round trip (30 ms): the next attempt starts at 30 ms", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:5432")
      yield* TestNetwork.latency("[::1]:5432", { base: "30 millis" })
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(29)
      pending(fiber)
      yield* advanceTo(30)
      assert.deepStrictEqual(yield* finished(fiber), [
        "[::1]:5432 0..30 ECONNREFUSED",
        "127.0.0.1:5432 30..30 connected"
      ])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("the caller interrupting the dial interrupts and closes every attempt in flight", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("[::1]:5432", ["blackhole"])
      yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
      const fiber = yield* start(Dialer.dial("db.test:5432"))
      yield* advanceTo(400)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual((yield* connects).sort(), ["400 127.0.0.1:5432 interrupted", "400 [::1]:5432 interrupted"])
      assert.deepStrictEqual(yield* openSockets, [])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})

describe("Dialer: the connection attempt delay", () => {
  const cases: ReadonlyArray<readonly [Duration.Input | undefined, number]> = [
    [undefined, 250],
    ["400 millis", 400],
    ["10 millis", 100],
    [0, 100],
    ["100 millis", 100],
    ["2 seconds", 2000],
    ["5 seconds", 2000]
  ]
  for (const [attemptDelay, expected] of cases) {
    it.effect(`attemptDelay ${String(attemptDelay)}: the second attempt starts at ${expected} ms`, () =>
      Effect.gen(function* () {
        yield* TestNetwork.listen("127.0.0.1:5432")
        yield* TestNetwork.script("[::1]:5432", ["blackhole"])
        const fiber = yield* start(dialTrace("db.test:5432", { attemptDelay }))
        yield* advanceTo(expected - 1)
        pending(fiber)
        assert.deepStrictEqual(yield* connects, [])
        yield* advanceTo(expected)
        assert.deepStrictEqual(yield* finished(fiber), [
          `[::1]:5432 0..${expected} cancelled`,
          `127.0.0.1:5432 ${expected}..${expected} connected`
        ])
      }).pipe(Effect.provide(world(staticNames(dbNames))))
    )
  }

  it.effect("each next attempt waits the delay after the previous one started", () =>
    Effect.gen(function* () {
      const names = { "db.test": ["2001:db8::a", "2001:db8::b", "192.0.2.10", "192.0.2.11"] }
      const layer = world(staticNames(names))
      const trace = yield* Effect.gen(function* () {
        for (const ip of ["[2001:db8::a]", "[2001:db8::b]", "192.0.2.10"]) {
          yield* TestNetwork.script(`${ip}:5432`, ["blackhole"])
        }
        yield* TestNetwork.script("192.0.2.11:5432", ["accept"])
        const fiber = yield* start(dialTrace("db.test:5432", { attemptDelay: "300 millis" }))
        yield* advanceTo(900)
        return yield* finished(fiber)
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(trace, [
        "[2001:db8::a]:5432 0..900 cancelled",
        "192.0.2.10:5432 300..900 cancelled",
        "[2001:db8::b]:5432 600..900 cancelled",
        "192.0.2.11:5432 900..900 connected"
      ])
    })
  )

  it.effect("a delay that is not a finite, non-negative duration is InvalidInput, before any lookup", () =>
    Effect.gen(function* () {
      for (const attemptDelay of [-1, Duration.infinity, "soon" as Duration.Input]) {
        const error = yield* Effect.flip(Dialer.dial("db.test:5432", { attemptDelay }))
        assert.strictEqual(error._tag, "InvalidInput")
      }
      const deadline = yield* Effect.flip(Dialer.dial("db.test:5432", { deadline: -5 }))
      assert.strictEqual(deadline._tag, "InvalidInput")
      const count = yield* Effect.flip(Dialer.dial("db.test:5432", { firstAddressFamilyCount: 0 }))
      assert.strictEqual(count._tag, "InvalidInput")
      assert.deepStrictEqual(yield* journal, [])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})

describe("Dialer: address order (RFC 8305 section 4)", () => {
  const four = { "db.test": ["2001:db8::a", "2001:db8::b", "192.0.2.10", "192.0.2.11"] }

  /** Every address refuses: the order of the attempts, all at 0 ms. */
  const order = (options?: Dialer.Options) =>
    Effect.gen(function* () {
      for (const ip of ["[2001:db8::a]", "[2001:db8::b]", "192.0.2.10", "192.0.2.11"]) {
        yield* TestNetwork.script(`${ip}:5432`, ["refuse"])
      }
      const error = yield* Effect.flip(Dialer.dial("db.test:5432", options))
      assert.strictEqual(error._tag, "AllAttemptsFailed")
      return (error as DialError.AllAttemptsFailed).attempts.map((a) => String(a.address))
    }).pipe(Effect.provide(world(staticNames(four))))

  it.effect("families interleave, IPv6 first: v6a, v4a, v6b, v4b", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* order(), [
        "[2001:db8::a]:5432",
        "192.0.2.10:5432",
        "[2001:db8::b]:5432",
        "192.0.2.11:5432"
      ])
    })
  )

  it.effect("firstAddressFamilyCount 2: v6a, v6b, v4a, v4b", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* order({ firstAddressFamilyCount: 2 }), [
        "[2001:db8::a]:5432",
        "[2001:db8::b]:5432",
        "192.0.2.10:5432",
        "192.0.2.11:5432"
      ])
    })
  )

  it.effect("preferredFamily IPv4: v4a, v6a, v4b, v6b", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* order({ preferredFamily: "IPv4" }), [
        "192.0.2.10:5432",
        "[2001:db8::a]:5432",
        "192.0.2.11:5432",
        "[2001:db8::b]:5432"
      ])
    })
  )

  it.effect("family restricts the dial to one family", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* order({ family: "IPv4" }), ["192.0.2.10:5432", "192.0.2.11:5432"])
      assert.deepStrictEqual(yield* order({ family: "IPv6" }), ["[2001:db8::a]:5432", "[2001:db8::b]:5432"])
    })
  )

  it("interleave: the preferred family's first addresses, then alternating, nothing lost", () => {
    const a = (text: string) => Result.getOrThrow(SockAddr.fromString(text)) as SockAddr.Inet
    const v6 = [a("[::a]:1"), a("[::b]:1"), a("[::c]:1")]
    const v4 = [a("10.0.0.1:1")]
    assert.deepStrictEqual(Dialer.interleave([...v4, ...v6], "IPv6", 1).map(String), [
      "[::a]:1",
      "10.0.0.1:1",
      "[::b]:1",
      "[::c]:1"
    ])
    assert.deepStrictEqual(Dialer.interleave([...v6, ...v4], "IPv6", 5).map(String), [
      "[::a]:1",
      "[::b]:1",
      "[::c]:1",
      "10.0.0.1:1"
    ])
    assert.deepStrictEqual(Dialer.interleave(v4, "IPv6", 1).map(String), ["10.0.0.1:1"])
    assert.deepStrictEqual(Dialer.interleave([], "IPv6", 1), [])
  })
})

describe("Dialer: resolution (RFC 8305 section 3)", () => {
  it.effect("A at 0 ms, AAAA at 30 ms: the first attempt is IPv6, at 30 ms", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.listen("127.0.0.1:5432")
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(29)
      pending(fiber)
      assert.deepStrictEqual(yield* journal, [])
      yield* advanceTo(30)
      assert.deepStrictEqual(yield* finished(fiber), ["[::1]:5432 30..30 connected"])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "30 millis" }))))
  )

  it.effect("AAAA at 80 ms, past the 50 ms resolution delay: IPv4 at 50 ms, then the late IPv6 address", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(49)
      assert.deepStrictEqual(yield* journal, [])
      yield* advanceTo(50)
      assert.deepStrictEqual(yield* journal, ["50ms #2 open stream 127.0.0.1:5432 ok"])
      yield* advanceTo(299)
      pending(fiber)
      yield* advanceTo(300)
      assert.deepStrictEqual(yield* finished(fiber), [
        "127.0.0.1:5432 50..300 cancelled",
        "[::1]:5432 300..300 connected"
      ])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "80 millis" }))))
  )

  it.effect("AAAA first (10 ms), A late (1 s): the attempt starts on the AAAA answer, without waiting for A", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(10)
      assert.deepStrictEqual(yield* finished(fiber), ["[::1]:5432 10..10 connected"])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "10 millis", IPv4: "1 second" }))))
  )

  it.effect("resolutionDelay 20 ms: with AAAA at 30 ms, IPv4 goes at 20 ms", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.listen("127.0.0.1:5432")
      const fiber = yield* start(dialTrace("db.test:5432", { resolutionDelay: "20 millis" }))
      yield* advanceTo(20)
      assert.deepStrictEqual(yield* finished(fiber), ["127.0.0.1:5432 20..20 connected"])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "30 millis" }))))
  )

  it.effect("the AAAA lookup fails: IPv4 at once, no resolution delay", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:5432")
      const fiber = yield* start(dialTrace("db.test:5432"))
      assert.deepStrictEqual(yield* finished(fiber), ["127.0.0.1:5432 0..0 connected"])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "ServerFailure" }))))
  )

  it.effect("every attempt failed before a late answer: the late address is tried when it arrives", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      // Nothing listens on 127.0.0.1:5432: refused at 50 ms, then the dial waits for AAAA.
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(79)
      pending(fiber)
      yield* advanceTo(80)
      assert.deepStrictEqual(yield* finished(fiber), [
        "127.0.0.1:5432 50..50 ECONNREFUSED",
        "[::1]:5432 80..80 connected"
      ])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "80 millis" }))))
  )

  it.effect("an answer after the attempt delay passed, while an attempt still hangs: tried at once", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
      // IPv4 starts at 50 ms; its attempt delay passes at 300 ms with nothing left to try; AAAA
      // answers at 400 ms and must not wait for the hanging IPv4 attempt (127 s).
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(400)
      assert.deepStrictEqual(yield* finished(fiber), [
        "127.0.0.1:5432 50..400 cancelled",
        "[::1]:5432 400..400 connected"
      ])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "400 millis" }))))
  )

  it.effect("an answer after an attempt failed with nothing left to try: tried at once", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
      yield* TestNetwork.latency("127.0.0.2:5432", { base: "20 millis" })
      // 127.0.0.1 hangs from 50 ms; 127.0.0.2 starts at 300 ms and is refused at 320 ms with
      // nothing left; AAAA answers at 400 ms, before 127.0.0.2's attempt delay would pass (550 ms).
      const fiber = yield* start(dialTrace("db.test:5432"))
      yield* advanceTo(400)
      assert.deepStrictEqual(yield* finished(fiber), [
        "127.0.0.1:5432 50..400 cancelled",
        "127.0.0.2:5432 300..320 ECONNREFUSED",
        "[::1]:5432 400..400 connected"
      ])
    }).pipe(
      Effect.provide(world(delayedNames({ "db.test": ["::1", "127.0.0.1", "127.0.0.2"] }, { IPv6: "400 millis" })))
    )
  )
})

describe("Dialer: failures", () => {
  it.effect("every attempt fails: AllAttemptsFailed with each address, typed error, start and end", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("[::1]:5432", ["blackhole"])
      yield* TestNetwork.latency("127.0.0.1:5432", { base: "40 millis" })
      const fiber = yield* start(Effect.flip(Dialer.dial("db.test:5432")))
      yield* advanceTo(2999)
      pending(fiber)
      yield* advanceTo(3000)
      const error = yield* finished(fiber)
      assert.strictEqual(error._tag, "AllAttemptsFailed")
      const failed = error as DialError.AllAttemptsFailed
      assert.deepStrictEqual(failed.attempts.map(failureLine), [
        "[::1]:5432 0..3000 ETIMEDOUT",
        "127.0.0.1:5432 250..290 ECONNREFUSED"
      ])
      const [timedOut, refused] = failed.attempts
      assert.strictEqual(String(timedOut?.error.address), "[::1]:5432")
      assert.strictEqual(String(refused?.error.address), "127.0.0.1:5432")
      assert.strictEqual(failed.message, "all 2 attempts failed: [::1]:5432 ETIMEDOUT, 127.0.0.1:5432 ECONNREFUSED")
      assert.isTrue(Retry.isTransient(error))
      assert.deepStrictEqual(yield* openSockets, [])
    }).pipe(Effect.provide(world(staticNames(dbNames), { kernelTimeout: "3 seconds" })))
  )

  it.effect("an unknown name: effect/net's typed DnsError (NotFound), not a defect; nothing is opened", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Dialer.dial("nowhere.test:5432"))
      assert.isTrue(Exit.isFailure(exit))
      if (!Exit.isFailure(exit)) return
      assert.isFalse(Cause.hasDies(exit.cause))
      const error = Result.getOrThrow(Cause.findError(exit.cause))
      assert.strictEqual(error._tag, "DnsError")
      assert.strictEqual((error as Dns.DnsError).reason, "NotFound")
      assert.strictEqual((error as Dns.DnsError).hostname, "nowhere.test")
      assert.isTrue(Retry.isTransient(error))
      assert.deepStrictEqual(yield* journal, [])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("both lookups fail: the DnsError with the resolver's reason", () =>
    Effect.gen(function* () {
      const error = yield* Fiber.join(yield* start(Effect.flip(Dialer.dial("db.test:5432"))))
      assert.strictEqual(error._tag, "DnsError")
      assert.strictEqual((error as Dns.DnsError).reason, "ServerFailure")
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "ServerFailure", IPv4: "ServerFailure" }))))
  )

  it.effect("an address target is dialled directly: one attempt, its own errno", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.flip(Dialer.dial("[::1]:5432"))
      assert.strictEqual(refused._tag, "ECONNREFUSED")
      yield* TestNetwork.listen("127.0.0.1:5432")
      const dialed = yield* Dialer.dial("127.0.0.1:5432")
      assert.deepStrictEqual(dialed.attempts.map(traceLine), ["127.0.0.1:5432 0..0 connected"])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("a HostPort target resolves like its string; a name without a port is InvalidInput", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:5432")
      const dialed = yield* Dialer.dial(Result.getOrThrow(Host.hostPortFromString("db.test:5432")))
      assert.deepStrictEqual(dialed.attempts.map(traceLine), [
        "[::1]:5432 0..0 ECONNREFUSED",
        "127.0.0.1:5432 0..0 connected"
      ])
      const noPort = yield* Effect.flip(Dialer.dial("db.test"))
      assert.strictEqual(noPort._tag, "InvalidInput")
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})

describe("Dialer: the overall deadline", () => {
  it.effect("DeadlineExceeded at exactly the deadline; every attempt in flight interrupted and closed", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("[::1]:5432", ["blackhole"])
      yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
      const fiber = yield* start(Effect.flip(Dialer.dial("db.test:5432", { deadline: "400 millis" })))
      yield* advanceTo(399)
      pending(fiber)
      yield* advanceTo(400)
      const error = yield* finished(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual((error as DialError.DeadlineExceeded).deadlineMillis, 400)
      assert.deepStrictEqual((yield* connects).sort(), ["400 127.0.0.1:5432 interrupted", "400 [::1]:5432 interrupted"])
      assert.deepStrictEqual(yield* openSockets, [])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("the deadline bounds resolution too", () =>
    Effect.gen(function* () {
      const fiber = yield* start(Effect.flip(Dialer.dial("db.test:5432", { deadline: "1 second" })))
      yield* advanceTo(1000)
      const error = yield* finished(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.deepStrictEqual(yield* journal, [])
    }).pipe(Effect.provide(world(delayedNames(dbNames, { IPv6: "10 seconds", IPv4: "10 seconds" }))))
  )
})

describe("Dialer: the winner", () => {
  it.effect("is connected and usable, and lives in the caller's scope: closing it closes the connection", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:5432")
      const scope = yield* Scope.make()
      const dialed = yield* Scope.provide(Dialer.dial("db.test:5432"), scope)
      const client = yield* dialed.handle.socket
      const server = yield* listener.accept
      const local = yield* dialed.handle.localAddress
      assert.strictEqual(local._tag === "Some" ? String(local.value) : "none", String(server.peer))

      const clientWriter = yield* Scope.provide(client.writer, scope)
      yield* clientWriter.write("ping")
      const serverPull = yield* Socket.readerBytes(server.socket)
      assert.strictEqual(text(yield* serverPull), "ping")
      const serverWriter = yield* server.socket.writer
      yield* serverWriter.write("pong")
      const clientPull = yield* Scope.provide(Socket.readerBytes(client), scope)
      assert.strictEqual(text(yield* clientPull), "pong")

      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* dialed.handle.state)._tag, "Closed")
      assert.deepStrictEqual(yield* openSockets, [])
      // The server reads the end of the stream.
      const end = yield* Effect.flip(serverPull)
      assert.strictEqual(end.reason._tag, "SocketCloseError")
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})

describe("Dialer: under Retry", () => {
  it.effect("Retry.transient: every address refuses twice, then accepts: the third dial wins at 300 ms", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("[::1]:5432")
      yield* TestNetwork.listen("127.0.0.1:5432")
      yield* TestNetwork.script("[::1]:5432", ["refuse", "refuse", "accept"])
      yield* TestNetwork.script("127.0.0.1:5432", ["refuse", "refuse", "accept"])
      let dials = 0
      const dial = Effect.suspend(() => {
        dials++
        return Dialer.dial("db.test:5432", { deadline: "1 second" })
      }).pipe(Effect.retry(Retry.transient({ base: "100 millis", jitter: false, maxElapsed: "5 seconds" })))
      const fiber = yield* start(dial)
      yield* advanceTo(299)
      pending(fiber)
      yield* advanceTo(300)
      const dialed = yield* finished(fiber)
      assert.strictEqual(dials, 3)
      assert.strictEqual(String(dialed.address), "[::1]:5432")
      assert.deepStrictEqual(yield* connects, [
        "0 [::1]:5432 ECONNREFUSED",
        "0 127.0.0.1:5432 ECONNREFUSED",
        "100 [::1]:5432 ECONNREFUSED",
        "100 127.0.0.1:5432 ECONNREFUSED",
        "300 [::1]:5432 ok"
      ])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect(
    "bounded: blackholed addresses, each dial's 300 ms deadline, maxElapsed 1 s: four dials, then the error",
    () =>
      Effect.gen(function* () {
        yield* TestNetwork.script("[::1]:5432", ["blackhole"])
        yield* TestNetwork.script("127.0.0.1:5432", ["blackhole"])
        const started: Array<number> = []
        const dial = Effect.flatMap(elapsed, (now) => {
          started.push(now)
          return Dialer.dial("db.test:5432", { deadline: "300 millis" })
        }).pipe(Effect.retry(Retry.transient({ base: "100 millis", jitter: false, maxElapsed: "1 second" })))
        const fiber = yield* start(
          Effect.flip(dial).pipe(Effect.flatMap((error) => Effect.map(elapsed, (at) => ({ error, at }))))
        )
        yield* TestClock.adjust("1 minute")
        const { error, at } = yield* finished(fiber)
        // Each dial ends at its deadline; the backoff waits 100, 200, 400 ms; the schedule gives up
        // once more than 1 s has passed since its first decision (at 300 ms).
        assert.deepStrictEqual(started, [0, 400, 900, 1600])
        assert.strictEqual(error._tag, "DeadlineExceeded")
        assert.strictEqual(at, 1900)
        assert.strictEqual((yield* connects).length, 8)
        assert.deepStrictEqual(yield* openSockets, [])
      }).pipe(Effect.provide(world(staticNames(dbNames))))
  )

  it.effect("a permanent failure (EACCES on every address) stops at once: exactly one dial", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("[::1]:5432", [{ errno: "EACCES" }])
      yield* TestNetwork.script("127.0.0.1:5432", [{ errno: "EACCES" }])
      let dials = 0
      const dial = Effect.suspend(() => {
        dials++
        return Dialer.dial("db.test:5432")
      }).pipe(Effect.retry(Retry.transient({ jitter: false })))
      const fiber = yield* start(Effect.flip(dial))
      yield* TestClock.adjust("1 minute")
      const error = yield* finished(fiber)
      assert.strictEqual(dials, 1)
      assert.strictEqual(error._tag, "AllAttemptsFailed")
      assert.deepStrictEqual((error as DialError.AllAttemptsFailed).attempts.map(failureLine), [
        "[::1]:5432 0..0 EACCES",
        "127.0.0.1:5432 0..0 EACCES"
      ])
      assert.isTrue(Retry.isPermanent(error))
      assert.deepStrictEqual(yield* connects, ["0 [::1]:5432 EACCES", "0 127.0.0.1:5432 EACCES"])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})

describe("Dialer: observability", () => {
  it.effect("each attempt is a dial.attempt span with dial.address, timed on the Clock; lookups are dial.resolve", () =>
    Effect.gen(function* () {
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      yield* TestNetwork.listen("127.0.0.1:5432")
      yield* TestNetwork.script("[::1]:5432", ["blackhole"])
      const fiber = yield* start(Effect.withTracer(Dialer.dial("db.test:5432"), tracer))
      yield* advanceTo(250)
      yield* finished(fiber)
      const millis = (nanos: bigint) => Number(nanos / 1_000_000n) - origin
      const attempts = spans
        .filter((span) => span.name === "dial.attempt")
        .map((span) => ({
          address: span.attributes.get("dial.address"),
          index: span.attributes.get("dial.index"),
          start: millis(span.startTime),
          end: span.status._tag === "Ended" ? millis(span.status.endTime) : undefined,
          exit: span.status._tag === "Ended" ? span.status.exit._tag : undefined
        }))
      assert.deepStrictEqual(attempts, [
        { address: "[::1]:5432", index: 0, start: 0, end: 250, exit: "Failure" },
        { address: "127.0.0.1:5432", index: 1, start: 250, end: 250, exit: "Success" }
      ])
      // The loser's span ended by interruption, not by an error of its own.
      const loser = spans.find((span) => span.name === "dial.attempt")
      assert.isTrue(loser?.status._tag === "Ended" && Exit.hasInterrupts(loser.status.exit))
      const resolves = spans.filter((span) => span.name === "dial.resolve").map((s) => s.attributes.get("dial.family"))
      assert.deepStrictEqual(resolves, ["IPv6", "IPv4"])
    }).pipe(Effect.provide(world(staticNames(dbNames))))
  )
})
