/**
 * UDP on the fake kernel: the transport's datagram endpoint (what core's handle drives) and the
 * test's own bound ports. Both receive through core's `DatagramInbox`, the buffer `@dial/node`
 * uses too; this module only decides what gets delivered where.
 */
import type { Transport } from "@dial/core"
import { ConnectError, DatagramInbox, DialError, InvalidInput, SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as TestNetwork from "../TestNetwork.ts"
import type { Controls } from "./controls.ts"
import type { Recorder } from "./journal.ts"
import type { Binding, DatagramSink, Kernel } from "./kernel.ts"
import { keyOf, parseConcrete, platform } from "./kernel.ts"
import { noPort } from "./streams.ts"

/** The transport's `openDatagram` over `kernel`. */
export const openDatagram =
  (kernel: Kernel): Transport.Transport["openDatagram"] =>
  ({ address, options }) =>
    Effect.withFiber((fiber) => {
      if (address._tag !== "Inet") return Effect.fail(DialError.unsupported("unix datagram sockets", platform))
      const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), kernel.nextSocket(), "datagram")
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

/** The `bindDatagram` control: a test's own UDP port. */
export const bindDatagram =
  (kernel: Kernel): Controls["bindDatagram"] =>
  (input, bindOptions = {}) =>
    Effect.withFiber((fiber): ReturnType<Controls["bindDatagram"]> => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      if (parsed.success._tag !== "Inet") {
        return Effect.fail(
          InvalidInput.make("address", SockAddr.format(parsed.success), "unix datagram sockets are not supported")
        )
      }
      const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), kernel.nextSocket(), "datagram")
      const bound = kernel.bindPort(kernel.udp, parsed.success, recorder)
      if (Result.isFailure(bound)) return Effect.fail(bound.failure)
      const address = bound.success.address as SockAddr.Inet
      const key = keyOf(address)
      // The test's own port keeps everything it is sent: a test reads what it asked for.
      const inbox = DatagramInbox.make<TestNetwork.Datagram, ConnectError.EBADF>({ maxQueued: Infinity })
      let received = 0
      let closed = false
      const sink: DatagramSink = {
        deliver: (data, from) => {
          received++
          if (bindOptions.echo === true) {
            if (kernel.partitionBetween(address, from) === undefined)
              kernel.sinkFor(from)?.deliver(data.slice(), address)
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
    })
