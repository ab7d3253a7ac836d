// The CLI as a library, given any JavaScript value for any argument: a typed outcome, never a
// throw, never a defect. fast-check generates 10,000 values per entry point, from `anything()`
// (with null prototypes, boxed values, bigints, sparse arrays, typed arrays, dates, maps, sets)
// and from targeted generators: throwing proxies, frozen objects, class instances, symbols,
// NaN/±Infinity/-0, NUL, lone surrogates and 1 MiB strings. Connects go to the fake network.
import { InvalidInput } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as fc from "fast-check"
import { Explain, Probe, Report, Wait } from "../src/index.ts"

const runs = Number(process.env.DIAL_TOTAL_RUNS ?? 10_000)
// 10,000 values take seconds, not the default 5 s limit, on two shared cores.
const slow = 120_000
fc.configureGlobal({ endOnFailure: true })

const throwingProxy = new Proxy(
  {},
  {
    // fast-check itself reads symbol keys (its clone marker) of generated values: only string
    // keys throw, which is every field the library reads.
    get: (_, key) => {
      if (typeof key === "symbol") return undefined
      throw new Error("getter throws")
    },
    has: () => true,
    ownKeys: () => {
      throw new Error("ownKeys throws")
    }
  }
)
class Instance {
  readonly _tag = "ECONNREFUSED"
  readonly errno: unknown
  constructor(errno: unknown) {
    this.errno = errno
  }
}

const oddities = fc.constantFrom<unknown>(
  undefined,
  null,
  true,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0.5,
  Number.MAX_VALUE,
  10n ** 30n,
  Symbol("s"),
  "",
  "\u0000",
  "\ud800",
  "x".repeat(1 << 20),
  "127.0.0.1:80".repeat(1 << 16),
  Object.freeze({ _tag: "InvalidInput", class: "transient" }),
  Object.create(null),
  throwingProxy,
  new Instance(Number.NaN),
  [Number.NaN, 0],
  { _tag: 5, message: {}, address: throwingProxy },
  () => 1
)

const any = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withNullPrototype: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withSparseArray: true,
      withTypedArray: true
    })
  },
  { weight: 1, arbitrary: oddities }
)

const sometimes = <A>(good: fc.Arbitrary<A>) => fc.oneof(good, any)

const options = fc.record(
  {
    type: sometimes(fc.constantFrom("stream", "datagram")),
    deadline: sometimes(fc.constantFrom("5 millis", 1, "1 second")),
    timeout: sometimes(fc.constantFrom("5 millis", 0)),
    maxDelay: sometimes(fc.constant("1 millis")),
    local: sometimes(fc.constantFrom(undefined, "127.0.0.1:0")),
    onAttempt: sometimes(fc.constant(() => Effect.void))
  },
  { requiredKeys: [] }
)

// The fake network (refused unless listening) and a resolver that knows no names.
const runtime = ManagedRuntime.make(
  Layer.merge(TestNetwork.layer(), AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({})))))
)

describe("Explain, Report: total over any value", () => {
  it(
    "Explain.lookup and Explain.text never throw",
    () => {
      fc.assert(
        fc.property(any, (input) => {
          const info = Explain.lookup(input as string)
          expect(info === undefined || typeof info.name === "string").toBe(true)
          expect(typeof Explain.text(input as never)).toBe("string")
        }),
        { numRuns: runs }
      )
      expect(Explain.lookup(111)?.name).toBe("ECONNREFUSED")
    },
    slow
  )

  it(
    "errorReport, exitCode and addressOf give a report, a code and an address or null",
    () => {
      fc.assert(
        fc.property(any, (input) => {
          const report = Report.errorReport(input)
          expect(typeof report._tag).toBe("string")
          expect(typeof report.message).toBe("string")
          expect(["transient", "permanent", "state"]).toContain(report.class)
          expect([0, 1, 2, 3]).toContain(Report.exitCode(input as never))
          const address = Report.addressOf(input)
          expect(address === null || typeof address === "string").toBe(true)
        }),
        { numRuns: runs }
      )
    },
    slow
  )

  it(
    "failure, plain and json give a failed report and its lines",
    () => {
      fc.assert(
        fc.property(any, any, any, (target, error, timing) => {
          const report = Report.failure(target as string, error, timing as never)
          expect(report.ok).toBe(false)
          expect(typeof report.target).toBe("string")
          expect(typeof Report.plain(report)).toBe("string")
          expect(typeof Report.plain(target as never)).toBe("string")
          expect(() => JSON.parse(Report.json(report))).not.toThrow()
          expect(() => JSON.parse(Report.json(error as never))).not.toThrow()
        }),
        { numRuns: runs }
      )
    },
    slow
  )
})

describe("Probe.probe, Wait.wait: a report or InvalidInput for any value", () => {
  it(
    "Probe.probe always succeeds with a report; bad arguments are InvalidInput reports",
    async () => {
      let invalid = 0
      await fc.assert(
        fc.asyncProperty(
          sometimes(fc.constantFrom("127.0.0.1:1", "[::1]:2", "unix:@dial-total", "db.test:5")),
          sometimes(options),
          sometimes(fc.constantFrom(1, 2)),
          async (target, opts, attempt) => {
            const exit = await runtime.runPromiseExit(
              Probe.probe(target as string, opts as Probe.Options, attempt as number).pipe(
                Effect.timeoutOption("1 second")
              )
            )
            if (Exit.isFailure(exit)) throw new Error(`probe failed: ${Cause.pretty(exit.cause)}`)
            if (exit.value._tag === "None") return
            const report = exit.value.value
            expect(typeof report.ok).toBe("boolean")
            if (report.error?._tag === "InvalidInput") invalid++
          }
        ),
        { numRuns: runs }
      )
      expect(invalid).toBeGreaterThan(runs / 4)
    },
    slow
  )

  it(
    "Wait.wait succeeds with reports or fails with InvalidInput, never a defect",
    async () => {
      let failed = 0
      await fc.assert(
        fc.asyncProperty(
          sometimes(fc.constantFrom(["127.0.0.1:99999"], ["http://127.0.0.1:80", "unix:"], [])),
          sometimes(options),
          async (targets, opts) => {
            const exit = await runtime.runPromiseExit(
              Wait.wait(targets as Array<string>, opts as Wait.Options).pipe(Effect.timeoutOption("1 second"))
            )
            if (Exit.isSuccess(exit)) return
            const error = Cause.squash(exit.cause)
            if (!(error instanceof InvalidInput.InvalidInput))
              throw new Error(`wait: not InvalidInput: ${Cause.pretty(exit.cause)}`)
            failed++
          }
        ),
        { numRuns: runs }
      )
      expect(failed).toBeGreaterThan(runs / 4)
    },
    slow
  )
})
