/**
 * One connect attempt to a target, as a report: `dial probe`, and each attempt of `dial wait`.
 * Addresses connect directly; `host:port` targets are resolved and raced (Happy Eyeballs).
 *
 * @since 0.1.0
 */
import { Dialer, InvalidInput, Network, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as AddressResolver from "effect/net/AddressResolver"
import * as Report from "./Report.ts"

/**
 * Options of one probe.
 *
 * @example
 * ```ts
 * import type { Probe } from "@dial/cli"
 *
 * const options: Probe.Options = { deadline: "2 seconds", type: "stream" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How long the attempt may take; none: as long as the kernel takes. */
  readonly deadline?: Duration.Input | undefined
  /** `datagram` and `seqpacket` connect an address (no name resolution); `stream` dials. */
  readonly type: "stream" | "datagram" | "seqpacket"
  readonly local?: string | undefined
}

const connectOnce = (target: string, options: Options) =>
  Effect.scoped(
    Effect.gen(function* () {
      const local = options.local
      if (options.type !== "stream") {
        const parsed = SockAddr.fromString(target)
        if (Result.isFailure(parsed)) {
          return yield* InvalidInput.make("target", target, `a ${options.type} probe needs an address, not a host name`)
        }
        const handle = yield* Network.open(options.type, { local })
        yield* handle.connect(parsed.success, { deadline: options.deadline })
        return { address: parsed.success, local: yield* handle.localAddress }
      }
      const dialed = yield* Dialer.dial(target, { deadline: options.deadline, local })
      return { address: dialed.address, local: yield* dialed.handle.localAddress }
    })
  )

/**
 * Connects once and reports how it went. Never fails: a failure is a report with an error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Probe } from "@dial/cli"
 *
 * const report = Probe.probe("127.0.0.1:5432", { deadline: "1 second", type: "stream" }, 1)
 * ```
 *
 * @category probing
 * @since 0.1.0
 */
export const probe = (
  target: string,
  options: Options,
  attempt: number,
  startedAtMillis?: number
): Effect.Effect<Report.AttemptReport, never, Network.Network | AddressResolver.AddressResolver> =>
  Effect.gen(function* () {
    const startedAt = startedAtMillis ?? (yield* Clock.currentTimeMillis)
    const outcome = yield* Effect.result(connectOnce(target, options))
    const elapsedMs = Math.round((yield* Clock.currentTimeMillis) - startedAt)
    if (Result.isSuccess(outcome)) {
      const { address, local } = outcome.success
      return {
        target,
        address: SockAddr.format(address),
        ok: true,
        attempt,
        elapsedMs,
        ...(Option.isSome(local) ? { local: SockAddr.format(local.value) } : {})
      }
    }
    return Report.failure(target, outcome.failure, { attempt, elapsedMs })
  })
