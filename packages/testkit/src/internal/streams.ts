/**
 * Stream connects on the fake kernel: one `Attempt` per connect(2), from socket(2) to its end.
 * An attempt only suspends on the clock (latency, a lost SYN, a scripted delay), on a hold or
 * on a partition, and every suspension is interruptible and cleans up after itself (port
 * released, journal line written).
 */
import type { Transport } from "@dial/core"
import { ConnectError, DialError, type Errno, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as TestNetwork from "../TestNetwork.ts"
import type { Recorder } from "./journal.ts"
import {
  type Binding,
  type Concrete,
  enqueue,
  type HoldState,
  type Kernel,
  keyOf,
  type ListenerState,
  LiveConnection,
  platform,
  type Scripted,
  type ServerConnection
} from "./kernel.ts"
import { type Settings, settingsOf, Watchdog } from "./liveness.ts"
import { makePair, type Side } from "./pipe.ts"
import { attach } from "./toxics.ts"

type Connected = Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError>

/** The client's end as core sees it; the socket and the close effect are made on first use. */
class ClientConnection implements Transport.StreamConnection {
  readonly local: SockAddr.SockAddr
  readonly peer: SockAddr.SockAddr
  readonly side: Side
  /** SO_LINGER 0: closing resets the connection, as the kernel's would. */
  readonly resetOnClose: boolean

  constructor(local: SockAddr.SockAddr, peer: SockAddr.SockAddr, side: Side, resetOnClose: boolean) {
    this.local = local
    this.peer = peer
    this.side = side
    this.resetOnClose = resetOnClose
  }

  get socket() {
    return this.side.socket
  }

  get close() {
    // `linger: 0`: the peer reads ECONNRESET instead of an end, as over the kernel.
    return this.resetOnClose ? Effect.sync(() => this.side.reset()) : this.side.close
  }

  get closed() {
    return this.side.closed
  }
}

/** One connect attempt of a stream socket. */
interface AttemptFields {
  readonly kernel: Kernel
  readonly recorder: Recorder
  readonly type: "stream" | "seqpacket"
  readonly address: Concrete
  readonly key: string
  readonly local: SockAddr.SockAddr
  /** The local address the caller asked for: what the errors report, as Node's do. */
  readonly requested: SockAddr.Inet | undefined
  readonly binding: Binding | undefined
  /** The connecting fiber's services: the clock the connection's toxics run on. */
  readonly context: Context.Context<never>
  readonly resetOnClose: boolean
  /** The user timeout and keepalive the options ask for (TCP only); undefined: none. */
  readonly watch: Settings | undefined
}

class Attempt implements AttemptFields {
  readonly kernel: Kernel
  readonly recorder: Recorder
  readonly type: "stream" | "seqpacket"
  readonly address: Concrete
  readonly key: string
  readonly local: SockAddr.SockAddr
  readonly requested: SockAddr.Inet | undefined
  readonly binding: Binding | undefined
  readonly context: Context.Context<never>
  readonly resetOnClose: boolean
  readonly watch: Settings | undefined
  settled = false

  constructor(fields: AttemptFields) {
    this.kernel = fields.kernel
    this.recorder = fields.recorder
    this.type = fields.type
    this.address = fields.address
    this.key = fields.key
    this.local = fields.local
    this.requested = fields.requested
    this.binding = fields.binding
    this.context = fields.context
    this.resetOnClose = fields.resetOnClose
    this.watch = fields.watch
  }

  get clock(): Clock.Clock {
    return this.recorder.clock
  }

  settle(outcome: string, op: TestNetwork.Operation = "connect"): void {
    this.settled = true
    if (this.binding !== undefined) this.kernel.tcp.release(this.binding)
    this.recorder.record({ op, outcome, address: this.address, localAddress: this.local })
    this.recorder.record({ op: "close", outcome: "ok", address: this.address, localAddress: this.local })
  }

  fail(name: Errno.Name): Effect.Effect<never, ConnectError.ConnectError> {
    this.settle(name)
    return Effect.fail(
      ConnectError.make(name, { syscall: "connect", address: this.address, localAddress: this.requested })
    )
  }

  /** A suspension: interruption (a deadline, a race, a closing scope) ends the attempt cleanly. */
  suspended<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.onInterrupt(effect, () =>
      Effect.sync(() => {
        if (!this.settled) this.settle("interrupted")
      })
    )
  }

  /** Waits `millis` on the network's clock (interruptibly), then goes on with `next`. */
  after<A, E>(millis: number, next: () => Effect.Effect<A, E>): Effect.Effect<A, E> {
    return millis === 0
      ? next()
      : this.suspended(Effect.andThen(this.kernel.wait(this.clock, millis), Effect.suspend(next)))
  }

  afterLatency(next: () => Connected): Connected {
    return this.after(this.kernel.latencyFor(this.address, this.key), next)
  }

  lostSyn(): Effect.Effect<never, ConnectError.ConnectError> {
    return this.after(this.kernel.kernelTimeout, () => this.fail("ETIMEDOUT"))
  }
}

const establish = (attempt: Attempt, listener: ListenerState | undefined): Connected => {
  const { kernel, recorder, address, local, binding } = attempt
  const echo = listener === undefined || listener.echo
  const { client, server } = makePair(echo)
  attempt.settled = true
  client.name({ local, peer: address })
  server?.name({ local: address, peer: local })
  recorder.record({ op: "connect", outcome: "ok", address, localAddress: local })
  const live = new LiveConnection({
    kernel,
    client,
    server,
    serverAddress: address,
    clientAddress: local,
    recorder,
    context: attempt.context
  })
  const watchdog = attempt.watch === undefined ? undefined : new Watchdog(live, attempt.watch)
  client.onDestroy = () => {
    watchdog?.stop()
    if (binding !== undefined) kernel.tcp.release(binding)
    recorder.record({ op: "close", outcome: "ok", address, localAddress: local })
    live.endClosed()
  }
  watchdog?.start()
  if (kernel.toxics.length > 0) for (const state of kernel.toxics) attach(kernel, live, state)
  if (listener !== undefined) listener.connections++
  if (server === undefined || listener === undefined) {
    const serverId = kernel.nextSocket()
    if (kernel.journal.recording) {
      kernel.journal
        .recorder(attempt.clock, serverId, attempt.type)
        .record({ op: "accept", outcome: "ok", address: local, localAddress: address })
    }
  } else {
    const serverRecorder = kernel.journal.recorder(attempt.clock, kernel.nextSocket(), attempt.type)
    server.onDestroy = () => {
      serverRecorder.record({ op: "close", outcome: "ok", address: local, localAddress: address })
      live.endClosed()
    }
    const accepted: ServerConnection = {
      side: server,
      id: serverRecorder.socket,
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
      serverRecorder.record({ op: "accept", outcome: "ok", address: local, localAddress: address })
      waiter(Effect.succeed(accepted.connection))
    } else {
      listener.pending.push(accepted)
    }
  }
  return Effect.succeed(new ClientConnection(local, address, client, attempt.resetOnClose))
}

const runOutcome = (attempt: Attempt, outcome: Scripted): Connected => {
  switch (outcome) {
    case "accept":
      return attempt.afterLatency(() => establish(attempt, attempt.kernel.listenerFor(attempt.address, attempt.key)))
    case "refuse":
      return attempt.afterLatency(() => attempt.fail("ECONNREFUSED"))
    case "reset":
      return attempt.afterLatency(() => attempt.fail("ECONNRESET"))
    case "blackhole":
      return attempt.lostSyn()
  }
  if ("errno" in outcome) return attempt.fail(outcome.errno)
  return attempt.after(outcome.delay, () => runOutcome(attempt, outcome.outcome))
}

/** No script: what the kernel would do with whatever listens (or not) at the address. */
const natural = (attempt: Attempt): Connected => {
  const { address, kernel } = attempt
  const listener = kernel.listenerFor(address, attempt.key)
  if (listener === undefined) {
    // A unix datagram socket there (EPROTOTYPE), or the stale file of one (ECONNREFUSED).
    const datagram = address._tag === "Inet" ? undefined : kernel.unixDatagrams.get(attempt.key)
    if (datagram !== undefined) {
      return attempt.fail(datagram === "stale" ? "ECONNREFUSED" : datagram.deny ? "EACCES" : "EPROTOTYPE")
    }
    if (address._tag === "UnixPath") return attempt.fail("ENOENT")
    if (address._tag === "UnixAbstract") return attempt.fail("ECONNREFUSED")
    return attempt.afterLatency(() => attempt.fail("ECONNREFUSED"))
  }
  if (listener.deny) return attempt.fail("EACCES")
  if (listener.type !== attempt.type) return attempt.fail("EPROTOTYPE")
  if (!listener.accepting && listener.pending.length > listener.backlog) {
    return address._tag === "Inet" ? attempt.lostSyn() : attempt.fail("EAGAIN")
  }
  const millis = kernel.latencyFor(address, attempt.key)
  if (millis === 0) return establish(attempt, listener)
  return attempt.after(millis, () => {
    // The listener may have closed while the handshake was on its way.
    const now = kernel.listenerFor(address, attempt.key)
    return now === undefined
      ? attempt.fail(address._tag === "UnixPath" ? "ENOENT" : "ECONNREFUSED")
      : establish(attempt, now)
  })
}

const route = (attempt: Attempt): Connected => {
  const { kernel } = attempt
  const partition = kernel.partitionBetween(attempt.local, attempt.address)
  if (partition !== undefined) {
    if (partition.errno !== undefined) return attempt.fail(partition.errno)
    // The SYN is lost until the partition heals (then it gets through) or the kernel gives up.
    const healed = Effect.callback<"healed">((resume) => {
      const onHeal = () => resume(Effect.succeed("healed" as const))
      partition.healWaiters.add(onHeal)
      return Effect.sync(() => partition.healWaiters.delete(onHeal))
    })
    return attempt.suspended(
      Effect.flatMap(
        Effect.raceFirst(Effect.as(kernel.wait(attempt.clock, kernel.kernelTimeout), "timeout" as const), healed),
        (how) => (how === "timeout" ? attempt.fail("ETIMEDOUT") : route(attempt))
      )
    )
  }
  const crashed = kernel.crashedFor(attempt.address)
  if (crashed !== undefined) return crashed === "refuse" ? runOutcome(attempt, "refuse") : attempt.lostSyn()
  if (kernel.connectFaults.length > 0) {
    const fault = kernel.connectFaultFor(attempt.address)
    if (fault !== undefined) {
      attempt.recorder.record({ op: "fault", outcome: fault, address: attempt.address })
      return runOutcome(attempt, fault === "drop" ? "blackhole" : fault)
    }
  }
  const outcome = kernel.nextScripted(attempt.key)
  return outcome === undefined ? natural(attempt) : runOutcome(attempt, outcome)
}

const park = (attempt: Attempt, hold: HoldState): Connected =>
  attempt.suspended(
    Effect.andThen(
      enqueue(hold.parked, () => {
        for (const watcher of hold.watchers) watcher()
      }),
      Effect.suspend(() => route(attempt))
    )
  )

/** No port to bind: a taken local port fails bind(2), no free ephemeral port fails connect(2) itself. */
export const noPort = (
  recorder: Recorder,
  address: SockAddr.Inet,
  requested: SockAddr.Inet | undefined
): ConnectError.ConnectError => {
  const syscall = requested !== undefined ? "bind" : "connect"
  const name = requested !== undefined ? "EADDRINUSE" : "EADDRNOTAVAIL"
  recorder.record({ op: syscall, outcome: name, address, localAddress: requested })
  return ConnectError.make(name, { syscall, address, localAddress: requested })
}

/** The transport's `connectStream` over `kernel`. */
export const connectStream =
  (kernel: Kernel): Transport.Transport["connectStream"] =>
  ({ type, address, options }) =>
    Effect.withFiber(
      (fiber): Effect.Effect<Transport.StreamConnection, ConnectError.ConnectError | DialError.Unsupported> => {
        if (type === "seqpacket" && address._tag === "Inet") {
          return Effect.fail(DialError.unsupported("seqpacket sockets over inet", platform))
        }
        const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), kernel.nextSocket(), type)
        const key = keyOf(address)
        const requested = options.local
        recorder.record({ op: "open", outcome: "ok", address })
        let local: SockAddr.SockAddr = SockAddr.unspec
        let binding: Binding | undefined
        if (address._tag === "Inet") {
          const space = kernel.spaceFor(kernel.tcp, requested, address)
          binding = kernel.tcp.claim(space, requested?.port)
          if (binding === undefined) {
            const error = noPort(recorder, address, requested)
            recorder.record({ op: "close", outcome: "ok", address, localAddress: requested })
            return Effect.fail(error)
          }
          local = space.addressOf(binding.port)
          if (requested !== undefined) recorder.record({ op: "bind", outcome: "ok", localAddress: local })
        }
        const attempt = new Attempt({
          kernel,
          recorder,
          type,
          address,
          key,
          local,
          requested,
          binding,
          context: fiber.context,
          resetOnClose: options.lingerSeconds === 0,
          watch: address._tag === "Inet" ? settingsOf(options) : undefined
        })
        const hold = kernel.holds.size > 0 ? kernel.holds.get(key) : undefined
        return hold === undefined ? route(attempt) : park(attempt, hold)
      }
    )
