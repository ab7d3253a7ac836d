/**
 * Every readiness probe against scripted servers on the in-memory network: each server reads
 * what a real one would read, then answers with the real protocol's bytes (ready, not ready in
 * each of its states, garbage, silence, closing), on virtual time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Network, Ready, Retry } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Effect, Exit, Fiber, Result } from "effect"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"

const encoder = new TextEncoder()
const address = "127.0.0.1:7000"

type Step = { readonly read: number } | { readonly write: Uint8Array | string } | "hang" | "close"

const int32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
const pgMessage = (type: string, payload: Uint8Array) =>
  new Uint8Array([type.charCodeAt(0), ...int32(payload.byteLength + 4), ...payload])
const pgError = (code: string, message: string, severity = "FATAL") =>
  pgMessage("E", encoder.encode(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`))
const pgAuth = (type: number) => pgMessage("R", new Uint8Array(int32(type)))
const mysqlPacket = (payload: Uint8Array) =>
  new Uint8Array([payload.byteLength & 255, (payload.byteLength >> 8) & 255, 0, 0, ...payload])
const mysqlGreeting = mysqlPacket(new Uint8Array([10, ...encoder.encode("10.11.6-MariaDB\0"), 1, 0, 0, 0]))
const mysqlError = (code: number, state: string, message: string) =>
  mysqlPacket(new Uint8Array([0xff, code & 255, code >> 8, ...encoder.encode(`#${state}${message}`)]))

/**
 * A server whose n-th connection (from 0) plays `scripts[n]` (the last repeats): `read` waits
 * for that many bytes, `write` answers, `hang` never answers, `close` closes.
 */
const serve = (scripts: ReadonlyArray<ReadonlyArray<Step>>) =>
  Effect.gen(function* () {
    const listener = yield* TestNetwork.listen(address)
    const received: Array<number> = []
    let served = 0
    const play = (connection: TestNetwork.Connection, script: ReadonlyArray<Step>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* connection.socket.reader
          const writer = yield* connection.socket.writer
          let buffered = 0
          for (const step of script) {
            if (step === "hang") return yield* Effect.never
            if (step === "close") return yield* connection.close
            if ("read" in step) {
              while (buffered < step.read) {
                for (const chunk of yield* reader.pull) buffered += chunk.length
              }
              buffered -= step.read
              received.push(step.read)
            } else {
              yield* writer.write(step.write)
            }
          }
          yield* connection.close
        })
      ).pipe(Effect.ignore)
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(listener.accept, (connection) =>
          Effect.forkScoped(play(connection, scripts[Math.min(served++, scripts.length - 1)]!))
        )
      )
    )
    return { connections: () => served, received }
  })

const connect = Effect.flatMap(Network.connect(address), (handle) => handle.socket)

/** Runs a check on virtual time (advancing past any deadline) and answers its exit. */
const run = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    // Small steps: work that a step starts (a second connect) gets its own virtual time.
    for (let i = 0; i < 300 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("100 millis")
    return yield* Fiber.await(fiber)
  })

const notReady = <A, E>(exit: Exit.Exit<A, E>): Ready.NotReady => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  const e = (error as { readonly error: unknown }).error
  assert.instanceOf(e, Ready.NotReady)
  return e as Ready.NotReady
}

const answer = <A, E>(exit: Exit.Exit<A, E>): A => {
  assert.isTrue(Exit.isSuccess(exit), `expected success, got ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
  return (exit as Exit.Success<A, E>).value
}

const fake = <A, E>(
  self: Effect.Effect<A, E, TestNetwork.TestNetwork | Network.Network | import("effect/Scope").Scope>
) => self.pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))

describe("Ready.parse", () => {
  it("reads every form and names it back", () => {
    for (const text of ["postgres", "redis", "mysql", "http", "http:/healthz?full=1", "tls"]) {
      const parsed = Ready.parse(text)
      assert.isTrue(Result.isSuccess(parsed), text)
      assert.strictEqual(Ready.format(Result.getOrThrow(parsed)), text)
    }
    assert.strictEqual(Ready.format(Result.getOrThrow(Ready.parse("mariadb"))), "mysql")
    const expect = Result.getOrThrow(Ready.parse("expect:PING\\r\\n=>+PONG"))
    assert.strictEqual(expect._tag, "Expect")
    if (expect._tag === "Expect") assert.deepStrictEqual([...expect.send], [...encoder.encode("PING\r\n")])
  })

  it("refuses the rest with InvalidInput on the field `ready`", () => {
    for (const text of [
      "",
      "ftp",
      "http:healthz",
      "http:/a b",
      "expect:nope",
      "expect:a=>",
      "expect:\\q=>x",
      "expect:a=>\\xZZ"
    ]) {
      const parsed = Ready.parse(text)
      assert.isTrue(Result.isFailure(parsed), text)
      if (Result.isFailure(parsed)) {
        assert.strictEqual(parsed.failure._tag, "InvalidInput")
        assert.strictEqual(parsed.failure.field, "ready")
      }
    }
  })
})

describe("Ready.check: postgres", () => {
  it.effect("an authentication request after SSLRequest 'N' is ready", () =>
    fake(
      Effect.gen(function* () {
        const server = yield* serve([[{ read: 8 }, { write: "N" }, { read: 1 }, { write: pgAuth(5) }, "hang"]])
        const result = answer(yield* run(Ready.check(connect, Ready.postgres())))
        assert.strictEqual(result.reply, "authentication request: MD5 password")
        assert.strictEqual(server.received[0], 8)
      })
    )
  )

  for (const [code, message, state] of [
    ["57P03", "the database system is starting up", "starting"],
    ["57P03", "the database system is shutting down", "shutting-down"],
    ["57P03", "the database system is in recovery mode", "recovering"],
    ["53300", "sorry, too many clients already", "too-many-connections"]
  ] as const) {
    it.effect(`${code} "${message}" is not ready (${state}), transient, in the server's words`, () =>
      fake(
        Effect.gen(function* () {
          yield* serve([[{ read: 8 }, { write: "N" }, { read: 1 }, { write: pgError(code, message) }]])
          const error = notReady(yield* run(Ready.check(connect, Ready.postgres())))
          assert.strictEqual(error.state, state)
          assert.strictEqual(error.retryClass, "transient")
          assert.strictEqual(Retry.classify(error), "transient")
          assert.include(error.reply, message)
          assert.include(error.reply, code)
        })
      )
    )
  }

  it.effect("another error (a role that does not exist) means the server is up, as PQping decides", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([
          [{ read: 8 }, { write: "N" }, { read: 1 }, { write: pgError("28000", 'role "x" does not exist') }]
        ])
        const result = answer(yield* run(Ready.check(connect, Ready.postgres())))
        assert.include(result.reply, "28000")
      })
    )
  )

  it.effect("'S' (TLS offered): the startup goes over a second, plain connection", () =>
    fake(
      Effect.gen(function* () {
        const server = yield* serve([
          // The server closes when the client hangs up instead of starting TLS, as postgres does.
          [{ read: 8 }, { write: "S" }, "close"],
          [{ read: 9 }, { write: pgError("57P03", "the database system is starting up") }]
        ])
        const error = notReady(yield* run(Ready.check(connect, Ready.postgres())))
        assert.strictEqual(error.state, "starting")
        assert.strictEqual(server.connections(), 2)
      })
    )
  )

  it.effect("'S' on one socket cannot go on: Unsupported, not a guess", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ read: 8 }, { write: "S" }, "hang"]])
        const socket = yield* connect
        const exit = yield* run(Ready.check(socket, Ready.postgres()))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "Unsupported")
      })
    )
  )

  it.effect("a server that never answers: no-answer at the deadline, on the Clock", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([["hang"]])
        const fiber = yield* Effect.forkChild(Ready.check(connect, Ready.postgres(), { deadline: "2 seconds" }))
        yield* TestClock.adjust(1999)
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust(1)
        const error = notReady(yield* Fiber.await(fiber))
        assert.strictEqual(error.state, "no-answer")
        assert.strictEqual(error.retryClass, "transient")
      })
    )
  )

  it.effect("closed before answering, and garbage, are told apart", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([["close"]])
        assert.strictEqual(notReady(yield* run(Ready.check(connect, Ready.postgres()))).state, "closed")
      })
    )
  )

  it.effect("a reply that is not the protocol is permanent", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ read: 8 }, { write: "HTTP/1.1 400 Bad Request\r\n\r\n" }]])
        const error = notReady(yield* run(Ready.check(connect, Ready.postgres())))
        assert.strictEqual(error.state, "unexpected")
        assert.strictEqual(Retry.classify(error), "permanent")
      })
    )
  )
})

describe("Ready.check: redis", () => {
  for (const reply of ["+PONG", "-NOAUTH Authentication required."]) {
    it.effect(`${reply} is ready`, () =>
      fake(
        Effect.gen(function* () {
          yield* serve([[{ read: 14 }, { write: `${reply}\r\n` }]])
          assert.strictEqual(answer(yield* run(Ready.check(connect, Ready.redis))).reply, reply)
        })
      )
    )
  }
  for (const [reply, state] of [
    ["-LOADING Redis is loading the dataset in memory", "loading"],
    ["-BUSY Redis is busy running a script.", "busy"],
    ["-MASTERDOWN Link with MASTER is down", "master-down"]
  ] as const) {
    it.effect(`${reply.split(" ")[0]} is not ready (${state}), transient`, () =>
      fake(
        Effect.gen(function* () {
          // Split across two writes: the probe reads up to the line's end.
          yield* serve([[{ read: 14 }, { write: reply.slice(0, 5) }, { write: `${reply.slice(5)}\r\n` }]])
          const error = notReady(yield* run(Ready.check(connect, Ready.redis)))
          assert.strictEqual(error.state, state)
          assert.strictEqual(error.reply, reply)
          assert.strictEqual(Retry.classify(error), "transient")
        })
      )
    )
  }
  it.effect("-DENIED (protected mode) is permanent: waiting cannot help", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ read: 14 }, { write: "-DENIED Redis is running in protected mode\r\n" }]])
        const error = notReady(yield* run(Ready.check(connect, Ready.redis)))
        assert.strictEqual(error.state, "rejected")
        assert.strictEqual(Retry.classify(error), "permanent")
      })
    )
  )
  it.effect("-LOADING twice, then +PONG: Retry.transient waits it out, three connections", () =>
    fake(
      Effect.gen(function* () {
        const loading = [{ read: 14 }, { write: "-LOADING Redis is loading the dataset in memory\r\n" }] as const
        const server = yield* serve([loading, loading, [{ read: 14 }, { write: "+PONG\r\n" }]])
        const exit = yield* run(
          Ready.check(connect, Ready.redis).pipe(
            Effect.retry(Retry.transient({ base: "100 millis", jitter: false, maxAttempts: 5 }))
          )
        )
        assert.strictEqual(answer(exit).reply, "+PONG")
        assert.strictEqual(server.connections(), 3)
      })
    )
  )
})

describe("Ready.check: mysql", () => {
  it.effect("the HandshakeV10 greeting is ready", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ write: mysqlGreeting }, "hang"]])
        assert.strictEqual(answer(yield* run(Ready.check(connect, Ready.mysql))).reply, "greeting: 10.11.6-MariaDB")
      })
    )
  )
  it.effect("ERR 1040 is too many connections, transient; ERR 1130 is permanent", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([
          [{ write: mysqlError(1040, "08004", "Too many connections") }],
          [{ write: mysqlError(1130, "HY000", "Host '10.0.0.1' is not allowed to connect") }]
        ])
        const first = notReady(yield* run(Ready.check(connect, Ready.mysql)))
        assert.strictEqual(first.state, "too-many-connections")
        assert.strictEqual(first.reply, "ERROR 1040: Too many connections")
        assert.strictEqual(Retry.classify(first), "transient")
        const second = notReady(yield* run(Ready.check(connect, Ready.mysql)))
        assert.strictEqual(second.state, "rejected")
        assert.strictEqual(Retry.classify(second), "permanent")
      })
    )
  )
})

describe("Ready.check: http", () => {
  const status = (line: string) => [{ read: 1 }, { write: `${line}\r\nContent-Length: 0\r\n\r\n` }] as const
  for (const line of ["HTTP/1.1 200 OK", "HTTP/1.0 301 Moved Permanently"]) {
    it.effect(`${line} is ready`, () =>
      fake(
        Effect.gen(function* () {
          yield* serve([status(line)])
          assert.strictEqual(answer(yield* run(Ready.check(connect, Ready.http("/healthz")))).reply, line)
        })
      )
    )
  }
  for (const [line, retryClass] of [
    ["HTTP/1.1 503 Service Unavailable", "transient"],
    ["HTTP/1.1 429 Too Many Requests", "transient"],
    ["HTTP/1.1 404 Not Found", "permanent"]
  ] as const) {
    it.effect(`${line} is not ready, ${retryClass}`, () =>
      fake(
        Effect.gen(function* () {
          yield* serve([status(line)])
          const error = notReady(yield* run(Ready.check(connect, Ready.http())))
          assert.strictEqual(error.state, "status")
          assert.strictEqual(error.reply, line)
          assert.strictEqual(Retry.classify(error), retryClass)
        })
      )
    )
  }
  it.effect("a 100 Continue is skipped; the request line names the path", () =>
    fake(
      Effect.gen(function* () {
        const listener = yield* TestNetwork.listen(address)
        const seen = yield* Effect.forkScoped(
          Effect.scoped(
            Effect.gen(function* () {
              const connection = yield* listener.accept
              const reader = yield* connection.socket.reader
              const writer = yield* connection.socket.writer
              let text = ""
              while (!text.includes("\r\n\r\n"))
                for (const c of yield* reader.pull) text += typeof c === "string" ? c : new TextDecoder().decode(c)
              yield* writer.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
              return text
            })
          )
        )
        assert.strictEqual(
          answer(yield* run(Ready.check(connect, Ready.http("/ready")))).reply,
          "HTTP/1.1 204 No Content"
        )
        const request = yield* Fiber.join(seen)
        assert.isTrue(request.startsWith("GET /ready HTTP/1.1\r\nHost: localhost\r\n"), request)
      })
    )
  )
  it.effect("not HTTP at all is unexpected, permanent", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ read: 1 }, { write: "SSH-2.0-OpenSSH_9.2\r\n" }]])
        assert.strictEqual(notReady(yield* run(Ready.check(connect, Ready.http()))).state, "unexpected")
      })
    )
  )
})

describe("Ready.check: expect", () => {
  it.effect("matches across chunks after sending", () =>
    fake(
      Effect.gen(function* () {
        const server = yield* serve([[{ read: 5 }, { write: "hello, wo" }, { write: "rld\n" }]])
        const probe = Result.getOrThrow(Ready.parse("expect:ping\\n=>world"))
        assert.strictEqual(answer(yield* run(Ready.check(connect, probe))).reply, "hello, world")
        assert.deepStrictEqual(server.received, [5])
      })
    )
  )
  it.effect("a reply that ends without the text is a mismatch, with the reply", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([[{ write: "220 busy\r\n" }]])
        const error = notReady(yield* run(Ready.check(connect, Ready.expect("", "220 ready"))))
        assert.strictEqual(error.state, "mismatch")
        assert.strictEqual(error.reply, "220 busy\\r\\n")
      })
    )
  )
  it.effect("reads are bounded: 1 MiB without a match stops at maxBytes", () =>
    fake(
      Effect.gen(function* () {
        const chunk = new Uint8Array(64 * 1024).fill(0x61)
        yield* serve([[...Array.from({ length: 16 }, () => ({ write: chunk })), "hang"]])
        const error = notReady(yield* run(Ready.check(connect, Ready.expect("", "b"), { maxBytes: 1000 })))
        assert.strictEqual(error.state, "mismatch")
        assert.isAtMost(error.reply.length, 301)
      })
    )
  )
  it.effect("bad options are InvalidInput before any byte is sent", () =>
    fake(
      Effect.gen(function* () {
        const server = yield* serve([["hang"]])
        const exit = yield* run(Ready.check(connect, Ready.redis, { maxBytes: 0 }))
        assert.isTrue(Exit.isFailure(exit) && String(exit.cause).includes("InvalidInput"))
        const late = yield* run(Ready.check(connect, Ready.redis, { deadline: -1 }))
        assert.isTrue(Exit.isFailure(late) && String(late.cause).includes("InvalidInput"))
        assert.strictEqual(server.connections(), 0)
      })
    )
  )
})

describe("Ready.check: tls", () => {
  const socketWith = (upgrade: Socket.Reader["upgrade"]) =>
    Socket.make({
      reader: Effect.succeed({ pull: Effect.never, upgrade }),
      writer: Effect.succeed({ write: () => Effect.void, writeAll: () => Effect.void })
    })
  it.effect("the fake network has no TLS: Unsupported (permanent), not a hang", () =>
    fake(
      Effect.gen(function* () {
        yield* serve([["hang"]])
        const exit = yield* run(Ready.check(connect, Ready.tls()))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "Unsupported")
      })
    )
  )
  it.effect("a completed upgrade is ready; a failed one is handshake-failed with the cause's words", () =>
    Effect.gen(function* () {
      const options: Array<Socket.TlsUpgradeOptions | undefined> = []
      const ok = yield* Ready.check(
        socketWith((o) => Effect.sync(() => void options.push(o))),
        Ready.tls({ servername: "db.test" })
      )
      assert.strictEqual(ok.reply, "TLS handshake completed")
      assert.deepStrictEqual(options, [{ rejectUnauthorized: false, servername: "db.test" }])
      const failed = socketWith(() =>
        Effect.fail(
          new Socket.SocketError({
            reason: new Socket.SocketUpgradeError({ cause: new Error("wrong version number") })
          })
        )
      )
      const error = yield* Effect.flip(Ready.check(Ready.tls())(failed))
      assert.strictEqual(error._tag, "NotReady")
      if (error._tag === "NotReady") {
        assert.strictEqual(error.state, "handshake-failed")
        assert.strictEqual(error.reply, "wrong version number")
        assert.strictEqual(Retry.classify(error), "transient")
      }
    })
  )
})
