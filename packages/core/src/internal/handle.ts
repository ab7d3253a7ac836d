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
import * as ConnectError from "../ConnectError.ts"
import * as DialError from "../DialError.ts"
import * as InvalidInput from "../InvalidInput.ts"
import * as SockAddr from "../SockAddr.ts"
import type * as SocketHandle from "../SocketHandle.ts"
import type * as Transport from "../Transport.ts"

type Concrete = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract

const idle: SocketHandle.State = { _tag: "Idle" }
const closed: SocketHandle.State = { _tag: "Closed" }

/**
 * The Connected state over a transport's endpoints. A transport may read its local address
 * lazily (a `getsockname` most connections never need): the state reads it on first use, and
 * `state` reads it before handing the value out, while the socket is surely open.
 */
const connectedTo = (endpoints: { readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr }) => {
  let local: SockAddr.SockAddr | undefined
  return {
    _tag: "Connected" as const,
    get local() {
      return (local ??= endpoints.local)
    },
    peer: endpoints.peer
  }
}

const isAbortSignal = (u: unknown): u is AbortSignal =>
  Predicate.hasProperty(u, "aborted") &&
  typeof u.aborted === "boolean" &&
  Predicate.hasProperty(u, "addEventListener") &&
  typeof u.addEventListener === "function"

interface Request {
  readonly address: SockAddr.SockAddr
  readonly deadline: Duration.Duration | undefined
  readonly signal: AbortSignal | undefined
}

const validate = (
  type: Transport.SocketType,
  local: SockAddr.Inet | undefined,
  input: SockAddr.Input,
  options: SocketHandle.ConnectOptions | undefined
): Result.Result<Request, InvalidInput.InvalidInput> => {
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
  if (options?.deadline !== undefined) {
    const decoded = Duration.fromInput(options.deadline)
    if (Option.isNone(decoded) || Duration.toMillis(decoded.value) < 0) {
      return Result.fail(InvalidInput.make("deadline", options.deadline, "expected a non-negative duration"))
    }
    deadline = Duration.isFinite(decoded.value) ? decoded.value : undefined
  }
  const signal = options?.signal
  if (signal !== undefined && !isAbortSignal(signal)) {
    return Result.fail(InvalidInput.make("signal", typeof signal, "expected an AbortSignal"))
  }
  return Result.succeed({ address, deadline, signal })
}

/** Fails with EINTR once the signal aborts; never succeeds. */
const abortedBy = (
  signal: AbortSignal,
  context: ConnectError.Context
): Effect.Effect<never, ConnectError.ConnectError> =>
  Effect.callback<never, ConnectError.ConnectError>((resume) => {
    const onAbort = () => resume(Effect.fail(ConnectError.make("EINTR", { ...context, cause: signal.reason })))
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", onAbort))
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

/** Makes a handle in `scope` now; the caller runs this once per execution (inside `withFiber`). */
export const makeIn = <T extends Transport.SocketType>(
  scope: Scope.Scope,
  transport: Transport.Transport,
  type: T,
  options: Transport.SocketOptions
): Effect.Effect<SocketHandle.HandleOf<T>> => {
  let state: SocketHandle.State = idle
  let stream: Transport.StreamConnection | undefined
  let endpoint: Transport.DatagramEndpoint | undefined
  let endpointFamily: string | undefined
  const local = options.local

  const contextFor = (address: SockAddr.SockAddr | undefined): ConnectError.Context => ({
    address,
    localAddress: state._tag === "Connected" ? state.local : local
  })

  const dropEndpoint = Effect.suspend(() => {
    const current = endpoint
    endpoint = undefined
    endpointFamily = undefined
    return current === undefined ? Effect.void : current.close
  })

  const dropStream = Effect.suspend(() => {
    const current = stream
    stream = undefined
    return current === undefined ? Effect.void : current.close
  })

  const familyOf = (address: Concrete): string => (address._tag === "Inet" ? address.family : "unix")

  // The transport's move for one attempt; state bookkeeping is the caller's (a stream's
  // connection is kept there too, on success).
  const attempt = (
    address: Concrete,
    wasConnected: boolean
  ): Effect.Effect<
    Transport.StreamConnection | { readonly local: SockAddr.SockAddr; readonly peer: SockAddr.SockAddr },
    SocketHandle.ConnectFailure
  > => {
    if (type !== "datagram") {
      return transport.connectStream({ type: type as "stream" | "seqpacket", address, options })
    }
    return Effect.gen(function* () {
      if (endpoint !== undefined && wasConnected) yield* endpoint.disconnect
      if (endpoint === undefined) {
        const opened = yield* transport.openDatagram({ address, options })
        // The handle may have closed while the socket opened (a local bind takes a turn of
        // the event loop): nothing may outlive the handle.
        if (state._tag === "Closed") {
          yield* opened.close
          return yield* ConnectError.make("EBADF", contextFor(address))
        }
        endpoint = opened
        endpointFamily = familyOf(address)
      }
      if (address._tag !== "Inet") {
        return yield* DialError.unsupported("unix datagram sockets", transport.platform)
      }
      return yield* endpoint.connect(address)
    })
  }

  const connect = (input: SockAddr.Input, connectOptions?: SocketHandle.ConnectOptions) =>
    Effect.suspend((): Effect.Effect<void, SocketHandle.ConnectFailure> => {
      const validated = validate(type, local, input, connectOptions)
      if (Result.isFailure(validated)) return Effect.fail(validated.failure)
      const { address, deadline, signal } = validated.success
      switch (state._tag) {
        case "Closed":
          return Effect.fail(ConnectError.make("EBADF", contextFor(address)))
        case "Connecting":
          return Effect.fail(ConnectError.make("EALREADY", contextFor(address)))
        case "Connected":
          if (type !== "datagram") return Effect.fail(ConnectError.make("EISCONN", contextFor(address)))
      }
      if (address._tag === "Unspec") return dissolve
      // Checked before any move, as the kernel does: the socket keeps its family and its peer.
      if (type === "datagram" && endpoint !== undefined && endpointFamily !== familyOf(address)) {
        return Effect.fail(ConnectError.make("EAFNOSUPPORT", contextFor(address)))
      }
      // An already aborted signal: nothing is attempted, nothing changes.
      if (signal?.aborted === true) {
        return Effect.fail(ConnectError.make("EINTR", { ...contextFor(address), cause: signal.reason }))
      }
      const wasConnected = state._tag === "Connected"
      const connecting: SocketHandle.State = { _tag: "Connecting", address }
      state = connecting
      const context = contextFor(address)
      let effect = attempt(address, wasConnected)
      if (signal !== undefined) effect = Effect.raceFirst(effect, abortedBy(signal, context))
      if (deadline !== undefined) {
        effect = Effect.timeoutOrElse(effect, {
          duration: deadline,
          orElse: () => Effect.fail(DialError.deadlineExceeded({ deadline, address, localAddress: local }))
        })
      }
      // Every transition happens in onExit, which runs uninterruptibly: an interruption right
      // after the attempt succeeded can never leave the handle stuck in Connecting. Only
      // close() moves the state while this fiber connects.
      return Effect.onExit(effect, (exit): Effect.Effect<void, ConnectError.ConnectError> => {
        const owned = state === connecting
        if (Exit.isSuccess(exit)) {
          if (owned) {
            if (type !== "datagram") stream = exit.value as Transport.StreamConnection
            state = connectedTo(exit.value)
            return Effect.void
          }
          // The handle was closed while this fiber connected: nothing may outlive it.
          const closing = type === "datagram" ? Effect.void : (exit.value as Transport.StreamConnection).close
          return Effect.andThen(closing, Effect.fail(ConnectError.make("EBADF", context)))
        }
        // The attempt's socket is gone (a stream's never reached the handle). A later connect
        // starts afresh (connect(2), NOTES).
        if (!owned) return Effect.void
        const error = Cause.findErrorOption(exit.cause)
        state = Option.isSome(error) ? { _tag: "Failed", address, error: error.value } : idle
        return type === "datagram" ? dropEndpoint : Effect.void
      })
    })

  const dissolve = Effect.suspend(() => {
    if (endpoint === undefined || state._tag !== "Connected") {
      if (state._tag === "Failed") state = idle
      return Effect.void
    }
    return Effect.tap(endpoint.disconnect, () =>
      Effect.sync(() => {
        state = idle
      })
    )
  })

  const disconnect = Effect.suspend((): Effect.Effect<void, ConnectError.ConnectError> => {
    switch (state._tag) {
      case "Closed":
        return Effect.fail(ConnectError.make("EBADF", contextFor(undefined)))
      case "Connecting":
        return Effect.fail(ConnectError.make("EALREADY", contextFor(state.address)))
    }
    if (type === "datagram") return dissolve
    state = idle
    return dropStream
  })

  // A handle has a stream or an endpoint, never both; this is dropStream and dropEndpoint in
  // one step, as it runs for every handle.
  const close = Effect.suspend(() => {
    state = closed
    const current = stream ?? endpoint
    stream = undefined
    endpoint = undefined
    endpointFamily = undefined
    return current === undefined ? Effect.void : current.close
  })

  const notConnected = (syscall: ConnectError.Syscall) =>
    state._tag === "Closed"
      ? ConnectError.make("EBADF", { syscall })
      : ConnectError.make("ENOTCONN", { syscall, localAddress: local })

  const base: SocketHandle.Handle = {
    type,
    state: Effect.sync(() => {
      if (state._tag === "Connected") void state.local
      return state
    }),
    connect,
    disconnect,
    localAddress: Effect.suspend(() => {
      if (state._tag === "Connected") return Effect.succeed(Option.some(state.local))
      if (endpoint !== undefined) return Effect.map(endpoint.localAddress, Option.fromUndefinedOr)
      return Effect.succeed(Option.none())
    }),
    peerAddress: Effect.sync(() => (state._tag === "Connected" ? Option.some(state.peer) : Option.none()))
  }

  const handle: SocketHandle.StreamHandle | SocketHandle.DatagramHandle =
    type === "datagram"
      ? {
          ...base,
          type: "datagram",
          send: (data: Uint8Array) =>
            Effect.suspend(() =>
              state._tag === "Connected" && endpoint !== undefined
                ? endpoint.send(data)
                : Effect.fail(notConnected("send"))
            ),
          receive: Effect.suspend(() =>
            state._tag === "Connected" && endpoint !== undefined ? endpoint.receive : Effect.fail(notConnected("recv"))
          )
        }
      : {
          ...base,
          type: type as "stream" | "seqpacket",
          socket: Effect.suspend(() =>
            state._tag === "Connected" && stream !== undefined
              ? Effect.succeed(stream.socket)
              : Effect.fail(notConnected("recv"))
          )
        }

  // Scope.addFinalizer, not Effect.addFinalizer: close needs no context, and capturing and
  // merging the opener's context on every handle was a third of a fake connect's cost.
  return Effect.as(Scope.addFinalizer(scope, close), handle as SocketHandle.HandleOf<T>)
}
