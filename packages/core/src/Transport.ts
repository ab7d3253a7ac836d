/**
 * What a platform implements so that `Network.make` can run the socket state machine over it:
 * the raw moves (open a stream connection, open a datagram endpoint, associate it), with no
 * state, deadline or signal handling of their own. `@dial/node` implements it over `node:net`
 * and `node:dgram`; `@dial/testkit` over an in-memory network. Applications never need it.
 *
 * The contract, which both the real and the fake transport keep (the conformance suite checks):
 *
 * - `connectStream` opens a *fresh* kernel socket for every call and fails with the core's
 *   typed errors. When it fails, or when its fiber is interrupted, the socket is already
 *   destroyed and no event from it can reach the process afterwards.
 * - A datagram endpoint is opened for one address family; `connect` is only called while it
 *   is not associated (the state machine disassociates first).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Socket from "effect/socket/Socket"
import type * as ConnectError from "./ConnectError.ts"
import type * as DialError from "./DialError.ts"
import type * as SockAddr from "./SockAddr.ts"

/**
 * The socket types of socket(2): `stream` (TCP, unix stream), `datagram` (UDP, unix datagram),
 * `seqpacket` (unix, message-preserving and connection-based).
 *
 * @example
 * ```ts
 * import type { Transport } from "@dial/core"
 *
 * const type: Transport.SocketType = "stream"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SocketType = "stream" | "datagram" | "seqpacket"

/**
 * Options fixed when a handle is opened; kept across reconnects.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr, type Transport } from "@dial/core"
 *
 * const options: Transport.SocketOptions = {
 *   local: Result.getOrThrow(SockAddr.fromString("127.0.0.1:0")) as SockAddr.Inet,
 *   noDelay: true,
 *   keepAlive: true
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SocketOptions {
  /** Bind to this local address before connecting (port 0: the kernel picks the port). */
  readonly local?: SockAddr.Inet | undefined
  /** SO_KEEPALIVE. Default off. */
  readonly keepAlive?: boolean | undefined
  /** The idle time before the first keepalive probe, in milliseconds. */
  readonly keepAliveInitialDelayMillis?: number | undefined
  /** TCP_NODELAY: send small writes at once. Default off, as the kernel's. */
  readonly noDelay?: boolean | undefined
  /** TCP_USER_TIMEOUT, milliseconds: unacknowledged data for this long aborts with ETIMEDOUT. */
  readonly userTimeoutMillis?: number | undefined
  /** TCP_KEEPINTVL, seconds between keepalive probes. */
  readonly keepAliveIntervalSeconds?: number | undefined
  /** TCP_KEEPCNT, unanswered probes before the connection is dropped. */
  readonly keepAliveCount?: number | undefined
  /** SO_LINGER on, with this many seconds; 0: close resets the connection (RST). */
  readonly lingerSeconds?: number | undefined
  /** SO_MARK (needs CAP_NET_ADMIN). */
  readonly mark?: number | undefined
  /** SO_BINDTODEVICE: the interface name (needs CAP_NET_RAW). */
  readonly bindToDevice?: string | undefined
  /** SO_RCVBUF, bytes asked for (Linux doubles it for its bookkeeping). */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF, bytes asked for (Linux doubles it). */
  readonly sendBufferSize?: number | undefined
}

/**
 * An established stream connection.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Transport } from "@dial/core"
 *
 * const closeIt = (c: Transport.StreamConnection) => c.close
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamConnection {
  /**
   * May be a getter that asks the kernel on first read (most connections never need it); it
   * must answer correctly for as long as the handle reports the connection, even after the
   * peer has closed it.
   */
  readonly local: SockAddr.SockAddr
  readonly peer: SockAddr.SockAddr
  /**
   * The connection as an `effect/socket` `Socket`. Every read and write failure is a
   * `SocketError` whose cause is the core's typed error (syscall `read`, `write` or
   * `shutdown`, both addresses); the peer's clean end is `SocketCloseError` 1000; closing a
   * reader's scope fails its suspended pull (1006) and leaves the connection open.
   */
  readonly socket: Socket.Socket
  /** Destroys the connection. Idempotent. */
  readonly close: Effect.Effect<void>
  /**
   * Destroys the connection now, as `close` does, where that needs nothing asynchronous.
   * Optional: a scope closing many handles calls it (on the connection, as a method) and builds
   * no Effect per handle.
   */
  readonly closeSync?: (() => void) | undefined
  /**
   * True once the connection is gone both ways by the peer or an error (a reset, a `CloseEvent`,
   * the peer's FIN after our own end), not by `close`: the handle then lets it go. May be a getter.
   */
  readonly closed?: boolean | undefined
  /**
   * The platform's own socket object for this connection, for clients that need one (Node: the
   * kernel `net.Socket`). Undefined where the platform has none (the in-memory network).
   */
  readonly native?: unknown
}

/**
 * A datagram socket of one family, associated or not.
 *
 * @example
 * ```ts
 * import type { Transport } from "@dial/core"
 *
 * const send = (e: Transport.DatagramEndpoint, bytes: Uint8Array) => e.send(bytes)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DatagramEndpoint {
  /** Associates with a peer of the endpoint's family. Only called while not associated. */
  readonly connect: (
    address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract
  ) => Effect.Effect<{ readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }, ConnectError.ConnectError>
  /** Dissolves the association (connect to AF_UNSPEC). */
  readonly disconnect: Effect.Effect<void, ConnectError.ConnectError>
  /** Sends one datagram to the associated peer. */
  readonly send: (data: Uint8Array) => Effect.Effect<void, ConnectError.ConnectError>
  /** Waits for the next datagram from the associated peer. */
  readonly receive: Effect.Effect<Uint8Array, ConnectError.ConnectError>
  /** The bound local address, once bound. */
  readonly localAddress: Effect.Effect<SockAddr.SockAddr | undefined>
  /** Closes the socket. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * The platform's raw socket moves.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DialError, type Transport } from "@dial/core"
 *
 * const nothing: Transport.Transport = {
 *   platform: "nowhere",
 *   connectStream: () => Effect.fail(DialError.unsupported("stream sockets", "nowhere")),
 *   openDatagram: () => Effect.fail(DialError.unsupported("datagram sockets", "nowhere"))
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Transport {
  /** A name for messages (`"node"`, `"test"`). */
  readonly platform: string
  /** Opens a fresh socket and connects it. Interruption destroys the socket. */
  readonly connectStream: (request: {
    readonly type: "stream" | "seqpacket"
    readonly address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract
    readonly options: SocketOptions
  }) => Effect.Effect<StreamConnection, ConnectError.ConnectError | DialError.Unsupported>
  /**
   * Takes over a descriptor this process inherited (systemd socket activation, a parent's
   * socketpair), checked by the kernel: it must be an open socket (EBADF, ENOTSOCK) of a
   * family the platform speaks (EAFNOSUPPORT) and of the asked type (EPROTOTYPE); a stream or
   * seqpacket socket must be connected (ENOTCONN). Optional: a platform without it is
   * `Unsupported`.
   */
  readonly adopt?: (request: {
    readonly fd: number
    readonly type: SocketType
  }) => Effect.Effect<Adopted, ConnectError.ConnectError | DialError.Unsupported>
  /** Opens an unassociated datagram socket for the family of `address`. */
  readonly openDatagram: (request: {
    readonly address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract
    readonly options: SocketOptions
  }) => Effect.Effect<DatagramEndpoint, ConnectError.ConnectError | DialError.Unsupported>
}

/**
 * What {@link Transport.adopt} gives: a connected stream, or a datagram endpoint (associated
 * when `peer` is set).
 *
 * @example
 * ```ts
 * import type { Transport } from "@dial/core"
 *
 * const connected = (a: Transport.Adopted) => a._tag === "Stream" || a.peer !== undefined
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Adopted =
  | { readonly _tag: "Stream"; readonly connection: StreamConnection }
  | {
      readonly _tag: "Datagram"
      readonly endpoint: DatagramEndpoint
      /** `"IPv4"`, `"IPv6"` or `"unix"`: the family the endpoint keeps. */
      readonly family: string
      readonly local: SockAddr.SockAddr
      readonly peer: SockAddr.SockAddr | undefined
    }
