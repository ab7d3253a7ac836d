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
import { InvalidInput, type Network, type Ready, Retry } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import type * as AddressResolver from "effect/net/AddressResolver"
// `Result` is this module's own type (the final reports).
import * as Res from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Checks from "./internal/options.ts"
import * as Total from "./internal/total.ts"
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
  /** Wait until the server is ready, not just listening (see `Ready`): a transient `NotReady` is retried. */
  readonly ready?: Ready.Probe | undefined
  /** The longest pause between attempts. Default 40 ms. */
  readonly maxDelay?: Duration.Input | undefined
  /** Called with every attempt's report, as it happens; an Effect it returns runs before the next attempt. */
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

/** Runs the caller's `onAttempt`: its result when it is an Effect; any other result is ignored. */
const observe = (onAttempt: Options["onAttempt"], report: Report.AttemptReport): Effect.Effect<void> =>
  Effect.suspend(() => {
    const result: unknown = onAttempt(report)
    return Effect.isEffect(result) ? Effect.asVoid(result as Effect.Effect<unknown>) : Effect.void
  })

/** Waits for one target; returns its final report. Fails (to stop the others) on a permanent error. */
const waitOne = (target: string, options: Options, startedAt: number, deadlineAt: number, maxDelayMillis: number) =>
  Effect.gen(function* () {
    // Core's backoff (jittered, capped), never more attempts than time allows: the deadline ends the loop.
    const step = yield* Schedule.toStep(
      Retry.backoff({
        base: Duration.millis(baseDelayMillis),
        cap: Duration.millis(maxDelayMillis),
        maxAttempts: Infinity
      })
    )
    let attempt = 0
    while (true) {
      attempt++
      const remaining = deadlineAt - (yield* Clock.currentTimeMillis)
      const report = yield* Probe.probe(
        target,
        {
          type: options.type,
          local: options.local,
          ready: options.ready,
          // With no timeout at all, an attempt takes as long as the kernel lets it.
          deadline: Number.isFinite(remaining) ? Duration.millis(Math.max(1, remaining)) : undefined
        },
        attempt,
        startedAt
      )
      yield* observe(options.onAttempt, report)
      if (report.ok) return report
      if (report.error!.class !== "transient") return yield* Effect.fail(report)
      const now = yield* Clock.currentTimeMillis
      if (now >= deadlineAt) return report
      // The step fails with `InvalidInput` only for options that `check` has already refused,
      // and is never done (no attempt bound): both stay typed, neither becomes a defect.
      const next = yield* Pull.catchDone(step(now, undefined), () => Effect.succeed(undefined))
      if (next === undefined) return report
      const [, delay] = next
      const pause = Math.min(Duration.toMillis(delay), deadlineAt - now)
      if (pause > 0) yield* Effect.sleep(Duration.millis(pause))
    }
  })

/** Targets waited for together at most; more is a mistake, not a wait. */
export const maxTargets = 1024

interface Checked {
  readonly targets: ReadonlyArray<string>
  readonly options: Options
  readonly timeoutMillis: number
  readonly maxDelayMillis: number
}

/** The arguments of {@link wait}, from any values: checked options or the `InvalidInput`. */
const check = (targets: unknown, options: unknown): Res.Result<Checked, InvalidInput.InvalidInput> =>
  Res.gen(function* () {
    const list = Total.attempt(
      () => (Array.isArray(targets) ? Array.from(targets as ReadonlyArray<unknown>) : undefined),
      () => undefined
    )
    if (list === undefined)
      return yield* Res.fail(InvalidInput.make("targets", targets, "expected an array of strings"))
    if (list.length > maxTargets)
      return yield* Res.fail(InvalidInput.make("targets", list.length, `more than ${maxTargets} targets`))
    const bad = list.findIndex((target) => typeof target !== "string")
    if (bad !== -1) return yield* Res.fail(InvalidInput.make(`targets[${bad}]`, list[bad], "expected a string"))
    const record = yield* Checks.record(options)
    const common = yield* Checks.common(record)
    const timeout = yield* Checks.duration(record, "timeout", "allow")
    if (timeout === undefined) return yield* Res.fail(InvalidInput.make("timeout", undefined, "expected a duration"))
    const maxDelay = yield* Checks.duration(record, "maxDelay", "refuse")
    const onAttempt = Total.field(record, "onAttempt")
    if (typeof onAttempt !== "function")
      return yield* Res.fail(InvalidInput.make("onAttempt", onAttempt, "expected a function"))
    return {
      targets: list as ReadonlyArray<string>,
      options: { ...common, timeout, onAttempt: onAttempt as Options["onAttempt"] },
      timeoutMillis: Duration.toMillis(timeout),
      maxDelayMillis: Math.max(baseDelayMillis, maxDelay === undefined ? 40 : Duration.toMillis(maxDelay))
    }
  })

/**
 * Waits for every target: every target ends with a final report. Fails only on bad input,
 * with `InvalidInput`, before any connect: `targets` not an array of at most {@link maxTargets}
 * strings, a malformed `timeout` (any non-negative duration, infinity included) or `maxDelay`
 * (finite), a `type` other than stream or datagram, a non-string `local`, an `onAttempt` that is
 * not a function. A bad target itself is that target's final report (`InvalidInput`).
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
  targetsInput: ReadonlyArray<string>,
  optionsInput: Options
): Effect.Effect<Result, InvalidInput.InvalidInput, Network.Network | AddressResolver.AddressResolver> =>
  Effect.gen(function* () {
    const checked = yield* Effect.fromResult(check(targetsInput, optionsInput))
    const { targets, options, timeoutMillis, maxDelayMillis } = checked
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
    if (outcome._tag === "Failure") {
      const failure = outcome.failure
      if (failure instanceof InvalidInput.InvalidInput) return yield* Effect.fail(failure)
      finals.set(failure.target, failure)
    }
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
