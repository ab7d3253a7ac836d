/**
 * Datagram endpoints over `node:dgram` (UDP over IPv4 and IPv6).
 *
 * Node reports a connected UDP socket's asynchronous errors (the kernel's ICMP port-unreachable
 * becomes ECONNREFUSED from `recvmsg`) as 'error' events. The kernel keeps one pending error
 * per socket and reports it on the next call. This file only pushes the socket's datagrams
 * and errors into core's `DatagramInbox`, which holds the queue, the waiting receivers and the
 * pending error for both platforms.
 */
import { ConnectError, DatagramInbox, SockAddr, SystemError, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Dgram from "node:dgram"
import { hostOf, localOf } from "./address.ts"

/** Opens a UDP socket of the address's family, bound to `local` when given. */
export const openDatagram = (
  family: "IPv4" | "IPv6",
  options: Transport.SocketOptions
): Effect.Effect<Transport.DatagramEndpoint, ConnectError.ConnectError> =>
  Effect.suspend(() => {
    const endpoint = makeEndpoint(Dgram.createSocket(family === "IPv4" ? "udp4" : "udp6"), options)
    return options.local === undefined ? Effect.succeed(endpoint) : endpoint.bind(options.local)
  })

interface Endpoint extends Transport.DatagramEndpoint {
  readonly bind: (local: SockAddr.Inet) => Effect.Effect<Transport.DatagramEndpoint, ConnectError.ConnectError>
}

const makeEndpoint = (socket: Dgram.Socket, options: Transport.SocketOptions): Endpoint => {
  // What the socket is doing now, for the 'error' listener to route its errors.
  let settle: ((error: unknown) => void) | undefined
  let peer: SockAddr.Inet | undefined
  // The receive buffer is core's: this side only pushes what the socket hears.
  const inbox = DatagramInbox.make()
  let closing = false
  let released = false

  const context = (syscall: ConnectError.Syscall) => ({ syscall, address: peer, localAddress: options.local })

  socket.on("message", (message: Uint8Array) => inbox.push(message))
  socket.on("error", (error) => {
    if (settle !== undefined) return settle(error)
    if (closing) return
    inbox.fail(SystemError.toConnectError(error, context("recv")))
  })
  socket.once("close", () => {
    released = true
  })

  const bind = (local: SockAddr.Inet) =>
    Effect.callback<Transport.DatagramEndpoint, ConnectError.ConnectError>((resume) => {
      const fail = (error: unknown) => {
        settle = undefined
        resume(
          Effect.andThen(
            close,
            Effect.fail(SystemError.toConnectError(error, { syscall: "bind", localAddress: local }))
          )
        )
      }
      settle = fail
      try {
        socket.bind({ address: hostOf(local), port: local.port, exclusive: true }, () => {
          if (settle !== fail) return
          settle = undefined
          resume(Effect.succeed(endpoint))
        })
      } catch (error) {
        fail(error)
        return
      }
      return Effect.suspend(() => {
        settle = undefined
        return close
      })
    })

  const connect = (address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract) =>
    address._tag !== "Inet"
      ? // A UDP socket's family is inet; the state machine never asks, the kernel would refuse.
        Effect.fail(ConnectError.make("EAFNOSUPPORT", { address, localAddress: options.local }))
      : connectInet(address)

  const connectInet = (address: SockAddr.Inet) =>
    Effect.callback<{ readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }, ConnectError.ConnectError>(
      (resume) => {
        // Port 0: Linux accepts it and stays unassociated; node:dgram throws ERR_SOCKET_BAD_PORT,
        // which the catch below reads as EINVAL.
        inbox.forget()
        const fail = (error: unknown) => {
          settle = undefined
          resume(Effect.fail(SystemError.toConnectError(error, { address, localAddress: options.local })))
        }
        settle = fail
        try {
          socket.connect(address.port, hostOf(address), (error?: Error) => {
            if (settle !== fail) return
            if (error) return fail(error)
            settle = undefined
            peer = address
            const bound = socket.address()
            resume(Effect.succeed({ local: localOf(bound.address, bound.port, address), peer: address }))
          })
        } catch (error) {
          fail(error)
          return
        }
        // Node cannot cancel a dgram connect; the state machine closes this endpoint after an
        // interrupted attempt, which stops it.
        return Effect.sync(() => {
          if (settle === fail) settle = undefined
        })
      }
    )

  const disconnect = Effect.suspend(() => {
    inbox.forget()
    const previous = peer
    peer = undefined
    try {
      socket.disconnect()
      return Effect.void
    } catch (error) {
      return Effect.fail(SystemError.toConnectError(error, { address: previous, localAddress: options.local }))
    }
  })

  const send = (data: Uint8Array) =>
    Effect.callback<void, ConnectError.ConnectError>((resume) => {
      const sendContext = context("send")
      try {
        socket.send(data, (error) => {
          resume(error ? Effect.fail(SystemError.toConnectError(error, sendContext)) : Effect.void)
        })
      } catch (error) {
        resume(Effect.fail(SystemError.toConnectError(error, sendContext)))
      }
    })

  const receive = inbox.receive

  const localAddress = Effect.sync((): SockAddr.SockAddr | undefined => {
    if (closing) return undefined
    try {
      const bound = socket.address()
      const parsed = SockAddr.inet(bound.address, bound.port)
      return Result.isSuccess(parsed) ? parsed.success : undefined
    } catch {
      // Not bound yet: Node throws ERR_SOCKET_DGRAM_NOT_RUNNING.
      return undefined
    }
  })

  const close: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (released) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    if (closing) return
    closing = true
    // A bind or connect in flight never hears back from a closed socket (Node drops the
    // callback): fail it now, typed, instead of leaving its fiber waiting forever.
    const pending = settle
    settle = undefined
    pending?.(Object.assign(new Error("the socket was closed"), { code: "EBADF", errno: -9 }))
    // The 'error' listener stays, swallowing: a late error of a closed socket must not crash
    // the process.
    inbox.close(ConnectError.make("EBADF", context("recv")))
    socket.close()
  })

  const endpoint: Endpoint = { bind, connect, disconnect, send, receive, localAddress, close }
  return endpoint
}
