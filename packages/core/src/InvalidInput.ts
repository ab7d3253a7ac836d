/**
 * The library's refusal of input it cannot act on: a malformed address, a port out of range,
 * a unix path that does not fit `sun_path`, an option of the wrong kind. Returned before any
 * socket is opened, so nothing changes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/**
 * Input the library refuses. `field` names the option or part at fault, `reason` says why,
 * and `input` keeps what was given.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const program = SockAddr.parse("127.0.0.1:99999").pipe(
 *   Effect.catchTag("InvalidInput", (e) => Effect.succeed(e.reason))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  reason: Schema.String,
  input: Schema.Unknown,
  message: Schema.String
}) {}

/**
 * Builds an `InvalidInput` whose message says what and why.
 *
 * @example
 * ```ts
 * import { InvalidInput } from "@dial/core"
 *
 * const error = InvalidInput.make("port", 70000, "port must be within 0..65535")
 * error.message // "invalid port: port must be within 0..65535 (got 70000)"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (field: string, input: unknown, reason: string): InvalidInput => {
  // Total: a label that is not a string is shown, so the error's Schema always accepts it.
  const name = typeof field === "string" ? field : show(field)
  const why = typeof reason === "string" ? reason : show(reason)
  return new InvalidInput({ field: name, reason: why, input, message: `invalid ${name}: ${why} (got ${show(input)})` })
}

// The message quotes the input, shortened: a 1 MiB string must not make a 1 MiB message. A value
// that cannot be shown (a proxy whose traps throw, a cycle, a bigint inside an object) is named
// by its type.
const maxShown = 100

const shorten = (_key: string, value: unknown): unknown =>
  typeof value === "string" && value.length > maxShown
    ? `${value.slice(0, maxShown)}…`
    : typeof value === "bigint"
      ? `${value}n`
      : value

const show = (input: unknown): string => {
  let text: string
  try {
    if (typeof input === "string") text = JSON.stringify(input.length > maxShown ? input.slice(0, maxShown) : input)
    else if (typeof input === "number" || typeof input === "boolean" || input == null) text = String(input)
    else if (typeof input === "bigint") text = `${input}n`
    else if (typeof input === "symbol") text = input.toString()
    else if (typeof input === "function") text = "a function"
    // Long strings inside are cut as they are met, so the text stays short whatever the input.
    else text = JSON.stringify(input, shorten) ?? typeof input
  } catch {
    text = typeof input
  }
  return text.length > maxShown
    ? `${text.slice(0, maxShown)}… (${typeof input === "string" ? `${input.length} characters` : "shortened"})`
    : text
}

/**
 * The longest duration string {@link duration} reads (`"1.5 seconds"`): a longer one is refused
 * before it is parsed.
 *
 * @example
 * ```ts
 * import { InvalidInput } from "@dial/core"
 *
 * InvalidInput.maxDurationLength // 64
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxDurationLength = 64

const durationUnits = [
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
] as const

/**
 * Duration strings already read, and what they read as. A program passes the same few literals
 * (`"10 seconds"`) on every open, and parsing one costs microseconds; strings and the decoded
 * values are immutable, so a hit is the same answer. Bounded, so that arbitrary strings cannot
 * grow it: past the bound, strings are read afresh.
 */
const durationStrings = new Map<string, Result.Result<Duration.Duration, string>>()
const maxRememberedDurations = 256

/**
 * The one reading of a duration input, stricter than Effect's (which reads NaN, `{}` and
 * `[NaN, 0]` as zero): a number that is not NaN, a bigint, a string of at most
 * `maxDurationLength` characters, a `[seconds, nanos]` pair of numbers that are not NaN, or
 * an object with at least one unit field, each a number that is not NaN. The caller checks
 * the sign and finiteness.
 */
const decodeDuration = (input: unknown): Result.Result<Duration.Duration, string> => {
  switch (typeof input) {
    case "number":
      return Number.isNaN(input) ? Result.fail("NaN is not a duration") : Result.succeed(Duration.millis(input))
    case "bigint":
      return Result.succeed(Duration.nanos(input))
    case "string": {
      if (input.length > maxDurationLength) {
        return Result.fail(`a duration string is at most ${maxDurationLength} characters (got ${input.length})`)
      }
      const known = durationStrings.get(input)
      if (known !== undefined) return known
      const decoded = Option.match(Duration.fromInput(input as Duration.Input), {
        onNone: () => Result.fail('expected a duration such as "2 seconds" or "250 millis"'),
        onSome: Result.succeed
      })
      if (durationStrings.size < maxRememberedDurations) durationStrings.set(input, decoded)
      return decoded
    }
    case "object": {
      if (input === null) break
      if (Duration.isDuration(input)) return Result.succeed(input)
      if (Array.isArray(input)) {
        if (input.length !== 2) return Result.fail("a [seconds, nanos] pair has two elements")
        const [seconds, nanos]: Array<unknown> = [input[0], input[1]]
        if (typeof seconds !== "number" || typeof nanos !== "number" || Number.isNaN(seconds) || Number.isNaN(nanos)) {
          return Result.fail("a [seconds, nanos] pair holds two numbers, neither NaN")
        }
        return Result.succeed(Duration.fromInputUnsafe([seconds, nanos]))
      }
      // Read each unit once into a plain object: a getter runs once, and a typo (`{ secs: 5 }`)
      // or an empty object is refused rather than read as zero.
      const fields: { -readonly [K in (typeof durationUnits)[number]]?: number } = {}
      let some = false
      for (const unit of durationUnits) {
        const value: unknown = (input as Record<string, unknown>)[unit]
        if (value === undefined) continue
        if (typeof value !== "number" || Number.isNaN(value)) return Result.fail(`${unit} must be a number, not NaN`)
        fields[unit] = value
        some = true
      }
      if (!some) return Result.fail(`a duration object needs one of ${durationUnits.join(", ")}`)
      return Result.succeed(Duration.fromInputUnsafe(fields))
    }
  }
  return Result.fail('expected a duration such as "2 seconds" or "250 millis"')
}

/**
 * Reads a duration option: the `Duration`, or the `InvalidInput` naming `field`. A negative,
 * NaN or malformed duration is refused (an empty object and `[NaN, 0]` too: Effect itself reads
 * them as zero); an infinite one only with `{ infinite: "allow" }` (where it means "no limit").
 * A duration string longer than {@link maxDurationLength} is refused before it is parsed. Never
 * throws, whatever `input` is.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidInput } from "@dial/core"
 *
 * Result.isSuccess(InvalidInput.duration("deadline", "2 seconds")) // true
 * Result.isFailure(InvalidInput.duration("deadline", "soon" as any)) // true
 * Result.isFailure(InvalidInput.duration("deadline", {} as any)) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const duration = (
  field: string,
  input: Duration.Input,
  options?: { readonly infinite?: "allow" | "refuse" | undefined }
): Result.Result<Duration.Duration, InvalidInput> => {
  let allowInfinite = false
  try {
    allowInfinite = options?.infinite === "allow"
  } catch {
    // An options object whose getter throws allows nothing more than the default.
  }
  let decoded: Result.Result<Duration.Duration, string>
  try {
    decoded = decodeDuration(input)
  } catch {
    // A proxy whose traps throw, a getter that throws.
    decoded = Result.fail("reading it threw")
  }
  if (Result.isSuccess(decoded)) {
    const value = decoded.success
    if (!Duration.isNegative(value) && (allowInfinite || Duration.isFinite(value))) return Result.succeed(value)
  }
  const expected = allowInfinite ? "expected a non-negative duration" : "expected a finite, non-negative duration"
  return Result.fail(make(field, input, Result.isFailure(decoded) ? `${expected}: ${decoded.failure}` : expected))
}

// Array.isArray throws on a revoked proxy.
const isArrayOrRevoked = (input: object): boolean => {
  try {
    return Array.isArray(input)
  } catch {
    return true
  }
}

const threw = (error: unknown): string => {
  try {
    const message = error instanceof Error ? error.message : String(error)
    return `reading it threw: ${message.length > 80 ? `${message.slice(0, 80)}…` : message}`
  } catch {
    return "reading it threw"
  }
}

/**
 * Reads an options bag once, into a plain object holding only `keys` (those not `undefined`).
 * `undefined` is no options; anything but a non-array object (`null` included) is refused
 * naming `field`, and a getter or proxy trap that throws is refused naming its key. Validate
 * the snapshot, never the caller's object: a getter runs once, so a value cannot change between
 * its check and its use. Every options argument of dial's packages is read through this.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidInput } from "@dial/core"
 *
 * const read = InvalidInput.options("options", { deadline: "1 second", other: 1 }, ["deadline"])
 * Result.getOrThrow(read) // { deadline: "1 second" }
 * Result.isFailure(InvalidInput.options("options", null, ["deadline"])) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const options = <K extends string>(
  field: string,
  input: unknown,
  keys: ReadonlyArray<K>
): Result.Result<Partial<Record<K, unknown>>, InvalidInput> => {
  if (input === undefined) return Result.succeed({})
  if (typeof input !== "object" || input === null || isArrayOrRevoked(input)) {
    return Result.fail(make(field, input, "expected an options object or undefined"))
  }
  const out: Partial<Record<K, unknown>> = {}
  // The names too are read once (a caller's list, normally a constant).
  let names: ReadonlyArray<K>
  try {
    if (!Array.isArray(keys)) return Result.fail(make("keys", keys, "expected an array of option names"))
    names = Array.from(keys as ReadonlyArray<K>).filter((key) => typeof key === "string")
  } catch {
    return Result.fail(make("keys", keys, "reading it threw"))
  }
  for (const key of names) {
    let value: unknown
    try {
      value = (input as Record<string, unknown>)[key]
    } catch (error) {
      return Result.fail(make(key, input, threw(error)))
    }
    if (value !== undefined) out[key] = value
  }
  return Result.succeed(out)
}
