/**
 * Toxics on live connections: each one observed from the application's side of a real
 * connection on the fake network, on TestClock, added and removed while the connection is open.
 */
import { assert, describe, it } from "@effect/vitest"
import { Network } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Clock, Effect, Exit, Fiber, Scope } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const decoder = new TextDecoder()
const text = (bytes: ReadonlyArray<Uint8Array>) => bytes.map((b) => decoder.decode(b)).join("")
const fresh =
  (options?: TestNetwork.Options) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(TestNetwork.layer(options)))

/** A client and the server's end of one connection to 127.0.0.1:7000. */
const pair = Effect.gen(function* () {
  const listener = yield* TestNetwork.listen("127.0.0.1:7000")
  const handle = yield* Network.connect("127.0.0.1:7000")
  const client = yield* handle.socket
  const server = (yield* listener.accept).socket
  return {
    clientWriter: yield* client.writer,
    clientPull: yield* Socket.readerBytes(client),
    serverWriter: yield* server.writer,
    serverPull: yield* Socket.readerBytes(server)
  }
})

/** Pulls until `count` bytes arrived; each pull with the time it returned. */
const readBytes = (pull: Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError>, count: number) =>
  Effect.gen(function* () {
    const arrivals: Array<{ readonly at: number; readonly bytes: string }> = []
    let got = 0
    while (got < count) {
      const chunks = yield* pull
      const bytes = text(chunks)
      got += bytes.length
      arrivals.push({ at: yield* Clock.currentTimeMillis, bytes })
    }
    return arrivals
  })

const reasonOf = (pull: Effect.Effect<unknown, Socket.SocketError>) =>
  Effect.map(Effect.flip(pull), (error) => {
    const reason = error.reason
    if (reason._tag === "SocketCloseError") return `close ${reason.code}`
    const cause = (reason as { readonly cause?: { readonly _tag?: string } }).cause
    return `${reason._tag} ${cause?._tag ?? ""}`.trim()
  })

describe("TestNetwork toxics", () => {
  it.effect("latency with jitter, downstream only, added and removed on an open connection", () =>
    Effect.gen(function* () {
      const c = yield* pair
      const scope = yield* Scope.make()
      yield* Scope.provide(
        TestNetwork.toxic("127.0.0.1:7000", { type: "latency", latency: "100 millis", jitter: "20 millis" }),
        scope
      )
      // Upstream is untouched: the server reads at once.
      yield* c.clientWriter.write("ping")
      assert.strictEqual(text(yield* c.serverPull), "ping")
      const reading = yield* Effect.forkChild(readBytes(c.clientPull, 4))
      yield* c.serverWriter.write("pong")
      yield* TestNetwork.advanceUntilIdle
      const [arrival] = yield* Fiber.join(reading)
      assert.strictEqual(arrival!.bytes, "pong")
      assert.isTrue(arrival!.at >= 100 && arrival!.at <= 120, `arrived at ${arrival!.at}`)
      // Removed: the next reply is immediate.
      yield* Scope.close(scope, Exit.void)
      const start = yield* Clock.currentTimeMillis
      yield* c.serverWriter.write("fast")
      assert.strictEqual(text(yield* c.clientPull), "fast")
      assert.strictEqual(yield* Clock.currentTimeMillis, start)
      const toxicLines = (yield* TestNetwork.journal).filter((e) => e.op === "toxic").map((e) => e.outcome)
      assert.deepStrictEqual(toxicLines, ["added latency downstream", "removed latency downstream"])
    }).pipe(Effect.scoped, fresh({ seed: 3 }))
  )

  it.effect("latency keeps order: a later chunk never overtakes, and the same seed gives the same times", () =>
    Effect.gen(function* () {
      const run = Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        const c = yield* pair
        yield* TestNetwork.toxic(
          "*",
          { type: "latency", latency: "10 millis", jitter: "50 millis" },
          { direction: "upstream" }
        )
        for (const letter of "abcdef") yield* c.clientWriter.write(letter)
        const reading = yield* Effect.forkChild(readBytes(c.serverPull, 6))
        yield* TestNetwork.advanceUntilIdle
        return (yield* Fiber.join(reading)).map((a) => ({ ...a, at: a.at - start }))
      }).pipe(Effect.scoped)
      const first = yield* run.pipe(fresh({ seed: 11 }))
      const second = yield* run.pipe(fresh({ seed: 11 }))
      assert.strictEqual(first.map((a) => a.bytes).join(""), "abcdef")
      const times = first.map((a) => a.at)
      assert.deepStrictEqual(
        times,
        [...times].sort((a, b) => a - b)
      )
      assert.deepStrictEqual(second, first)
    })
  )

  it.effect("bandwidth: 1000 bytes at 100 bytes/s take 10 s, arriving in pieces", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "bandwidth", bytesPerSecond: 100 }, { direction: "upstream" })
      yield* c.clientWriter.write(new Uint8Array(1000).fill(120))
      const reading = yield* Effect.forkChild(readBytes(c.serverPull, 1000))
      yield* TestNetwork.advanceUntilIdle
      const arrivals = yield* Fiber.join(reading)
      assert.strictEqual(arrivals.at(-1)!.at, 10_000)
      assert.isTrue(arrivals.length >= 10, `${arrivals.length} pieces`)
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("slicer: one write arrives as small pieces, delay apart", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "slicer", averageSize: 3, delay: "5 millis" })
      yield* c.serverWriter.write("abcdefghi")
      const reading = yield* Effect.forkChild(readBytes(c.clientPull, 9))
      yield* TestNetwork.advanceUntilIdle
      const arrivals = yield* Fiber.join(reading)
      assert.deepStrictEqual(arrivals, [
        { at: 0, bytes: "abc" },
        { at: 5, bytes: "def" },
        { at: 10, bytes: "ghi" }
      ])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("timeout: nothing gets through, then the connection closes after the timeout", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "timeout", timeout: "2 seconds" })
      yield* c.serverWriter.write("lost")
      const reading = yield* Effect.forkChild(reasonOf(c.clientPull))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(reading.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(reading), "close 1000")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("timeout without a duration never closes; removing it lets new bytes through", () =>
    Effect.gen(function* () {
      const c = yield* pair
      const scope = yield* Scope.make()
      yield* Scope.provide(TestNetwork.toxic("127.0.0.1:7000", { type: "timeout" }), scope)
      yield* c.serverWriter.write("dropped")
      const reading = yield* Effect.forkChild(c.clientPull)
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(reading.pollUnsafe())
      yield* Scope.close(scope, Exit.void)
      yield* c.serverWriter.write("after")
      assert.strictEqual(text(yield* Fiber.join(reading)), "after")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("reset_peer after N ms: both ends read ECONNRESET", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "reset_peer", after: "300 millis" })
      const client = yield* Effect.forkChild(reasonOf(c.clientPull))
      const server = yield* Effect.forkChild(reasonOf(c.serverPull))
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(yield* Fiber.join(client), "SocketReadError ECONNRESET")
      assert.strictEqual(yield* Fiber.join(server), "SocketReadError ECONNRESET")
      const lines = (yield* TestNetwork.journal).filter((e) => e.op === "toxic").map((e) => `${e.at} ${e.outcome}`)
      assert.deepStrictEqual(lines, ["0 added reset_peer downstream", "300 reset_peer: reset"])
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("reset_peer after N bytes: the first N arrive, then the reset", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "reset_peer", bytes: 4 }, { direction: "upstream" })
      yield* c.clientWriter.write("abcdefgh")
      assert.strictEqual(yield* reasonOf(c.serverPull), "SocketReadError ECONNRESET")
      assert.strictEqual(yield* reasonOf(c.clientPull), "SocketReadError ECONNRESET")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("limit_data: N bytes go through, then the connection closes cleanly", () =>
    Effect.gen(function* () {
      const c = yield* pair
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "limit_data", bytes: 5 })
      yield* c.serverWriter.write("abc")
      yield* c.serverWriter.write("defgh")
      assert.strictEqual(text(yield* c.clientPull), "abcde")
      assert.strictEqual(yield* reasonOf(c.clientPull), "close 1000")
      // The connection is closed: the server's next write fails (EPIPE).
      const write = yield* Effect.flip(c.serverWriter.write("more"))
      assert.strictEqual(write.reason._tag, "SocketWriteError")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("slow_close: the FIN arrives late, the data does not", () =>
    Effect.gen(function* () {
      const listener = yield* TestNetwork.listen("127.0.0.1:7000")
      yield* TestNetwork.toxic("127.0.0.1:7000", { type: "slow_close", delay: "5 seconds" })
      const handle = yield* Network.connect("127.0.0.1:7000")
      const clientPull = yield* Socket.readerBytes(yield* handle.socket)
      const server = yield* listener.accept
      const writer = yield* Effect.scoped(Effect.flatMap(server.socket.writer, (w) => Effect.as(w.write("bye"), w)))
      assert.isDefined(writer)
      assert.strictEqual(text(yield* clientPull), "bye")
      const end = yield* Effect.forkChild(reasonOf(clientPull))
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(end.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(end), "close 1000")
    }).pipe(Effect.scoped, fresh())
  )

  it.effect("bad toxics are InvalidInput and change nothing", () =>
    Effect.gen(function* () {
      const bad: ReadonlyArray<TestNetwork.Toxic> = [
        { type: "bandwidth", bytesPerSecond: 0 },
        { type: "latency", latency: -1 },
        { type: "slicer", averageSize: 2, sizeVariation: 2 },
        { type: "limit_data", bytes: 1.5 },
        { type: "what" } as unknown as TestNetwork.Toxic
      ]
      for (const toxic of bad) {
        const error = yield* Effect.flip(TestNetwork.toxic("127.0.0.1:7000", toxic))
        assert.strictEqual(error._tag, "InvalidInput")
      }
      const direction = yield* Effect.flip(
        TestNetwork.toxic("127.0.0.1:7000", { type: "timeout" }, { direction: "sideways" as "upstream" })
      )
      assert.strictEqual(direction._tag, "InvalidInput")
      const c = yield* pair
      yield* c.serverWriter.write("clean")
      assert.strictEqual(text(yield* c.clientPull), "clean")
      assert.deepStrictEqual(
        (yield* TestNetwork.journal).filter((e) => e.op === "toxic"),
        []
      )
    }).pipe(Effect.scoped, fresh())
  )
})
