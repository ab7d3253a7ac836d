/**
 * The `Network` service over the real kernel, on loopback: connecting with every option,
 * failures and their fields, the handle's life (reuse after failure, deadlines, interruption,
 * abort signals), datagram association, and the connection as an `effect/socket` `Socket`.
 */
import { type ConnectError, Network, Retry, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Path from "node:path"
import {
  closedTcpPort,
  expectReleased,
  closedUdpPort,
  freeTcpPort,
  hangingTcpPort,
  kernelTest,
  python,
  resourcesSettle,
  root,
  socketOptionsOf,
  socketDescriptors,
  socketResources,
  stableResources,
  summary,
  tcpServer,
  tempDir,
  uncaughtErrors,
  udpEcho,
  unixServer
} from "./helpers/kernel.ts"

const live = <A, E>(name: string, self: () => Effect.Effect<A, E, Network.Network | Scope.Scope>, timeout?: number) =>
  it.live(name, () => Effect.provide(self(), NodeNetwork.layer), timeout)

const formatOption = (option: Option.Option<SockAddr.SockAddr>) =>
  Option.match(option, { onNone: () => "none", onSome: SockAddr.format })

const text = new TextEncoder()
const decode = (chunks: ReadonlyArray<Uint8Array | string>) =>
  chunks.map((chunk) => (typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk))).join("")

/** Writes `message` through the handle's `effect/socket` Socket and reads until it came back. */
const echoThrough = (socket: Socket.Socket, message: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      yield* writer.write(text.encode(message))
      let received = ""
      for (let pulls = 0; pulls < 100 && received.length < message.length; pulls++) {
        received += decode(yield* reader.pull)
      }
      return received
    })
  )

describe("stream connect", () => {
  live("IPv4 with a local address: local and peer are what the kernel used", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1")
      const localPort = yield* freeTcpPort("127.0.0.1")
      const handle = yield* Network.open("stream", { local: `127.0.0.1:${localPort}`, noDelay: true, keepAlive: true })
      yield* handle.connect(`127.0.0.1:${server.port}`)
      expect(formatOption(yield* handle.localAddress)).toBe(`127.0.0.1:${localPort}`)
      expect(formatOption(yield* handle.peerAddress)).toBe(`127.0.0.1:${server.port}`)
      // The server saw the connection come from the requested local port.
      expect(server.accepted).toEqual([localPort])
      expect((yield* handle.state)._tag).toBe("Connected")
    })
  )

  live("IPv6 with a local address on port 0: the kernel's port is reported", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("::1")
      const handle = yield* Network.open("stream", { local: "[::1]:0" })
      yield* handle.connect(`[::1]:${server.port}`)
      const local = Option.getOrThrow(yield* handle.localAddress)
      expect(local._tag === "Inet" && local.family).toBe("IPv6")
      expect(local._tag === "Inet" && local.port).toBe(server.accepted[0])
      expect(formatOption(yield* handle.peerAddress)).toBe(`[::1]:${server.port}`)
    })
  )

  kernelTest(
    "noDelay and keepAlive reach the kernel (read back with getsockopt)",
    [root, python],
    () =>
      Effect.provide(
        Effect.gen(function* () {
          const server = yield* tcpServer("127.0.0.1")
          const tuned = yield* Network.open("stream", { noDelay: true, keepAlive: "7 seconds" })
          yield* tuned.connect(`127.0.0.1:${server.port}`)
          const plain = yield* Network.open("stream")
          yield* plain.connect(`127.0.0.1:${server.port}`)
          const portOf = (option: Option.Option<SockAddr.SockAddr>) => {
            const address = Option.getOrThrow(option)
            return address._tag === "Inet" ? address.port : -1
          }
          const tunedOptions = yield* socketOptionsOf(process.pid, portOf(yield* tuned.localAddress))
          const plainOptions = yield* socketOptionsOf(process.pid, portOf(yield* plain.localAddress))
          expect(tunedOptions).toEqual({ keepalive: 1, keepidle: 7, nodelay: 1 })
          expect(plainOptions).toMatchObject({ keepalive: 0, nodelay: 0 })
        }),
        NodeNetwork.layer
      ),
    20_000
  )

  live("the local address is read on demand, outlives a reset, and the reset is a typed ECONNRESET", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1", "reset")
      const handle = yield* Network.connect(`127.0.0.1:${server.port}`)
      // Nothing has asked for the local address yet. Speak, so the server resets, and wait
      // until the reset has destroyed the socket (the reader fails): that takes the kernel
      // socket and its name with it.
      const socket = yield* handle.socket
      const read = yield* Effect.flip(
        Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* socket.reader
            yield* (yield* socket.writer).write(text.encode("reset me"))
            for (let pulls = 0; pulls < 100; pulls++) yield* reader.pull
          })
        )
      )
      expect(read._tag).toBe("SocketError")
      expect(read.reason._tag).toBe("SocketReadError")
      const cause = (read.reason as { readonly cause: unknown }).cause as ConnectError.ConnectError
      expect(cause._tag).toBe("ECONNRESET")
      expect(cause.syscall).toBe("read")
      expect(Retry.isTransient(read)).toBe(true)
      // The kernel socket is gone, but its name was kept for the error.
      expect(cause.localAddress && SockAddr.format(cause.localAddress)).toBe(`127.0.0.1:${server.accepted[0]}`)
      expect(cause.address && SockAddr.format(cause.address)).toBe(`127.0.0.1:${server.port}`)
      // The handle lets the dead connection go: a reconnect loop can connect again.
      expect((yield* handle.state)._tag).toBe("Idle")
    })
  )

  live("a Connected state read before the close keeps its addresses after it", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1")
      const state = yield* Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Network.connect(`127.0.0.1:${server.port}`)
          return yield* handle.state
        })
      )
      expect(state._tag === "Connected" && SockAddr.format(state.local)).toBe(`127.0.0.1:${server.accepted[0]}`)
      expect(state._tag === "Connected" && SockAddr.format(state.peer)).toBe(`127.0.0.1:${server.port}`)
    })
  )

  live("a unix path: the peer is the path, the unbound client has no name", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "echo.sock")
      yield* unixServer(path)
      const handle = yield* Network.connect(`unix:${path}`)
      expect(formatOption(yield* handle.peerAddress)).toBe(`unix:${path}`)
      expect(formatOption(yield* handle.localAddress)).toBe("unspec")
      expect(yield* echoThrough(yield* handle.socket, "over a path")).toBe("over a path")
    })
  )

  live("a unix abstract name", () =>
    Effect.gen(function* () {
      const name = `dial-test-${process.pid}-${Date.now()}`
      yield* unixServer(`\0${name}`)
      const handle = yield* Network.connect(`unix:@${name}`)
      expect(formatOption(yield* handle.peerAddress)).toBe(`unix:@${name}`)
      expect(yield* echoThrough(yield* handle.socket, "abstract")).toBe("abstract")
    })
  )

  live("a failure carries the syscall, the remote address and the requested local address", () =>
    Effect.gen(function* () {
      const port = yield* closedTcpPort("127.0.0.1")
      const localPort = yield* freeTcpPort("127.0.0.1")
      const handle = yield* Network.open("stream", { local: `127.0.0.1:${localPort}` })
      const error = yield* Effect.flip(handle.connect(`127.0.0.1:${port}`))
      expect(summary(error)).toEqual({
        _tag: "ECONNREFUSED",
        errno: 111,
        syscall: "connect",
        address: `127.0.0.1:${port}`,
        localAddress: `127.0.0.1:${localPort}`
      })
      expect(error._tag === "ECONNREFUSED" && (error.cause as { code?: string }).code).toBe("ECONNREFUSED")
      const state = yield* handle.state
      expect(state._tag === "Failed" && state.error).toBe(error)
    })
  )
})

describe("the connection as an effect/socket Socket", () => {
  live("exchanges bytes with a loopback echo server through reader and writer", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1", "echo")
      const handle = yield* Network.connect(`127.0.0.1:${server.port}`)
      const socket = yield* handle.socket
      expect(yield* echoThrough(socket, "hello, kernel")).toBe("hello, kernel")
    })
  )

  live("works as a Channel (Socket.toChannel) in a Stream pipeline", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1", "echo")
      const handle = yield* Network.connect(`127.0.0.1:${server.port}`)
      const socket = yield* handle.socket
      const replies = yield* Stream.make(text.encode("ping ")).pipe(
        Stream.concat(Stream.make(text.encode("pong"))),
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.map((bytes) => new TextDecoder().decode(bytes)),
        Stream.scan(
          () => "",
          (all: string, chunk: string) => all + chunk
        ),
        Stream.takeUntil((all) => all.length >= "ping pong".length),
        Stream.runLast
      )
      expect(Option.getOrThrow(replies)).toBe("ping pong")
    })
  )

  /** A server on loopback that runs `onConnection` for its one connection; closed with the scope. */
  const rawServer = (onConnection: (socket: Net.Socket) => void) =>
    Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        const server = Net.createServer((socket) => {
          socket.on("error", () => {})
          onConnection(socket)
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

  live(
    "reads keep the kernel's backpressure: a reader that does not pull stops the socket, the peer's writes back up; then every byte arrives in order",
    () =>
      Effect.gen(function* () {
        const total = 32 * 1024 * 1024
        const size = 64 * 1024
        let peer: Net.Socket | undefined
        const port = yield* rawServer((socket) => {
          peer = socket
          for (let offset = 0; offset < total; offset += size) {
            const chunk = Buffer.alloc(size)
            for (let i = 0; i < size; i++) chunk[i] = (offset + i) % 251
            socket.write(chunk)
          }
        })
        const handle = yield* Network.connect(`127.0.0.1:${port}`)
        const socket = yield* handle.socket
        const reader = yield* socket.reader
        yield* Effect.sleep("300 millis")
        // The kernel holds a few MiB in flight on loopback; the rest waits in the peer's buffer,
        // because nobody pulled: the client did not read 32 MiB into memory.
        expect(peer!.writableLength).toBeGreaterThan(16 * 1024 * 1024)
        let received = 0
        let wrong = 0
        for (let pulls = 0; pulls < 200_000 && received < total; pulls++) {
          for (const chunk of yield* reader.pull) {
            const bytes = chunk as Uint8Array
            for (let i = 0; i < bytes.length; i++) if (bytes[i] !== (received + i) % 251) wrong++
            received += bytes.length
          }
        }
        expect(received).toBe(total)
        expect(wrong).toBe(0)
      }),
    30_000
  )

  live("bytes that arrive after a reader's scope closed are read by the next reader", () =>
    Effect.gen(function* () {
      let peer: Net.Socket | undefined
      const port = yield* rawServer((socket) => {
        peer = socket
        socket.write("one")
      })
      const handle = yield* Network.connect(`127.0.0.1:${port}`)
      const socket = yield* handle.socket
      expect(decode(yield* Effect.scoped(Effect.flatMap(socket.reader, (reader) => reader.pull)))).toBe("one")
      peer!.write("two")
      yield* Effect.sleep("100 millis")
      expect(decode(yield* Effect.scoped(Effect.flatMap(socket.reader, (reader) => reader.pull)))).toBe("two")
      // And the handle's own read, a reader of its own, sees what comes next.
      peer!.write("three")
      const three = yield* handle.read()
      expect(Option.isSome(three) && decode(three.value)).toBe("three")
    })
  )

  live("the socket is ENOTCONN before connect and after disconnect", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1")
      const handle = yield* Network.open("stream")
      expect((yield* Effect.flip(handle.socket))._tag).toBe("ENOTCONN")
      yield* handle.connect(`127.0.0.1:${server.port}`)
      yield* handle.socket
      yield* handle.disconnect
      expect((yield* Effect.flip(handle.socket))._tag).toBe("ENOTCONN")
    })
  )
})

describe("the handle over the kernel", () => {
  live("reuse after failure: the failed socket is closed, the same handle connects with its options", () =>
    Effect.gen(function* () {
      const port = yield* closedTcpPort("127.0.0.1")
      const localPort = yield* freeTcpPort("127.0.0.1")
      const baseline = yield* stableResources
      const descriptors = socketDescriptors()
      const handle = yield* Network.open("stream", { local: `127.0.0.1:${localPort}`, noDelay: true })
      expect((yield* Effect.flip(handle.connect(`127.0.0.1:${port}`)))._tag).toBe("ECONNREFUSED")
      // The failed kernel socket is gone before connect returned.
      yield* expectReleased(descriptors, baseline)
      const server = yield* tcpServer("127.0.0.1", "echo", port)
      yield* handle.connect(`127.0.0.1:${port}`)
      // Bound again to the same local port: the old socket no longer holds it, and the
      // handle's options were kept for the fresh socket.
      expect(formatOption(yield* handle.localAddress)).toBe(`127.0.0.1:${localPort}`)
      expect(server.accepted).toEqual([localPort])
      expect(yield* echoThrough(yield* handle.socket, "again")).toBe("again")
    })
  )

  kernelTest("a deadline on a hanging connect: DeadlineExceeded, the socket destroyed", [python], () =>
    Effect.provide(
      Effect.gen(function* () {
        const port = yield* hangingTcpPort
        const baseline = yield* stableResources
        const descriptors = socketDescriptors()
        const handle = yield* Network.open("stream")
        const started = Date.now()
        const error = yield* Effect.flip(handle.connect(`127.0.0.1:${port}`, { deadline: "150 millis" }))
        expect(Date.now() - started).toBeGreaterThanOrEqual(140)
        expect(error._tag).toBe("DeadlineExceeded")
        expect(error._tag === "DeadlineExceeded" && error.deadlineMillis).toBe(150)
        expect(error._tag === "DeadlineExceeded" && error.address && SockAddr.format(error.address)).toBe(
          `127.0.0.1:${port}`
        )
        yield* expectReleased(descriptors, baseline)
        expect((yield* handle.state)._tag).toBe("Failed")
      }),
      NodeNetwork.layer
    )
  )

  kernelTest(
    "interrupting a hanging connect destroys the socket and runs finalizers, with no stray error",
    [python],
    () =>
      Effect.provide(
        Effect.gen(function* () {
          const uncaught = yield* uncaughtErrors
          const port = yield* hangingTcpPort
          const baseline = yield* stableResources
          const descriptors = socketDescriptors()
          const handle = yield* Network.open("stream")
          let finalized = false
          const attempt = yield* Effect.forkChild(
            handle.connect(`127.0.0.1:${port}`).pipe(
              Effect.ensuring(
                Effect.sync(() => {
                  finalized = true
                })
              )
            ),
            { startImmediately: true }
          )
          // connect(2) is issued from a nextTick; yieldNow resumes after it (setImmediate).
          yield* Effect.yieldNow
          expect((yield* handle.state)._tag).toBe("Connecting")
          expect(socketResources()).not.toEqual(baseline)
          yield* Fiber.interrupt(attempt)
          expect(Exit.hasInterrupts(yield* Fiber.await(attempt))).toBe(true)
          expect(finalized).toBe(true)
          // Destroyed and closed by the time the interruption completed.
          yield* expectReleased(descriptors, baseline)
          expect((yield* handle.state)._tag).toBe("Idle")
          expect(uncaught).toEqual([])
        }),
        NodeNetwork.layer
      )
  )

  kernelTest(
    "AbortSignal mid-connect: EINTR, the socket destroyed, then the same handle connects to a new listener",
    [python],
    () =>
      Effect.provide(
        Effect.gen(function* () {
          const port = yield* hangingTcpPort
          const baseline = yield* stableResources
          const descriptors = socketDescriptors()
          const handle = yield* Network.open("stream", { noDelay: true })
          const controller = new AbortController()
          const attempt = yield* Effect.forkChild(handle.connect(`127.0.0.1:${port}`, { signal: controller.signal }), {
            startImmediately: true
          })
          yield* Effect.yieldNow
          expect((yield* handle.state)._tag).toBe("Connecting")
          controller.abort(new Error("the caller gave up"))
          const error = yield* Effect.flip(Fiber.join(attempt))
          expect(summary(error)).toEqual({
            _tag: "EINTR",
            errno: 4,
            syscall: "connect",
            address: `127.0.0.1:${port}`,
            localAddress: undefined
          })
          expect(error._tag === "EINTR" && error.cause).toEqual(new Error("the caller gave up"))
          yield* expectReleased(descriptors, baseline)
          const server = yield* tcpServer("127.0.0.1", "echo")
          yield* handle.connect(`127.0.0.1:${server.port}`)
          expect(yield* echoThrough(yield* handle.socket, "after EINTR")).toBe("after EINTR")
        }),
        NodeNetwork.layer
      )
  )
})

describe("datagram", () => {
  live("connect, send and receive through a loopback UDP echo server", () =>
    Effect.gen(function* () {
      const echo = yield* udpEcho("A:")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(`127.0.0.1:${echo.port}`)
      const local = Option.getOrThrow(yield* handle.localAddress)
      expect(local._tag === "Inet" && local.port).toBeGreaterThan(0)
      expect(formatOption(yield* handle.peerAddress)).toBe(`127.0.0.1:${echo.port}`)
      yield* handle.send(text.encode("one"))
      expect(new TextDecoder().decode(yield* handle.receive)).toBe("A:one")
      yield* handle.send(text.encode("two"))
      expect(new TextDecoder().decode(yield* handle.receive)).toBe("A:two")
    })
  )

  live("connect again changes the peer: sends reach the new peer only", () =>
    Effect.gen(function* () {
      const first = yield* udpEcho("A:")
      const second = yield* udpEcho("B:")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(`127.0.0.1:${first.port}`)
      yield* handle.send(text.encode("to A"))
      expect(new TextDecoder().decode(yield* handle.receive)).toBe("A:to A")
      yield* handle.connect(`127.0.0.1:${second.port}`)
      expect(formatOption(yield* handle.peerAddress)).toBe(`127.0.0.1:${second.port}`)
      yield* handle.send(text.encode("to B"))
      expect(new TextDecoder().decode(yield* handle.receive)).toBe("B:to B")
      // Loopback delivers in order: once a later probe reached A, "to B" would have too.
      const probe = yield* Network.open("datagram")
      yield* probe.connect(`127.0.0.1:${first.port}`)
      yield* probe.send(text.encode("probe"))
      yield* first.waitFor("probe")
      expect(first.received).toEqual(["to A", "probe"])
      expect(second.received).toEqual(["to B"])
    })
  )

  live("connect(unspec) dissolves the association", () =>
    Effect.gen(function* () {
      const echo = yield* udpEcho("A:")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(`127.0.0.1:${echo.port}`)
      yield* handle.connect(SockAddr.unspec)
      expect((yield* handle.state)._tag).toBe("Idle")
      expect(formatOption(yield* handle.peerAddress)).toBe("none")
      expect((yield* Effect.flip(handle.send(text.encode("x"))))._tag).toBe("ENOTCONN")
      // And it can associate again.
      yield* handle.connect(`127.0.0.1:${echo.port}`)
      yield* handle.send(text.encode("back"))
      expect(new TextDecoder().decode(yield* handle.receive)).toBe("A:back")
    })
  )

  live("ECONNREFUSED from the kernel's ICMP port-unreachable, delivered to receive", () =>
    Effect.gen(function* () {
      const port = yield* closedUdpPort("127.0.0.1")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(`127.0.0.1:${port}`)
      yield* handle.send(text.encode("anyone?"))
      const error = yield* Effect.flip(handle.receive)
      expect(summary(error)).toEqual({
        _tag: "ECONNREFUSED",
        errno: 111,
        syscall: "recv",
        address: `127.0.0.1:${port}`,
        localAddress: undefined
      })
      // The kernel reports a pending error once; the socket stays usable.
      expect((yield* handle.state)._tag).toBe("Connected")
    })
  )

  live("a local address is bound first; a taken one is EADDRINUSE from bind", () =>
    Effect.gen(function* () {
      const echo = yield* udpEcho("A:")
      const localPort = yield* closedUdpPort("127.0.0.1")
      const bound = yield* Network.open("datagram", { local: `127.0.0.1:${localPort}` })
      yield* bound.connect(`127.0.0.1:${echo.port}`)
      expect(formatOption(yield* bound.localAddress)).toBe(`127.0.0.1:${localPort}`)
      // A port bound by request survives re-association (Linux releases only an ephemeral
      // port that connect picked itself when the association is dissolved).
      const other = yield* udpEcho("B:")
      yield* bound.connect(`127.0.0.1:${other.port}`)
      expect(formatOption(yield* bound.localAddress)).toBe(`127.0.0.1:${localPort}`)
      yield* bound.send(text.encode("still here"))
      expect(new TextDecoder().decode(yield* bound.receive)).toBe("B:still here")
      const clash = yield* Network.open("datagram", { local: `127.0.0.1:${localPort}` })
      const error = yield* Effect.flip(clash.connect(`127.0.0.1:${echo.port}`))
      expect(summary(error)).toEqual({
        _tag: "EADDRINUSE",
        errno: 98,
        syscall: "bind",
        address: undefined,
        localAddress: `127.0.0.1:${localPort}`
      })
    })
  )

  live("closing the scope fails a waiting receive with EBADF and releases the socket", () =>
    Effect.gen(function* () {
      const echo = yield* udpEcho("A:")
      const baseline = yield* stableResources
      const waiting = yield* Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Network.open("datagram")
          yield* handle.connect(`127.0.0.1:${echo.port}`)
          return yield* Effect.forkDetach(handle.receive, { startImmediately: true })
        })
      )
      const error = yield* Effect.flip(Fiber.join(waiting))
      expect(error._tag).toBe("EBADF")
      expect(yield* resourcesSettle(baseline)).toEqual(baseline)
    })
  )
})

describe("what Node cannot do, and bad input", () => {
  live("SOCK_SEQPACKET over inet (SCTP) is Unsupported, and opens nothing", () =>
    Effect.gen(function* () {
      const baseline = yield* stableResources
      const handle = yield* Network.open("seqpacket")
      const error = yield* Effect.flip(handle.connect("127.0.0.1:9"))
      expect(error._tag === "Unsupported" && [error.operation, error.platform]).toEqual([
        "seqpacket sockets over inet (SCTP)",
        "node"
      ])
      expect(socketResources()).toEqual(baseline)
    })
  )

  live("a datagram peer on port 0 is EINVAL (node:dgram cannot connect there)", () =>
    Effect.gen(function* () {
      const handle = yield* Network.open("datagram")
      const error = yield* Effect.flip(handle.connect("127.0.0.1:0"))
      expect(summary(error)).toMatchObject({ _tag: "EINVAL", errno: 22, syscall: "connect", address: "127.0.0.1:0" })
    })
  )

  live("invalid addresses and options are InvalidInput, and open nothing", () =>
    Effect.gen(function* () {
      const baseline = yield* stableResources
      const stream = yield* Network.open("stream")
      for (const bad of ["localhost:80", "127.0.0.1", "300.1.1.1:80", "unix:", `unix:/${"x".repeat(200)}`, "unspec"]) {
        const error = yield* Effect.flip(stream.connect(bad))
        expect([bad, error._tag]).toEqual([bad, "InvalidInput"])
      }
      expect((yield* Effect.flip(stream.connect("127.0.0.1:1", { deadline: -5 })))._tag).toBe("InvalidInput")
      expect((yield* Effect.flip(Network.open("stream", { local: "unix:/tmp/x" })))._tag).toBe("InvalidInput")
      expect((yield* Effect.flip(Network.open("stream", { noDelay: "yes" as unknown as boolean })))._tag).toBe(
        "InvalidInput"
      )
      const v6Local = yield* Network.open("stream", { local: "[::1]:0" })
      expect((yield* Effect.flip(v6Local.connect("127.0.0.1:1")))._tag).toBe("InvalidInput")
      expect((yield* stream.state)._tag).toBe("Idle")
      expect(socketResources()).toEqual(baseline)
    })
  )
})
