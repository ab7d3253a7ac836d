/**
 * The fake kernel's tables and clock: addresses as keys, the port tables, what listens and
 * what is bound, the scripts, latencies, partitions and holds the controls set, and the
 * timers `advanceToNextEvent` looks for. Streams, datagrams and controls are modules over
 * one `Kernel`; none of them keeps tables of its own.
 */
import { ConnectError, Errno, InvalidInput, SockAddr } from "@dial/core"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import type * as TestNetwork from "../TestNetwork.ts"
import type { Journal, Recorder } from "./journal.ts"
import type { Side } from "./pipe.ts"
import type { Ends, Link, ToxicState } from "./toxics.ts"

export type Concrete = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract
export type Family = NetAddress.IpFamily

export const platform = "test"

// ---------------------------------------------------------------------------------------------
// addresses
// ---------------------------------------------------------------------------------------------

export const wildcardOf = (family: Family): string => (family === "IPv4" ? "0.0.0.0" : "::")

// Formatting an IP is the costliest step of a fake connect: remember it per (immutable) object.
const ipTexts = new WeakMap<NetAddress.IpAddress, string>()
const keys = new WeakMap<Concrete, string>()

export const ipTextOf = (ip: NetAddress.IpAddress): string => {
  let text = ipTexts.get(ip)
  if (text === undefined) {
    text = NetAddress.formatIp(ip)
    ipTexts.set(ip, text)
  }
  return text
}

/** The identity of an address in the fake's tables. */
export const keyOf = (address: Concrete): string => {
  let key = keys.get(address)
  if (key === undefined) {
    key = address._tag === "Inet" ? `${ipTextOf(address.ip)}|${address.port}` : SockAddr.format(address)
    keys.set(address, key)
  }
  return key
}

export const inetOf = (ip: NetAddress.IpAddress, port: number): SockAddr.Inet =>
  new SockAddr.Inet({ address: NetAddress.inetAddressUnsafe(ip, port) })

export const parseConcrete = (
  field: string,
  input: SockAddr.Input
): Result.Result<Concrete, InvalidInput.InvalidInput> => {
  const parsed = SockAddr.fromInput(input)
  if (Result.isFailure(parsed)) return Result.fail(InvalidInput.make(field, input, parsed.failure.reason))
  if (parsed.success._tag === "Unspec")
    return Result.fail(InvalidInput.make(field, "unspec", "expected a concrete address"))
  return Result.succeed(parsed.success)
}

export const millisOf = (
  field: string,
  input: Duration.Input | undefined,
  fallback: number
): Result.Result<number, InvalidInput.InvalidInput> =>
  input === undefined ? Result.succeed(fallback) : Result.map(InvalidInput.duration(field, input), Duration.toMillis)

// ---------------------------------------------------------------------------------------------
// ports
// ---------------------------------------------------------------------------------------------

/** The ports bound on one local IP, and its addresses (made once: a connect allocates none). */
export class PortSpace {
  readonly ip: NetAddress.IpAddress
  readonly text: string
  readonly family: Family
  readonly wildcard: boolean
  readonly used = new Uint8Array(65536)
  readonly addresses: Array<SockAddr.Inet | undefined> = []

  constructor(ip: NetAddress.IpAddress, text: string) {
    this.ip = ip
    this.text = text
    this.family = NetAddress.familyOf(ip)
    this.wildcard = text === wildcardOf(this.family)
  }

  addressOf(port: number): SockAddr.Inet {
    let address = this.addresses[port]
    if (address === undefined) {
      address = inetOf(this.ip, port)
      this.addresses[port] = address
    }
    return address
  }
}

export interface Binding {
  readonly space: PortSpace
  readonly port: number
}

/** The bound ports of one protocol (TCP and UDP ports are separate, as in the kernel). */
export class PortTable {
  /** Bindings per port and family: "nobody has this port" is one array read. */
  readonly counts: Record<Family, Uint32Array> = { IPv4: new Uint32Array(65536), IPv6: new Uint32Array(65536) }
  readonly spaces = new Map<string, PortSpace>()
  readonly from: number
  readonly to: number
  cursor: number

  constructor(from: number, to: number) {
    this.from = from
    this.to = to
    this.cursor = from
  }

  spaceOf(ip: NetAddress.IpAddress): PortSpace {
    const text = ipTextOf(ip)
    let space = this.spaces.get(text)
    if (space === undefined) {
      space = new PortSpace(ip, text)
      this.spaces.set(text, space)
    }
    return space
  }

  isFree(space: PortSpace, port: number): boolean {
    if (this.counts[space.family][port] === 0) return true
    if (space.wildcard || space.used[port] === 1) return false
    return this.spaces.get(wildcardOf(space.family))?.used[port] !== 1
  }

  take(space: PortSpace, port: number): Binding {
    const counts = this.counts[space.family]
    counts[port] = (counts[port] ?? 0) + 1
    space.used[port] = 1
    return { space, port }
  }

  release(binding: Binding): void {
    const { space, port } = binding
    if (space.used[port] !== 1) return
    space.used[port] = 0
    const counts = this.counts[space.family]
    counts[port] = (counts[port] ?? 1) - 1
  }

  /**
   * Binds a port of `space`: `port` when it is free, the next ephemeral one when none (or 0) is
   * asked for; undefined when neither is to be had.
   */
  claim(space: PortSpace, port: number | undefined): Binding | undefined {
    const chosen = port === undefined || port === 0 ? this.allocate(space) : this.isFree(space, port) ? port : undefined
    return chosen === undefined ? undefined : this.take(space, chosen)
  }

  /** Next free port of the range, round robin like the kernel's search; undefined when exhausted. */
  allocate(space: PortSpace): number | undefined {
    const size = this.to - this.from + 1
    for (let i = 0; i < size; i++) {
      const port = this.cursor
      this.cursor = port >= this.to ? this.from : port + 1
      if (this.isFree(space, port)) return port
    }
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// what the tables hold
// ---------------------------------------------------------------------------------------------

/** Resumes a suspended fiber: what waits in the network's queues. */
export type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

export interface ServerConnection {
  readonly side: Side
  readonly id: number
  readonly connection: TestNetwork.Connection
}

export interface ListenerState {
  readonly id: number
  readonly address: Concrete
  readonly type: "stream" | "seqpacket"
  readonly backlog: number
  readonly accepting: boolean
  readonly deny: boolean
  readonly echo: boolean
  readonly pending: Array<ServerConnection>
  readonly acceptWaiters: Array<Resume<TestNetwork.Connection, ConnectError.EBADF>>
  connections: number
  closed: boolean
  /** Closes the listener now (its scope's finalizer, or its host crashing); idempotent. */
  shutdown: (pending: "reset" | "vanish") => void
}

export interface DatagramSink {
  readonly deliver: (data: Uint8Array, from: SockAddr.Inet) => void
}

export type Unix = SockAddr.UnixPath | SockAddr.UnixAbstract

/**
 * A bound unix datagram socket as its senders meet it. `deliver` says what the sender's
 * `send(2)` returns: queued, EAGAIN (the receiver's queue is full), or EPERM (the receiver is
 * connected to another socket).
 */
export interface UnixDatagramSink {
  readonly deliver: (data: Uint8Array, from: Unix) => "ok" | "EAGAIN" | "EPERM"
  /** The socket file is not writable for the client: connect is EACCES. */
  readonly deny: boolean
  readonly closed: boolean
}

/**
 * What a unix datagram name leads to: its socket while it is open; once it closes, a path stays
 * as a stale socket file (the kernel never unlinks it) and an abstract name is gone.
 */
export type UnixDatagramName = UnixDatagramSink | "stale"

export type Matcher = (address: SockAddr.SockAddr) => boolean

export interface PartitionState {
  readonly a: Matcher
  readonly b: Matcher
  readonly errno: "ENETUNREACH" | "EHOSTUNREACH" | undefined
  readonly healWaiters: Set<() => void>
}

export interface HoldState {
  readonly parked: Array<Resume<void>>
  readonly watchers: Set<() => void>
}

/**
 * An established stream connection, while either end is open: what toxics and crashes act on.
 * A class: one is made per connect.
 */
export class LiveConnection implements Ends {
  readonly kernel: Kernel
  readonly client: Side
  readonly server: Side | undefined
  /** The address the client connected to (the listener's side). */
  readonly serverAddress: Concrete
  readonly clientAddress: SockAddr.SockAddr
  /** The client socket's recorder: toxic and crash lines carry its number. */
  readonly recorder: Recorder
  /** The services of the fiber that connected (its clock), for the toxics' timer fibers. */
  readonly context: Context.Context<never>
  upstream: Link | undefined = undefined
  downstream: Link | undefined = undefined
  /** Ends still open. */
  open: number
  /** The server's host crashed with `connections: "vanish"`: nothing reaches it any more. */
  vanished = false
  /** The kernel's list of live connections is intrusive: no hashing on the connect path. */
  previous: LiveConnection | undefined = undefined
  next: LiveConnection | undefined = undefined

  constructor(fields: {
    readonly kernel: Kernel
    readonly client: Side
    readonly server: Side | undefined
    readonly serverAddress: Concrete
    readonly clientAddress: SockAddr.SockAddr
    readonly recorder: Recorder
    readonly context: Context.Context<never>
  }) {
    this.kernel = fields.kernel
    this.client = fields.client
    this.server = fields.server
    this.serverAddress = fields.serverAddress
    this.clientAddress = fields.clientAddress
    this.recorder = fields.recorder
    this.context = fields.context
    this.open = fields.server === undefined ? 1 : 2
    fields.kernel.addLive(this)
  }

  /** One end closed; the last one takes the connection off the kernel's table. */
  endClosed(): void {
    if (--this.open === 0) this.kernel.removeLive(this)
  }
}

/** A connect-time fault rate (`TestNetwork.faults`, per connect). */
export interface ConnectFault {
  readonly matches: Matcher
  readonly refuse: number
  readonly reset: number
  readonly drop: number
}

/** A host's registered server software (`TestNetwork.host`). */
export interface HostServer {
  readonly start: () => void
  readonly stop: Effect.Effect<void>
}

interface Timer {
  readonly at: number
}

/** An outcome as the network runs it: its delay decoded, once, when the script was set. */
export type Scripted =
  | "accept"
  | "refuse"
  | "reset"
  | "blackhole"
  | { readonly delay: number; readonly outcome: Scripted }
  | { readonly errno: Errno.Name }

export interface Script {
  readonly outcomes: ReadonlyArray<Scripted>
  index: number
}

interface LatencyState {
  readonly base: number
  readonly jitter: number
}

// ---------------------------------------------------------------------------------------------
// the kernel
// ---------------------------------------------------------------------------------------------

export interface KernelOptions {
  readonly kernelTimeout: number
  readonly range: { readonly from: number; readonly to: number }
  readonly hosts: Record<Family, NetAddress.IpAddress>
  readonly random: Random.Random
  readonly journal: Journal
}

/** One fake network's state. Plain fields: every connect reads them. */
export class Kernel {
  readonly kernelTimeout: number
  readonly hosts: Record<Family, NetAddress.IpAddress>
  readonly random: Random.Random
  readonly journal: Journal
  readonly tcp: PortTable
  readonly udp: PortTable
  readonly listeners = new Map<string, ListenerState>()
  readonly datagramSinks = new Map<string, DatagramSink>()
  /** Unix datagram names (bound sockets and stale files); stream names are in `listeners`. */
  readonly unixDatagrams = new Map<string, UnixDatagramName>()
  readonly scripts = new Map<string, Script>()
  readonly latencies = new Map<string, LatencyState>()
  readonly partitions = new Set<PartitionState>()
  readonly holds = new Map<string, HoldState>()
  readonly timers = new Set<Timer>()
  /** The newest live connection; each links to the one before it. */
  private lastLive: LiveConnection | undefined = undefined
  readonly toxics: Array<ToxicState> = []
  readonly connectFaults: Array<ConnectFault> = []
  /** Crashed hosts by IP text, and what a connect to one meets. */
  readonly crashed = new Map<string, "refuse" | "blackhole">()
  readonly servers = new Map<string, Set<HostServer>>()
  /** The port space a connect to a destination IP binds in, remembered per (immutable) IP. */
  private readonly sources = new WeakMap<NetAddress.IpAddress, PortSpace>()
  private lastSocket = 0
  /** Linux's autobind counter: the next abstract name a unix datagram socket gets. */
  private autobindCursor = 0

  constructor(options: KernelOptions) {
    this.kernelTimeout = options.kernelTimeout
    this.hosts = options.hosts
    this.random = options.random
    this.journal = options.journal
    this.tcp = new PortTable(options.range.from, options.range.to)
    this.udp = new PortTable(options.range.from, options.range.to)
  }

  addLive(live: LiveConnection): void {
    live.previous = this.lastLive
    if (this.lastLive !== undefined) this.lastLive.next = live
    this.lastLive = live
  }

  removeLive(live: LiveConnection): void {
    if (live.next !== undefined) live.next.previous = live.previous
    else if (this.lastLive === live) this.lastLive = live.previous
    else return
    if (live.previous !== undefined) live.previous.next = live.next
    live.previous = undefined
    live.next = undefined
  }

  /** The live connections now, oldest first (a copy: acting on one may end it). */
  liveConnections(): Array<LiveConnection> {
    const out: Array<LiveConnection> = []
    for (let live = this.lastLive; live !== undefined; live = live.previous) out.push(live)
    return out.reverse()
  }

  /** The next socket number (the journal's `#n`). */
  nextSocket(): number {
    return ++this.lastSocket
  }

  /** A sleep the network knows of, so `advanceToNextEvent` can find it. */
  wait(clock: Clock.Clock, millis: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const timer: Timer = { at: clock.currentTimeMillisUnsafe() + millis }
      this.timers.add(timer)
      return Effect.ensuring(
        Effect.sleep(millis),
        Effect.sync(() => this.timers.delete(timer))
      )
    })
  }

  /** The earliest timer, if any. */
  nextTimer(): number | undefined {
    let next: number | undefined
    for (const timer of this.timers) if (next === undefined || timer.at < next) next = timer.at
    return next
  }

  /** The source IP routing would pick: loopback for loopback, else the host's own address. */
  sourceFor(address: SockAddr.Inet): NetAddress.IpAddress {
    return NetAddress.isLoopback(address.ip)
      ? address.family === "IPv4"
        ? NetAddress.ipv4Loopback
        : NetAddress.ipv6Loopback
      : this.hosts[address.family]
  }

  /** The local IP's port space a socket binds in: the requested IP, else the routed source. */
  spaceFor(table: PortTable, requested: SockAddr.Inet | undefined, destination: SockAddr.Inet): PortSpace {
    if (requested !== undefined && !NetAddress.isUnspecified(requested.ip)) return table.spaceOf(requested.ip)
    if (table !== this.tcp) return table.spaceOf(this.sourceFor(destination))
    let space = this.sources.get(destination.ip)
    if (space === undefined) {
      space = this.tcp.spaceOf(this.sourceFor(destination))
      this.sources.set(destination.ip, space)
    }
    return space
  }

  listenerFor(address: Concrete, key: string): ListenerState | undefined {
    const exact = this.listeners.get(key)
    if (exact !== undefined || address._tag !== "Inet") return exact
    return this.listeners.get(`${wildcardOf(address.family)}|${address.port}`)
  }

  sinkFor(address: SockAddr.Inet): DatagramSink | undefined {
    return (
      this.datagramSinks.get(keyOf(address)) ?? this.datagramSinks.get(`${wildcardOf(address.family)}|${address.port}`)
    )
  }

  partitionBetween(source: SockAddr.SockAddr, destination: SockAddr.SockAddr): PartitionState | undefined {
    if (this.partitions.size === 0) return undefined
    for (const partition of this.partitions) {
      if ((partition.a(source) && partition.b(destination)) || (partition.b(source) && partition.a(destination))) {
        return partition
      }
    }
    return undefined
  }

  /** Whether a unix name is taken: by a listener, a datagram socket, or a stale socket file. */
  unixNameTaken(key: string): boolean {
    return this.listeners.has(key) || this.unixDatagrams.has(key)
  }

  /**
   * Linux's autobind (`bind` with an empty name): a free abstract name of five hex digits,
   * searched in order; undefined when all 2^20 are taken (the kernel's ENOSPC).
   */
  autobind(): SockAddr.UnixAbstract | undefined {
    for (let tries = 0; tries < 0x100000; tries++) {
      const name = (this.autobindCursor++ & 0xfffff).toString(16).padStart(5, "0")
      const address = new SockAddr.UnixAbstract({ name })
      if (!this.unixNameTaken(keyOf(address))) return address
    }
    return undefined
  }

  /**
   * Binds `address` in `table` for a listener or a test's port: EADDRINUSE (`bind`, or
   * `listen` for a stream name) when it is taken. A unix name clashes with any unix name:
   * listeners, datagram sockets and stale socket files share one namespace.
   */
  bindPort(
    table: PortTable,
    address: Concrete,
    recorder: Recorder
  ): Result.Result<{ readonly address: Concrete; readonly release: () => void }, ConnectError.EADDRINUSE> {
    if (address._tag !== "Inet") {
      if (!this.unixNameTaken(keyOf(address))) return Result.succeed({ address, release: () => {} })
    } else {
      const space = table.spaceOf(address.ip)
      const binding = table.claim(space, address.port)
      if (binding !== undefined) {
        return Result.succeed({ address: space.addressOf(binding.port), release: () => table.release(binding) })
      }
    }
    const op = table === this.udp ? "bind" : "listen"
    recorder.record({ op, outcome: "EADDRINUSE", address })
    return Result.fail(ConnectError.make("EADDRINUSE", { syscall: "bind", localAddress: address }))
  }

  /** The crash state of an address's host, when it is crashed. */
  crashedFor(address: SockAddr.SockAddr): "refuse" | "blackhole" | undefined {
    if (this.crashed.size === 0 || address._tag !== "Inet") return undefined
    return this.crashed.get(ipTextOf(address.ip))
  }

  /** Draws the connect-time fault for an address, if any rule matches and the draw says so. */
  connectFaultFor(address: SockAddr.SockAddr): "refuse" | "reset" | "drop" | undefined {
    for (const fault of this.connectFaults) {
      if (!fault.matches(address)) continue
      const draw = this.random.nextDoubleUnsafe()
      if (draw < fault.refuse) return "refuse"
      if (draw < fault.refuse + fault.reset) return "reset"
      if (draw < fault.refuse + fault.reset + fault.drop) return "drop"
    }
    return undefined
  }

  /** A per-chunk fault rate drops this datagram (UDP has nothing to reset). */
  dropsDatagram(to: SockAddr.Inet): boolean {
    for (const state of this.toxics) {
      if (state.toxic.type !== "fault" || !state.matches(to)) continue
      if (this.random.nextDoubleUnsafe() < state.toxic.drop) return true
    }
    return false
  }

  nextScripted(key: string): Scripted | undefined {
    if (this.scripts.size === 0) return undefined
    const script = this.scripts.get(key)
    if (script === undefined) return undefined
    const outcome = script.outcomes[Math.min(script.index, script.outcomes.length - 1)]
    script.index++
    return outcome
  }

  latencyFor(address: Concrete, key: string): number {
    if (this.latencies.size === 0) return 0
    const latency = this.latencies.get(key) ?? (address._tag === "Inet" ? this.latencies.get("*") : undefined)
    if (latency === undefined) return 0
    return latency.jitter === 0
      ? latency.base
      : latency.base + Math.floor(this.random.nextDoubleUnsafe() * (latency.jitter + 1))
  }
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const anyEndpoint: Matcher = () => true

export const matcherOf = (endpoint: TestNetwork.Endpoint): Result.Result<Matcher, InvalidInput.InvalidInput> => {
  if (endpoint === "*") return Result.succeed(anyEndpoint)
  if (typeof endpoint === "string") {
    const ip = NetAddress.ipFromString(endpoint)
    if (Result.isSuccess(ip)) {
      const text = ipTextOf(ip.success)
      return Result.succeed((a) => a._tag === "Inet" && ipTextOf(a.ip) === text)
    }
  }
  const parsed = parseConcrete("endpoint", endpoint)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  const address = parsed.success
  if (address._tag === "Inet" && address.port === 0) {
    const text = ipTextOf(address.ip)
    return Result.succeed((a) => a._tag === "Inet" && ipTextOf(a.ip) === text)
  }
  const key = keyOf(address)
  return Result.succeed((a) => a._tag !== "Unspec" && keyOf(a) === key)
}

/**
 * Suspends in `queue` until resumed. An interrupted fiber takes itself out, so no later wake-up
 * resumes (and loses a value to) a fiber that is gone. `onQueued` runs once it waits.
 */
export const enqueue = <A, E>(queue: Array<Resume<A, E>>, onQueued?: () => void): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume) => {
    queue.push(resume)
    onQueued?.()
    return Effect.sync(() => {
      const index = queue.indexOf(resume)
      if (index !== -1) queue.splice(index, 1)
    })
  })

/** A `TestClock`, or undefined when the fiber runs on a live clock. */
export const testClockOf = (
  clock: Clock.Clock
): (Clock.Clock & { readonly adjust: (duration: Duration.Input) => Effect.Effect<void> }) | undefined =>
  "adjust" in clock && typeof clock.adjust === "function"
    ? (clock as Clock.Clock & { readonly adjust: (duration: Duration.Input) => Effect.Effect<void> })
    : undefined

const outcomeNames: ReadonlySet<string> = new Set(["accept", "refuse", "reset", "blackhole"])

/** Checks a scripted outcome and decodes its delay; the failure is the reason it is invalid. */
export const decodeOutcome = (outcome: unknown): Result.Result<Scripted, string> => {
  if (typeof outcome === "string") {
    return outcomeNames.has(outcome) ? Result.succeed(outcome as Scripted) : Result.fail(`unknown outcome ${outcome}`)
  }
  if (typeof outcome !== "object" || outcome === null) return Result.fail("expected an outcome")
  if ("errno" in outcome) {
    const errno = (outcome as { readonly errno: unknown }).errno
    return Errno.isName(errno) ? Result.succeed({ errno }) : Result.fail(`unknown errno ${String(errno)}`)
  }
  if ("delay" in outcome) {
    const { delay, outcome: next } = outcome as { readonly delay: Duration.Input; readonly outcome?: unknown }
    const millis = millisOf("delay", delay, 0)
    if (Result.isFailure(millis)) return Result.fail(millis.failure.reason)
    if (next === undefined) return Result.succeed({ delay: millis.success, outcome: "accept" })
    return Result.map(decodeOutcome(next), (decoded) => ({ delay: millis.success, outcome: decoded }))
  }
  return Result.fail("expected an outcome")
}
