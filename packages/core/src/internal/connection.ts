/**
 * A stream handle's live connection: its read, write and idle deadlines (on Effect's `Clock`,
 * so `TestClock` drives them), the `effect/socket` view with those deadlines, and the handle's
 * own typed `read` / `write` / `end`. Platform-neutral: it works over any transport's socket.
 *
 * Deadlines are per operation, like Go's `SetReadDeadline(now + d)` renewed before every call:
 * a pull may wait `read` at most, a write (with its wait for the buffer to drain) `write` at
 * most. A missed deadline fails that operation only; the connection stays usable (bytes that
 * arrive later are read by the next pull). `idle` is about the connection: when neither a read
 * nor a write has completed for that long, the connection is closed and what waits on it
 * fails with `DeadlineExceeded` (operation `idle`).
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as ConnectError from "../ConnectError.ts"
import * as DialError from "../DialError.ts"
import * as InvalidInput from "../InvalidInput.ts"
import * as internalInput from "./input.ts"
import type * as Transport from "../Transport.ts"

/** Decoded deadlines; `undefined` is none. */
export interface Limits {
  readonly read: Duration.Duration | undefined
  readonly write: Duration.Duration | undefined
  readonly idle: Duration.Duration | undefined
}

export const noLimits: Limits = { read: undefined, write: undefined, idle: undefined }

const decodeOne = (
  field: string,
  input: Duration.Input | undefined
): Result.Result<Duration.Duration | undefined, InvalidInput.InvalidInput> => {
  if (input === undefined) return Result.succeed(undefined)
  const decoded = InvalidInput.duration(field, input, { infinite: "allow" })
  if (Result.isFailure(decoded)) return decoded
  return Result.succeed(Duration.isFinite(decoded.success) ? decoded.success : undefined)
}

const limitKeys = ["read", "write", "idle"] as const

/**
 * Decodes deadlines; unset fields keep `base`'s (a field present as `undefined` removes its
 * deadline). Read once: each key's presence and value are taken in one pass, and a getter or
 * proxy trap that throws is `InvalidInput`.
 */
export const decode = (raw: unknown, base: Limits): Result.Result<Limits, InvalidInput.InvalidInput> => {
  if (raw === undefined) return Result.succeed(base)
  return internalInput.guard("deadlines", raw, () => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return Result.fail(InvalidInput.make("deadlines", raw, "expected an object of read, write and idle"))
    }
    const next: { -readonly [K in keyof Limits]: Limits[K] } = { ...base }
    for (const key of limitKeys) {
      if (!(key in raw)) continue
      const decoded = decodeOne(key, (raw as Record<string, unknown>)[key] as Duration.Input | undefined)
      if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
      next[key] = decoded.success
    }
    return Result.succeed(next)
  })
}

type Operation = "read" | "write" | "idle"

const failureOf = (operation: Operation, error: ConnectError.ConnectError | DialError.DeadlineExceeded) =>
  new Socket.SocketError({
    reason:
      operation === "write"
        ? new Socket.SocketWriteError({ cause: error })
        : new Socket.SocketReadError({ cause: error })
  })

const encoder = new TextEncoder()

/** The chunks as bytes: the same array when they are all bytes already (a Node socket's are). */
const bytesOf = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): NonEmptyReadonlyArray<Uint8Array> => {
  for (let i = 0; i < chunks.length; i++) {
    if (typeof chunks[i] === "string") {
      return chunks.map((chunk) =>
        typeof chunk === "string" ? encoder.encode(chunk) : chunk
      ) as unknown as NonEmptyReadonlyArray<Uint8Array>
    }
  }
  return chunks as NonEmptyReadonlyArray<Uint8Array>
}

/** The handle's view of a Socket failure: the typed cause, an end, or an abnormal close. */
const unwrap = (
  error: Socket.SocketError,
  stream: Transport.StreamConnection,
  syscall: ConnectError.Syscall
): ConnectError.ConnectError | DialError.DeadlineExceeded | "end" => {
  const reason = error.reason
  if (reason._tag === "SocketCloseError") {
    if (reason.code === 1000) return "end"
    // Closed abnormally with no kernel error (a CloseEvent above 1000, the handle's own close).
    return ConnectError.make("ECONNABORTED", {
      syscall,
      address: stream.peer,
      localAddress: stream.local,
      cause: error
    })
  }
  const cause = "cause" in reason ? reason.cause : undefined
  if (ConnectError.isConnectError(cause)) return cause
  if (Predicate.hasProperty(cause, "_tag") && cause._tag === "DeadlineExceeded") {
    return cause as DialError.DeadlineExceeded
  }
  return ConnectError.unknown("UNKNOWN", { syscall, address: stream.peer, localAddress: stream.local, cause: error })
}

/** One connection of a stream handle, from connect to release. */
export class Live {
  readonly stream: Transport.StreamConnection
  limits: Limits
  /** When the last read or write completed, on the Clock; maintained only under an idle deadline. */
  lastActivity = 0
  /** Set when the idle deadline closed the connection: what waited on it fails with this. */
  idleFailure: DialError.DeadlineExceeded | undefined = undefined
  view: Socket.Socket | undefined = undefined
  /** The handle's own reader (for `read`), in a scope this connection owns. */
  reader: Socket.Reader<Uint8Array | string> | undefined = undefined
  writer: Socket.Writer | undefined = undefined
  ownScope: Scope.Closeable | undefined = undefined
  watcher: Fiber.Fiber<void> | undefined = undefined

  constructor(stream: Transport.StreamConnection, limits: Limits) {
    this.stream = stream
    this.limits = limits
  }

  deadline(operation: Operation, duration: Duration.Duration) {
    return DialError.deadlineExceeded({
      deadline: duration,
      address: this.stream.peer,
      localAddress: this.stream.local,
      operation
    })
  }

  get touch(): Effect.Effect<void> {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      this.lastActivity = now
    })
  }

  /** One operation of the socket view under its deadline, with the idle bookkeeping. */
  timed<A>(
    operation: "read" | "write",
    effect: Effect.Effect<A, Socket.SocketError>,
    override?: Duration.Duration | undefined
  ): Effect.Effect<A, Socket.SocketError> {
    const limit = override ?? this.limits[operation]
    let run = effect
    if (limit !== undefined) {
      run = Effect.timeoutOrElse(run, {
        duration: limit,
        orElse: () => Effect.fail(failureOf(operation, this.deadline(operation, limit)))
      })
    }
    if (this.limits.idle !== undefined) {
      run = Effect.tap(run, () => this.touch)
      run = Effect.catch(run, (error) =>
        Effect.fail(this.idleFailure === undefined ? error : failureOf(operation, this.idleFailure))
      )
    }
    return run
  }

  /** The socket view: the transport's own when no deadline is set (no cost per operation). */
  get socket(): Socket.Socket {
    const limits = this.limits
    if (limits.read === undefined && limits.write === undefined && limits.idle === undefined) {
      return this.stream.socket
    }
    if (this.view !== undefined) return this.view
    const inner = this.stream.socket
    this.view = Socket.make({
      reader: Effect.map(inner.reader, (reader) => ({
        upgrade: reader.upgrade,
        pull: this.timed("read", reader.pull)
      })),
      writer: Effect.map(inner.writer, (writer) => ({
        write: (chunk) => this.timed("write", writer.write(chunk)),
        writeAll: (chunks) => this.timed("write", writer.writeAll(chunks))
      }))
    })
    return this.view
  }

  /** New deadlines: the next views and operations use them; an idle watcher starts or stops. */
  setLimits(limits: Limits): Effect.Effect<void> {
    this.limits = limits
    this.view = undefined
    const stop = this.watcher === undefined ? Effect.void : Fiber.interrupt(this.watcher)
    this.watcher = undefined
    if (limits.idle === undefined) return stop
    const idle = limits.idle
    return Effect.andThen(
      stop,
      Effect.andThen(this.touch, () =>
        Effect.map(Effect.forkDetach(this.watch(idle)), (fiber) => {
          this.watcher = fiber
        })
      )
    )
  }

  /** Sleeps until the idle deadline; closes the connection if nothing happened meanwhile. */
  watch(idle: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(idle)
    const loop: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const due = this.lastActivity + millis
      if (now < due) return Effect.andThen(Effect.sleep(due - now), loop)
      this.idleFailure = this.deadline("idle", idle)
      return this.stream.close
    })
    return loop
  }

  /** The scope of the handle's own reader and writer: this connection's, closed on release. */
  get scope(): Effect.Effect<Scope.Closeable> {
    return this.ownScope === undefined
      ? Effect.map(Scope.make(), (scope) => (this.ownScope = scope))
      : Effect.succeed(this.ownScope)
  }

  /** The handle's `read`: the next bytes, `None` at the peer's clean end. */
  read(
    override: Duration.Duration | undefined
  ): Effect.Effect<
    Option.Option<NonEmptyReadonlyArray<Uint8Array>>,
    ConnectError.ConnectError | DialError.DeadlineExceeded
  > {
    const reader = this.reader
    const pull =
      reader !== undefined
        ? this.timed("read", reader.pull, override)
        : Effect.flatMap(this.scope, (scope) =>
            Effect.flatMap(Scope.provide(this.stream.socket.reader, scope), (reader) => {
              this.reader = reader
              return this.timed("read", reader.pull, override)
            })
          )
    return Effect.matchEffect(pull, {
      onSuccess: (chunks) => Effect.succeed(Option.some(bytesOf(chunks))),
      onFailure: (error) => {
        const typed = unwrap(error, this.stream, "read")
        return typed === "end" ? Effect.succeed(Option.none()) : Effect.fail(typed)
      }
    })
  }

  /** The handle's `write`, through a writer held until release (its release would half-close). */
  write(
    data: Uint8Array | string,
    override: Duration.Duration | undefined
  ): Effect.Effect<void, ConnectError.ConnectError | DialError.DeadlineExceeded> {
    const writer = this.writer
    const write =
      writer !== undefined
        ? this.timed("write", writer.write(data), override)
        : Effect.flatMap(this.scope, (scope) =>
            Effect.flatMap(Scope.provide(this.stream.socket.writer, scope), (writer) => {
              this.writer = writer
              return this.timed("write", writer.write(data), override)
            })
          )
    return Effect.catch(write, (error) => {
      const typed = unwrap(error, this.stream, "write")
      return Effect.fail(
        typed === "end"
          ? ConnectError.make("EPIPE", {
              syscall: "write",
              address: this.stream.peer,
              localAddress: this.stream.local
            })
          : typed
      )
    })
  }

  /** shutdown(SHUT_WR): a writer's release is the half-close, in every transport. */
  get end(): Effect.Effect<void> {
    return Effect.scoped(Effect.asVoid(this.stream.socket.writer))
  }

  /** Whether `release` has anything to do: most connections never read, write or watch through the handle. */
  get holds(): boolean {
    return this.ownScope !== undefined || this.watcher !== undefined
  }

  /** Releases what this connection holds besides the kernel socket (reader, writer, idle watcher). */
  get release(): Effect.Effect<void> {
    const scope = this.ownScope
    const watcher = this.watcher
    this.ownScope = undefined
    this.reader = undefined
    this.writer = undefined
    this.watcher = undefined
    const stopWatcher = watcher === undefined ? Effect.void : Fiber.interrupt(watcher)
    return scope === undefined ? stopWatcher : Effect.andThen(stopWatcher, Scope.close(scope, Exit.void))
  }
}
