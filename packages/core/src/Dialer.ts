/**
 * Dialing names: `dial("db.internal:5432")` resolves through `effect/net`'s `AddressResolver`
 * and races the addresses per RFC 8305 (Happy Eyeballs v2). It lives in core, over the
 * `Network` service, so the real kernel and `TestNetwork` run the same algorithm.
 *
 * The algorithm, with its defaults:
 *
 * 1. AAAA and A lookups start together. If AAAA answers first, dialing starts at once; if A
 *    answers first, dialing waits up to the *resolution delay* (50 ms) for AAAA. Answers that
 *    arrive later join the addresses not yet tried, in the order of step 2, and start at once
 *    when nothing holds them back (the last attempt's delay passed, or an attempt failed).
 * 2. Addresses are interleaved by family, IPv6 first: `firstAddressFamilyCount` (1) of the
 *    preferred family, then alternating.
 * 3. The first attempt starts; each next one starts when the *connection attempt delay*
 *    (250 ms, clamped to 100 ms .. 2 s) passes, or at once when an attempt fails.
 * 4. The first attempt to connect wins. Every other attempt is interrupted and its socket
 *    closed; the winner's handle lives in the caller's scope.
 * 5. One overall `deadline` bounds the whole dial (`DeadlineExceeded`). When every attempt
 *    fails, `AllAttemptsFailed` carries each attempt's address, typed error, start and end.
 *
 * Every attempt is a span (`dial.attempt`) and a debug log line through Effect's tracer and
 * logger. Node's own `autoSelectFamily` is serial, abandons slow routes, and loses the errors
 * in an `AggregateError`; this dialer keeps them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as AddressResolver from "effect/net/AddressResolver"
import type * as Dns from "effect/net/Dns"
import * as Host from "effect/net/Host"
import type * as NetAddress from "effect/net/NetAddress"
import * as DialError from "./DialError.ts"
import * as InvalidInput from "./InvalidInput.ts"
import * as internalInput from "./internal/input.ts"
import * as Network from "./Network.ts"
import * as SockAddr from "./SockAddr.ts"
import type * as SocketHandle from "./SocketHandle.ts"

/**
 * What to dial: an address, a `host:port` string (or any address string), or an
 * `effect/net` `HostPort`.
 *
 * @example
 * ```ts
 * import type { Dialer } from "@dial/core"
 *
 * const targets: Array<Dialer.Target> = ["db.internal:5432", "[::1]:5432", "unix:/run/pg.sock"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Target = SockAddr.Input | Host.HostPort

/**
 * Options of {@link dial}. Open options (local bind, keepalive, no-delay) apply to every
 * attempt's handle.
 *
 * @example
 * ```ts
 * import type { Dialer } from "@dial/core"
 *
 * const options: Dialer.Options = { deadline: "5 seconds", attemptDelay: "300 millis" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends Network.OpenOptions {
  /** Bounds the whole dial, resolution included. */
  readonly deadline?: Duration.Input | undefined
  /** RFC 8305's connection attempt delay. Default 250 ms; clamped to 100 ms .. 2 s. */
  readonly attemptDelay?: Duration.Input | undefined
  /** How long to wait for AAAA once A has answered. Default 50 ms. */
  readonly resolutionDelay?: Duration.Input | undefined
  /** How many addresses of the preferred family go first. Default 1. */
  readonly firstAddressFamilyCount?: number | undefined
  /** Dial only this family. */
  readonly family?: NetAddress.IpFamily | undefined
  /** Prefer this family first. Default IPv6, as RFC 8305 says. */
  readonly preferredFamily?: NetAddress.IpFamily | undefined
}

/**
 * One attempt in a dial's trace. Times are milliseconds on the `Clock` since the dial began.
 *
 * @example
 * ```ts
 * import type { Dialer } from "@dial/core"
 *
 * const took = (a: Dialer.AttemptTrace) => (a.endedAtMillis ?? a.startedAtMillis) - a.startedAtMillis
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AttemptTrace {
  readonly address: SockAddr.SockAddr
  readonly startedAtMillis: number
  readonly endedAtMillis: number | undefined
  /** `connected` (the winner), `failed` (see `error`), or `cancelled` (lost the race). */
  readonly outcome: "connected" | "failed" | "cancelled"
  readonly error: SocketHandle.ConnectFailure | undefined
}

/**
 * A successful dial: the connected handle, the address that won, and every attempt.
 *
 * @example
 * ```ts
 * import type { Dialer } from "@dial/core"
 *
 * const winner = (d: Dialer.Dialed) => d.address
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Dialed {
  readonly handle: SocketHandle.StreamHandle
  readonly address: SockAddr.SockAddr
  readonly attempts: ReadonlyArray<AttemptTrace>
}

/**
 * Everything {@link dial} can fail with. Resolution errors stay `effect/net`'s own.
 *
 * @example
 * ```ts
 * import type { Dialer } from "@dial/core"
 *
 * const tag = (e: Dialer.DialFailure) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DialFailure =
  | SocketHandle.ConnectFailure
  | DialError.AllAttemptsFailed
  | Dns.DnsError
  | NetAddress.NetAddressError

const clampMillis = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value))

const millisOf = (input: Duration.Input | undefined, fallback: number, field: string) =>
  input === undefined ? Result.succeed(fallback) : Result.map(InvalidInput.duration(field, input), Duration.toMillis)

/**
 * Orders addresses per RFC 8305 section 4: `firstCount` of the preferred family, then
 * alternating families.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Dialer, SockAddr } from "@dial/core"
 *
 * const a = (s: string) => Result.getOrThrow(SockAddr.fromString(s)) as SockAddr.Inet
 * Dialer.interleave([a("[::1]:1"), a("[::2]:1"), a("127.0.0.1:1")], "IPv6", 1).map(String)
 * // ["[::1]:1", "127.0.0.1:1", "[::2]:1"]
 * ```
 *
 * @category ordering
 * @since 0.1.0
 */
export const interleave = (
  addresses: ReadonlyArray<SockAddr.Inet>,
  preferred: NetAddress.IpFamily,
  firstCount: number
): Array<SockAddr.Inet> => {
  const first = addresses.filter((a) => a.family === preferred)
  const second = addresses.filter((a) => a.family !== preferred)
  const out: Array<SockAddr.Inet> = first.splice(0, Math.max(1, firstCount))
  while (first.length > 0 || second.length > 0) {
    const next = second.shift()
    if (next !== undefined) out.push(next)
    const then = first.shift()
    if (then !== undefined) out.push(then)
  }
  return out
}

type Event =
  | { readonly _tag: "Resolved"; readonly addresses: ReadonlyArray<SockAddr.Inet> }
  | { readonly _tag: "ResolveFailed"; readonly error: Dns.DnsError | NetAddress.NetAddressError }
  | { readonly _tag: "AttemptEnded"; readonly index: number; readonly error: SocketHandle.ConnectFailure | undefined }
  | { readonly _tag: "Won" }
  | { readonly _tag: "DelayPassed"; readonly generation: number }

interface MutableAttempt {
  address: SockAddr.SockAddr
  startedAtMillis: number
  endedAtMillis: number | undefined
  outcome: AttemptTrace["outcome"]
  error: SocketHandle.ConnectFailure | undefined
}

/**
 * The longest target string {@link dial} reads, in UTF-16 code units. The longest valid form is
 * a host name (at most 253 characters) with `:65535`, 259 characters; the limit leaves a margin.
 * A longer string is refused before it is parsed.
 *
 * @example
 * ```ts
 * import { Dialer } from "@dial/core"
 *
 * Dialer.maxTargetLength // 512
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxTargetLength = 512

/** A target that needs no resolution, or the host and port to resolve. */
const classify = (target: Target): Result.Result<SockAddr.SockAddr | Host.HostPort, InvalidInput.InvalidInput> => {
  if (typeof target !== "string") {
    return internalInput.guard(
      "target",
      target,
      (): Result.Result<SockAddr.SockAddr | Host.HostPort, InvalidInput.InvalidInput> =>
        Host.isHostPort(target) ? Result.succeed(target) : SockAddr.fromInput(target)
    )
  }
  if (target.length > maxTargetLength) {
    return Result.fail(
      InvalidInput.make("target", target, `a target is at most ${maxTargetLength} characters (got ${target.length})`)
    )
  }
  const direct = SockAddr.fromString(target)
  if (Result.isSuccess(direct)) return direct
  const hostPort = Host.hostPortFromString(target)
  if (Result.isSuccess(hostPort)) return Result.succeed(hostPort.success)
  // Say what is wrong with the form the target was meant to be in.
  const meantAsName = hasLetter(target) && !target.startsWith("unix:") && !target.startsWith("[")
  return Result.fail(
    meantAsName ? InvalidInput.make("target", target, `not a host:port: ${hostPort.failure.message}`) : direct.failure
  )
}

const hasLetter = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) | 0x20
    if (c >= 97 && c <= 122) return true
  }
  return false
}

const optionKeys = [
  "deadline",
  "attemptDelay",
  "resolutionDelay",
  "firstAddressFamilyCount",
  "family",
  "preferredFamily",
  "local",
  "keepAlive",
  "noDelay"
] as const

const isFamily = (u: unknown): u is NetAddress.IpFamily => u === "IPv4" || u === "IPv6"

/**
 * Dials a target: resolves it and races its addresses (Happy Eyeballs v2). The handle lives
 * in the current scope.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AddressResolver, Dns } from "effect/net"
 * import { Dialer } from "@dial/core"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const { address, attempts } = yield* Dialer.dial("db.internal:5432", { deadline: "5 seconds" })
 *     yield* Effect.log(`connected to ${address} after ${attempts.length} attempts`)
 *   })
 * )
 * // Provide Network (NodeNetwork.layer or TestNetwork.layer) and an AddressResolver, e.g. for tests:
 * const resolver = AddressResolver.layer().pipe(
 *   Layer.provide(Dns.layerStatic({ hosts: { "db.internal": ["::1", "127.0.0.1"] } }))
 * )
 * ```
 *
 * @category dialing
 * @since 0.1.0
 */
export const dial = (
  target: Target,
  rawOptions?: Options
): Effect.Effect<Dialed, DialFailure, Network.Network | AddressResolver.AddressResolver | Scope.Scope> =>
  Effect.suspend(() => {
    const classified = classify(target)
    if (Result.isFailure(classified)) return Effect.fail(classified.failure)
    // Read once: every attempt's `open` sees this plain snapshot, never the caller's object.
    const snapshot = InvalidInput.options("options", rawOptions, optionKeys)
    if (Result.isFailure(snapshot)) return Effect.fail(snapshot.failure)
    const options = snapshot.success as Options
    for (const key of ["family", "preferredFamily"] as const) {
      if (options[key] !== undefined && !isFamily(options[key])) {
        return Effect.fail(InvalidInput.make(key, options[key], "expected IPv4 or IPv6"))
      }
    }
    const attemptDelay = millisOf(options.attemptDelay, 250, "attemptDelay")
    const resolutionDelay = millisOf(options.resolutionDelay, 50, "resolutionDelay")
    const deadline = millisOf(options.deadline, Number.POSITIVE_INFINITY, "deadline")
    if (Result.isFailure(attemptDelay)) return Effect.fail(attemptDelay.failure)
    if (Result.isFailure(resolutionDelay)) return Effect.fail(resolutionDelay.failure)
    if (Result.isFailure(deadline)) return Effect.fail(deadline.failure)
    const firstCount = options.firstAddressFamilyCount ?? 1
    if (!Number.isInteger(firstCount) || firstCount < 1) {
      return Effect.fail(InvalidInput.make("firstAddressFamilyCount", firstCount, "expected a positive integer"))
    }
    const settings = {
      attemptDelayMillis: clampMillis(attemptDelay.success, 100, 2000),
      resolutionDelayMillis: resolutionDelay.success,
      firstCount,
      preferred: options.preferredFamily ?? "IPv6"
    }
    const run = SockAddr.isSockAddr(classified.success)
      ? direct(classified.success, options)
      : race(classified.success, settings, options)
    return deadline.success === Number.POSITIVE_INFINITY
      ? run
      : DialError.withDeadline(run, {
          deadline: Duration.millis(deadline.success),
          address: SockAddr.isSockAddr(classified.success) ? classified.success : undefined
        })
  })

/** A target that is already an address: one attempt, its own error. */
const direct = (
  address: SockAddr.SockAddr,
  options: Options
): Effect.Effect<Dialed, DialFailure, Network.Network | Scope.Scope> =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const handle = yield* Network.open("stream", options)
    yield* handle
      .connect(address)
      .pipe(
        Effect.withSpan("dial.attempt", { attributes: { "dial.address": SockAddr.format(address), "dial.index": 0 } })
      )
    const endedAtMillis = (yield* Clock.currentTimeMillis) - startedAt
    return {
      handle,
      address,
      attempts: [{ address, startedAtMillis: 0, endedAtMillis, outcome: "connected", error: undefined }]
    }
  })

const race = (
  target: Host.HostPort,
  settings: {
    readonly attemptDelayMillis: number
    readonly resolutionDelayMillis: number
    readonly firstCount: number
    readonly preferred: NetAddress.IpFamily
  },
  options: Options
): Effect.Effect<Dialed, DialFailure, Network.Network | AddressResolver.AddressResolver | Scope.Scope> =>
  Effect.gen(function* () {
    const network = yield* Network.Network
    const callerScope = yield* Effect.scope
    const startedAt = yield* Clock.currentTimeMillis
    const now = Effect.map(Clock.currentTimeMillis, (t) => t - startedAt)
    // Every fiber this dial forks lives here; closing it interrupts the losers.
    const workScope = yield* Scope.make()
    const events = yield* Queue.unbounded<Event>()
    const attempts: Array<MutableAttempt> = []
    let remaining: Array<SockAddr.SockAddr> = []
    let pendingLookups = 0
    let inFlight = 0
    let generation = 0
    // Whether a newly learned address may start at once: the last attempt's delay has passed,
    // or an attempt failed, with nothing left to try then (RFC 8305 section 5).
    let startNow = false
    let winner:
      | { readonly index: number; readonly handle: SocketHandle.StreamHandle; readonly scope: Scope.Closeable }
      | undefined
    let lookupError: Dns.DnsError | NetAddress.NetAddressError | undefined
    const learned: Array<SockAddr.Inet> = []

    const offer = (event: Event) => Effect.sync(() => Queue.offerUnsafe(events, event))

    const attempt = (index: number, address: SockAddr.SockAddr) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const connect = Effect.gen(function* () {
          const handle = yield* Scope.provide(network.open("stream", options), scope)
          yield* handle.connect(address)
          return handle
        })
        yield* connect.pipe(
          Effect.onExit((exit) => {
            // Runs uninterruptibly: a connected loser can never slip past the claim.
            if (Exit.isSuccess(exit) && winner === undefined) {
              winner = { index, handle: exit.value, scope }
              return offer({ _tag: "Won" })
            }
            return Scope.close(scope, Exit.void)
          }),
          Effect.matchEffect({
            onFailure: (error) => offer({ _tag: "AttemptEnded", index, error }),
            onSuccess: () => offer({ _tag: "AttemptEnded", index, error: undefined })
          }),
          Effect.withSpan("dial.attempt", {
            attributes: { "dial.address": SockAddr.format(address), "dial.index": index }
          })
        )
      })

    const startNext = Effect.gen(function* () {
      const address = remaining.shift()
      if (address === undefined) return false
      const index = attempts.length
      const record: MutableAttempt = {
        address,
        startedAtMillis: yield* now,
        endedAtMillis: undefined,
        outcome: "failed",
        error: undefined
      }
      attempts.push(record)
      inFlight++
      startNow = false
      yield* Effect.logDebug(`dial: attempt ${index + 1} to ${SockAddr.format(address)}`)
      yield* Effect.forkIn(attempt(index, address), workScope)
      const current = ++generation
      yield* Effect.forkIn(
        Effect.andThen(
          Effect.sleep(Duration.millis(settings.attemptDelayMillis)),
          offer({ _tag: "DelayPassed", generation: current })
        ),
        workScope
      )
      return true
    })

    const learn = (addresses: ReadonlyArray<SockAddr.Inet>) => {
      learned.push(...addresses)
      // Later answers join the addresses not yet tried: the order of everything learned, less
      // what was tried, so the families keep alternating where the attempts left off.
      const tried = new Set(attempts.map((a) => SockAddr.format(a.address)))
      remaining = interleave(learned, settings.preferred, settings.firstCount).filter(
        (a) => !tried.has(SockAddr.format(a))
      )
    }

    const fail = Effect.suspend(() =>
      Effect.fail(
        attempts.length === 0 && lookupError !== undefined
          ? lookupError
          : DialError.allAttemptsFailed(
              attempts.flatMap((a) =>
                a.error !== undefined && a.error._tag !== "InvalidInput" && a.error._tag !== "Unsupported"
                  ? [
                      {
                        address: a.address,
                        error: a.error,
                        startedAtMillis: a.startedAtMillis,
                        endedAtMillis: a.endedAtMillis
                      }
                    ]
                  : []
              )
            )
      )
    )

    const loop = Effect.gen(function* () {
      const resolver = yield* AddressResolver.AddressResolver
      const families: ReadonlyArray<NetAddress.IpFamily> =
        options.family === undefined ? ["IPv6", "IPv4"] : [options.family]
      pendingLookups = families.length
      for (const family of families) {
        yield* Effect.forkIn(
          resolver.resolve(target, { family }).pipe(
            Effect.matchEffect({
              onFailure: (error) => offer({ _tag: "ResolveFailed", error }),
              onSuccess: (addresses) =>
                offer({ _tag: "Resolved", addresses: addresses.map((address) => new SockAddr.Inet({ address })) })
            }),
            Effect.withSpan("dial.resolve", { attributes: { "dial.family": family } })
          ),
          workScope
        )
      }
      // Start on the preferred family's answer; on the other family's, give the preferred one
      // the resolution delay to answer too (RFC 8305 section 3).
      while (pendingLookups > 0 && !learned.some((a) => a.family === settings.preferred)) {
        const event: Event | undefined =
          learned.length === 0
            ? yield* Queue.take(events)
            : yield* Effect.timeoutOrElse(Queue.take(events), {
                duration: Duration.millis(settings.resolutionDelayMillis),
                orElse: () => Effect.succeed(undefined)
              })
        if (event === undefined) break
        pendingLookups--
        if (event._tag === "Resolved") learned.push(...event.addresses)
        else if (event._tag === "ResolveFailed") lookupError = event.error
      }
      learn([])
      if (remaining.length === 0) return yield* fail
      yield* startNext
      while (true) {
        const event = yield* Queue.take(events)
        switch (event._tag) {
          case "Won": {
            const won = winner!
            attempts[won.index]!.outcome = "connected"
            attempts[won.index]!.endedAtMillis = yield* now
            return won
          }
          case "Resolved": {
            pendingLookups--
            learn(event.addresses)
            if (inFlight === 0 || startNow) yield* startNext
            break
          }
          case "ResolveFailed": {
            pendingLookups--
            lookupError ??= event.error
            break
          }
          case "DelayPassed": {
            if (event.generation === generation) {
              startNow = true
              yield* startNext
            }
            break
          }
          case "AttemptEnded": {
            inFlight--
            const record = attempts[event.index]!
            record.endedAtMillis = yield* now
            record.error = event.error
            // A failure starts the next attempt at once (RFC 8305 section 5).
            if (event.error !== undefined) {
              startNow = true
              yield* startNext
            }
            break
          }
        }
        if (winner === undefined && inFlight === 0 && remaining.length === 0 && pendingLookups === 0) {
          return yield* fail
        }
      }
    })

    const won = yield* loop.pipe(
      Effect.ensuring(
        Effect.gen(function* () {
          const endedAt = yield* now
          for (const a of attempts) {
            if (a.outcome !== "connected" && a.endedAtMillis === undefined) {
              a.outcome = "cancelled"
              a.endedAtMillis = endedAt
            }
          }
          yield* Scope.close(workScope, Exit.void)
        })
      ),
      Effect.onInterrupt(() =>
        Effect.suspend(() => (winner === undefined ? Effect.void : Scope.close(winner.scope, Exit.void)))
      )
    )
    yield* Scope.addFinalizer(callerScope, Scope.close(won.scope, Exit.void))
    return {
      handle: won.handle,
      address: attempts[won.index]!.address,
      attempts: attempts.map((trace) => ({ ...trace }))
    }
  })
