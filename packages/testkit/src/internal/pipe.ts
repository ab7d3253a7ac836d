/**
 * An in-memory stream connection: two directions of byte chunks, each side exposed as an
 * `effect/socket` `Socket` that behaves like `NodeSocket.fromDuplex` over a TCP socket:
 *
 * - a pull returns the buffered chunks; after the peer's FIN (half-close or close) the
 *   buffered chunks are still delivered, then the pull fails with `SocketCloseError` 1000;
 * - a reset discards buffered chunks and fails the pull with a `SocketReadError` whose cause
 *   is ECONNRESET (syscall `read`, both addresses), as the kernel's;
 * - half-open, as the kernel is: the peer's FIN ends our reads, not our writes; a write after
 *   the peer closed is EPIPE, after a reset ECONNRESET, after our own close EBADF;
 * - closing the scope a reader was acquired in fails a suspended pull with `SocketCloseError`
 *   1006 (the `Socket` contract);
 * - releasing the writer half-closes (FIN); writing a `CloseEvent` destroys the connection
 *   (a code above 1000 is an abnormal close, which our reader reports with that code);
 * - a direction holds at most {@link window} bytes the reader has not taken (the kernel's send
 *   and receive buffers between the two ends): a write past it waits until the reader takes
 *   them, so a peer that never reads stalls the writer (and a write deadline can fire);
 * - `abort`: the kernel gave up on a silent peer (a user timeout, keepalive): reads and writes
 *   fail with ETIMEDOUT (or the ICMP errno met meanwhile), and the peer hears nothing.
 *
 * Each write is kept as its own chunk, so a `seqpacket` connection preserves message
 * boundaries with the same code.
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { ConnectError, type SockAddr } from "@dial/core"

type Batch = NonEmptyReadonlyArray<Uint8Array>
type Resume = (effect: Effect.Effect<Batch, Socket.SocketError>) => void

interface Session {
  closed: boolean
}

interface Waiter {
  readonly resume: Resume
  readonly session: Session
}

const closeError = (code: number): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

const writeError = (cause: unknown): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

/** Why a direction is gone; the error is only built when a pull meets it (errors capture stacks). */
type Failure =
  | { readonly _tag: "Closed"; readonly code: number }
  | { readonly _tag: "Reset" }
  /** The kernel gave up on the connection (a user timeout, keepalive): reads and writes fail with it. */
  | { readonly _tag: "Aborted"; readonly name: Aborted }

/**
 * The errnos the kernel ends a silent connection with: ETIMEDOUT, or the ICMP error it met
 * meanwhile (Linux reports the soft error when it gives up).
 */
export type Aborted = "ETIMEDOUT" | "EHOSTUNREACH" | "ENETUNREACH"

const closedCleanly: Failure = { _tag: "Closed", code: 1000 }
const closedAbnormally: Failure = { _tag: "Closed", code: 1006 }
const reset: Failure = { _tag: "Reset" }

/** The addresses a side's errors name, as the reading or writing end sees them. */
export interface Names {
  readonly local: SockAddr.SockAddr
  readonly peer: SockAddr.SockAddr
}

const errorOf = (failure: Failure, names: Names | undefined): Socket.SocketError =>
  failure._tag === "Closed"
    ? closeError(failure.code)
    : new Socket.SocketError({
        reason: new Socket.SocketReadError({
          cause: ConnectError.make(failure._tag === "Reset" ? "ECONNRESET" : failure.name, {
            syscall: "read",
            address: names?.peer,
            localAddress: names?.local
          })
        })
      })

/**
 * Unread bytes a direction holds before a write waits: about what Linux's loopback holds with
 * default buffers (the sender's and the receiver's, autotuned) before a writer blocks.
 */
export const window = 4 * 1024 * 1024

/** Sits between a writer and its direction; delivers later with `push` and `end`. */
export interface Tap {
  readonly write: (chunk: Uint8Array) => void
  readonly end: () => void
}

/**
 * One direction of a connection: what one side writes and the other reads. The arrays are
 * made on first use: most test connections never carry a byte.
 */
export class Direction {
  chunks: Array<Uint8Array> | undefined = undefined
  /** The writer sent FIN: deliver what is buffered, then the clean close. */
  ended = false
  /** The connection is gone: buffered bytes are discarded and every pull fails. */
  failure: Failure | undefined = undefined
  waiters: Array<Waiter> | undefined = undefined
  /**
   * What the writer's bytes and FIN go through before they arrive (the network's toxics);
   * undefined: straight into this direction, the fast path.
   */
  tap: Tap | undefined = undefined
  /** The reading end's addresses, for the errors its reader meets. */
  names: Names | undefined = undefined
  /** Bytes pushed and not taken yet. */
  buffered = 0
  /** Writers waiting for the reader to take what is buffered (made on first use). */
  drains: Array<() => void> | undefined = undefined
  /** Called on each delivery when set (keepalive hears the peer by it); undefined: the fast path. */
  onPush: (() => void) | undefined = undefined

  get open(): boolean {
    return !this.ended && this.failure === undefined
  }

  /** More is buffered than the window: a writer waits for the reader. */
  get full(): boolean {
    return this.buffered > window
  }

  push(chunk: Uint8Array): void {
    if (this.chunks === undefined) this.chunks = [chunk]
    else this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.onPush !== undefined) this.onPush()
    this.wake()
  }

  /** Waits until the reader took what is buffered, or the direction is gone. */
  get drained(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (!this.full || this.failure !== undefined) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      if (this.drains === undefined) this.drains = [wake]
      else this.drains.push(wake)
      return Effect.sync(() => {
        const index = this.drains?.indexOf(wake) ?? -1
        if (index !== -1) this.drains!.splice(index, 1)
      })
    })
  }

  /** The buffer emptied: the waiting writers go on. */
  room(): void {
    this.buffered = 0
    this.wakeDrains()
  }

  /** The waiting writers look again (the buffer emptied, or their side is gone). */
  wakeDrains(): void {
    const drains = this.drains
    if (drains === undefined || drains.length === 0) return
    this.drains = undefined
    for (const wake of drains) wake()
  }

  /** The writer sends a chunk: through the tap when there is one. */
  send(chunk: Uint8Array): void {
    if (this.tap === undefined) this.push(chunk)
    else this.tap.write(chunk)
  }

  /** The writer sends FIN: through the tap when there is one. */
  finish(): void {
    if (this.tap === undefined) this.end()
    else this.tap.end()
  }

  /** An RST arrives: buffered bytes are lost, every pull fails with ECONNRESET. */
  reset(): void {
    this.fail(reset)
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    this.wake()
  }

  fail(failure: Failure): void {
    if (this.failure !== undefined) return
    this.failure = failure
    this.chunks = undefined
    this.room()
    this.wake()
  }

  /** What a pull gets now, or `undefined` when it has to wait. */
  take(): Effect.Effect<Batch, Socket.SocketError> | undefined {
    if (this.failure !== undefined) return Effect.fail(errorOf(this.failure, this.names))
    if (this.chunks !== undefined) {
      const batch = this.chunks as unknown as Batch
      this.chunks = undefined
      this.room()
      return Effect.succeed(batch)
    }
    if (this.ended) return Effect.fail(closeError(1000))
    return undefined
  }

  wait(waiter: Waiter): void {
    if (this.waiters === undefined) this.waiters = [waiter]
    else this.waiters.push(waiter)
  }

  unwait(waiter: Waiter): void {
    const index = this.waiters?.indexOf(waiter) ?? -1
    if (index !== -1) this.waiters!.splice(index, 1)
  }

  wake(): void {
    const waiters = this.waiters
    if (waiters === undefined) return
    while (waiters.length > 0) {
      const result = this.take()
      if (result === undefined) return
      waiters.shift()!.resume(result)
    }
  }

  /** Fails the suspended pulls of a reader whose scope closed. */
  closeSession(session: Session): void {
    session.closed = true
    const waiters = this.waiters
    if (waiters === undefined) return
    const mine = waiters.filter((waiter) => waiter.session === session)
    if (mine.length === 0) return
    this.waiters = waiters.filter((waiter) => waiter.session !== session)
    for (const waiter of mine) waiter.resume(Effect.fail(closeError(1006)))
  }
}

/** One end of a connection. */
export class Side {
  destroyed = false
  writeEnded = false
  /** Closed by the handle's own `close` (a later write is EBADF, and the handle knows). */
  closedByHandle = false
  names: Names | undefined = undefined
  readonly incoming: Direction
  readonly outgoing: Direction
  #socket: Socket.Socket | undefined = undefined
  #close: Effect.Effect<void> | undefined = undefined
  /** Runs once when this side is destroyed (port release, journal). */
  onDestroy: (() => void) | undefined = undefined
  /** Called after each write when set (a user timeout watches by it); undefined: the fast path. */
  onWrite: (() => void) | undefined = undefined

  constructor(incoming: Direction, outgoing: Direction) {
    this.incoming = incoming
    this.outgoing = outgoing
  }

  /** This end as an `effect/socket` `Socket` (made on first use: most test connections never read). */
  get socket(): Socket.Socket {
    return (this.#socket ??= makeSocket(this))
  }

  /** Destroys this end. Idempotent. */
  get close(): Effect.Effect<void> {
    return (this.#close ??= Effect.sync(() => {
      if (!this.destroyed) this.closedByHandle = true
      this.destroy()
    }))
  }

  /**
   * Gone both ways, not by the handle's close: a reset, a `CloseEvent`, a write the peer
   * refused, or the peer's FIN after our own (as Node destroys the kernel socket then). A
   * peer's close(2) alone is a FIN to us: half-open until we write into it.
   */
  get closed(): boolean {
    if (this.closedByHandle) return false
    return this.destroyed || this.incoming.failure?._tag === "Reset" || (!this.incoming.open && this.writeEnded)
  }

  /** Names this end's errors with its addresses. */
  name(names: Names): void {
    this.names = names
    this.incoming.names = names
  }

  /** close(2): our reader ends, the peer reads FIN after what is buffered. */
  destroy(hadError = false, code?: number): void {
    if (this.destroyed) return
    this.destroyed = true
    this.incoming.fail(code !== undefined ? { _tag: "Closed", code } : hadError ? closedAbnormally : closedCleanly)
    if (!this.writeEnded) {
      this.writeEnded = true
      this.outgoing.finish()
    }
    const onDestroy = this.onDestroy
    this.onDestroy = undefined
    onDestroy?.()
  }

  /** An RST: the peer's reader fails with ECONNRESET at once, buffered bytes are lost. */
  reset(): void {
    if (this.destroyed) return
    this.outgoing.fail(reset)
    this.writeEnded = true
    this.destroy(true)
  }

  /**
   * Its host crashed: this end stops existing without a word to the peer (no FIN, no RST).
   * Whatever its software does with it afterwards reaches nobody.
   */
  detach(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.writeEnded = true
    const onDestroy = this.onDestroy
    this.onDestroy = undefined
    onDestroy?.()
  }

  /**
   * The kernel gave up on the connection (a user timeout, keepalive): our reads and writes
   * fail with `name`, buffered bytes are lost, and the peer hears nothing (it is unreachable).
   */
  abort(name: Aborted): void {
    if (this.destroyed) return
    this.incoming.fail({ _tag: "Aborted", name })
    this.destroyed = true
    this.writeEnded = true
    this.outgoing.wakeDrains()
    const onDestroy = this.onDestroy
    this.onDestroy = undefined
    onDestroy?.()
  }

  halfClose(): void {
    if (this.destroyed || this.writeEnded) return
    this.writeEnded = true
    this.outgoing.finish()
  }

  /** Sends one chunk; the error when the connection cannot carry it. */
  write(chunk: Uint8Array): Socket.SocketError | undefined {
    if (this.destroyed || this.writeEnded || !this.outgoing.open) return this.refused()
    // The kernel copies on send: the caller may reuse its buffer.
    this.outgoing.send(chunk.slice())
    if (this.onWrite !== undefined) this.onWrite()
    return undefined
  }

  /** The error of a write the connection cannot carry (now gone both ways). */
  refused(): Socket.SocketError {
    const context = { syscall: "write" as const, address: this.names?.peer, localAddress: this.names?.local }
    if (this.closedByHandle) return writeError(ConnectError.make("EBADF", context))
    // The error that ended the connection says more than EPIPE: the peer's reset, a timeout.
    const failure = this.incoming.failure
    const refused = failure?._tag === "Reset" ? "ECONNRESET" : failure?._tag === "Aborted" ? failure.name : "EPIPE"
    // As the kernel's socket after EPIPE: Node destroys it, and the handle lets it go.
    this.destroy(true)
    return writeError(ConnectError.make(refused, context))
  }

  /** After a write: waits while the direction is full; the error if the connection went meanwhile. */
  get flushed(): Effect.Effect<void, Socket.SocketError> {
    return Effect.andThen(
      this.outgoing.drained,
      Effect.suspend(() =>
        this.outgoing.failure === undefined && !this.destroyed ? Effect.void : Effect.fail(this.refused())
      )
    )
  }
}

const encoder = new TextEncoder()

const makeSocket = (side: Side): Socket.Socket => {
  const reader: Socket.Socket["reader"] = Effect.flatMap(Effect.scope, (scope) => {
    const session: Session = { closed: false }
    const incoming = side.incoming
    const pull = Effect.suspend(() => {
      if (session.closed) return Effect.fail(closeError(1006))
      const now = incoming.take()
      if (now !== undefined) return now
      return Effect.callback<Batch, Socket.SocketError>((resume) => {
        const waiter: Waiter = { resume, session }
        incoming.wait(waiter)
        return Effect.sync(() => incoming.unwait(waiter))
      })
    })
    return Effect.as(
      Scope.addFinalizer(
        scope,
        Effect.sync(() => incoming.closeSession(session))
      ),
      {
        pull,
        upgrade: Socket.SocketUpgradeError.unsupported
      } satisfies Socket.Reader<Uint8Array>
    )
  })

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (Socket.isCloseEvent(chunk)) {
        side.destroy(chunk.code > 1000, chunk.code)
        return Effect.void
      }
      const error = side.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
      if (error !== undefined) return Effect.fail(error)
      return side.outgoing.full ? side.flushed : Effect.void
    })

  const writeAll = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      for (const chunk of chunks) {
        const error = side.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
        if (error !== undefined) return Effect.fail(error)
      }
      return side.outgoing.full ? side.flushed : Effect.void
    })

  const writer: Socket.Socket["writer"] = Effect.acquireRelease(Effect.succeed({ write, writeAll }), () =>
    Effect.sync(() => side.halfClose())
  )

  return Socket.make({ reader, writer })
}

/** A connected pair; `echo` makes the client talk to itself (an echo server with no fiber). */
export const makePair = (echo: boolean): { readonly client: Side; readonly server: Side | undefined } => {
  if (echo) {
    const loop = new Direction()
    return { client: new Side(loop, loop), server: undefined }
  }
  const toServer = new Direction()
  const toClient = new Direction()
  return { client: new Side(toClient, toServer), server: new Side(toServer, toClient) }
}
