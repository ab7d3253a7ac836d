/**
 * The connection-life features of #12 and the socket options of #16 whose effects are visible,
 * modelled by the fake: typed EPIPE and ECONNRESET after connect, half-open, the idle deadline,
 * the user timeout, keepalive and linger 0, each observed from the application's side on
 * TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ConnectError, type DialError, Network, Retry } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Clock, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const decoder = new TextDecoder()
const fresh =
  (options?: TestNetwork.Options) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(TestNetwork.layer(options)))

/** A handle connected to a listener on 127.0.0.1:7000, and the server's end. */
const connected = (options?: Network.OpenOptions) =>
  Effect.gen(function* () {
    const listener = yield* TestNetwork.listen("127.0.0.1:7000")
    const handle = yield* Network.connect("127.0.0.1:7000", options)
    const server = yield* listener.accept
    return { handle, server, listener }
  })

const pending = <A, E>(fiber: Fiber.Fiber<A, E>) => assert.isUndefined(fiber.pollUnsafe(), "still running")

/** The typed error of a failed handle operation, as `tag syscall`. */
const described = (error: ConnectError.ConnectError | DialError.DeadlineExceeded | { readonly _tag: string }) =>
  "syscall" in error ? `${error._tag} ${error.syscall}` : error._tag

describe("TestNetwork: typed errors after connect", () => {
  it.effect("a write after the peer closed is EPIPE (syscall write, both addresses), transient", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      yield* server.close
      assert.isTrue(Option.isNone(yield* handle.read()), "the peer's FIN ends our reads")
      // The first write after the FIN is taken (half-open); the peer's kernel answers it with RST
      // on the kernel, which the fake folds into this write's EPIPE.
      const error = yield* Effect.flip(handle.write("late"))
      assert.strictEqual(described(error), "EPIPE write")
      const epipe = error as ConnectError.EPIPE
      assert.strictEqual(String(epipe.address), "127.0.0.1:7000")
      assert.isTrue(Retry.isTransient(epipe))
      // The connection is let go: the handle can connect again.
      assert.strictEqual((yield* handle.state)._tag, "Idle")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a read waiting when the peer resets is ECONNRESET (syscall read); unread bytes are lost", () =>
    Effect.gen(function* () {
      const { handle, server, listener } = yield* connected()
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* Effect.yieldNow
      yield* server.reset
      const read = yield* Fiber.join(reading)
      assert.strictEqual(described(read), "ECONNRESET read")
      assert.isTrue(Retry.isTransient(read as ConnectError.ConnectError))
      // Gone both ways: the handle let it go, and can connect again.
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      yield* handle.connect("127.0.0.1:7000")
      // Through a socket view: the bytes the reset overtook are lost, the pull fails typed.
      const pull = yield* Socket.readerBytes(yield* handle.socket)
      const server2 = yield* listener.accept
      yield* (yield* server2.socket.writer).write("lost")
      yield* server2.reset
      const error = yield* Effect.flip(pull)
      const cause = (error.reason as Socket.SocketReadError).cause as ConnectError.ConnectError
      assert.strictEqual(described(cause), "ECONNRESET read")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("through the effect/socket view: SocketWriteError whose cause is EPIPE", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      const writer = yield* (yield* handle.socket).writer
      yield* server.close
      const error = yield* Effect.flip(writer.write("late"))
      assert.strictEqual(error.reason._tag, "SocketWriteError")
      const cause = (error.reason as Socket.SocketWriteError).cause as ConnectError.ConnectError
      assert.strictEqual(described(cause), "EPIPE write")
      assert.isTrue(Retry.isTransient(error))
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a write after the peer reset is the reset's ECONNRESET (syscall write), not EPIPE", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      const writer = yield* (yield* handle.socket).writer
      yield* server.reset
      const error = yield* Effect.flip(writer.write("after the RST"))
      const cause = (error.reason as Socket.SocketWriteError).cause as ConnectError.ConnectError
      assert.strictEqual(described(cause), "ECONNRESET write")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: half-open", () => {
  it.effect("the peer's FIN ends our reads; we still write, and the peer reads it", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      yield* Effect.scoped(Effect.flatMap(server.socket.writer, (writer) => writer.write("bye")))
      const bye = yield* handle.read()
      assert.strictEqual(decoder.decode(Option.getOrThrow(bye)[0]), "bye")
      assert.isTrue(Option.isNone(yield* handle.read()))
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      yield* handle.write("still here")
      const pull = yield* Socket.readerBytes(server.socket)
      assert.strictEqual(decoder.decode((yield* pull)[0]), "still here")
      // Our own FIN ends the connection both ways: the handle lets it go.
      yield* handle.end
      const end = yield* Effect.flip(pull)
      assert.strictEqual((end.reason as Socket.SocketCloseError).code, 1000)
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: deadlines on TestClock", () => {
  it.effect("TestClock.adjust fires a one-hour read deadline with no real waiting", () =>
    Effect.gen(function* () {
      const { handle } = yield* connected()
      const realStart = Date.now()
      const reading = yield* Effect.forkChild(Effect.flip(handle.read({ deadline: "1 hour" })))
      yield* TestClock.adjust("59 minutes")
      pending(reading)
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual((error as DialError.DeadlineExceeded).operation, "read")
      assert.strictEqual(yield* Clock.currentTimeMillis, 3_600_000)
      assert.isBelow(Date.now() - realStart, 1000, "virtual time, not real")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("the idle deadline closes a connection nothing used for that long; activity postpones it", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      yield* handle.setDeadlines({ idle: "30 seconds" })
      const serverPull = yield* Socket.readerBytes(server.socket)
      yield* TestClock.adjust("20 seconds")
      yield* handle.write("ping")
      assert.strictEqual(decoder.decode((yield* serverPull)[0]), "ping")
      // 20 s after the write: not idle for 30 s yet.
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual((error as DialError.DeadlineExceeded).operation, "idle")
      assert.strictEqual(yield* Clock.currentTimeMillis, 50_000)
      // The peer reads the end, and the handle can connect again.
      const end = yield* Effect.flip(serverPull)
      assert.strictEqual((end.reason as Socket.SocketCloseError).code, 1000)
      assert.strictEqual((yield* handle.state)._tag, "Idle")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a write deadline fires on a peer that never reads (the 4 MiB window is full)", () =>
    Effect.gen(function* () {
      const { handle } = yield* connected()
      const block = new Uint8Array(1024 * 1024)
      for (let i = 0; i < 4; i++) yield* handle.write(block, { deadline: "1 second" })
      const stuck = yield* Effect.forkChild(Effect.flip(handle.write(block, { deadline: "1 second" })))
      yield* TestClock.adjust("999 millis")
      pending(stuck)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(stuck)
      assert.strictEqual((error as DialError.DeadlineExceeded).operation, "write")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: socket options with visible effects", () => {
  it.effect("userTimeout: data written into a timeout toxic is ETIMEDOUT after the user timeout", () =>
    Effect.gen(function* () {
      const { handle } = yield* connected({ userTimeout: "5 seconds" })
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "timeout" }, { direction: "upstream" })
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* TestClock.adjust("1 second")
      yield* handle.write("into the void")
      yield* TestClock.adjust("4999 millis")
      pending(reading)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(described(error), "ETIMEDOUT read")
      assert.isTrue(Retry.isTransient(error as ConnectError.ConnectError))
      assert.strictEqual(yield* Clock.currentTimeMillis, 6000)
      const write = yield* Effect.flip(handle.write("again"))
      assert.notStrictEqual(write._tag, "DeadlineExceeded")
      const aborts = (yield* TestNetwork.journal).filter((entry) => entry.op === "abort")
      assert.deepStrictEqual(
        aborts.map((entry) => `${entry.at} ${entry.outcome}`),
        ["6000 ETIMEDOUT (user timeout 5000 ms)"]
      )
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a partition holds a live connection's bytes; they arrive when it heals", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected()
      const serverPull = yield* Socket.readerBytes(server.socket)
      const scope = yield* Scope.make()
      yield* Scope.provide(TestNetwork.partition("127.0.0.1", "127.0.0.1"), scope)
      yield* handle.write("held")
      const reading = yield* Effect.forkChild(serverPull)
      yield* TestClock.adjust("1 minute")
      pending(reading)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(decoder.decode((yield* Fiber.join(reading))[0]), "held")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("userTimeout: a partition that heals in time costs nothing; a silent read alone never times out", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected({ userTimeout: "5 seconds" })
      // No data in flight: a silent peer alone is not a user timeout (as on Linux).
      const reading = yield* Effect.forkChild(handle.read())
      yield* TestClock.adjust("1 hour")
      pending(reading)
      const serverPull = yield* Socket.readerBytes(server.socket)
      const scope = yield* Scope.make()
      yield* Scope.provide(TestNetwork.partition("127.0.0.1", "127.0.0.1"), scope)
      yield* handle.write("during the partition")
      yield* TestClock.adjust("4 seconds")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(decoder.decode((yield* serverPull)[0]), "during the partition")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      yield* (yield* server.socket.writer).write("answer")
      const answer = yield* Fiber.join(reading)
      assert.strictEqual(decoder.decode(Option.getOrThrow(answer)[0]), "answer")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("userTimeout across a partition: ETIMEDOUT, or the partition's ICMP errno as Linux reports it", () =>
    Effect.gen(function* () {
      const abortedWith = (partition: TestNetwork.PartitionOptions) =>
        Effect.gen(function* () {
          const { handle } = yield* connected({ userTimeout: "2 seconds" })
          const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
          yield* TestNetwork.partition("127.0.0.1", "127.0.0.1", partition)
          yield* handle.write("lost")
          yield* TestClock.adjust("2 seconds")
          return described(yield* Fiber.join(reading))
        }).pipe(Effect.scoped, fresh())
      assert.strictEqual(yield* abortedWith({}), "ETIMEDOUT read")
      assert.strictEqual(yield* abortedWith({ errno: "EHOSTUNREACH" }), "EHOSTUNREACH read")
    })
  )

  it.effect("keepalive: a vanished peer is found after idle + interval * count, on TestClock", () =>
    Effect.gen(function* () {
      const { handle } = yield* connected({
        keepAlive: "60 seconds",
        keepAliveInterval: "10 seconds",
        keepAliveCount: 3
      })
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* TestClock.adjust("30 seconds")
      yield* TestNetwork.crash("127.0.0.1", { connections: "vanish" })
      // Heard last at t = 0: probes at 60, 70, 80 s, none answered; given up at 90 s.
      yield* TestClock.adjust("59999 millis")
      pending(reading)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(reading)
      assert.strictEqual(described(error), "ETIMEDOUT read")
      assert.strictEqual(yield* Clock.currentTimeMillis, 90_000)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("keepalive: a live peer answers the probes; traffic restarts the idle time", () =>
    Effect.gen(function* () {
      const { handle, server } = yield* connected({
        keepAlive: "60 seconds",
        keepAliveInterval: "10 seconds",
        keepAliveCount: 3
      })
      const serverPull = yield* Socket.readerBytes(server.socket)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      // Heard at 3600 s (our write reached the peer); it vanishes then: found at 3600 + 60 + 30 s.
      yield* handle.write("x")
      yield* serverPull
      yield* TestNetwork.crash("127.0.0.1", { connections: "vanish" })
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* TestClock.adjust("89999 millis")
      pending(reading)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(described(yield* Fiber.join(reading)), "ETIMEDOUT read")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("keepalive probes are network events: advanceUntilIdle finds a dead peer", () =>
    Effect.gen(function* () {
      const { handle } = yield* connected({
        keepAlive: "60 seconds",
        keepAliveInterval: "10 seconds",
        keepAliveCount: 3
      })
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "timeout" }, { direction: "downstream" })
      const reading = yield* Effect.forkChild(Effect.flip(handle.read()))
      yield* TestClock.adjust("60 seconds")
      yield* TestNetwork.advanceUntilIdle
      assert.strictEqual(described(yield* Fiber.join(reading)), "ETIMEDOUT read")
      assert.strictEqual(yield* Clock.currentTimeMillis, 90_000)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("linger 0 through the handle: the peer's read is ECONNRESET, its buffered bytes lost", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      const scope = yield* Scope.make()
      const handle = yield* Scope.provide(Network.connect("127.0.0.1:7000", { linger: 0 }), scope)
      const server = yield* listener.accept
      yield* handle.write("unread")
      yield* Scope.close(scope, Exit.void)
      const pull = yield* Socket.readerBytes(server.socket)
      const error = yield* Effect.flip(pull)
      const cause = (error.reason as Socket.SocketReadError).cause as ConnectError.ConnectError
      assert.strictEqual(described(cause), "ECONNRESET read")
    }).pipe(Effect.scoped, fresh())
  )
})
