/**
 * Unix datagram sockets on the fake kernel: what `@dial/node`'s Native.test.ts proves on the
 * real one (autobound names, re-connect, dissolve, ENOENT, ECONNREFUSED, EPROTOTYPE, EAGAIN,
 * EACCES), plus what the fake adds to the same rules (EPERM, stale socket files, the journal).
 */
import { assert, describe, it } from "@effect/vitest"
import { type ConnectError, Network, Retry, SockAddr } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import { Effect, Equal, Option, Schedule } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (value: string) => encoder.encode(value)
const text = (data: Uint8Array) => decoder.decode(data)

const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))

/** The fields of a typed failure a test compares. */
const summary = (error: unknown) => {
  const e = error as ConnectError.ConnectError
  return {
    _tag: e._tag,
    errno: e.errno,
    syscall: e.syscall,
    address: e.address === undefined ? undefined : SockAddr.format(e.address)
  }
}

describe("TestNetwork: unix datagram sockets", () => {
  it.effect("a handle is autobound to an abstract name; the port sees it as the sender and answers it", () =>
    fresh(
      Effect.gen(function* () {
        const port = yield* TestNetwork.bindDatagram("unix:/run/app.sock")
        assert.strictEqual(SockAddr.format(port.address), "unix:/run/app.sock")
        const handle = yield* Network.open("datagram")
        yield* handle.connect(port.address)
        const local = Option.getOrThrow(yield* handle.localAddress)
        assert.strictEqual(local._tag, "UnixAbstract")
        assert.match(SockAddr.format(local), /^unix:@[0-9a-f]{5}$/)
        yield* handle.send(bytes("one"))
        yield* handle.send(bytes("two"))
        // Message boundaries: two sends, two datagrams.
        const first = yield* port.receive
        const second = yield* port.receive
        assert.deepStrictEqual([text(first.data), text(second.data)], ["one", "two"])
        assert.isTrue(Equal.equals(first.from, local))
        yield* port.send(bytes("answer"), first.from)
        assert.strictEqual(text(yield* handle.receive), "answer")
        assert.strictEqual(yield* port.received, 2)
      })
    )
  )

  it.effect("re-connect changes the peer on the same socket; unspec dissolves and purges the queue", () =>
    fresh(
      Effect.gen(function* () {
        const first = yield* TestNetwork.bindDatagram("unix:/tmp/first.sock")
        const second = yield* TestNetwork.bindDatagram("unix:@second")
        const handle = yield* Network.open("datagram")
        yield* handle.connect(first.address)
        const local = Option.getOrThrow(yield* handle.localAddress)
        yield* handle.send(bytes("a"))
        assert.strictEqual(text((yield* first.receive).data), "a")
        // Unread when the association changes: Linux purges it (unix_dgram_disconnected).
        yield* first.send(bytes("stale"), local)
        yield* handle.connect(second.address)
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.localAddress), local))
        yield* handle.send(bytes("b"))
        assert.strictEqual(text((yield* second.receive).data), "b")
        yield* second.send(bytes("fresh"), local)
        assert.strictEqual(text(yield* handle.receive), "fresh")
        yield* handle.connect(SockAddr.unspec)
        assert.strictEqual((yield* handle.state)._tag, "Idle")
        assert.strictEqual((yield* Effect.flip(handle.send(bytes("c"))))._tag, "ENOTCONN")
        yield* handle.connect(first.address)
        yield* handle.send(bytes("d"))
        assert.strictEqual(text((yield* first.receive).data), "d")
      })
    )
  )

  it.effect("connect: ENOENT, ECONNREFUSED (abstract and stale file), EPROTOTYPE, EACCES; then connects", () =>
    fresh(
      Effect.gen(function* () {
        const handle = yield* Network.open("datagram")
        const failure = (address: string) => Effect.map(Effect.flip(handle.connect(address)), summary)
        assert.deepStrictEqual(yield* failure("unix:/tmp/missing.sock"), {
          _tag: "ENOENT",
          errno: 2,
          syscall: "connect",
          address: "unix:/tmp/missing.sock"
        })
        assert.strictEqual((yield* failure("unix:@nobody"))._tag, "ECONNREFUSED")
        // A socket that closed leaves its file: the path is refused, and still taken.
        yield* Effect.scoped(TestNetwork.bindDatagram("unix:/tmp/stale.sock"))
        assert.deepStrictEqual(yield* failure("unix:/tmp/stale.sock"), {
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address: "unix:/tmp/stale.sock"
        })
        assert.strictEqual((yield* Effect.flip(TestNetwork.bindDatagram("unix:/tmp/stale.sock")))._tag, "EADDRINUSE")
        yield* TestNetwork.listen("unix:/tmp/stream.sock")
        yield* TestNetwork.listen("unix:@packets", { type: "seqpacket" })
        assert.deepStrictEqual(yield* failure("unix:/tmp/stream.sock"), {
          _tag: "EPROTOTYPE",
          errno: 91,
          syscall: "connect",
          address: "unix:/tmp/stream.sock"
        })
        assert.strictEqual((yield* failure("unix:@packets"))._tag, "EPROTOTYPE")
        yield* TestNetwork.bindDatagram("unix:/tmp/locked.sock", { permission: "deny" })
        assert.deepStrictEqual(yield* failure("unix:/tmp/locked.sock"), {
          _tag: "EACCES",
          errno: 13,
          syscall: "connect",
          address: "unix:/tmp/locked.sock"
        })
        // The handle is not broken by any of them.
        const port = yield* TestNetwork.bindDatagram("unix:/tmp/ok.sock", { echo: true })
        yield* handle.connect(port.address)
        yield* handle.send(bytes("after"))
        assert.strictEqual(text(yield* handle.receive), "after")
        const connects = (yield* TestNetwork.journal).filter((e) => e.op === "connect").map((e) => e.outcome)
        assert.deepStrictEqual(connects, [
          "ENOENT",
          "ECONNREFUSED",
          "ECONNREFUSED",
          "EPROTOTYPE",
          "EPROTOTYPE",
          "EACCES",
          "ok"
        ])
      })
    )
  )

  it.effect("a stream connect to a datagram socket is EPROTOTYPE; to its stale file ECONNREFUSED", () =>
    fresh(
      Effect.gen(function* () {
        const port = yield* Effect.scoped(
          Effect.gen(function* () {
            const port = yield* TestNetwork.bindDatagram("unix:/tmp/dgram.sock")
            assert.strictEqual((yield* Effect.flip(Network.connect(port.address)))._tag, "EPROTOTYPE")
            return port
          })
        )
        assert.strictEqual((yield* Effect.flip(Network.connect(port.address)))._tag, "ECONNREFUSED")
        yield* TestNetwork.bindDatagram("unix:/tmp/denied.sock", { permission: "deny" })
        assert.strictEqual((yield* Effect.flip(Network.connect("unix:/tmp/denied.sock")))._tag, "EACCES")
      })
    )
  )

  it.effect("send: EAGAIN once the receiver's queue is full (Linux's 11), and again after a receive", () =>
    fresh(
      Effect.gen(function* () {
        const port = yield* TestNetwork.bindDatagram("unix:/tmp/sink.sock")
        const handle = yield* Network.open("datagram")
        yield* handle.connect(port.address)
        let sent = 0
        let refused: unknown
        for (; sent < 100 && refused === undefined; sent++) {
          const result = yield* Effect.result(handle.send(bytes(`m${sent}`)))
          if (result._tag === "Failure") refused = result.failure
        }
        assert.strictEqual(sent, 12)
        assert.deepStrictEqual(summary(refused), {
          _tag: "EAGAIN",
          errno: 11,
          syscall: "send",
          address: "unix:/tmp/sink.sock"
        })
        // Nothing was lost: the eleven are there in order, and room makes the send succeed.
        assert.strictEqual(text((yield* port.receive).data), "m0")
        yield* handle.send(bytes("m11"))
        assert.strictEqual((yield* Effect.flip(handle.send(bytes("m12"))))._tag, "EAGAIN")
        assert.strictEqual(yield* port.received, 12)
        const small = yield* TestNetwork.bindDatagram("unix:@small", { queue: 1 })
        yield* handle.connect(SockAddr.unspec)
        yield* handle.connect(small.address)
        yield* handle.send(bytes("x"))
        assert.strictEqual((yield* Effect.flip(handle.send(bytes("y"))))._tag, "EAGAIN")
      })
    )
  )

  it.effect("send: ECONNREFUSED once the peer closed, then ENOTCONN; EPERM to a socket connected elsewhere", () =>
    fresh(
      Effect.gen(function* () {
        const handle = yield* Network.open("datagram")
        const gone = yield* Effect.scoped(
          Effect.gen(function* () {
            const port = yield* TestNetwork.bindDatagram("unix:@gone")
            yield* handle.connect(port.address)
            return port.address
          })
        )
        // Bound again by someone else: the association was to the socket, not the name.
        yield* TestNetwork.bindDatagram(gone)
        assert.deepStrictEqual(summary(yield* Effect.flip(handle.send(bytes("anyone?")))), {
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "send",
          address: "unix:@gone"
        })
        assert.strictEqual((yield* Effect.flip(handle.send(bytes("again?"))))._tag, "ENOTCONN")

        // Two handles: b connects to a's name, a connects to a third party; b's send is EPERM.
        const third = yield* TestNetwork.bindDatagram("unix:@third")
        const a = yield* Network.open("datagram")
        yield* a.connect(third.address)
        const aName = Option.getOrThrow(yield* a.localAddress)
        const b = yield* Network.open("datagram")
        yield* b.connect(aName)
        assert.strictEqual(summary(yield* Effect.flip(b.send(bytes("hi")))).errno, 1)
      })
    )
  )

  it.effect("a closed handle's name is gone (ECONNREFUSED); bad port options are InvalidInput", () =>
    fresh(
      Effect.gen(function* () {
        const port = yield* TestNetwork.bindDatagram("unix:@names")
        const name = yield* Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* Network.open("datagram")
            yield* handle.connect(port.address)
            return Option.getOrThrow(yield* handle.localAddress)
          })
        )
        const other = yield* Network.open("datagram")
        assert.strictEqual((yield* Effect.flip(other.connect(name)))._tag, "ECONNREFUSED")
        const invalid = yield* Effect.flip(TestNetwork.bindDatagram("unix:@q", { queue: 0 }))
        assert.strictEqual(invalid._tag, "InvalidInput")
        const noPermissions = yield* Effect.flip(TestNetwork.bindDatagram("127.0.0.1:0", { permission: "deny" }))
        assert.strictEqual(noPermissions._tag, "InvalidInput")
      })
    )
  )
})

// docs/testing-unix-datagrams.md's example, verbatim: the page shows what runs.
describe("docs: testing-unix-datagrams.md", () => {
  // The code under test: tell a supervisor we are ready, retrying while its queue is full.
  const notifyReady = (socket: string) =>
    Effect.gen(function* () {
      const handle = yield* Network.open("datagram")
      yield* handle.connect(socket)
      yield* handle
        .send(new TextEncoder().encode("READY=1"))
        .pipe(Effect.retry({ while: Retry.isTransient, schedule: Schedule.spaced("10 millis"), times: 3 }))
    })

  it.effect("READY=1 arrives as one datagram from the handle's autobound name", () =>
    Effect.gen(function* () {
      const supervisor = yield* TestNetwork.bindDatagram("unix:/run/notify.sock")
      yield* notifyReady("unix:/run/notify.sock")
      const { data, from } = yield* supervisor.receive
      assert.strictEqual(new TextDecoder().decode(data), "READY=1")
      assert.strictEqual(from._tag, "UnixAbstract")
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )

  it.effect("no supervisor: ENOENT; a supervisor that went away: ECONNREFUSED", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.flip(notifyReady("unix:/run/none.sock"))
      assert.strictEqual(missing._tag, "ENOENT")
      yield* Effect.scoped(TestNetwork.bindDatagram("unix:/run/old.sock"))
      const stale = yield* Effect.flip(notifyReady("unix:/run/old.sock"))
      assert.strictEqual(stale._tag, "ECONNREFUSED")
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
  )
})
