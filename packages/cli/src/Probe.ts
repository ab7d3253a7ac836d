/**
 * One connect attempt to a target, as a report: `dial probe`, and each attempt of `dial wait`.
 * Addresses connect directly; `host:port` targets are resolved and raced (Happy Eyeballs).
 *
 * @since 0.1.0
 */
import { Dialer, InvalidInput, Network, Ready, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
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
  readonly type: "stream" | "datagram"
  readonly local?: string | undefined
  /**
   * After connecting, ask the server whether it is ready (`Ready.check`): a not-ready answer
   * is the attempt's error (`NotReady`, transient or permanent as the server's words say).
   */
  readonly ready?: Ready.Probe | undefined
}

/** A probe's own deadline: the attempt's, at most 5 s, so that a silent server is asked again. */
const readyDeadline = (deadline: Duration.Input | undefined): Duration.Duration => {
  const most = Duration.seconds(5)
  if (deadline === undefined) return most
  const given = Duration.fromInput(deadline)
  return Option.isSome(given) ? Duration.min(given.value, most) : most
}

const connectOnce = (target: string, options: Options) =>
  Effect.scoped(
    Effect.gen(function* () {
      const local = options.local
      if (options.type === "datagram") {
        const parsed = SockAddr.fromString(target)
        if (Result.isFailure(parsed)) {
          return yield* InvalidInput.make("target", target, "a datagram probe needs an address, not a host name")
        }
        if (options.ready !== undefined) {
          return yield* InvalidInput.make("ready", Ready.format(options.ready), "readiness probes speak over streams")
        }
        const handle = yield* Network.open("datagram", { local })
        yield* handle.connect(parsed.success, { deadline: options.deadline })
        return { address: parsed.success, local: yield* handle.localAddress, ready: undefined }
      }
      const dialed = yield* Dialer.dial(target, { deadline: options.deadline, local })
      const localAddress = yield* dialed.handle.localAddress
      if (options.ready === undefined) return { address: dialed.address, local: localAddress }
      // The probe's first connection is the one just dialed; a second one (postgres after
      // the server offered TLS) goes to the same address.
      let dialedUsed = false
      const connection = Effect.suspend(() => {
        if (dialedUsed) return Effect.flatMap(Network.connect(dialed.address, { local }), (h) => h.socket)
        dialedUsed = true
        return dialed.handle.socket
      })
      const answer = yield* Ready.check(connection, options.ready, { deadline: readyDeadline(options.deadline) })
      return { address: dialed.address, local: localAddress, ready: answer }
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
      const { address, local, ready } = outcome.success
      return {
        target,
        address: SockAddr.format(address),
        ok: true,
        attempt,
        elapsedMs,
        ...(Option.isSome(local) ? { local: SockAddr.format(local.value) } : {}),
        ...(ready === undefined ? {} : { ready })
      }
    }
    return Report.failure(target, outcome.failure, { attempt, elapsedMs })
  })
