/**
 * The in-memory network: the fake transport (the raw moves core's state machine runs over) and
 * the controls. Everything here is plain synchronous bookkeeping; an attempt only suspends on
 * the clock (latency, a lost SYN, a scripted delay) or on a hold, and every suspension is
 * interruptible and cleans up after itself (port released, journal line written).
 */
import type { SocketHandle, Transport } from "@dial/core"
import { ConnectError, DialError, Errno, InvalidInput, Network, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import type * as TestNetwork from "../TestNetwork.ts"
import { makePair, type Side } from "./pipe.ts"

type Concrete = SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract
type Controls = TestNetwork.TestNetwork["Service"]
type SocketType = TestNetwork.JournalEntry["type"]
type Family = NetAddress.IpFamily

const platform = "test"

// ---------------------------------------------------------------------------------------------
// addresses
// ---------------------------------------------------------------------------------------------

const wildcardOf = (family: Family): string => (family === "IPv4" ? "0.0.0.0" : "::")

// Formatting an IP is the costliest step of a fake connect: remember it per (immutable) object.
const ipTexts = new WeakMap<NetAddress.IpAddress, string>()
const keys = new WeakMap<Concrete, string>()

const ipTextOf = (ip: NetAddress.IpAddress): string => {
  let text = ipTexts.get(ip)
  if (text === undefined) {
    text = NetAddress.formatIp(ip)
    ipTexts.set(ip, text)
  }
  return text
}

/** The identity of an address in the fake's tables. */
const keyOf = (address: Concrete): string => {
  let key = keys.get(address)
  if (key === undefined) {
    key = address._tag === "Inet" ? `${ipTextOf(address.ip)}|${address.port}` : SockAddr.format(address)
    keys.set(address, key)
  }
  return key
}

const inetOf = (ip: NetAddress.IpAddress, port: number): SockAddr.Inet =>
  new SockAddr.Inet({ address: NetAddress.inetAddressUnsafe(ip, port) })

const parseConcrete = (field: string, input: SockAddr.Input): Result.Result<Concrete, InvalidInput.InvalidInput> => {
  const parsed = SockAddr.fromInput(input)
  if (Result.isFailure(parsed)) return Result.fail(InvalidInput.make(field, input, parsed.failure.reason))
  if (parsed.success._tag === "Unspec")
    return Result.fail(InvalidInput.make(field, "unspec", "expected a concrete address"))
  return Result.succeed(parsed.success)
}

const millisOf = (
  field: string,
  input: Duration.Input | undefined,
  fallback: number
): Result.Result<number, InvalidInput.InvalidInput> =>
  input === undefined ? Result.succeed(fallback) : Result.map(InvalidInput.duration(field, input), Duration.toMillis)

// ---------------------------------------------------------------------------------------------
// ports
// ---------------------------------------------------------------------------------------------

/** The ports bound on one local IP, and its addresses (made once: a connect allocates none). */
class PortSpace {
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

interface Binding {
  readonly space: PortSpace
  readonly port: number
}

/** The bound ports of one protocol (TCP and UDP ports are separate, as in the kernel). */
class PortTable {
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
// state
// ---------------------------------------------------------------------------------------------

/** Resumes a suspended fiber: what waits in the network's queues. */
type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

interface ServerConnection {
  readonly side: Side
  readonly id: number
  readonly connection: TestNetwork.Connection
}

interface ListenerState {
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
}

interface DatagramSink {
  readonly deliver: (data: Uint8Array, from: SockAddr.Inet) => void
}

type Matcher = (address: SockAddr.SockAddr) => boolean

interface PartitionState {
  readonly a: Matcher
  readonly b: Matcher
  readonly errno: "ENETUNREACH" | "EHOSTUNREACH" | undefined
  readonly healWaiters: Set<() => void>
}

interface HoldState {
  readonly parked: Array<Resume<void>>
  readonly watchers: Set<() => void>
}

interface Timer {
  readonly at: number
}

/** One connect attempt of a stream socket, from socket(2) to its end. */
interface Attempt {
  readonly id: number
  readonly type: "stream" | "seqpacket"
  readonly address: Concrete
  readonly key: string
  readonly local: SockAddr.SockAddr
  /** The local address the caller asked for: what the errors report, as Node's do. */
  readonly requested: SockAddr.Inet | undefined
  readonly binding: Binding | undefined
  readonly clock: Clock.Clock
  settled: boolean
}

/** An outcome as the network runs it: its delay decoded, once, when the script was set. */
type Scripted =
  | "accept"
  | "refuse"
  | "reset"
  | "blackhole"
  | { readonly delay: number; readonly outcome: Scripted }
  | { readonly errno: Errno.Name }

interface Script {
  readonly outcomes: ReadonlyArray<Scripted>
  index: number
}

interface LatencyState {
  readonly base: number
  readonly jitter: number
}

/** The client's end as core sees it; the socket and the close effect are made on first use. */
class ClientConnection implements Transport.StreamConnection {
  readonly local: SockAddr.SockAddr
  readonly peer: SockAddr.SockAddr
  readonly side: Side

  constructor(local: SockAddr.SockAddr, peer: SockAddr.SockAddr, side: Side) {
    this.local = local
    this.peer = peer
    this.side = side
  }

  get socket() {
    return this.side.socket
  }

  get close() {
    return this.side.close
  }

  get closed() {
    return this.side.closed
  }
}

/** Counts the error tags that reach the application. */
class Coverage {
  readonly counts: Map<string, number>
  constructor(counts: Map<string, number>) {
    this.counts = counts
  }
  fail<E extends { readonly _tag: string }>(error: E): Effect.Effect<never, E> {
    this.counts.set(error._tag, (this.counts.get(error._tag) ?? 0) + 1)
    return Effect.fail(error)
  }
  observe<A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.catch(effect, (error) => this.fail(error))
  }
}

/**
 * Core's handle with its failures counted. A class with delegating accessors rather than a
 * copy of the handle: a fake connect is cheap enough that copying showed in the benchmark.
 */
class ObservedHandle<H extends SocketHandle.StreamHandle | SocketHandle.DatagramHandle> {
  readonly handle: H
  readonly coverage: Coverage

  constructor(handle: H, coverage: Coverage) {
    this.handle = handle
    this.coverage = coverage
  }
  get type(): H["type"] {
    return this.handle.type
  }
  get state() {
    return this.handle.state
  }
  get localAddress() {
    return this.handle.localAddress
  }
  get peerAddress() {
    return this.handle.peerAddress
  }
  get disconnect() {
    return this.coverage.observe(this.handle.disconnect)
  }
  connect(address: SockAddr.Input, options?: SocketHandle.ConnectOptions) {
    return this.coverage.observe(this.handle.connect(address, options))
  }
}

class ObservedStream extends ObservedHandle<SocketHandle.StreamHandle> implements SocketHandle.StreamHandle {
  get socket() {
    return this.coverage.observe(this.handle.socket)
  }
  get connection() {
    return this.coverage.observe(this.handle.connection)
  }
  read(options?: SocketHandle.OperationOptions) {
    return this.coverage.observe(this.handle.read(options))
  }
  write(data: Uint8Array | string, options?: SocketHandle.OperationOptions) {
    return this.coverage.observe(this.handle.write(data, options))
  }
  get end() {
    return this.coverage.observe(this.handle.end)
  }
  setDeadlines(deadlines: SocketHandle.Deadlines) {
    return this.coverage.observe(this.handle.setDeadlines(deadlines))
  }
}

class ObservedDatagram extends ObservedHandle<SocketHandle.DatagramHandle> implements SocketHandle.DatagramHandle {
  get receive() {
    return this.coverage.observe(this.handle.receive)
  }
  send(data: Uint8Array) {
    return this.coverage.observe(this.handle.send(data))
  }
}

/** Formats a journal entry as one line. */
export const formatEntry = (entry: TestNetwork.JournalEntry): string => {
  const parts = [`${entry.at}ms`, `#${entry.socket}`, entry.op, entry.type]
  if (entry.address !== undefined) parts.push(SockAddr.format(entry.address))
  if (entry.localAddress !== undefined) parts.push(`(local ${SockAddr.format(entry.localAddress)})`)
  parts.push(entry.outcome)
  return parts.join(" ")
}

const anyEndpoint: Matcher = () => true

const matcherOf = (endpoint: TestNetwork.Endpoint): Result.Result<Matcher, InvalidInput.InvalidInput> => {
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
const enqueue = <A, E>(queue: Array<Resume<A, E>>, onQueued?: () => void): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume) => {
    queue.push(resume)
    onQueued?.()
    return Effect.sync(() => {
      const index = queue.indexOf(resume)
      if (index !== -1) queue.splice(index, 1)
    })
  })

/** A `TestClock`, or undefined when the fiber runs on a live clock. */
const testClockOf = (
  clock: Clock.Clock
): (Clock.Clock & { readonly adjust: (duration: Duration.Input) => Effect.Effect<void> }) | undefined =>
  "adjust" in clock && typeof clock.adjust === "function"
    ? (clock as Clock.Clock & { readonly adjust: (duration: Duration.Input) => Effect.Effect<void> })
    : undefined

// ---------------------------------------------------------------------------------------------
// the network
// ---------------------------------------------------------------------------------------------

export const make = (
  options: TestNetwork.Options
): Effect.Effect<{ readonly network: Network.Network["Service"]; readonly controls: Controls }> =>
  Effect.suspend(() => {
    const kernelTimeout = millisOf("kernelTimeout", options.kernelTimeout, 127_000)
    if (Result.isFailure(kernelTimeout)) return Effect.die(kernelTimeout.failure)
    const range = options.ephemeralPorts ?? { from: 32768, to: 60999 }
    if (
      !Number.isInteger(range.from) ||
      !Number.isInteger(range.to) ||
      range.from < 1 ||
      range.to > 65535 ||
      range.from > range.to
    ) {
      return Effect.die(InvalidInput.make("ephemeralPorts", range, "expected integers with 1 <= from <= to <= 65535"))
    }
    const hosts: Record<Family, NetAddress.IpAddress> = { IPv4: NetAddress.ipv4Loopback, IPv6: NetAddress.ipv6Loopback }
    for (const family of ["IPv4", "IPv6"] as const) {
      const text = options.hostAddresses?.[family] ?? (family === "IPv4" ? "192.0.2.1" : "2001:db8::1")
      const ip = NetAddress.ipFromString(text)
      if (Result.isFailure(ip) || NetAddress.familyOf(ip.success) !== family) {
        return Effect.die(InvalidInput.make("hostAddresses", text, `expected an ${family} address`))
      }
      hosts[family] = ip.success
    }
    return Effect.map(
      Random.withSeed(
        Random.Random.useSync((random) => random),
        options.seed ?? 0
      ),
      (random) => build(options, kernelTimeout.success, range, hosts, random)
    )
  })

const build = (
  options: TestNetwork.Options,
  kernelTimeout: number,
  range: { readonly from: number; readonly to: number },
  hosts: Record<Family, NetAddress.IpAddress>,
  random: Random.Random
): { readonly network: Network.Network["Service"]; readonly controls: Controls } => {
  const recording = options.record !== false
  const journal: Array<TestNetwork.JournalEntry> = []
  const coverage = new Map<string, number>()
  const tcp = new PortTable(range.from, range.to)
  const udp = new PortTable(range.from, range.to)
  const listeners = new Map<string, ListenerState>()
  const datagramSinks = new Map<string, DatagramSink>()
  const scripts = new Map<string, Script>()
  const latencies = new Map<string, LatencyState>()
  const partitions = new Set<PartitionState>()
  const holds = new Map<string, HoldState>()
  const timers = new Set<Timer>()
  let nextSocket = 0

  const record = (
    clock: Clock.Clock,
    op: TestNetwork.Operation,
    socket: number,
    type: SocketType,
    address: SockAddr.SockAddr | undefined,
    localAddress: SockAddr.SockAddr | undefined,
    outcome: string
  ): void => {
    if (!recording) return
    const entry: { -readonly [K in keyof TestNetwork.JournalEntry]: TestNetwork.JournalEntry[K] } = {
      at: clock.currentTimeMillisUnsafe(),
      op,
      socket,
      type,
      outcome
    }
    if (address !== undefined) entry.address = address
    if (localAddress !== undefined) entry.localAddress = localAddress
    journal.push(entry)
  }

  /** A sleep the network knows of, so `advanceToNextEvent` can find it. */
  const wait = (clock: Clock.Clock, millis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const timer: Timer = { at: clock.currentTimeMillisUnsafe() + millis }
      timers.add(timer)
      return Effect.ensuring(
        Effect.sleep(millis),
        Effect.sync(() => timers.delete(timer))
      )
    })

  // The source IP routing would pick: loopback for loopback, else the host's own address.
  const sourceFor = (address: SockAddr.Inet): NetAddress.IpAddress =>
    NetAddress.isLoopback(address.ip)
      ? address.family === "IPv4"
        ? NetAddress.ipv4Loopback
        : NetAddress.ipv6Loopback
      : hosts[address.family]

  /** The local IP's port space a socket binds in: the requested IP, else the routed source. */
  const sources = new WeakMap<NetAddress.IpAddress, PortSpace>()
  const spaceFor = (table: PortTable, requested: SockAddr.Inet | undefined, destination: SockAddr.Inet): PortSpace => {
    if (requested !== undefined && !NetAddress.isUnspecified(requested.ip)) return table.spaceOf(requested.ip)
    if (table !== tcp) return table.spaceOf(sourceFor(destination))
    let space = sources.get(destination.ip)
    if (space === undefined) {
      space = tcp.spaceOf(sourceFor(destination))
      sources.set(destination.ip, space)
    }
    return space
  }

  const listenerFor = (address: Concrete, key: string): ListenerState | undefined => {
    const exact = listeners.get(key)
    if (exact !== undefined || address._tag !== "Inet") return exact
    return listeners.get(`${wildcardOf(address.family)}|${address.port}`)
  }

  const sinkFor = (address: SockAddr.Inet): DatagramSink | undefined =>
    datagramSinks.get(keyOf(address)) ?? datagramSinks.get(`${wildcardOf(address.family)}|${address.port}`)

  const partitionBetween = (source: SockAddr.SockAddr, destination: SockAddr.SockAddr): PartitionState | undefined => {
    for (const partition of partitions) {
      if ((partition.a(source) && partition.b(destination)) || (partition.b(source) && partition.a(destination))) {
        return partition
      }
    }
    return undefined
  }

  const nextScripted = (key: string): Scripted | undefined => {
    const script = scripts.get(key)
    if (script === undefined) return undefined
    const outcome = script.outcomes[Math.min(script.index, script.outcomes.length - 1)]
    script.index++
    return outcome
  }

  const latencyFor = (address: Concrete, key: string): number => {
    if (latencies.size === 0) return 0
    const latency = latencies.get(key) ?? (address._tag === "Inet" ? latencies.get("*") : undefined)
    if (latency === undefined) return 0
    return latency.jitter === 0
      ? latency.base
      : latency.base + Math.floor(random.nextDoubleUnsafe() * (latency.jitter + 1))
  }

  // ---------------------------------------------------------------------------------------------
  // stream connects
  // ---------------------------------------------------------------------------------------------

  const settle = (attempt: Attempt, outcome: string, op: TestNetwork.Operation = "connect"): void => {
    attempt.settled = true
    if (attempt.binding !== undefined) tcp.release(attempt.binding)
    record(attempt.clock, op, attempt.id, attempt.type, attempt.address, attempt.local, outcome)
    record(attempt.clock, "close", attempt.id, attempt.type, attempt.address, attempt.local, "ok")
  }

  const fail = (attempt: Attempt, name: Errno.Name): Effect.Effect<never, ConnectError.ConnectError> => {
    settle(attempt, name)
    return Effect.fail(
      ConnectError.make(name, { syscall: "connect", address: attempt.address, localAddress: attempt.requested })
    )
  }

  /** A suspension: interruption (a deadline, a race, a closing scope) ends the attempt cleanly. */
  /** No port to bind: a taken local port fails bind(2), no free ephemeral port fails connect(2) itself. */
  const noPort = (
    clock: Clock.Clock,
    id: number,
    type: SocketType,
    address: SockAddr.Inet,
    requested: SockAddr.Inet | undefined
  ): ConnectError.ConnectError => {
    const syscall = requested !== undefined ? "bind" : "connect"
    const name = requested !== undefined ? "EADDRINUSE" : "EADDRNOTAVAIL"
    record(clock, syscall, id, type, address, requested, name)
    return ConnectError.make(name, { syscall, address, localAddress: requested })
  }

  const suspended = <A, E>(attempt: Attempt, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.onInterrupt(effect, () =>
      Effect.sync(() => {
        if (!attempt.settled) settle(attempt, "interrupted")
      })
    )

  const afterLatency = (
    attempt: Attempt,
    next: () => Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError>
  ): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> => {
    const millis = latencyFor(attempt.address, attempt.key)
    return millis === 0 ? next() : suspended(attempt, Effect.andThen(wait(attempt.clock, millis), Effect.suspend(next)))
  }

  const lostSyn = (attempt: Attempt): Effect.Effect<never, ConnectError.ConnectError> =>
    suspended(
      attempt,
      Effect.andThen(
        wait(attempt.clock, kernelTimeout),
        Effect.suspend(() => fail(attempt, "ETIMEDOUT"))
      )
    )

  const establish = (
    attempt: Attempt,
    listener: ListenerState | undefined
  ): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> => {
    const echo = listener === undefined || listener.echo
    const { client, server } = makePair(echo)
    attempt.settled = true
    const { clock, id, type, address, local, binding } = attempt
    client.name({ local, peer: address })
    server?.name({ local: address, peer: local })
    record(clock, "connect", id, type, address, local, "ok")
    client.onDestroy = () => {
      if (binding !== undefined) tcp.release(binding)
      record(clock, "close", id, type, address, local, "ok")
    }
    if (listener !== undefined) listener.connections++
    if (server === undefined || listener === undefined) {
      record(clock, "accept", ++nextSocket, type, local, address, "ok")
    } else {
      const serverId = ++nextSocket
      server.onDestroy = () => record(clock, "close", serverId, type, local, address, "ok")
      const accepted: ServerConnection = {
        side: server,
        id: serverId,
        connection: {
          local: address,
          peer: local,
          socket: server.socket,
          close: Effect.sync(() => server.destroy()),
          reset: Effect.sync(() => server.reset())
        }
      }
      const waiter = listener.acceptWaiters.shift()
      if (waiter !== undefined) {
        record(clock, "accept", serverId, type, local, address, "ok")
        waiter(Effect.succeed(accepted.connection))
      } else {
        listener.pending.push(accepted)
      }
    }
    return Effect.succeed(new ClientConnection(local, address, client))
  }

  const runOutcome = (
    attempt: Attempt,
    outcome: Scripted
  ): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> => {
    switch (outcome) {
      case "accept":
        return afterLatency(attempt, () => {
          const listener = listenerFor(attempt.address, attempt.key)
          return establish(attempt, listener)
        })
      case "refuse":
        return afterLatency(attempt, () => fail(attempt, "ECONNREFUSED"))
      case "reset":
        return afterLatency(attempt, () => fail(attempt, "ECONNRESET"))
      case "blackhole":
        return lostSyn(attempt)
    }
    if ("errno" in outcome) return fail(attempt, outcome.errno)
    const { delay, outcome: next } = outcome
    return delay === 0
      ? runOutcome(attempt, next)
      : suspended(
          attempt,
          Effect.andThen(
            wait(attempt.clock, delay),
            Effect.suspend(() => runOutcome(attempt, next))
          )
        )
  }

  /** No script: what the kernel would do with whatever listens (or not) at the address. */
  const natural = (attempt: Attempt): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> => {
    const { address } = attempt
    const listener = listenerFor(address, attempt.key)
    if (listener === undefined) {
      if (address._tag === "UnixPath") return fail(attempt, "ENOENT")
      if (address._tag === "UnixAbstract") return fail(attempt, "ECONNREFUSED")
      return afterLatency(attempt, () => fail(attempt, "ECONNREFUSED"))
    }
    if (listener.deny) return fail(attempt, "EACCES")
    if (listener.type !== attempt.type) return fail(attempt, "EPROTOTYPE")
    if (!listener.accepting && listener.pending.length > listener.backlog) {
      return address._tag === "Inet" ? lostSyn(attempt) : fail(attempt, "EAGAIN")
    }
    const millis = latencyFor(address, attempt.key)
    if (millis === 0) return establish(attempt, listener)
    return suspended(
      attempt,
      Effect.andThen(
        wait(attempt.clock, millis),
        Effect.suspend(() => {
          // The listener may have closed while the handshake was on its way.
          const now = listenerFor(address, attempt.key)
          return now === undefined
            ? fail(attempt, address._tag === "UnixPath" ? "ENOENT" : "ECONNREFUSED")
            : establish(attempt, now)
        })
      )
    )
  }

  const route = (attempt: Attempt): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> => {
    if (partitions.size > 0) {
      const partition = partitionBetween(attempt.local, attempt.address)
      if (partition !== undefined) {
        if (partition.errno !== undefined) return fail(attempt, partition.errno)
        // The SYN is lost until the partition heals (then it gets through) or the kernel gives up.
        const healed = Effect.callback<"healed">((resume) => {
          const onHeal = () => resume(Effect.succeed("healed" as const))
          partition.healWaiters.add(onHeal)
          return Effect.sync(() => partition.healWaiters.delete(onHeal))
        })
        return suspended(
          attempt,
          Effect.flatMap(
            Effect.raceFirst(Effect.as(wait(attempt.clock, kernelTimeout), "timeout" as const), healed),
            (how) => (how === "timeout" ? fail(attempt, "ETIMEDOUT") : route(attempt))
          )
        )
      }
    }
    const outcome = scripts.size > 0 ? nextScripted(attempt.key) : undefined
    return outcome === undefined ? natural(attempt) : runOutcome(attempt, outcome)
  }

  const park = (
    attempt: Attempt,
    hold: HoldState
  ): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError> =>
    suspended(
      attempt,
      Effect.andThen(
        enqueue(hold.parked, () => {
          for (const watcher of hold.watchers) watcher()
        }),
        Effect.suspend(() => route(attempt))
      )
    )

  const connectStream: Transport.Transport["connectStream"] = ({ type, address, options: socketOptions }) =>
    Effect.withFiber(
      (fiber): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError | DialError.Unsupported> => {
        if (type === "seqpacket" && address._tag === "Inet") {
          return Effect.fail(DialError.unsupported("seqpacket sockets over inet", platform))
        }
        const clock = fiber.getRef(Clock.Clock)
        const id = ++nextSocket
        const key = keyOf(address)
        const requested = socketOptions.local
        record(clock, "open", id, type, address, undefined, "ok")
        let local: SockAddr.SockAddr = SockAddr.unspec
        let binding: Binding | undefined
        if (address._tag === "Inet") {
          const space = spaceFor(tcp, requested, address)
          binding = tcp.claim(space, requested?.port)
          if (binding === undefined) {
            const error = noPort(clock, id, type, address, requested)
            record(clock, "close", id, type, address, requested, "ok")
            return Effect.fail(error)
          }
          local = space.addressOf(binding.port)
          if (requested !== undefined) record(clock, "bind", id, type, undefined, local, "ok")
        }
        const attempt: Attempt = { id, type, address, key, local, requested, binding, clock, settled: false }
        const hold = holds.size > 0 ? holds.get(key) : undefined
        return hold === undefined ? route(attempt) : park(attempt, hold)
      }
    )

  // ---------------------------------------------------------------------------------------------
  // datagrams
  // ---------------------------------------------------------------------------------------------

  const openDatagram: Transport.Transport["openDatagram"] = ({ address, options: socketOptions }) =>
    Effect.withFiber((fiber) => {
      if (address._tag !== "Inet") return Effect.fail(DialError.unsupported("unix datagram sockets", platform))
      const clock = fiber.getRef(Clock.Clock)
      const id = ++nextSocket
      const requested = socketOptions.local
      let local: SockAddr.Inet | undefined
      let binding: Binding | undefined
      let peer: SockAddr.Inet | undefined
      let closed = false
      let pendingError: ConnectError.ConnectError | undefined
      let inbox: Array<Uint8Array> = []
      const waiters: Array<Resume<Uint8Array, ConnectError.ConnectError>> = []
      record(clock, "open", id, "datagram", address, undefined, "ok")

      const wake = () => {
        while (waiters.length > 0) {
          let result: Effect.Effect<Uint8Array, ConnectError.ConnectError>
          if (pendingError !== undefined) {
            result = Effect.fail(pendingError)
            pendingError = undefined
          } else if (inbox.length > 0) {
            result = Effect.succeed(inbox.shift()!)
          } else return
          waiters.shift()!(result)
        }
      }

      const sink: DatagramSink = {
        deliver: (data, from) => {
          // A connected UDP socket only takes datagrams from its peer.
          if (closed || (peer !== undefined && keyOf(peer) !== keyOf(from))) return
          inbox.push(data)
          wake()
        }
      }

      const unbind = () => {
        if (binding === undefined || local === undefined) return
        udp.release(binding)
        if (datagramSinks.get(keyOf(local)) === sink) datagramSinks.delete(keyOf(local))
        binding = undefined
        local = undefined
      }

      const endpoint: Transport.DatagramEndpoint = {
        connect: (target) =>
          Effect.suspend(() => {
            const scripted = scripts.size > 0 ? nextScripted(keyOf(target)) : undefined
            if (scripted !== undefined && typeof scripted === "object" && "errno" in scripted) {
              record(clock, "connect", id, "datagram", target, local, scripted.errno)
              return Effect.fail(ConnectError.make(scripted.errno, { address: target, localAddress: requested }))
            }
            if (local === undefined) {
              const space = spaceFor(udp, requested, target)
              const claimed = udp.claim(space, requested?.port)
              if (claimed === undefined) return Effect.fail(noPort(clock, id, "datagram", target, requested))
              binding = claimed
              local = space.addressOf(claimed.port)
              datagramSinks.set(keyOf(local), sink)
            }
            const partition = partitions.size > 0 ? partitionBetween(local, target) : undefined
            if (partition?.errno !== undefined) {
              record(clock, "connect", id, "datagram", target, local, partition.errno)
              return Effect.fail(ConnectError.make(partition.errno, { address: target, localAddress: requested }))
            }
            peer = target
            pendingError = undefined
            record(clock, "connect", id, "datagram", target, local, "ok")
            return Effect.succeed({ local, peer: target })
          }),
        disconnect: Effect.sync(() => {
          const was = peer
          peer = undefined
          pendingError = undefined
          // Like Linux's udp_disconnect: an autobound port goes back to the pool.
          if (requested === undefined || requested.port === 0) unbind()
          record(clock, "disconnect", id, "datagram", was, undefined, "ok")
        }),
        send: (data) =>
          Effect.sync(() => {
            // Core sends only while connected (closing drops its endpoint first): peer and local are set.
            const to = peer!
            const from = local!
            if (partitions.size > 0 && partitionBetween(from, to) !== undefined) return
            const target = sinkFor(to)
            if (target === undefined) {
              // ICMP port unreachable: the next receive reports it (sk_err).
              pendingError = ConnectError.make("ECONNREFUSED", { syscall: "recv", address: to, localAddress: from })
              wake()
              return
            }
            target.deliver(data.slice(), from)
          }),
        // Core receives only while connected; a receive still waiting when the socket closes gets EBADF.
        receive: Effect.suspend((): Effect.Effect<Uint8Array, ConnectError.ConnectError> => {
          if (pendingError !== undefined) {
            const error = pendingError
            pendingError = undefined
            return Effect.fail(error)
          }
          if (inbox.length > 0) return Effect.succeed(inbox.shift()!)
          return enqueue(waiters)
        }),
        localAddress: Effect.sync(() => local),
        close: Effect.sync(() => {
          if (closed) return
          closed = true
          const was = peer
          unbind()
          peer = undefined
          inbox = []
          const error = ConnectError.make("EBADF", { syscall: "recv" })
          for (const resume of waiters.splice(0)) resume(Effect.fail(error))
          record(clock, "close", id, "datagram", was, undefined, "ok")
        })
      }
      return Effect.succeed(endpoint)
    })

  const transport: Transport.Transport = { platform, connectStream, openDatagram }

  // ---------------------------------------------------------------------------------------------
  // the service, counting what reaches the application
  // ---------------------------------------------------------------------------------------------

  const coverageOf = new Coverage(coverage)
  const inner = Network.make(transport)
  // Observing every handle costs a wrapper per operation: only when recording.
  const network = !recording
    ? inner
    : Network.Network.of({
        platform,
        open: <T extends Transport.SocketType>(type: T, openOptions?: Network.OpenOptions) =>
          Effect.matchEffect(inner.open(type, openOptions), {
            onFailure: (error) => coverageOf.fail(error),
            onSuccess: (handle) =>
              Effect.succeed(
                (handle.type === "datagram"
                  ? new ObservedDatagram(handle as SocketHandle.DatagramHandle, coverageOf)
                  : new ObservedStream(
                      handle as SocketHandle.StreamHandle,
                      coverageOf
                    )) as unknown as SocketHandle.HandleOf<T>
              )
          })
      })

  // ---------------------------------------------------------------------------------------------
  // controls
  // ---------------------------------------------------------------------------------------------

  const bindPort = (
    table: PortTable,
    address: Concrete,
    clockId: { readonly clock: Clock.Clock; readonly id: number; readonly type: SocketType }
  ): Result.Result<{ readonly address: Concrete; readonly release: () => void }, ConnectError.EADDRINUSE> => {
    if (address._tag !== "Inet") {
      if (table !== tcp || !listeners.has(keyOf(address))) return Result.succeed({ address, release: () => {} })
    } else {
      const space = table.spaceOf(address.ip)
      const binding = table.claim(space, address.port)
      if (binding !== undefined) {
        return Result.succeed({ address: space.addressOf(binding.port), release: () => table.release(binding) })
      }
    }
    record(
      clockId.clock,
      address._tag === "Inet" && table === udp ? "bind" : "listen",
      clockId.id,
      clockId.type,
      address,
      undefined,
      "EADDRINUSE"
    )
    return Result.fail(ConnectError.make("EADDRINUSE", { syscall: "bind", localAddress: address }))
  }

  const listen: Controls["listen"] = (input, listenOptions = {}) =>
    Effect.withFiber((fiber): ReturnType<Controls["listen"]> => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const backlog = listenOptions.backlog ?? 511
      if (!Number.isInteger(backlog) || backlog < 0) {
        return Effect.fail(InvalidInput.make("backlog", backlog, "expected a non-negative integer"))
      }
      const type = listenOptions.type ?? "stream"
      if (type === "seqpacket" && parsed.success._tag === "Inet") {
        return Effect.fail(InvalidInput.make("type", type, "seqpacket listeners are unix sockets"))
      }
      const clock = fiber.getRef(Clock.Clock)
      const id = ++nextSocket
      const bound = bindPort(tcp, parsed.success, { clock, id, type })
      if (Result.isFailure(bound)) return Effect.fail(bound.failure)
      const address = bound.success.address
      const key = keyOf(address)
      const state: ListenerState = {
        id,
        address,
        type,
        backlog,
        accepting: listenOptions.accept !== false,
        deny: listenOptions.permission === "deny",
        echo: listenOptions.echo === true,
        pending: [],
        acceptWaiters: [],
        connections: 0,
        closed: false
      }
      listeners.set(key, state)
      record(clock, "listen", id, type, address, undefined, "ok")
      const badf = () => ConnectError.make("EBADF", { syscall: "socket", localAddress: address })
      const close = Effect.sync(() => {
        state.closed = true
        listeners.delete(key)
        bound.success.release()
        // Unaccepted connections are reset when their listener goes, as the kernel does.
        for (const waiting of state.pending.splice(0)) waiting.side.reset()
        for (const waiter of state.acceptWaiters.splice(0)) waiter(Effect.fail(badf()))
        record(clock, "close", id, type, address, undefined, "ok")
      })
      const accept: TestNetwork.Listener["accept"] = Effect.withFiber((acceptFiber) => {
        if (state.closed) return Effect.fail(badf())
        const acceptClock = acceptFiber.getRef(Clock.Clock)
        const next = state.pending.shift()
        if (next !== undefined) {
          record(acceptClock, "accept", next.id, type, next.connection.peer, address, "ok")
          return Effect.succeed(next.connection)
        }
        return enqueue(state.acceptWaiters)
      })
      const listener: TestNetwork.Listener = {
        address,
        accept,
        connections: Effect.sync(() => state.connections),
        pending: Effect.sync(() => state.pending.length)
      }
      return Effect.as(
        Effect.addFinalizer(() => close),
        listener
      )
    })

  const bindDatagram: Controls["bindDatagram"] = (input, bindOptions = {}) =>
    Effect.withFiber((fiber): ReturnType<Controls["bindDatagram"]> => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      if (parsed.success._tag !== "Inet") {
        return Effect.fail(
          InvalidInput.make("address", SockAddr.format(parsed.success), "unix datagram sockets are not supported")
        )
      }
      const clock = fiber.getRef(Clock.Clock)
      const id = ++nextSocket
      const bound = bindPort(udp, parsed.success, { clock, id, type: "datagram" })
      if (Result.isFailure(bound)) return Effect.fail(bound.failure)
      const address = bound.success.address as SockAddr.Inet
      const key = keyOf(address)
      const inbox: Array<TestNetwork.Datagram> = []
      const waiters: Array<Resume<TestNetwork.Datagram, ConnectError.EBADF>> = []
      let received = 0
      let closed = false
      const sink: DatagramSink = {
        deliver: (data, from) => {
          received++
          if (bindOptions.echo === true) {
            if (partitions.size === 0 || partitionBetween(address, from) === undefined)
              sinkFor(from)?.deliver(data.slice(), address)
            return
          }
          const datagram = { data, from }
          const waiter = waiters.shift()
          if (waiter !== undefined) waiter(Effect.succeed(datagram))
          else inbox.push(datagram)
        }
      }
      datagramSinks.set(key, sink)
      record(clock, "bind", id, "datagram", address, undefined, "ok")
      const badf = () => ConnectError.make("EBADF", { syscall: "recv", localAddress: address })
      const port: TestNetwork.DatagramPort = {
        address,
        receive: Effect.suspend(() => {
          if (closed) return Effect.fail(badf())
          const next = inbox.shift()
          if (next !== undefined) return Effect.succeed(next)
          return enqueue(waiters)
        }),
        send: (data, to) =>
          Effect.suspend(() => {
            const target = SockAddr.fromInput(to)
            if (Result.isFailure(target)) return Effect.fail(target.failure)
            if (target.success._tag !== "Inet") {
              return Effect.fail(InvalidInput.make("to", SockAddr.format(target.success), "expected an inet address"))
            }
            const destination = target.success
            if (closed || (partitions.size > 0 && partitionBetween(address, destination) !== undefined))
              return Effect.void
            sinkFor(destination)?.deliver(data.slice(), address)
            return Effect.void
          }),
        received: Effect.sync(() => received)
      }
      return Effect.as(
        Effect.addFinalizer(() =>
          Effect.sync(() => {
            closed = true
            if (datagramSinks.get(key) === sink) datagramSinks.delete(key)
            bound.success.release()
            for (const waiter of waiters.splice(0)) waiter(Effect.fail(badf()))
            record(clock, "close", id, "datagram", address, undefined, "ok")
          })
        ),
        port
      )
    })

  const script: Controls["script"] = (input, outcomes) =>
    Effect.suspend(() => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const key = keyOf(parsed.success)
      const decoded: Array<Scripted> = []
      for (const outcome of outcomes) {
        const result = decodeOutcome(outcome)
        if (Result.isFailure(result)) return Effect.fail(InvalidInput.make("outcomes", outcome, result.failure))
        decoded.push(result.success)
      }
      if (decoded.length === 0) scripts.delete(key)
      else scripts.set(key, { outcomes: decoded, index: 0 })
      return Effect.void
    })

  const latency: Controls["latency"] = (input, latencyOptions) =>
    Effect.suspend(() => {
      let key = "*"
      if (input !== "*") {
        const parsed = parseConcrete("address", input)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        key = keyOf(parsed.success)
      }
      const base = millisOf("base", latencyOptions.base, 0)
      if (Result.isFailure(base)) return Effect.fail(base.failure)
      const jitter = millisOf("jitter", latencyOptions.jitter, 0)
      if (Result.isFailure(jitter)) return Effect.fail(jitter.failure)
      if (base.success === 0 && jitter.success === 0) latencies.delete(key)
      else latencies.set(key, { base: base.success, jitter: Math.floor(jitter.success) })
      return Effect.void
    })

  const partition: Controls["partition"] = (a, b, partitionOptions = {}) =>
    Effect.suspend(() => {
      const left = matcherOf(a)
      if (Result.isFailure(left)) return Effect.fail(left.failure)
      const right = matcherOf(b)
      if (Result.isFailure(right)) return Effect.fail(right.failure)
      const errno = partitionOptions.errno
      if (errno !== undefined && errno !== "ENETUNREACH" && errno !== "EHOSTUNREACH") {
        return Effect.fail(InvalidInput.make("errno", errno, "expected ENETUNREACH or EHOSTUNREACH"))
      }
      const state: PartitionState = { a: left.success, b: right.success, errno, healWaiters: new Set() }
      partitions.add(state)
      return Effect.addFinalizer(() =>
        Effect.sync(() => {
          partitions.delete(state)
          for (const heal of [...state.healWaiters]) heal()
          state.healWaiters.clear()
        })
      )
    })

  const hold: Controls["hold"] = (input) =>
    Effect.suspend(() => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const key = keyOf(parsed.success)
      if (holds.has(key)) return Effect.fail(InvalidInput.make("address", key, "the address is already held"))
      const state: HoldState = { parked: [], watchers: new Set() }
      holds.set(key, state)
      const release = Effect.sync(() => {
        if (holds.get(key) === state) holds.delete(key)
        for (const go of state.parked.splice(0)) go(Effect.void)
      })
      const handle: TestNetwork.Hold = {
        address: parsed.success,
        parked: Effect.sync(() => state.parked.length),
        awaitParked: (count) =>
          Effect.callback<void>((resume) => {
            const check = () => {
              if (state.parked.length < count) return
              state.watchers.delete(check)
              resume(Effect.void)
            }
            state.watchers.add(check)
            check()
            return Effect.sync(() => state.watchers.delete(check))
          }),
        releaseOne: Effect.sync(() => {
          const go = state.parked.shift()
          go?.(Effect.void)
          return go !== undefined
        }),
        release
      }
      return Effect.as(
        Effect.addFinalizer(() => release),
        handle
      )
    })

  const advanceToNextEvent: Effect.Effect<boolean> = Effect.withFiber((fiber) => {
    const clock = testClockOf(fiber.getRef(Clock.Clock))
    if (clock === undefined) {
      return Effect.die(new Error("TestNetwork.advanceToNextEvent needs the TestClock (it.effect provides it)"))
    }
    return Effect.gen(function* () {
      // Let forked fibers run up to their next suspension, so their timers are known.
      for (let i = 0; i < 4; i++) yield* Effect.yieldNow
      yield* clock.adjust(0)
      let next: number | undefined
      for (const timer of timers) if (next === undefined || timer.at < next) next = timer.at
      if (next === undefined) return false
      yield* clock.adjust(Math.max(0, next - clock.currentTimeMillisUnsafe()))
      return true
    })
  })

  const advanceUntilIdle: Effect.Effect<void> = Effect.gen(function* () {
    // Bounded: a network whose timers keep re-arming forever stops after this many steps.
    for (let step = 0; step < 100_000; step++) {
      if (!(yield* advanceToNextEvent)) return
    }
  })

  const controls: Controls = {
    listen,
    bindDatagram,
    script,
    latency,
    partition,
    hold,
    journal: Effect.sync(() => journal.slice()),
    faultCoverage: Effect.sync(() => new Map(coverage)),
    advanceToNextEvent,
    advanceUntilIdle
  }

  return { network, controls }
}

const outcomeNames: ReadonlySet<string> = new Set(["accept", "refuse", "reset", "blackhole"])

/** Checks a scripted outcome and decodes its delay; the failure is the reason it is invalid. */
const decodeOutcome = (outcome: unknown): Result.Result<Scripted, string> => {
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
