import { assert, describe, it } from "@effect/vitest"
import { type ConnectError, Errno, Network, SockAddr } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Cause, Clock, Effect, Equal, Exit, Fiber, Option, Result, Scope } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const at = (text: string) => Result.getOrThrow(SockAddr.fromString(text))
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Every test gets a fresh network. */
const fresh =
  (options?: TestNetwork.Options) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(TestNetwork.layer(options)))

const now = Clock.currentTimeMillis

/** The journal lines of one operation, as `at outcome`. */
const lines = (op: TestNetwork.Operation) =>
  Effect.map(TestNetwork.journal, (entries) =>
    entries.filter((entry) => entry.op === op).map((entry) => `${entry.at} ${entry.outcome}`)
  )

/** Forks a scoped connect; the fiber ends with the handle's error, or "connected". */
const forkConnect = (address: SockAddr.Input, options?: Parameters<typeof Network.connect>[1]) =>
  Effect.forkChild(
    Effect.scoped(Network.connect(address, options)).pipe(
      Effect.as("connected" as string),
      Effect.catch((error) => Effect.succeed(error._tag))
    )
  )

const pending = <A, E>(fiber: Fiber.Fiber<A, E>) => assert.isUndefined(fiber.pollUnsafe(), "still running")

const text = (bytes: ReadonlyArray<Uint8Array>) => bytes.map((b) => decoder.decode(b)).join("")

/** The reason of a failed pull. */
const pullFailure = (pull: Effect.Effect<unknown, Socket.SocketError>) =>
  Effect.map(Effect.flip(pull), (error) => error.reason)

describe("TestNetwork: failures, like the kernel's", () => {
  it.effect("nothing listening on inet: ECONNREFUSED at once (t = 0) with core's fields", () =>
    Effect.gen(function* () {
      const address = at("127.0.0.1:4000")
      const error = yield* Effect.flip(Network.connect(address))
      assert.strictEqual(error._tag, "ECONNREFUSED")
      const refused = error as ConnectError.ECONNREFUSED
      assert.strictEqual(refused.errno, 111)
      assert.strictEqual(refused.syscall, "connect")
      assert.isTrue(refused.address !== undefined && Equal.equals(refused.address, address))
      assert.isUndefined(refused.localAddress)
      assert.strictEqual(yield* now, 0)
      assert.deepStrictEqual((yield* TestNetwork.journal).map(TestNetwork.formatEntry), [
        "0ms #1 open stream 127.0.0.1:4000 ok",
        "0ms #1 connect stream 127.0.0.1:4000 (local 127.0.0.1:32768) ECONNREFUSED",
        "0ms #1 close stream 127.0.0.1:4000 (local 127.0.0.1:32768) ok"
      ])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a refusal takes the address's latency: one round trip", () =>
    Effect.gen(function* () {
      yield* TestNetwork.latency("127.0.0.1:4000", { base: "30 millis" })
      const fiber = yield* forkConnect("127.0.0.1:4000")
      yield* TestClock.adjust(29)
      pending(fiber)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), "ECONNREFUSED")
      assert.deepStrictEqual(yield* lines("connect"), ["30 ECONNREFUSED"])
    }).pipe(fresh())
  )

  it.effect("a missing unix path is ENOENT; a missing abstract name is ECONNREFUSED", () =>
    Effect.gen(function* () {
      const path = yield* Effect.flip(Network.connect("unix:/run/nothing.sock"))
      assert.strictEqual(path._tag, "ENOENT")
      const abstract = yield* Effect.flip(Network.connect("unix:@nothing"))
      assert.strictEqual(abstract._tag, "ECONNREFUSED")
      assert.strictEqual(yield* now, 0)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("blackhole + deadline 2 s: DeadlineExceeded at exactly 2000 ms, the attempt closed", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("127.0.0.1:9", ["blackhole"])
      const handle = yield* Network.open("stream")
      const fiber = yield* Effect.forkChild(Effect.flip(handle.connect("127.0.0.1:9", { deadline: "2 seconds" })))
      yield* TestClock.adjust(1999)
      pending(fiber)
      yield* TestClock.adjust(1)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      const state = yield* handle.state
      assert.isTrue(state._tag === "Failed" && state.error._tag === "DeadlineExceeded")
      assert.deepStrictEqual(yield* lines("connect"), ["2000 interrupted"])
      assert.deepStrictEqual(yield* lines("close"), ["2000 ok"])
      assert.strictEqual((yield* TestNetwork.faultCoverage).get("DeadlineExceeded"), 1)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("blackhole without a deadline: ETIMEDOUT at the kernel timeout (127 s by default)", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("127.0.0.1:9", ["blackhole"])
      const fiber = yield* forkConnect("127.0.0.1:9")
      yield* TestClock.adjust(126_999)
      pending(fiber)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), "ETIMEDOUT")
      assert.deepStrictEqual(yield* lines("connect"), ["127000 ETIMEDOUT"])
    }).pipe(fresh())
  )

  it.effect("kernelTimeout is configurable and advanceUntilIdle lands on it", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("127.0.0.1:9", ["blackhole"])
      const fiber = yield* forkConnect("127.0.0.1:9")
      yield* TestNetwork.advanceUntilIdle
      assert.strictEqual(yield* Fiber.join(fiber), "ETIMEDOUT")
      assert.strictEqual(yield* now, 3000)
      assert.isFalse(yield* TestNetwork.advanceToNextEvent)
    }).pipe(fresh({ kernelTimeout: "3 seconds" }))
  )

  it.effect("every errno of the table can be injected, with its number", () =>
    Effect.gen(function* () {
      for (const name of Errno.names) {
        const address = at("127.0.0.1:7000")
        yield* TestNetwork.script(address, [{ errno: name }])
        const error = yield* Effect.flip(Network.connect(address))
        assert.strictEqual(error._tag, name)
        const typed = error as ConnectError.ConnectError
        assert.strictEqual(typed.errno, Errno.table[name].number)
        assert.strictEqual(typed.syscall, "connect")
      }
      assert.strictEqual(yield* now, 0)
      assert.strictEqual((yield* TestNetwork.faultCoverage).size, Errno.names.length)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a script runs in order and its last outcome repeats", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.script("127.0.0.1:7000", [
        "refuse",
        { errno: "EINTR" },
        "reset",
        { delay: "3 seconds" },
        { delay: "1 second", outcome: "refuse" },
        "accept"
      ])
      const outcomes: Array<string> = []
      for (let i = 0; i < 7; i++) {
        const fiber = yield* forkConnect("127.0.0.1:7000")
        yield* TestNetwork.advanceUntilIdle
        outcomes.push(`${yield* now} ${yield* Fiber.join(fiber)}`)
      }
      assert.deepStrictEqual(outcomes, [
        "0 ECONNREFUSED",
        "0 EINTR",
        "0 ECONNRESET",
        "3000 connected",
        "4000 ECONNREFUSED",
        "4000 connected",
        "4000 connected"
      ])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a scripted accept with no listener reaches an implicit echo peer", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("10.1.2.3:80", ["accept"])
      const handle = yield* Network.connect("10.1.2.3:80")
      const socket = yield* handle.socket
      const writer = yield* socket.writer
      yield* writer.write("echo?")
      const pull = yield* Socket.readerBytes(socket)
      assert.strictEqual(text(yield* pull), "echo?")
      // A non-loopback destination gets the host's own source address.
      const local = yield* handle.localAddress
      assert.isTrue(Option.isSome(local) && SockAddr.format(local.value).startsWith("192.0.2.1:"))
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("script validation: unknown outcomes are InvalidInput; [] removes the script", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(TestNetwork.script("127.0.0.1:7000", [{ errno: "EWHAT" as Errno.Name }]))
      assert.strictEqual(bad._tag, "InvalidInput")
      const badDelay = yield* Effect.flip(TestNetwork.script("127.0.0.1:7000", [{ delay: -5 }]))
      assert.strictEqual(badDelay._tag, "InvalidInput")
      yield* TestNetwork.script("127.0.0.1:7000", [{ errno: "EPERM" }])
      yield* TestNetwork.script("127.0.0.1:7000", [])
      const error = yield* Effect.flip(Network.connect("127.0.0.1:7000"))
      assert.strictEqual(error._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: listeners", () => {
  it.effect("permission deny on a unix socket is EACCES", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("unix:/run/private.sock", { permission: "deny" })
      const error = yield* Effect.flip(Network.connect("unix:/run/private.sock"))
      assert.strictEqual(error._tag, "EACCES")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a unix listener that never accepts: backlog + 1 connect, then EAGAIN at once", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("unix:@busy", { backlog: 1, accept: false })
      yield* Network.connect("unix:@busy")
      yield* Network.connect("unix:@busy")
      assert.strictEqual(yield* listener.pending, 2)
      const error = yield* Effect.flip(Network.connect("unix:@busy"))
      assert.strictEqual(error._tag, "EAGAIN")
      assert.strictEqual(yield* now, 0)
      // Taking one from the queue makes room again.
      yield* listener.accept
      yield* Network.connect("unix:@busy")
      assert.strictEqual(yield* listener.connections, 3)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("an inet listener with a full backlog drops the SYN: the connect hangs to ETIMEDOUT", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { backlog: 0, accept: false })
      yield* Network.connect("127.0.0.1:7000")
      const fiber = yield* forkConnect("127.0.0.1:7000")
      yield* TestClock.adjust("126 seconds")
      pending(fiber)
      yield* TestNetwork.advanceUntilIdle
      assert.strictEqual(yield* Fiber.join(fiber), "ETIMEDOUT")
      assert.strictEqual(yield* now, 127_000)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("listening twice is EADDRINUSE from bind; port 0 picks an ephemeral port; unspec is InvalidInput", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000")
      const taken = yield* Effect.flip(TestNetwork.listen("127.0.0.1:7000"))
      assert.strictEqual(taken._tag, "EADDRINUSE")
      assert.strictEqual((taken as ConnectError.EADDRINUSE).syscall, "bind")
      const wildcard = yield* Effect.flip(TestNetwork.listen("0.0.0.0:7000"))
      assert.strictEqual(wildcard._tag, "EADDRINUSE")
      const any = yield* TestNetwork.listen("127.0.0.1:0")
      assert.strictEqual(SockAddr.format(any.address), "127.0.0.1:32768")
      const invalid = yield* Effect.flip(TestNetwork.listen("unspec"))
      assert.strictEqual(invalid._tag, "InvalidInput")
      const seqpacketInet = yield* Effect.flip(TestNetwork.listen("127.0.0.1:7001", { type: "seqpacket" }))
      assert.strictEqual(seqpacketInet._tag, "InvalidInput")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a wildcard listener takes connects to any address of its family and port", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("0.0.0.0:7000")
      yield* Network.connect("127.0.0.1:7000")
      const connection = yield* listener.accept
      assert.strictEqual(SockAddr.format(connection.local), "127.0.0.1:7000")
      assert.strictEqual(SockAddr.format(connection.peer), "127.0.0.1:32768")
      const v6 = yield* Effect.flip(Network.connect("[::1]:7000"))
      assert.strictEqual(v6._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("seqpacket: a unix listener of the other type is EPROTOTYPE; messages keep their boundaries", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("unix:@stream")
      const wrongType = yield* Network.open("seqpacket")
      const error = yield* Effect.flip(wrongType.connect("unix:@stream"))
      assert.strictEqual(error._tag, "EPROTOTYPE")

      const listener = yield* TestNetwork.listen("unix:@packets", { type: "seqpacket" })
      const handle = yield* Network.open("seqpacket")
      yield* handle.connect("unix:@packets")
      const writer = yield* (yield* handle.socket).writer
      yield* writer.write("one")
      yield* writer.write("two")
      const server = yield* listener.accept
      const pull = yield* Socket.readerBytes(server.socket)
      assert.deepStrictEqual(
        (yield* pull).map((m) => decoder.decode(m)),
        ["one", "two"]
      )

      const inet = yield* Network.open("seqpacket")
      const unsupported = yield* Effect.flip(inet.connect("127.0.0.1:7000"))
      assert.strictEqual(unsupported._tag, "Unsupported")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("closing a listener resets the connections in its backlog; accept is then EBADF", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const listener = yield* Scope.provide(TestNetwork.listen("127.0.0.1:7000"), scope)
      const handle = yield* Network.connect("127.0.0.1:7000")
      const pull = yield* Socket.readerBytes(yield* handle.socket)
      yield* Scope.close(scope, Exit.void)
      const reason = yield* pullFailure(pull)
      assert.strictEqual(reason._tag, "SocketReadError")
      assert.strictEqual(((reason as Socket.SocketReadError).cause as ConnectError.ConnectError)._tag, "ECONNRESET")
      const accept = yield* Effect.flip(listener.accept)
      assert.strictEqual(accept._tag, "EBADF")
      const refused = yield* Effect.flip(Network.connect("127.0.0.1:7000"))
      assert.strictEqual(refused._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("linger 0: closing resets, the peer reads ECONNRESET; without it the peer reads a clean end", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      const endSeen = (options: Network.OpenOptions) =>
        Effect.gen(function* () {
          const client = yield* Scope.make()
          yield* Scope.provide(Network.connect("127.0.0.1:7000", options), client)
          const server = yield* listener.accept
          const pull = yield* Socket.readerBytes(server.socket)
          yield* Scope.close(client, Exit.void)
          const reason = yield* pullFailure(pull)
          return reason._tag === "SocketReadError"
            ? ((reason as Socket.SocketReadError).cause as ConnectError.ConnectError)._tag
            : `${reason._tag} ${(reason as Socket.SocketCloseError).code}`
        })
      assert.strictEqual(yield* endSeen({ linger: 0 }), "ECONNRESET")
      assert.strictEqual(yield* endSeen({}), "SocketCloseError 1000")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: byte streams", () => {
  it.effect("client and server exchange bytes; closing one side ends the other's reader with close 1000", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      const handle = yield* Network.connect("127.0.0.1:7000")
      const client = yield* handle.socket
      const server = yield* listener.accept
      assert.isTrue(Equal.equals(server.peer, Option.getOrThrow(yield* handle.localAddress)))

      const clientWriter = yield* client.writer
      yield* clientWriter.write("hello")
      const serverPull = yield* Socket.readerBytes(server.socket)
      assert.strictEqual(text(yield* serverPull), "hello")

      const serverWriter = yield* server.socket.writer
      yield* serverWriter.writeAll(["wor", "ld"])
      yield* server.close
      const clientPull = yield* Socket.readerBytes(client)
      // What was sent before the close is still delivered, then the clean end.
      assert.strictEqual(text(yield* clientPull), "world")
      const end = yield* pullFailure(clientPull)
      assert.strictEqual(end._tag, "SocketCloseError")
      assert.strictEqual((end as Socket.SocketCloseError).code, 1000)
      // Writing to a closed peer fails.
      const write = yield* Effect.flip(clientWriter.write("late"))
      assert.strictEqual(write.reason._tag, "SocketWriteError")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("releasing the writer half-closes: the server reads the end after the data", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("unix:/run/app.sock")
      const handle = yield* Network.connect("unix:/run/app.sock")
      const client = yield* handle.socket
      yield* Effect.scoped(Effect.flatMap(client.writer, (writer) => writer.write("last words")))
      const server = yield* listener.accept
      const pull = yield* Socket.readerBytes(server.socket)
      assert.strictEqual(text(yield* pull), "last words")
      const end = yield* pullFailure(pull)
      assert.strictEqual((end as Socket.SocketCloseError).code, 1000)
      // The other direction still works.
      const writer = yield* server.socket.writer
      yield* writer.write("reply")
      assert.strictEqual(text(yield* yield* Socket.readerBytes(client)), "reply")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("closing a reader's scope fails its suspended pull (close 1006); a reset fails with ECONNRESET", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      const handle = yield* Network.connect("127.0.0.1:7000")
      const client = yield* handle.socket
      const readScope = yield* Scope.make()
      const pull = yield* Scope.provide(Socket.readerBytes(client), readScope)
      const waiting = yield* Effect.forkChild(pullFailure(pull))
      yield* Effect.yieldNow
      pending(waiting)
      yield* Scope.close(readScope, Exit.void)
      const closed = yield* Fiber.join(waiting)
      assert.strictEqual((closed as Socket.SocketCloseError).code, 1006)

      const server = yield* listener.accept
      const reader = yield* Socket.readerBytes(client)
      yield* server.reset
      const reset = yield* pullFailure(reader)
      assert.strictEqual(reset._tag, "SocketReadError")
      assert.strictEqual(((reset as Socket.SocketReadError).cause as ConnectError.ConnectError)._tag, "ECONNRESET")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: ports", () => {
  it.effect("exhausted ephemeral ports: EADDRNOTAVAIL; a closed connection gives its port back", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      const first = yield* Scope.make()
      const a = yield* Scope.provide(Network.connect("127.0.0.1:7000"), first)
      const b = yield* Network.connect("127.0.0.1:7000")
      assert.strictEqual(SockAddr.format(Option.getOrThrow(yield* a.localAddress)), "127.0.0.1:40000")
      assert.strictEqual(SockAddr.format(Option.getOrThrow(yield* b.localAddress)), "127.0.0.1:40001")
      const error = yield* Effect.flip(Network.connect("127.0.0.1:7000"))
      assert.strictEqual(error._tag, "EADDRNOTAVAIL")
      assert.strictEqual((error as ConnectError.EADDRNOTAVAIL).syscall, "connect")
      yield* Scope.close(first, Exit.void)
      const c = yield* Network.connect("127.0.0.1:7000")
      assert.strictEqual(SockAddr.format(Option.getOrThrow(yield* c.localAddress)), "127.0.0.1:40000")
    }).pipe(Effect.scoped, fresh({ ephemeralPorts: { from: 40000, to: 40001 } }))
  )

  it.effect("binding a taken local port is EADDRINUSE from bind; port 0 binds the requested IP", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      const fixed = yield* Network.connect("127.0.0.1:7000", { local: "127.0.0.1:5555" })
      assert.strictEqual(SockAddr.format(Option.getOrThrow(yield* fixed.localAddress)), "127.0.0.1:5555")
      const error = yield* Effect.flip(Network.connect("127.0.0.1:7000", { local: "127.0.0.1:5555" }))
      assert.strictEqual(error._tag, "EADDRINUSE")
      const taken = error as ConnectError.EADDRINUSE
      assert.strictEqual(taken.syscall, "bind")
      assert.strictEqual(SockAddr.format(taken.localAddress!), "127.0.0.1:5555")
      const any = yield* Network.connect("127.0.0.1:7000", { local: "127.0.0.2:0" })
      assert.strictEqual(SockAddr.format(Option.getOrThrow(yield* any.localAddress)), "127.0.0.2:32768")
      assert.deepStrictEqual(yield* lines("bind"), ["0 ok", "0 EADDRINUSE", "0 ok"])
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: time", () => {
  it.effect("latency adds exactly its base to a handshake", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.latency("127.0.0.1:7000", { base: "30 millis" })
      const fiber = yield* forkConnect("127.0.0.1:7000")
      yield* TestClock.adjust(29)
      pending(fiber)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), "connected")
      assert.deepStrictEqual(yield* lines("connect"), ["30 ok"])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("jitter draws whole milliseconds within base..base+jitter from the seeded generator", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.latency("*", { base: "10 millis", jitter: "20 millis" })
      const durations: Array<number> = []
      for (let i = 0; i < 30; i++) {
        const started = yield* now
        const fiber = yield* forkConnect("127.0.0.1:7000")
        yield* TestNetwork.advanceUntilIdle
        assert.strictEqual(yield* Fiber.join(fiber), "connected")
        durations.push((yield* now) - started)
      }
      for (const duration of durations) {
        assert.isTrue(Number.isInteger(duration) && duration >= 10 && duration <= 30, `${duration}`)
      }
      assert.isAbove(new Set(durations).size, 5)
    }).pipe(Effect.scoped, fresh({ seed: 1 }))
  )

  it.effect("a hold parks attempts until released, one at a time or all", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      const hold = yield* TestNetwork.hold("127.0.0.1:7000")
      const first = yield* forkConnect("127.0.0.1:7000")
      const second = yield* forkConnect("127.0.0.1:7000")
      yield* hold.awaitParked(2)
      assert.strictEqual(yield* hold.parked, 2)
      yield* TestClock.adjust("1 minute")
      pending(first)
      assert.isTrue(yield* hold.releaseOne)
      assert.strictEqual(yield* Fiber.join(first), "connected")
      pending(second)
      yield* TestClock.adjust("1 minute")
      yield* hold.release
      assert.strictEqual(yield* Fiber.join(second), "connected")
      assert.isFalse(yield* hold.releaseOne)
      assert.deepStrictEqual(yield* lines("connect"), ["60000 ok", "120000 ok"])
      // Released: connects go straight through.
      yield* Network.connect("127.0.0.1:7000")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a parked attempt still obeys its deadline, and a hold ends with its scope", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      const scope = yield* Scope.make()
      const hold = yield* Scope.provide(TestNetwork.hold("127.0.0.1:7000"), scope)
      const again = yield* Effect.flip(TestNetwork.hold("127.0.0.1:7000"))
      assert.strictEqual(again._tag, "InvalidInput")
      const timed = yield* forkConnect("127.0.0.1:7000", { deadline: "5 seconds" })
      const patient = yield* forkConnect("127.0.0.1:7000")
      yield* hold.awaitParked(2)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(timed), "DeadlineExceeded")
      assert.strictEqual(yield* hold.parked, 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Fiber.join(patient), "connected")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a partition is a blackhole that heals when its scope closes", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.listen("127.0.0.1:7001", { echo: true })
      const scope = yield* Scope.make()
      yield* Scope.provide(TestNetwork.partition("127.0.0.1", "127.0.0.1:7000"), scope)
      const cut = yield* forkConnect("127.0.0.1:7000")
      // Other addresses are not affected.
      yield* Network.connect("127.0.0.1:7001")
      yield* TestClock.adjust("10 seconds")
      pending(cut)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Fiber.join(cut), "connected")
      assert.deepStrictEqual(yield* lines("connect"), ["0 ok", "10000 ok"])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a partition never healed ends in ETIMEDOUT; with an errno it fails at once", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.partition("*", "127.0.0.1:7000")
      const fiber = yield* forkConnect("127.0.0.1:7000")
      yield* TestNetwork.advanceUntilIdle
      assert.strictEqual(yield* Fiber.join(fiber), "ETIMEDOUT")
      assert.strictEqual(yield* now, 127_000)

      yield* TestNetwork.listen("[::1]:7000", { echo: true })
      yield* TestNetwork.partition("::1", "[::1]:7000", { errno: "EHOSTUNREACH" })
      const error = yield* Effect.flip(Network.connect("[::1]:7000"))
      assert.strictEqual(error._tag, "EHOSTUNREACH")
      assert.strictEqual(yield* now, 127_000)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("advanceToNextEvent steps from network timer to network timer", () =>
    Effect.gen(function* () {
      assert.isFalse(yield* TestNetwork.advanceToNextEvent)
      yield* TestNetwork.script("127.0.0.1:1", [{ delay: "3 seconds", outcome: "refuse" }])
      yield* TestNetwork.script("127.0.0.1:2", ["blackhole"])
      const delayed = yield* forkConnect("127.0.0.1:1")
      const lost = yield* forkConnect("127.0.0.1:2")
      assert.isTrue(yield* TestNetwork.advanceToNextEvent)
      assert.strictEqual(yield* now, 3000)
      assert.strictEqual(yield* Fiber.join(delayed), "ECONNREFUSED")
      pending(lost)
      assert.isTrue(yield* TestNetwork.advanceToNextEvent)
      assert.strictEqual(yield* now, 127_000)
      assert.strictEqual(yield* Fiber.join(lost), "ETIMEDOUT")
      assert.isFalse(yield* TestNetwork.advanceToNextEvent)
    }).pipe(fresh())
  )

  it.live("advancing needs the TestClock: on a live clock it is a defect, not a hang", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(TestNetwork.advanceToNextEvent)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    }).pipe(fresh())
  )
})

describe("TestNetwork: datagrams", () => {
  it.effect("a bound port receives from a datagram handle and answers it", () =>
    Effect.gen(function* () {
      const port = yield* TestNetwork.bindDatagram("127.0.0.1:5353")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(port.address)
      yield* handle.send(encoder.encode("query"))
      const { data, from } = yield* port.receive
      assert.strictEqual(decoder.decode(data), "query")
      assert.isTrue(Equal.equals(from, Option.getOrThrow(yield* handle.localAddress)))
      yield* port.send(encoder.encode("answer"), from)
      assert.strictEqual(decoder.decode(yield* handle.receive), "answer")
      assert.strictEqual(yield* port.received, 1)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("sending to a port with nothing bound: the next receive fails with ECONNREFUSED (recv)", () =>
    Effect.gen(function* () {
      const handle = yield* Network.open("datagram")
      yield* handle.connect("127.0.0.1:9999")
      yield* handle.send(encoder.encode("anyone?"))
      const error = yield* Effect.flip(handle.receive)
      assert.strictEqual(error._tag, "ECONNREFUSED")
      assert.strictEqual((error as ConnectError.ECONNREFUSED).syscall, "recv")
      // Reported once, like sk_err.
      const waiting = yield* Effect.forkChild(handle.receive)
      yield* Effect.yieldNow
      pending(waiting)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual((yield* TestNetwork.faultCoverage).get("ECONNREFUSED"), 1)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a waiting receive is woken by the port-unreachable", () =>
    Effect.gen(function* () {
      const handle = yield* Network.open("datagram")
      yield* handle.connect("127.0.0.1:9999")
      const waiting = yield* Effect.forkChild(Effect.flip(handle.receive))
      yield* Effect.yieldNow
      yield* handle.send(encoder.encode("ping"))
      assert.strictEqual((yield* Fiber.join(waiting))._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("disconnect returns an autobound port; a connected socket ignores other senders", () =>
    Effect.gen(function* () {
      const peer = yield* TestNetwork.bindDatagram("127.0.0.1:5353")
      const stranger = yield* TestNetwork.bindDatagram("127.0.0.1:5454")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(peer.address)
      const local = Option.getOrThrow(yield* handle.localAddress)
      yield* stranger.send(encoder.encode("spam"), local)
      yield* peer.send(encoder.encode("real"), local)
      assert.strictEqual(decoder.decode(yield* handle.receive), "real")
      yield* handle.disconnect
      assert.isTrue(Option.isNone(yield* handle.localAddress))
      assert.deepStrictEqual(yield* lines("disconnect"), ["0 ok"])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("a partition drops datagrams silently; a unix datagram connect is the kernel's, not Unsupported", () =>
    Effect.gen(function* () {
      const port = yield* TestNetwork.bindDatagram("127.0.0.1:5353", { echo: true })
      yield* TestNetwork.partition("*", "127.0.0.1:5353")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(port.address)
      yield* handle.send(encoder.encode("lost"))
      assert.strictEqual(yield* port.received, 0)
      const unix = yield* Network.open("datagram")
      // An abstract name nobody holds (UnixDatagram.test.ts has the rest).
      const error = yield* Effect.flip(unix.connect("unix:@dgram"))
      assert.strictEqual(error._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork: journal and fault coverage", () => {
  it.effect("the journal records listen, open, connect, accept and close with virtual times", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      yield* TestNetwork.latency("127.0.0.1:7000", { base: "25 millis" })
      const fiber = yield* Effect.forkChild(
        Effect.scoped(Effect.andThen(Network.connect("127.0.0.1:7000"), Effect.sleep("1 second")))
      )
      yield* TestClock.adjust(25)
      const server = yield* listener.accept
      yield* TestClock.adjust(100)
      yield* server.close
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual((yield* TestNetwork.journal).map(TestNetwork.formatEntry), [
        "0ms #1 listen stream 127.0.0.1:7000 ok",
        "0ms #2 open stream 127.0.0.1:7000 ok",
        "25ms #2 connect stream 127.0.0.1:7000 (local 127.0.0.1:32768) ok",
        "25ms #3 accept stream 127.0.0.1:32768 (local 127.0.0.1:7000) ok",
        "125ms #3 close stream 127.0.0.1:32768 (local 127.0.0.1:7000) ok",
        "1025ms #2 close stream 127.0.0.1:7000 (local 127.0.0.1:32768) ok"
      ])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("fault coverage counts the error tags that reached the application", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("127.0.0.1:9", ["blackhole"])
      yield* Effect.flip(Network.connect("127.0.0.1:1"))
      yield* Effect.flip(Network.connect("127.0.0.1:1"))
      yield* Effect.flip(Network.connect("not an address"))
      const handle = yield* Network.open("stream")
      const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:9", { deadline: "1 second" }))
      yield* Effect.yieldNow
      yield* Effect.flip(handle.connect("127.0.0.1:9"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.await(fiber)
      assert.deepStrictEqual([...(yield* TestNetwork.faultCoverage)].sort(), [
        ["DeadlineExceeded", 1],
        ["EALREADY", 1],
        ["ECONNREFUSED", 2],
        ["InvalidInput", 1]
      ])
    }).pipe(Effect.scoped, fresh())
  )
})
