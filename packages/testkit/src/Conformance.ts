/**
 * The conformance suite: one set of tests that every `Network` layer must pass, the real
 * kernel's (`@dial/node`, on loopback) and the in-memory one (`TestNetwork`). It is a function
 * of a layer and a {@link Fixture} that makes peers on the platform, so the two packages never
 * import each other.
 *
 * No case needs the real kernel: each runs on both. A case that needs a capability the fixture
 * does not provide is registered as skipped, with the reason in its name, never as passing.
 * With `kernel: true` the cases run on the live clock with short deadlines (100 ms); otherwise
 * on `TestClock`, advanced by hand.
 *
 * Import it from `@dial/testkit/Conformance` (it imports `@effect/vitest`).
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import * as Conformance from "@dial/testkit/Conformance"
 *
 * declare const fixture: Conformance.Fixture<TestNetwork.TestNetwork>
 * Conformance.suite("TestNetwork", { layer: TestNetwork.layer(), fixture, kernel: false })
 * ```
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { type ConnectError, Network, Retry, SockAddr, type SocketHandle } from "@dial/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"

/**
 * The kinds of stream address a fixture can listen on.
 *
 * @example
 * ```ts
 * import type * as Conformance from "@dial/testkit/Conformance"
 *
 * const kinds: ReadonlyArray<Conformance.Kind> = ["inet4", "inet6", "unix", "abstract"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Kind = "inet4" | "inet6" | "unix" | "abstract"

/**
 * How to make peers on a platform. Every address lives as long as the scope it was made in.
 *
 * @example
 * ```ts
 * import { Effect, Result } from "effect"
 * import { SockAddr } from "@dial/core"
 * import { TestNetwork } from "@dial/testkit"
 * import type * as Conformance from "@dial/testkit/Conformance"
 *
 * const at = (text: string) => Result.getOrThrow(SockAddr.fromString(text))
 * const fixture: Conformance.Fixture<TestNetwork.TestNetwork> = {
 *   listen: () => TestNetwork.listen("127.0.0.1:0", { echo: true }).pipe(Effect.map((l) => l.address), Effect.orDie),
 *   closedAddress: () => Effect.succeed(at("127.0.0.1:1")),
 *   udpEcho: () =>
 *     TestNetwork.bindDatagram("127.0.0.1:0", { echo: true }).pipe(Effect.map((p) => p.address), Effect.orDie)
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Fixture<R> {
  /** A stream echo server of that kind: it sends back every byte it reads. */
  readonly listen: (kind: Kind) => Effect.Effect<SockAddr.SockAddr, never, Scope.Scope | R>
  /** An address of that kind where nothing listens. */
  readonly closedAddress: (kind: Kind) => Effect.Effect<SockAddr.SockAddr, never, Scope.Scope | R>
  /** A UDP echo server of that family. */
  readonly udpEcho: (family: "IPv4" | "IPv6") => Effect.Effect<SockAddr.Inet, never, Scope.Scope | R>
  /** An address whose connect never completes (the kernel's: a full accept queue). */
  readonly hanging?: Effect.Effect<SockAddr.SockAddr, never, Scope.Scope | R> | undefined
  /** Starts a stream echo server at exactly this address (one `closedAddress` returned). */
  readonly listenAt?: ((address: SockAddr.SockAddr) => Effect.Effect<void, never, Scope.Scope | R>) | undefined
  /** A UDP address where nothing is bound. */
  readonly udpClosed?: ((family: "IPv4" | "IPv6") => Effect.Effect<SockAddr.Inet, never, Scope.Scope | R>) | undefined
  /** A SOCK_SEQPACKET echo server of that kind: it sends back every message as one message. */
  readonly seqpacketEcho?:
    | ((kind: "unix" | "abstract") => Effect.Effect<SockAddr.SockAddr, never, Scope.Scope | R>)
    | undefined
  /** A unix datagram echo server: it answers every datagram with the same bytes. */
  readonly unixDatagramEcho?: Effect.Effect<SockAddr.SockAddr, never, Scope.Scope | R> | undefined
  /** A loopback stream server whose accepted connections the case drives (FIN, close, reset). */
  readonly server?: Effect.Effect<Server, never, Scope.Scope | R> | undefined
}

/**
 * A server a case drives, for the cases about a connection's life after connect.
 *
 * @example
 * ```ts
 * import type * as Conformance from "@dial/testkit/Conformance"
 *
 * const next = (server: Conformance.Server) => server.accept
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Server {
  readonly address: SockAddr.SockAddr
  /** The next accepted connection. */
  readonly accept: Effect.Effect<Peer>
}

/**
 * The server's end of one connection: an `effect/socket` view whose writer release sends FIN,
 * a close (close(2)) and a reset (RST).
 *
 * @example
 * ```ts
 * import type * as Conformance from "@dial/testkit/Conformance"
 *
 * const hangUp = (peer: Conformance.Peer) => peer.reset
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Peer {
  readonly socket: Socket.Socket
  readonly close: Effect.Effect<void>
  readonly reset: Effect.Effect<void>
}

/**
 * Options of {@link suite}.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import type * as Conformance from "@dial/testkit/Conformance"
 *
 * declare const fixture: Conformance.Fixture<TestNetwork.TestNetwork>
 * const options: Conformance.Options<TestNetwork.TestNetwork, never> = { layer: TestNetwork.layer(), fixture, kernel: false }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<R, E> {
  /** The platform's `Network` (and whatever the fixture needs). Built afresh for every case. */
  readonly layer: Layer.Layer<Network.Network | R, E>
  readonly fixture: Fixture<R>
  /** True on the real kernel: live clock and short real deadlines; false: `TestClock`. */
  readonly kernel: boolean
}

type Capability = "hanging" | "listenAt" | "udpClosed" | "seqpacketEcho" | "unixDatagramEcho" | "server"

interface Case<R> {
  readonly name: string
  /** Fixture capabilities the case needs; without them it is skipped, not passed. */
  readonly needs?: ReadonlyArray<Capability>
  readonly body: Effect.Effect<void, unknown, Network.Network | R | Scope.Scope>
}

const kinds: ReadonlyArray<Kind> = ["inet4", "inet6", "unix", "abstract"]

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const textOf = (chunk: Uint8Array | string) => (typeof chunk === "string" ? chunk : decoder.decode(chunk))

/** Reads from a socket until `expected` bytes arrived (bounded by the pulls the peer makes). */
const readBytes = (socket: Socket.Socket, expected: number) =>
  Effect.gen(function* () {
    const pull = yield* Socket.readerBytes(socket)
    const parts: Array<Uint8Array> = []
    let size = 0
    while (size < expected) {
      for (const chunk of yield* pull) {
        parts.push(chunk)
        size += chunk.byteLength
      }
    }
    const all = new Uint8Array(size)
    let offset = 0
    for (const part of parts) {
      all.set(part, offset)
      offset += part.byteLength
    }
    return decoder.decode(all)
  }).pipe(Effect.scoped)

/** Waits (by yielding, never sleeping) until the handle is connecting: a bounded loop. */
const awaitConnecting = (handle: SocketHandle.Handle) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000; i++) {
      const state = yield* handle.state
      if (state._tag === "Connecting") return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error("the connect never reached Connecting"))
  })

const tagOf = (error: { readonly _tag: string }) => error._tag

const assertAddress = (actual: Option.Option<SockAddr.SockAddr>, expected: SockAddr.SockAddr) => {
  assert.isTrue(Option.isSome(actual), "expected an address")
  if (Option.isSome(actual)) {
    assert.isTrue(
      Equal.equals(actual.value, expected),
      `expected ${SockAddr.format(expected)}, got ${SockAddr.format(actual.value)}`
    )
  }
}

/** The connect fails with `tag` and leaves the handle in `state`. */
const assertConnectRejected = (
  handle: SocketHandle.Handle,
  address: SockAddr.Input,
  tag: string,
  state: SocketHandle.State["_tag"]
) =>
  Effect.gen(function* () {
    assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(address))), tag)
    assert.strictEqual((yield* handle.state)._tag, state)
  })

const assertRefusal = (
  error: { readonly _tag: string },
  name: ConnectError.ConnectError["_tag"],
  address: SockAddr.SockAddr
) => {
  assert.strictEqual(error._tag, name)
  const typed = error as ConnectError.ConnectError
  assert.strictEqual(typed.syscall, "connect")
  assert.isTrue(typed.address !== undefined && Equal.equals(typed.address, address), "the error names the address")
}

/**
 * Registers the conformance cases for one platform under `describe(name)`.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 * import * as Conformance from "@dial/testkit/Conformance"
 *
 * declare const fixture: Conformance.Fixture<TestNetwork.TestNetwork>
 * Conformance.suite("TestNetwork", { layer: TestNetwork.layer(), fixture, kernel: false })
 * ```
 *
 * @category suites
 * @since 0.1.0
 */
export const suite = <R, E>(name: string, options: Options<R, E>): void => {
  const { fixture, kernel, layer } = options

  /** Runs a connect that should exceed its deadline: real time on the kernel, exact virtual time on the fake. */
  const deadlineOf = <A, E2, R2>(effect: Effect.Effect<A, E2, R2>, millis: number) =>
    kernel
      ? Effect.gen(function* () {
          const started = Date.now()
          const exit = yield* Effect.exit(effect)
          return { exit, elapsed: Date.now() - started }
        })
      : Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(effect)
          yield* TestClock.adjust(millis - 1)
          assert.isUndefined(fiber.pollUnsafe(), "the connect ended before its deadline")
          yield* TestClock.adjust(1)
          const exit = yield* Fiber.await(fiber)
          return { exit, elapsed: millis }
        })

  const cases: Array<Case<R>> = []

  for (const kind of kinds) {
    cases.push({
      name: `${kind}: connect reports the peer and the local address`,
      body: Effect.gen(function* () {
        const address = yield* fixture.listen(kind)
        const handle = yield* Network.connect(address)
        assert.strictEqual((yield* handle.state)._tag, "Connected")
        assertAddress(yield* handle.peerAddress, address)
        const local = yield* handle.localAddress
        assert.isTrue(Option.isSome(local), "a connected handle has a local address")
        if (Option.isSome(local) && address._tag === "Inet") {
          assert.strictEqual(local.value._tag, "Inet")
          if (local.value._tag === "Inet") {
            assert.strictEqual(local.value.family, address.family)
            assert.isAbove(local.value.port, 0)
          }
        }
      })
    })
    cases.push({
      name: `${kind}: bytes round-trip through handle.socket`,
      body: Effect.gen(function* () {
        const address = yield* fixture.listen(kind)
        const handle = yield* Network.connect(address)
        const socket = yield* handle.socket
        const message = `ping over ${kind}`
        const answer = yield* Effect.scoped(
          Effect.gen(function* () {
            const writer = yield* socket.writer
            yield* writer.write(encoder.encode(message))
            return yield* readBytes(socket, message.length)
          })
        )
        assert.strictEqual(answer, message)
      })
    })
  }

  for (const kind of ["inet4", "inet6", "abstract"] as const) {
    cases.push({
      name: `${kind}: nothing listening is ECONNREFUSED and the handle is Failed`,
      body: Effect.gen(function* () {
        const address = yield* fixture.closedAddress(kind)
        const handle = yield* Network.open("stream")
        const error = yield* Effect.flip(handle.connect(address))
        assertRefusal(error, "ECONNREFUSED", address)
        assert.strictEqual((error as ConnectError.ECONNREFUSED).errno, 111)
        const state = yield* handle.state
        assert.strictEqual(state._tag, "Failed")
        assert.isTrue(Option.isNone(yield* handle.peerAddress))
      })
    })
  }

  cases.push({
    name: "unix: a missing socket path is ENOENT",
    body: Effect.gen(function* () {
      const address = yield* fixture.closedAddress("unix")
      const error = yield* Effect.flip(Network.connect(address))
      assertRefusal(error, "ENOENT", address)
    })
  })

  cases.push({
    name: "stream: connect on a connected handle is EISCONN and it stays connected",
    body: Effect.gen(function* () {
      const address = yield* fixture.listen("inet4")
      const handle = yield* Network.connect(address)
      yield* assertConnectRejected(handle, address, "EISCONN", "Connected")
    })
  })

  cases.push({
    name: "stream: unspec is InvalidInput and changes nothing",
    body: Effect.gen(function* () {
      const handle = yield* Network.open("stream")
      yield* assertConnectRejected(handle, SockAddr.unspec, "InvalidInput", "Idle")
    })
  })

  cases.push({
    name: "stream: after its scope closed, a handle fails with EBADF",
    body: Effect.gen(function* () {
      const address = yield* fixture.listen("inet4")
      const handle = yield* Effect.scoped(Network.open("stream"))
      yield* assertConnectRejected(handle, address, "EBADF", "Closed")
    })
  })

  cases.push({
    name: "reuse after failure: refused, then the same handle connects to a listener",
    body: Effect.gen(function* () {
      const closed = yield* fixture.closedAddress("inet4")
      const open = yield* fixture.listen("inet4")
      const handle = yield* Network.open("stream")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(closed))), "ECONNREFUSED")
      yield* handle.connect(open)
      assertAddress(yield* handle.peerAddress, open)
    })
  })

  cases.push({
    name: "reuse after failure: refused, then a listener appears at the same address and the same handle connects",
    needs: ["listenAt"],
    body: Effect.gen(function* () {
      const address = yield* fixture.closedAddress("inet4")
      const handle = yield* Network.open("stream")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(address))), "ECONNREFUSED")
      yield* fixture.listenAt!(address)
      yield* handle.connect(address)
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      assertAddress(yield* handle.peerAddress, address)
    })
  })

  cases.push({
    name: "state machine: connect while connecting is EALREADY",
    needs: ["hanging"],
    body: Effect.gen(function* () {
      const address = yield* fixture.hanging!
      const handle = yield* Network.open("stream")
      const first = yield* Effect.forkChild(handle.connect(address))
      yield* awaitConnecting(handle)
      const error = yield* Effect.flip(handle.connect(address))
      assert.strictEqual(tagOf(error), "EALREADY")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.disconnect)), "EALREADY")
      assert.strictEqual((yield* handle.state)._tag, "Connecting")
      yield* Fiber.interrupt(first)
    })
  })

  cases.push({
    name: "deadline: a hanging connect fails with DeadlineExceeded, then the handle connects elsewhere",
    needs: ["hanging"],
    body: Effect.gen(function* () {
      const address = yield* fixture.hanging!
      const open = yield* fixture.listen("inet4")
      const handle = yield* Network.open("stream")
      const { exit, elapsed } = yield* deadlineOf(handle.connect(address, { deadline: "100 millis" }), 100)
      const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error), "the connect failed")
      if (Option.isNone(error)) return
      assert.strictEqual(tagOf(error.value), "DeadlineExceeded")
      assert.strictEqual((error.value as { readonly deadlineMillis: number }).deadlineMillis, 100)
      assert.isAtLeast(elapsed, 95)
      const state = yield* handle.state
      assert.strictEqual(state._tag, "Failed")
      yield* handle.connect(open)
      assert.strictEqual((yield* handle.state)._tag, "Connected")
    })
  })

  cases.push({
    name: "interruption: a hanging connect returns the handle to Idle and a later connect works",
    needs: ["hanging"],
    body: Effect.gen(function* () {
      const address = yield* fixture.hanging!
      const open = yield* fixture.listen("inet4")
      const handle = yield* Network.open("stream")
      const fiber = yield* Effect.forkChild(handle.connect(address))
      yield* awaitConnecting(handle)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      yield* handle.connect(open)
      assertAddress(yield* handle.peerAddress, open)
    })
  })

  // A pause that lets the other end act: a real one on the kernel, a turn on the fake.
  const pause = kernel ? Effect.sleep("2 millis") : Effect.yieldNow

  /** The reason of a socket error, with its typed cause when it has one. */
  const reasonOf = (error: Socket.SocketError) => {
    const reason = error.reason
    const cause = "cause" in reason ? (reason.cause as { readonly _tag?: string }) : undefined
    return { tag: reason._tag, code: reason._tag === "SocketCloseError" ? reason.code : undefined, cause }
  }

  /** Writes until the connection refuses (bounded), returning the typed refusal. */
  const writeUntilRefused = (socket: Socket.Socket) =>
    Effect.scoped(
      Effect.gen(function* () {
        const writer = yield* socket.writer
        for (let i = 0; i < 200; i++) {
          const exit = yield* Effect.exit(writer.write(encoder.encode("more")))
          if (exit._tag === "Failure") {
            const error = Cause.findErrorOption(exit.cause)
            if (Option.isSome(error)) return error.value
          }
          yield* pause
        }
        return yield* Effect.die(new Error("every write was accepted after the peer closed"))
      })
    )

  cases.push({
    name: "half-open: the peer's FIN ends our reads (close 1000 after the data); we can still write",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      // The peer says goodbye and half-closes (its writer's release is FIN).
      yield* Effect.scoped(Effect.flatMap(peer.socket.writer, (writer) => writer.write(encoder.encode("bye"))))
      const socket = yield* handle.socket
      const ended = yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* socket.reader
          let got = ""
          for (let i = 0; i < 100; i++) {
            const exit = yield* Effect.exit(reader.pull)
            if (exit._tag === "Success") for (const chunk of exit.value) got += textOf(chunk)
            else return { got, error: Cause.findErrorOption(exit.cause) }
          }
          return { got, error: Option.none() }
        })
      )
      assert.strictEqual(ended.got, "bye")
      assert.isTrue(Option.isSome(ended.error), "the reads ended")
      if (Option.isSome(ended.error)) {
        assert.deepStrictEqual(reasonOf(ended.error.value as Socket.SocketError), {
          tag: "SocketCloseError",
          code: 1000,
          cause: undefined
        })
      }
      // Our side is still open: the handle says so and the peer reads what we write after.
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      yield* Effect.scoped(Effect.flatMap(socket.writer, (writer) => writer.write(encoder.encode("still here"))))
      assert.strictEqual(yield* readBytes(peer.socket, "still here".length), "still here")
    })
  })

  cases.push({
    name: "a reset is a typed ECONNRESET (syscall read, both addresses, transient); the handle lets it go",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const local = yield* handle.localAddress
      const peer = yield* server.accept
      const socket = yield* handle.socket
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* socket.reader
          yield* peer.reset
          for (let i = 0; i < 100; i++) yield* reader.pull
        })
      ).pipe(Effect.flip)
      const { tag, cause } = reasonOf(error as Socket.SocketError)
      assert.strictEqual(tag, "SocketReadError")
      assert.strictEqual(cause?._tag, "ECONNRESET")
      const typed = cause as ConnectError.ECONNRESET
      assert.strictEqual(typed.syscall, "read")
      assert.isTrue(typed.address !== undefined && Equal.equals(typed.address, server.address), "names the peer")
      assertAddress(Option.fromUndefinedOr(typed.localAddress), Option.getOrThrow(local))
      assert.isTrue(Retry.isTransient(error), "Retry sees through the SocketError")
      // A write on the dead connection is typed too.
      const refused = yield* writeUntilRefused(socket)
      assert.strictEqual(reasonOf(refused).cause?._tag, "ECONNRESET")
      // The connection is gone: the handle is Idle and can connect again.
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      yield* handle.connect(server.address)
      assert.strictEqual((yield* handle.state)._tag, "Connected")
    })
  })

  cases.push({
    name: "a write after the peer closed is a typed EPIPE (or the peer's reset), never an untyped error",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      yield* peer.close
      const refused = yield* writeUntilRefused(yield* handle.socket)
      const { tag, cause } = reasonOf(refused)
      assert.strictEqual(tag, "SocketWriteError")
      assert.include(["EPIPE", "ECONNRESET"], cause?._tag)
      assert.isTrue(Retry.isTransient(refused))
    })
  })

  cases.push({
    name: "CloseEvent: writing one closes the connection; the peer reads a clean end and toChannel completes",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      const socket = yield* handle.socket
      // A channel whose input ends with a CloseEvent completes (the reader meets the close).
      const input = Stream.make(encoder.encode("last words"), new Socket.CloseEvent(1000))
      const read = yield* input.pipe(
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.runCollect,
        Effect.exit
      )
      assert.isTrue(
        read._tag === "Success" ||
          Option.exists(Cause.findErrorOption(read.cause), (e) => reasonOf(e as Socket.SocketError).code === 1000),
        "the channel ended with the connection"
      )
      assert.strictEqual(yield* readBytes(peer.socket, "last words".length), "last words")
      const end = yield* Effect.flip(Effect.scoped(Effect.flatMap(peer.socket.reader, (r) => r.pull)))
      assert.strictEqual(reasonOf(end).code, 1000)
      assert.strictEqual((yield* handle.state)._tag, "Idle")
    })
  })

  cases.push({
    name: "reader scope: closing it fails a suspended pull (1006) and leaves the handle's connection open",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      const socket = yield* handle.socket
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* socket.reader
          const fiber = yield* Effect.forkDetach(reader.pull)
          yield* pause
          return fiber
        })
      ).pipe(Effect.flatMap((fiber) => Effect.flip(Fiber.join(fiber))))
      assert.strictEqual(reasonOf(error).code, 1006)
      // The connection is the handle's: a new reader reads what the peer sends next.
      assert.strictEqual((yield* handle.state)._tag, "Connected")
      yield* Effect.scoped(Effect.flatMap(peer.socket.writer, (writer) => writer.write(encoder.encode("again"))))
      assert.strictEqual(yield* readBytes(socket, "again".length), "again")
    })
  })

  cases.push({
    name: "reconnect loop: Effect.retry redials after the peer closes and never re-reads a dead connection",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      // Each accepted connection gets its number, then the server closes it.
      let accepted = 0
      yield* Effect.forkChild(
        Effect.forever(
          Effect.flatMap(server.accept, (peer) =>
            Effect.andThen(
              Effect.scoped(
                Effect.flatMap(peer.socket.writer, (writer) => writer.write(encoder.encode(`#${++accepted}`)))
              ),
              peer.close
            )
          )
        )
      )
      const seen: Array<string> = []
      // The Socket contract's reconnect loop, as dial writes it: the retried effect owns its
      // connection (a scoped handle), reads until the connection ends, and a retry redials.
      const session = Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Network.connect(server.address)
          const socket = yield* handle.socket
          const reader = yield* socket.reader
          for (let i = 0; i < 100; i++) for (const chunk of yield* reader.pull) seen.push(textOf(chunk))
        })
      )
      const exit = yield* Effect.exit(session.pipe(Effect.retry({ times: 2, while: Retry.isTransient })))
      assert.strictEqual(exit._tag, "Failure")
      assert.deepStrictEqual(seen, ["#1", "#2", "#3"], String(exit))
    })
  })

  /** The failure of an exit, or a defect if it succeeded. */
  const failureOf = <A, E2>(exit: import("effect/Exit").Exit<A, E2>) => {
    const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : Option.none()
    assert.isTrue(Option.isSome(error), "the operation failed")
    return Option.getOrThrow(error) as unknown as { readonly _tag: string }
  }

  cases.push({
    name: "handle API: write, read, end; the peer's FIN is None after its bytes",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      yield* handle.write("hello")
      assert.strictEqual(yield* readBytes(peer.socket, 5), "hello")
      yield* Effect.scoped(Effect.flatMap(peer.socket.writer, (writer) => writer.write(encoder.encode("world"))))
      let got = ""
      for (let i = 0; i < 100; i++) {
        const next = yield* handle.read()
        if (Option.isNone(next)) break
        for (const chunk of next.value) got += textOf(chunk)
      }
      assert.strictEqual(got, "world")
      // Half-open: we still write after the peer's end, then end ourselves.
      yield* handle.write("after")
      yield* handle.end
      assert.strictEqual(yield* readBytes(peer.socket, 5), "after")
      const end = yield* Effect.flip(Effect.scoped(Effect.flatMap(peer.socket.reader, (r) => r.pull)))
      assert.strictEqual(reasonOf(end).code, 1000)
      // Ended both ways, the connection is gone: the handle let it go.
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.write("x"))), "ENOTCONN")
    })
  })

  cases.push({
    name: "read deadline: a silent peer fails read with DeadlineExceeded (read); the connection stays usable",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      const { exit, elapsed } = yield* deadlineOf(handle.read({ deadline: "100 millis" }), 100)
      const error = failureOf(exit) as unknown as { _tag: string; operation: string; deadlineMillis: number }
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual(error.operation, "read")
      assert.strictEqual(error.deadlineMillis, 100)
      assert.isAtLeast(elapsed, 95)
      yield* Effect.scoped(Effect.flatMap(peer.socket.writer, (writer) => writer.write(encoder.encode("late"))))
      const late = yield* handle.read()
      assert.strictEqual(Option.isSome(late) && textOf(late.value[0]), "late")
    })
  })

  cases.push({
    name: "handle deadlines reach the socket view: a pull past the read deadline is a SocketError caused by DeadlineExceeded",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      yield* server.accept
      yield* handle.setDeadlines({ read: "100 millis" })
      const socket = yield* handle.socket
      const { exit } = yield* deadlineOf(Effect.scoped(Effect.flatMap(socket.reader, (r) => r.pull)), 100)
      const error = failureOf(exit) as unknown as Socket.SocketError
      const { tag, cause } = reasonOf(error)
      assert.strictEqual(tag, "SocketReadError")
      assert.strictEqual(cause?._tag, "DeadlineExceeded")
      assert.strictEqual((cause as unknown as { operation: string }).operation, "read")
      assert.isTrue(Retry.isTransient(error))
      // Bad deadlines are InvalidInput and change nothing.
      assert.strictEqual(tagOf(yield* Effect.flip(handle.setDeadlines({ read: -1 }))), "InvalidInput")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.read({ deadline: Number.NaN }))), "InvalidInput")
    })
  })

  cases.push({
    name: "idle deadline: no traffic for that long closes the connection; a waiting read fails with DeadlineExceeded (idle)",
    needs: ["server"],
    body: Effect.gen(function* () {
      const server = yield* fixture.server!
      const handle = yield* Network.connect(server.address)
      const peer = yield* server.accept
      yield* handle.setDeadlines({ idle: "100 millis" })
      const { exit } = yield* deadlineOf(handle.read(), 100)
      const error = failureOf(exit) as unknown as { _tag: string; operation: string }
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual(error.operation, "idle")
      // The handle let the connection go: it is Idle and can connect again.
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.read())), "ENOTCONN")
      void peer
    })
  })

  for (const family of ["IPv4", "IPv6"] as const) {
    cases.push({
      name: `datagram ${family}: connect, send, receive the echo`,
      body: Effect.gen(function* () {
        const address = yield* fixture.udpEcho(family)
        const handle = yield* Network.open("datagram")
        yield* handle.connect(address)
        assertAddress(yield* handle.peerAddress, address)
        const local = yield* handle.localAddress
        assert.isTrue(Option.isSome(local) && local.value._tag === "Inet" && local.value.family === family)
        yield* handle.send(encoder.encode(`hello ${family}`))
        assert.strictEqual(decoder.decode(yield* handle.receive), `hello ${family}`)
      })
    })
  }

  cases.push({
    name: "datagram: connecting again re-associates with the new peer",
    body: Effect.gen(function* () {
      const first = yield* fixture.udpEcho("IPv4")
      const second = yield* fixture.udpEcho("IPv4")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(first)
      yield* handle.send(encoder.encode("one"))
      assert.strictEqual(decoder.decode(yield* handle.receive), "one")
      yield* handle.connect(second)
      assertAddress(yield* handle.peerAddress, second)
      yield* handle.send(encoder.encode("two"))
      assert.strictEqual(decoder.decode(yield* handle.receive), "two")
    })
  })

  cases.push({
    name: "datagram: connect(unspec) dissolves the association",
    body: Effect.gen(function* () {
      const address = yield* fixture.udpEcho("IPv4")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(address)
      yield* handle.connect(SockAddr.unspec)
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      assert.isTrue(Option.isNone(yield* handle.peerAddress))
      assert.strictEqual(tagOf(yield* Effect.flip(handle.send(encoder.encode("x")))), "ENOTCONN")
      yield* handle.connect(address)
      yield* handle.send(encoder.encode("again"))
      assert.strictEqual(decoder.decode(yield* handle.receive), "again")
    })
  })

  cases.push({
    name: "datagram: a closed port makes the next receive fail with ECONNREFUSED",
    needs: ["udpClosed"],
    body: Effect.gen(function* () {
      const address = yield* fixture.udpClosed!("IPv4")
      const handle = yield* Network.open("datagram")
      yield* handle.connect(address)
      yield* handle.send(encoder.encode("anyone?"))
      const error = yield* Effect.flip(handle.receive)
      assert.strictEqual(tagOf(error), "ECONNREFUSED")
    })
  })

  for (const kind of ["unix", "abstract"] as const) {
    cases.push({
      name: `seqpacket ${kind}: each write arrives as one whole message`,
      needs: ["seqpacketEcho"],
      body: Effect.gen(function* () {
        const address = yield* fixture.seqpacketEcho!(kind)
        const handle = yield* Network.open("seqpacket")
        yield* handle.connect(address)
        assert.strictEqual((yield* handle.state)._tag, "Connected")
        assertAddress(yield* handle.peerAddress, address)
        const socket = yield* handle.socket
        const messages = yield* Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* socket.reader
            const writer = yield* socket.writer
            for (const message of ["a", "bb", "ccc"]) yield* writer.write(encoder.encode(message))
            const got: Array<string> = []
            // Bounded: three messages come back, each pull gives at least one.
            for (let pulls = 0; pulls < 3 && got.length < 3; pulls++) {
              for (const chunk of yield* reader.pull)
                got.push(typeof chunk === "string" ? chunk : decoder.decode(chunk))
            }
            // Asked while the connection is open both ways: the writer's release below ends
            // ours, the echo server answers with its own end, and the handle then lets the
            // finished connection go (a reconnect dials again, see the connection-life cases).
            assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(address))), "EISCONN")
            return got
          })
        )
        // A byte stream could merge them; seqpacket keeps every boundary.
        assert.deepStrictEqual(messages, ["a", "bb", "ccc"])
      })
    })
  }

  cases.push({
    name: "seqpacket: a stream connect to a seqpacket listener is EPROTOTYPE",
    needs: ["seqpacketEcho"],
    body: Effect.gen(function* () {
      const address = yield* fixture.seqpacketEcho!("unix")
      const handle = yield* Network.open("stream")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(address))), "EPROTOTYPE")
    })
  })

  cases.push({
    name: "unix datagram: connect, send, receive, connect(unspec) dissolves, connect again",
    needs: ["unixDatagramEcho"],
    body: Effect.gen(function* () {
      const address = yield* fixture.unixDatagramEcho!
      const handle = yield* Network.open("datagram")
      yield* handle.connect(address)
      assertAddress(yield* handle.peerAddress, address)
      yield* handle.send(encoder.encode("one"))
      assert.strictEqual(decoder.decode(yield* handle.receive), "one")
      yield* handle.connect(SockAddr.unspec)
      assert.strictEqual((yield* handle.state)._tag, "Idle")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.send(encoder.encode("x")))), "ENOTCONN")
      yield* handle.connect(address)
      yield* handle.send(encoder.encode("two"))
      assert.strictEqual(decoder.decode(yield* handle.receive), "two")
    })
  })

  cases.push({
    name: "unix datagram: a path where nothing is bound is ENOENT; a stream listener is EPROTOTYPE",
    needs: ["unixDatagramEcho"],
    body: Effect.gen(function* () {
      const handle = yield* Network.open("datagram")
      const missing = yield* fixture.closedAddress("unix")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(missing))), "ENOENT")
      const stream = yield* fixture.listen("unix")
      assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(stream))), "EPROTOTYPE")
    })
  })

  cases.push({
    name: "unix datagram: a stream or seqpacket connect to a unix datagram socket is EPROTOTYPE",
    needs: ["unixDatagramEcho"],
    body: Effect.gen(function* () {
      const address = yield* fixture.unixDatagramEcho!
      const stream = yield* Network.open("stream")
      assert.strictEqual(tagOf(yield* Effect.flip(stream.connect(address))), "EPROTOTYPE")
      const seqpacket = yield* Network.open("seqpacket")
      assert.strictEqual(tagOf(yield* Effect.flip(seqpacket.connect(address))), "EPROTOTYPE")
    })
  })

  describe(name, () => {
    for (const testCase of cases) {
      const missing = (testCase.needs ?? []).filter((capability) => fixture[capability] === undefined)
      if (missing.length > 0) {
        it.skip(`${testCase.name} (skipped: the fixture has no ${missing.join(", ")})`, () => {})
        continue
      }
      const run = Effect.scoped(testCase.body).pipe(Effect.provide(layer))
      if (kernel) it.live(testCase.name, () => run)
      else it.effect(testCase.name, () => run)
    }
  })
}
