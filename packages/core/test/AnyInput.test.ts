// Issue 10: every public entry point of @dial/core, given any JavaScript value for any
// argument, succeeds or returns its documented typed error. It never throws, never defects,
// never returns undefined where a Result or an Effect is promised. Each property runs RUNS
// generated cases from `anyValue` (fast-check's `anything()`, the edge values the issue names,
// proxies whose traps throw) and from targeted generators.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as fc from "fast-check"
import {
  ConnectError,
  Dialer,
  Errno,
  InvalidInput,
  Network,
  Ready,
  Retry,
  SockAddr,
  SystemError,
  type Transport
} from "../src/index.ts"
import { addressLike, anyOptions, anyValue, lift, oneOf } from "./helpers/anyValue.ts"

const RUNS = 10_000
const params = { numRuns: RUNS }

const isInvalid = (e: unknown): boolean => e instanceof InvalidInput.InvalidInput && e._tag === "InvalidInput"

/** A Result whose failure, if any, passes `allowed`. */
const expectResult = (r: unknown, allowed: (e: unknown) => boolean = isInvalid): void => {
  if (!Result.isResult(r)) throw new Error(`not a Result: ${String(r)}`)
  if (Result.isFailure(r) && !allowed(r.failure)) throw new Error(`unexpected failure: ${String(r.failure)}`)
}

/** An Exit that succeeded or failed with a typed error `allowed` accepts: no defect, no interruption. */
const expectExit = (exit: Exit.Exit<unknown, unknown>, allowed: (e: unknown) => boolean = isInvalid): void => {
  if (Exit.isSuccess(exit)) return
  if (Cause.hasDies(exit.cause)) throw new Error(`defect: ${Cause.pretty(exit.cause)}`)
  if (Cause.hasInterrupts(exit.cause)) throw new Error(`interrupted: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !allowed(error.value)) throw new Error(`unexpected failure: ${Cause.pretty(exit.cause)}`)
}

const anyAddress = fc.oneof(anyValue, addressLike)

describe("SockAddr: any input", () => {
  it("fromString, parse and the FromString codec", () => {
    fc.assert(
      fc.property(anyAddress, (make) => {
        const input = make()
        expectResult(SockAddr.fromString(input as string))
        expectExit(Effect.runSyncExit(SockAddr.parse(input as string)))
        expectExit(Schema.decodeUnknownExit(SockAddr.FromString)(input), () => true)
      }),
      params
    )
  }, 120_000)

  it("fromInput", () => {
    fc.assert(
      fc.property(anyAddress, (make) => expectResult(SockAddr.fromInput(make() as SockAddr.Input))),
      params
    )
  }, 120_000)

  it("inet(ip, port, scopeId)", () => {
    const ip = fc.oneof(anyValue, addressLike, oneOf("127.0.0.1", "::1", "fe80::1"))
    const port = fc.oneof(anyValue, lift(fc.integer({ min: -2, max: 70000 })))
    fc.assert(
      fc.property(ip, port, fc.oneof(anyValue, lift(fc.integer())), (a, b, c) => {
        const made = SockAddr.inet(a() as string, b() as number, c() as number)
        expectResult(made)
        // An address that is made formats, and reads back to itself.
        if (Result.isSuccess(made)) expectResult(SockAddr.fromString(SockAddr.format(made.success)), () => false)
      }),
      params
    )
  }, 120_000)

  it("unixPath, unixAbstract and fromSocketPath", () => {
    fc.assert(
      fc.property(anyAddress, (make) => {
        const input = make()
        expectResult(SockAddr.unixPath(input as string))
        expectResult(SockAddr.unixAbstract(input as string))
        expectResult(SockAddr.fromSocketPath(input as string))
      }),
      params
    )
  }, 120_000)

  it("fromJson and the FromJson codec agree", () => {
    const json = fc.oneof(
      anyValue,
      fc
        .record(
          {
            _tag: fc.oneof(oneOf("Inet", "UnixPath", "UnixAbstract", "Unspec"), anyValue),
            ip: fc.oneof(anyValue, addressLike),
            port: fc.oneof(anyValue, lift(fc.integer({ min: -1, max: 70000 }))),
            scopeId: anyValue,
            path: fc.oneof(anyValue, addressLike),
            name: fc.oneof(anyValue, addressLike)
          },
          { requiredKeys: ["_tag"] }
        )
        .map((fields) => () => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v()])))
    )
    fc.assert(
      fc.property(json, (make) => {
        const input = make()
        const direct = SockAddr.fromJson(input as SockAddr.Json)
        expectResult(direct)
        // One mechanism: the function and the codec accept exactly the same inputs. (Effect's
        // Schema decoder itself runs a proxy's traps unguarded: where it throws or dies, the
        // function still refuses.)
        let exit: Exit.Exit<unknown, unknown>
        try {
          exit = Schema.decodeUnknownExit(SockAddr.FromJson)(input)
        } catch {
          if (Result.isSuccess(direct)) throw new Error("FromJson threw where fromJson accepted")
          return
        }
        if (Exit.isFailure(exit) && Cause.hasDies(exit.cause)) return
        if (Result.isSuccess(direct) !== Exit.isSuccess(exit)) throw new Error("fromJson and FromJson disagree")
      }),
      params
    )
  }, 120_000)

  it("guards answer a boolean for anything", () => {
    fc.assert(
      fc.property(anyValue, (make) => {
        const input = make()
        for (const guard of [SockAddr.isSockAddr, SockAddr.isInet, SockAddr.isUnix, SockAddr.isUnspec]) {
          if (typeof guard(input as SockAddr.SockAddr) !== "boolean") throw new Error("not a boolean")
        }
      }),
      params
    )
  }, 120_000)

  it("an address built with `new` from bad fields is refused before any socket", () => {
    const bad = [
      new SockAddr.Inet({ address: {} as never }),
      new SockAddr.Inet({ address: null as never }),
      new SockAddr.Inet({ address: { _tag: "InetAddressV4", address: 5, port: 1 } as never }),
      new SockAddr.UnixPath({ path: null as never }),
      new SockAddr.UnixPath({ path: "x".repeat(200) }),
      new SockAddr.UnixAbstract({ name: 5 as never })
    ]
    for (const address of bad) {
      const checked = SockAddr.fromInput(address)
      expect(Result.isFailure(checked) && isInvalid(checked.failure), String(address._tag)).toBe(true)
    }
    // Nor through a handle: the transport never sees them.
    for (const address of bad) {
      const exit = Effect.runSyncExit(Network.connect(address).pipe(Effect.scoped, Effect.provide(context)))
      expect(
        Exit.isFailure(exit) &&
          isInvalid(Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined)))
      ).toBe(true)
    }
    expect(reached).toEqual([])
    // A valid one built with `new` is accepted, and copied: the state machine never reads the caller's object again.
    const made = new SockAddr.UnixPath({ path: "/run/app.sock" })
    const accepted = SockAddr.fromInput(made)
    expect(
      Result.isSuccess(accepted) &&
        accepted.success !== made &&
        SockAddr.format(accepted.success) === "unix:/run/app.sock"
    ).toBe(true)
  })
})

describe("InvalidInput: any input", () => {
  it("make and duration never throw", () => {
    fc.assert(
      fc.property(anyValue, anyValue, anyOptions(["infinite"]), (a, b, c) => {
        const [input, reason, options] = [a(), b(), c()]
        const made = InvalidInput.make("field", input, typeof reason === "string" ? reason : "r")
        if (!isInvalid(made) || typeof made.message !== "string") throw new Error("not an InvalidInput")
        expectResult(InvalidInput.duration("d", input as never, options as never))
      }),
      params
    )
  }, 120_000)

  it("what is not a duration is refused, not read as zero", () => {
    for (const input of [
      {},
      [Number.NaN, 0],
      [0, Number.NaN],
      { secs: 5 },
      { seconds: Number.NaN },
      Number.NaN,
      "x".repeat(65)
    ]) {
      expect(Result.isFailure(InvalidInput.duration("deadline", input as never)), JSON.stringify(input)).toBe(true)
    }
    expect(Result.isSuccess(InvalidInput.duration("deadline", { seconds: 1 }))).toBe(true)
    expect(Result.isSuccess(InvalidInput.duration("deadline", [1, 0]))).toBe(true)
  })
})

// A transport that refuses every connect at once: the property is about what reaches it.
const reached: Array<unknown> = []
const refusing: Transport.Transport = {
  platform: "refusing",
  connectStream: (request) =>
    Effect.suspend(() => {
      reached.push(request)
      return Effect.fail(ConnectError.make("ECONNREFUSED", { address: request.address }))
    }),
  openDatagram: (request) =>
    Effect.suspend(() => {
      reached.push(request)
      return Effect.fail(ConnectError.make("EACCES", { address: request.address }))
    })
}
const network = Layer.succeed(Network.Network)(Network.make(refusing))
const resolver = AddressResolver.layer().pipe(
  Layer.provide(Dns.layerStatic({ hosts: { "db.internal": ["127.0.0.1", "::1"] } }))
)
const context = Effect.runSync(Layer.build(Layer.merge(network, resolver)).pipe(Effect.scoped))

const connectFailure = (e: unknown): boolean =>
  isInvalid(e) || ConnectError.isConnectError(e) || (e as { _tag?: unknown })?._tag === "DeadlineExceeded"

/** Every request the transport saw carries a checked address and plain options. */
const checkReached = (): void => {
  for (const request of reached.splice(0)) {
    const { address, options } = request as { address: SockAddr.SockAddr; options: Transport.SocketOptions }
    expectResult(SockAddr.fromInput(address), () => false)
    if (options.local !== undefined) expectResult(SockAddr.fromInput(options.local), () => false)
  }
}

const openKeys = ["local", "keepAlive", "noDelay"]
const connectKeys = ["deadline", "signal"]

describe("Network: any input", () => {
  it("open(type, options)", () => {
    const type = fc.oneof(anyValue, oneOf("stream", "datagram", "seqpacket"))
    fc.assert(
      fc.property(type, anyOptions(openKeys), (a, b) => {
        const [t, options] = [a(), b()]
        expectExit(
          Effect.runSyncExit(Network.open(t as "stream", options as never).pipe(Effect.scoped, Effect.provide(context)))
        )
      }),
      params
    )
  }, 120_000)

  it("connect(address, options) and handle.connect", () => {
    fc.assert(
      fc.property(anyAddress, anyOptions([...openKeys, ...connectKeys]), (a, b) => {
        const [address, options] = [a(), b()]
        expectExit(
          Effect.runSyncExit(
            Network.connect(address as string, options as never).pipe(Effect.scoped, Effect.provide(context))
          ),
          connectFailure
        )
        expectExit(
          Effect.runSyncExit(
            Network.open("datagram").pipe(
              Effect.flatMap((handle) => handle.connect(address as string, options as never)),
              Effect.scoped,
              Effect.provide(context)
            )
          ),
          connectFailure
        )
        checkReached()
      }),
      params
    )
  }, 120_000)
})

describe("Dialer: any input", () => {
  const dialKeys = [
    ...openKeys,
    "deadline",
    "attemptDelay",
    "resolutionDelay",
    "firstAddressFamilyCount",
    "family",
    "preferredFamily"
  ]
  const dialFailure = (e: unknown): boolean =>
    connectFailure(e) || ["AllAttemptsFailed", "DnsError", "NetAddressError"].includes((e as { _tag: string })._tag)

  it("dial(target, options)", { timeout: 120_000 }, async () => {
    const started = performance.now()
    const target = fc.oneof(anyAddress, oneOf("db.internal:5432", "nowhere.internal:1"))
    await fc.assert(
      fc.asyncProperty(target, anyOptions(dialKeys), async (a, b) => {
        const [t, options] = [a(), b()]
        const exit = await Effect.runPromiseExit(
          Dialer.dial(t as string, options as never).pipe(Effect.scoped, Effect.provide(context))
        )
        expectExit(exit, dialFailure)
        checkReached()
      }),
      params
    )
    console.log(`dial: ${RUNS} runs in ${Math.round(performance.now() - started)} ms`)
  })

  it("a target longer than the limit is refused at once", () => {
    const exit = Effect.runSyncExit(
      Dialer.dial(`${"a".repeat(Dialer.maxTargetLength)}:1`).pipe(Effect.scoped, Effect.provide(context))
    )
    expectExit(exit)
    expect(Exit.isFailure(exit)).toBe(true)
  })
})

describe("the cases issue 10 lists, by name", () => {
  const refused = (r: Result.Result<unknown, unknown>) => Result.isFailure(r) && isInvalid(r.failure)
  const exitRefused = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) &&
    !Cause.hasDies(exit.cause) &&
    isInvalid(Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined)))

  it("inet refuses non-string IPs and bad ports", () => {
    for (const [ip, port] of [
      [{}, 80],
      [5, 80],
      [null, 80],
      [null, -1],
      ["127.0.0.1", "80"],
      ["127.0.0.1", Number.NaN]
    ]) {
      expect(refused(SockAddr.inet(ip as string, port as number)), `${String(ip)} ${String(port)}`).toBe(true)
    }
  })

  it("fromJson refuses what is not the JSON form, as FromJson does", () => {
    for (const json of [
      { _tag: "Nope" },
      {},
      "127.0.0.1:80",
      null,
      { _tag: "Inet", ip: 5, port: 1 },
      { _tag: "Inet", port: 1 }
    ]) {
      expect(refused(SockAddr.fromJson(json as never)), JSON.stringify(json)).toBe(true)
      expect(Exit.isFailure(Schema.decodeUnknownExit(SockAddr.FromJson)(json))).toBe(true)
    }
  })

  it("fromSocketPath refuses non-strings", () => {
    for (const path of [null, 5, undefined, {}]) expect(refused(SockAddr.fromSocketPath(path as never))).toBe(true)
  })

  it("null options are InvalidInput from open, connect and dial", async () => {
    const run = <A, E>(
      effect: Effect.Effect<A, E, Network.Network | AddressResolver.AddressResolver | import("effect/Scope").Scope>
    ) => Effect.runPromiseExit(effect.pipe(Effect.scoped, Effect.provide(context)))
    expect(exitRefused(await run(Network.open("stream", null as never)))).toBe(true)
    expect(exitRefused(await run(Network.connect("127.0.0.1:1", null as never)))).toBe(true)
    expect(exitRefused(await run(Dialer.dial("127.0.0.1:1", null as never)))).toBe(true)
    expect(exitRefused(await run(Dialer.dial("db.internal:1", null as never)))).toBe(true)
  })

  it("durations that are not durations fail the connect with InvalidInput, not DeadlineExceeded", async () => {
    for (const deadline of [{}, [Number.NaN, 0]]) {
      const exit = await Effect.runPromiseExit(
        Network.connect("127.0.0.1:1", { deadline: deadline as never }).pipe(Effect.scoped, Effect.provide(context))
      )
      expect(exitRefused(exit), JSON.stringify(deadline)).toBe(true)
    }
  })

  // How long it takes is the parse benchmark's to show (packages/core/bench/parse.ts).
  it("a 64 KiB address is refused, naming the limit", () => {
    const result = SockAddr.fromString(`${"a".repeat(64 * 1024)}:1`)
    expect(Result.isFailure(result) && result.failure.reason.includes(`at most ${SockAddr.maxStringLength}`)).toBe(true)
  })
})

describe("errors and retry classes: any input", () => {
  it("classify, guards, fromUnknown and toConnectError", () => {
    fc.assert(
      fc.property(anyValue, (make) => {
        const input = make()
        const cls = Retry.classify(input)
        if (cls !== undefined && typeof cls !== "string") throw new Error("classify")
        for (const guard of [
          Retry.isTransient,
          Retry.isPermanent,
          Retry.isState,
          ConnectError.isConnectError,
          Errno.isName
        ]) {
          if (typeof guard(input) !== "boolean") throw new Error("guard")
        }
        const mapped = SystemError.fromUnknown(input)
        if (typeof mapped?._tag !== "string") throw new Error("fromUnknown")
        if (!ConnectError.isConnectError(SystemError.toConnectError(input, {}))) throw new Error("toConnectError")
        const row = Errno.fromNumber(input as number)
        if (row !== undefined && typeof row.name !== "string") throw new Error("fromNumber")
      }),
      params
    )
  }, 120_000)
})

describe("Retry policies: any input", () => {
  const keys = ["base", "factor", "cap", "maxAttempts", "maxElapsed", "jitter"]
  const durationLike = fc.oneof(
    anyValue,
    oneOf(
      "100 millis",
      "2 seconds",
      "abc",
      "",
      "-1 seconds",
      "Infinity",
      0,
      -0,
      5,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY
    ),
    oneOf({}, { seconds: 1 }, { secs: 1 }, [1, 0], [Number.NaN, 0], [1], 5n, -5n)
  )
  const targeted = fc
    .record(
      {
        base: durationLike,
        cap: durationLike,
        maxElapsed: durationLike,
        factor: fc.oneof(anyValue, lift(fc.double()), oneOf(1, 2, 0.5, -2, Number.NaN)),
        maxAttempts: fc.oneof(
          anyValue,
          lift(fc.integer({ min: -3, max: 30 })),
          oneOf(1.5, Number.POSITIVE_INFINITY, -0)
        ),
        jitter: fc.oneof(
          anyValue,
          fc.boolean().map((b) => () => b)
        )
      },
      { requiredKeys: [] }
    )
    .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  const anyBackoff = fc.oneof(anyOptions(keys), targeted)

  it("backoff and transient return a schedule whose first step succeeds, is done, or fails with InvalidInput", () => {
    fc.assert(
      fc.property(anyBackoff, (make) => {
        const options = make() as Retry.BackoffOptions
        const policy = Retry.transient(options)
        if (typeof policy.while !== "function") throw new Error("transient: no while")
        for (const schedule of [Retry.backoff(options), policy.schedule]) {
          if (!Schedule.isSchedule(schedule)) throw new Error("not a Schedule")
          const exit = Effect.runSyncExit(
            Effect.flatMap(Schedule.toStep(schedule), (step) => Pull.catchDone(step(0, undefined), () => Effect.void))
          )
          expectExit(exit)
          if (Exit.isSuccess(exit) && exit.value !== undefined) {
            const [, delay] = exit.value
            if (!Duration.isDuration(delay) || Duration.isNegative(delay)) throw new Error(`bad delay ${String(delay)}`)
          }
        }
      }),
      params
    )
  }, 120_000)
})

describe("Ready: any input", () => {
  const exitRefused = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) &&
    !Cause.hasDies(exit.cause) &&
    isInvalid(Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined)))
  const probeLike = fc.oneof(
    anyValue,
    oneOf(Ready.redis, Ready.mysql, Ready.postgres(), Ready.http("/healthz"), Ready.tls(), Ready.expect("a", "b")),
    fc
      .record(
        {
          _tag: fc.oneof(oneOf("Postgres", "Redis", "Mysql", "Http", "Tls", "Expect", "Nope"), anyValue),
          user: fc.oneof(anyValue, oneOf("u", "", "a\0b")),
          database: fc.oneof(anyValue, oneOf("db")),
          path: fc.oneof(anyValue, oneOf("/", "/x", "x", "/a b", "/\r\n")),
          host: fc.oneof(anyValue, oneOf("localhost", "", "a b")),
          servername: fc.oneof(anyValue, oneOf("db.internal")),
          send: fc.oneof(anyValue, oneOf(new Uint8Array(0), new Uint8Array([1]))),
          expect: fc.oneof(anyValue, oneOf(new Uint8Array(0), new Uint8Array([1]))),
          text: anyValue
        },
        { requiredKeys: ["_tag"] }
      )
      .map((bag) => () => Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, v?.()])))
  )
  const checkOptions = fc.oneof(
    anyOptions(["deadline", "maxBytes"]),
    fc
      .record({
        deadline: fc.oneof(anyValue, oneOf("1 second", 10, {})),
        maxBytes: fc.oneof(anyValue, lift(fc.integer()))
      })
      .map((bag) => () => ({ deadline: bag.deadline(), maxBytes: bag.maxBytes() }))
  )
  const probeText = fc.oneof(
    anyValue,
    oneOf("redis", "http:/x", "expect:a=>b", "expect:\\x4", `http:/${"a".repeat(9000)}`, "expect:=>"),
    lift(
      fc.string({
        unit: fc.constantFrom("e", "x", "p", "c", "t", ":", "=", ">", "\\", "h", "/", "4", "0", "\0"),
        maxLength: 30
      })
    )
  )

  it("parse answers a Result; a parsed probe formats and parses back", () => {
    fc.assert(
      fc.property(probeText, (make) => {
        const parsed = Ready.parse(make() as string)
        expectResult(parsed)
        if (Result.isSuccess(parsed)) expectResult(Ready.parse(Ready.format(parsed.success)), () => false)
      }),
      params
    )
  }, 120_000)

  it("constructors never throw and always return a probe", () => {
    fc.assert(
      fc.property(anyOptions(["user", "database", "servername"]), anyValue, anyValue, (options, a, b) => {
        const made = [
          Ready.postgres(options() as never),
          Ready.tls(options() as never),
          Ready.http(a() as string, b() as string),
          Ready.expect(a() as string, b() as string)
        ]
        for (const probe of made) if (typeof probe?._tag !== "string") throw new Error("not a probe")
      }),
      params
    )
  }, 120_000)

  it("check refuses a bad connection, probe or option with InvalidInput before it connects", () => {
    const refused = new Error("the connection ran")
    fc.assert(
      fc.property(fc.oneof(anyValue, oneOf(Effect.fail(refused))), probeLike, checkOptions, (c, p, o) => {
        const [connection, probe, options] = [c(), p(), o()]
        // Data-first when the first argument is a connection; otherwise data-last, a function.
        const made = Ready.check(connection as never, probe as never, options as never)
        const effect: unknown = typeof made === "function" ? (made as (c: unknown) => unknown)(connection) : made
        if (!Effect.isEffect(effect)) throw new Error("not an Effect")
        const exit = Effect.runSyncExit(effect as Effect.Effect<unknown, unknown>)
        expectExit(exit, (e) => isInvalid(e) || e === refused)
        if (Exit.isSuccess(exit)) throw new Error("succeeded without a server")
      }),
      params
    )
  }, 120_000)

  it("the probes that reach the connection are the ones the constructors make", () => {
    const ran = new Error("ran")
    for (const probe of [
      Ready.redis,
      Ready.postgres({ user: "u" }),
      Ready.http("/x"),
      Ready.tls(),
      Ready.expect("", "b")
    ]) {
      const exit = Effect.runSyncExit(Ready.check(Effect.fail(ran), probe))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      expect(error?._tag === "Some" && error.value === ran, Ready.format(probe)).toBe(true)
    }
    for (const probe of [
      Ready.http("/a b"),
      Ready.http("/x", "evil\r\nX-Injected: 1"),
      Ready.postgres({ user: "a\0b" }),
      Ready.postgres(null as never),
      Ready.expect("a", ""),
      Ready.expect(5 as never, "b"),
      { _tag: "Nope" },
      null
    ]) {
      const exit = Effect.runSyncExit(Ready.check(Effect.fail(ran), probe as Ready.Probe))
      expect(exitRefused(exit), JSON.stringify(probe)).toBe(true)
    }
  })
})
