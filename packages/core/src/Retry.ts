/**
 * Retry decisions over the typed errors: the class of each error (`transient`, `permanent`,
 * `state`, as `Errno.table` says), type guards that narrow, and ready policies on `Schedule`.
 *
 * The library's own errors are classed too: `DeadlineExceeded` is transient (the next attempt
 * may be faster), `InvalidInput` and `Unsupported` are permanent, `UnknownErrno` is permanent
 * (retrying what nobody understands hides it), and `AllAttemptsFailed` is transient when any
 * of its attempts failed transiently, permanent otherwise. `Ready.NotReady` carries its own
 * class (a server starting up is transient, one refusing this client permanent). Of `effect/net`'s resolution
 * errors, `DnsError` is transient (names get registered) and `NetAddressError` permanent.
 *
 * `effect/socket`'s `SocketError` is seen through: a read, write or open error is classed by
 * its cause (a connection's ECONNRESET or EPIPE is transient, as the errno's row says); a
 * `SocketCloseError` (the connection ended, cleanly or not) is transient, since a new
 * connection can succeed; a cause that is not one of the library's errors is unclassed. It is
 * classed at run time only: the guards' narrowed types do not list it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@dial/core"
 *
 * declare const connect: Effect.Effect<void, import("@dial/core").DialError.DialError>
 *
 * // Retry transient failures with backoff for at most 30 s; stop at once on anything else.
 * const resilient = connect.pipe(Effect.retry(Retry.transient({ maxElapsed: "30 seconds" })))
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Dns from "effect/net/Dns"
import type * as NetAddress from "effect/net/NetAddress"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as ConnectError from "./ConnectError.ts"
import type * as DialError from "./DialError.ts"
import * as Errno from "./Errno.ts"
import * as InvalidInput from "./InvalidInput.ts"

type NamesOf<C extends Errno.RetryClass> = {
  [K in Errno.Name]: (typeof Errno.table)[K]["retryClass"] extends C ? K : never
}[Errno.Name]

/**
 * The errors that are always worth retrying: the transient errnos, `DeadlineExceeded` and
 * `effect/net`'s `DnsError`.
 *
 * `AllAttemptsFailed` is classed at run time (transient when any attempt is), so it is not
 * here but in {@link Permanent}: where `Effect.retry({ while: Retry.isTransient })` removes this
 * type from the error type it leaves, a permanent `AllAttemptsFailed` can still come out.
 *
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const tag = (e: Retry.Transient) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Transient = ConnectError.ByName[TransientName] | DialError.DeadlineExceeded | Dns.DnsError

/**
 * Configuration or programming errors.
 *
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const tag = (e: Retry.Permanent) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Permanent =
  | ConnectError.ByName[PermanentName]
  | ConnectError.UnknownErrno
  | DialError.Unsupported
  | InvalidInput.InvalidInput
  | DialError.AllAttemptsFailed
  | NetAddress.NetAddressError

/**
 * Errors about the handle's state.
 *
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const tag = (e: Retry.State) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type State = ConnectError.ByName[StateName]

/**
 * The errno names of each class, as types.
 *
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const name: Retry.TransientName = "ECONNREFUSED"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type TransientName = NamesOf<"transient">

/**
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const name: Retry.PermanentName = "EACCES"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type PermanentName = NamesOf<"permanent">

/**
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const name: Retry.StateName = "EISCONN"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StateName = NamesOf<"state">

const tagOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : undefined

/**
 * The retry class of an error, or `undefined` for a value that is not one of the library's
 * errors.
 *
 * @example
 * ```ts
 * import { ConnectError, Retry } from "@dial/core"
 *
 * Retry.classify(ConnectError.make("ECONNREFUSED")) // "transient"
 * Retry.classify(ConnectError.make("EACCES")) // "permanent"
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (error: unknown): Errno.RetryClass | undefined => {
  try {
    return classifyUnguarded(error)
  } catch {
    // A value whose getters throw (a proxy) is no error of this library's.
    return undefined
  }
}

const classifyUnguarded = (error: unknown): Errno.RetryClass | undefined => {
  const tag = tagOf(error)
  if (tag === undefined) return undefined
  if (Errno.isName(tag)) return Errno.table[tag].retryClass
  switch (tag) {
    case "DeadlineExceeded":
      return "transient"
    case "InvalidInput":
    case "Unsupported":
    case "UnknownErrno":
    case "NetAddressError":
      return "permanent"
    // A name that does not resolve yet may be registered soon (a service starting, DNS
    // propagating): `effect/net`'s DnsError is worth waiting for.
    case "DnsError":
      return "transient"
    // A server that answered "not yet" (starting, loading) or "never for you" (refused): the
    // probe that read its answer knows which.
    case "NotReady":
      return Predicate.hasProperty(error, "retryClass") &&
        (error.retryClass === "transient" || error.retryClass === "permanent")
        ? error.retryClass
        : "permanent"
    case "AllAttemptsFailed": {
      const attempts = Predicate.hasProperty(error, "attempts") && Array.isArray(error.attempts) ? error.attempts : []
      return attempts.some((attempt: { readonly error: unknown }) => classify(attempt.error) === "transient")
        ? "transient"
        : "permanent"
    }
    case "SocketError": {
      const reason = Predicate.hasProperty(error, "reason") ? error.reason : undefined
      if (tagOf(reason) === "SocketCloseError") return "transient"
      return Predicate.hasProperty(reason, "cause") ? classify(reason.cause) : undefined
    }
    default:
      return undefined
  }
}

/**
 * Whether retrying can help. A type guard: it narrows a union of errors to the transient ones.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@dial/core"
 *
 * const describe = (e: import("@dial/core").SocketHandle.ConnectFailure) =>
 *   Retry.isTransient(e) ? `worth retrying: ${e._tag}` : `give up: ${e._tag}`
 *
 * // As `Effect.retry`'s `while` with no schedule or `times`, the arrow form also drops the
 * // transient errors from the error type left (TypeScript infers the narrowed predicate).
 * declare const connect: Effect.Effect<void, import("@dial/core").SocketHandle.ConnectFailure>
 * const untilNotTransient = connect.pipe(Effect.retry({ while: (e) => Retry.isTransient(e) }))
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const isTransient = (error: unknown): error is Transient => classify(error) === "transient"

/**
 * Whether the error is configuration or programming: retrying cannot help.
 *
 * @example
 * ```ts
 * import { ConnectError, Retry } from "@dial/core"
 *
 * Retry.isPermanent(ConnectError.make("EPROTOTYPE")) // true
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const isPermanent = (error: unknown): error is Permanent => classify(error) === "permanent"

/**
 * Whether the error is about the handle's state (EALREADY, EISCONN, EINPROGRESS, ENOTCONN).
 *
 * @example
 * ```ts
 * import { ConnectError, Retry } from "@dial/core"
 *
 * Retry.isState(ConnectError.make("EALREADY")) // true
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const isState = (error: unknown): error is State => classify(error) === "state"

/**
 * Options of {@link backoff}. Every bound is optional; the defaults suit a client waiting for a
 * server to start.
 *
 * Each option is checked once, when {@link backoff} is called: `base` is a finite, non-negative
 * duration; `cap` and `maxElapsed` are non-negative durations (infinity allowed: no cap, no time
 * bound); `factor` is a finite number of at least 1 (a backoff never shrinks); `maxAttempts` is
 * a non-negative integer or `Infinity`; `jitter` is a boolean. A duration string is at most
 * {@link InvalidInput.maxDurationLength} characters.
 *
 * @example
 * ```ts
 * import type { Retry } from "@dial/core"
 *
 * const options: Retry.BackoffOptions = { base: "50 millis", cap: "2 seconds", maxAttempts: 20 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface BackoffOptions {
  /** The first delay. Default 100 ms. */
  readonly base?: Duration.Input | undefined
  /** The growth per retry, at least 1. Default 2. */
  readonly factor?: number | undefined
  /** No delay is longer than this. Default 5 s. */
  readonly cap?: Duration.Input | undefined
  /** Retries at most this many times (`Infinity`: no bound). Default 10. */
  readonly maxAttempts?: number | undefined
  /** Stops retrying once this much time has passed since the first retry. Default none. */
  readonly maxElapsed?: Duration.Input | undefined
  /** Spreads each delay over 80%..120% (never past `cap`) so that clients do not retry in step. Default true. */
  readonly jitter?: boolean | undefined
}

/**
 * The schedule {@link backoff} returns: it outputs each delay, and fails with `InvalidInput`
 * when its options were malformed.
 *
 * @example
 * ```ts
 * import { Retry } from "@dial/core"
 *
 * const schedule: Retry.Backoff = Retry.backoff({ maxAttempts: 3 })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Backoff = Schedule.Schedule<Duration.Duration, unknown, InvalidInput.InvalidInput>

const backoffKeys = ["base", "factor", "cap", "maxAttempts", "maxElapsed", "jitter"] as const

interface CheckedBackoff {
  readonly base: Duration.Duration
  readonly factor: number
  readonly cap: Duration.Duration
  readonly maxAttempts: number
  readonly maxElapsed: Duration.Duration | undefined
  readonly jitter: boolean
}

const defaultBase = Duration.millis(100)
const defaultCap = Duration.seconds(5)

/** The options of {@link backoff}, read once from any value: checked values or the `InvalidInput` naming the option. */
const checkBackoff = (input: unknown): Result.Result<CheckedBackoff, InvalidInput.InvalidInput> =>
  Result.gen(function* () {
    const options = yield* InvalidInput.options("options", input, backoffKeys)
    const durationOf = (key: "base" | "cap" | "maxElapsed", infinite: "allow" | "refuse") => {
      const value = options[key]
      return value === undefined
        ? Result.succeed(undefined)
        : InvalidInput.duration(key, value as Duration.Input, { infinite })
    }
    const base = (yield* durationOf("base", "refuse")) ?? defaultBase
    const cap = (yield* durationOf("cap", "allow")) ?? defaultCap
    const maxElapsed = yield* durationOf("maxElapsed", "allow")
    const factor = options.factor ?? 2
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
      return yield* Result.fail(InvalidInput.make("factor", factor, "expected a finite number of at least 1"))
    }
    const maxAttempts = options.maxAttempts ?? 10
    if (
      typeof maxAttempts !== "number" ||
      !(Number.isSafeInteger(maxAttempts) || maxAttempts === Infinity) ||
      maxAttempts < 0
    ) {
      return yield* Result.fail(
        InvalidInput.make("maxAttempts", maxAttempts, "expected a non-negative integer or Infinity")
      )
    }
    const jitter = options.jitter ?? true
    if (typeof jitter !== "boolean")
      return yield* Result.fail(InvalidInput.make("jitter", jitter, "expected a boolean"))
    // -0 is 0: `Object.is` distinctions have no meaning for a count.
    return { base, factor, cap, maxAttempts: maxAttempts + 0, maxElapsed, jitter }
  })

/**
 * Exponential backoff with jitter and a cap, bounded by attempts and by total time. Runs on
 * Effect's `Clock`, so `TestClock` drives it.
 *
 * **Bad options.** `backoff` never throws. The options are read once, when it is called (a
 * getter runs once; a getter or proxy that throws is refused); malformed ones (see
 * {@link BackoffOptions}) give a schedule that fails with `InvalidInput`, naming the option,
 * as it starts: `Effect.retry` and `Effect.repeat` then fail with it in the error channel before
 * the effect runs even once, so a misconfigured policy is seen on the first run, not on the
 * first failure. That is why the schedule's error type is `InvalidInput`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@dial/core"
 *
 * declare const connect: Effect.Effect<void, import("@dial/core").DialError.DialError>
 * const program = connect.pipe(
 *   Effect.retry({ schedule: Retry.backoff({ maxAttempts: 5 }), while: Retry.isTransient })
 * )
 *
 * // A malformed option is an InvalidInput in the error channel; `connect` never runs.
 * const misconfigured = connect.pipe(Effect.retry({ schedule: Retry.backoff({ factor: Number.NaN }) }))
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const backoff = (options?: BackoffOptions): Backoff => {
  const checked = checkBackoff(options)
  if (Result.isFailure(checked)) {
    return Schedule.fromStep<unknown, Duration.Duration, never, InvalidInput.InvalidInput, never, never>(
      Effect.fail(checked.failure)
    )
  }
  const { base, factor, cap, maxAttempts, maxElapsed, jitter } = checked.success
  const atMostCap = <E>(self: Schedule.Schedule<Duration.Duration, unknown, E>) =>
    Schedule.modifyDelay(self, ({ duration }) => Effect.succeed(Duration.min(duration, cap)))
  const capped = Schedule.exponential(base, factor).pipe(atMostCap)
  // Jitter spreads a delay up to +20%: cap again after it, so that no delay is longer than `cap`
  // while delays at the cap still spread over 80%..100% of it.
  const jittered = jitter ? Schedule.jittered(capped).pipe(atMostCap) : capped
  return jittered.pipe(
    Schedule.upTo(maxElapsed === undefined ? { times: maxAttempts } : { times: maxAttempts, duration: maxElapsed })
  )
}

/**
 * `Effect.retry` options that retry transient failures under {@link backoff} and stop at once
 * on a permanent or state error. Malformed options fail the retry with `InvalidInput` before
 * the first attempt, as {@link backoff} says.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@dial/core"
 *
 * declare const connect: Effect.Effect<void, import("@dial/core").DialError.DialError>
 * const program = connect.pipe(Effect.retry(Retry.transient({ maxElapsed: "10 seconds" })))
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const transient = (
  options?: BackoffOptions
): {
  readonly schedule: Backoff
  readonly while: (error: unknown) => boolean
} => ({ schedule: backoff(options), while: isTransient })
