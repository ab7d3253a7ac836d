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
import { type ConnectError, Network, SockAddr, type SocketHandle } from "@dial/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
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

type Capability = "hanging" | "listenAt" | "udpClosed" | "seqpacketEcho" | "unixDatagramEcho"

interface Case<R> {
  readonly name: string
  /** Fixture capabilities the case needs; without them it is skipped, not passed. */
  readonly needs?: ReadonlyArray<Capability>
  readonly body: Effect.Effect<void, unknown, Network.Network | R | Scope.Scope>
}

const kinds: ReadonlyArray<Kind> = ["inet4", "inet6", "unix", "abstract"]

const decoder = new TextDecoder()
const encoder = new TextEncoder()

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
            return got
          })
        )
        // A byte stream could merge them; seqpacket keeps every boundary.
        assert.deepStrictEqual(messages, ["a", "bb", "ccc"])
        assert.strictEqual(tagOf(yield* Effect.flip(handle.connect(address))), "EISCONN")
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
