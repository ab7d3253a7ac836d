/**
 * A connected handle as a Node socket, for the clients users already run: pg (`stream`),
 * postgres (`socket`), mysql2 (`stream`) and ioredis (a custom `Connector`).
 *
 * - On `NodeNetwork` the socket *is* the kernel `net.Socket` the handle connected: no copy, no
 *   Effect per chunk, so a client runs at its native speed.
 * - On any other transport (`TestNetwork`'s in-memory network) it is a `Duplex` over the
 *   handle's `effect/socket` view, with the `net.Socket` methods clients call (`setNoDelay`,
 *   `setKeepAlive`, `setTimeout`, `ref`, `unref`), so the same client code runs against the
 *   fake network and its faults.
 *
 * Connecting stays dial's: {@link open} runs a dial (`Network.connect`, or `Dialer.dial` for
 * Happy Eyeballs) and fails with its typed errors (ECONNREFUSED, ENOENT, `AllAttemptsFailed`…)
 * before any client sees a socket, so `Effect.retry` with `Retry.transient` works as for any
 * dial. The handle lives in a scope of its own that the socket's `'close'` closes: the client
 * owns the connection from then on, as it owns a socket it made itself.
 *
 * After the connect, the client sees Node's own errors (ECONNRESET, EPIPE) on the kernel socket,
 * as it always has; on the fake, the typed errors themselves (they carry `code` too).
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 *
 * // A Node socket for any client, connected by dial.
 * const socket = NodeStream.open(Network.connect("127.0.0.1:5432")).pipe(Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 */
import { ConnectError, InvalidInput, type SocketHandle } from "@dial/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import { Duplex } from "node:stream"

/**
 * What {@link fromHandle} gives: the kernel `net.Socket` on Node, otherwise a `Duplex` with the
 * `net.Socket` methods clients call.
 *
 * @example
 * ```ts
 * import type { NodeStream } from "@dial/node"
 *
 * const noDelay = (socket: NodeStream.NodeSocket) => socket.setNoDelay(true)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type NodeSocket = Net.Socket | SocketDuplex

/** `SocketDuplex`'s arguments, read once: whether to stay half-open, or why not to start. */
const checkDuplexInput = (socket: unknown, options: unknown): Result.Result<boolean, InvalidInput.InvalidInput> => {
  let isSocket: boolean
  try {
    isSocket = Socket.isSocket(socket)
  } catch {
    isSocket = false
  }
  if (!isSocket) return Result.fail(InvalidInput.make("socket", socket, "expected an effect/socket Socket"))
  const read = InvalidInput.options("options", options, ["allowHalfOpen"])
  if (Result.isFailure(read)) return Result.fail(read.failure)
  const allowHalfOpen = read.success.allowHalfOpen
  if (allowHalfOpen !== undefined && typeof allowHalfOpen !== "boolean") {
    return Result.fail(InvalidInput.make("allowHalfOpen", allowHalfOpen, "expected a boolean"))
  }
  return Result.succeed(allowHalfOpen === true)
}

/**
 * A `Duplex` over an `effect/socket` `Socket`: reads pull (one pull at a time, and none while
 * Node's buffer is full), writes wait for the socket's writer, `end()` half-closes, `destroy()`
 * closes the connection.
 *
 * @example
 * ```ts
 * import { NodeStream } from "@dial/node"
 * import type { Socket } from "effect/socket"
 *
 * declare const socket: Socket.Socket
 * const duplex = new NodeStream.SocketDuplex(socket)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class SocketDuplex extends Duplex {
  readonly socket: Socket.Socket
  /** Never connecting: the handle connected before the client saw it. */
  readonly connecting = false
  readonly scope: Scope.Closeable
  writer: Socket.Writer | undefined = undefined
  reader: Fiber.Fiber<void> | undefined = undefined
  /** Resolves a reader that waits because Node's buffer was full. */
  wanted: (() => void) | undefined = undefined

  /**
   * Why this duplex was made destroyed: its arguments were not a `Socket` and its options. A
   * constructor has no error channel, so bad input gives a duplex that is already closed (its
   * writes call back with `ERR_STREAM_DESTROYED`, its reads end) and names the reason here,
   * rather than a throw or an `'error'` event nobody may be listening for.
   */
  readonly invalid: InvalidInput.InvalidInput | undefined

  constructor(socket: Socket.Socket, options?: { readonly allowHalfOpen?: boolean | undefined }) {
    const checked = checkDuplexInput(socket, options)
    // As a `net.Socket`: closes after the peer's end unless asked to stay half-open.
    super({ allowHalfOpen: Result.isSuccess(checked) && checked.success })
    this.socket = socket
    this.scope = Scope.makeUnsafe()
    this.invalid = Result.isFailure(checked) ? checked.failure : undefined
    if (this.invalid !== undefined) this.destroy()
  }

  override _read(): void {
    if (this.invalid !== undefined) return
    if (this.wanted !== undefined) {
      const wanted = this.wanted
      this.wanted = undefined
      wanted()
      return
    }
    if (this.reader !== undefined) return
    const self = this
    const loop = Effect.gen(function* () {
      const reader = yield* self.socket.reader
      while (true) {
        const chunks = yield* reader.pull
        let more = true
        for (const chunk of chunks) more = self.push(chunk)
        if (!more) yield* Effect.callback<void>((resume) => void (self.wanted = () => resume(Effect.void)))
      }
    })
    this.reader = Effect.runFork(
      Effect.scoped(loop).pipe(
        Effect.catch((error: Socket.SocketError) =>
          Effect.sync(() => {
            const reason = error.reason
            if (reason._tag === "SocketCloseError" && reason.code === 1000) this.push(null)
            else this.destroy(errorOf(error))
          })
        )
      )
    )
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const write = Effect.flatMap(this.acquireWriter, (writer) => writer.write(chunk))
    Effect.runCallback(write, {
      onExit: (exit) =>
        callback(Exit.isSuccess(exit) ? null : errorOf(Option.getOrUndefined(Cause.findErrorOption(exit.cause))))
    })
  }

  override _final(callback: (error?: Error | null) => void): void {
    // A writer's release is the half-close.
    Effect.runCallback(Effect.scoped(this.socket.writer), { onExit: () => callback(null) })
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.invalid !== undefined) {
      callback(error)
      return
    }
    const close = Effect.flatMap(this.acquireWriter, (writer) => writer.write(new Socket.CloseEvent(1000)))
    const reader = this.reader
    Effect.runCallback(
      Effect.ignore(close).pipe(
        Effect.andThen(Scope.close(this.scope, Exit.void)),
        Effect.andThen(reader === undefined ? Effect.void : Fiber.interrupt(reader))
      ),
      { onExit: () => callback(error) }
    )
  }

  get acquireWriter(): Effect.Effect<Socket.Writer, Socket.SocketError> {
    return this.writer !== undefined
      ? Effect.succeed(this.writer)
      : Effect.map(Scope.provide(this.socket.writer, this.scope), (writer) => (this.writer = writer))
  }

  // The net.Socket methods clients call; options of the kernel socket, meaningless here.
  setNoDelay(_noDelay?: boolean): this {
    return this
  }
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this
  }
  setTimeout(_timeout: number, callback?: () => void): this {
    if (callback !== undefined) this.once("timeout", callback)
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
}

/** The Node error for a socket error: the typed cause (it has `code`, `syscall`), or the error. */
const errorOf = (error: Socket.SocketError | unknown): Error => {
  if (!Socket.isSocketError(error)) return error instanceof Error ? error : new Error(String(error))
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : undefined
  if (ConnectError.isConnectError(cause)) return Object.assign(cause, { code: cause._tag })
  return cause instanceof Error ? cause : error
}

/**
 * The connected handle as a Node socket: the kernel `net.Socket` when the transport has one
 * (NodeNetwork), else a {@link SocketDuplex} over its `effect/socket` view. ENOTCONN unless
 * connected. The handle still owns the connection: closing its scope destroys the socket.
 *
 * It behaves as a `net.Socket` made by the client would: the peer's end closes it, unless
 * `allowHalfOpen: true` (clients notice a dead server by the socket's 'close').
 *
 * @example
 * ```ts
 * import type { SocketHandle } from "@dial/core"
 * import { NodeStream } from "@dial/node"
 *
 * declare const handle: SocketHandle.StreamHandle
 * const socket = NodeStream.fromHandle(handle)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromHandle = (
  handle: SocketHandle.StreamHandle,
  options?: { readonly allowHalfOpen?: boolean | undefined }
): Effect.Effect<NodeSocket, ConnectError.ConnectError | InvalidInput.InvalidInput> =>
  Effect.suspend((): Effect.Effect<NodeSocket, ConnectError.ConnectError | InvalidInput.InvalidInput> => {
    const connection = connectionOf(handle)
    if (connection === undefined) {
      return Effect.fail(InvalidInput.make("handle", handle, "expected a stream handle"))
    }
    const read = InvalidInput.options("options", options, ["allowHalfOpen"])
    if (Result.isFailure(read)) return Effect.fail(read.failure)
    const allowHalfOpen = read.success.allowHalfOpen
    if (allowHalfOpen !== undefined && typeof allowHalfOpen !== "boolean") {
      return Effect.fail(InvalidInput.make("allowHalfOpen", allowHalfOpen, "expected a boolean"))
    }
    return Effect.map(connection, (connection): NodeSocket => {
      const native = connection.native
      if (!(native instanceof Net.Socket)) return new SocketDuplex(connection.socket, { allowHalfOpen })
      // Clients expect `net.Socket`'s default: the peer's end ends the socket (ioredis and pg
      // notice a dead server by its 'close'). dial's own view keeps the kernel's half-open.
      native.allowHalfOpen = allowHalfOpen === true
      return native
    })
  })

/** A handle's `connection` effect, read once; `undefined` for anything that is not a stream handle. */
const connectionOf = (handle: unknown): SocketHandle.StreamHandle["connection"] | undefined => {
  try {
    if (typeof handle !== "object" || handle === null) return undefined
    const connection: unknown = (handle as { readonly connection?: unknown }).connection
    return Effect.isEffect(connection) ? (connection as SocketHandle.StreamHandle["connection"]) : undefined
  } catch {
    // A proxy whose traps throw is no handle.
    return undefined
  }
}

/** What a connect effect made: the handle itself, or an object holding it (`Dialer.dial`'s result). */
const handleIn = (made: unknown): SocketHandle.StreamHandle => {
  try {
    if (typeof made === "object" && made !== null && !("connection" in made) && "handle" in made) {
      return (made as { readonly handle: SocketHandle.StreamHandle }).handle
    }
  } catch {
    // `fromHandle` refuses it.
  }
  return made as SocketHandle.StreamHandle
}

/** Whether `u` is a socket this module makes; `instanceof` runs a proxy's traps, which may throw. */
const isNodeSocket = (u: unknown): u is NodeSocket => {
  try {
    return u instanceof Net.Socket || u instanceof SocketDuplex
  } catch {
    return false
  }
}

const isEffect = (u: unknown): boolean => {
  try {
    return Effect.isEffect(u)
  } catch {
    return false
  }
}

/**
 * Runs a dial in a scope of its own and hands out the connection as a Node socket; the
 * socket's `'close'` closes the scope (and the handle). Fails with the dial's typed errors.
 *
 * @example
 * ```ts
 * import { Network, Retry } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 *
 * const socket = NodeStream.open(Network.connect("unix:/run/postgresql/.s.PGSQL.5432")).pipe(
 *   Effect.retry(Retry.transient({ maxElapsed: "10 seconds" })),
 *   Effect.provide(NodeNetwork.layer)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = <E, R>(
  connect: Effect.Effect<SocketHandle.StreamHandle | { readonly handle: SocketHandle.StreamHandle }, E, R>
): Effect.Effect<NodeSocket, E | ConnectError.ConnectError | InvalidInput.InvalidInput, Exclude<R, Scope.Scope>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      if (!isEffect(connect)) {
        return yield* Effect.fail(InvalidInput.make("connect", connect, "expected an Effect that connects"))
      }
      const scope = yield* Scope.make()
      // A connect effect that made something else is refused, and its scope closed (whatever it opened).
      const exit = yield* Effect.exit(
        restore(Effect.flatMap(Scope.provide(connect, scope), (made) => fromHandle(handleIn(made))))
      )
      if (Exit.isFailure(exit)) {
        yield* Scope.close(scope, exit)
        return yield* Effect.failCause(exit.cause)
      }
      const socket = exit.value
      socket.once("close", () => Effect.runFork(Scope.close(scope, Exit.void)))
      return socket
    })
  ) as Effect.Effect<NodeSocket, E | ConnectError.ConnectError | InvalidInput.InvalidInput, Exclude<R, Scope.Scope>>

/**
 * A socket for pg's `stream` option. pg calls `connect(port, host)` on the stream it is given;
 * the socket is connected already, so that call only reports `'connect'` (on the next tick).
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 * import pg from "pg"
 *
 * const client = Effect.gen(function*() {
 *   const socket = yield* NodeStream.open(Network.connect("127.0.0.1:5432"))
 *   const client = new pg.Client({ stream: () => NodeStream.forPg(socket), user: "app" })
 *   yield* Effect.promise(() => client.connect())
 *   return client
 * }).pipe(Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @category clients
 * @since 0.1.0
 */
export const forPg = <S extends NodeSocket>(socket: S): S => {
  // Total: anything but a socket (or a frozen one) is handed back as it is, for pg to refuse.
  if (!isNodeSocket(socket) || Object.isFrozen(socket)) return socket
  const connected = function (this: S) {
    process.nextTick(() => this.emit("connect"))
    return this
  }
  Object.defineProperty(socket, "connect", { value: connected, configurable: true, writable: true })
  return socket
}

/**
 * A socket that dials when it is told to connect: what a client with a *synchronous* socket
 * factory needs, above all `pg.Pool`, which makes its clients (and their streams) on demand.
 * `connect()` runs the dial; the socket then emits `'connect'` and carries the bytes of the
 * connection's Node socket (the kernel `net.Socket` on NodeNetwork), or it is destroyed with
 * the dial's typed error (ECONNREFUSED, ENOENT, `AllAttemptsFailed`…, with `code` set to the
 * tag), which the client reports as its connect error.
 *
 * It is a `Duplex` in front of the connected socket (so TLS and stream helpers take it): a
 * chunk each way costs one stream hop, no Effect. Destroying it before the dial completes
 * interrupts the dial.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 *
 * const socket = new NodeStream.DialingSocket(
 *   NodeStream.open(Network.connect("127.0.0.1:5432")).pipe(Effect.provide(NodeNetwork.layer))
 * )
 * socket.once("connect", () => socket.end())
 * socket.connect()
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class DialingSocket extends Duplex {
  readonly dial: Effect.Effect<NodeSocket, unknown>
  /** The connected socket, once the dial succeeded. */
  socket: NodeSocket | undefined = undefined
  connecting = false
  fiber: Fiber.Fiber<NodeSocket, unknown> | undefined = undefined
  noDelay: boolean | undefined = undefined
  keepAlive: readonly [enable: boolean | undefined, initialDelay: number | undefined] | undefined = undefined

  constructor(dial: Effect.Effect<NodeSocket, unknown>) {
    // As a `net.Socket`: the peer's end closes it.
    super({ allowHalfOpen: false })
    this.dial = dial
  }

  /** Runs the dial (arguments, such as pg's port and host, are the dial's business, not ours). */
  connect(..._args: ReadonlyArray<unknown>): this {
    if (this.connecting || this.socket !== undefined || this.destroyed) return this
    this.connecting = true
    const fiber = Effect.runFork(this.dial)
    this.fiber = fiber
    fiber.addObserver((exit) => {
      this.fiber = undefined
      this.connecting = false
      if (Exit.isFailure(exit)) {
        if (!this.destroyed) this.destroy(nodeErrorOf(Cause.squash(exit.cause)))
        return
      }
      if (this.destroyed) return void exit.value.destroy()
      this.attach(exit.value)
      this.emit("connect")
      this.emit("ready")
    })
    return this
  }

  attach(socket: NodeSocket): void {
    this.socket = socket
    if (this.noDelay !== undefined) socket.setNoDelay(this.noDelay)
    if (this.keepAlive !== undefined) socket.setKeepAlive(this.keepAlive[0], this.keepAlive[1])
    socket.on("data", (chunk: Uint8Array) => {
      if (!this.push(chunk)) socket.pause()
    })
    socket.on("end", () => this.push(null))
    socket.on("error", (error: Error) => this.destroy(error))
    socket.on("close", () => {
      if (!this.destroyed) this.destroy()
    })
  }

  override _read(): void {
    this.socket?.resume()
  }

  override _write(chunk: Uint8Array, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const socket = this.socket
    if (socket === undefined) return void this.once("connect", () => this._write(chunk, encoding, callback))
    socket.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    const socket = this.socket
    if (socket === undefined) callback(null)
    else socket.end(() => callback(null))
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fiber = this.fiber
    this.fiber = undefined
    if (fiber !== undefined) Effect.runFork(Fiber.interrupt(fiber))
    this.socket?.destroy()
    callback(error)
  }

  // The net.Socket methods clients call, passed on to the connected socket (kept until then).
  setNoDelay(noDelay?: boolean): this {
    this.noDelay = noDelay ?? true
    this.socket?.setNoDelay(this.noDelay)
    return this
  }
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.keepAlive = [enable, initialDelay]
    this.socket?.setKeepAlive(enable, initialDelay)
    return this
  }
  setTimeout(timeout: number, callback?: () => void): this {
    if (callback !== undefined) this.once("timeout", callback)
    this.socket?.setTimeout(timeout, () => this.emit("timeout"))
    return this
  }
  ref(): this {
    this.socket?.ref()
    return this
  }
  unref(): this {
    this.socket?.unref()
    return this
  }
}

/** A dial failure as a Node error: dial's typed error with `code` set to its tag. */
const nodeErrorOf = (error: unknown): Error => {
  if (isTagged(error)) Object.assign(error, { code: error._tag })
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * pg's `stream` option for a pool (`new pg.Pool({ stream: NodeStream.pgStream(connect) })`):
 * a synchronous factory that pg calls for every client it makes; each client's `connect()`
 * runs `connect` through {@link open}, so a pool's clients get dial's typed errors (with
 * `code`), Happy Eyeballs and retry, one fresh dial per client. See {@link DialingSocket}.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 * import pg from "pg"
 *
 * const pool = new pg.Pool({
 *   stream: NodeStream.pgStream(Network.connect("127.0.0.1:5432").pipe(Effect.provide(NodeNetwork.layer))),
 *   user: "app",
 *   max: 4
 * })
 * ```
 *
 * @category clients
 * @since 0.1.0
 */
export const pgStream =
  <E>(
    connect: Effect.Effect<SocketHandle.StreamHandle | { readonly handle: SocketHandle.StreamHandle }, E, Scope.Scope>
  ): (() => DialingSocket) =>
  () =>
    new DialingSocket(open(connect))

/**
 * A factory that runs `connect` for every call and resolves with the socket; a failed dial
 * rejects with its typed error. It is what postgres' `socket` option takes (`postgres({ socket })`).
 * postgres rejects the query waiting on a failed factory with dial's error, but stops dialing
 * after it (postgres 3.4): make a new `sql` once the server is back, or use pg for reconnects.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 * import postgres from "postgres"
 *
 * const options = {
 *   socket: NodeStream.factory(Network.connect("127.0.0.1:5432").pipe(Effect.provide(NodeNetwork.layer))),
 *   username: "app"
 * }
 * // postgres' types do not list `socket`, which its docs and code take.
 * const sql = postgres(options as postgres.Options<{}>)
 * ```
 *
 * @category clients
 * @since 0.1.0
 */
export const factory =
  <E>(
    connect: Effect.Effect<SocketHandle.StreamHandle | { readonly handle: SocketHandle.StreamHandle }, E, Scope.Scope>
  ): (() => Promise<NodeSocket>) =>
  () =>
    Effect.runPromise(open(connect))

/**
 * An ioredis `Connector` class (`new Redis({ Connector })`) that connects through dial:
 * ioredis reconnects by calling it again, so each reconnect is a fresh dial, and a failed one
 * reaches ioredis' 'error' event (and its `retryStrategy`) as dial's typed error, with `code`.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork, NodeStream } from "@dial/node"
 * import { Effect } from "effect"
 * import { Redis } from "ioredis"
 *
 * const Connector = NodeStream.ioredisConnector(
 *   Network.connect("127.0.0.1:6379").pipe(Effect.provide(NodeNetwork.layer))
 * )
 * const redis = new Redis({ Connector: Connector as never, lazyConnect: true })
 * ```
 *
 * @category clients
 * @since 0.1.0
 */
export const ioredisConnector = <E>(
  connect: Effect.Effect<SocketHandle.StreamHandle | { readonly handle: SocketHandle.StreamHandle }, E, Scope.Scope>
) => {
  const open = factory(connect)
  return class DialConnector {
    connecting = false
    stream: NodeSocket | undefined = undefined
    firstError: unknown = undefined
    check(): boolean {
      return true
    }
    async connect(): Promise<NodeSocket> {
      this.connecting = true
      this.firstError = undefined
      try {
        const stream = await open()
        if (!this.connecting) {
          stream.destroy()
          throw new Error("Connection is closed.")
        }
        this.stream = stream
        return stream
      } catch (error) {
        // ioredis reconnects after a stream that failed, not after a rejected connect (which
        // ends the client): hand it a destroyed stream and the typed error as its first error,
        // as its own connector does. `code` keeps dial's tag for its retryStrategy.
        if (isTagged(error)) Object.assign(error, { code: error._tag })
        this.firstError = error
        // A never-connected net.Socket: it has every method ioredis calls; destroying it opens nothing.
        const failed = new Net.Socket()
        failed.destroy()
        return failed
      } finally {
        this.connecting = false
      }
    }
    disconnect(): void {
      this.connecting = false
      this.stream?.end()
    }
  }
}

const isTagged = (u: unknown): u is { readonly _tag: string } & object =>
  typeof u === "object" && u !== null && "_tag" in u && typeof (u as { _tag: unknown })._tag === "string"
