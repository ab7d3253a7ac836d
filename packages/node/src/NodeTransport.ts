/**
 * The core's `Transport` over `node:net` and `node:dgram`: the raw socket moves, with no state
 * of their own. The state machine (EALREADY, EISCONN, reuse after failure, deadlines, abort
 * signals) is core's `SocketHandle`, run over this transport by `Network.make`; applications use
 * `NodeNetwork.layer` and never need this module.
 *
 * | socket type | address | Node |
 * |---|---|---|
 * | `stream` | inet (v4, v6 with scope id) | `net.Socket`, with `localAddress` / `localPort`, `noDelay`, `keepAlive` |
 * | `stream` | unix path, unix abstract (`"\0name"`) | `net.Socket` with `path` |
 * | `datagram` | inet | `dgram` `udp4` / `udp6`, `connect` / `disconnect` |
 * | `datagram` | unix path, unix abstract | native (koffi): socket(2)/connect(2), readiness from a libuv poll handle on the main loop |
 * | `seqpacket` | unix path, unix abstract | native (koffi), as above |
 * | `seqpacket` | inet | `Unsupported` (SCTP) |
 *
 * The native path is the optional dependency koffi. Where it cannot load (not Linux, koffi not
 * installed, `DIAL_NATIVE=off`), the native rows fail with `DialError.Unsupported`, saying why.
 *
 * Errors are Node's, read by `code` through core's `SystemError.fromUnknown`: a taken
 * `localPort` is EADDRINUSE from `bind`, an ICMP port-unreachable on a connected UDP socket is
 * ECONNREFUSED from `recv` (or `send`). Every failed or interrupted attempt completes only
 * after its socket has closed, and leaves an 'error' listener behind, so no late event can
 * crash the process.
 *
 * @since 0.1.0
 */
import { DialError, type SockAddr, type Transport } from "@dial/core"
import * as Effect from "effect/Effect"
import { openDatagram } from "./internal/datagram.ts"
import { adopt } from "./internal/adopt.ts"
import { errorOf, hasLateOptions, type Native, native, nativeStreamNeed, prepareStream } from "./internal/native.ts"
import { connectSeqpacket } from "./internal/seqpacket.ts"
import { connectStream } from "./internal/stream.ts"
import { openUnixDatagram } from "./internal/unixDatagram.ts"

/**
 * The platform name in `Unsupported` errors and `Network.platform`.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@dial/node"
 *
 * NodeTransport.platform // "node"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const platform = "node"

/** The native calls, or a typed `Unsupported` saying why they are missing. */
const withNative = <A, E>(
  operation: string,
  use: (native: Native) => Effect.Effect<A, E>
): Effect.Effect<A, E | DialError.Unsupported> =>
  Effect.suspend((): Effect.Effect<A, E | DialError.Unsupported> => {
    const loaded = native()
    return loaded._tag === "Loaded"
      ? use(loaded.native)
      : Effect.fail(DialError.unsupported(`${operation} (${loaded.reason})`, platform))
  })

/** A stream socket made and configured natively, then connected by libuv as any other. */
const nativeStream = (
  native: Native,
  address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract,
  options: Transport.SocketOptions
) =>
  Effect.suspend(() => {
    const fd = prepareStream(native, address, options)
    return fd < 0
      ? Effect.fail(errorOf(fd, { syscall: "socket", address, localAddress: options.local }))
      : connectStream(address, options, fd, native)
  })

/**
 * The transport over `node:net` and `node:dgram`. Stateless: one value serves any number of
 * handles.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeTransport } from "@dial/node"
 * import { Layer } from "effect"
 *
 * const layer = Layer.succeed(Network.Network)(Network.make(NodeTransport.make()))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (): Transport.Transport => ({
  platform,
  connectStream: ({ type, address, options }) => {
    if (type === "stream") {
      const need = nativeStreamNeed(address, options)
      const late = hasLateOptions(address, options)
      if (need === undefined && !late) return connectStream(address, options)
      const loaded = native()
      if (loaded._tag === "Missing") {
        return need === "noPort" && !late
          ? connectStream(address, options)
          : Effect.fail(DialError.unsupported(`socket options before connect (${loaded.reason})`, platform))
      }
      // Only an option the handshake uses needs a socket made here; the rest go on Node's own.
      return need === undefined
        ? connectStream(address, options, undefined, loaded.native)
        : nativeStream(loaded.native, address, options)
    }
    if (address._tag === "Inet") {
      return Effect.fail(DialError.unsupported("seqpacket sockets over inet (SCTP)", platform))
    }
    return withNative("seqpacket sockets", (native) => connectSeqpacket(native, address))
  },
  adopt: ({ fd, type }) => withNative("adopting a file descriptor", (native) => adopt(native, fd, type, platform)),
  openDatagram: ({ address, options }) =>
    address._tag === "Inet"
      ? openDatagram(address.family, options)
      : withNative("unix datagram sockets", openUnixDatagram)
})
