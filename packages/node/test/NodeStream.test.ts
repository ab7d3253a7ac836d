/**
 * `NodeStream` off the kernel: on TestNetwork the socket is a Duplex over the in-memory
 * connection, so client code (here ioredis) runs against the fake network and its faults. On
 * NodeNetwork it is the kernel socket itself.
 */
import { Network, type SockAddr } from "@dial/core"
import { NodeNetwork, NodeStream } from "@dial/node"
import { TestNetwork } from "@dial/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import { Redis } from "ioredis"
import { tcpServer } from "./helpers/kernel.ts"

const text = new TextEncoder()

/** A fake Redis on the in-memory network: every command is answered `+PONG`. */
const fakeRedis = (address: SockAddr.Input) =>
  Effect.gen(function* () {
    const listener = yield* Effect.orDie(TestNetwork.listen(address))
    yield* Effect.forkChild(
      Effect.forever(
        Effect.flatMap(Effect.orDie(listener.accept), (connection) =>
          Effect.forkChild(
            Effect.scoped(
              Effect.gen(function* () {
                const reader = yield* connection.socket.reader
                const writer = yield* connection.socket.writer
                for (let i = 0; i < 1000; i++) {
                  yield* reader.pull
                  yield* writer.write(text.encode("+PONG\r\n"))
                }
              })
            ).pipe(Effect.ignore)
          )
        )
      )
    )
    return listener.address
  })

describe("NodeStream", () => {
  it.live(
    "on TestNetwork: a Duplex over the in-memory connection carries ioredis, and a refused dial reaches it typed",
    () =>
      Effect.gen(function* () {
        const address = yield* fakeRedis("127.0.0.1:6379")
        const context = yield* Effect.context<Network.Network>()
        const connector = NodeStream.ioredisConnector(Network.connect(address).pipe(Effect.provideContext(context)))
        const redis = new Redis({
          Connector: connector as never,
          lazyConnect: true,
          enableReadyCheck: false,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null
        })
        const errors: Array<unknown> = []
        redis.on("error", (error: unknown) => errors.push(error))
        yield* Effect.promise(() => redis.connect())
        expect(yield* Effect.promise(() => redis.ping())).toBe("PONG")
        expect(yield* Effect.promise(() => redis.ping())).toBe("PONG")
        redis.disconnect()
        // Nothing listens here: the fake refuses, and ioredis sees dial's typed ECONNREFUSED.
        const refused = NodeStream.ioredisConnector(
          Network.connect("127.0.0.1:6380").pipe(Effect.provideContext(context))
        )
        const nobody = new Redis({ Connector: refused as never, lazyConnect: true, retryStrategy: () => null })
        nobody.on("error", (error: unknown) => errors.push(error))
        yield* Effect.promise(() => nobody.connect().catch(() => undefined))
        yield* Effect.sleep("20 millis")
        expect(errors.map((e) => (e as { _tag?: string })._tag)).toContain("ECONNREFUSED")
        expect((errors.find((e) => (e as { _tag?: string })._tag === "ECONNREFUSED") as { code: string }).code).toBe(
          "ECONNREFUSED"
        )
        nobody.disconnect()
      }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )

  it.live("on TestNetwork: the Duplex writes, reads, ends, and 'close' closes the handle", () =>
    Effect.gen(function* () {
      const listener = yield* Effect.orDie(TestNetwork.listen("127.0.0.1:7000", { echo: true }))
      const socket = yield* NodeStream.open(Network.connect(listener.address))
      expect(socket).toBeInstanceOf(NodeStream.SocketDuplex)
      const echoed = yield* Effect.callback<string>((resume) => {
        socket.once("data", (chunk: Buffer | Uint8Array) => resume(Effect.succeed(Buffer.from(chunk).toString())))
        socket.write("hello")
      })
      expect(echoed).toBe("hello")
      yield* Effect.callback<void>((resume) => {
        socket.once("close", () => resume(Effect.void))
        socket.destroy()
      })
      expect(yield* Effect.orDie(listener.connections)).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )

  it.live("on NodeNetwork: the socket is the kernel net.Socket the handle connected", () =>
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1", "echo")
      const handle = yield* Network.connect(`127.0.0.1:${server.port}`)
      const socket = yield* NodeStream.fromHandle(handle)
      expect(socket).toBeInstanceOf(Net.Socket)
      expect((socket as Net.Socket).remotePort).toBe(server.port)
      // As a client-made net.Socket: not half-open.
      expect(socket.allowHalfOpen).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
  )
})
