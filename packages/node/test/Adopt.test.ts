/**
 * `Network.adopt`: descriptors the process did not open through dial (here made with the
 * native calls directly, as a parent or systemd would hand them over), and the kernel's own
 * answers for the wrong ones: EBADF, ENOTSOCK, EAFNOSUPPORT, EPROTOTYPE, ENOTCONN.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Socket from "effect/socket/Socket"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  AF_INET,
  AF_UNIX,
  native,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  sockaddrAutobind,
  sockaddrUnix
} from "../src/internal/native.ts"
import { kernelTest, python, summary, tcpServer, tempDir, unixServer } from "./helpers/kernel.ts"
import { seqpacketEcho, unixDatagramEcho } from "./helpers/native.ts"

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeNetwork.layer)
const bytes = (value: string) => new TextEncoder().encode(value)
const text = (value: Uint8Array) => new TextDecoder().decode(value)

const calls = () => {
  const loaded = native()
  if (loaded._tag === "Missing") throw new Error(loaded.reason)
  return loaded.native
}

/** A descriptor made outside dial; closed by the scope unless a handle adopted it. */
const descriptor = (make: () => number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const fd = make()
      if (fd < 0) throw new Error(`could not make the descriptor: ${fd}`)
      return { fd, adopted: false }
    }),
    (held) => Effect.sync(() => (held.adopted ? undefined : calls().close(held.fd)))
  )

const unixConnected = (type: number, path: string) => () => {
  const fd = calls().socket(AF_UNIX, type)
  const [raw, length] = sockaddrUnix(Result.getOrThrow(SockAddr.unixPath(path)))
  const status = calls().connect(fd, raw, length)
  return status < 0 ? status : fd
}

const echoOnce = (socket: Socket.Socket, message: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      yield* writer.write(bytes(message))
      let got = ""
      for (let pulls = 0; pulls < 10 && got.length < message.length; pulls++) {
        for (const chunk of yield* reader.pull) got += typeof chunk === "string" ? chunk : text(chunk)
      }
      return got
    })
  )

describe("adopting what the kernel says is right", () => {
  kernelTest("a connected unix stream socket: Connected, and it talks", [], () =>
    provide(
      Effect.gen(function* () {
        const path = Path.join(yield* tempDir, "echo.sock")
        yield* unixServer(path)
        const held = yield* descriptor(unixConnected(SOCK_STREAM, path))
        const handle = yield* Network.adopt(held.fd, "stream")
        held.adopted = true
        expect((yield* handle.state)._tag).toBe("Connected")
        expect(SockAddr.format(Option.getOrThrow(yield* handle.peerAddress))).toBe(`unix:${path}`)
        expect(yield* echoOnce(yield* handle.socket, "hello")).toBe("hello")
        // The handle owns it now: a connect is EISCONN, as on any connected stream.
        expect(summary(yield* Effect.flip(handle.connect(`unix:${path}`)))).toMatchObject({ _tag: "EISCONN" })
      })
    )
  )

  kernelTest("a connected TCP socket: the peer read from the kernel", [], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1", "echo")
        const held = yield* descriptor(() => {
          const fd = calls().socket(AF_INET, SOCK_STREAM)
          const raw = new Uint8Array(16)
          const view = new DataView(raw.buffer)
          view.setUint16(0, AF_INET, true)
          view.setUint16(2, server.port, false)
          raw.set([127, 0, 0, 1], 4)
          const status = calls().connect(fd, raw, 16)
          // Non-blocking: EINPROGRESS, done within a loopback round trip.
          return status < 0 && status !== -115 ? status : fd
        })
        for (let turn = 0; turn < 100 && server.accepted.length === 0; turn++) yield* Effect.sleep("5 millis")
        const handle = yield* Network.adopt(held.fd, "stream")
        held.adopted = true
        expect(SockAddr.format(Option.getOrThrow(yield* handle.peerAddress))).toBe(`127.0.0.1:${server.port}`)
        const local = Option.getOrThrow(yield* handle.localAddress)
        expect(local._tag === "Inet" && local.port).toBe(server.accepted[0])
        expect(yield* echoOnce(yield* handle.socket, "tcp")).toBe("tcp")
      })
    )
  )

  kernelTest("a connected seqpacket socket keeps message boundaries", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = Path.join(yield* tempDir, "seq.sock")
        yield* seqpacketEcho(path)
        const held = yield* descriptor(unixConnected(SOCK_SEQPACKET, path))
        const handle = yield* Network.adopt(held.fd, "seqpacket")
        held.adopted = true
        expect(yield* echoOnce(yield* handle.socket, "packet")).toBe("packet")
      })
    )
  )

  kernelTest("an unassociated unix datagram socket: Idle, then connect, send, receive", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = yield* unixDatagramEcho()
        const held = yield* descriptor(() => {
          const fd = calls().socket(AF_UNIX, SOCK_DGRAM)
          calls().bind(fd, sockaddrAutobind, sockaddrAutobind.length)
          return fd
        })
        const handle = yield* Network.adopt(held.fd, "datagram")
        held.adopted = true
        expect((yield* handle.state)._tag).toBe("Idle")
        yield* handle.connect(`unix:${path}`)
        yield* handle.send(bytes("adopted"))
        expect(text(yield* handle.receive)).toBe("echo:adopted")
      })
    )
  )
})

describe("the wrong descriptor: the kernel's errno, typed, and the descriptor untouched", () => {
  kernelTest("EBADF: not open", [], () =>
    provide(
      Effect.gen(function* () {
        const file = Path.join(yield* tempDir, "f")
        const fd = Fs.openSync(file, "w")
        Fs.closeSync(fd)
        expect(summary(yield* Effect.flip(Network.adopt(fd, "stream")))).toMatchObject({ _tag: "EBADF", errno: 9 })
      })
    )
  )

  kernelTest("ENOTSOCK: a regular file, which stays open and unchanged", [], () =>
    provide(
      Effect.gen(function* () {
        const file = Path.join(yield* tempDir, "f")
        const fd = Fs.openSync(file, "w")
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.closeSync(fd)))
        expect(summary(yield* Effect.flip(Network.adopt(fd, "stream")))).toMatchObject({ _tag: "ENOTSOCK", errno: 88 })
        Fs.writeSync(fd, "still mine")
        expect(Fs.readFileSync(file, "utf8")).toBe("still mine")
      })
    )
  )

  kernelTest("EAFNOSUPPORT: a netlink socket", [], () =>
    provide(
      Effect.gen(function* () {
        const held = yield* descriptor(() => calls().socket(16 /* AF_NETLINK */, 3 /* SOCK_RAW */))
        expect(summary(yield* Effect.flip(Network.adopt(held.fd, "datagram")))).toMatchObject({
          _tag: "EAFNOSUPPORT",
          errno: 97
        })
      })
    )
  )

  kernelTest("EPROTOTYPE: a datagram socket adopted as a stream; ENOTCONN: a stream socket not connected", [], () =>
    provide(
      Effect.gen(function* () {
        const datagram = yield* descriptor(() => calls().socket(AF_UNIX, SOCK_DGRAM))
        expect(summary(yield* Effect.flip(Network.adopt(datagram.fd, "stream")))).toMatchObject({
          _tag: "EPROTOTYPE",
          errno: 91
        })
        const stream = yield* descriptor(() => calls().socket(AF_UNIX, SOCK_STREAM))
        expect(summary(yield* Effect.flip(Network.adopt(stream.fd, "stream")))).toMatchObject({
          _tag: "ENOTCONN",
          errno: 107
        })
      })
    )
  )

  kernelTest("a bad descriptor number is InvalidInput", [], () =>
    provide(
      Effect.gen(function* () {
        for (const fd of [-1, 1.5, Number.NaN]) {
          expect((yield* Effect.flip(Network.adopt(fd, "stream")))._tag).toBe("InvalidInput")
        }
      })
    )
  )
})
