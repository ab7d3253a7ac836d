/**
 * The stream conformance suite on the real kernel: a connection through NodeNetwork to a
 * loopback `node:net` server (half-open allowed, as a server that answers after the request's
 * FIN needs), whose accepted socket is the peer, as an `effect/socket` Socket.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { NodeSocket } from "@effect/platform-node"
import * as StreamConformance from "@dial/testkit/StreamConformance"
import { Effect, Result } from "effect"
import * as Net from "node:net"

const fixture: StreamConformance.Fixture<never> = {
  pair: Effect.gen(function* () {
    const accepted: Array<Net.Socket> = []
    const waiting: Array<(socket: Net.Socket) => void> = []
    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
          const waiter = waiting.shift()
          if (waiter !== undefined) waiter(socket)
          else accepted.push(socket)
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          for (const socket of accepted) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as Net.AddressInfo).port
    const handle = yield* Network.connect(Result.getOrThrow(SockAddr.inet("127.0.0.1", port)))
    const client = yield* handle.socket
    const peer = yield* Effect.callback<Net.Socket>((resume) => {
      const ready = accepted.shift()
      if (ready !== undefined) resume(Effect.succeed(ready))
      else waiting.push((socket) => resume(Effect.succeed(socket)))
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => peer.destroy()))
    const serverSocket = yield* NodeSocket.fromDuplex(Effect.succeed(peer))
    return { handle, client, server: serverSocket }
  }).pipe(Effect.orDie)
}

StreamConformance.suite("NodeNetwork streams (loopback)", { layer: NodeNetwork.layer, fixture, kernel: true })
