/**
 * Hosts that crash and restart, and seeded fault rates: seen from an application's client on
 * the fake network, on TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Network, Retry } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Effect, Fiber, Ref } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const decoder = new TextDecoder()
const text = (bytes: ReadonlyArray<Uint8Array>) => bytes.map((b) => decoder.decode(b)).join("")
const fresh =
  (options?: TestNetwork.Options) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(TestNetwork.layer(options)))

/** A server program: listens, echoes every connection; counts its starts. */
const echoServer = (starts: Ref.Ref<number>) =>
  Effect.gen(function* () {
    yield* Ref.update(starts, (n) => n + 1)
    const listener = yield* TestNetwork.listen("10.0.0.5:7000")
    while (true) {
      const connection = yield* listener.accept
      yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            const pull = yield* Socket.readerBytes(connection.socket)
            const writer = yield* connection.socket.writer
            while (true) yield* writer.writeAll(yield* pull)
          })
        ).pipe(Effect.ignore)
      )
    }
  })

/** The application's client: connect, say `word`, read the echo. */
const session = (word: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* Network.connect("10.0.0.5:7000")
      const socket = yield* handle.socket
      const pull = yield* Socket.readerBytes(socket)
      yield* (yield* socket.writer).write(word)
      return text(yield* pull)
    })
  )

describe("TestNetwork hosts", () => {
  it.effect(
    "crash resets the host's connections and refuses connects; restart re-runs its server; the client reconnects",
    () =>
      Effect.gen(function* () {
        const starts = yield* Ref.make(0)
        yield* TestNetwork.host("10.0.0.5", echoServer(starts))
        assert.strictEqual(yield* session("one"), "one")

        // A connection open across the crash is reset.
        const handle = yield* Network.connect("10.0.0.5:7000")
        const pull = yield* Socket.readerBytes(yield* handle.socket)
        const reading = yield* Effect.forkChild(Effect.flip(pull))
        yield* TestNetwork.crash("10.0.0.5")
        const error = yield* Fiber.join(reading)
        assert.strictEqual(
          error.reason._tag === "SocketReadError" && (error.reason.cause as { _tag: string })._tag,
          "ECONNRESET"
        )
        const refused = yield* Effect.flip(session("two"))
        assert.strictEqual(refused._tag, "ECONNREFUSED")

        // The client retries with backoff; the host comes back after 1 s.
        const client = yield* Effect.forkChild(
          session("three").pipe(Effect.retry(Retry.transient({ base: "100 millis", maxAttempts: 20 })))
        )
        yield* TestClock.adjust("1 second")
        assert.isUndefined(client.pollUnsafe())
        yield* TestNetwork.restart("10.0.0.5")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Fiber.join(client), "three")
        assert.strictEqual(yield* Ref.get(starts), 2)
        const hostLines = (yield* TestNetwork.journal).filter((e) => e.op === "host").map((e) => `${e.at} ${e.outcome}`)
        assert.deepStrictEqual(hostLines, ["0 crashed (reset, refuse)", "1000 restarted"])
      }).pipe(Effect.scoped, fresh())
  )

  it.effect("crash with vanish + blackhole: open connections hear nothing, connects time out", () =>
    Effect.gen(function* () {
      const starts = yield* Ref.make(0)
      yield* TestNetwork.host("10.0.0.5", echoServer(starts))
      const handle = yield* Network.connect("10.0.0.5:7000")
      const socket = yield* handle.socket
      const pull = yield* Socket.readerBytes(socket)
      const writer = yield* socket.writer
      yield* TestNetwork.crash("10.0.0.5", { connections: "vanish", connects: "blackhole" })
      // Writes still succeed (the bytes vanish); reads wait for ever.
      yield* writer.write("anyone?")
      const reading = yield* Effect.forkChild(pull)
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(reading.pollUnsafe())
      const connecting = yield* Effect.forkChild(Effect.flip(session("hello")))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(connecting))._tag, "ETIMEDOUT")
      yield* TestNetwork.restart("10.0.0.5")
      assert.strictEqual(yield* session("back"), "back")
    }).pipe(Effect.scoped, fresh({ kernelTimeout: "3 seconds" }))
  )

  it.effect("a listener with no host registration is gone after a crash too; bad hosts are InvalidInput", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("10.0.0.5:7000", { echo: true })
      yield* TestNetwork.crash("10.0.0.5")
      yield* TestNetwork.restart("10.0.0.5")
      assert.strictEqual((yield* Effect.flip(session("x")))._tag, "ECONNREFUSED")
      assert.strictEqual((yield* Effect.flip(TestNetwork.crash("not-an-ip")))._tag, "InvalidInput")
      assert.strictEqual(
        (yield* Effect.flip(TestNetwork.crash("10.0.0.5", { connects: "maybe" as "refuse" })))._tag,
        "InvalidInput"
      )
    }).pipe(Effect.scoped, fresh())
  )
})

describe("TestNetwork fault rates", () => {
  /** The outcome of 40 connects under the rates: a string of r (refused), x (reset), o (ok). */
  const outcomes = (rates: TestNetwork.FaultRates) =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.faults("127.0.0.1:7000", rates)
      let out = ""
      for (let i = 0; i < 40; i++) {
        const result = yield* Effect.result(Effect.scoped(Network.connect("127.0.0.1:7000")))
        out += result._tag === "Success" ? "o" : result.failure._tag === "ECONNREFUSED" ? "r" : "x"
      }
      return out
    }).pipe(Effect.scoped)

  it.effect("per connect: refuse and reset at the given rates, the same sequence from the same seed", () =>
    Effect.gen(function* () {
      const a = yield* outcomes({ refuse: 0.3, reset: 0.2 }).pipe(fresh({ seed: 5 }))
      const b = yield* outcomes({ refuse: 0.3, reset: 0.2 }).pipe(fresh({ seed: 5 }))
      const c = yield* outcomes({ refuse: 0.3, reset: 0.2 }).pipe(fresh({ seed: 6 }))
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      const count = (letter: string) => [...a].filter((x) => x === letter).length
      assert.isTrue(count("r") > 4 && count("r") < 22, a)
      assert.isTrue(count("x") > 1 && count("x") < 18, a)
      assert.isTrue(count("o") > 8, a)
    })
  )

  it.effect("per connect drop: the SYN is lost (ETIMEDOUT after kernelTimeout)", () =>
    Effect.gen(function* () {
      yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
      yield* TestNetwork.faults("127.0.0.1:7000", { drop: 1 })
      const connecting = yield* Effect.forkChild(Effect.flip(Effect.scoped(Network.connect("127.0.0.1:7000"))))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(connecting))._tag, "ETIMEDOUT")
    }).pipe(Effect.scoped, fresh({ kernelTimeout: "2 seconds" }))
  )

  it.effect("per chunk: drop loses chunks, reset resets the connection; both reproducible", () =>
    Effect.gen(function* () {
      const run = Effect.gen(function* () {
        yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
        const handle = yield* Network.connect("127.0.0.1:7000")
        const socket = yield* handle.socket
        const writer = yield* socket.writer
        const pull = yield* Socket.readerBytes(socket)
        yield* TestNetwork.faults("127.0.0.1:7000", { drop: 0.5, per: "chunk" })
        for (let i = 0; i < 20; i++) yield* writer.write(String.fromCharCode(97 + i))
        return text(yield* pull)
      }).pipe(Effect.scoped)
      const a = yield* run.pipe(fresh({ seed: 1 }))
      assert.strictEqual(a, yield* run.pipe(fresh({ seed: 1 })))
      assert.isTrue(a.length > 3 && a.length < 17, a)
      const reset = yield* Effect.gen(function* () {
        yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
        const handle = yield* Network.connect("127.0.0.1:7000")
        const socket = yield* handle.socket
        const pull = yield* Socket.readerBytes(socket)
        yield* TestNetwork.faults("127.0.0.1:7000", { reset: 1, per: "chunk" })
        yield* (yield* socket.writer).write("x")
        return yield* Effect.flip(pull)
      }).pipe(Effect.scoped, fresh())
      assert.strictEqual(reset.reason._tag, "SocketReadError")
      const invalid = yield* Effect.flip(
        TestNetwork.faults("127.0.0.1:7000", { refuse: 0.1, per: "chunk" }).pipe(Effect.scoped, fresh())
      )
      assert.strictEqual(invalid._tag, "InvalidInput")
      const tooMuch = yield* Effect.flip(
        TestNetwork.faults("127.0.0.1:7000", { refuse: 0.6, reset: 0.6 }).pipe(Effect.scoped, fresh())
      )
      assert.strictEqual(tooMuch._tag, "InvalidInput")
    })
  )

  it.effect("per chunk drop applies to datagrams too; the same seed drops the same ones", () =>
    Effect.gen(function* () {
      const run = Effect.gen(function* () {
        const port = yield* TestNetwork.bindDatagram("127.0.0.1:9000")
        yield* TestNetwork.faults("127.0.0.1:9000", { drop: 0.5, per: "chunk" })
        const handle = yield* Network.open("datagram")
        yield* handle.connect("127.0.0.1:9000")
        for (let i = 0; i < 20; i++) yield* handle.send(new Uint8Array([i]))
        let got = ""
        for (let n = yield* port.received; n > 0; n--) got += `${(yield* port.receive).data[0]},`
        return got
      }).pipe(Effect.scoped)
      const a = yield* run.pipe(fresh({ seed: 9 }))
      assert.strictEqual(a, yield* run.pipe(fresh({ seed: 9 })))
      const count = a.split(",").length - 1
      assert.isTrue(count > 3 && count < 17, a)
    })
  )
})
