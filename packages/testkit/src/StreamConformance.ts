/**
 * The stream conformance suite, in the manner of Go's `nettest.TestConn`: what a connected
 * stream must do once connected, whatever the platform. One function of a layer and a fixture
 * that makes a connected pair; it runs on the real kernel (`@dial/node`, loopback) and on
 * `TestNetwork`, so the fake's data path is held to the kernel's.
 *
 * Cases: basic IO both ways, ping-pong, racy concurrent writers and a reader, close while
 * reading (by the peer, and by the reader's own side), half-close both ways (the client's FIN,
 * the server still answers; the server's FIN, the client still writes), read and write
 * deadlines (typed, naming the operation, the connection usable afterwards), and a 64 MiB
 * transfer checked byte for byte. On the fake (`kernel: false`) every wait a case needs is
 * driven by `TestClock`; on the kernel it is the live clock.
 *
 * Import it from `@dial/testkit/StreamConformance` (it imports `@effect/vitest`).
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import * as StreamConformance from "@dial/testkit/StreamConformance"
 *
 * declare const fixture: StreamConformance.Fixture<TestNetwork.TestNetwork>
 * StreamConformance.suite("TestNetwork", { layer: TestNetwork.layer(), fixture, kernel: false })
 * ```
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import type { DialError, Network, SocketHandle } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

/**
 * A connected pair: `handle` is a connection made through the platform's `Network`, `client`
 * its `effect/socket` view, `server` the peer the platform accepted. All live as long as the
 * scope. The deadline cases use the handle's own `read` and `write`.
 *
 * @example
 * ```ts
 * import type * as StreamConformance from "@dial/testkit/StreamConformance"
 *
 * const both = (pair: StreamConformance.Pair) => [pair.client, pair.server]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Pair {
  readonly handle: SocketHandle.StreamHandle
  readonly client: Socket.Socket
  readonly server: Socket.Socket
}

/**
 * How to make a connected pair on a platform.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 * import { TestNetwork } from "@dial/testkit"
 * import type * as StreamConformance from "@dial/testkit/StreamConformance"
 *
 * const fixture: StreamConformance.Fixture<TestNetwork.TestNetwork> = {
 *   pair: Effect.gen(function*() {
 *     const listener = yield* Effect.orDie(TestNetwork.listen("127.0.0.1:0"))
 *     const handle = yield* Effect.orDie(Network.connect(listener.address))
 *     const client = yield* Effect.orDie(handle.socket)
 *     const server = (yield* listener.accept.pipe(Effect.orDie)).socket
 *     return { handle, client, server }
 *   })
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Fixture<R> {
  readonly pair: Effect.Effect<Pair, never, Network.Network | Scope.Scope | R>
}

/**
 * Options of {@link suite}.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import type * as StreamConformance from "@dial/testkit/StreamConformance"
 *
 * declare const fixture: StreamConformance.Fixture<TestNetwork.TestNetwork>
 * const options: StreamConformance.Options<TestNetwork.TestNetwork, never> = {
 *   layer: TestNetwork.layer(),
 *   fixture,
 *   kernel: false
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<R, E> {
  readonly layer: Layer.Layer<Network.Network | R, E>
  readonly fixture: Fixture<R>
  /** True on the real kernel: the live clock. False: `TestClock` (the fake needs no time to pass). */
  readonly kernel: boolean
}

type Pull = Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError>

/** Deterministic bytes (a linear congruential sequence): any corruption shows. */
const pattern = (size: number, seed: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let state = seed >>> 0
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    bytes[i] = state >>> 24
  }
  return bytes
}

/** Reads until `size` bytes arrived, comparing each against `expected` as it comes (no copy). */
const readAndCompare = (pull: Pull, expected: Uint8Array) =>
  Effect.gen(function* () {
    let offset = 0
    while (offset < expected.length) {
      for (const chunk of yield* pull) {
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i] !== expected[offset + i]) {
            return yield* Effect.die(new Error(`byte ${offset + i} differs`))
          }
        }
        offset += chunk.length
      }
    }
    assert.strictEqual(offset, expected.length, "no byte more than was sent")
  })

/** Reads until `size` bytes arrived; the concatenation. */
const readExactly = (pull: Pull, size: number) =>
  Effect.gen(function* () {
    const out = new Uint8Array(size)
    let offset = 0
    while (offset < size) {
      for (const chunk of yield* pull) {
        out.set(chunk.subarray(0, size - offset), offset)
        offset += chunk.length
      }
    }
    return out
  })

/** Writes `bytes` in chunks of `chunkSize`. */
const writeChunked = (writer: Socket.Writer, bytes: Uint8Array, chunkSize: number) =>
  Effect.gen(function* () {
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      yield* writer.write(bytes.subarray(offset, Math.min(bytes.length, offset + chunkSize)))
    }
  })

/** The pull's end: "end" for the clean close (1000), else the reason's tag. */
const endOf = (pull: Pull) =>
  Effect.gen(function* () {
    // Bounded: a peer that keeps sending past the end is a failure.
    for (let i = 0; i < 1_000_000; i++) {
      const result = yield* Effect.result(pull)
      if (result._tag === "Success") continue
      const reason = result.failure.reason
      return reason._tag === "SocketCloseError" && reason.code === 1000 ? "end" : reason._tag
    }
    return "never ended"
  })

/** The live clock's timers may fire a millisecond early against `currentTimeMillis`. */
const clockSlack = 2

/**
 * Runs `effect` while `millis` pass: on the kernel the live clock passes by itself; on the
 * fake, `TestClock` is moved on while the effect waits (no real waiting).
 */
const elapsing = <A, E, R>(kernel: boolean, millis: number, effect: Effect.Effect<A, E, R>) =>
  kernel
    ? effect
    : Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(effect)
        yield* TestClock.adjust(millis)
        return yield* Fiber.join(fiber)
      })

interface Case<R> {
  readonly name: string
  /** `kernel`: the live clock passes by itself; otherwise the case moves `TestClock`. */
  readonly body: (pair: Pair, kernel: boolean) => Effect.Effect<void, unknown, Network.Network | R | Scope.Scope>
}

const cases = <R>(): ReadonlyArray<Case<R>> => [
  {
    name: "basic IO: 1 MiB each way in odd-sized writes arrives intact and in order",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const up = pattern(1 << 20, 1)
        const down = pattern(1 << 20, 2)
        const clientPull = yield* Socket.readerBytes(client)
        const serverPull = yield* Socket.readerBytes(server)
        const clientWriter = yield* client.writer
        const serverWriter = yield* server.writer
        const writing = yield* Effect.forkChild(
          Effect.all([writeChunked(clientWriter, up, 7919), writeChunked(serverWriter, down, 4093)], {
            concurrency: 2
          })
        )
        yield* Effect.all([readAndCompare(serverPull, up), readAndCompare(clientPull, down)], { concurrency: 2 })
        yield* Fiber.join(writing)
      })
  },
  {
    name: "ping-pong: 200 round trips of a counter, each waiting for the other",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const clientPull = yield* Socket.readerBytes(client)
        const serverPull = yield* Socket.readerBytes(server)
        const clientWriter = yield* client.writer
        const serverWriter = yield* server.writer
        const rounds = 200
        const pong = yield* Effect.forkChild(
          Effect.gen(function* () {
            for (let i = 0; i < rounds; i++) {
              const [n] = yield* readExactly(serverPull, 1)
              yield* serverWriter.write(new Uint8Array([(n! + 1) & 0xff]))
            }
          })
        )
        let n = 0
        for (let i = 0; i < rounds; i++) {
          yield* clientWriter.write(new Uint8Array([n]))
          const [m] = yield* readExactly(clientPull, 1)
          assert.strictEqual(m, (n + 1) & 0xff)
          n = (m! + 1) & 0xff
        }
        yield* Fiber.join(pong)
      })
  },
  {
    name: "racy writes: 8 fibers writing at once; every write arrives whole",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const writers = 8
        const writes = 64
        const size = 512
        const clientWriter = yield* client.writer
        const serverPull = yield* Socket.readerBytes(server)
        // Each write is `size` copies of its writer's number: interleaving inside a write shows.
        const writing = yield* Effect.forkChild(
          Effect.forEach(
            Array.from({ length: writers }, (_, w) => w),
            (w) =>
              Effect.gen(function* () {
                for (let i = 0; i < writes; i++) {
                  yield* clientWriter.write(new Uint8Array(size).fill(w))
                  if (i % 8 === 0) yield* Effect.yieldNow
                }
              }),
            { concurrency: "unbounded", discard: true }
          )
        )
        const all = yield* readExactly(serverPull, writers * writes * size)
        yield* Fiber.join(writing)
        const counts = new Array<number>(writers).fill(0)
        for (let offset = 0; offset < all.length; offset += size) {
          const w = all[offset]!
          let whole = true
          for (let i = 1; i < size; i++) whole &&= all[offset + i] === w
          assert.isTrue(whole, `the write at ${offset} arrived whole`)
          counts[w]!++
        }
        assert.deepStrictEqual(counts, new Array<number>(writers).fill(writes))
      })
  },
  {
    name: "racy reads: 8 fibers reading at once; every byte is read once, none twice",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const readers = 8
        const sent = pattern(256 << 10, 3)
        const clientPull = yield* Socket.readerBytes(client)
        yield* Socket.readerBytes(server)
        const serverWriter = yield* server.writer
        // Each fiber pulls until the server's close ends the stream; a chunk goes to one fiber.
        const readOne = Effect.gen(function* () {
          const chunks: Array<Uint8Array> = []
          for (let i = 0; i < 1_000_000; i++) {
            const result = yield* Effect.result(clientPull)
            if (result._tag === "Failure") {
              const reason = result.failure.reason
              return { chunks, end: reason._tag === "SocketCloseError" && reason.code === 1000 ? "end" : reason._tag }
            }
            chunks.push(...result.success)
          }
          return { chunks, end: "never ended" }
        })
        const reading = yield* Effect.forkChild(
          Effect.all(
            Array.from({ length: readers }, () => readOne),
            { concurrency: "unbounded" }
          )
        )
        yield* writeChunked(serverWriter, sent, 1021)
        yield* serverWriter.write(new Socket.CloseEvent())
        const results = yield* Fiber.join(reading)
        const histogram = (chunks: ReadonlyArray<Uint8Array>) => {
          const counts = new Array<number>(256).fill(0)
          for (const chunk of chunks) for (const byte of chunk) counts[byte]!++
          return counts
        }
        for (const { end } of results) assert.strictEqual(end, "end")
        const received = results.flatMap(({ chunks }) => chunks)
        assert.strictEqual(
          received.reduce((n, chunk) => n + chunk.length, 0),
          sent.length
        )
        assert.deepStrictEqual(histogram(received), histogram([sent]))
      })
  },
  {
    name: "close while reading: the peer's close ends a waiting read cleanly",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const clientPull = yield* Socket.readerBytes(client)
        // NodeSocket.fromDuplex's writer waits for its reader: the server reads as servers do.
        yield* Socket.readerBytes(server)
        const reading = yield* Effect.forkChild(endOf(clientPull))
        yield* Effect.yieldNow
        yield* (yield* server.writer).write(new Socket.CloseEvent())
        assert.strictEqual(yield* Fiber.join(reading), "end")
      })
  },
  {
    name: "close while reading: closing the scope a reader was acquired in fails its waiting read",
    body: ({ client }) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const pull = yield* Scope.provide(Socket.readerBytes(client), scope)
        const reading = yield* Effect.forkChild(Effect.flip(pull))
        yield* Effect.yieldNow
        yield* Scope.close(scope, Exit.void)
        const error = yield* Fiber.join(reading)
        assert.strictEqual(error.reason._tag, "SocketCloseError")
      })
  },
  {
    name: "half-close: the client's FIN ends the server's reads; the server still answers",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const clientPull = yield* Socket.readerBytes(client)
        const serverPull = yield* Socket.readerBytes(server)
        // Releasing the writer's scope half-closes (the effect/socket contract).
        yield* Effect.scoped(Effect.flatMap(client.writer, (writer) => writer.write("request")))
        const request = yield* readExactly(serverPull, 7)
        assert.strictEqual(new TextDecoder().decode(request), "request")
        assert.strictEqual(yield* endOf(serverPull), "end")
        yield* (yield* server.writer).write("answer")
        assert.strictEqual(new TextDecoder().decode(yield* readExactly(clientPull, 6)), "answer")
      })
  },
  {
    name: "half-close: after the server's FIN the client writes on and the server reads it",
    body: ({ handle, client, server }) =>
      Effect.gen(function* () {
        const clientPull = yield* Socket.readerBytes(client)
        const serverPull = yield* Socket.readerBytes(server)
        yield* Effect.scoped(Effect.flatMap(server.writer, (writer) => writer.write("bye")))
        assert.strictEqual(new TextDecoder().decode(yield* readExactly(clientPull, 3)), "bye")
        assert.strictEqual(yield* endOf(clientPull), "end")
        // Half-open, as the kernel: the peer's FIN ended our reads, not our writes.
        assert.strictEqual((yield* handle.state)._tag, "Connected")
        yield* (yield* client.writer).write("more")
        assert.strictEqual(new TextDecoder().decode(yield* readExactly(serverPull, 4)), "more")
      })
  },
  {
    name: "deadlines: a read deadline fails a read that waits too long, typed; the connection stays usable",
    body: ({ handle, server }, kernel) =>
      Effect.gen(function* () {
        // NodeSocket.fromDuplex's writer waits for its reader: the server reads as servers do.
        yield* Socket.readerBytes(server)
        const started = yield* Clock.currentTimeMillis
        const missed = yield* elapsing(kernel, 250, Effect.flip(handle.read({ deadline: "200 millis" })))
        assert.strictEqual(missed._tag, "DeadlineExceeded")
        assert.strictEqual((missed as DialError.DeadlineExceeded).operation, "read")
        assert.isAtLeast((yield* Clock.currentTimeMillis) - started, 200 - clockSlack)
        // Bytes that come after the deadline are read by the next read.
        yield* (yield* server.writer).write("late")
        const late = yield* handle.read({ deadline: "10 seconds" })
        if (late._tag === "None") return assert.fail("the peer's bytes after the deadline were lost")
        assert.strictEqual(late.value.map((chunk) => new TextDecoder().decode(chunk)).join(""), "late")
      })
  },
  {
    name: "deadlines: a write deadline fails a write stuck on a peer that never reads",
    body: ({ handle, server }, kernel) =>
      Effect.gen(function* () {
        const block = pattern(64 * 1024, 4)
        let written = 0
        let missed: SocketHandle.StreamFailure | undefined
        // Bounded: 256 MiB is far beyond any socket buffer; the peer reads nothing meanwhile.
        for (let i = 0; i < 4096 && missed === undefined; i++) {
          const result = yield* elapsing(kernel, 250, Effect.result(handle.write(block, { deadline: "200 millis" })))
          if (result._tag === "Failure") missed = result.failure
          else written += block.length
        }
        assert.strictEqual(missed?._tag, "DeadlineExceeded")
        assert.strictEqual((missed as DialError.DeadlineExceeded).operation, "write")
        assert.isAtLeast(written, block.length, "writes went through until the buffers filled")
        // Still usable: once the server reads, everything arrives (the late write too) in order.
        const serverPull = yield* Socket.readerBytes(server)
        const reading = yield* Effect.forkChild(readExactly(serverPull, written + block.length + 1))
        yield* handle.write(new Uint8Array([42]), { deadline: "10 seconds" })
        const all = yield* Fiber.join(reading)
        for (let offset = 0; offset < written + block.length; offset += 4093) {
          assert.strictEqual(all[offset], block[offset % block.length], `byte ${offset}`)
        }
        assert.strictEqual(all[written + block.length], 42)
      })
  },
  {
    name: "64 MiB from client to server in 64 KiB writes, checked byte for byte",
    body: ({ client, server }) =>
      Effect.gen(function* () {
        const block = pattern(64 * 1024, 3)
        const blocks = 1024
        const clientWriter = yield* client.writer
        const serverPull = yield* Socket.readerBytes(server)
        const writing = yield* Effect.forkChild(
          Effect.gen(function* () {
            for (let i = 0; i < blocks; i++) yield* clientWriter.write(block)
          })
        )
        let offset = 0
        while (offset < blocks * block.length) {
          for (const chunk of yield* serverPull) {
            const start = offset % block.length
            for (let i = 0; i < chunk.length; i += 4099) {
              if (chunk[i] !== block[(start + i) % block.length]) {
                return yield* Effect.die(new Error(`byte ${offset + i} differs`))
              }
            }
            offset += chunk.length
          }
        }
        assert.strictEqual(offset, blocks * block.length)
        yield* Fiber.join(writing)
      })
  }
]

/**
 * Registers the stream conformance cases for one platform under `describe(name)`.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import * as StreamConformance from "@dial/testkit/StreamConformance"
 *
 * declare const fixture: StreamConformance.Fixture<TestNetwork.TestNetwork>
 * StreamConformance.suite("TestNetwork streams", { layer: TestNetwork.layer(), fixture, kernel: false })
 * ```
 *
 * @category suites
 * @since 0.1.0
 */
export const suite = <R, E>(name: string, options: Options<R, E>): void => {
  describe(name, () => {
    for (const testCase of cases<R>()) {
      const body = Effect.scoped(
        Effect.flatMap(options.fixture.pair, (pair) => testCase.body(pair, options.kernel))
      ).pipe(Effect.provide(options.layer)) as Effect.Effect<void, unknown>
      if (options.kernel) it.live(testCase.name, () => body, 30_000)
      else it.effect(testCase.name, () => body, 30_000)
    }
  })
}
