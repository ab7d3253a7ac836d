/**
 * Stream connections over `node:net`: one fresh `net.Socket` per attempt.
 *
 * Every path out of an attempt ends with the kernel socket closed before the effect completes:
 * `destroy()` closes the file descriptor at once (libuv's `uv_close` closes it synchronously),
 * so "the scope closed" and "the descriptor is gone" are the same moment. Nothing waits for
 * Node's 'close' event: it only reports that libuv has freed its handle wrapper, which it does
 * in the close phase of the same event-loop turn. Waiting for it cost a suspension per close,
 * and closing N sockets in one scope cost N turns; now it costs none. The one 'error' listener
 * stays attached for the socket's whole life; after the attempt it swallows, so no late event
 * can crash the process (an `effect/socket` reader sees errors through its own listener).
 */
import { type ConnectError, SockAddr, SystemError, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import type * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import { hostOf, localOf } from "./address.ts"
import { type Endpoint, effectSocket } from "./connection.ts"
import { configureConnected, configureConnecting, errorOf, type Native, ownsKeepAlive } from "./native.ts"

type Address = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract

/**
 * A `net.Socket` that keeps what a connection needs after Node has let go of it.
 *
 * - The local address is read (`getsockname`) only when someone asks, which most connections
 *   never do. But a destroy drops the kernel socket and the address with it: when the peer
 *   ends or resets an established connection, which the handle still reports as connected, the
 *   address is kept first. A destroy the handle asked for needs no such copy (the handle has
 *   left Connected by then).
 */
class DialSocket extends Net.Socket {
  established = false
  closedByHandle = false
  kept: { readonly address: string | undefined; readonly port: number | undefined } | undefined = undefined

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.established && !this.closedByHandle && this.kept === undefined) {
      this.kept = { address: this.localAddress, port: this.localPort }
    }
    super._destroy(error, callback)
  }
}

/** Destroys the socket, which closes its descriptor at once; idempotent. */
const closeSocketNow = (socket: DialSocket): void => {
  if (socket.destroyed) return
  socket.closedByHandle = true
  socket.destroy()
}

/** As `closeSocketNow`, for the paths that compose Effects. */
const closeSocket = (socket: DialSocket): Effect.Effect<void> => Effect.sync(() => closeSocketNow(socket))

const connectOptions = (address: Address, options: Transport.SocketOptions): Net.NetConnectOpts => {
  if (address._tag !== "Inet") return { path: SockAddr.socketPath(address) }
  const local = options.local
  if (local === undefined) return { host: hostOf(address), port: address.port }
  return local.port === 0
    ? { host: hostOf(address), port: address.port, localAddress: hostOf(local) }
    : { host: hostOf(address), port: address.port, localAddress: hostOf(local), localPort: local.port }
}

// Half-open, as the kernel is: the peer's FIN ends our reads, not our writes.
const halfOpen: Net.SocketConstructorOpts = { allowHalfOpen: true }

const socketOptions = (address: Address, options: Transport.SocketOptions): Net.SocketConstructorOpts => {
  // Node's keepalive would overwrite an interval or count: then ./native.ts sets it in full.
  const keepAlive = options.keepAlive === true && !ownsKeepAlive(options)
  // TCP_NODELAY and SO_KEEPALIVE mean nothing on a unix socket (Node would try and fail quietly).
  if (address._tag !== "Inet" || (options.noDelay !== true && !keepAlive)) return halfOpen
  return {
    allowHalfOpen: true,
    noDelay: options.noDelay === true,
    keepAlive,
    ...(options.keepAliveInitialDelayMillis === undefined
      ? {}
      : { keepAliveInitialDelay: options.keepAliveInitialDelayMillis })
  }
}

/**
 * The established connection; its local address and `effect/socket` view are built on first
 * use. It is also the data path's endpoint (./connection.ts), which names it in errors. A class:
 * its getters and methods live once on the prototype, not as closures per connection (which a
 * held connection kept), and `close` builds its Effect only when read (the scope's finalizer
 * calls `closeSync`).
 */
class Connection implements Transport.StreamConnection, Endpoint {
  raw: Net.Socket
  closeCode: number | undefined = undefined
  readonly native: DialSocket
  // We connected to this very IP literal and port (or path): the requested address *is* the
  // peer, scope id included, which `remoteAddress` would drop. A unix server has no name Node
  // could report anyway.
  readonly peer: SockAddr.SockAddr
  adapted: Socket.Socket | undefined = undefined

  constructor(socket: DialSocket, address: SockAddr.SockAddr) {
    socket.established = true
    this.raw = socket
    this.native = socket
    this.peer = address
  }

  get closedByHandle(): boolean {
    return this.native.closedByHandle
  }

  // The connection is gone both ways, and not by the handle's close: the handle lets go.
  get closed(): boolean {
    return this.native.destroyed && !this.native.closedByHandle
  }

  // Read once by core's handle, which keeps it.
  get local(): SockAddr.SockAddr {
    const socket = this.native
    const kept = socket.kept
    return kept === undefined
      ? localOf(socket.localAddress, socket.localPort, this.peer)
      : localOf(kept.address, kept.port, this.peer)
  }

  get socket(): Socket.Socket {
    return (this.adapted ??= effectSocket(this))
  }

  get close(): Effect.Effect<void> {
    return closeSocket(this.native)
  }

  closeSync(): void {
    closeSocketNow(this.native)
  }
}

/**
 * The descriptor under Node's socket, or -1 (none yet, or closed). libuv's `uv_fileno`, which
 * Node's stream handles expose as `fd`: the one reach into Node's internals here.
 */
const descriptorOf = (socket: Net.Socket): number =>
  (socket as unknown as { readonly _handle?: { readonly fd?: number } | null })._handle?.fd ?? -1

/**
 * Opens a fresh socket and connects it. Fails once the failed socket is destroyed (its descriptor
 * closed); interruption destroys the socket, and completes as soon as it has.
 *
 * With `native`, the options Node has no setting for are set on its own socket (./native.ts
 * says when each is set, and why that is the same as before connect).
 */
export const connectStream = (
  address: Address,
  options: Transport.SocketOptions,
  /** A socket made natively, with the options only a fresh socket takes. */
  fd?: number,
  /** The native calls, when an option needs them. */
  native?: Native
): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> =>
  Effect.callback((resume) => {
    const constructorOptions = socketOptions(address, options)
    // `manualStart`: Node would start reading a descriptor at once (a wasted epoll registration
    // before connect; a third of the cost of wrapping it). It reads after the connect anyway.
    const socket = new DialSocket(
      fd === undefined
        ? constructorOptions
        : ({ ...constructorOptions, fd, manualStart: true } as Net.SocketConstructorOpts)
    )
    let pending = true
    const fail = (failure: ConnectError.ConnectError) => {
      pending = false
      socket.removeListener("connect", onConnect)
      if (!socket.destroyed) socket.destroy()
      resume(Effect.fail(failure))
    }
    const optionFailed = (status: number) =>
      fail(errorOf(status, { syscall: "socket", address, localAddress: options.local }))
    const onConnect = () => {
      if (native !== undefined) {
        const status = configureConnected(native, descriptorOf(socket), address, options)
        if (status < 0) return optionFailed(status)
      }
      pending = false
      resume(Effect.succeed(new Connection(socket, address)))
    }
    // Attached once, never removed: while the attempt is pending it fails it; afterwards it
    // swallows, so that an error after interruption or after the connect cannot crash anything.
    socket.on("error", (error) => {
      if (!pending) return
      // Node destroyed the socket (closing its descriptor) before it emitted the error.
      fail(SystemError.toConnectError(error, { address, localAddress: options.local }))
    })
    socket.once("connect", onConnect)
    if (native !== undefined && options.userTimeoutMillis !== undefined && address._tag === "Inet") {
      // Emitted just before Node calls connect(2); the microtask runs right after it returned,
      // before any event of this attempt (and long before a SYN is retransmitted).
      socket.once("connectionAttempt", () =>
        queueMicrotask(() => {
          const descriptor = descriptorOf(socket)
          if (!pending || descriptor < 0) return
          const status = configureConnecting(native, descriptor, options)
          if (status < 0) optionFailed(status)
        })
      )
    }
    try {
      socket.connect(connectOptions(address, options))
    } catch (error) {
      // Node validates arguments synchronously; every input here was validated already, but a
      // throw must still become a typed error and leave nothing open.
      pending = false
      socket.removeListener("connect", onConnect)
      const failure = SystemError.toConnectError(error, { address, localAddress: options.local })
      return resume(Effect.andThen(closeSocket(socket), Effect.fail(failure)))
    }
    return Effect.suspend(() => {
      pending = false
      socket.removeListener("connect", onConnect)
      return closeSocket(socket)
    })
  })

/**
 * A connected stream descriptor this process inherited, as a connection: libuv takes it over
 * (`net.Socket({ fd })`). `peer` is what getpeername(2) said (`unspec` for an unnamed unix
 * peer, such as a socketpair's).
 */
export const adoptStream = (fd: number, peer: SockAddr.SockAddr): Transport.StreamConnection => {
  const socket = new DialSocket({ fd, readable: true, writable: true, allowHalfOpen: true })
  // Swallows: an error nobody reads must not crash the process (a reader has its own listener).
  socket.on("error", () => {})
  return new Connection(socket, peer)
}
