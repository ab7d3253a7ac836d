/**
 * An in-memory network that implements `@dial/core`'s socket service and fails the way the
 * kernel fails, on Effect's `Clock` (so `TestClock` drives every timeout), plus the controls a
 * test needs to provoke each failure: listeners, per-address scripts, latency with seeded
 * jitter, partitions, holds, a journal of every socket operation with its virtual time, and
 * the error tags that reached the application.
 *
 * The socket state machine is core's own (`Network.make` over this module's transport): the
 * fake implements only the raw moves, as `@dial/node` does over the kernel.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const program = Effect.gen(function*() {
 *   yield* TestNetwork.listen("127.0.0.1:7000", { echo: true })
 *   yield* TestNetwork.script("127.0.0.1:7000", ["refuse", "accept"])
 *   const first = yield* Effect.flip(Network.connect("127.0.0.1:7000"))
 *   yield* Network.connect("127.0.0.1:7000")
 *   return first._tag // "ECONNREFUSED"
 * }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { type ConnectError, type Errno, InvalidInput, type SockAddr } from "@dial/core"
import { Network } from "@dial/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as NetAddress from "effect/net/NetAddress"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Result from "effect/Result"
import * as guard from "./internal/guard.ts"
import * as internal from "./internal/network.ts"

/**
 * What one connect attempt to a scripted address does. A script is a sequence; each attempt
 * takes the next outcome and the last one repeats.
 *
 * - `"accept"`: the handshake completes after the address's latency. A listener at the
 *   address gets the connection (its backlog and permission are not consulted); with no
 *   listener the connection goes to an implicit echo peer.
 * - `"refuse"`: ECONNREFUSED after the latency (the peer's RST).
 * - `"reset"`: ECONNRESET after the latency (a reset during the handshake).
 * - `"blackhole"`: the SYN is lost: ETIMEDOUT after the layer's `kernelTimeout`, unless the
 *   caller's deadline (core's `DeadlineExceeded`) or an interruption comes first.
 * - `{ delay, outcome }`: waits `delay`, then does `outcome` (default `"accept"`).
 * - `{ errno }`: fails at once with that errno (any of `Errno.names`), `syscall: "connect"`.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const flaky: ReadonlyArray<TestNetwork.Outcome> = ["refuse", { delay: "3 seconds" }, { errno: "EINTR" }, "accept"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome =
  | "accept"
  | "refuse"
  | "reset"
  | "blackhole"
  | { readonly delay: Duration.Input; readonly outcome?: Outcome | undefined }
  | { readonly errno: Errno.Name }

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const options: TestNetwork.Options = { seed: 42, kernelTimeout: "3 seconds", ephemeralPorts: { from: 40000, to: 40001 } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Seeds the latency jitter. Default 0: every run is the same run. */
  readonly seed?: number | undefined
  /**
   * How long a lost SYN takes to become ETIMEDOUT. Default 127 s: Linux's 6 SYN retries
   * (1 + 2 + 4 + 8 + 16 + 32 + 64 s).
   */
  readonly kernelTimeout?: Duration.Input | undefined
  /** The local port range (`net.ipv4.ip_local_port_range`). Default 32768..60999, Linux's. */
  readonly ephemeralPorts?: { readonly from: number; readonly to: number } | undefined
  /**
   * The fake host's own addresses: the source of connects to non-loopback addresses (a
   * loopback destination gets a loopback source). Default `192.0.2.1` and `2001:db8::1`
   * (documentation ranges: they name nothing real).
   */
  readonly hostAddresses?: { readonly IPv4?: string | undefined; readonly IPv6?: string | undefined } | undefined
  /**
   * Keep the journal and count the fault coverage. Default true; a benchmark turns it off
   * (then `journal` and `faultCoverage` stay empty).
   */
  readonly record?: boolean | undefined
}

/**
 * Options of {@link TestNetwork.listen}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * // A unix server that never calls accept(2): the 3rd connect fails with EAGAIN.
 * const stuck: TestNetwork.ListenOptions = { backlog: 1, accept: false }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ListenOptions {
  /**
   * How many handshaken connections may wait for `accept`; like Linux, `backlog + 1` fit.
   * Only enforced when `accept` is false. Default 511 (Node's).
   */
  readonly backlog?: number | undefined
  /**
   * `false`: the application never accepts, so the backlog fills; then a unix connect fails
   * with EAGAIN and an inet SYN is dropped (the connect hangs until ETIMEDOUT). Default true:
   * the application keeps up and the queue never counts as full.
   */
  readonly accept?: boolean | undefined
  /** `"deny"`: the client may not connect (a unix socket file without write permission): EACCES. */
  readonly permission?: "allow" | "deny" | undefined
  /** The listener's socket type; a client of the other type fails with EPROTOTYPE. Default `"stream"`. */
  readonly type?: "stream" | "seqpacket" | undefined
  /** Echo every connection's bytes back without a server fiber (`accept` then yields nothing). */
  readonly echo?: boolean | undefined
}

/**
 * The server side of an accepted connection.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const greet = (connection: TestNetwork.Connection) =>
 *   Effect.scoped(
 *     Effect.gen(function*() {
 *       const writer = yield* connection.socket.writer
 *       yield* writer.write("hello\n")
 *     })
 *   ).pipe(Effect.andThen(connection.close))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Connection {
  /** The address the client connected to. */
  readonly local: SockAddr.SockAddr
  /** The client's local address (`unspec` for an unbound unix client). */
  readonly peer: SockAddr.SockAddr
  /** The connection as an `effect/socket` `Socket`. */
  readonly socket: Socket.Socket
  /** close(2): the client reads what was sent, then end of stream. Idempotent. */
  readonly close: Effect.Effect<void>
  /** An RST: the client's next read fails with ECONNRESET. */
  readonly reset: Effect.Effect<void>
}

/**
 * A listening socket. Closing the scope it was made in closes it: connections still waiting
 * in its backlog are reset, as the kernel resets them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const server = Effect.gen(function*() {
 *   const listener = yield* TestNetwork.listen("unix:/run/app.sock")
 *   const connection = yield* listener.accept
 *   return connection.peer
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Listener {
  readonly address: SockAddr.SockAddr
  /** Takes the next handshaken connection, waiting for one. EBADF once the listener is closed. */
  readonly accept: Effect.Effect<Connection, ConnectError.EBADF>
  /** How many connections completed the handshake with this listener. */
  readonly connections: Effect.Effect<number>
  /** How many wait in the backlog for `accept`. */
  readonly pending: Effect.Effect<number>
}

/**
 * The address a {@link DatagramPort} is bound to: a UDP port, or a unix datagram socket's path
 * or abstract name.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const isUnix = (a: TestNetwork.DatagramAddress) => a._tag !== "Inet"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DatagramAddress = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract

/**
 * The address {@link TestNetwork.bindDatagram} binds for an input: a unix address for
 * `"unix:..."` and unix values, an inet one for other literals, either for a `string` it
 * cannot see into.
 *
 * @example
 * ```ts
 * import type { SockAddr } from "@dial/core"
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const udp: TestNetwork.BoundAddress<"127.0.0.1:53"> extends SockAddr.Inet ? true : false = true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BoundAddress<I extends SockAddr.Input> = I extends
  | `unix:${string}`
  | SockAddr.UnixPath
  | SockAddr.UnixAbstract
  | NetAddress.UnixPathAddress
  ? SockAddr.UnixPath | SockAddr.UnixAbstract
  : I extends SockAddr.Inet | NetAddress.InetAddress
    ? SockAddr.Inet
    : string extends I
      ? DatagramAddress
      : SockAddr.Inet

/**
 * A datagram that arrived at a {@link DatagramPort}, with its sender: a UDP port, or the
 * sending unix socket's name (a handle's socket is autobound to an abstract name, as Linux
 * does, so the port can answer it).
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const size = (d: TestNetwork.Datagram) => d.data.byteLength
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Datagram<A extends DatagramAddress = SockAddr.Inet> {
  readonly data: Uint8Array
  readonly from: A
}

/**
 * Options of {@link TestNetwork.bindDatagram}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const options: TestNetwork.BindDatagramOptions = { echo: true }
 * const unreadable: TestNetwork.BindDatagramOptions = { permission: "deny" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface BindDatagramOptions {
  /** Send every datagram straight back to its sender (nothing queues for `receive`). */
  readonly echo?: boolean | undefined
  /**
   * How many unreceived datagrams the port holds. Beyond it a UDP datagram is dropped and a
   * unix sender's `send` fails with EAGAIN. Default: UDP unbounded (a test reads what it asked
   * for); unix 11, Linux's (`net.unix.max_dgram_qlen` 10, and the kernel lets one more in).
   */
  readonly queue?: number | undefined
  /** Unix only. `"deny"`: the socket file is not writable for the client: connect is EACCES. */
  readonly permission?: "allow" | "deny" | undefined
}

/**
 * A bound datagram socket on the fake network: a server for datagram handles to talk to. A
 * UDP port (`"127.0.0.1:5353"`), or a unix datagram socket (`"unix:/run/app.sock"`,
 * `"unix:@name"`) as systemd's NOTIFY_SOCKET or /dev/log are.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const answerOnce = Effect.gen(function*() {
 *   const port = yield* TestNetwork.bindDatagram("127.0.0.1:5353")
 *   const { data, from } = yield* port.receive
 *   yield* port.send(data, from)
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DatagramPort<A extends DatagramAddress = SockAddr.Inet> {
  readonly address: A
  /** The next datagram, waiting for one. EBADF once the port is closed. */
  readonly receive: Effect.Effect<Datagram<A>, ConnectError.EBADF>
  /**
   * Sends a datagram; dropped silently when nothing is bound there (UDP), or when the unix
   * receiver is gone, full or connected elsewhere (the test's server sees no errno).
   */
  readonly send: (data: Uint8Array, to: SockAddr.Input) => Effect.Effect<void, InvalidInput.InvalidInput>
  /** How many datagrams arrived. */
  readonly received: Effect.Effect<number>
}

/**
 * One side of a partition: `"*"` (everything), an IP literal (`"127.0.0.1"`: any port), or
 * an address (`"127.0.0.1:8080"`, `"unix:/run/app.sock"`, a `SockAddr`).
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const server: TestNetwork.Endpoint = "127.0.0.1:8080"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Endpoint = "*" | SockAddr.Input

/**
 * Options of {@link TestNetwork.partition}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const routeGone: TestNetwork.PartitionOptions = { errno: "EHOSTUNREACH" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface PartitionOptions {
  /**
   * Without it a connect across the partition is a blackhole (it proceeds when the partition
   * heals, or ends in ETIMEDOUT); with it the connect fails at once with that errno (an ICMP
   * unreachable, or no route).
   */
  readonly errno?: "ENETUNREACH" | "EHOSTUNREACH" | undefined
}

/**
 * A hold on an address: connect attempts to it park until released.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const program = Effect.gen(function*() {
 *   const hold = yield* TestNetwork.hold("127.0.0.1:7000")
 *   // ... fork connects, then:
 *   yield* hold.awaitParked(2)
 *   yield* hold.release
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Hold {
  readonly address: SockAddr.SockAddr
  /** How many attempts are parked. */
  readonly parked: Effect.Effect<number>
  /** Waits until at least `count` attempts are parked: synchronisation without sleeping. */
  readonly awaitParked: (count: number) => Effect.Effect<void>
  /** Lets the oldest parked attempt go on; the hold stays. False when none was parked. */
  readonly releaseOne: Effect.Effect<boolean>
  /** Ends the hold: every parked attempt goes on. Closing the hold's scope does it too. */
  readonly release: Effect.Effect<void>
}

/**
 * The socket operations the journal records.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const op: TestNetwork.Operation = "connect"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Operation =
  | "listen"
  | "open"
  | "bind"
  | "connect"
  | "accept"
  | "disconnect"
  | "close"
  /** A toxic added, removed, or acting on a connection (`outcome` says which). */
  | "toxic"
  /** A fault drawn at a rate (`outcome` says which). */
  | "fault"
  /** A host crashed or restarted (`address` is the host). */
  | "host"
  /** The kernel gave up on a connection whose peer went silent (a user timeout, keepalive). */
  | "abort"

/**
 * One journal line: an operation, when it ended on the virtual clock, and how.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const refusedAt = (entries: ReadonlyArray<TestNetwork.JournalEntry>) =>
 *   entries.filter((e) => e.op === "connect" && e.outcome === "ECONNREFUSED").map((e) => e.at)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface JournalEntry {
  /** `Clock.currentTimeMillis` when the operation ended. */
  readonly at: number
  readonly op: Operation
  /**
   * The socket's number; a server's accepted connection has its own. 0 for lines about the
   * network rather than a socket (a toxic added or removed, a host crashed or restarted).
   */
  readonly socket: number
  readonly type: "stream" | "seqpacket" | "datagram"
  /** The remote address (for `listen` and `bind` of a port: the bound address). */
  readonly address?: SockAddr.SockAddr | undefined
  readonly localAddress?: SockAddr.SockAddr | undefined
  /** `"ok"`, an error tag (`"ECONNREFUSED"`, `"Unsupported"`), or `"interrupted"`. */
  readonly outcome: string
}

/**
 * A fault inside open connections, after Toxiproxy's toxics. Every duration runs on the
 * network's clock (`TestClock` in tests); every random draw comes from the layer's seed.
 *
 * - `latency`: each chunk arrives `latency` plus `0..jitter` later (order is kept, as TCP keeps it).
 * - `bandwidth`: at most `bytesPerSecond`; bytes arrive in pieces of 100 ms worth.
 * - `slicer`: each write arrives as pieces of `averageSize ± sizeVariation` bytes, `delay` apart.
 * - `timeout`: nothing gets through (it is dropped); after `timeout` the connection is closed,
 *   without `timeout` it never is.
 * - `reset_peer`: the connection is reset (ECONNRESET both ways) `after` a while, or once `bytes`
 *   have gone through; neither: at once.
 * - `limit_data`: `bytes` go through, then the connection is closed (FIN both ways).
 * - `slow_close`: the FIN arrives `delay` late.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const slowLink: ReadonlyArray<TestNetwork.Toxic> = [
 *   { type: "latency", latency: "50 millis", jitter: "10 millis" },
 *   { type: "bandwidth", bytesPerSecond: 64 * 1024 }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Toxic =
  | { readonly type: "latency"; readonly latency: Duration.Input; readonly jitter?: Duration.Input | undefined }
  | { readonly type: "bandwidth"; readonly bytesPerSecond: number }
  | {
      readonly type: "slicer"
      readonly averageSize: number
      readonly sizeVariation?: number | undefined
      readonly delay?: Duration.Input | undefined
    }
  | { readonly type: "timeout"; readonly timeout?: Duration.Input | undefined }
  | { readonly type: "reset_peer"; readonly after?: Duration.Input | undefined; readonly bytes?: number | undefined }
  | { readonly type: "limit_data"; readonly bytes: number }
  | { readonly type: "slow_close"; readonly delay: Duration.Input }

/**
 * Options of {@link TestNetwork.toxic}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const requests: TestNetwork.ToxicOptions = { direction: "upstream" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ToxicOptions {
  /**
   * `"downstream"` (server to client, the default, as in Toxiproxy), `"upstream"` (client to
   * server) or `"both"`.
   */
  readonly direction?: "upstream" | "downstream" | "both" | undefined
}

/**
 * Fault probabilities (each 0..1) for {@link TestNetwork.faults}, drawn from the layer's seed.
 *
 * - per `"connect"` (the default): `refuse` (ECONNREFUSED), `reset` (ECONNRESET during the
 *   handshake), `drop` (the SYN is lost: ETIMEDOUT after `kernelTimeout`);
 * - per `"chunk"` (each write on a live connection, each datagram): `reset` (the connection is
 *   reset) and `drop` (the chunk is lost); `refuse` has no meaning there and is refused.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * const flaky: TestNetwork.FaultRates = { refuse: 0.2, drop: 0.05 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface FaultRates {
  readonly refuse?: number | undefined
  readonly reset?: number | undefined
  readonly drop?: number | undefined
  readonly per?: "connect" | "chunk" | undefined
}

/**
 * Options of {@link TestNetwork.crash}.
 *
 * @example
 * ```ts
 * import type { TestNetwork } from "@dial/testkit"
 *
 * // The machine is gone: nothing answers, open connections hear nothing more.
 * const powerCut: TestNetwork.CrashOptions = { connections: "vanish", connects: "blackhole" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CrashOptions {
  /** `"reset"` (the default: ECONNRESET to every peer) or `"vanish"` (peers hear nothing more). */
  readonly connections?: "reset" | "vanish" | undefined
  /**
   * New connects to the host: `"refuse"` (the default: the host is up, the process is not) or
   * `"blackhole"` (the machine is down: ETIMEDOUT).
   */
  readonly connects?: "refuse" | "blackhole" | undefined
}

/**
 * The controls of the in-memory network.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const journal = Effect.gen(function*() {
 *   const network = yield* TestNetwork.TestNetwork
 *   return yield* network.journal
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class TestNetwork extends Context.Service<
  TestNetwork,
  {
    /** Listens on an address (port 0: an ephemeral port). EADDRINUSE (`bind`) when taken. */
    readonly listen: (
      address: SockAddr.Input,
      options?: ListenOptions
    ) => Effect.Effect<Listener, InvalidInput.InvalidInput | ConnectError.EADDRINUSE, Scope.Scope>
    /**
     * Binds a UDP port (port 0: an ephemeral port) or a unix datagram socket. EADDRINUSE
     * (`bind`) when taken; a unix path stays taken by its stale socket file after the close.
     */
    readonly bindDatagram: <I extends SockAddr.Input>(
      address: I,
      options?: BindDatagramOptions
    ) => Effect.Effect<DatagramPort<BoundAddress<I>>, InvalidInput.InvalidInput | ConnectError.EADDRINUSE, Scope.Scope>
    /** Scripts the next connects to an address; the last outcome repeats; `[]` removes the script. */
    readonly script: (
      address: SockAddr.Input,
      outcomes: ReadonlyArray<Outcome>
    ) => Effect.Effect<void, InvalidInput.InvalidInput>
    /**
     * Makes every handshake to an address (or `"*"`: every inet address) take `base` plus a
     * uniformly drawn `0..jitter` (whole milliseconds, from the seeded generator).
     */
    readonly latency: (
      address: SockAddr.Input | "*",
      options: { readonly base: Duration.Input; readonly jitter?: Duration.Input | undefined }
    ) => Effect.Effect<void, InvalidInput.InvalidInput>
    /** Cuts `a` from `b` (both ways) until the scope closes. */
    readonly partition: (
      a: Endpoint,
      b: Endpoint,
      options?: PartitionOptions
    ) => Effect.Effect<void, InvalidInput.InvalidInput, Scope.Scope>
    /** Parks connects to an address until released (or the scope closes). */
    readonly hold: (address: SockAddr.Input) => Effect.Effect<Hold, InvalidInput.InvalidInput, Scope.Scope>
    /**
     * Puts a toxic in the way of connections to an address (or `"*"`, an IP, an IP with port 0)
     * until the scope closes: open connections at once, new ones as they connect.
     */
    readonly toxic: (
      address: Endpoint,
      toxic: Toxic,
      options?: ToxicOptions
    ) => Effect.Effect<void, InvalidInput.InvalidInput, Scope.Scope>
    /** Faults at a rate for connects (or chunks) to an address, until the scope closes. */
    readonly faults: (
      address: Endpoint,
      rates: FaultRates
    ) => Effect.Effect<void, InvalidInput.InvalidInput, Scope.Scope>
    /**
     * Runs `server` as the software of host `ip` (in a scope of its own) until the scope closes;
     * `restart` runs it again after a `crash`, as turmoil's bounce does.
     */
    readonly host: (
      ip: string,
      server: Effect.Effect<unknown, unknown>
    ) => Effect.Effect<void, InvalidInput.InvalidInput, Scope.Scope>
    /**
     * Crashes host `ip`: its server software stops, its listeners are gone, its connections are
     * reset or vanish, and new connects to it are refused or blackholed, until `restart`.
     */
    readonly crash: (ip: string, options?: CrashOptions) => Effect.Effect<void, InvalidInput.InvalidInput>
    /** Brings a crashed host back: connects reach it again and its registered server runs anew. */
    readonly restart: (ip: string) => Effect.Effect<void, InvalidInput.InvalidInput>
    /** Every operation so far, in order. */
    readonly journal: Effect.Effect<ReadonlyArray<JournalEntry>>
    /** How often each error tag reached the application through a handle. */
    readonly faultCoverage: Effect.Effect<ReadonlyMap<string, number>>
    /**
     * Advances the `TestClock` to the network's next timer (a latency, a delay, a lost SYN).
     * False when the network has no timer. Needs `TestClock`.
     */
    readonly advanceToNextEvent: Effect.Effect<boolean>
    /**
     * Advances the `TestClock` timer by timer until the network has none left. Sleeps outside
     * the network (deadlines, retry backoff) fire on the way, in time order.
     */
    readonly advanceUntilIdle: Effect.Effect<void>
  }
>()("@dial/testkit/TestNetwork") {}

/**
 * The in-memory network: core's `Network` service over the fake transport, and its controls.
 * Each build is a fresh network.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const refused = Network.connect("127.0.0.1:1").pipe(
 *   Effect.flip,
 *   Effect.scoped,
 *   Effect.provide(TestNetwork.layer({ seed: 7, kernelTimeout: "20 seconds" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<Network.Network | TestNetwork, InvalidInput.InvalidInput> =>
  Layer.effectContext(
    Effect.suspend(() => {
      // Options are read once, here; bad ones fail the layer with InvalidInput.
      const read = guard.layerOptions(options)
      if (Result.isFailure(read)) return Effect.fail(read.failure)
      return Effect.map(internal.make(read.success), ({ network, controls }) =>
        Context.make(Network.Network, network).pipe(Context.add(TestNetwork, guard.controls(controls)))
      )
    })
  )

/**
 * Listens on an address of the current network.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const echo = TestNetwork.listen("127.0.0.1:0", { echo: true }).pipe(Effect.map((l) => l.address))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const listen = (
  address: SockAddr.Input,
  options?: ListenOptions
): Effect.Effect<Listener, InvalidInput.InvalidInput | ConnectError.EADDRINUSE, TestNetwork | Scope.Scope> =>
  TestNetwork.use((network) => network.listen(address, options))

/**
 * Binds a UDP port or a unix datagram socket on the current network.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const echo = TestNetwork.bindDatagram("127.0.0.1:0", { echo: true })
 * const notify = TestNetwork.bindDatagram("unix:/run/systemd/notify")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const bindDatagram = <I extends SockAddr.Input>(
  address: I,
  options?: BindDatagramOptions
): Effect.Effect<
  DatagramPort<BoundAddress<I>>,
  InvalidInput.InvalidInput | ConnectError.EADDRINUSE,
  TestNetwork | Scope.Scope
> => TestNetwork.use((network) => network.bindDatagram(address, options))

/**
 * Scripts the next connects to an address.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const flaky = TestNetwork.script("127.0.0.1:7000", ["refuse", "refuse", "accept"])
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const script = (
  address: SockAddr.Input,
  outcomes: ReadonlyArray<Outcome>
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork> =>
  TestNetwork.use((network) => network.script(address, outcomes))

/**
 * Sets the handshake latency of an address, or of every inet address (`"*"`).
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const wan = TestNetwork.latency("*", { base: "30 millis", jitter: "10 millis" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const latency = (
  address: SockAddr.Input | "*",
  options: { readonly base: Duration.Input; readonly jitter?: Duration.Input | undefined }
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork> =>
  TestNetwork.use((network) => network.latency(address, options))

/**
 * Cuts two endpoints apart until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const outage = Effect.scoped(TestNetwork.partition("*", "127.0.0.1:5432"))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const partition = (
  a: Endpoint,
  b: Endpoint,
  options?: PartitionOptions
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork | Scope.Scope> =>
  TestNetwork.use((network) => network.partition(a, b, options))

/**
 * Parks connects to an address until released.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const gate = TestNetwork.hold("unix:@db")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const hold = (
  address: SockAddr.Input
): Effect.Effect<Hold, InvalidInput.InvalidInput, TestNetwork | Scope.Scope> =>
  TestNetwork.use((network) => network.hold(address))

/**
 * Puts a toxic in the way of connections to an address until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const slowReplies = TestNetwork.toxic("127.0.0.1:5432", { type: "latency", latency: "200 millis" })
 * const program = Effect.scoped(Effect.andThen(slowReplies, Effect.void))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const toxic = (
  address: Endpoint,
  toxic: Toxic,
  options?: ToxicOptions
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork | Scope.Scope> =>
  TestNetwork.use((network) => network.toxic(address, toxic, options))

/**
 * Faults at a rate for connects or chunks to an address until the scope closes.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const oneInFive = TestNetwork.faults("10.0.0.5", { refuse: 0.2 })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const faults = (
  address: Endpoint,
  rates: FaultRates
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork | Scope.Scope> =>
  TestNetwork.use((network) => network.faults(address, rates))

/**
 * Registers `server` as the software of host `ip` and starts it; it runs (with the services
 * of the caller) until the scope closes, a `crash` stops it, and a `restart` runs it again.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const echoServer = Effect.gen(function*() {
 *   const listener = yield* TestNetwork.listen("10.0.0.5:7000", { echo: true })
 *   return yield* Effect.never
 * })
 * const program = TestNetwork.host("10.0.0.5", echoServer)
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const host = <E, R>(
  ip: string,
  server: Effect.Effect<unknown, E, R>
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork | Scope.Scope | Exclude<R, Scope.Scope>> =>
  // Checked before it is wrapped: the wrapped value is always an Effect.
  guard.isEffect(server)
    ? Effect.flatMap(Effect.context<Exclude<R, Scope.Scope>>(), (context) =>
        TestNetwork.use((network) => network.host(ip, Effect.provideContext(Effect.scoped(server), context)))
      )
    : Effect.fail(InvalidInput.make("server", server, "expected an Effect"))

/**
 * Crashes a host.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const crashed = TestNetwork.crash("10.0.0.5", { connections: "vanish", connects: "blackhole" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const crash = (
  ip: string,
  options?: CrashOptions
): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork> =>
  TestNetwork.use((network) => network.crash(ip, options))

/**
 * Restarts a crashed host: its registered server runs again.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const back = TestNetwork.restart("10.0.0.5")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const restart = (ip: string): Effect.Effect<void, InvalidInput.InvalidInput, TestNetwork> =>
  TestNetwork.use((network) => network.restart(ip))

/**
 * The journal of the current network.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const connects = TestNetwork.journal.pipe(Effect.map((entries) => entries.filter((e) => e.op === "connect")))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const journal: Effect.Effect<ReadonlyArray<JournalEntry>, never, TestNetwork> = TestNetwork.use(
  (network) => network.journal
)

/**
 * The error tags that reached the application, with counts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const sawRefusal = TestNetwork.faultCoverage.pipe(Effect.map((tags) => tags.has("ECONNREFUSED")))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const faultCoverage: Effect.Effect<ReadonlyMap<string, number>, never, TestNetwork> = TestNetwork.use(
  (network) => network.faultCoverage
)

/**
 * Advances the `TestClock` to the network's next timer.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const step = TestNetwork.advanceToNextEvent
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const advanceToNextEvent: Effect.Effect<boolean, never, TestNetwork> = TestNetwork.use(
  (network) => network.advanceToNextEvent
)

/**
 * Advances the `TestClock` until the network has no timer left.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const settle = TestNetwork.advanceUntilIdle
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const advanceUntilIdle: Effect.Effect<void, never, TestNetwork> = TestNetwork.use(
  (network) => network.advanceUntilIdle
)

/**
 * One journal entry as a line of text, for assertions and logs.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "@dial/testkit"
 *
 * const lines = (entries: ReadonlyArray<TestNetwork.JournalEntry>) => entries.map(TestNetwork.formatEntry)
 * // "2000ms #3 connect stream 127.0.0.1:7000 interrupted"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatEntry: (entry: JournalEntry) => string = internal.formatEntry
