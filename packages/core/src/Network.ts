/**
 * The socket service: open scoped handles and connect them. `@dial/node` provides it over the
 * kernel, `@dial/testkit` over an in-memory network; application code depends only on this.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 *
 * const healthCheck = Effect.scoped(
 *   Effect.gen(function*() {
 *     const handle = yield* Network.connect("127.0.0.1:5432", { deadline: "2 seconds" })
 *     return yield* handle.peerAddress
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as ConnectError from "./ConnectError.ts"
import * as DialError from "./DialError.ts"
import * as InvalidInput from "./InvalidInput.ts"
import * as SockAddr from "./SockAddr.ts"
import type * as SocketHandle from "./SocketHandle.ts"
import * as internalHandle from "./internal/handle.ts"
import * as socketOptions from "./internal/socketOptions.ts"
import type * as Transport from "./Transport.ts"

/**
 * Options of {@link Network.open}: fixed for the handle's life, kept across reconnects.
 *
 * @example
 * ```ts
 * import type { Network } from "@dial/core"
 *
 * const options: Network.OpenOptions = { local: "127.0.0.1:0", noDelay: true, keepAlive: "30 seconds" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface OpenOptions {
  /** Bind to this local inet address first (`"127.0.0.1:0"`: any port). */
  readonly local?: SockAddr.Input | undefined
  /** SO_KEEPALIVE; a duration also sets the idle time before the first probe. */
  readonly keepAlive?: boolean | Duration.Input | undefined
  /** TCP_NODELAY. */
  readonly noDelay?: boolean | undefined
  /**
   * TCP_USER_TIMEOUT: data unacknowledged for this long aborts the connection with ETIMEDOUT
   * (a dead peer found in this time, not in the kernel's ~15 minutes). Whole milliseconds.
   */
  readonly userTimeout?: Duration.Input | undefined
  /** TCP_KEEPINTVL: the time between keepalive probes, whole seconds (1 to 32767). */
  readonly keepAliveInterval?: Duration.Input | undefined
  /** TCP_KEEPCNT: unanswered keepalive probes before the connection is dropped (1 to 127). */
  readonly keepAliveCount?: number | undefined
  /** SO_LINGER, whole seconds; `0` makes close reset the connection (the peer sees ECONNRESET). */
  readonly linger?: Duration.Input | undefined
  /** SO_MARK, for policy routing and firewall rules (0 to 2^32 - 1; needs CAP_NET_ADMIN). */
  readonly mark?: number | undefined
  /** SO_BINDTODEVICE: send and receive only through this interface (needs CAP_NET_RAW). */
  readonly bindToDevice?: string | undefined
  /** SO_RCVBUF in bytes, set before connect so the TCP window is sized for it. */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF in bytes. */
  readonly sendBufferSize?: number | undefined
}

/**
 * The socket service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 *
 * const program = Effect.gen(function*() {
 *   const network = yield* Network.Network
 *   return network.platform
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Network extends Context.Service<
  Network,
  {
    /** `"node"`, `"test"`, … */
    readonly platform: string
    /** Opens a handle of a socket type; the scope closes it. */
    readonly open: <T extends Transport.SocketType>(
      type: T,
      options?: OpenOptions
    ) => Effect.Effect<SocketHandle.HandleOf<T>, InvalidInput.InvalidInput | DialError.Unsupported, Scope.Scope>
    /** Takes over an inherited descriptor of that type; the scope closes it. See {@link adopt}. */
    readonly adopt: <T extends Transport.SocketType>(
      fd: number,
      type: T
    ) => Effect.Effect<
      SocketHandle.HandleOf<T>,
      ConnectError.ConnectError | InvalidInput.InvalidInput | DialError.Unsupported,
      Scope.Scope
    >
  }
>()("@dial/core/Network") {}

const openKeys = [
  "local",
  "keepAlive",
  "noDelay",
  "userTimeout",
  "keepAliveInterval",
  "keepAliveCount",
  "linger",
  "mark",
  "bindToDevice",
  "receiveBufferSize",
  "sendBufferSize"
] as const satisfies ReadonlyArray<keyof OpenOptions>

// Shared: most handles are opened without options, and this value is never written.
const noOptions: Result.Result<Transport.SocketOptions, never> = Result.succeed(Object.freeze({}))

const validateOpen = (
  type: unknown,
  input: OpenOptions | undefined
): Result.Result<Transport.SocketOptions, InvalidInput.InvalidInput> => {
  if (type !== "stream" && type !== "datagram" && type !== "seqpacket") {
    return Result.fail(InvalidInput.make("type", type, "expected stream, datagram or seqpacket"))
  }
  if (input === undefined) return noOptions
  // Each option read once: a getter cannot throw past here, nor change its answer after the check.
  const snapshot = InvalidInput.options("options", input, openKeys)
  if (Result.isFailure(snapshot)) return Result.fail(snapshot.failure)
  const options = snapshot.success as OpenOptions
  let local: SockAddr.Inet | undefined
  if (options.local !== undefined) {
    const parsed = SockAddr.fromInput(options.local)
    if (Result.isFailure(parsed)) return Result.fail(InvalidInput.make("local", options.local, parsed.failure.reason))
    if (parsed.success._tag !== "Inet") {
      return Result.fail(InvalidInput.make("local", options.local, "a local bind address must be an inet address"))
    }
    local = parsed.success
  }
  const { keepAlive, noDelay } = options
  if (noDelay !== undefined && typeof noDelay !== "boolean") {
    return Result.fail(InvalidInput.make("noDelay", noDelay, "expected a boolean"))
  }
  let keepAliveInitialDelayMillis: number | undefined
  if (keepAlive !== undefined && typeof keepAlive !== "boolean") {
    const delay = InvalidInput.duration("keepAlive", keepAlive)
    if (Result.isFailure(delay)) {
      return Result.fail(InvalidInput.make("keepAlive", keepAlive, "expected a boolean or a duration"))
    }
    keepAliveInitialDelayMillis = Duration.toMillis(delay.success)
  }
  // The options set with setsockopt before connect (native on Node), checked once, in core.
  const native = socketOptions.validate(options)
  if (Result.isFailure(native)) return Result.fail(native.failure)
  return Result.succeed({
    ...native.success,
    ...(local === undefined ? {} : { local }),
    ...(keepAlive === undefined ? {} : { keepAlive: keepAlive !== false }),
    ...(keepAliveInitialDelayMillis === undefined ? {} : { keepAliveInitialDelayMillis }),
    ...(noDelay === undefined ? {} : { noDelay })
  })
}

/** `open` in the fiber that runs it; `Network.open` calls it directly for a service `make` built. */
type Opener = <T extends Transport.SocketType>(
  fiber: Fiber.Fiber<unknown, unknown>,
  type: T,
  options: OpenOptions | undefined
) => Effect.Effect<SocketHandle.HandleOf<T>, InvalidInput.InvalidInput>

/**
 * The services `make` built, with their `open` in the current fiber: `Network.open` reads the
 * service and opens in one run-loop step rather than two (`Network.use`, then the service's
 * own `withFiber`). A service built otherwise (a test double, a wrapper) is called as usual.
 */
const openers = new WeakMap<Network["Service"], Opener>()

/**
 * The service over a platform's transport: validation and the shared state machine are
 * here; the transport only does the raw moves.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Network, type Transport } from "@dial/core"
 *
 * declare const transport: Transport.Transport
 * const layer = Layer.succeed(Network.Network)(Network.make(transport))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (transport: Transport.Transport): Network["Service"] => {
  const openIn: Opener = (fiber, type, options) => {
    const validated = validateOpen(type, options)
    return Result.isFailure(validated)
      ? Effect.fail(validated.failure)
      : internalHandle.makeIn(internalHandle.scopeOf(fiber), transport, type, validated.success)
  }
  const service = Network.of({
    platform: transport.platform,
    open: <T extends Transport.SocketType>(type: T, options?: OpenOptions) =>
      Effect.withFiber<SocketHandle.HandleOf<T>, InvalidInput.InvalidInput, Scope.Scope>((fiber) =>
        openIn(fiber, type, options)
      ),
    adopt: <T extends Transport.SocketType>(fd: number, type: T) =>
      Effect.withFiber<
        SocketHandle.HandleOf<T>,
        ConnectError.ConnectError | InvalidInput.InvalidInput | DialError.Unsupported,
        Scope.Scope
      >((fiber) => {
        if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0 || fd > 2 ** 31 - 1) {
          return Effect.fail(InvalidInput.make("fd", fd, "expected a file descriptor (a non-negative integer)"))
        }
        if (type !== "stream" && type !== "datagram" && type !== "seqpacket") {
          return Effect.fail(InvalidInput.make("type", type, "expected stream, datagram or seqpacket"))
        }
        if (transport.adopt === undefined) {
          return Effect.fail(DialError.unsupported("adopting a file descriptor", transport.platform))
        }
        const scope = internalHandle.scopeOf(fiber)
        return Effect.flatMap(transport.adopt({ fd, type }), (adopted) =>
          internalHandle.adoptIn(scope, transport, type, adopted)
        )
      })
  })
  openers.set(service, openIn)
  return service
}

/**
 * Takes over a socket this process inherited: systemd socket activation (`LISTEN_FDS`, with
 * `Accept=yes` a connected socket), or one end of a parent's socketpair. The kernel checks
 * it: EBADF (not open), ENOTSOCK (not a socket), EAFNOSUPPORT (not unix or inet), EPROTOTYPE
 * (a socket of another type than `type`), ENOTCONN (a stream or seqpacket socket that is not
 * connected, such as a listener). Nothing about the descriptor changes when it is refused.
 * The handle starts Connected (an unassociated datagram socket: Idle) and owns the descriptor:
 * its scope closes it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 *
 * // systemd passes its sockets from descriptor 3 on.
 * const notify = Effect.scoped(
 *   Effect.gen(function*() {
 *     const handle = yield* Network.adopt(3, "stream")
 *     return yield* handle.peerAddress
 *   })
 * )
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const adopt = <T extends Transport.SocketType>(
  fd: number,
  type: T
): Effect.Effect<
  SocketHandle.HandleOf<T>,
  ConnectError.ConnectError | InvalidInput.InvalidInput | DialError.Unsupported,
  Network | Scope.Scope
> => Network.use((network) => network.adopt(fd, type))

/**
 * Opens a handle from the current `Network`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const udp = yield* Network.open("datagram")
 *     yield* udp.connect("127.0.0.1:5353")
 *   })
 * )
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const open = <T extends Transport.SocketType>(
  type: T,
  options?: OpenOptions
): Effect.Effect<SocketHandle.HandleOf<T>, InvalidInput.InvalidInput | DialError.Unsupported, Network | Scope.Scope> =>
  Effect.withFiber((fiber) => {
    const network = Context.get(fiber.context as Context.Context<Network>, Network)
    const openIn = openers.get(network)
    return openIn === undefined ? network.open(type, options) : openIn(fiber, type, options)
  })

/**
 * Opens a stream handle and connects it: the common case in one call.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 *
 * const program = Effect.scoped(
 *   Network.connect("unix:/run/app.sock", { deadline: "1 second" }).pipe(
 *     Effect.flatMap((handle) => handle.socket)
 *   )
 * )
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const connect = (
  address: SockAddr.Input,
  options?: SocketHandle.ConnectOptions & OpenOptions
): Effect.Effect<SocketHandle.StreamHandle, SocketHandle.ConnectFailure, Network | Scope.Scope> =>
  Effect.flatMap(open("stream", options), (handle) => Effect.as(handle.connect(address, options), handle))
