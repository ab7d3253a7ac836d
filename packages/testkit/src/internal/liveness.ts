/**
 * The kernel's timers that notice a dead peer on an established connection, for the socket
 * options that set them:
 *
 * - `userTimeout` (TCP_USER_TIMEOUT): data written into silence and unacknowledged for that
 *   long aborts the connection;
 * - keepalive (SO_KEEPALIVE with idle, interval and count): after `idle` without hearing the
 *   peer, `count` probes `interval` apart; none answered aborts the connection at
 *   idle + interval * count.
 *
 * Aborted as Linux does it: our reads and writes fail with ETIMEDOUT (or, across a partition
 * with an `errno`, that ICMP error, which Linux reports when it gives up), buffered bytes are
 * lost, the peer hears nothing. The peer is silent while its host vanished (`crash` with
 * `connections: "vanish"`), a `timeout` toxic swallows either direction (the acknowledgements
 * and probe answers are lost too), or a partition separates the two ends. Only connections
 * with these options get a watchdog; the others pay nothing.
 */
import type { Transport } from "@dial/core"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { LiveConnection } from "./kernel.ts"
import type { Aborted } from "./pipe.ts"

/** Linux's defaults: tcp_keepalive_time 7200 s, tcp_keepalive_intvl 75 s, tcp_keepalive_probes 9. */
const defaultIdle = 7_200_000
const defaultInterval = 75_000
const defaultCount = 9

export interface KeepAlive {
  readonly idle: number
  readonly interval: number
  readonly count: number
}

/** What the options ask the kernel to watch, in milliseconds. */
export interface Settings {
  readonly userTimeout: number | undefined
  readonly keepAlive: KeepAlive | undefined
}

/** The watch a TCP connection's options ask for; undefined when none (the usual case). */
export const settingsOf = (options: Transport.SocketOptions): Settings | undefined => {
  const userTimeout =
    options.userTimeoutMillis !== undefined && options.userTimeoutMillis > 0 ? options.userTimeoutMillis : undefined
  const keepAlive: KeepAlive | undefined =
    options.keepAlive === true
      ? {
          // TCP_KEEPIDLE is whole seconds, at least one (as @dial/node sets it).
          idle:
            options.keepAliveInitialDelayMillis === undefined || options.keepAliveInitialDelayMillis === 0
              ? defaultIdle
              : Math.max(1, Math.floor(options.keepAliveInitialDelayMillis / 1000)) * 1000,
          interval:
            options.keepAliveIntervalSeconds === undefined ? defaultInterval : options.keepAliveIntervalSeconds * 1000,
          count: options.keepAliveCount ?? defaultCount
        }
      : undefined
  return userTimeout === undefined && keepAlive === undefined ? undefined : { userTimeout, keepAlive }
}

/** One client connection's user timeout and keepalive. */
export class Watchdog {
  readonly live: LiveConnection
  readonly settings: Settings
  readonly clock: Clock.Clock
  /** When the peer was last heard from (data from it, or our data reaching it). */
  lastHeard: number
  /** A user-timeout timer is running for data written into silence. */
  unacknowledged = false
  fibers: Array<Fiber.Fiber<void>> = []

  constructor(live: LiveConnection, settings: Settings) {
    this.live = live
    this.settings = settings
    this.clock = live.recorder.clock
    this.lastHeard = this.now
  }

  get now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /**
   * Whether nothing we send reaches the peer, or nothing it sends reaches us: the error the
   * kernel would give up with then; undefined while the peer is heard.
   */
  silence(): Aborted | undefined {
    const live = this.live
    if (live.vanished) return "ETIMEDOUT"
    const kernel = live.kernel
    for (const state of kernel.toxics) {
      if (state.toxic.type === "timeout" && state.matches(live.serverAddress)) return "ETIMEDOUT"
    }
    const partition = kernel.partitionBetween(live.clientAddress, live.serverAddress)
    return partition === undefined ? undefined : (partition.errno ?? "ETIMEDOUT")
  }

  /** Starts watching: hooks on the client's writes and deliveries, the keepalive fiber. */
  start(): void {
    const client = this.live.client
    if (this.settings.userTimeout !== undefined) client.onWrite = () => this.written()
    const keepAlive = this.settings.keepAlive
    if (keepAlive === undefined) return
    const heard = () => {
      if (this.silence() === undefined) this.lastHeard = this.now
    }
    client.incoming.onPush = heard
    client.outgoing.onPush = heard
    this.fork(this.keepAlive(keepAlive))
  }

  stop(): void {
    const fibers = this.fibers
    this.fibers = []
    for (const fiber of fibers) fiber.interruptUnsafe()
  }

  fork(effect: Effect.Effect<void>): void {
    const fiber = Effect.runForkWith(this.live.context)(effect)
    this.fibers.push(fiber)
    fiber.addObserver(() => {
      const index = this.fibers.indexOf(fiber)
      if (index !== -1) this.fibers.splice(index, 1)
    })
  }

  /** Data went out: if nothing reaches the peer now, it stays unacknowledged until the user timeout. */
  written(): void {
    const timeout = this.settings.userTimeout!
    if (this.unacknowledged || this.silence() === undefined) return
    this.unacknowledged = true
    this.fork(
      Effect.andThen(
        this.live.kernel.wait(this.clock, timeout),
        Effect.sync(() => {
          this.unacknowledged = false
          // Heard again meanwhile (the toxic removed, the partition healed): retransmitted, acknowledged.
          this.abort(`user timeout ${timeout} ms`)
        })
      )
    )
  }

  /**
   * Waits out the idle time (a plain sleep: a healthy connection's keepalive never ends, so
   * `advanceUntilIdle` does not wait for it), then probes on the network's timers.
   */
  keepAlive(settings: KeepAlive): Effect.Effect<void> {
    const idle: Effect.Effect<void> = Effect.suspend(() => {
      const due = this.lastHeard + settings.idle
      const now = this.now
      return now < due ? Effect.andThen(Effect.sleep(due - now), idle) : probe(0, now)
    })
    const probe = (sent: number, since: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (this.live.client.destroyed) return Effect.void
        // An answer to a probe, or anything heard since the probing began: the peer is alive.
        if (this.lastHeard > since || this.silence() === undefined) {
          this.lastHeard = Math.max(this.lastHeard, this.now)
          return idle
        }
        if (sent === settings.count) {
          this.abort(`keepalive: ${settings.count} probes unanswered`)
          return Effect.void
        }
        return Effect.andThen(this.live.kernel.wait(this.clock, settings.interval), probe(sent + 1, since))
      })
    return idle
  }

  /** Gives up on the connection, if the peer is still silent. */
  abort(why: string): void {
    const live = this.live
    const name = this.silence()
    if (live.client.destroyed || name === undefined) return
    live.recorder.record({
      op: "abort",
      outcome: `${name} (${why})`,
      address: live.serverAddress,
      localAddress: live.clientAddress
    })
    live.client.abort(name)
  }
}
