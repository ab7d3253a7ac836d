/**
 * A socket handle: a scoped value whose life follows connect(2). It is implemented once, here,
 * over any `Transport`, so the real kernel (`@dial/node`) and the in-memory network
 * (`@dial/testkit`) share one state machine.
 *
 * ```text
 *            connect                 ok
 *   Idle ─────────────▶ Connecting ─────────▶ Connected ──disconnect──▶ Idle
 *    ▲                      │   │ error / deadline        │
 *    │ interrupted          │   ▼                         │ datagram: connect = re-associate,
 *    └──────────────────────┘  Failed ──connect──▶ …      │ connect(unspec) = dissolve
 *                                                         ▼
 *                        scope closes (from any state) ─▶ Closed
 * ```
 *
 * - `connect` while `Connecting` fails with **EALREADY**; on a `Connected` stream with
 *   **EISCONN** (Node itself lets a second connect through once; the handle never does).
 * - After a failure the kernel socket's state is unspecified (connect(2), NOTES): the failed
 *   socket is already destroyed, and the next `connect` opens a fresh one with the same
 *   options. Reuse after failure is the handle's job, not the user's.
 * - A datagram handle may `connect` again to change its peer, and `connect(SockAddr.unspec)`
 *   (or `disconnect`) dissolves the association. Its family is fixed by its first connect: a
 *   peer of the other family fails with **EAFNOSUPPORT** and keeps the association, as the
 *   kernel's would.
 * - `deadline` runs on Effect's `Clock` (so `TestClock` drives it) and fails with
 *   `DeadlineExceeded`, never the kernel's ETIMEDOUT. An aborted `signal` fails with **EINTR**
 *   and leaves the handle ready to connect again. Interrupting the fiber destroys the attempt's
 *   socket and returns the handle to `Idle`.
 * - After the scope closes, every operation fails with **EBADF**.
 * - Bad input (an unparsable address, `unspec` on a stream, a bad deadline) fails with
 *   `InvalidInput` and changes nothing.
 *
 * @since 0.1.0
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type * as ConnectError from "./ConnectError.ts"
import type * as DialError from "./DialError.ts"
import * as internal from "./internal/handle.ts"
import type * as InvalidInput from "./InvalidInput.ts"
import type * as SockAddr from "./SockAddr.ts"
import type * as Transport from "./Transport.ts"

/**
 * Where a handle is in its life.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const describe = (s: SocketHandle.State) =>
 *   s._tag === "Failed" ? `failed: ${s.error._tag}` : s._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type State =
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Connecting"; readonly address: SockAddr.SockAddr }
  | { readonly _tag: "Connected"; readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }
  | { readonly _tag: "Failed"; readonly address: SockAddr.SockAddr; readonly error: ConnectFailure }
  | { readonly _tag: "Closed" }

/**
 * Everything `connect` can fail with.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const tag = (e: SocketHandle.ConnectFailure) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ConnectFailure =
  | ConnectError.ConnectError
  | DialError.DeadlineExceeded
  | DialError.Unsupported
  | InvalidInput.InvalidInput

/**
 * Per-call options of `connect`.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const options: SocketHandle.ConnectOptions = { deadline: "2 seconds", signal: AbortSignal.timeout(5000) }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectOptions {
  /** Give up after this long with `DeadlineExceeded`. Measured on Effect's `Clock`. */
  readonly deadline?: Duration.Input | undefined
  /** Abort from non-Effect code: the connect fails with EINTR. */
  readonly signal?: AbortSignal | undefined
}

/**
 * What every handle can do.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SocketHandle } from "@dial/core"
 *
 * const peerOf = (h: SocketHandle.Handle) => h.peerAddress
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Handle {
  readonly type: Transport.SocketType
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** Connects (a datagram: associates) to an address. See the module docs for the rules. */
  readonly connect: (address: SockAddr.Input, options?: ConnectOptions) => Effect.Effect<void, ConnectFailure>
  /**
   * Ends the connection (stream) or dissolves the association (datagram) and returns to `Idle`.
   * Does nothing when not connected; EALREADY while connecting; EBADF once closed.
   */
  readonly disconnect: Effect.Effect<void, ConnectError.ConnectError>
  /** The local address, once bound. */
  readonly localAddress: Effect.Effect<Option.Option<SockAddr.SockAddr>>
  /** The peer, while connected. */
  readonly peerAddress: Effect.Effect<Option.Option<SockAddr.SockAddr>>
}

/**
 * A connection-based handle (`stream`, `seqpacket`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Socket } from "effect/socket"
 * import type { SocketHandle } from "@dial/core"
 *
 * const greet = (h: SocketHandle.StreamHandle) =>
 *   Effect.gen(function*() {
 *     const socket = yield* h.socket
 *     const writer = yield* socket.writer
 *     yield* writer.write(new TextEncoder().encode("hello"))
 *   }).pipe(Effect.scoped)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamHandle extends Handle {
  readonly type: "stream" | "seqpacket"
  /**
   * The connection as an `effect/socket` `Socket` (channels, RPC, …), under the handle's
   * deadlines. ENOTCONN unless connected. Its failures are `SocketError`s whose cause is the
   * typed error (ECONNRESET, EPIPE, `DeadlineExceeded`…); the peer's clean end is close 1000.
   */
  readonly socket: Effect.Effect<Socket.Socket, ConnectError.ConnectError>
  /** The transport's connection (platform adapters such as `@dial/node`'s `NodeStream` use it). */
  readonly connection: Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError>
  /**
   * The next bytes from the peer, `None` once the peer has ended (its FIN, after everything it
   * sent). Fails with the typed error (ECONNRESET…) or `DeadlineExceeded` (operation `read`).
   */
  readonly read: (
    options?: OperationOptions
  ) => Effect.Effect<Option.Option<NonEmptyReadonlyArray<Uint8Array>>, StreamFailure>
  /** Sends bytes, waiting while the send buffer is full. EPIPE once the write side is gone. */
  readonly write: (data: Uint8Array | string, options?: OperationOptions) => Effect.Effect<void, StreamFailure>
  /** Half-closes (shutdown(SHUT_WR), a FIN): the peer reads an end; we can still read. */
  readonly end: Effect.Effect<void, ConnectError.ConnectError>
  /**
   * Sets the handle's read, write and idle deadlines (see {@link Deadlines}); they apply to
   * this and later connections, to `read`/`write` and to `socket` views taken afterwards.
   */
  readonly setDeadlines: (deadlines: Deadlines) => Effect.Effect<void, InvalidInput.InvalidInput>
}

/**
 * A connection's deadlines, like Go's `SetReadDeadline` / `SetWriteDeadline` renewed before
 * every call, plus an idle timeout. Each is a duration; `Infinity` (or leaving it out of an
 * update) removes it. They run on Effect's `Clock`, so `TestClock` drives them.
 *
 * - `read`: a read (a pull) waits at most this long, then fails with `DeadlineExceeded`
 *   (operation `read`); the connection stays usable.
 * - `write`: a write, with its wait for the send buffer to drain, takes at most this long.
 * - `idle`: when no read or write has completed for this long, the connection is closed and
 *   what waits on it fails with `DeadlineExceeded` (operation `idle`).
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const deadlines: SocketHandle.Deadlines = { read: "5 seconds", write: "5 seconds", idle: "1 minute" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Deadlines {
  readonly read?: Duration.Input | undefined
  readonly write?: Duration.Input | undefined
  readonly idle?: Duration.Input | undefined
}

/**
 * Per-operation options of `read` and `write`: a deadline for this call, in place of the
 * handle's.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const options: SocketHandle.OperationOptions = { deadline: "250 millis" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface OperationOptions {
  readonly deadline?: Duration.Input | undefined
}

/**
 * Everything a connected stream's `read` and `write` can fail with.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * const tag = (e: SocketHandle.StreamFailure) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StreamFailure = ConnectError.ConnectError | DialError.DeadlineExceeded | InvalidInput.InvalidInput

/**
 * A datagram handle: connect to choose the peer, then send and receive.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SocketHandle } from "@dial/core"
 *
 * const ping = (h: SocketHandle.DatagramHandle) =>
 *   Effect.gen(function*() {
 *     yield* h.connect("127.0.0.1:5353")
 *     yield* h.send(new Uint8Array([1]))
 *     return yield* h.receive
 *   })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DatagramHandle extends Handle {
  readonly type: "datagram"
  /** Sends one datagram to the peer. ENOTCONN unless connected. */
  readonly send: (data: Uint8Array) => Effect.Effect<void, ConnectError.ConnectError>
  /**
   * The next datagram from the peer. ENOTCONN unless connected; ECONNREFUSED when the peer's
   * port is closed (the kernel's ICMP port-unreachable).
   */
  readonly receive: Effect.Effect<Uint8Array, ConnectError.ConnectError>
}

/**
 * The handle type of a socket type.
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 *
 * type H = SocketHandle.HandleOf<"datagram"> // DatagramHandle
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type HandleOf<T extends Transport.SocketType> = T extends "datagram" ? DatagramHandle : StreamHandle

/**
 * Runs the state machine over a transport. Platforms call this (through `Network.make`);
 * applications use `Network.open`. Closing the scope closes the handle.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SocketHandle, type Transport } from "@dial/core"
 *
 * declare const transport: Transport.Transport
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const handle = yield* SocketHandle.make(transport, "stream", {})
 *     yield* handle.connect("127.0.0.1:8080", { deadline: "1 second" })
 *   })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <T extends Transport.SocketType>(
  transport: Transport.Transport,
  type: T,
  options: Transport.SocketOptions
) => Effect.Effect<HandleOf<T>, never, Scope.Scope> = internal.make
