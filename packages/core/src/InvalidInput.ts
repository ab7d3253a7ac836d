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
export const make = (field: string, input: unknown, reason: string): InvalidInput =>
  new InvalidInput({ field, reason, input, message: `invalid ${field}: ${reason} (got ${show(input)})` })

const show = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input)
  if (typeof input === "number" || typeof input === "boolean" || input == null) return String(input)
  try {
    return JSON.stringify(input) ?? typeof input
  } catch {
    return typeof input
  }
}

/**
 * Reads a duration option: the `Duration`, or the `InvalidInput` naming `field`. A negative,
 * NaN or malformed duration is refused; an infinite one only with `{ infinite: "allow" }` (where it
 * means "no limit").
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidInput } from "@dial/core"
 *
 * Result.isSuccess(InvalidInput.duration("deadline", "2 seconds")) // true
 * Result.isFailure(InvalidInput.duration("deadline", "soon" as any)) // true
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
  const allowInfinite = options?.infinite === "allow"
  // Effect reads a NaN number as zero; a NaN here is a bug upstream, not "no time at all".
  const decoded = typeof input === "number" && Number.isNaN(input) ? Option.none() : Duration.fromInput(input)
  if (Option.isSome(decoded) && !Duration.isNegative(decoded.value)) {
    if (allowInfinite || Duration.isFinite(decoded.value)) return Result.succeed(decoded.value)
  }
  return Result.fail(
    make(field, input, allowInfinite ? "expected a non-negative duration" : "expected a finite, non-negative duration")
  )
}
