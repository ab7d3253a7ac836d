/**
 * `dial wait`: retries transient failures with backoff until every target connects or the
 * overall deadline passes. A permanent failure stops everything at once.
 *
 * The backoff is short on purpose (5 ms doubling to at most 40 ms, jittered): refused
 * connects on a local network cost microseconds, and a waiting deploy script wants to know
 * within tens of milliseconds that its database is up.
 *
 * @since 0.1.0
 */
import { InvalidInput, type Network } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as AddressResolver from "effect/net/AddressResolver"
import * as Random from "effect/Random"
import * as Probe from "./Probe.ts"
import * as Report from "./Report.ts"

/**
 * Options of a wait.
 *
 * @example
 * ```ts
 * import type { Wait } from "@dial/cli"
 *
 * const options: Wait.Options = { timeout: "30 seconds", type: "stream", maxDelay: "40 millis" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly timeout: Duration.Input
  readonly type: "stream" | "datagram" | "seqpacket"
  readonly local?: string | undefined
  /** The longest pause between attempts. Default 40 ms. */
  readonly maxDelay?: Duration.Input | undefined
  /** Called with every attempt's report, as it happens. */
  readonly onAttempt: (report: Report.AttemptReport) => Effect.Effect<void>
}

/**
 * Each target's final report, in the order of `targets`.
 *
 * @example
 * ```ts
 * import type { Wait } from "@dial/cli"
 *
 * const allOk = (r: Wait.Result) => r.every((report) => report.ok)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Result = ReadonlyArray<Report.AttemptReport>

const baseDelayMillis = 5

/** Waits for one target; returns its final report. Fails (to stop the others) on a permanent error. */
const waitOne = (target: string, options: Options, startedAt: number, deadlineAt: number, maxDelayMillis: number) =>
  Effect.gen(function* () {
    let attempt = 0
    let delay = baseDelayMillis
    while (true) {
      attempt++
      const remaining = deadlineAt - (yield* Clock.currentTimeMillis)
      const report = yield* Probe.probe(
        target,
        {
          type: options.type,
          local: options.local,
          // With no timeout at all, an attempt takes as long as the kernel lets it.
          deadline: Number.isFinite(remaining) ? Duration.millis(Math.max(1, remaining)) : undefined
        },
        attempt,
        startedAt
      )
      yield* options.onAttempt(report)
      if (report.ok) return report
      if (report.error!.class !== "transient") return yield* Effect.fail(report)
      if ((yield* Clock.currentTimeMillis) >= deadlineAt) return report
      const jitter = 0.8 + 0.4 * (yield* Random.next)
      const pause = Math.min(delay * jitter, deadlineAt - (yield* Clock.currentTimeMillis))
      if (pause > 0) yield* Effect.sleep(Duration.millis(pause))
      delay = Math.min(delay * 2, maxDelayMillis)
    }
  })

/** A duration option in milliseconds, or the typed error for it (never a defect). */
const millisOf = (
  field: string,
  input: Duration.Input,
  infinite: "allow" | "refuse"
): Effect.Effect<number, InvalidInput.InvalidInput> =>
  Effect.map(Effect.fromResult(InvalidInput.duration(field, input, { infinite })), Duration.toMillis)

/**
 * Waits for every target: every target ends with a final report. Fails only on a malformed
 * `timeout` (any non-negative duration, infinity included) or `maxDelay` (finite), with
 * `InvalidInput`, before any connect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Wait } from "@dial/cli"
 *
 * const program = Wait.wait(["127.0.0.1:5432", "unix:/run/app.sock"], {
 *   timeout: "30 seconds",
 *   type: "stream",
 *   onAttempt: () => Effect.void
 * })
 * ```
 *
 * @category waiting
 * @since 0.1.0
 */
export const wait = (
  targets: ReadonlyArray<string>,
  options: Options
): Effect.Effect<Result, InvalidInput.InvalidInput, Network.Network | AddressResolver.AddressResolver> =>
  Effect.gen(function* () {
    const timeoutMillis = yield* millisOf("timeout", options.timeout, "allow")
    const maxDelayMillis = Math.max(
      baseDelayMillis,
      yield* millisOf("maxDelay", options.maxDelay ?? "40 millis", "refuse")
    )
    const startedAt = yield* Clock.currentTimeMillis
    const deadlineAt = startedAt + timeoutMillis
    const finals = new Map<string, Report.AttemptReport>()
    const outcome = yield* Effect.result(
      Effect.forEach(
        targets,
        (target) =>
          waitOne(target, options, startedAt, deadlineAt, maxDelayMillis).pipe(
            Effect.tap((report) => Effect.sync(() => finals.set(target, report)))
          ),
        { concurrency: "unbounded", discard: true }
      )
    )
    if (outcome._tag === "Failure") finals.set(outcome.failure.target, outcome.failure)
    const elapsedMs = Math.round((yield* Clock.currentTimeMillis) - startedAt)
    // Targets stopped by another's permanent failure end as interrupted, not as connected.
    return targets.map(
      (target) =>
        finals.get(target) ??
        Report.failure(
          target,
          { _tag: "Interrupted", message: "stopped: another target failed permanently" },
          { attempt: 0, elapsedMs }
        )
    )
  })
