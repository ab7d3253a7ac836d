/**
 * What the fake network remembers: the journal (every operation with its virtual time) and the
 * fault coverage (every error tag that reached the application). A socket gets a `Recorder`
 * that knows its clock, number and type, so each line is one object of what varies.
 */
import type { SocketHandle, Transport } from "@dial/core"
import { Network, SockAddr } from "@dial/core"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as TestNetwork from "../TestNetwork.ts"

type SocketType = TestNetwork.JournalEntry["type"]
type Mutable<A> = { -readonly [K in keyof A]: A[K] }

/** One journal line, apart from what the recorder knows. */
export interface Line {
  readonly op: TestNetwork.Operation
  readonly outcome: string
  readonly address?: SockAddr.SockAddr | undefined
  readonly localAddress?: SockAddr.SockAddr | undefined
}

/** Writes the journal lines of one socket. */
export class Recorder {
  readonly journal: Journal
  readonly clock: Clock.Clock
  readonly socket: number
  readonly type: SocketType

  constructor(journal: Journal, clock: Clock.Clock, socket: number, type: SocketType) {
    this.journal = journal
    this.clock = clock
    this.socket = socket
    this.type = type
  }

  record(line: Line): void {
    if (!this.journal.recording) return
    const entry: Mutable<TestNetwork.JournalEntry> = {
      at: this.clock.currentTimeMillisUnsafe(),
      op: line.op,
      socket: this.socket,
      type: this.type,
      outcome: line.outcome
    }
    if (line.address !== undefined) entry.address = line.address
    if (line.localAddress !== undefined) entry.localAddress = line.localAddress
    this.journal.entries.push(entry)
  }
}

export class Journal {
  readonly recording: boolean
  readonly entries: Array<TestNetwork.JournalEntry> = []
  readonly coverage: Coverage = new Coverage(new Map())

  constructor(recording: boolean) {
    this.recording = recording
  }

  /** With recording off, one silent recorder per clock: nothing it knows is ever written. */
  private silent: Recorder | undefined = undefined

  recorder(clock: Clock.Clock, socket: number, type: SocketType): Recorder {
    if (this.recording) return new Recorder(this, clock, socket, type)
    if (this.silent === undefined || this.silent.clock !== clock) this.silent = new Recorder(this, clock, 0, type)
    return this.silent
  }

  /** Core's service over `transport`, with every failure that reaches the application counted. */
  observe(transport: Transport.Transport): Network.Network["Service"] {
    const inner = Network.make(transport)
    // Observing every handle costs a wrapper per operation: only when recording.
    if (!this.recording) return inner
    const coverage = this.coverage
    return Network.Network.of({
      platform: transport.platform,
      // The fake has no descriptors: Unsupported, from the core.
      adopt: inner.adopt,
      open: <T extends Transport.SocketType>(type: T, openOptions?: Network.OpenOptions) =>
        Effect.matchEffect(inner.open(type, openOptions), {
          onFailure: (error) => coverage.fail(error),
          onSuccess: (handle) =>
            Effect.succeed(
              (handle.type === "datagram"
                ? new ObservedDatagram(handle as SocketHandle.DatagramHandle, coverage)
                : new ObservedStream(
                    handle as SocketHandle.StreamHandle,
                    coverage
                  )) as unknown as SocketHandle.HandleOf<T>
            )
        })
    })
  }
}

/** Counts the error tags that reach the application. */
export class Coverage {
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
