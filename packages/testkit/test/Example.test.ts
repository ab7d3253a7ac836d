/**
 * The README's example: an application client with a retry policy over typed errors, tested
 * only on the in-memory network, on virtual time (no real sleeping, no real socket).
 */
import { assert, describe, it } from "@effect/vitest"
import { Network, Retry } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Effect, Fiber } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

// --- the application -------------------------------------------------------------------------

/** Connects, reads one greeting line, retries what can change by itself (refused, timed out). */
const fetchGreeting = (address: string) =>
  Effect.gen(function* () {
    const handle = yield* Network.connect(address, { deadline: "2 seconds" })
    const pull = yield* Socket.readerBytes(yield* handle.socket)
    let line = ""
    const decoder = new TextDecoder()
    while (!line.includes("\n")) {
      for (const chunk of yield* pull) line += decoder.decode(chunk, { stream: true })
    }
    return line.trimEnd()
  }).pipe(
    Effect.scoped,
    Effect.retry({
      schedule: Retry.backoff({ base: "100 millis", maxAttempts: 3, jitter: false }),
      while: Retry.isTransient
    })
  )

// --- a fake server ---------------------------------------------------------------------------

/** Listens on the fake network and greets every connection. */
const greeter = (address: string) =>
  Effect.gen(function* () {
    const listener = yield* TestNetwork.listen(address)
    const greet = Effect.flatMap(listener.accept, (connection) =>
      Effect.scoped(Effect.flatMap(connection.socket.writer, (writer) => writer.write("hello\n"))).pipe(
        Effect.andThen(connection.close)
      )
    )
    yield* Effect.forkScoped(Effect.forever(greet))
  })

const connects = Effect.map(TestNetwork.journal, (entries) =>
  entries.filter((entry) => entry.op === "connect").map((entry) => `${entry.at} ${entry.outcome}`)
)

describe("example: fetchGreeting", () => {
  it.effect("refused twice, then accepted: three attempts at the backoff's virtual times", () =>
    Effect.gen(function* () {
      yield* greeter("127.0.0.1:8080")
      yield* TestNetwork.script("127.0.0.1:8080", ["refuse", "refuse", "accept"])
      const fiber = yield* Effect.forkChild(fetchGreeting("127.0.0.1:8080"))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "hello")
      assert.deepStrictEqual(yield* connects, ["0 ECONNREFUSED", "100 ECONNREFUSED", "300 ok"])
      assert.strictEqual((yield* TestNetwork.faultCoverage).get("ECONNREFUSED"), 2)
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )

  it.effect("a blackhole: every attempt ends at its deadline, then the error reaches the caller", () =>
    Effect.gen(function* () {
      yield* TestNetwork.script("127.0.0.1:8080", ["blackhole"])
      const fiber = yield* Effect.forkChild(Effect.flip(fetchGreeting("127.0.0.1:8080")))
      // 4 attempts of 2 s, with 100, 200 and 400 ms between them.
      yield* TestClock.adjust(8699)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.deepStrictEqual(yield* connects, [
        "2000 interrupted",
        "4100 interrupted",
        "6300 interrupted",
        "8700 interrupted"
      ])
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )
})
