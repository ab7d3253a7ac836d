import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"
import {
  ConnectError,
  DialError,
  InvalidInput,
  Network,
  SockAddr,
  type SocketHandle,
  type Transport
} from "../src/index.ts"

// ---------------------------------------------------------------------------
// A fake transport: every connectStream opens a numbered "kernel socket" and plays the next
// scripted outcome; the kernel records what was opened, closed and interrupted.
// ---------------------------------------------------------------------------

interface Gate {
  /** Completed when the transport has opened the socket and is connecting. */
  readonly started: Deferred.Deferred<void>
  /** Complete it to end the connect: success, or a typed failure. */
  readonly result: Deferred.Deferred<void, ConnectError.ConnectError>
}

type Outcome =
  | { readonly _tag: "Accept" }
  | { readonly _tag: "Fail"; readonly name: "ECONNREFUSED" | "ENOENT" | "EACCES" }
  | { readonly _tag: "Gate"; readonly gate: Gate }

interface StreamRequest {
  readonly id: number
  readonly type: "stream" | "seqpacket"
  readonly address: SockAddr.SockAddr
  readonly options: Transport.SocketOptions
}

class Kernel {
  readonly script: Array<Outcome> = []
  readonly requests: Array<StreamRequest> = []
  readonly opened: Array<number> = []
  readonly closed: Array<number> = []
  readonly interrupted: Array<number> = []
  readonly written: Array<string> = []
  /** Datagram endpoint events, in order. */
  readonly journal: Array<string> = []
  endpoints = 0

  get live(): Array<number> {
    return this.opened.filter((id) => !this.closed.includes(id))
  }

  close(id: number): void {
    if (!this.closed.includes(id)) this.closed.push(id)
  }
}

const addr = (text: string): SockAddr.SockAddr => Result.getOrThrow(SockAddr.fromString(text))
const localFor = (id: number): SockAddr.SockAddr => addr(`127.0.0.1:${40000 + id}`)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const fakeSocket = (kernel: Kernel, id: number): Socket.Socket =>
  Socket.make({
    reader: Effect.never,
    writer: Effect.succeed({
      // "stall" never drains: a peer that stopped reading, for write deadlines.
      write: (chunk) =>
        chunk === "stall"
          ? Effect.never
          : Effect.sync(() => {
              kernel.written.push(`${id}: ${typeof chunk === "string" ? chunk : decoder.decode(chunk as Uint8Array)}`)
            }),
      writeAll: (chunks) =>
        Effect.sync(() => {
          for (const chunk of chunks) kernel.written.push(`${id}: ${decoder.decode(encoder.encode(String(chunk)))}`)
        })
    })
  })

const endpointFor = (kernel: Kernel, family: string): Transport.DatagramEndpoint => {
  const id = ++kernel.endpoints
  let peer: SockAddr.SockAddr | undefined
  const local = family === "IPv4" ? addr("127.0.0.1:50000") : addr("[::1]:50000")
  kernel.journal.push(`open ${id} ${family}`)
  return {
    connect: (address) =>
      Effect.suspend(() => {
        // The contract: connect only while not associated (the state machine disassociates first).
        if (peer !== undefined) return Effect.die(new Error("connect while associated"))
        peer = address
        kernel.journal.push(`connect ${id} ${SockAddr.format(address)}`)
        return Effect.succeed({ local, peer: address })
      }),
    disconnect: Effect.sync(() => {
      peer = undefined
      kernel.journal.push(`disconnect ${id}`)
    }),
    send: (data) =>
      Effect.sync(() => {
        kernel.journal.push(`send ${id} ${peer === undefined ? "-" : SockAddr.format(peer)} ${decoder.decode(data)}`)
      }),
    receive: Effect.sync(() => encoder.encode(`from ${peer === undefined ? "-" : SockAddr.format(peer)}`)),
    localAddress: Effect.succeed(local),
    close: Effect.sync(() => {
      kernel.journal.push(`close ${id}`)
    })
  }
}

const transportOf = (kernel: Kernel): Transport.Transport => ({
  platform: "fake",
  connectStream: (request) =>
    Effect.suspend(() => {
      const id = kernel.opened.length + 1
      kernel.opened.push(id)
      kernel.requests.push({ id, ...request })
      const outcome = kernel.script.shift() ?? { _tag: "Accept" }
      const connecting: Effect.Effect<void, ConnectError.ConnectError> =
        outcome._tag === "Accept"
          ? Effect.void
          : outcome._tag === "Fail"
            ? Effect.fail(ConnectError.make(outcome.name, { address: request.address }))
            : Effect.andThen(Deferred.succeed(outcome.gate.started, undefined), Deferred.await(outcome.gate.result))
      return connecting.pipe(
        Effect.onInterrupt(() => Effect.sync(() => kernel.interrupted.push(id))),
        // The contract: a failed or interrupted connect has already destroyed its socket.
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => kernel.close(id)))),
        Effect.as({
          local: localFor(id),
          peer: request.address,
          socket: fakeSocket(kernel, id),
          close: Effect.sync(() => kernel.close(id))
        })
      )
    }),
  openDatagram: (request) =>
    Effect.sync(() => endpointFor(kernel, request.address._tag === "Inet" ? request.address.family : "unix"))
})

const makeGate = Effect.gen(function* () {
  const gate: Gate = {
    started: yield* Deferred.make<void>(),
    result: yield* Deferred.make<void, ConnectError.ConnectError>()
  }
  return gate
})

/** A kernel and a handle of `type` on it, opened in the test's scope. */
const setup = <T extends Transport.SocketType>(type: T, options?: Network.OpenOptions) =>
  Effect.gen(function* () {
    const kernel = new Kernel()
    const handle = yield* Network.open(type, options).pipe(
      Effect.provideService(Network.Network, Network.make(transportOf(kernel)))
    )
    return { kernel, handle }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  const error = Exit.findErrorOption(exit)
  if (Option.isNone(error)) assert.fail(`expected a failure, got ${Exit.isSuccess(exit) ? "success" : "a defect"}`)
  return error.value
}

const assertState = (state: SocketHandle.State, tag: SocketHandle.State["_tag"]) =>
  assert.strictEqual(state._tag, tag, `state ${state._tag}, expected ${tag}`)

// ---------------------------------------------------------------------------

describe("SocketHandle (over a fake transport)", () => {
  it.effect("connect succeeds with nothing: the transport's connection never reaches the caller", () =>
    Effect.gen(function* () {
      const { kernel, handle } = yield* setup("stream")
      kernel.script.push({ _tag: "Accept" })
      const result: unknown = yield* handle.connect("127.0.0.1:80")
      assert.isUndefined(result)
      const datagram = yield* setup("datagram")
      const associated: unknown = yield* datagram.handle.connect("127.0.0.1:53")
      assert.isUndefined(associated)
    })
  )

  describe("stream", () => {
    it.effect("connects: Idle -> Connecting -> Connected, with local and peer addresses", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        assertState(yield* handle.state, "Idle")
        assert.isTrue(Option.isNone(yield* handle.peerAddress))
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:5432"))
        yield* Deferred.await(gate.started)
        const connecting = yield* handle.state
        assertState(connecting, "Connecting")
        if (connecting._tag === "Connecting") assert.isTrue(Equal.equals(connecting.address, addr("127.0.0.1:5432")))
        yield* Deferred.succeed(gate.result, undefined)
        yield* Fiber.join(fiber)
        assertState(yield* handle.state, "Connected")
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.peerAddress), addr("127.0.0.1:5432")))
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.localAddress), localFor(1)))
        // The connection is an effect/socket Socket.
        const socket = yield* handle.socket
        assert.isTrue(Socket.isSocket(socket))
        yield* Effect.scoped(Effect.flatMap(socket.writer, (writer) => writer.write(encoder.encode("hello"))))
        assert.deepStrictEqual(kernel.written, ["1: hello"])
        assert.deepStrictEqual(kernel.live, [1])
      })
    )

    it.effect("connect while connecting fails with EALREADY and opens nothing", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:5432"))
        yield* Deferred.await(gate.started)
        for (const target of ["127.0.0.1:5432", "[::1]:80", "unix:/run/app.sock"]) {
          const error = yield* Effect.flip(handle.connect(target))
          assert.strictEqual(error._tag, "EALREADY", target)
          if (error._tag === "EALREADY") assert.isTrue(Equal.equals(error.address, addr(target)))
        }
        assert.strictEqual((yield* Effect.flip(handle.disconnect))._tag, "EALREADY")
        assert.deepStrictEqual(kernel.opened, [1])
        // The first connect is undisturbed.
        assertState(yield* handle.state, "Connecting")
        yield* Deferred.succeed(gate.result, undefined)
        yield* Fiber.join(fiber)
        assertState(yield* handle.state, "Connected")
      })
    )

    it.effect("two fibers connecting at once: one kernel socket, the other gets EALREADY", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const first = yield* Effect.forkChild(Effect.exit(handle.connect("127.0.0.1:1")))
        const second = yield* Effect.forkChild(Effect.exit(handle.connect("127.0.0.1:1")))
        yield* Deferred.await(gate.started)
        // The loser ends on its own (the winner waits at the gate): wait for it, then open the gate.
        yield* Effect.raceFirst(Fiber.await(first), Fiber.await(second))
        yield* Deferred.succeed(gate.result, undefined)
        const exits = [yield* Fiber.join(first), yield* Fiber.join(second)]
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
        assert.deepStrictEqual(
          exits.filter(Exit.isFailure).map((exit) => failureOf(exit)._tag),
          ["EALREADY"]
        )
        assert.deepStrictEqual(kernel.opened, [1])
      })
    )

    it.effect("connect on a connected stream fails with EISCONN and changes nothing", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        yield* handle.connect("127.0.0.1:5432")
        const before = yield* handle.state
        for (const target of ["127.0.0.1:5432", "127.0.0.1:6000"]) {
          const error = yield* Effect.flip(handle.connect(target))
          assert.strictEqual(error._tag, "EISCONN")
          if (error._tag === "EISCONN") assert.isTrue(Equal.equals(error.localAddress, localFor(1)))
        }
        assert.strictEqual(yield* handle.state, before)
        assert.deepStrictEqual(kernel.opened, [1])
        assert.deepStrictEqual(kernel.live, [1])
      })
    )

    it.effect("after ECONNREFUSED the failed socket is closed and the next connect opens a fresh one", () =>
      Effect.gen(function* () {
        const options = { local: "127.0.0.1:0", keepAlive: "30 seconds", noDelay: true } as const
        const { kernel, handle } = yield* setup("stream", options)
        kernel.script.push({ _tag: "Fail", name: "ECONNREFUSED" })
        const error = yield* Effect.flip(handle.connect("127.0.0.1:5432"))
        assert.strictEqual(error._tag, "ECONNREFUSED")
        const failed = yield* handle.state
        assertState(failed, "Failed")
        if (failed._tag === "Failed") {
          assert.strictEqual(failed.error, error)
          assert.isTrue(Equal.equals(failed.address, addr("127.0.0.1:5432")))
        }
        assert.deepStrictEqual(kernel.closed, [1], "the failed socket is closed")
        assert.deepStrictEqual(kernel.live, [])
        yield* handle.connect("127.0.0.1:5432")
        assertState(yield* handle.state, "Connected")
        assert.deepStrictEqual(kernel.opened, [1, 2], "a fresh socket")
        assert.deepStrictEqual(kernel.live, [2])
        // The same options, every time: local bind, keepalive, no-delay.
        const [first, second] = kernel.requests
        assert.deepStrictEqual(second?.options, first?.options)
        assert.deepStrictEqual(first?.options, {
          local: addr("127.0.0.1:0") as SockAddr.Inet,
          keepAlive: true,
          keepAliveInitialDelayMillis: 30_000,
          noDelay: true
        })
      })
    )

    it.effect("interrupting the fiber during connect closes the attempt and leaves the handle Idle", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:5432"))
        yield* Deferred.await(gate.started)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(kernel.interrupted, [1])
        assert.deepStrictEqual(kernel.closed, [1])
        assertState(yield* handle.state, "Idle")
        assert.isTrue(Option.isNone(yield* handle.peerAddress))
        yield* handle.connect("127.0.0.1:5432")
        assertState(yield* handle.state, "Connected")
        assert.deepStrictEqual(kernel.live, [2])
      })
    )

    it.effect("a deadline fails with DeadlineExceeded at exactly the deadline and interrupts the attempt", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate // never completed: a blackhole
        kernel.script.push({ _tag: "Gate", gate })
        let failedAt: number | undefined
        const fiber = yield* Effect.forkChild(
          handle.connect("127.0.0.1:5432", { deadline: "2 seconds" }).pipe(
            Effect.tapError(() =>
              Effect.map(Clock.currentTimeMillis, (now) => {
                failedAt = now
              })
            ),
            Effect.exit
          )
        )
        yield* Deferred.await(gate.started)
        yield* TestClock.adjust("1999 millis")
        assert.isUndefined(fiber.pollUnsafe(), "still connecting 1 ms before the deadline")
        assertState(yield* handle.state, "Connecting")
        assert.deepStrictEqual(kernel.interrupted, [])
        yield* TestClock.adjust("1 millis")
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error._tag, "DeadlineExceeded")
        assert.notStrictEqual(error._tag, "ETIMEDOUT")
        assert.instanceOf(error, DialError.DeadlineExceeded)
        if (error._tag === "DeadlineExceeded") {
          assert.strictEqual(error.deadlineMillis, 2000)
          assert.isTrue(Equal.equals(error.address, addr("127.0.0.1:5432")))
        }
        assert.strictEqual(failedAt, 2000)
        assert.deepStrictEqual(kernel.interrupted, [1], "the attempt was interrupted")
        assert.deepStrictEqual(kernel.closed, [1])
        const state = yield* handle.state
        assertState(state, "Failed")
        if (state._tag === "Failed") assert.strictEqual(state.error._tag, "DeadlineExceeded")
        // And the handle connects again.
        yield* handle.connect("127.0.0.1:5432", { deadline: "2 seconds" })
        assertState(yield* handle.state, "Connected")
      })
    )

    it.effect("a connect that finishes before its deadline is not disturbed by it", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const fiber = yield* Effect.forkChild(handle.connect("127.0.0.1:5432", { deadline: "2 seconds" }))
        yield* Deferred.await(gate.started)
        yield* TestClock.adjust("1 second")
        yield* Deferred.succeed(gate.result, undefined)
        yield* Fiber.join(fiber)
        yield* TestClock.adjust("1 hour")
        assertState(yield* handle.state, "Connected")
        assert.deepStrictEqual(kernel.live, [1])
      })
    )

    it.effect("an AbortSignal aborted mid-connect fails with EINTR, and the handle connects again", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const controller = new AbortController()
        const fiber = yield* Effect.forkChild(
          Effect.exit(handle.connect("127.0.0.1:5432", { signal: controller.signal }))
        )
        yield* Deferred.await(gate.started)
        controller.abort()
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error._tag, "EINTR")
        if (error._tag === "EINTR") {
          assert.strictEqual(error.cause, controller.signal.reason)
          assert.isTrue(Equal.equals(error.address, addr("127.0.0.1:5432")))
        }
        assert.deepStrictEqual(kernel.interrupted, [1])
        assert.deepStrictEqual(kernel.closed, [1])
        assertState(yield* handle.state, "Failed")
        yield* handle.connect("127.0.0.1:5432")
        assertState(yield* handle.state, "Connected")
        assert.deepStrictEqual(kernel.live, [2])
      })
    )

    it.effect("an AbortSignal already aborted fails with EINTR before anything is opened", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const signal = AbortSignal.abort()
        const error = yield* Effect.flip(handle.connect("127.0.0.1:5432", { signal }))
        assert.strictEqual(error._tag, "EINTR")
        if (error._tag === "EINTR") assert.strictEqual(error.cause, signal.reason)
        assert.deepStrictEqual(kernel.opened, [], "nothing was attempted")
        assertState(yield* handle.state, "Idle")
        yield* handle.connect("127.0.0.1:5432")
        assert.deepStrictEqual(kernel.live, [1])
      })
    )

    it.effect("a NaN deadline is InvalidInput, not a deadline of zero, and nothing is opened", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const error = yield* Effect.flip(handle.connect("127.0.0.1:80", { deadline: Number.NaN }))
        assert.strictEqual(error._tag, "InvalidInput")
        assertState(yield* handle.state, "Idle")
        assert.deepStrictEqual(kernel.live, [])
      })
    )

    it.effect("connect to unspec is InvalidInput and changes nothing, connected or not", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const idle = yield* handle.state
        for (const target of [SockAddr.unspec, "unspec"]) {
          const error = yield* Effect.flip(handle.connect(target))
          assert.strictEqual(error._tag, "InvalidInput")
          assert.instanceOf(error, InvalidInput.InvalidInput)
        }
        assert.strictEqual(yield* handle.state, idle)
        assert.deepStrictEqual(kernel.opened, [])
        yield* handle.connect("127.0.0.1:1")
        const connected = yield* handle.state
        assert.strictEqual((yield* Effect.flip(handle.connect(SockAddr.unspec)))._tag, "InvalidInput")
        assert.strictEqual(yield* handle.state, connected)
        assert.deepStrictEqual(kernel.live, [1])
      })
    )

    it.effect("invalid input is InvalidInput; nothing is opened and the state is unchanged", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        const idle = yield* handle.state
        for (const target of ["127.0.0.1:99999", "unix:", "db.internal:5432", "", "[::1]", "1.2.3.4.5:1"]) {
          const error = yield* Effect.flip(handle.connect(target))
          assert.strictEqual(error._tag, "InvalidInput", target)
        }
        const badOptions: ReadonlyArray<SocketHandle.ConnectOptions> = [
          { deadline: -1 },
          { deadline: "soon" as never },
          { signal: {} as AbortSignal }
        ]
        for (const options of badOptions) {
          const error = yield* Effect.flip(handle.connect("127.0.0.1:1", options))
          assert.strictEqual(error._tag, "InvalidInput")
        }
        assert.strictEqual(yield* handle.state, idle)
        assert.deepStrictEqual(kernel.opened, [])
      })
    )

    it.effect("a local bind must match the peer's family and be an inet address", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream", { local: "127.0.0.1:0" })
        for (const target of ["[::1]:80", "unix:/run/app.sock"]) {
          const error = yield* Effect.flip(handle.connect(target))
          assert.strictEqual(error._tag, "InvalidInput", target)
          if (error._tag === "InvalidInput") assert.strictEqual(error.field, "local")
        }
        assert.deepStrictEqual(kernel.opened, [])
        const opened = yield* Effect.flip(
          Network.open("stream", { local: "unix:/x.sock" }).pipe(
            Effect.provideService(Network.Network, Network.make(transportOf(kernel)))
          )
        )
        assert.strictEqual(opened._tag, "InvalidInput")
      })
    )

    it.effect("unix addresses reach the transport as they are", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        yield* handle.connect("unix:@app")
        yield* handle.disconnect
        yield* handle.connect("unix:/run/app.sock")
        assert.deepStrictEqual(
          kernel.requests.map((r) => SockAddr.format(r.address)),
          ["unix:@app", "unix:/run/app.sock"]
        )
        assert.deepStrictEqual(kernel.live, [2])
      })
    )

    it.effect("disconnect closes the connection and returns to Idle; a later connect opens afresh", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("stream")
        yield* handle.disconnect // nothing to do
        assertState(yield* handle.state, "Idle")
        yield* handle.connect("127.0.0.1:1")
        yield* handle.disconnect
        assertState(yield* handle.state, "Idle")
        assert.deepStrictEqual(kernel.closed, [1])
        assert.strictEqual((yield* Effect.flip(handle.socket))._tag, "ENOTCONN")
        yield* handle.connect("127.0.0.1:1")
        assert.deepStrictEqual(kernel.live, [2])
      })
    )

    it.effect("socket when not connected fails with ENOTCONN", () =>
      Effect.gen(function* () {
        const { handle } = yield* setup("stream")
        const error = yield* Effect.flip(handle.socket)
        assert.strictEqual(error._tag, "ENOTCONN")
      })
    )
  })

  describe("after the scope closes", () => {
    it.effect("every operation fails with EBADF and the connection was closed", () =>
      Effect.gen(function* () {
        const kernel = new Kernel()
        const scope = yield* Scope.make()
        const network = Network.make(transportOf(kernel))
        const [stream, datagram] = yield* Effect.all([
          Network.open("stream").pipe(Scope.provide(scope)),
          Network.open("datagram").pipe(Scope.provide(scope))
        ]).pipe(Effect.provideService(Network.Network, network))
        yield* stream.connect("127.0.0.1:1")
        yield* datagram.connect("127.0.0.1:2")
        assert.deepStrictEqual(kernel.live, [1])
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(kernel.live, [], "the stream connection was closed")
        assert.include(kernel.journal, "close 1", "the datagram endpoint was closed")
        for (const handle of [stream, datagram]) {
          assertState(yield* handle.state, "Closed")
          assert.strictEqual((yield* Effect.flip(handle.connect("127.0.0.1:1")))._tag, "EBADF")
          assert.strictEqual(
            (yield* Effect.flip(handle.connect("unspec")))._tag,
            handle.type === "stream" ? "InvalidInput" : "EBADF"
          )
          assert.strictEqual((yield* Effect.flip(handle.disconnect))._tag, "EBADF")
          assert.isTrue(Option.isNone(yield* handle.peerAddress))
        }
        assert.strictEqual((yield* Effect.flip(stream.socket))._tag, "EBADF")
        assert.strictEqual((yield* Effect.flip(datagram.send(encoder.encode("x"))))._tag, "EBADF")
        assert.strictEqual((yield* Effect.flip(datagram.receive))._tag, "EBADF")
        assert.deepStrictEqual(kernel.opened, [1], "nothing opened after close")
      })
    )

    it.effect("a connect in flight when the scope closes fails with EBADF and its connection is closed", () =>
      Effect.gen(function* () {
        const kernel = new Kernel()
        const scope = yield* Scope.make()
        const handle = yield* Network.open("stream").pipe(
          Scope.provide(scope),
          Effect.provideService(Network.Network, Network.make(transportOf(kernel)))
        )
        const gate = yield* makeGate
        kernel.script.push({ _tag: "Gate", gate })
        const fiber = yield* Effect.forkChild(Effect.exit(handle.connect("127.0.0.1:1")))
        yield* Deferred.await(gate.started)
        yield* Scope.close(scope, Exit.void)
        yield* Deferred.succeed(gate.result, undefined)
        assert.strictEqual(failureOf(yield* Fiber.join(fiber))._tag, "EBADF")
        assert.deepStrictEqual(kernel.live, [], "nothing outlives the scope")
        assertState(yield* handle.state, "Closed")
      })
    )
  })

  describe("datagram", () => {
    it.effect("connect, re-connect to another peer (disconnect first, underneath), dissolve with unspec", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("datagram")
        yield* handle.connect("127.0.0.1:5000")
        assert.deepStrictEqual(kernel.journal, ["open 1 IPv4", "connect 1 127.0.0.1:5000"])
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.peerAddress), addr("127.0.0.1:5000")))
        yield* handle.send(encoder.encode("a"))
        assert.strictEqual(decoder.decode(yield* handle.receive), "from 127.0.0.1:5000")

        yield* handle.connect("127.0.0.1:6000")
        assert.deepStrictEqual(kernel.journal.slice(3), ["disconnect 1", "connect 1 127.0.0.1:6000"])
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.peerAddress), addr("127.0.0.1:6000")))
        yield* handle.send(encoder.encode("b"))
        assert.strictEqual(kernel.journal.at(-1), "send 1 127.0.0.1:6000 b")

        yield* handle.connect(SockAddr.unspec)
        assert.strictEqual(kernel.journal.at(-1), "disconnect 1")
        assertState(yield* handle.state, "Idle")
        assert.isTrue(Option.isNone(yield* handle.peerAddress))
        // The bound local address stays known.
        assert.isTrue(Equal.equals(Option.getOrThrow(yield* handle.localAddress), addr("127.0.0.1:50000")))
        assert.strictEqual((yield* Effect.flip(handle.send(encoder.encode("c"))))._tag, "ENOTCONN")

        // Dissolving again is a no-op; connecting again reuses the endpoint, with no disconnect.
        const before = kernel.journal.length
        yield* handle.connect("unspec")
        assert.strictEqual(kernel.journal.length, before)
        yield* handle.connect("127.0.0.1:7000")
        assert.deepStrictEqual(kernel.journal.slice(before), ["connect 1 127.0.0.1:7000"])
        assert.strictEqual(kernel.endpoints, 1)
      })
    )

    it.effect("a peer of the other family fails with EAFNOSUPPORT and leaves the association as it was", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("datagram")
        yield* handle.connect("127.0.0.1:5000")
        const before = [...kernel.journal]
        const connected = yield* handle.state
        const error = yield* Effect.flip(handle.connect("[::1]:5000"))
        assert.strictEqual(error._tag, "EAFNOSUPPORT")
        if (error._tag === "EAFNOSUPPORT") {
          assert.strictEqual(error.errno, 97)
          assert.isTrue(Equal.equals(error.address, addr("[::1]:5000")))
        }
        // As the kernel does: the socket keeps its peer; nothing reached the endpoint.
        assert.deepStrictEqual(kernel.journal, before)
        assert.strictEqual(yield* handle.state, connected)
        yield* handle.send(encoder.encode("still"))
        assert.strictEqual(kernel.journal.at(-1), "send 1 127.0.0.1:5000 still")
        // Dissolved, the endpoint keeps its family.
        yield* handle.connect(SockAddr.unspec)
        assert.strictEqual((yield* Effect.flip(handle.connect("[::1]:5000")))._tag, "EAFNOSUPPORT")
        assert.strictEqual(kernel.endpoints, 1)
      })
    )

    it.effect("send and receive when not connected fail with ENOTCONN", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("datagram")
        assert.strictEqual((yield* Effect.flip(handle.send(encoder.encode("x"))))._tag, "ENOTCONN")
        const received = yield* Effect.flip(handle.receive)
        assert.strictEqual(received._tag, "ENOTCONN")
        assert.strictEqual(received.syscall, "recv")
        assert.deepStrictEqual(kernel.journal, [], "nothing was opened")
      })
    )

    it.effect("a unix datagram peer goes to the transport's unix endpoint (the platform decides, not the core)", () =>
      Effect.gen(function* () {
        const { kernel, handle } = yield* setup("datagram")
        yield* handle.connect("unix:/run/app.sock")
        assert.strictEqual((yield* handle.state)._tag, "Connected")
        // Its family is fixed now, as for inet: an inet peer is EAFNOSUPPORT.
        assert.strictEqual((yield* Effect.flip(handle.connect("127.0.0.1:53")))._tag, "EAFNOSUPPORT")
        assert.deepStrictEqual(kernel.journal, ["open 1 unix", "connect 1 unix:/run/app.sock"])
      })
    )
  })

  it.effect("Network.open refuses a bad socket type or option with InvalidInput", () =>
    Effect.gen(function* () {
      const network = Network.make(transportOf(new Kernel()))
      assert.strictEqual(network.platform, "fake")
      const cases: ReadonlyArray<readonly [unknown, Network.OpenOptions | undefined]> = [
        ["raw", undefined],
        ["stream", { noDelay: "yes" as never }],
        ["stream", { keepAlive: "forever" as never }],
        ["stream", { local: "127.0.0.1:99999" }]
      ]
      for (const [type, options] of cases) {
        const error = yield* Effect.flip(network.open(type as "stream", options))
        assert.strictEqual(error._tag, "InvalidInput", `${String(type)} ${JSON.stringify(options)}`)
      }
    })
  )

  describe("write deadlines", () => {
    it.effect(
      "a write that cannot drain fails with DeadlineExceeded (write) at the deadline, per call and per handle",
      () =>
        Effect.gen(function* () {
          const { handle } = yield* setup("stream")
          yield* handle.connect("127.0.0.1:80")
          const perCall = yield* Effect.forkChild(handle.write("stall", { deadline: "1 second" }))
          yield* TestClock.adjust(999)
          assert.isUndefined(perCall.pollUnsafe(), "not before the deadline")
          yield* TestClock.adjust(1)
          const error = failureOf(yield* Fiber.await(perCall))
          assert.strictEqual(error._tag, "DeadlineExceeded")
          assert.strictEqual((error as DialError.DeadlineExceeded).operation, "write")
          assert.include(error.message, "write deadline of 1000ms exceeded on the connection to 127.0.0.1:80")
          // Per handle, through the socket view: a SocketWriteError caused by the deadline.
          yield* handle.setDeadlines({ write: "2 seconds" })
          const socket = yield* handle.socket
          const viaSocket = yield* Effect.forkChild(
            Effect.scoped(Effect.flatMap(socket.writer, (w) => w.write("stall")))
          )
          yield* TestClock.adjust(2000)
          const socketError = failureOf(yield* Fiber.await(viaSocket)) as Socket.SocketError
          assert.strictEqual(socketError.reason._tag, "SocketWriteError")
          assert.strictEqual(
            ((socketError.reason as Socket.SocketWriteError).cause as DialError.DeadlineExceeded).operation,
            "write"
          )
          // Other writes still go out: the deadline failed one operation, not the connection.
          yield* handle.write("ok")
          // Infinity removes it.
          yield* handle.setDeadlines({ write: Infinity })
          const unlimited = yield* Effect.forkChild(handle.write("stall"))
          yield* TestClock.adjust(60_000)
          assert.isUndefined(unlimited.pollUnsafe())
          yield* Fiber.interrupt(unlimited)
        }).pipe(Effect.scoped)
    )
  })
})
