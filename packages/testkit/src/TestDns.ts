/**
 * A fake resolver for `effect/net`: `Dns` and the `AddressResolver` over it, answering from a
 * table, on Effect's clock. Each name answers per family: addresses, or NXDOMAIN, SERVFAIL, or
 * a timeout; each family can answer late (a slow AAAA is the classic). With `TestNetwork`,
 * core's `Dialer` (Happy Eyeballs) runs end to end with no real name ever resolved.
 *
 * **Details**
 *
 * - A name not in the table is NXDOMAIN (`DnsError` with reason `NotFound`); a name in the
 *   table with no answer for a family is NODATA (also `NotFound`, as the platform resolvers
 *   report it).
 * - `"SERVFAIL"` is reason `ServerFailure`; `"timeout"` waits the layer's `timeout` (default
 *   5 s, resolv.conf's) and fails with reason `Timeout`. Both are temporary (`isTemporary`).
 * - A delay applies to the family's answer whatever it is, failure included.
 * - A lookup of both families waits for the slower one, as `getaddrinfo` does.
 * - Names are matched case-insensitively, without a trailing dot.
 *
 * @since 0.1.0
 */
import { InvalidInput, SockAddr } from "@dial/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as NetAddress from "effect/net/NetAddress"

/**
 * How a family of a name fails instead of answering.
 *
 * @example
 * ```ts
 * import type { TestDns } from "@dial/testkit"
 *
 * const broken: TestDns.Failure = "SERVFAIL"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Failure = "NXDOMAIN" | "SERVFAIL" | "timeout"

/**
 * What one name answers, per family, and how late.
 *
 * @example
 * ```ts
 * import type { TestDns } from "@dial/testkit"
 *
 * // A dual-stack name whose AAAA answer takes 2 s.
 * const db: TestDns.Answer = { IPv4: ["10.0.0.10"], IPv6: ["2001:db8::10"], delay: { IPv6: "2 seconds" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Answer {
  readonly IPv4?: ReadonlyArray<string> | Failure | undefined
  readonly IPv6?: ReadonlyArray<string> | Failure | undefined
  readonly delay?:
    | { readonly IPv4?: Duration.Input | undefined; readonly IPv6?: Duration.Input | undefined }
    | undefined
}

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import type { TestDns } from "@dial/testkit"
 *
 * const quick: TestDns.Options = { timeout: "1 second" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How long a `"timeout"` answer takes to fail. Default 5 s. */
  readonly timeout?: Duration.Input | undefined
}

type Decoded = ReadonlyArray<NetAddress.IpAddress> | Failure

interface Entry {
  readonly IPv4: Decoded
  readonly IPv6: Decoded
  readonly delay: Record<NetAddress.IpFamily, number>
}

const families = ["IPv4", "IPv6"] as const

const normalize = (name: string): string => name.toLowerCase().replace(/\.$/, "")

const decodeFamily = (
  name: string,
  family: NetAddress.IpFamily,
  answer: Answer[NetAddress.IpFamily]
): Result.Result<Decoded, InvalidInput.InvalidInput> => {
  if (answer === undefined) return Result.succeed([])
  if (answer === "NXDOMAIN" || answer === "SERVFAIL" || answer === "timeout") return Result.succeed(answer)
  if (!Array.isArray(answer) || answer.length > maxAddresses) {
    return Result.fail(
      InvalidInput.make(
        `${name}.${family}`,
        answer,
        `expected at most ${maxAddresses} addresses, NXDOMAIN, SERVFAIL or timeout`
      )
    )
  }
  const ips: Array<NetAddress.IpAddress> = []
  for (const text of Array.from(answer as ReadonlyArray<unknown>)) {
    const ip =
      typeof text === "string" && text.length <= SockAddr.maxStringLength ? NetAddress.ipFromString(text) : undefined
    if (ip === undefined || Result.isFailure(ip) || NetAddress.familyOf(ip.success) !== family) {
      return Result.fail(InvalidInput.make(`${name}.${family}`, text, `expected an ${family} address`))
    }
    ips.push(ip.success)
  }
  return Result.succeed(ips)
}

const millis = (field: string, input: Duration.Input | undefined, fallback: number) =>
  input === undefined ? Result.succeed(fallback) : Result.map(InvalidInput.duration(field, input), Duration.toMillis)

/** The longest name a table holds: a DNS name is at most 253 characters, 254 with its final dot. */
const maxNameLength = 254
/** The most addresses one family answers. */
const maxAddresses = 1024

const decodeTable = (answers: unknown): Result.Result<Map<string, Entry>, InvalidInput.InvalidInput> =>
  Result.gen(function* () {
    if (typeof answers !== "object" || answers === null || Array.isArray(answers)) {
      return yield* Result.fail(InvalidInput.make("answers", answers, "expected a record of names to answers"))
    }
    const table = new Map<string, Entry>()
    for (const [name, input] of Object.entries(answers)) {
      if (name.length > maxNameLength) {
        return yield* Result.fail(
          InvalidInput.make("answers", name, `a name is at most ${maxNameLength} characters (got ${name.length})`)
        )
      }
      // Each answer, and its delays, read once into plain snapshots.
      const answer = yield* InvalidInput.options(name, input, ["IPv4", "IPv6", "delay"])
      if (input === undefined) return yield* Result.fail(InvalidInput.make(name, input, "expected an answer"))
      const delay = yield* InvalidInput.options(`${name}.delay`, answer.delay, ["IPv4", "IPv6"])
      table.set(normalize(name), {
        IPv4: yield* decodeFamily(name, "IPv4", answer.IPv4 as Answer["IPv4"]),
        IPv6: yield* decodeFamily(name, "IPv6", answer.IPv6 as Answer["IPv6"]),
        delay: {
          IPv4: yield* millis(`${name}.delay.IPv4`, delay.IPv4 as Duration.Input | undefined, 0),
          IPv6: yield* millis(`${name}.delay.IPv6`, delay.IPv6 as Duration.Input | undefined, 0)
        }
      })
    }
    return table
  })

/** Reads the table and options of {@link make}; a getter or proxy trap that throws is `InvalidInput`. */
const decodeAll = (
  answers: unknown,
  options: unknown
): Result.Result<{ readonly table: Map<string, Entry>; readonly timeout: number }, InvalidInput.InvalidInput> => {
  try {
    return Result.gen(function* () {
      const table = yield* decodeTable(answers)
      const read = yield* InvalidInput.options("options", options, ["timeout"])
      const timeout = yield* millis("timeout", read.timeout as Duration.Input | undefined, 5_000)
      return { table, timeout }
    })
  } catch {
    return Result.fail(InvalidInput.make("answers", answers, "reading it threw"))
  }
}

const failure = (hostname: string, reason: Dns.DnsErrorReason) =>
  new Dns.DnsError({ reason, method: "lookup", hostname })

/**
 * A `Dns` service answering from `answers`; InvalidInput for a malformed table.
 *
 * @example
 * ```ts
 * import { TestDns } from "@dial/testkit"
 *
 * const dns = TestDns.make({ "db.test": { IPv4: ["10.0.0.10"], IPv6: "SERVFAIL" } })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  answers: Readonly<Record<string, Answer>>,
  options?: Options
): Result.Result<Dns.Dns["Service"], InvalidInput.InvalidInput> =>
  Result.gen(function* () {
    const { table, timeout } = yield* decodeAll(answers, options)
    const one = (name: string, family: NetAddress.IpFamily, entry: Entry) => {
      const answer = entry[family]
      const delay = entry.delay[family] + (answer === "timeout" ? timeout : 0)
      const result: Effect.Effect<ReadonlyArray<NetAddress.IpAddress>, Dns.DnsError> = answer === "NXDOMAIN"
        ? Effect.fail(failure(name, "NotFound"))
        : answer === "SERVFAIL"
          ? Effect.fail(failure(name, "ServerFailure"))
          : answer === "timeout"
            ? Effect.fail(failure(name, "Timeout"))
            : Effect.succeed(answer)
      return delay === 0 ? result : Effect.andThen(Effect.sleep(Duration.millis(delay)), result)
    }
    return Dns.make({
      lookup: (host, family) => {
        const name = normalize(host)
        const entry = table.get(name)
        if (entry === undefined) return Effect.fail(failure(name, "NotFound"))
        if (family !== undefined) return one(name, family, entry)
        // Both families: the slower answer decides when; the lookup fails only when neither
        // family answers, with the first family's failure.
        return Effect.flatMap(
          Effect.all(
            families.map((f) => Effect.result(one(name, f, entry))),
            { concurrency: "unbounded" }
          ),
          (results) => {
            const found = results.flatMap((r) => (Result.isSuccess(r) ? r.success : []))
            const failed = results.find(Result.isFailure)
            return found.length === 0 && failed !== undefined ? Effect.fail(failed.failure) : Effect.succeed(found)
          }
        )
      }
    })
  })

/**
 * `Dns` and `AddressResolver` answering from `answers`. The layer fails with InvalidInput when
 * the table is malformed.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Dialer } from "@dial/core"
 * import { TestDns, TestNetwork } from "@dial/testkit"
 *
 * const layer = Layer.mergeAll(
 *   TestNetwork.layer(),
 *   TestDns.layer({ "db.test": { IPv4: ["10.0.0.10"], IPv6: ["2001:db8::10"], delay: { IPv6: "1 second" } } })
 * )
 * const program = Effect.scoped(Dialer.dial("db.test:5432")).pipe(Effect.provide(layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  answers: Readonly<Record<string, Answer>>,
  options?: Options
): Layer.Layer<AddressResolver.AddressResolver | Dns.Dns, InvalidInput.InvalidInput> => {
  const dns = Layer.effect(Dns.Dns, Effect.fromResult(make(answers, options)))
  return Layer.provideMerge(AddressResolver.layer(), dns)
}
