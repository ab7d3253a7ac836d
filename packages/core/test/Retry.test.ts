import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { DnsError } from "effect/net/Dns"
import * as Socket from "effect/socket/Socket"
import { NetAddressError } from "effect/net/NetAddress"
import {
  ConnectError,
  type Dialer,
  DialError,
  Errno,
  InvalidInput,
  Retry,
  SockAddr,
  type SocketHandle
} from "../src/index.ts"

const classes = ["transient", "permanent", "state"] as const
const guards = { transient: Retry.isTransient, permanent: Retry.isPermanent, state: Retry.isState } as const

/** Whether exactly the guard of `expected` holds (the guards are mutually exclusive). */
const assertOnlyClass = (error: unknown, expected: Errno.RetryClass | undefined, label: string) => {
  for (const c of classes) assert.strictEqual(guards[c](error), c === expected, `${label}: is ${c}`)
  assert.strictEqual(Retry.classify(error), expected, label)
}

/** An effect of a given error type (the tests below read its type). */
const failing = <E>(error: E): Effect.Effect<void, E> => Effect.fail(error)

const deadline = DialError.deadlineExceeded({ deadline: "1 second" })
const attemptOf = (error: DialError.Attempt["error"]): DialError.Attempt => ({ address: SockAddr.unspec, error })

describe("Retry", () => {
  describe("classes", () => {
    it.each(Errno.names)("%s is classed as Errno.table says", (name) => {
      assertOnlyClass(ConnectError.make(name), Errno.table[name].retryClass, name)
      // The class is a property of the tag, whatever the context.
      assertOnlyClass(
        ConnectError.make(name, { syscall: "bind", cause: new Error("x") }),
        Errno.table[name].retryClass,
        name
      )
    })

    it("the library's own errors", () => {
      assertOnlyClass(deadline, "transient", "DeadlineExceeded")
      assertOnlyClass(InvalidInput.make("address", "x", "bad"), "permanent", "InvalidInput")
      assertOnlyClass(DialError.unsupported("seqpacket sockets", "node"), "permanent", "Unsupported")
      assertOnlyClass(ConnectError.unknown("ENOBUFS", { errno: 105 }), "permanent", "UnknownErrno")
      assertOnlyClass(DialError.allAttemptsFailed([]), "permanent", "AllAttemptsFailed with no attempt")
      // effect/net's resolution errors: a name may get registered; a malformed one never parses.
      assertOnlyClass(
        new DnsError({ reason: "NotFound", method: "lookup", hostname: "db.internal" }),
        "transient",
        "DnsError"
      )
      assertOnlyClass(new NetAddressError({ message: "bad", input: "x" }), "permanent", "NetAddressError")
    })

    it("effect/socket's SocketError is classed by its typed cause; a close is transient", () => {
      const read = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
      const write = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })
      assertOnlyClass(read(ConnectError.make("ECONNRESET", { syscall: "read" })), "transient", "read ECONNRESET")
      assertOnlyClass(write(ConnectError.make("EPIPE", { syscall: "write" })), "transient", "write EPIPE")
      assertOnlyClass(write(ConnectError.make("EBADF", { syscall: "write" })), "permanent", "write EBADF")
      assertOnlyClass(read(deadline), "transient", "read deadline")
      assertOnlyClass(
        new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) }),
        "transient",
        "clean close"
      )
      // A cause that is not the library's says nothing.
      assertOnlyClass(read(new Error("x")), undefined, "untyped cause")
    })

    it("AllAttemptsFailed is transient iff any attempt is, for every pair of attempt errors", () => {
      const errors: Array<DialError.Attempt["error"]> = [
        ...Errno.names.map((name) => ConnectError.make(name)),
        ConnectError.unknown("ENOBUFS"),
        deadline
      ]
      let pairs = 0
      for (const a of errors) {
        for (const b of errors) {
          const expected = Retry.isTransient(a) || Retry.isTransient(b) ? "transient" : "permanent"
          assertOnlyClass(DialError.allAttemptsFailed([attemptOf(a), attemptOf(b)]), expected, `${a._tag}+${b._tag}`)
          pairs++
        }
      }
      assert.strictEqual(pairs, (Errno.names.length + 2) ** 2)
    })

    it("values that are not the library's errors have no class", () => {
      for (const value of [null, undefined, 42, "ECONNREFUSED", new Error("x"), { _tag: "Other" }, { _tag: 1 }]) {
        assertOnlyClass(value, undefined, String(value))
      }
    })

    it("the classes the design names", () => {
      const classOf = (name: Errno.Name) => Errno.table[name].retryClass
      for (const name of [
        "ECONNREFUSED",
        "ETIMEDOUT",
        "ENETUNREACH",
        "EHOSTUNREACH",
        "EAGAIN",
        "EADDRNOTAVAIL",
        "ECONNRESET",
        "ENOENT",
        "EINTR"
      ] as const) {
        assert.strictEqual(classOf(name), "transient", name)
      }
      for (const name of [
        "EACCES",
        "EPERM",
        "EAFNOSUPPORT",
        "EPROTOTYPE",
        "EFAULT",
        "EBADF",
        "ENOTSOCK",
        "EINVAL"
      ] as const) {
        assert.strictEqual(classOf(name), "permanent", name)
      }
      for (const name of ["EALREADY", "EISCONN", "EINPROGRESS"] as const) {
        assert.strictEqual(classOf(name), "state", name)
      }
    })
  })

  describe("types", () => {
    it("isTransient narrows a union of errors", () => {
      const check = (e: ConnectError.ByName["ECONNREFUSED"] | ConnectError.ByName["EACCES"]) => {
        if (Retry.isTransient(e)) {
          expectTypeOf(e).toEqualTypeOf<ConnectError.ECONNREFUSED>()
          return "transient"
        }
        expectTypeOf(e).toEqualTypeOf<ConnectError.EACCES>()
        return "not"
      }
      assert.strictEqual(check(ConnectError.make("ECONNREFUSED")), "transient")
      assert.strictEqual(check(ConnectError.make("EACCES")), "not")
      const state = (e: ConnectError.ByName["EISCONN"] | ConnectError.ByName["ENOENT"]) => {
        if (!Retry.isState(e)) return false
        expectTypeOf(e).toEqualTypeOf<ConnectError.EISCONN>()
        return true
      }
      assert.isTrue(state(ConnectError.make("EISCONN")))
      assert.isFalse(state(ConnectError.make("ENOENT")))
    })

    it("the class names are types", () => {
      expectTypeOf<"ECONNREFUSED">().toExtend<Retry.TransientName>()
      expectTypeOf<"EACCES">().not.toExtend<Retry.TransientName>()
      expectTypeOf<"EACCES">().toExtend<Retry.PermanentName>()
      expectTypeOf<Retry.StateName>().toEqualTypeOf<"EALREADY" | "EINPROGRESS" | "EISCONN" | "ENOTCONN">()
      assert.strictEqual(Errno.table.ENOTCONN.retryClass, "state")
    })

    it("Effect.retry({ while: Retry.isTransient }) leaves in the error type only what can still come out", () => {
      // Passed directly, the guard excludes its type from an error union that holds all of it.
      const dial = failing<Dialer.DialFailure>(ConnectError.make("EACCES"))
      const retriedDial = dial.pipe(Effect.retry({ while: Retry.isTransient }))
      expectTypeOf<Effect.Error<typeof retriedDial>>().toEqualTypeOf<
        | ConnectError.ByName[Retry.PermanentName | Retry.StateName]
        | ConnectError.UnknownErrno
        | DialError.Unsupported
        | InvalidInput.InvalidInput
        | NetAddressError
        // Classed at run time: a permanent AllAttemptsFailed can come out, so it stays.
        | DialError.AllAttemptsFailed
      >()
      // On a narrower union, the arrow form narrows (TypeScript infers its type predicate).
      const connect = failing<SocketHandle.ConnectFailure>(ConnectError.make("EACCES"))
      const retried = connect.pipe(Effect.retry({ while: (e) => Retry.isTransient(e) }))
      expectTypeOf(retried).toEqualTypeOf<
        Effect.Effect<
          void,
          | ConnectError.ByName[Retry.PermanentName | Retry.StateName]
          | ConnectError.UnknownErrno
          | DialError.Unsupported
          | InvalidInput.InvalidInput
        >
      >()
      // `until: isPermanent` leaves the permanent ones, AllAttemptsFailed included.
      const untilPermanent = dial.pipe(Effect.retry({ until: Retry.isPermanent }))
      expectTypeOf(untilPermanent).toEqualTypeOf<
        Effect.Effect<
          void,
          | ConnectError.ByName[Retry.PermanentName]
          | ConnectError.UnknownErrno
          | DialError.Unsupported
          | InvalidInput.InvalidInput
          | NetAddressError
          | DialError.AllAttemptsFailed
        >
      >()
      const permanent = DialError.allAttemptsFailed([attemptOf(ConnectError.make("EACCES"))])
      assert.isFalse(Retry.isTransient(permanent))
      assert.isTrue(Retry.isPermanent(permanent))
    })

    it.effect("on a narrower union, the arrow form narrows (TypeScript infers its predicate)", () =>
      Effect.gen(function* () {
        let runs = 0
        const connect: Effect.Effect<string, ConnectError.ECONNREFUSED | ConnectError.EACCES> = Effect.suspend(
          (): Effect.Effect<string, ConnectError.ECONNREFUSED | ConnectError.EACCES> => {
            runs++
            return Effect.fail(ConnectError.make(runs < 4 ? "ECONNREFUSED" : "EACCES"))
          }
        )
        const retried = connect.pipe(Effect.retry({ while: (e) => Retry.isTransient(e) }))
        expectTypeOf(retried).toEqualTypeOf<Effect.Effect<string, ConnectError.EACCES>>()
        // Passed directly, the guard names more than this union holds, and Effect's Retry.Return
        // cannot exclude it: the error type stays whole (sound, just not narrowed).
        const direct = connect.pipe(Effect.retry({ while: Retry.isTransient }))
        expectTypeOf(direct).toEqualTypeOf<Effect.Effect<string, ConnectError.ECONNREFUSED | ConnectError.EACCES>>()
        const error = yield* Effect.flip(retried)
        assert.strictEqual(error._tag, "EACCES")
        assert.strictEqual(runs, 4)
      })
    )
  })

  describe("policies (on the TestClock)", () => {
    /** An effect that fails with the given errors in turn (then succeeds), recording the time of each run. */
    const scripted = (errors: ReadonlyArray<ConnectError.ConnectError>) => {
      const times: Array<number> = []
      const effect = Effect.gen(function* () {
        times.push(yield* Clock.currentTimeMillis)
        const error = errors[times.length - 1]
        if (error !== undefined) return yield* error
        return times.length
      })
      return { times, effect }
    }
    const always = (name: Errno.Name) => Array.from({ length: 1000 }, () => ConnectError.make(name))

    /** Runs a retried effect to its end: fork it, move the clock far ahead, join. */
    const runToEnd = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(Effect.exit(effect))
        yield* TestClock.adjust("1 day")
        return yield* Fiber.join(fiber)
      })

    it.effect(
      "transient({ maxAttempts: 3, jitter: false }) on ECONNREFUSED runs exactly 4 times, 100/200/400 ms apart",
      () =>
        Effect.gen(function* () {
          const { times, effect } = scripted(always("ECONNREFUSED"))
          const fiber = yield* Effect.forkChild(
            Effect.exit(effect.pipe(Effect.retry(Retry.transient({ maxAttempts: 3, jitter: false }))))
          )
          yield* TestClock.adjust(0)
          assert.deepStrictEqual(times, [0])
          yield* TestClock.adjust(99)
          assert.deepStrictEqual(times, [0], "no retry before the first delay")
          yield* TestClock.adjust(1)
          assert.deepStrictEqual(times, [0, 100])
          yield* TestClock.adjust("1 hour")
          assert.deepStrictEqual(times, [0, 100, 300, 700])
          const exit = yield* Fiber.join(fiber)
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.findErrorOption(exit)
          assert.isTrue(error._tag === "Some" && error.value._tag === "ECONNREFUSED")
        })
    )

    for (const name of ["EACCES", "EALREADY", "EINVAL"] as const) {
      it.effect(`a ${Errno.table[name].retryClass} error (${name}) runs exactly once`, () =>
        Effect.gen(function* () {
          const { times, effect } = scripted(always(name))
          const exit = yield* runToEnd(effect.pipe(Effect.retry(Retry.transient({ maxAttempts: 3, jitter: false }))))
          assert.deepStrictEqual(times, [0])
          const error = Exit.findErrorOption(exit)
          assert.isTrue(error._tag === "Some" && error.value._tag === name)
        })
      )
    }

    it.effect("retries stop at the first error that is not transient", () =>
      Effect.gen(function* () {
        const { times, effect } = scripted([
          ConnectError.make("ECONNREFUSED"),
          ConnectError.make("ENOENT"),
          ConnectError.make("EACCES")
        ])
        const exit = yield* runToEnd(effect.pipe(Effect.retry(Retry.transient({ jitter: false }))))
        assert.deepStrictEqual(times, [0, 100, 300])
        const error = Exit.findErrorOption(exit)
        assert.isTrue(error._tag === "Some" && error.value._tag === "EACCES")
      })
    )

    it.effect("a retry that succeeds returns the value", () =>
      Effect.gen(function* () {
        const { times, effect } = scripted([ConnectError.make("ECONNREFUSED"), ConnectError.make("ETIMEDOUT")])
        const exit = yield* runToEnd(effect.pipe(Effect.retry(Retry.transient({ jitter: false }))))
        assert.deepStrictEqual(exit, Exit.succeed(3))
        assert.deepStrictEqual(times, [0, 100, 300])
      })
    )

    it.effect("backoff without jitter doubles from 100 ms and is capped at `cap`", () =>
      Effect.gen(function* () {
        const { times, effect } = scripted(always("ECONNREFUSED"))
        yield* runToEnd(
          effect.pipe(
            Effect.retry({
              schedule: Retry.backoff({ jitter: false, cap: "500 millis", maxAttempts: 7 }),
              while: Retry.isTransient
            })
          )
        )
        const delays = times.slice(1).map((t, i) => t - times[i]!)
        assert.deepStrictEqual(delays, [100, 200, 400, 500, 500, 500, 500])
      })
    )

    it.effect("base and factor shape the curve; maxAttempts defaults to 10", () =>
      Effect.gen(function* () {
        const { times, effect } = scripted(always("ECONNREFUSED"))
        yield* runToEnd(
          effect.pipe(Effect.retry(Retry.transient({ jitter: false, base: "10 millis", factor: 3, cap: "1 second" })))
        )
        const delays = times.slice(1).map((t, i) => t - times[i]!)
        assert.deepStrictEqual(delays, [10, 30, 90, 270, 810, 1000, 1000, 1000, 1000, 1000])
      })
    )

    it.effect("maxElapsed stops the retries: no retry is decided once it has passed", () =>
      Effect.gen(function* () {
        const first = scripted(always("ECONNREFUSED"))
        yield* runToEnd(
          first.effect.pipe(Effect.retry(Retry.transient({ jitter: false, maxAttempts: 100, maxElapsed: "1 second" })))
        )
        // Decided at 0, 100, 300, 700 (< 1 s); at 1500 the budget is spent.
        assert.deepStrictEqual(first.times, [0, 100, 300, 700, 1500])
        const second = scripted(always("ECONNREFUSED"))
        yield* runToEnd(
          second.effect.pipe(
            Effect.retry(
              Retry.transient({ jitter: false, maxAttempts: 100, maxElapsed: "1 second", cap: "250 millis" })
            )
          )
        )
        const start = second.times[0]!
        assert.deepStrictEqual(
          second.times.map((t) => t - start),
          [0, 100, 300, 550, 800, 1050]
        )
      })
    )

    it.effect("jitter spreads each delay over 80%..120% and never past the cap", () =>
      Effect.gen(function* () {
        const cap = 1000
        const { times, effect } = scripted(always("ECONNREFUSED"))
        yield* runToEnd(effect.pipe(Effect.retry(Retry.transient({ cap: `${cap} millis`, maxAttempts: 40 }))))
        const delays = times.slice(1).map((t, i) => t - times[i]!)
        assert.strictEqual(delays.length, 40)
        let jittered = 0
        for (const [i, delay] of delays.entries()) {
          const nominal = Math.min(100 * 2 ** i, cap)
          assert.isAtLeast(delay, 0.8 * nominal - 1e-6, `delay ${i}`)
          assert.isAtMost(delay, Math.min(1.2 * nominal, cap) + 1e-6, `delay ${i}`)
          if (Math.abs(delay - nominal) > 1e-6) jittered++
        }
        assert.isAbove(jittered, 0, "some delay was jittered")
        // At the cap the delays still differ, so clients do not retry in step.
        assert.isAbove(new Set(delays.slice(10).map((d) => Math.round(d))).size, 1)
      })
    )

    describe("malformed options are InvalidInput in the error channel, never a throw (#10)", () => {
      const trap = (): never => {
        throw new Error("trap")
      }
      const hostile = new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap })
      const withGetter = Object.defineProperty({}, "cap", { get: trap, enumerable: true })
      const cases: ReadonlyArray<readonly [string, unknown, string]> = [
        ["base {}", { base: {} }, "base"],
        ["base [NaN, 0]", { base: [Number.NaN, 0] }, "base"],
        ['base "abc"', { base: "abc" }, "base"],
        ["base Infinity", { base: Number.POSITIVE_INFINITY }, "base"],
        ["base -1", { base: -1 }, "base"],
        ["cap {}", { cap: {} }, "cap"],
        ["cap a 1 MiB string", { cap: "1".repeat(1 << 20) }, "cap"],
        ["maxElapsed [NaN, 0]", { maxElapsed: [Number.NaN, 0] }, "maxElapsed"],
        ["factor NaN", { factor: Number.NaN }, "factor"],
        ["factor -2", { factor: -2 }, "factor"],
        ["factor 0.5", { factor: 0.5 }, "factor"],
        ["factor Infinity", { factor: Number.POSITIVE_INFINITY }, "factor"],
        ['factor "2"', { factor: "2" }, "factor"],
        ["maxAttempts -1", { maxAttempts: -1 }, "maxAttempts"],
        ["maxAttempts 1.5", { maxAttempts: 1.5 }, "maxAttempts"],
        ['maxAttempts "x"', { maxAttempts: "x" }, "maxAttempts"],
        ["maxAttempts NaN", { maxAttempts: Number.NaN }, "maxAttempts"],
        ["maxAttempts 10n", { maxAttempts: 10n }, "maxAttempts"],
        ['jitter "yes"', { jitter: "yes" }, "jitter"],
        ["null options", null, "options"],
        ["string options", "fast", "options"],
        ["array options", [], "options"],
        ["a proxy whose traps throw", hostile, "base"],
        ["a getter that throws", withGetter, "cap"]
      ]
      for (const [label, options, field] of cases) {
        it.effect(
          `${label}: backoff and transient return; the retry fails with InvalidInput(${field}) after one run`,
          () =>
            Effect.gen(function* () {
              // Neither constructor throws (they did: Duration.fromInputUnsafe, Schedule.upTo).
              const schedule = Retry.backoff(options as Retry.BackoffOptions)
              const policy = Retry.transient(options as Retry.BackoffOptions)
              for (const retried of [
                (e: Effect.Effect<number, ConnectError.ConnectError>) => e.pipe(Effect.retry(policy)),
                (e: Effect.Effect<number, ConnectError.ConnectError>) => e.pipe(Effect.retry(schedule))
              ]) {
                const { times, effect } = scripted(always("ECONNREFUSED"))
                const exit = yield* runToEnd(retried(effect))
                assert.strictEqual(times.length, 1, "the effect ran once; no retry was attempted")
                const error = Exit.findErrorOption(exit)
                assert.isTrue(error._tag === "Some" && error.value instanceof InvalidInput.InvalidInput, label)
                if (error._tag === "Some" && error.value instanceof InvalidInput.InvalidInput) {
                  assert.strictEqual(error.value.field, field)
                  assert.isAtMost(error.value.message.length, 400, "the message quotes the input, shortened")
                }
              }
            })
        )
      }

      it.effect("the schedule's error type says InvalidInput; Effect.repeat surfaces it too", () =>
        Effect.gen(function* () {
          expectTypeOf(Retry.backoff()).toEqualTypeOf<Retry.Backoff>()
          const repeated = Effect.succeed(1).pipe(Effect.repeat(Retry.backoff({ maxAttempts: -1 })))
          expectTypeOf(repeated).toEqualTypeOf<
            Effect.Effect<import("effect/Duration").Duration, InvalidInput.InvalidInput>
          >()
          const exit = yield* Effect.exit(repeated)
          const error = Exit.findErrorOption(exit)
          assert.isTrue(error._tag === "Some" && error.value.field === "maxAttempts")
        })
      )

      it.effect(
        "edge values that are valid: maxAttempts 0 and Infinity, -0, factor 1, infinite cap and maxElapsed",
        () =>
          Effect.gen(function* () {
            const zero = scripted(always("ECONNREFUSED"))
            yield* runToEnd(zero.effect.pipe(Effect.retry(Retry.transient({ maxAttempts: 0 }))))
            assert.deepStrictEqual(zero.times, [0])
            const negativeZero = scripted(always("ECONNREFUSED"))
            yield* runToEnd(negativeZero.effect.pipe(Effect.retry(Retry.transient({ maxAttempts: -0 }))))
            assert.strictEqual(negativeZero.times.length, 1)
            const flat = scripted(always("ECONNREFUSED"))
            yield* runToEnd(
              flat.effect.pipe(
                Effect.retry(
                  Retry.transient({
                    factor: 1,
                    jitter: false,
                    maxAttempts: Number.POSITIVE_INFINITY,
                    cap: Number.POSITIVE_INFINITY,
                    maxElapsed: "350 millis"
                  })
                )
              )
            )
            assert.deepStrictEqual(
              flat.times.map((t) => t - flat.times[0]!),
              [0, 100, 200, 300, 400]
            )
          })
      )
    })
  })
})
