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
import * as Args from "./internal/args.ts"
import * as Checks from "./internal/options.ts"
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
      const url = Args.urlTarget(target)
      if (url !== undefined) {
        return yield* InvalidInput.make("target", target, url.slice(target.length + 2))
      }
      const local = options.local
      if (options.type !== "stream") {
        const parsed = SockAddr.fromString(target)
        if (Result.isFailure(parsed)) {
          return yield* InvalidInput.make("target", target, `a ${options.type} probe needs an address, not a host name`)
        }
        if (options.ready !== undefined) {
          return yield* InvalidInput.make("ready", Ready.format(options.ready), "readiness probes speak over streams")
        }
        const handle = yield* Network.open(options.type, { local })
        yield* handle.connect(parsed.success, { deadline: options.deadline })
        const associated = options.type === "datagram"
        return { address: parsed.success, local: yield* handle.localAddress, associated, ready: undefined }
      }
      const dialed = yield* Dialer.dial(target, { deadline: options.deadline, local })
      const localAddress = yield* dialed.handle.localAddress
      if (options.ready === undefined) {
        return { address: dialed.address, local: localAddress, associated: false, ready: undefined }
      }
      // The probe's first connection is the one just dialed; a second one (postgres after
      // the server offered TLS) goes to the same address.
      let dialedUsed = false
      const connection = Effect.suspend(() => {
        if (dialedUsed) return Effect.flatMap(Network.connect(dialed.address, { local }), (h) => h.socket)
        dialedUsed = true
        return dialed.handle.socket
      })
      const answer = yield* Ready.check(connection, options.ready, { deadline: readyDeadline(options.deadline) })
      return { address: dialed.address, local: localAddress, associated: false, ready: answer }
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
    const startedAt = typeof startedAtMillis === "number" ? startedAtMillis : yield* Clock.currentTimeMillis
    const checked = check(target, options, attempt, startedAtMillis)
    if (Result.isFailure(checked)) {
      return Report.failure(target, checked.failure, {
        attempt: Number.isSafeInteger(attempt) ? attempt : 0,
        elapsedMs: 0
      })
    }
    const outcome = yield* Effect.result(connectOnce(target, checked.success))
    const elapsedMs = Math.round((yield* Clock.currentTimeMillis) - startedAt)
    if (Result.isSuccess(outcome)) {
      const { address, local, associated, ready } = outcome.success
      return {
        target,
        address: SockAddr.format(address),
        ok: true,
        attempt,
        elapsedMs,
        ...(Option.isSome(local) ? { local: SockAddr.format(local.value) } : {}),
        ...(associated ? { state: "associated" as const } : {}),
        ...(ready === undefined ? {} : { ready })
      }
    }
    return Report.failure(target, outcome.failure, { attempt, elapsedMs })
  })

interface CheckedOptions extends Checks.Checked {
  readonly deadline: Duration.Duration | undefined
}

/**
 * A target longer than this is no address or host:port (a DNS name is at most 253 bytes): it
 * is refused before any parsing. The same limit holds for `local`.
 */
export const maxTargetLength = Checks.maxAddressLength

/** The arguments of {@link probe}, checked: any value gives options or an `InvalidInput`. */
const check = (
  target: unknown,
  options: unknown,
  attempt: unknown,
  startedAtMillis: unknown
): Result.Result<CheckedOptions, InvalidInput.InvalidInput> =>
  Result.gen(function* () {
    if (typeof target !== "string") return yield* Result.fail(InvalidInput.make("target", target, "expected a string"))
    if (target.length > maxTargetLength)
      return yield* Result.fail(
        InvalidInput.make("target", `${target.slice(0, 64)}…`, `longer than ${maxTargetLength} characters`)
      )
    if (!Number.isSafeInteger(attempt) || (attempt as number) < 0)
      return yield* Result.fail(InvalidInput.make("attempt", attempt, "expected a non-negative integer"))
    if (startedAtMillis !== undefined && (typeof startedAtMillis !== "number" || !Number.isFinite(startedAtMillis)))
      return yield* Result.fail(InvalidInput.make("startedAtMillis", startedAtMillis, "expected a finite number"))
    const record = yield* Checks.record(options)
    const common = yield* Checks.common(record)
    const deadline = yield* Checks.duration(record, "deadline", "allow")
    return { ...common, deadline }
  })
