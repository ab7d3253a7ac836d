/**
 * SOCK_SEQPACKET connections through the native calls (Node has none): connection-based like
 * a stream, message-preserving like a datagram.
 *
 * - connect(2) on a unix socket does not wait for the server to accept: it completes at once
 *   (or fails with ENOENT, ECONNREFUSED, EPROTOTYPE, EACCES, or EAGAIN when the listener's
 *   backlog is full). An EINPROGRESS would be waited out on the main loop, as for TCP.
 * - As an `effect/socket` `Socket`: each write is one message; each `pull` gives the messages
 *   waiting, one array element per message, boundaries kept. A zero-length read is the end
 *   (the peer shut down or closed; a zero-length message cannot be told apart from it, as in
 *   every seqpacket API), reported as `SocketCloseError` 1000. Writing a `CloseEvent`, or
 *   releasing the writer scope, half-closes (shutdown SHUT_WR): the peer reads its end and
 *   can still answer.
 * - Read and write errors are `SocketError`s whose cause is the errno error (ECONNRESET, EPIPE…).
 */
import { type ConnectError, SockAddr, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import {
  AF_UNIX,
  EAGAIN,
  errorOf,
  type Native,
  SHUT_WR,
  SOCK_SEQPACKET,
  SO_ERROR,
  SOL_SOCKET,
  sockaddrUnix,
  type Watcher
} from "./native.ts"
import { unixNameOf } from "./unixDatagram.ts"

type Unix = SockAddr.UnixPath | SockAddr.UnixAbstract

const EINPROGRESS = 115
/** Messages taken per `pull` at most, so a busy peer cannot starve the fiber scheduler. */
const batch = 64

/** Opens a seqpacket socket and connects it. Interruption closes it. */
export const connectSeqpacket = (
  native: Native,
  address: Unix
): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> =>
  Effect.suspend(() => {
    const fd = native.socket(AF_UNIX, SOCK_SEQPACKET)
    if (fd < 0) return Effect.fail(errorOf(fd, { syscall: "socket", address }))
    const watcher = native.watch(fd)
    const [raw, length] = sockaddrUnix(address)
    const status = native.connect(fd, raw, length)
    if (status === 0) return Effect.succeed(connection(native, watcher, address))
    if (status !== -EINPROGRESS) {
      watcher.close()
      return Effect.fail(errorOf(status, { address }))
    }
    return Effect.callback<Transport.StreamConnection, ConnectError.ConnectError>((resume) => {
      watcher.waitWritable((polled) => {
        const result = polled < 0 ? polled : -native.getsockoptInt(fd, SOL_SOCKET, SO_ERROR)
        if (result === 0) return resume(Effect.succeed(connection(native, watcher, address)))
        watcher.close()
        resume(Effect.fail(errorOf(result, { address })))
      })
      return Effect.sync(() => watcher.close())
    })
  })

const readError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
const writeError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })
const ended = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })
const encoder = new TextEncoder()

/** A connected seqpacket descriptor (made here, or adopted) as a stream connection. */
export const connection = (native: Native, watcher: Watcher, peer: SockAddr.SockAddr): Transport.StreamConnection => {
  const fd = watcher.fd
  let closed = false
  let local: SockAddr.SockAddr | undefined
  const context = (syscall: ConnectError.Syscall): ConnectError.Context => ({
    syscall,
    address: peer,
    localAddress: local
  })

  const pull = Effect.callback<ReadonlyArray<Uint8Array>, Socket.SocketError>((resume) => {
    const attempt = () => {
      if (closed) return resume(Effect.fail(ended))
      const messages: Array<Uint8Array> = []
      while (messages.length < batch) {
        const got = native.recv(fd)
        if (typeof got !== "number") {
          if (got.length === 0) break
          messages.push(got.slice())
          continue
        }
        if (got === -EAGAIN) {
          if (messages.length > 0) break
          return watcher.waitReadable(onReady)
        }
        if (messages.length > 0) break
        return resume(Effect.fail(readError(errorOf(got, context("recv")))))
      }
      resume(messages.length > 0 ? Effect.succeed(messages) : Effect.fail(ended))
    }
    const onReady = (status: number) =>
      status < 0 ? resume(Effect.fail(closed ? ended : readError(errorOf(status, context("recv"))))) : attempt()
    attempt()
    return Effect.sync(() => watcher.cancel("read"))
  })

  const reader: Socket.Reader<Uint8Array> = {
    pull: pull as Effect.Effect<readonly [Uint8Array, ...Array<Uint8Array>], Socket.SocketError>,
    upgrade: () => Effect.fail(readError(new Error("TLS over a seqpacket socket is not supported")))
  }

  const halfClose = Effect.sync(() => {
    if (!closed) native.shutdown(fd, SHUT_WR)
  })

  const sendOne = (message: Uint8Array) =>
    Effect.callback<void, Socket.SocketError>((resume) => {
      const attempt = () => {
        if (closed) return resume(Effect.fail(writeError(errorOf(-9, context("send")))))
        const sent = native.send(fd, message)
        if (sent >= 0) return resume(Effect.void)
        if (sent === -EAGAIN) return watcher.waitWritable(onReady)
        resume(Effect.fail(writeError(errorOf(sent, context("send")))))
      }
      const onReady = (status: number) =>
        status < 0 ? resume(Effect.fail(writeError(errorOf(status, context("send"))))) : attempt()
      attempt()
      return Effect.sync(() => watcher.cancel("write"))
    })

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Socket.isCloseEvent(chunk) ? halfClose : sendOne(typeof chunk === "string" ? encoder.encode(chunk) : chunk)

  const writer: Socket.Writer = {
    write,
    writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true })
  }

  const socket = Socket.make({
    reader: Effect.succeed(reader),
    writer: Effect.as(
      Effect.addFinalizer(() => halfClose),
      writer
    )
  })

  return {
    get local() {
      return (local ??= closed ? SockAddr.unspec : unixNameOf(native, fd))
    },
    peer,
    socket,
    close: Effect.sync(() => {
      if (closed) return
      local ??= unixNameOf(native, fd)
      closed = true
      watcher.close()
    })
  }
}
