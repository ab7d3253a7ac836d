/**
 * The socket state machine, shared by every transport. Transitions happen synchronously
 * inside `Effect.suspend`, so two fibers calling `connect` on one handle see each other's
 * state: the second gets EALREADY, never a second kernel socket.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as ConnectError from "../ConnectError.ts"
import * as DialError from "../DialError.ts"
import * as InvalidInput from "../InvalidInput.ts"
import * as internalInput from "./input.ts"
import * as SockAddr from "../SockAddr.ts"
import type * as SocketHandle from "../SocketHandle.ts"
import type * as Transport from "../Transport.ts"
import { decode as decodeLimits, type Limits, Live, noLimits } from "./connection.ts"

/** A per-operation deadline: undefined for none (the handle's then apply). */
const decodeOperation = (
  raw: SocketHandle.OperationOptions | undefined
): Result.Result<Duration.Duration | undefined, InvalidInput.InvalidInput> => {
  // Read once, through a snapshot: `null` and a throwing getter are InvalidInput, not a throw.
  const options = InvalidInput.options("options", raw, ["deadline"])
  if (Result.isFailure(options)) return Result.fail(options.failure)
  const deadline = options.success.deadline
  if (deadline === undefined) return Result.succeed(undefined)
  const decoded = InvalidInput.duration("deadline", deadline as Duration.Input, { infinite: "allow" })
  if (Result.isFailure(decoded)) return decoded
  return Result.succeed(Duration.isFinite(decoded.success) ? decoded.success : undefined)
}

type Concrete = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract

const idle: SocketHandle.State = { _tag: "Idle" }
const closed: SocketHandle.State = { _tag: "Closed" }

/**
 * The Connected state over a transport's endpoints. A transport may read its local address
 * lazily (a `getsockname` most connections never need): the state reads it on first use, and
 * `state` reads it before handing the value out, while the socket is surely open.
 */
class ConnectedState {
  readonly _tag = "Connected" as const
  readonly peer: SockAddr.SockAddr
  readonly endpoints: { readonly local: SockAddr.SockAddr }
  localAddress: SockAddr.SockAddr | undefined = undefined

  constructor(endpoints: { readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }) {
    this.endpoints = endpoints
    this.peer = endpoints.peer
  }

  get local(): SockAddr.SockAddr {
    return (this.localAddress ??= this.endpoints.local)
  }

  /** The state as the plain record `state` hands out (it spreads, compares and prints as data). */
  toRecord(): SocketHandle.State {
    return { _tag: "Connected", local: this.local, peer: this.peer }
  }
}

// A class rather than an object literal with a getter: no closure and context per connection.
const connectedTo = (endpoints: {
  readonly local: SockAddr.SockAddr
  readonly peer: SockAddr.SockAddr
}): SocketHandle.State => new ConnectedState(endpoints) as SocketHandle.State

// Duck-typed (a signal from another realm or a polyfill works too), and read inside a guard: a
// proxy's traps may throw. What is used later (addEventListener, removeEventListener, aborted)
// is checked here.
const isAbortSignal = (u: unknown): u is AbortSignal =>
  Predicate.hasProperty(u, "aborted") &&
  typeof u.aborted === "boolean" &&
  Predicate.hasProperty(u, "addEventListener") &&
  typeof u.addEventListener === "function" &&
  Predicate.hasProperty(u, "removeEventListener") &&
  typeof u.removeEventListener === "function"

const connectKeys = ["deadline", "signal"] as const
const noOptions: SocketHandle.ConnectOptions = Object.freeze({})

interface Request {
  readonly address: SockAddr.SockAddr
  readonly deadline: Duration.Duration | undefined
  readonly signal: AbortSignal | undefined
}

const validate = (
  type: Transport.SocketType,
  local: SockAddr.Inet | undefined,
  input: SockAddr.Input,
  raw: SocketHandle.ConnectOptions | undefined
): Result.Result<Request, InvalidInput.InvalidInput> => {
  let options: SocketHandle.ConnectOptions = noOptions
  // Most connects pass no options: no snapshot to take.
  if (raw !== undefined) {
    const snapshot = InvalidInput.options("options", raw, connectKeys)
    if (Result.isFailure(snapshot)) return Result.fail(snapshot.failure)
    options = snapshot.success as SocketHandle.ConnectOptions
  }
  const parsed = SockAddr.fromInput(input)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  const address = parsed.success
  if (address._tag === "Unspec" && type !== "datagram") {
    return Result.fail(
      InvalidInput.make(
        "address",
        "unspec",
        `only a datagram socket may connect to unspec; a ${type} socket disconnects`
      )
    )
  }
  if (local !== undefined && address._tag !== "Unspec") {
    if (address._tag !== "Inet") {
      return Result.fail(
        InvalidInput.make("local", SockAddr.format(local), "a unix socket cannot bind a local inet address")
      )
    }
    if (address.family !== local.family) {
      return Result.fail(
        InvalidInput.make(
          "local",
          SockAddr.format(local),
          `local ${local.family} address for an ${address.family} peer`
        )
      )
    }
  }
  let deadline: Duration.Duration | undefined
  if (options.deadline !== undefined) {
    const decoded = InvalidInput.duration("deadline", options.deadline, { infinite: "allow" })
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    deadline = Duration.isFinite(decoded.success) ? decoded.success : undefined
  }
  const signal = options.signal
  if (signal !== undefined) {
    const checked = internalInput.guard("signal", typeof signal, () => Result.succeed(isAbortSignal(signal)))
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
    if (!checked.success) return Result.fail(InvalidInput.make("signal", typeof signal, "expected an AbortSignal"))
  }
  return Result.succeed({ address, deadline, signal })
}

/** Fails with EINTR once the signal aborts; never succeeds. */
const abortedBy = (
  signal: AbortSignal,
  context: ConnectError.Context
): Effect.Effect<never, ConnectError.ConnectError | InvalidInput.InvalidInput> =>
  Effect.callback<never, ConnectError.ConnectError | InvalidInput.InvalidInput>((resume) => {
    const onAbort = () => resume(Effect.fail(ConnectError.make("EINTR", { ...context, cause: signal.reason })))
    // A duck-typed signal's methods are foreign code: a throw from them is bad input, not a defect.
    try {
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener("abort", onAbort, { once: true })
    } catch {
      resume(Effect.fail(InvalidInput.make("signal", typeof signal, "the signal threw when listened to")))
      return
    }
    return Effect.sync(() => {
      try {
        signal.removeEventListener("abort", onAbort)
      } catch {
        // Nothing to undo: the listener is gone with the attempt either way.
      }
    })
  })

/** The current fiber's scope, read directly: `Effect.scope` and a `flatMap` are two steps more. */
export const scopeOf = (fiber: Fiber.Fiber<unknown, unknown>): Scope.Scope =>
  Context.get(fiber.context as Context.Context<Scope.Scope>, Scope.Scope)

export const make = <T extends Transport.SocketType>(
  transport: Transport.Transport,
  type: T,
  options: Transport.SocketOptions
): Effect.Effect<SocketHandle.HandleOf<T>, never, Scope.Scope> =>
  Effect.withFiber<SocketHandle.HandleOf<T>, never, Scope.Scope>((fiber) =>
    makeIn(scopeOf(fiber), transport, type, options)
  )

const familyOf = (address: Concrete): string => (address._tag === "Inet" ? address.family : "unix")

type Endpoints = Transport.StreamConnection | { readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }

/**
 * One handle. A class, so that opening one allocates an object and three closures rather than
 * a closure and an Effect per member (1.8 KB per handle, the largest allocation of a refused
 * connect): members used rarely are getters that build their Effect when read. `connect`,
 * `send` and the finalizer are own properties, so they work unbound.
 *
 * The state machine is this base class; what a stream and a datagram socket do differently
 * (what connecting again means, what a connection leaves to close) are the subclasses'
 * overrides.
 */
abstract class HandleImpl implements SocketHandle.Handle {
  current: SocketHandle.State = idle
  readonly transport: Transport.Transport
  readonly type: Transport.SocketType
  readonly options: Transport.SocketOptions
  readonly connect: (
    input: SockAddr.Input,
    options?: SocketHandle.ConnectOptions
  ) => Effect.Effect<void, SocketHandle.ConnectFailure>

  constructor(transport: Transport.Transport, type: Transport.SocketType, options: Transport.SocketOptions) {
    this.transport = transport
    this.type = type
    this.options = options
    this.connect = (input, connectOptions) => Effect.suspend(() => this.connectNow(input, connectOptions))
  }

  // A getter (it works unbound: `this` is bound when it is read). The scope's finalizer calls
  // `closeNow` itself, so a handle nobody closes by hand builds no Effect for it.
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => this.closeNow())
  }

  closeNow(): Effect.Effect<void> {
    this.current = closed
    return this.release()
  }

  /** Lets go of a connection the peer or an error has ended (a stream's; nothing otherwise). */
  settle(): void {}

  /** What starts with a kept connection (a stream's deadlines); `nothing` for none. */
  afterKeep(): Effect.Effect<void> {
    return nothing
  }

  get state(): Effect.Effect<SocketHandle.State> {
    return Effect.sync(() => {
      this.settle()
      // Read while the socket is surely open: the value may outlive it. Kept as the state from
      // now on, so that two reads give the same value.
      if (this.current instanceof ConnectedState) this.current = this.current.toRecord()
      return this.current
    })
  }

  get disconnect(): Effect.Effect<void, ConnectError.ConnectError> {
    return Effect.suspend(() => {
      switch (this.current._tag) {
        case "Closed":
          return Effect.fail(ConnectError.make("EBADF", this.contextFor(undefined)))
        case "Connecting":
          return Effect.fail(ConnectError.make("EALREADY", this.contextFor(this.current.address)))
      }
      return this.disconnectNow()
    })
  }

  get localAddress(): Effect.Effect<Option.Option<SockAddr.SockAddr>> {
    return Effect.suspend(() =>
      this.current._tag === "Connected" ? Effect.succeed(Option.some(this.current.local)) : this.boundAddress()
    )
  }

  get peerAddress(): Effect.Effect<Option.Option<SockAddr.SockAddr>> {
    return Effect.sync(() => (this.current._tag === "Connected" ? Option.some(this.current.peer) : Option.none()))
  }

  contextFor(address: SockAddr.SockAddr | undefined): ConnectError.Context {
    return { address, localAddress: this.current._tag === "Connected" ? this.current.local : this.options.local }
  }

  notConnected(syscall: ConnectError.Syscall): ConnectError.ConnectError {
    return this.current._tag === "Closed"
      ? ConnectError.make("EBADF", { syscall })
      : ConnectError.make("ENOTCONN", { syscall, localAddress: this.options.local })
  }

  /** The transport's move for one attempt; the state bookkeeping is `connectNow`'s. */
  abstract attempt(address: Concrete, wasConnected: boolean): Effect.Effect<Endpoints, SocketHandle.ConnectFailure>
  /** A connect while Connected: a refusal, or undefined to go on (re-associate). */
  abstract whileConnected(address: SockAddr.SockAddr): Effect.Effect<never, ConnectError.ConnectError> | undefined
  /** Checked before any move: a refusal, or undefined. */
  abstract refuse(address: Concrete): Effect.Effect<never, ConnectError.ConnectError> | undefined
  /** Takes a successful attempt's result while the handle owns it. */
  abstract keep(endpoints: Endpoints): void
  /** What a successful attempt leaves to close when the handle closed meanwhile. */
  abstract abandon(endpoints: Endpoints): Effect.Effect<void>
  /** What goes after a failed attempt the handle still owned (only in `onExit`: `nothing` for none). */
  abstract afterFailure(): Effect.Effect<void>
  /** `connect(unspec)`: only a datagram handle gets here (validation refuses it on a stream). */
  abstract dissolve(): Effect.Effect<void, ConnectError.ConnectError>
  /** `disconnect` once the state allows it. */
  abstract disconnectNow(): Effect.Effect<void, ConnectError.ConnectError>
  /** The local address while not Connected. */
  abstract boundAddress(): Effect.Effect<Option.Option<SockAddr.SockAddr>>
  /** Closes whatever kernel socket the handle holds. */
  abstract release(): Effect.Effect<void>

  /** Closes the handle now and returns true where that needs no Effect; false leaves it open. */
  closeSync(): boolean {
    return false
  }

  connectNow(
    input: SockAddr.Input,
    connectOptions: SocketHandle.ConnectOptions | undefined
  ): Effect.Effect<void, SocketHandle.ConnectFailure> {
    const validated = validate(this.type, this.options.local, input, connectOptions)
    if (Result.isFailure(validated)) return Effect.fail(validated.failure)
    const { address, deadline, signal } = validated.success
    this.settle()
    switch (this.current._tag) {
      case "Closed":
        return Effect.fail(ConnectError.make("EBADF", this.contextFor(address)))
      case "Connecting":
        return Effect.fail(ConnectError.make("EALREADY", this.contextFor(address)))
      case "Connected": {
        const refused = this.whileConnected(address)
        if (refused !== undefined) return refused
      }
    }
    if (address._tag === "Unspec") return this.dissolve()
    const refused = this.refuse(address)
    if (refused !== undefined) return refused
    // An already aborted signal: nothing is attempted, nothing changes.
    let aborted: boolean
    try {
      aborted = signal?.aborted === true
    } catch {
      return Effect.fail(InvalidInput.make("signal", typeof signal, "reading signal.aborted threw"))
    }
    if (aborted) {
      return Effect.fail(ConnectError.make("EINTR", { ...this.contextFor(address), cause: signal?.reason }))
    }
    const wasConnected = this.current._tag === "Connected"
    const connecting: SocketHandle.State = { _tag: "Connecting", address }
    this.current = connecting
    let effect = this.attempt(address, wasConnected)
    if (signal !== undefined) effect = Effect.raceFirst(effect, abortedBy(signal, this.contextFor(address)))
    if (deadline !== undefined) {
      effect = DialError.withDeadline(effect, { deadline, address, localAddress: this.options.local })
    }
    // Every transition happens in onExit, which runs uninterruptibly: an interruption right
    // after the attempt succeeded can never leave the handle stuck in Connecting. Only
    // close() moves the state while this fiber connects. The connection is the handle's, never
    // the caller's: connect succeeds with nothing.
    const transition = Effect.onExit(effect, (exit): Effect.Effect<void, ConnectError.ConnectError> => {
      const owned = this.current === connecting
      if (Exit.isSuccess(exit)) {
        if (owned) {
          this.keep(exit.value)
          this.current = connectedTo(exit.value)
          return this.afterKeep()
        }
        // The handle was closed while this fiber connected: nothing may outlive it.
        return Effect.andThen(
          this.abandon(exit.value),
          Effect.fail(ConnectError.make("EBADF", this.contextFor(address)))
        )
      }
      // The attempt's socket is gone (a stream's never reached the handle). A later connect
      // starts afresh (connect(2), NOTES).
      if (!owned) return nothing
      const error = failureOf(exit.cause)
      this.current = error === undefined ? idle : { _tag: "Failed", address, error: error.error }
      return this.afterFailure()
    })
    // `map`, not `asVoid`: its continuation hands the value on within the step; `asVoid`'s
    // returns an Exit the run loop evaluates as one more step.
    return Effect.map(transition, toVoid)
  }
}

const toVoid = (): void => {}

/** The cause's first typed failure, found without the Option and Result `findErrorOption` builds. */
const failureOf = <E>(cause: Cause.Cause<E>): Cause.Fail<E> | undefined => {
  const reasons = cause.reasons
  for (let i = 0; i < reasons.length; i++) if (Cause.isFailReason(reasons[i]!)) return reasons[i] as Cause.Fail<E>
  return undefined
}

/**
 * What an `onExit` handler returns when it has nothing to run. Effect's `onExit` (4.x,
 * `onExitPrimitive`) accepts `undefined` there and hands the exit on as it is; `Effect.void`
 * would cost three run-loop steps (a flatMap, the void, the exit again), four after a failure.
 * Typed as an Effect because the public signature says so.
 */
const nothing = undefined as unknown as Effect.Effect<void>

class StreamHandleImpl extends HandleImpl implements SocketHandle.StreamHandle {
  declare readonly type: "stream" | "seqpacket"
  stream: Transport.StreamConnection | undefined = undefined
  /** A connection the peer ended, let go by `settle`, closed (idempotently) before the next attempt or on release. */
  stale: Transport.StreamConnection | undefined = undefined

  /**
   * The connection's deadlines and the handle's own reader and writer, made on first use (a
   * read, a write, the socket, an idle deadline): most connections are opened and closed and
   * never need one.
   */
  live: Live | undefined = undefined
  limits: Limits = noLimits

  /** The live connection, made now if it is not yet; only while `stream` is set. */
  liveOf(stream: Transport.StreamConnection): Live {
    return (this.live ??= new Live(stream, this.limits))
  }

  get socket(): Effect.Effect<Socket.Socket, ConnectError.ConnectError> {
    return Effect.map(this.liveNow("read"), (live) => live.socket)
  }

  get connection(): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> {
    return Effect.map(this.liveNow("read"), (live) => live.stream)
  }

  liveNow(syscall: ConnectError.Syscall): Effect.Effect<Live, ConnectError.ConnectError> {
    return Effect.suspend(() => {
      this.settle()
      return this.current._tag === "Connected" && this.stream !== undefined
        ? Effect.succeed(this.liveOf(this.stream))
        : Effect.fail(this.notConnected(syscall))
    })
  }

  read(options?: SocketHandle.OperationOptions) {
    const deadline = decodeOperation(options)
    if (Result.isFailure(deadline)) return Effect.fail(deadline.failure)
    return Effect.flatMap(this.liveNow("read"), (live) => live.read(deadline.success))
  }

  write(data: Uint8Array | string, options?: SocketHandle.OperationOptions) {
    if (typeof data !== "string" && !internalInput.isBytes(data)) {
      return Effect.fail(InvalidInput.make("data", typeof data, "expected a Uint8Array or a string"))
    }
    const deadline = decodeOperation(options)
    if (Result.isFailure(deadline)) return Effect.fail(deadline.failure)
    return Effect.flatMap(this.liveNow("write"), (live) => live.write(data, deadline.success))
  }

  get end(): Effect.Effect<void, ConnectError.ConnectError> {
    return Effect.flatMap(this.liveNow("shutdown"), (live) => live.end)
  }

  setDeadlines(deadlines: SocketHandle.Deadlines): Effect.Effect<void, InvalidInput.InvalidInput> {
    return Effect.suspend(() => {
      const decoded = decodeLimits(deadlines, this.limits)
      if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
      const limits = decoded.success
      this.limits = limits
      // An idle deadline watches the connection from now; the others apply when it is used.
      const live = limits.idle !== undefined && this.stream !== undefined ? this.liveOf(this.stream) : this.live
      return live === undefined ? Effect.void : live.setLimits(limits)
    })
  }

  /**
   * A connection the peer reset or closed (both ways) is gone: the handle returns to Idle, so
   * a reconnect loop can `connect` again rather than meet EISCONN on a dead connection. A
   * half-closed one (the peer's FIN only) stays Connected: we can still write.
   */
  override settle(): void {
    const stream = this.stream
    if (stream === undefined || this.current._tag !== "Connected") return
    if (stream.closed !== true && this.live?.idleFailure === undefined) return
    this.stream = undefined
    this.stale = stream
    this.staleLive = this.live
    this.live = undefined
    this.current = idle
  }

  staleLive: Live | undefined = undefined

  attempt(address: Concrete): Effect.Effect<Endpoints, SocketHandle.ConnectFailure> {
    const connect = this.transport.connectStream({ type: this.type, address, options: this.options })
    const stale = this.stale
    const staleLive = this.staleLive
    if (stale === undefined) return connect
    this.stale = undefined
    this.staleLive = undefined
    const closeStale = staleLive === undefined ? stale.close : Effect.andThen(staleLive.release, stale.close)
    return Effect.andThen(closeStale, connect)
  }

  whileConnected(address: SockAddr.SockAddr) {
    return Effect.fail(ConnectError.make("EISCONN", this.contextFor(address)))
  }

  refuse() {
    return undefined
  }

  keep(endpoints: Endpoints) {
    this.stream = endpoints as Transport.StreamConnection
  }

  // The handle's deadlines carry over to each new connection: an idle watcher starts with it,
  // the read and write deadlines apply when the connection is first used.
  override afterKeep(): Effect.Effect<void> {
    return this.limits.idle === undefined || this.stream === undefined
      ? nothing
      : this.liveOf(this.stream).setLimits(this.limits)
  }

  abandon(endpoints: Endpoints) {
    return (endpoints as Transport.StreamConnection).close
  }

  afterFailure() {
    return nothing
  }

  dissolve() {
    return Effect.void
  }

  disconnectNow() {
    this.current = idle
    return this.release()
  }

  boundAddress() {
    return Effect.succeed(Option.none())
  }

  override closeSync(): boolean {
    const current = this.stream
    if (this.stale !== undefined || this.live?.holds === true || this.staleLive?.holds === true) return false
    if (current !== undefined && current.closeSync === undefined) return false
    this.current = closed
    this.stream = undefined
    this.live = undefined
    this.staleLive = undefined
    current?.closeSync?.()
    return true
  }

  release(): Effect.Effect<void> {
    const current = this.stream
    const stale = this.stale
    const live = this.live
    const staleLive = this.staleLive
    this.stream = undefined
    this.stale = undefined
    this.live = undefined
    this.staleLive = undefined
    // In order: the handle's own reader and writer, then the sockets. Only what exists is
    // chained: a connection only opened and closed costs its close alone (closing many
    // handles at once stays within one scheduler budget per 2,048 steps).
    let effect: Effect.Effect<void> | undefined = current?.close
    if (stale !== undefined) effect = effect === undefined ? stale.close : Effect.andThen(stale.close, effect)
    for (const held of [staleLive, live]) {
      if (held?.holds === true) effect = effect === undefined ? held.release : Effect.andThen(held.release, effect)
    }
    return effect ?? Effect.void
  }
}

class DatagramHandleImpl extends HandleImpl implements SocketHandle.DatagramHandle {
  declare readonly type: "datagram"
  endpoint: Transport.DatagramEndpoint | undefined = undefined
  endpointFamily: string | undefined = undefined

  readonly send: (data: Uint8Array) => Effect.Effect<void, ConnectError.ConnectError>

  constructor(transport: Transport.Transport, options: Transport.SocketOptions) {
    super(transport, "datagram", options)
    this.send = (data) =>
      Effect.suspend(() =>
        this.current._tag === "Connected" && this.endpoint !== undefined
          ? this.endpoint.send(data)
          : Effect.fail(this.notConnected("send"))
      )
  }

  get receive(): Effect.Effect<Uint8Array, ConnectError.ConnectError> {
    return Effect.suspend(() =>
      this.current._tag === "Connected" && this.endpoint !== undefined
        ? this.endpoint.receive
        : Effect.fail(this.notConnected("recv"))
    )
  }

  attempt(address: Concrete, wasConnected: boolean): Effect.Effect<Endpoints, SocketHandle.ConnectFailure> {
    const self = this
    return Effect.gen(function* () {
      if (self.endpoint !== undefined && wasConnected) yield* self.endpoint.disconnect
      if (self.endpoint === undefined) {
        const opened = yield* self.transport.openDatagram({ address, options: self.options })
        // The handle may have closed while the socket opened (a local bind takes a turn of
        // the event loop): nothing may outlive the handle.
        if (self.current._tag === "Closed") {
          yield* opened.close
          return yield* ConnectError.make("EBADF", self.contextFor(address))
        }
        self.endpoint = opened
        self.endpointFamily = familyOf(address)
      }
      return yield* self.endpoint.connect(address)
    })
  }

  // Connecting again re-associates.
  whileConnected() {
    return undefined
  }

  // As the kernel does: the socket keeps its family and its peer.
  refuse(address: Concrete) {
    return this.endpoint !== undefined && this.endpointFamily !== familyOf(address)
      ? Effect.fail(ConnectError.make("EAFNOSUPPORT", this.contextFor(address)))
      : undefined
  }

  // The endpoint is the handle's from the start.
  keep() {}

  abandon() {
    return Effect.void
  }

  afterFailure() {
    return this.release()
  }

  dissolve(): Effect.Effect<void, ConnectError.ConnectError> {
    if (this.endpoint === undefined || this.current._tag !== "Connected") {
      if (this.current._tag === "Failed") this.current = idle
      return Effect.void
    }
    return Effect.tap(this.endpoint.disconnect, () =>
      Effect.sync(() => {
        this.current = idle
      })
    )
  }

  disconnectNow() {
    return this.dissolve()
  }

  boundAddress() {
    return this.endpoint === undefined
      ? Effect.succeed(Option.none())
      : Effect.map(this.endpoint.localAddress, Option.fromUndefinedOr)
  }

  release(): Effect.Effect<void> {
    const current = this.endpoint
    this.endpoint = undefined
    this.endpointFamily = undefined
    return current === undefined ? Effect.void : current.close
  }
}

/** Makes a handle in `scope` now; the caller runs this once per execution (inside `withFiber`). */
export const makeIn = <T extends Transport.SocketType>(
  scope: Scope.Scope,
  transport: Transport.Transport,
  type: T,
  options: Transport.SocketOptions
): Effect.Effect<SocketHandle.HandleOf<T>> => {
  const handle =
    type === "datagram" ? new DatagramHandleImpl(transport, options) : new StreamHandleImpl(transport, type, options)
  return inScope(scope, handle)
}

/**
 * The handles opened one after another in a scope, closed by one finalizer. Effect's scheduler
 * yields an event-loop turn every 2,048 run-loop steps, and a finalizer of its own costs each
 * handle about four: a scope holding 2,048 handles took four turns to close. One finalizer that
 * closes the handles synchronously (the usual case: nothing read or written through the handle)
 * costs a few steps for them all.
 */
class Group {
  readonly scope: Scope.Scope
  readonly handles: Array<HandleImpl>
  /** The scope's finalizer map just after this group's last handle joined (none while it has one finalizer). */
  finalizers: ReadonlyMap<{}, unknown> | undefined = undefined
  /** The scope's finalizer count just after this group's last handle joined. */
  size = 0
  /**
   * The scope's Open state when this group's finalizer was the scope's first. Effect changes that
   * very object when a second finalizer joins (`finalizer` becomes undefined); while it still
   * names this group's finalizer, closing the scope runs this finalizer alone.
   */
  sole: Scope.State.Open | undefined = undefined
  readonly finalize: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>

  constructor(scope: Scope.Scope, handle: HandleImpl) {
    this.scope = scope
    this.handles = [handle]
    this.finalize = () => this.close()
  }

  close(): Effect.Effect<void> {
    if (latest === this) latest = undefined
    const handles = this.handles
    let effect: Effect.Effect<void> | undefined
    // Reverse order, as a scope runs its finalizers; a handle that needs an Effect to close
    // (a reader, a writer or a watcher to stop) closes after the synchronous ones, in order.
    for (let i = handles.length - 1; i >= 0; i--) {
      const handle = handles[i]!
      if (handle.closeSync()) continue
      const close = handle.closeNow()
      effect = effect === undefined ? close : Effect.andThen(effect, close)
    }
    handles.length = 0
    if (effect !== undefined) return effect
    // The scope's only finalizer: Effect returns what it returns to the closer as is
    // (`Scope.closeUnsafe`'s documented `undefined` when there is nothing to run), and every
    // closer takes `undefined` as done (`Effect.scoped`, `Scope.close`). `Effect.void` would cost
    // three run-loop steps (four after a failure). With others, the scope runs each finalizer's
    // Effect, so this one returns one.
    return this.sole?.finalizer === this.finalize ? nothing : Effect.void
  }
}

/**
 * The group made last, for a scope with other finalizers too (one with a group alone is
 * recognised by its state). One slot rather than a WeakMap from scopes: a WeakMap entry per
 * scope was a tenth of what opening a handle cost. Scopes opened in turn each start their own
 * group, which only costs their close a few steps more. Cleared when the group closes.
 */
let latest: Group | undefined

const finalizerCount = (state: Scope.Scope["state"]): number =>
  state._tag !== "Open" ? 0 : state.finalizers === undefined ? 1 : state.finalizers.size

/**
 * Adds `finalizer` to `scope` now: what `Scope.addFinalizerExit` does once run, without the
 * Effect around it (two run-loop steps and an object per handle). It moves the scope's state
 * the way Effect documents it (`Scope.State`: an Empty scope becomes Open with one finalizer,
 * the second finalizer turns that into a Map in insertion order). The caller has checked that
 * the scope is not Closed.
 */
const addFinalizerNow = (
  scope: Scope.Scope,
  key: {},
  finalizer: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
): void => {
  const state = scope.state
  if (state._tag === "Empty") {
    scope.state = { _tag: "Open", finalizerKey: key, finalizer, finalizers: undefined }
  } else if (state._tag === "Open") {
    if (state.finalizer !== undefined) {
      state.finalizers = new Map([[state.finalizerKey!, state.finalizer]])
      state.finalizerKey = undefined
      state.finalizer = undefined
    }
    state.finalizers!.set(key, finalizer)
  }
}

/**
 * Registers `handle` with `scope`, synchronously: it joins the scope's last group when nothing
 * was added to the scope since (so the handle still closes before everything registered before
 * it), or starts one. A finalizer of the scope's own, not Effect.addFinalizer: close needs no
 * context, and capturing and merging the opener's context on every handle was a third of a
 * fake connect's cost. Returns false when the scope is already closed (the caller closes the
 * handle).
 */
const joinScope = (scope: Scope.Scope, handle: HandleImpl): boolean => {
  const state = scope.state
  if (state._tag === "Closed") return false
  if (state._tag === "Open") {
    // The scope's only finalizer is a group: this handle joins it. Otherwise the group opened
    // last, if it is this scope's and nothing was added to the scope since.
    const group =
      state.finalizers === undefined
        ? state.finalizerKey instanceof Group
          ? state.finalizerKey
          : undefined
        : latest !== undefined &&
            latest.scope === scope &&
            state.finalizers === latest.finalizers &&
            state.finalizers.size === latest.size
          ? latest
          : undefined
    if (group !== undefined && group.handles.length > 0) {
      group.handles.push(handle)
      return true
    }
  }
  const created = new Group(scope, handle)
  const empty = state._tag === "Empty"
  addFinalizerNow(scope, created, created.finalize)
  const after = scope.state as Scope.State.Open
  created.finalizers = after.finalizers
  created.size = finalizerCount(after)
  if (empty) created.sole = after
  latest = created
  return true
}

const inScope = <T extends Transport.SocketType>(
  scope: Scope.Scope,
  handle: HandleImpl
): Effect.Effect<SocketHandle.HandleOf<T>> => {
  const opened = handle as unknown as SocketHandle.HandleOf<T>
  return joinScope(scope, handle) ? Effect.succeed(opened) : Effect.as(handle.closeNow(), opened)
}

/** Makes a handle in `scope` that starts with an adopted socket (Connected, or Idle for an unassociated datagram). */
export const adoptIn = <T extends Transport.SocketType>(
  scope: Scope.Scope,
  transport: Transport.Transport,
  type: T,
  adopted: Transport.Adopted
): Effect.Effect<SocketHandle.HandleOf<T>> => {
  if (adopted._tag === "Stream") {
    const handle = new StreamHandleImpl(transport, type as "stream" | "seqpacket", {})
    // As after a connect: the connection (its data path is made on first use).
    handle.keep(adopted.connection)
    handle.current = connectedTo(adopted.connection)
    return inScope(scope, handle)
  }
  const handle = new DatagramHandleImpl(transport, {})
  handle.endpoint = adopted.endpoint
  handle.endpointFamily = adopted.family
  if (adopted.peer !== undefined) handle.current = connectedTo({ local: adopted.local, peer: adopted.peer })
  return inScope(scope, handle)
}
