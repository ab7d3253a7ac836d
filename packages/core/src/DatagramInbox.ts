/**
 * The receive side of a datagram socket, written once for every platform: the platform pushes
 * what its socket hears (datagrams and asynchronous errors); the inbox owns the queue, the
 * waiting receivers and the pending error. This is the split of Effect's
 * `DatagramSocket.makeFromBackingSocket`.
 *
 * **Details**
 *
 * - The kernel keeps one pending error per socket (`sk_err`: an ICMP port-unreachable becomes
 *   ECONNREFUSED) and reports it on the next call. So does the inbox: an error goes to a waiting
 *   receiver, or is held for the next `receive`, ahead of queued datagrams.
 * - Datagrams that arrive while nobody receives are queued up to `maxQueued` and dropped beyond
 *   it, as a full socket buffer drops them.
 * - `close` fails every waiting and later `receive` with the given error (EBADF on both
 *   platforms) and frees the queue.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ConnectError from "./ConnectError.ts"

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/**
 * A datagram socket's receive buffer. A class with plain fields: it sits on every datagram's path.
 * Generic so that a test's server port can queue datagrams with their sender in the same buffer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DatagramInbox } from "@dial/core"
 *
 * const inbox = DatagramInbox.make()
 * inbox.push(new Uint8Array([1, 2, 3]))
 * const first = inbox.receive // succeeds with [1, 2, 3]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Inbox<A = Uint8Array, E = ConnectError.ConnectError> {
  readonly maxQueued: number
  /** Datagrams nobody has received yet, oldest first. */
  private queue: Array<A> = []
  private readonly receivers: Array<Resume<A, E>> = []
  private pendingError: E | undefined = undefined
  private closedWith: E | undefined = undefined

  constructor(maxQueued: number) {
    this.maxQueued = maxQueued
  }

  /** The platform heard a datagram. Dropped when the inbox is full or closed. */
  push(data: A): void {
    if (this.closedWith !== undefined) return
    const receiver = this.receivers.shift()
    if (receiver !== undefined) receiver(Effect.succeed(data))
    else if (this.queue.length < this.maxQueued) this.queue.push(data)
  }

  /** The platform reported an asynchronous error: to a waiting receiver, else held for the next. */
  fail(error: E): void {
    if (this.closedWith !== undefined) return
    const receiver = this.receivers.shift()
    if (receiver !== undefined) receiver(Effect.fail(error))
    else this.pendingError = error
  }

  /** Drops queued datagrams and the pending error (a re-association starts afresh). */
  forget(): void {
    this.queue.length = 0
    this.pendingError = undefined
  }

  /** Closes the inbox: waiting and later receives fail with `error`. Idempotent. */
  close(error: E): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    this.queue = []
    this.pendingError = undefined
    for (const receiver of this.receivers.splice(0)) receiver(Effect.fail(error))
  }

  /** The number of datagrams waiting to be received. */
  get queued(): number {
    return this.queue.length
  }

  /** The pending error, else the oldest datagram, else waits for either; interruptible. */
  readonly receive: Effect.Effect<A, E> = Effect.callback<A, E>((resume) => {
    if (this.closedWith !== undefined) return resume(Effect.fail(this.closedWith))
    const error = this.pendingError
    if (error !== undefined) {
      this.pendingError = undefined
      return resume(Effect.fail(error))
    }
    const next = this.queue.shift()
    if (next !== undefined) return resume(Effect.succeed(next))
    this.receivers.push(resume)
    return Effect.sync(() => {
      const index = this.receivers.indexOf(resume)
      if (index !== -1) this.receivers.splice(index, 1)
    })
  })
}

/**
 * Makes an inbox holding at most `maxQueued` unreceived datagrams (default 1024).
 *
 * @example
 * ```ts
 * import { DatagramInbox } from "@dial/core"
 *
 * const small = DatagramInbox.make({ maxQueued: 16 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A = Uint8Array, E = ConnectError.ConnectError>(
  options: { readonly maxQueued?: number | undefined } = {}
): Inbox<A, E> => new Inbox(options.maxQueued ?? 1024)
