/**
 * Descriptors this process inherited, taken over after the kernel has said what they are.
 * Every check reads (getsockopt, getpeername) before anything is changed: a refused
 * descriptor keeps its flags, and stays open, the caller's.
 */
import { ConnectError, DialError, SockAddr, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  errorOf,
  type Native,
  SO_DOMAIN,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOL_SOCKET,
  unixPathOf
} from "./native.ts"
import * as seqpacket from "./seqpacket.ts"
import { adoptStream } from "./stream.ts"
import { fromDescriptor, unixNameOf } from "./unixDatagram.ts"

const ENOTCONN = 107
const typeNumbers = { stream: SOCK_STREAM, datagram: SOCK_DGRAM, seqpacket: SOCK_SEQPACKET } as const

/** The address in a `sockaddr` (inet or unix), or `unspec`. */
const addressOf = (raw: Uint8Array): SockAddr.SockAddr => {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const family = raw.length >= 2 ? view.getUint16(0, true) : 0
  if (family === AF_UNIX) {
    const path = unixPathOf(raw)
    const parsed = path === undefined ? undefined : SockAddr.fromSocketPath(path)
    return parsed !== undefined && Result.isSuccess(parsed) ? parsed.success : SockAddr.unspec
  }
  if (family === AF_INET && raw.length >= 8) {
    const made = SockAddr.inet(NetAddress.ipv4FromBytesUnsafe(raw.slice(4, 8)), view.getUint16(2, false))
    return Result.isSuccess(made) ? made.success : SockAddr.unspec
  }
  if (family === AF_INET6 && raw.length >= 28) {
    // Exactly sixteen bytes: the unsafe constructor's one precondition.
    const ip = NetAddress.ipv6FromBytesUnsafe(raw.slice(8, 24))
    const made = SockAddr.inet(ip, view.getUint16(2, false), view.getUint32(24, true))
    return Result.isSuccess(made) ? made.success : SockAddr.unspec
  }
  return SockAddr.unspec
}

export const adopt = (
  native: Native,
  fd: number,
  type: Transport.SocketType,
  platform: string
): Effect.Effect<Transport.Adopted, ConnectError.ConnectError | DialError.Unsupported> =>
  Effect.suspend((): Effect.Effect<Transport.Adopted, ConnectError.ConnectError | DialError.Unsupported> => {
    // SO_TYPE answers EBADF for a closed descriptor and ENOTSOCK for a file.
    const actual = native.getsockoptInt(fd, SOL_SOCKET, SO_TYPE)
    if (actual < 0) return Effect.fail(errorOf(actual, { syscall: "socket" }))
    const domain = native.getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN)
    if (domain < 0) return Effect.fail(errorOf(domain, { syscall: "socket" }))
    if (domain !== AF_UNIX && domain !== AF_INET && domain !== AF_INET6) {
      return Effect.fail(ConnectError.make("EAFNOSUPPORT", { syscall: "socket" }))
    }
    if (actual !== typeNumbers[type]) return Effect.fail(ConnectError.make("EPROTOTYPE", { syscall: "socket" }))
    const rawPeer = native.getpeername(fd)
    const peer = typeof rawPeer === "number" ? undefined : addressOf(rawPeer)
    if (peer === undefined && (rawPeer !== -ENOTCONN || type !== "datagram")) {
      return Effect.fail(errorOf(rawPeer as number, { syscall: "connect" }))
    }
    if (type === "datagram" && domain !== AF_UNIX) {
      return Effect.fail(DialError.unsupported("adopting a UDP socket (node:dgram cannot take a descriptor)", platform))
    }
    const status = native.setNonBlocking(fd)
    if (status < 0) return Effect.fail(errorOf(status, { syscall: "socket" }))
    if (type === "stream") {
      return Effect.succeed({ _tag: "Stream" as const, connection: adoptStream(fd, peer ?? SockAddr.unspec) })
    }
    const watcher = native.watch(fd)
    if (type === "seqpacket") {
      return Effect.succeed({
        _tag: "Stream" as const,
        connection: seqpacket.connection(native, watcher, peer ?? SockAddr.unspec)
      })
    }
    const connectedTo = peer !== undefined && peer._tag !== "Inet" && peer._tag !== "Unspec" ? peer : undefined
    return Effect.succeed({
      _tag: "Datagram" as const,
      endpoint: fromDescriptor(native, watcher, connectedTo),
      family: "unix",
      local: unixNameOf(native, fd),
      peer
    })
  })
