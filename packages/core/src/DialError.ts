/**
 * The library's own errors, apart from the kernel's: a deadline that expired (never confused
 * with the kernel's ETIMEDOUT), an operation the platform cannot do, and a multi-address dial
 * in which every attempt failed. `InvalidInput` lives in its own module; `DialError` is the
 * union of everything a connect or a dial can fail with.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as ConnectError from "./ConnectError.ts"
import * as InvalidInput from "./InvalidInput.ts"
import * as SockAddr from "./SockAddr.ts"

/**
 * The caller's deadline passed before the connect completed. The attempt was aborted and its
 * socket destroyed. Unlike the kernel's `ETIMEDOUT` (the kernel gave up on the handshake), this
 * is the application's own limit.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DialError } from "@dial/core"
 *
 * const slow = Effect.fail(DialError.deadlineExceeded({ deadline: "2 seconds" }))
 * const handled = slow.pipe(Effect.catchTag("DeadlineExceeded", (e) => Effect.succeed(e.deadlineMillis)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", {
  /** The deadline that passed, in milliseconds. */
  deadlineMillis: Schema.Number,
  /**
   * What it limited: `connect` (absent on errors from before connections had deadlines), or a
   * connection's `read`, `write` or `idle` deadline.
   */
  operation: Schema.optional(Schema.Literals(["connect", "read", "write", "idle"])),
  address: Schema.optional(SockAddr.schema),
  localAddress: Schema.optional(SockAddr.schema),
  message: Schema.String
}) {}

/**
 * Builds a {@link DeadlineExceeded}.
 *
 * @example
 * ```ts
 * import { DialError } from "@dial/core"
 *
 * DialError.deadlineExceeded({ deadline: "500 millis" }).message // "deadline of 500ms exceeded"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const deadlineExceeded = (options: {
  readonly deadline: Duration.Input
  readonly address?: SockAddr.SockAddr | undefined
  readonly localAddress?: SockAddr.SockAddr | undefined
  readonly operation?: "connect" | "read" | "write" | "idle" | undefined
}): DeadlineExceeded => {
  const deadlineMillis = Duration.toMillis(Duration.fromInputUnsafe(options.deadline))
  const operation = options.operation
  const on = options.address === undefined ? "" : SockAddr.format(options.address)
  const onConnection = operation !== undefined && operation !== "connect"
  const to = on === "" ? "" : onConnection ? ` on the connection to ${on}` : ` connecting to ${on}`
  const what = onConnection ? `${operation} deadline` : "deadline"
  return new DeadlineExceeded({
    deadlineMillis,
    ...(operation === undefined ? {} : { operation }),
    ...(options.address === undefined ? {} : { address: options.address }),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    message: `${what} of ${deadlineMillis}ms exceeded${to}`
  })
}

/**
 * Runs `effect` under a deadline on Effect's `Clock`: when it passes, the effect is interrupted
 * (its finalizers run) and fails with {@link DeadlineExceeded}, never the kernel's ETIMEDOUT.
 * A malformed option (a deadline that is not a non-negative duration, an `address` that is not
 * an address, an unknown `operation`) or an `effect` that is not an Effect is `InvalidInput`;
 * an infinite deadline never passes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DialError } from "@dial/core"
 *
 * const slow = DialError.withDeadline(Effect.never, { deadline: "1 second" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDeadline = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: {
    readonly deadline: Duration.Input
    readonly address?: SockAddr.SockAddr | undefined
    readonly localAddress?: SockAddr.SockAddr | undefined
    readonly operation?: "connect" | "read" | "write" | "idle" | undefined
  }
): Effect.Effect<A, E | DeadlineExceeded | InvalidInput.InvalidInput, R> =>
  Effect.suspend((): Effect.Effect<A, E | DeadlineExceeded | InvalidInput.InvalidInput, R> => {
    // Total: the options are read once; a bad one is InvalidInput, not a throw.
    const read = InvalidInput.options("options", options, ["deadline", "address", "localAddress", "operation"])
    if (Result.isFailure(read)) return Effect.fail(read.failure)
    const { deadline: rawDeadline, address, localAddress, operation } = read.success
    const deadline = InvalidInput.duration("deadline", rawDeadline as Duration.Input, { infinite: "allow" })
    if (Result.isFailure(deadline)) return Effect.fail(deadline.failure)
    for (const [field, value] of [
      ["address", address],
      ["localAddress", localAddress]
    ] as const) {
      if (value !== undefined && !SockAddr.isSockAddr(value)) {
        return Effect.fail(InvalidInput.make(field, value, "expected an address"))
      }
    }
    if (operation !== undefined && !operations.includes(operation as never)) {
      return Effect.fail(InvalidInput.make("operation", operation, "expected connect, read, write or idle"))
    }
    if (!isEffect(effect)) return Effect.fail(InvalidInput.make("effect", effect, "expected an Effect"))
    const checked = { ...(read.success as typeof options), deadline: deadline.success }
    return Effect.timeoutOrElse(effect, {
      duration: deadline.success,
      orElse: () => Effect.fail(deadlineExceeded(checked))
    })
  })

const operations = ["connect", "read", "write", "idle"] as const

const isEffect = (u: unknown): boolean => {
  try {
    return Effect.isEffect(u)
  } catch {
    return false
  }
}

/**
 * The platform cannot do this: SOCK_SEQPACKET, or a unix datagram socket, on Node. Nothing was
 * opened.
 *
 * @example
 * ```ts
 * import { DialError } from "@dial/core"
 *
 * const error = DialError.unsupported("seqpacket sockets", "node")
 * error.message // "seqpacket sockets is not supported on node"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class Unsupported extends Schema.TaggedError<Unsupported>()("Unsupported", {
  operation: Schema.String,
  platform: Schema.String,
  message: Schema.String
}) {}

/**
 * Builds an {@link Unsupported}.
 *
 * @example
 * ```ts
 * import { DialError } from "@dial/core"
 *
 * DialError.unsupported("unix datagram sockets", "node").platform // "node"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unsupported = (operation: string, platform: string): Unsupported =>
  new Unsupported({ operation, platform, message: `${operation} is not supported on ${platform}` })

/**
 * One attempt of a multi-address dial: where it went, how it failed, and when (milliseconds on
 * the `Clock`, since the dial started; absent when the runtime did not say).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DialError } from "@dial/core"
 *
 * const Attempts = Schema.Array(DialError.Attempt)
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Attempt = Schema.Struct({
  address: SockAddr.schema,
  error: Schema.Union([ConnectError.schema, DeadlineExceeded]),
  startedAtMillis: Schema.optional(Schema.Number),
  endedAtMillis: Schema.optional(Schema.Number)
})

/**
 * @example
 * ```ts
 * import type { DialError } from "@dial/core"
 *
 * const ended = (a: DialError.Attempt) => a.endedAtMillis
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Attempt = typeof Attempt.Type

/**
 * Every address of a dial was tried and every attempt failed. `attempts` keeps each one's
 * typed error and timing, in the order they started.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DialError } from "@dial/core"
 *
 * const report = (e: DialError.AllAttemptsFailed) => e.attempts.map((a) => a.error._tag)
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AllAttemptsFailed extends Schema.TaggedError<AllAttemptsFailed>()("AllAttemptsFailed", {
  attempts: Schema.Array(Attempt),
  message: Schema.String
}) {}

/**
 * Builds an {@link AllAttemptsFailed} whose message lists each attempt.
 *
 * @example
 * ```ts
 * import { ConnectError, DialError, SockAddr } from "@dial/core"
 *
 * const error = DialError.allAttemptsFailed([
 *   { address: SockAddr.unspec, error: ConnectError.make("ENETUNREACH") }
 * ])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const allAttemptsFailed = (attempts: ReadonlyArray<Attempt>): AllAttemptsFailed =>
  new AllAttemptsFailed({
    attempts,
    message:
      attempts.length === 0
        ? "no address to try"
        : `all ${attempts.length} attempts failed: ${attempts
            .map((a) => `${SockAddr.format(a.address)} ${a.error._tag}`)
            .join(", ")}`
  })

/**
 * Everything a connect or a dial can fail with.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { DialError } from "@dial/core"
 *
 * const tagOf = (e: DialError.DialError) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DialError =
  | ConnectError.ConnectError
  | DeadlineExceeded
  | InvalidInput.InvalidInput
  | Unsupported
  | AllAttemptsFailed
