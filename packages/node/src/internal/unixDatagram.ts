/**
 * Unix datagram endpoints through the native calls (Node has no AF_UNIX SOCK_DGRAM).
 *
 * - The socket is autobound at open (Linux gives it a unique abstract name, `unix:@xxxxx`), so
 *   the peer can answer: an unnamed unix datagram socket can send but never be replied to.
 * - connect(2) on a unix datagram socket completes at once: the kernel answers ENOENT,
 *   ECONNREFUSED (a socket file nobody is bound to), EPROTOTYPE (a stream or seqpacket socket
 *   there) or EACCES synchronously. Connecting to AF_UNSPEC dissolves the association.
 * - `send` never waits: a peer whose receive queue is full is EAGAIN (transient), the kernel's
 *   answer to a non-blocking send, for the caller to retry with a policy. A peer gone is
 *   ECONNREFUSED.
 * - `receive` reads the kernel's queue; only while a receive waits is the descriptor polled on
 *   the main loop. There is no queue of its own: the socket buffer is the queue.
 */
import { ConnectError, SockAddr, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import {
  AF_UNIX,
  EAGAIN,
  errorOf,
  type Native,
  SOCK_DGRAM,
  sockaddrAutobind,
  sockaddrUnix,
  sockaddrUnspec,
  unixPathOf,
  type Watcher
} from "./native.ts"

type Unix = SockAddr.UnixPath | SockAddr.UnixAbstract

/** The address a unix socket is bound to, or `unspec` when it has no name. */
export const unixNameOf = (native: Native, fd: number): SockAddr.SockAddr => {
  const raw = native.getsockname(fd)
  if (typeof raw === "number") return SockAddr.unspec
  const path = unixPathOf(raw)
  if (path === undefined) return SockAddr.unspec
  const parsed = SockAddr.fromSocketPath(path)
  return Result.isSuccess(parsed) ? parsed.success : SockAddr.unspec
}

/** Opens an autobound unix datagram socket. */
export const openUnixDatagram = (
  native: Native
): Effect.Effect<Transport.DatagramEndpoint, ConnectError.ConnectError> =>
  Effect.suspend(() => {
    const fd = native.socket(AF_UNIX, SOCK_DGRAM)
    if (fd < 0) return Effect.fail(errorOf(fd, { syscall: "socket" }))
    const bound = native.bind(fd, sockaddrAutobind, sockaddrAutobind.length)
    if (bound < 0) {
      native.close(fd)
      return Effect.fail(errorOf(bound, { syscall: "bind" }))
    }
    return Effect.succeed(fromDescriptor(native, native.watch(fd), undefined))
  })

/** A unix datagram endpoint over a descriptor (made here, or adopted, maybe connected). */
export const fromDescriptor = (
  native: Native,
  watcher: Watcher,
  connectedTo: Unix | undefined
): Transport.DatagramEndpoint => {
  const fd = watcher.fd
  let peer: Unix | undefined = connectedTo
  let local: SockAddr.SockAddr | undefined
  let closed = false
  const localOf = () => (local ??= unixNameOf(native, fd))
  const context = (syscall: ConnectError.Syscall): ConnectError.Context => ({
    syscall,
    address: peer,
    localAddress: localOf()
  })

  const connect = (address: SockAddr.Inet | Unix) =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(ConnectError.make("EBADF", { address }))
      if (address._tag === "Inet")
        return Effect.fail(ConnectError.make("EAFNOSUPPORT", { address, localAddress: localOf() }))
      const [raw, length] = sockaddrUnix(address)
      const status = native.connect(fd, raw, length)
      if (status < 0) return Effect.fail(errorOf(status, { syscall: "connect", address, localAddress: localOf() }))
      peer = address
      return Effect.succeed({ local: localOf(), peer: address as SockAddr.SockAddr })
    })

  const disconnect = Effect.suspend(() => {
    if (closed) return Effect.void
    const previous = peer
    peer = undefined
    const status = native.connect(fd, sockaddrUnspec, 2)
    return status < 0 ? Effect.fail(errorOf(status, { address: previous, localAddress: localOf() })) : Effect.void
  })

  const send = (data: Uint8Array) =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(ConnectError.make("EBADF", context("send")))
      const sent = native.send(fd, data)
      return sent < 0 ? Effect.fail(errorOf(sent, context("send"))) : Effect.void
    })

  const receive: Effect.Effect<Uint8Array, ConnectError.ConnectError> = Effect.callback((resume) => {
    const attempt = () => {
      if (closed) return resume(Effect.fail(ConnectError.make("EBADF", context("recv"))))
      const got = native.recv(fd)
      if (typeof got !== "number") return resume(Effect.succeed(got.slice()))
      if (got !== -EAGAIN) return resume(Effect.fail(errorOf(got, context("recv"))))
      watcher.waitReadable(onReady)
    }
    const onReady = (status: number) => {
      if (status < 0) resume(Effect.fail(errorOf(status, context("recv"))))
      else attempt()
    }
    attempt()
    return Effect.sync(() => watcher.cancel("read"))
  })

  const close = Effect.sync(() => {
    if (closed) return
    // Read the name while the descriptor is open, for errors raised after the close.
    localOf()
    closed = true
    watcher.close()
  })

  return { connect, disconnect, send, receive, localAddress: Effect.sync(() => (closed ? local : localOf())), close }
}
