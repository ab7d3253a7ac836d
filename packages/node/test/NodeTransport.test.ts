/**
 * The transport's own contract (what `Network.make` relies on), tested below the handle:
 * a fresh socket per attempt, close idempotent and complete only once the handle is released,
 * interruption leaves nothing, no late error reaches the process, datagram endpoints queue and
 * close safely.
 */
import { Network, SockAddr, type Transport } from "@dial/core"
import { NodeTransport } from "@dial/node"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import {
  expectReleased,
  hangingTcpPort,
  inet,
  kernelTest,
  python,
  resourcesSettle,
  socketDescriptors,
  socketResources,
  stableResources,
  tcpServer,
  udpEcho,
  uncaughtErrors
} from "./helpers/kernel.ts"

const transport = NodeTransport.make()

const stream = (address: SockAddr.Inet, options: Transport.SocketOptions = {}) =>
  transport.connectStream({ type: "stream", address, options })

describe("NodeTransport", () => {
  it("is the node platform", () => {
    expect(transport.platform).toBe("node")
  })

  it.live("connectStream opens a fresh socket on every call; close closes its descriptor at once", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1")
      const baseline = yield* stableResources
      const first = yield* stream(inet("127.0.0.1", server.port))
      const second = yield* stream(inet("127.0.0.1", server.port))
      expect(SockAddr.format(first.local)).not.toBe(SockAddr.format(second.local))
      expect(socketResources().TCPSocketWrap).toBe((baseline.TCPSocketWrap ?? 0) + 2 + server.sockets.size)
      const open = socketDescriptors()
      yield* first.close
      yield* first.close
      yield* second.close
      // Our two descriptors are closed when close completes, with no event-loop turn between
      // (the server's side closes on its own, later); Node's wrappers go within one turn.
      if (open !== undefined) expect(socketDescriptors()).toBe(open - 2)
      yield* resourcesSettle({}, 3)
      expect(socketResources().TCPSocketWrap ?? 0).toBe((baseline.TCPSocketWrap ?? 0) + server.sockets.size)
    })
  )

  kernelTest("interrupting connectStream completes once the socket's descriptor is closed", [python], () =>
    Effect.gen(function* () {
      const port = yield* hangingTcpPort
      const baseline = yield* stableResources
      const descriptors = socketDescriptors()
      const attempt = yield* Effect.forkChild(stream(inet("127.0.0.1", port)), { startImmediately: true })
      yield* Effect.yieldNow
      expect(socketResources()).not.toEqual(baseline)
      yield* Fiber.interrupt(attempt)
      expect(Exit.hasInterrupts(yield* Fiber.await(attempt))).toBe(true)
      yield* expectReleased(descriptors, baseline)
    })
  )

  it.live("seqpacket is Unsupported before anything is opened", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        transport.connectStream({ type: "seqpacket", address: inet("127.0.0.1", 1), options: {} })
      )
      expect(error._tag).toBe("Unsupported")
    })
  )

  it.live("a reset after the connect, with nobody reading, does not reach the process", () =>
    Effect.gen(function* () {
      const uncaught = yield* uncaughtErrors
      const server = yield* tcpServer("127.0.0.1")
      const baseline = yield* stableResources
      const connection = yield* stream(inet("127.0.0.1", server.port))
      // Wait for the accept, then reset from the server side.
      const accepted = yield* Effect.callback<Net.Socket>((resume) => {
        const [socket] = server.sockets
        if (socket !== undefined) return resume(Effect.succeed(socket))
        server.server.once("connection", (socket) => resume(Effect.succeed(socket)))
      })
      accepted.resetAndDestroy()
      // Node reads the reset (ECONNRESET, an 'error' event) and destroys our socket: once both
      // handles are gone, the error has been emitted, into the listener the transport left.
      expect(yield* resourcesSettle(baseline, 200)).toEqual(baseline)
      expect(uncaught).toEqual([])
      yield* connection.close
    })
  )
})

describe("datagram endpoints", () => {
  it.live("close is idempotent and safe on a socket that was never bound", () =>
    Effect.gen(function* () {
      const baseline = yield* stableResources
      const endpoint = yield* transport.openDatagram({ address: inet("127.0.0.1", 9), options: {} })
      expect(yield* endpoint.localAddress).toBeUndefined()
      yield* endpoint.close
      yield* endpoint.close
      expect(yield* endpoint.localAddress).toBeUndefined()
      expect(yield* resourcesSettle(baseline)).toEqual(baseline)
    })
  )

  it.live("datagrams that arrive before receive is called are queued, in order", () =>
    Effect.gen(function* () {
      const echo = yield* udpEcho("E:")
      const endpoint = yield* transport.openDatagram({ address: inet("127.0.0.1", echo.port), options: {} })
      yield* endpoint.connect(inet("127.0.0.1", echo.port))
      yield* endpoint.send(new TextEncoder().encode("1"))
      yield* endpoint.send(new TextEncoder().encode("2"))
      yield* echo.waitFor("2")
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
      expect([decode(yield* endpoint.receive), decode(yield* endpoint.receive)]).toEqual(["E:1", "E:2"])
      // Dissolving the association forgets what the old peer sent.
      yield* endpoint.send(new TextEncoder().encode("3"))
      yield* echo.waitFor("3")
      yield* endpoint.disconnect
      expect(yield* endpoint.localAddress).toBeDefined()
      yield* endpoint.close
    })
  )

  it.live("a unix address opens a native unix datagram endpoint, autobound to an abstract name", () =>
    Effect.gen(function* () {
      const path = SockAddr.unixPath("/tmp/dial-unix-datagram.sock")
      if (path._tag === "Failure") return yield* Effect.die(path.failure)
      const endpoint = yield* transport.openDatagram({ address: path.success, options: {} })
      expect((yield* endpoint.localAddress)?._tag).toBe("UnixAbstract")
      yield* endpoint.close
      yield* endpoint.close
    })
  )
})

// Closing races found in review: each hung or leaked before its fix.
describe("closing while busy", () => {
  const closeWhileConnecting = (local: SockAddr.Inet | undefined) =>
    Effect.gen(function* () {
      const baseline = yield* stableResources
      const scope = yield* Scope.make()
      const network = Network.make(transport)
      const handle = yield* Scope.provide(network.open("datagram", local === undefined ? {} : { local }), scope)
      const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:9"))
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(fiber).pipe(Effect.timeout("5 seconds"))
      expect(Exit.isFailure(exit) && Cause.findErrorOption(exit.cause)).toMatchObject(
        Option.some({ _tag: "EBADF", errno: 9 })
      )
      expect(yield* resourcesSettle(baseline)).toEqual(baseline)
    })

  it.live("a datagram connect pending when the handle closes fails with EBADF", () => closeWhileConnecting(undefined))

  it.live("a datagram handle closed while binding its local address leaks no socket", () =>
    closeWhileConnecting(inet("127.0.0.1", 0))
  )

  const peerClosesFirst = (how: "end" | "reset") =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1", "hold")
      const network = Network.make(transport)
      const handle = yield* Effect.flatMap(network.open("stream"), (h) =>
        Effect.as(h.connect(inet("127.0.0.1", server.port)), h)
      )
      // The server closes and the client sees it before anyone reads.
      yield* Effect.callback<void>((resume) => {
        const poll = () => (server.sockets.size > 0 ? resume(Effect.void) : setTimeout(poll, 1))
        poll()
      })
      for (const socket of server.sockets) how === "end" ? socket.end() : socket.resetAndDestroy()
      const socket = yield* handle.socket
      if (how === "reset") {
        // A reset destroys the client's socket before anyone reads.
        yield* Effect.callback<void>((resume) => {
          const poll = () =>
            socketResources()["TCPSocketWrap"] === undefined ? resume(Effect.void) : setTimeout(poll, 1)
          poll()
        }).pipe(Effect.timeout("5 seconds"))
      } else {
        // A FIN leaves the socket open (half-open): let it arrive first.
        yield* Effect.sleep("20 millis")
      }
      const error = yield* Effect.flip(Effect.scoped(Effect.flatMap(socket.reader, (r) => r.pull))).pipe(
        Effect.timeout("5 seconds")
      )
      return error
    }).pipe(Effect.scoped)

  it.live("a peer that closed before the first read ends the reader (1000), not a hang", () =>
    Effect.map(peerClosesFirst("end"), (error) =>
      expect(error.reason).toMatchObject({ _tag: "SocketCloseError", code: 1000 })
    )
  )
  it.live("a peer that reset before the first read fails the reader with a typed ECONNRESET, not a hang", () =>
    Effect.map(peerClosesFirst("reset"), (error) => {
      expect(error.reason._tag).toBe("SocketReadError")
      expect((error.reason as Socket.SocketReadError).cause).toMatchObject({ _tag: "ECONNRESET", syscall: "read" })
    })
  )
})
