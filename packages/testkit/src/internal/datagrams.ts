/**
 * Datagrams on the fake kernel, UDP and unix: the transport's endpoints (what core's handle
 * drives) and the test's own bound ports. All receive through core's `DatagramInbox`, the buffer
 * `@dial/node` uses too; this module only decides what gets delivered where, and which errno a
 * unix sender meets where Linux's `af_unix.c` gives one:
 *
 * - connect: ENOENT (no such path), ECONNREFUSED (an abstract name nobody holds, or a stale
 *   socket file: its socket closed), EPROTOTYPE (a stream or seqpacket listener there), EACCES
 *   (the socket file is not writable: `permission: "deny"`);
 * - send: EAGAIN (the receiver's queue is full), EPERM (the receiver is connected to another
 *   socket), ECONNREFUSED once the peer closed (the association is then gone: ENOTCONN).
 *
 * Unix sockets are local: partitions, toxics and fault rates, which act on links between IPs,
 * do not touch them.
 */
import type { Transport } from "@dial/core"
import { ConnectError, DatagramInbox, InvalidInput, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as TestNetwork from "../TestNetwork.ts"
import type { Controls } from "./controls.ts"
import type { Recorder } from "./journal.ts"
import type { Binding, DatagramSink, Kernel, Unix, UnixDatagramSink } from "./kernel.ts"
import { keyOf, parseConcrete } from "./kernel.ts"
import { noPort } from "./streams.ts"

/** The transport's `openDatagram` over `kernel`. */
export const openDatagram =
  (kernel: Kernel): Transport.Transport["openDatagram"] =>
  ({ address, options }) =>
    Effect.withFiber((fiber) => {
      const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), kernel.nextSocket(), "datagram")
      if (address._tag !== "Inet") return openUnix(kernel, recorder)
      const requested = options.local
      recorder.record({ op: "open", outcome: "ok", address })
      return Effect.succeed(new Endpoint(kernel, recorder, requested))
    })

/** One UDP socket as core's handle sees it. Its mutable state is these few fields. */
class Endpoint implements Transport.DatagramEndpoint {
  local: SockAddr.Inet | undefined = undefined
  binding: Binding | undefined = undefined
  peer: SockAddr.Inet | undefined = undefined
  closed = false
  readonly inbox = DatagramInbox.make()
  readonly sink: DatagramSink

  readonly kernel: Kernel
  readonly recorder: Recorder
  readonly requested: SockAddr.Inet | undefined

  constructor(kernel: Kernel, recorder: Recorder, requested: SockAddr.Inet | undefined) {
    this.kernel = kernel
    this.recorder = recorder
    this.requested = requested
    this.sink = {
      deliver: (data, from) => {
        // A connected UDP socket only takes datagrams from its peer.
        if (this.closed || (this.peer !== undefined && keyOf(this.peer) !== keyOf(from))) return
        this.inbox.push(data)
      }
    }
  }

  private unbind(): void {
    if (this.binding === undefined || this.local === undefined) return
    this.kernel.udp.release(this.binding)
    const key = keyOf(this.local)
    if (this.kernel.datagramSinks.get(key) === this.sink) this.kernel.datagramSinks.delete(key)
    this.binding = undefined
    this.local = undefined
  }

  connect(peer: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract) {
    return Effect.suspend(() => {
      const { kernel, recorder, requested } = this
      // A UDP endpoint's family is inet; the fake has no unix datagram sockets.
      if (peer._tag !== "Inet") {
        return Effect.fail(ConnectError.make("EAFNOSUPPORT", { address: peer, localAddress: requested }))
      }
      const target = peer
      const scripted = kernel.nextScripted(keyOf(target))
      if (scripted !== undefined && typeof scripted === "object" && "errno" in scripted) {
        recorder.record({ op: "connect", outcome: scripted.errno, address: target, localAddress: this.local })
        return Effect.fail(ConnectError.make(scripted.errno, { address: target, localAddress: requested }))
      }
      if (this.local === undefined) {
        const space = kernel.spaceFor(kernel.udp, requested, target)
        const claimed = kernel.udp.claim(space, requested?.port)
        if (claimed === undefined) return Effect.fail(noPort(recorder, target, requested))
        this.binding = claimed
        this.local = space.addressOf(claimed.port)
        kernel.datagramSinks.set(keyOf(this.local), this.sink)
      }
      const local = this.local
      const partition = kernel.partitionBetween(local, target)
      if (partition?.errno !== undefined) {
        recorder.record({ op: "connect", outcome: partition.errno, address: target, localAddress: local })
        return Effect.fail(ConnectError.make(partition.errno, { address: target, localAddress: requested }))
      }
      this.peer = target
      this.inbox.forget()
      recorder.record({ op: "connect", outcome: "ok", address: target, localAddress: local })
      return Effect.succeed({ local, peer: target })
    })
  }

  get disconnect() {
    return Effect.sync(() => {
      const was = this.peer
      this.peer = undefined
      this.inbox.forget()
      // Like Linux's udp_disconnect: an autobound port goes back to the pool.
      if (this.requested === undefined || this.requested.port === 0) this.unbind()
      this.recorder.record({ op: "disconnect", outcome: "ok", address: was })
    })
  }

  send(data: Uint8Array) {
    return Effect.sync(() => {
      // Core sends only while connected (closing drops its endpoint first): peer and local are set.
      const to = this.peer!
      const from = this.local!
      if (this.kernel.partitionBetween(from, to) !== undefined) return
      if (this.kernel.toxics.length > 0 && this.kernel.dropsDatagram(to)) return
      const target = this.kernel.sinkFor(to)
      if (target === undefined) {
        // ICMP port unreachable: the next receive reports it (sk_err).
        this.inbox.fail(ConnectError.make("ECONNREFUSED", { syscall: "recv", address: to, localAddress: from }))
        return
      }
      target.deliver(data.slice(), from)
    })
  }

  get receive() {
    return this.inbox.receive
  }

  get localAddress() {
    return Effect.sync(() => this.local)
  }

  get close() {
    return Effect.sync(() => {
      if (this.closed) return
      this.closed = true
      const was = this.peer
      this.unbind()
      this.peer = undefined
      this.inbox.close(ConnectError.make("EBADF", { syscall: "recv" }))
      this.recorder.record({ op: "close", outcome: "ok", address: was })
    })
  }
}

// ---------------------------------------------------------------------------------------------
// unix datagram sockets
// ---------------------------------------------------------------------------------------------

type UnixErrno = "ENOENT" | "ECONNREFUSED" | "EPROTOTYPE" | "EACCES"

/** The socket a unix datagram sent to `target` reaches, or the errno of `connect(2)` there. */
const lookUp = (kernel: Kernel, target: Unix): UnixDatagramSink | UnixErrno => {
  const key = keyOf(target)
  // Linux checks write permission on the socket file first, then the socket's type.
  const listener = kernel.listeners.get(key)
  if (listener !== undefined) return listener.deny ? "EACCES" : "EPROTOTYPE"
  const name = kernel.unixDatagrams.get(key)
  if (name === undefined) return target._tag === "UnixPath" ? "ENOENT" : "ECONNREFUSED"
  if (name === "stale") return "ECONNREFUSED"
  return name.deny ? "EACCES" : name
}

const openUnix = (
  kernel: Kernel,
  recorder: Recorder
): Effect.Effect<Transport.DatagramEndpoint, ConnectError.ConnectError> => {
  // Like @dial/node's socket: autobound at open, so the peer can answer it.
  const local = kernel.autobind()
  if (local === undefined) {
    recorder.record({ op: "open", outcome: "ENOSPC" })
    return Effect.fail(ConnectError.unknown("ENOSPC", { errno: 28, syscall: "bind" }))
  }
  const endpoint = new UnixEndpoint(kernel, recorder, local)
  kernel.unixDatagrams.set(keyOf(local), endpoint)
  recorder.record({ op: "open", outcome: "ok", localAddress: local })
  return Effect.succeed(endpoint)
}

/**
 * One unix datagram socket as core's handle sees it, and as its senders meet it (the sink).
 * Its mutable state is these few fields.
 */
class UnixEndpoint implements Transport.DatagramEndpoint, UnixDatagramSink {
  peer: Unix | undefined = undefined
  /** The socket connected to: a peer that closes stays closed, even if its name is bound again. */
  peerSink: UnixDatagramSink | undefined = undefined
  closed = false
  readonly deny = false
  readonly inbox = DatagramInbox.make({ maxQueued: unixQueue })

  readonly kernel: Kernel
  readonly recorder: Recorder
  readonly local: SockAddr.UnixAbstract

  constructor(kernel: Kernel, recorder: Recorder, local: SockAddr.UnixAbstract) {
    this.kernel = kernel
    this.recorder = recorder
    this.local = local
  }

  deliver(data: Uint8Array, from: Unix): "ok" | "EAGAIN" | "EPERM" {
    // A connected socket takes datagrams from its peer only (unix_may_send).
    if (this.peer !== undefined && keyOf(this.peer) !== keyOf(from)) return "EPERM"
    if (this.inbox.queued >= this.inbox.maxQueued) return "EAGAIN"
    this.inbox.push(data)
    return "ok"
  }

  private failure<K extends UnixErrno | "EAGAIN" | "EPERM" | "ECONNREFUSED" | "ENOTCONN">(
    errno: K,
    syscall: "connect" | "send",
    address: Unix | undefined
  ) {
    // The journal has connects, not sends (UDP's are not written either).
    if (syscall === "connect") this.recorder.record({ op: syscall, outcome: errno, address, localAddress: this.local })
    return Effect.fail(ConnectError.make(errno, { syscall, address, localAddress: this.local }))
  }

  connect(target: SockAddr.Inet | Unix) {
    return Effect.suspend(() => {
      // The endpoint's family is unix, as the kernel's socket is.
      if (target._tag === "Inet") {
        return Effect.fail(ConnectError.make("EAFNOSUPPORT", { address: target, localAddress: this.local }))
      }
      const scripted = this.kernel.nextScripted(keyOf(target))
      if (scripted !== undefined && typeof scripted === "object" && "errno" in scripted) {
        this.recorder.record({ op: "connect", outcome: scripted.errno, address: target, localAddress: this.local })
        return Effect.fail(ConnectError.make(scripted.errno, { address: target, localAddress: this.local }))
      }
      const found = lookUp(this.kernel, target)
      if (typeof found === "string") return this.failure(found, "connect", target)
      this.peer = target
      this.peerSink = found
      this.recorder.record({ op: "connect", outcome: "ok", address: target, localAddress: this.local })
      return Effect.succeed({ local: this.local, peer: target })
    })
  }

  get disconnect() {
    return Effect.sync(() => {
      const was = this.peer
      this.peer = undefined
      this.peerSink = undefined
      // unix_dgram_disconnected: the receive queue is purged. The name stays.
      this.inbox.forget()
      this.recorder.record({ op: "disconnect", outcome: "ok", address: was })
    })
  }

  send(data: Uint8Array) {
    return Effect.suspend((): Effect.Effect<void, ConnectError.ConnectError> => {
      const to = this.peer
      const sink = this.peerSink
      if (to === undefined || sink === undefined) return this.failure("ENOTCONN", "send", undefined)
      if (sink.closed) {
        // The kernel answers once and drops the association (unix_dgram_sendmsg).
        this.peer = undefined
        this.peerSink = undefined
        return this.failure("ECONNREFUSED", "send", to)
      }
      const outcome = sink.deliver(data.slice(), this.local)
      return outcome === "ok" ? Effect.void : this.failure(outcome, "send", to)
    })
  }

  get receive() {
    return this.inbox.receive
  }

  get localAddress() {
    return Effect.succeed(this.local)
  }

  get close() {
    return Effect.sync(() => {
      if (this.closed) return
      this.closed = true
      const key = keyOf(this.local)
      // An abstract name is gone with its socket.
      if (this.kernel.unixDatagrams.get(key) === this) this.kernel.unixDatagrams.delete(key)
      const was = this.peer
      this.peer = undefined
      this.peerSink = undefined
      this.inbox.close(ConnectError.make("EBADF", { syscall: "recv", localAddress: this.local }))
      this.recorder.record({ op: "close", outcome: "ok", address: was, localAddress: this.local })
    })
  }
}

/** Linux's default unix datagram receive queue: `net.unix.max_dgram_qlen` (10), plus one. */
const unixQueue = 11

// ---------------------------------------------------------------------------------------------
// the test's own ports
// ---------------------------------------------------------------------------------------------

type AnyPort = TestNetwork.DatagramPort<TestNetwork.DatagramAddress>
type BindError = InvalidInput.InvalidInput | ConnectError.EADDRINUSE

/**
 * The `bindDatagram` control: a test's own UDP port or unix datagram socket. The bound kind is
 * the input's, as `TestNetwork.BoundAddress` spells it for the caller.
 */
export const bindDatagram = (kernel: Kernel): Controls["bindDatagram"] =>
  ((input: SockAddr.Input, bindOptions: TestNetwork.BindDatagramOptions = {}) =>
    Effect.withFiber((fiber): Effect.Effect<AnyPort, BindError, Scope.Scope> => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const queue = bindOptions.queue
      if (queue !== undefined && !(queue === Infinity || (Number.isInteger(queue) && queue >= 1))) {
        return Effect.fail(InvalidInput.make("queue", queue, "expected a positive integer or Infinity"))
      }
      const address = parsed.success
      if (address._tag === "Inet" && bindOptions.permission !== undefined) {
        return Effect.fail(InvalidInput.make("permission", bindOptions.permission, "a UDP port has no permissions"))
      }
      const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), kernel.nextSocket(), "datagram")
      return address._tag === "Inet"
        ? bindUdp(kernel, recorder, address, bindOptions)
        : bindUnix(kernel, recorder, address, bindOptions)
    })) as Controls["bindDatagram"]

const bindUnix = (
  kernel: Kernel,
  recorder: Recorder,
  address: Unix,
  bindOptions: TestNetwork.BindDatagramOptions
): Effect.Effect<AnyPort, BindError, Scope.Scope> => {
  const bound = kernel.bindPort(kernel.udp, address, recorder)
  if (Result.isFailure(bound)) return Effect.fail(bound.failure)
  const key = keyOf(address)
  const inbox = DatagramInbox.make<TestNetwork.Datagram<Unix>, ConnectError.EBADF>({
    maxQueued: bindOptions.queue ?? unixQueue
  })
  const echo = bindOptions.echo === true
  let received = 0
  let closed = false
  const sink: UnixDatagramSink = {
    deny: bindOptions.permission === "deny",
    get closed() {
      return closed
    },
    deliver: (data, from) => {
      if (!echo && inbox.queued >= inbox.maxQueued) return "EAGAIN"
      received++
      if (!echo) inbox.push({ data, from })
      else {
        const back = lookUp(kernel, from)
        if (typeof back !== "string") back.deliver(data.slice(), address)
      }
      return "ok"
    }
  }
  kernel.unixDatagrams.set(key, sink)
  recorder.record({ op: "bind", outcome: "ok", address })
  const port: TestNetwork.DatagramPort<Unix> = {
    address,
    receive: inbox.receive,
    send: (data, to) =>
      Effect.suspend(() => {
        const target = SockAddr.fromInput(to)
        if (Result.isFailure(target)) return Effect.fail(target.failure)
        const destination = target.success
        if (destination._tag !== "UnixPath" && destination._tag !== "UnixAbstract") {
          return Effect.fail(InvalidInput.make("to", SockAddr.format(destination), "expected a unix address"))
        }
        const found = closed ? undefined : lookUp(kernel, destination)
        if (found !== undefined && typeof found !== "string") found.deliver(data.slice(), address)
        return Effect.void
      }),
    received: Effect.sync(() => received)
  }
  return Effect.as(
    Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        // The kernel never unlinks a socket file: the path stays, stale. An abstract name goes.
        if (kernel.unixDatagrams.get(key) === sink) {
          if (address._tag === "UnixPath") kernel.unixDatagrams.set(key, "stale")
          else kernel.unixDatagrams.delete(key)
        }
        inbox.close(ConnectError.make("EBADF", { syscall: "recv", localAddress: address }))
        recorder.record({ op: "close", outcome: "ok", address })
      })
    ),
    port
  )
}

const bindUdp = (
  kernel: Kernel,
  recorder: Recorder,
  requested: SockAddr.Inet,
  bindOptions: TestNetwork.BindDatagramOptions
): Effect.Effect<AnyPort, BindError, Scope.Scope> => {
  const bound = kernel.bindPort(kernel.udp, requested, recorder)
  if (Result.isFailure(bound)) return Effect.fail(bound.failure)
  const address = bound.success.address as SockAddr.Inet
  const key = keyOf(address)
  // By default the test's own port keeps everything it is sent: a test reads what it asked for.
  const inbox = DatagramInbox.make<TestNetwork.Datagram, ConnectError.EBADF>({
    maxQueued: bindOptions.queue ?? Infinity
  })
  let received = 0
  let closed = false
  const sink: DatagramSink = {
    deliver: (data, from) => {
      received++
      if (bindOptions.echo === true) {
        if (kernel.partitionBetween(address, from) === undefined) kernel.sinkFor(from)?.deliver(data.slice(), address)
        return
      }
      inbox.push({ data, from })
    }
  }
  kernel.datagramSinks.set(key, sink)
  recorder.record({ op: "bind", outcome: "ok", address })
  const port: TestNetwork.DatagramPort = {
    address,
    receive: inbox.receive,
    send: (data, to) =>
      Effect.suspend(() => {
        const target = SockAddr.fromInput(to)
        if (Result.isFailure(target)) return Effect.fail(target.failure)
        if (target.success._tag !== "Inet") {
          return Effect.fail(InvalidInput.make("to", SockAddr.format(target.success), "expected an inet address"))
        }
        const destination = target.success
        if (closed || kernel.partitionBetween(address, destination) !== undefined) return Effect.void
        kernel.sinkFor(destination)?.deliver(data.slice(), address)
        return Effect.void
      }),
    received: Effect.sync(() => received)
  }
  return Effect.as(
    Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (kernel.datagramSinks.get(key) === sink) kernel.datagramSinks.delete(key)
        bound.success.release()
        inbox.close(ConnectError.make("EBADF", { syscall: "recv", localAddress: address }))
        recorder.record({ op: "close", outcome: "ok", address })
      })
    ),
    port
  )
}
