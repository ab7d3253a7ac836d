/**
 * The conformance suite against the real kernel: the same cases `@dial/testkit` runs against
 * TestNetwork, here over `node:net` and `node:dgram` on loopback and unix sockets.
 */
import { SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as Conformance from "@dial/testkit/Conformance"
import { Result } from "effect"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Net from "node:net"
import * as Socket from "effect/socket/Socket"
import { randomUUID } from "node:crypto"
import * as Dgram from "node:dgram"
import * as Path from "node:path"
import { execFileSync } from "node:child_process"
import { seqpacketEcho, unixDatagramEcho } from "./helpers/native.ts"
import { closedTcpPort, closedUdpPort, hangingTcpPort, inet, tcpServer, tempDir, unixServer } from "./helpers/kernel.ts"

const hasPython = (() => {
  try {
    execFileSync("python3", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const hostOf = (kind: "inet4" | "inet6" | "IPv4" | "IPv6") =>
  kind === "inet4" || kind === "IPv4" ? "127.0.0.1" : "::1"

const unixPath = (path: string) => Result.getOrThrow(SockAddr.unixPath(path))
const abstractName = () => Result.getOrThrow(SockAddr.unixAbstract(`dial-conformance-${randomUUID()}`))

/** A UDP server that sends every datagram back unchanged. */
const udpEcho = (family: "IPv4" | "IPv6"): Effect.Effect<SockAddr.Inet, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Dgram.Socket>((resume) => {
      const socket = Dgram.createSocket(family === "IPv4" ? "udp4" : "udp6")
      socket.on("message", (message, from) => socket.send(message, from.port, from.address))
      socket.bind(0, hostOf(family), () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.callback<void>((resume) => void socket.close(() => resume(Effect.void)))
  ).pipe(Effect.map((socket) => inet(hostOf(family), socket.address().port)))

/**
 * A loopback server whose accepted connections a case drives. Half-open like the client, so a
 * case can FIN one way and still read; each peer is an `effect/socket` view (Effect's own
 * `fromDuplex`) with close(2) and RST.
 */
const drivenServer: Effect.Effect<Conformance.Server, never, Scope.Scope> = Effect.gen(function* () {
  const accepted = yield* Queue.unbounded<Net.Socket>()
  const sockets = new Set<Net.Socket>()
  const server = yield* Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        Queue.offerUnsafe(accepted, socket)
      })
      server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )
  return {
    address: inet("127.0.0.1", (server.address() as Net.AddressInfo).port),
    accept: Effect.gen(function* () {
      const socket = yield* Queue.take(accepted)
      const adapted = yield* NodeSocket.fromDuplex(Effect.succeed(socket))
      // fromDuplex's writer waits for its reader to open the duplex; this one is open already.
      const write = (chunk: Uint8Array | string | Socket.CloseEvent) =>
        Effect.sync(() => void (Socket.isCloseEvent(chunk) ? socket.destroy() : socket.write(chunk)))
      const writer = Effect.acquireRelease(
        Effect.succeed({
          write,
          writeAll: (chunks: ReadonlyArray<Uint8Array | string>) => Effect.forEach(chunks, write, { discard: true })
        }),
        () => Effect.sync(() => void socket.end())
      )
      return {
        socket: Socket.make({ reader: adapted.reader, writer }),
        close: Effect.sync(() => void socket.destroy()),
        reset: Effect.sync(() => void socket.resetAndDestroy())
      }
    })
  }
})

const fixture: Conformance.Fixture<never> = {
  listen: (kind) => {
    switch (kind) {
      case "inet4":
      case "inet6":
        return Effect.map(tcpServer(hostOf(kind), "echo"), (server) => inet(hostOf(kind), server.port))
      case "unix":
        return Effect.gen(function* () {
          const path = Path.join(yield* tempDir, "echo.sock")
          yield* unixServer(path)
          return unixPath(path)
        })
      case "abstract":
        return Effect.gen(function* () {
          const address = abstractName()
          yield* unixServer(`\0${address.name}`)
          return address
        })
    }
  },
  closedAddress: (kind) => {
    switch (kind) {
      case "inet4":
      case "inet6":
        return Effect.map(closedTcpPort(hostOf(kind)), (port) => inet(hostOf(kind), port))
      case "unix":
        return Effect.map(tempDir, (dir) => unixPath(Path.join(dir, "nobody.sock")))
      case "abstract":
        return Effect.succeed(abstractName())
    }
  },
  udpEcho,
  udpClosed: (family) => Effect.map(closedUdpPort(hostOf(family)), (port) => inet(hostOf(family), port)),
  listenAt: (address) => {
    switch (address._tag) {
      case "Inet":
        return Effect.asVoid(tcpServer(address.family === "IPv4" ? "127.0.0.1" : "::1", "echo", address.port))
      case "UnixPath":
        return Effect.asVoid(unixServer(address.path))
      case "UnixAbstract":
        return Effect.asVoid(unixServer(`\0${address.name}`))
      case "Unspec":
        return Effect.die(new Error("cannot listen on unspec"))
    }
  },
  // Node makes neither socket type: python3 helpers are the peers.
  seqpacketEcho: hasPython
    ? (kind) =>
        Effect.orDie(
          Effect.gen(function* () {
            if (kind === "abstract") {
              const address = abstractName()
              yield* seqpacketEcho(`@${address.name}`)
              return address
            }
            const path = Path.join(yield* tempDir, "seq.sock")
            yield* seqpacketEcho(path)
            return unixPath(path)
          })
        )
    : undefined,
  unixDatagramEcho: hasPython ? Effect.orDie(Effect.map(unixDatagramEcho(""), unixPath)) : undefined,
  // A full accept queue that never drains: the kernel drops the SYN and connect hangs.
  server: drivenServer,
  hanging: hasPython ? Effect.map(Effect.orDie(hangingTcpPort), (port) => inet("127.0.0.1", port)) : undefined
}

Conformance.suite("NodeNetwork (real kernel)", { layer: NodeNetwork.layer, fixture, kernel: true })
