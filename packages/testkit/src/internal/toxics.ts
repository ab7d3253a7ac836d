/**
 * Toxics: faults inside open connections, as Toxiproxy names them (latency, bandwidth, slicer,
 * timeout, reset_peer, limit_data, slow_close), on the fake network's clock.
 *
 * A direction with toxics gets a `Link` as its tap. Each write goes through the toxics that
 * match now, in the order they were added; each toxic turns the pieces it is given into pieces
 * with later arrival times (or none, or an action: close, reset). TCP keeps order, so a piece
 * never arrives before the one written ahead of it. What arrives now is pushed at once; what
 * arrives later waits in the link's queue for one timer fiber, which the kernel knows of (so
 * `advanceToNextEvent` finds it).
 */
import { InvalidInput, type SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as TestNetwork from "../TestNetwork.ts"
import type { Recorder } from "./journal.ts"
import type { Controls } from "./controls.ts"
import type { Kernel, LiveConnection, Matcher } from "./kernel.ts"
import { matcherOf, millisOf } from "./kernel.ts"
import type { Direction, Side, Tap } from "./pipe.ts"

/** A toxic as the network runs it: durations decoded once, when it is added. */
export type Decoded =
  | { readonly type: "latency"; readonly latency: number; readonly jitter: number }
  | { readonly type: "bandwidth"; readonly rate: number }
  | { readonly type: "slicer"; readonly averageSize: number; readonly sizeVariation: number; readonly delay: number }
  | { readonly type: "timeout"; readonly timeout: number | undefined }
  | { readonly type: "reset_peer"; readonly after: number | undefined; readonly bytes: number | undefined }
  | { readonly type: "limit_data"; readonly bytes: number }
  | { readonly type: "slow_close"; readonly delay: number }
  /** A per-chunk fault rate (`TestNetwork.faults` with `per: "chunk"`). */
  | { readonly type: "fault"; readonly reset: number; readonly drop: number }
  /** A partition over a live connection: everything is held until it heals (TCP retransmits). */
  | { readonly type: "partition" }

/** An added toxic: which connections (by their server address), which way, until removed. */
export interface ToxicState {
  readonly name: string
  readonly matches: Matcher
  /** Also by both ends' addresses (a partition); undefined: the server address decides. */
  readonly between?: ((client: SockAddr.SockAddr, server: SockAddr.SockAddr) => boolean) | undefined
  readonly upstream: boolean
  readonly downstream: boolean
  readonly toxic: Decoded
}

/** Whether `state` acts on the connection between `client` and `server`. */
const appliesTo = (state: ToxicState, client: SockAddr.SockAddr, server: SockAddr.SockAddr): boolean =>
  state.matches(server) && (state.between === undefined || state.between(client, server))

const positiveInteger = (field: string, value: unknown): Result.Result<number, InvalidInput.InvalidInput> =>
  typeof value === "number" && Number.isInteger(value) && value > 0
    ? Result.succeed(value)
    : Result.fail(InvalidInput.make(field, value, "expected a positive integer"))

const optionalMillis = (field: string, input: unknown): Result.Result<number | undefined, InvalidInput.InvalidInput> =>
  input === undefined ? Result.succeed(undefined) : millisOf(field, input as never, 0)

/** Checks a toxic and decodes its durations; InvalidInput names the bad field. */
export const decode = (toxic: TestNetwork.Toxic): Result.Result<Decoded, InvalidInput.InvalidInput> => {
  if (typeof toxic !== "object" || toxic === null)
    return Result.fail(InvalidInput.make("toxic", toxic, "expected a toxic"))
  return Result.gen(function* () {
    switch (toxic.type) {
      case "latency":
        return {
          type: "latency",
          latency: yield* millisOf("latency", toxic.latency, 0),
          jitter: Math.floor(yield* millisOf("jitter", toxic.jitter, 0))
        } as const
      case "bandwidth":
        return { type: "bandwidth", rate: yield* positiveInteger("bytesPerSecond", toxic.bytesPerSecond) } as const
      case "slicer": {
        const averageSize = yield* positiveInteger("averageSize", toxic.averageSize)
        const sizeVariation = toxic.sizeVariation ?? 0
        if (!Number.isInteger(sizeVariation) || sizeVariation < 0 || sizeVariation >= averageSize) {
          return yield* Result.fail(
            InvalidInput.make(
              "sizeVariation",
              sizeVariation,
              "expected an integer with 0 <= sizeVariation < averageSize"
            )
          )
        }
        return { type: "slicer", averageSize, sizeVariation, delay: yield* millisOf("delay", toxic.delay, 0) } as const
      }
      case "timeout":
        return { type: "timeout", timeout: yield* optionalMillis("timeout", toxic.timeout) } as const
      case "reset_peer": {
        const after = yield* optionalMillis("after", toxic.after)
        const bytes = toxic.bytes === undefined ? undefined : yield* positiveInteger("bytes", toxic.bytes)
        return { type: "reset_peer", after: after === undefined && bytes === undefined ? 0 : after, bytes } as const
      }
      case "limit_data":
        return { type: "limit_data", bytes: yield* positiveInteger("bytes", toxic.bytes) } as const
      case "slow_close":
        return { type: "slow_close", delay: yield* millisOf("delay", toxic.delay, 0) } as const
      default:
        return yield* Result.fail(
          InvalidInput.make("type", (toxic as { readonly type: unknown }).type, "unknown toxic")
        )
    }
  })
}

/** What travels: bytes, the FIN, or what a toxic does to the whole connection. */
type Piece =
  | { readonly kind: "data"; readonly data: Uint8Array; readonly at: number }
  | { readonly kind: "end" | "close" | "reset"; readonly at: number; readonly why?: string }

/** A live connection as the toxics see it: both ends, for actions on the whole connection. */
export interface Ends {
  readonly client: Side
  readonly server: Side | undefined
}

/** Per toxic and link: what a toxic counts (bytes passed, when it started acting). */
interface Progress {
  bytes: number
  busyUntil: number
  done: boolean
  /** What a partition holds until it heals. */
  held: Array<Piece> | undefined
}

/** One direction of one live connection, with toxics in its way. */
export class Link implements Tap {
  readonly kernel: Kernel
  readonly direction: Direction
  readonly ends: Ends
  /** Client to server; an echo connection's one loop carries both directions' toxics. */
  readonly upstream: boolean
  readonly loop: boolean
  readonly serverAddress: SockAddr.SockAddr
  readonly clientAddress: SockAddr.SockAddr
  readonly recorder: Recorder
  readonly context: Context.Context<never>
  readonly progress = new Map<ToxicState, Progress>()
  readonly queue: Array<Piece> = []
  /** The arrival time of the last piece sent: nothing overtakes it. */
  last = 0
  running = false

  constructor(fields: {
    readonly kernel: Kernel
    readonly direction: Direction
    readonly ends: Ends
    readonly upstream: boolean
    readonly loop: boolean
    readonly serverAddress: SockAddr.SockAddr
    readonly clientAddress: SockAddr.SockAddr
    readonly recorder: Recorder
    readonly context: Context.Context<never>
  }) {
    this.loop = fields.loop
    this.clientAddress = fields.clientAddress
    this.kernel = fields.kernel
    this.direction = fields.direction
    this.ends = fields.ends
    this.upstream = fields.upstream
    this.serverAddress = fields.serverAddress
    this.recorder = fields.recorder
    this.context = fields.context
  }

  get now(): number {
    return this.recorder.clock.currentTimeMillisUnsafe()
  }

  /** The toxics acting on this link now, in the order they were added. */
  active(): Array<ToxicState> {
    const active: Array<ToxicState> = []
    for (const state of this.kernel.toxics) {
      const way = this.loop ? state.upstream || state.downstream : this.upstream ? state.upstream : state.downstream
      if (way && appliesTo(state, this.clientAddress, this.serverAddress)) active.push(state)
    }
    return active
  }

  progressOf(state: ToxicState): Progress {
    let progress = this.progress.get(state)
    if (progress === undefined) {
      progress = { bytes: 0, busyUntil: 0, done: false, held: undefined }
      this.progress.set(state, progress)
    }
    return progress
  }

  write(chunk: Uint8Array): void {
    this.send([{ kind: "data", data: chunk, at: this.now }])
  }

  end(): void {
    this.send([{ kind: "end", at: this.now }])
  }

  /** Starts a toxic's timers on this link: a timeout that closes, a reset after a while. */
  activate(state: ToxicState): void {
    const toxic = state.toxic
    const at = this.now
    if (toxic.type === "timeout" && toxic.timeout !== undefined) {
      this.schedule([{ kind: "close", at: at + toxic.timeout, why: "timeout" }])
    } else if (toxic.type === "reset_peer" && toxic.after !== undefined) {
      this.schedule([{ kind: "reset", at: at + toxic.after, why: "reset_peer" }])
    }
  }

  send(pieces: Array<Piece>): void {
    for (const state of this.active()) {
      pieces = this.apply(state, pieces)
      if (pieces.length === 0) return
    }
    this.schedule(pieces)
  }

  /** One toxic's effect on the pieces in flight. */
  apply(state: ToxicState, pieces: Array<Piece>): Array<Piece> {
    const toxic = state.toxic
    switch (toxic.type) {
      case "latency":
        return pieces.map((piece) => ({ ...piece, at: piece.at + toxic.latency + this.jitter(toxic.jitter) }))
      case "bandwidth": {
        const progress = this.progressOf(state)
        const out: Array<Piece> = []
        // Delivered in pieces of 100 ms worth, so a reader sees the bytes trickle in.
        const slice = Math.max(1, Math.floor(toxic.rate / 10))
        for (const piece of pieces) {
          if (piece.kind !== "data") {
            out.push({ ...piece, at: Math.max(piece.at, progress.busyUntil) })
            continue
          }
          let start = Math.max(piece.at, progress.busyUntil)
          for (let offset = 0; offset < piece.data.length; offset += slice) {
            const data = piece.data.subarray(offset, Math.min(piece.data.length, offset + slice))
            start += (data.length * 1000) / toxic.rate
            out.push({ kind: "data", data, at: Math.ceil(start) })
          }
          progress.busyUntil = start
        }
        return out
      }
      case "slicer": {
        const out: Array<Piece> = []
        for (const piece of pieces) {
          if (piece.kind !== "data") {
            out.push(piece)
            continue
          }
          let at = piece.at
          let offset = 0
          while (offset < piece.data.length) {
            const variation = toxic.sizeVariation === 0 ? 0 : this.between(-toxic.sizeVariation, toxic.sizeVariation)
            const size = Math.max(1, toxic.averageSize + variation)
            out.push({ kind: "data", data: piece.data.subarray(offset, offset + size), at })
            offset += size
            at += toxic.delay
          }
        }
        return out
      }
      case "timeout":
        // Nothing gets through while it acts; the close (if any) was scheduled when it started.
        return []
      case "reset_peer": {
        if (toxic.bytes === undefined) return pieces
        return this.cutAfter(state, toxic.bytes, pieces, "reset")
      }
      case "limit_data":
        return this.cutAfter(state, toxic.bytes, pieces, "close")
      case "slow_close":
        return pieces.map((piece) => (piece.kind === "end" ? { ...piece, at: piece.at + toxic.delay } : piece))
      case "partition": {
        const progress = this.progressOf(state)
        if (progress.held === undefined) progress.held = pieces
        else progress.held.push(...pieces)
        return []
      }
      case "fault": {
        const out: Array<Piece> = []
        for (const piece of pieces) {
          if (piece.kind !== "data") {
            out.push(piece)
            continue
          }
          const draw = this.kernel.random.nextDoubleUnsafe()
          if (draw < toxic.reset) {
            this.recorder.record({ op: "fault", outcome: "reset", address: this.serverAddress })
            out.push({ kind: "reset", at: piece.at, why: "fault" })
            return out
          }
          if (draw < toxic.reset + toxic.drop) {
            this.recorder.record({ op: "fault", outcome: "drop", address: this.serverAddress })
            continue
          }
          out.push(piece)
        }
        return out
      }
    }
  }

  /** A partition healed: what it held goes on now, in the order it was sent. */
  release(state: ToxicState): void {
    const held = this.progress.get(state)?.held
    if (held === undefined) return
    this.progress.delete(state)
    const now = this.now
    this.schedule(held.map((piece) => ({ ...piece, at: Math.max(piece.at, now) })))
  }

  /** Lets `limit` bytes through, then does `action` to the connection and drops the rest. */
  cutAfter(state: ToxicState, limit: number, pieces: Array<Piece>, action: "close" | "reset"): Array<Piece> {
    const progress = this.progressOf(state)
    if (progress.done) return []
    const out: Array<Piece> = []
    for (const piece of pieces) {
      if (piece.kind !== "data") {
        out.push(piece)
        continue
      }
      const room = limit - progress.bytes
      const data = piece.data.length <= room ? piece.data : piece.data.subarray(0, room)
      progress.bytes += data.length
      if (data.length > 0) out.push({ kind: "data", data, at: piece.at })
      if (progress.bytes >= limit) {
        progress.done = true
        out.push({ kind: action, at: piece.at, why: state.toxic.type })
        return out
      }
    }
    return out
  }

  /** A seeded whole number of milliseconds in 0..jitter. */
  jitter(jitter: number): number {
    return jitter === 0 ? 0 : Math.floor(this.kernel.random.nextDoubleUnsafe() * (jitter + 1))
  }

  between(from: number, to: number): number {
    return from + Math.floor(this.kernel.random.nextDoubleUnsafe() * (to - from + 1))
  }

  /** Queues pieces in arrival order; what is due now arrives now. */
  schedule(pieces: Array<Piece>): void {
    for (const piece of pieces) {
      const data = piece.kind === "data"
      // Order holds for what the writer sent; a toxic's own close or reset may overtake.
      const at = data || piece.kind === "end" ? Math.max(piece.at, this.last) : piece.at
      if (data || piece.kind === "end") this.last = at
      const timed = { ...piece, at }
      let index = this.queue.length
      while (index > 0 && this.queue[index - 1]!.at > at) index--
      this.queue.splice(index, 0, timed)
    }
    this.flush()
  }

  /** Delivers what is due; leaves one timer fiber waiting for the rest. */
  flush(): void {
    const now = this.now
    while (this.queue.length > 0 && this.queue[0]!.at <= now) this.deliver(this.queue.shift()!)
    if (this.queue.length === 0 || this.running) return
    this.running = true
    const wake = Effect.suspend(() => this.kernel.wait(this.recorder.clock, Math.max(0, this.queue[0]!.at - this.now)))
    Effect.runForkWith(this.context)(
      Effect.ensuring(
        wake,
        Effect.sync(() => {
          this.running = false
          this.flush()
        })
      )
    )
  }

  deliver(piece: Piece): void {
    switch (piece.kind) {
      case "data":
        if (this.direction.open) this.direction.push(piece.data)
        return
      case "end":
        this.direction.end()
        return
      case "close":
        this.recorder.record({ op: "toxic", outcome: `${piece.why}: closed`, address: this.serverAddress })
        this.queue.length = 0
        closeEnds(this.ends)
        return
      case "reset":
        this.recorder.record({ op: "toxic", outcome: `${piece.why}: reset`, address: this.serverAddress })
        this.queue.length = 0
        resetEnds(this.ends)
        return
    }
  }
}

/**
 * The network closes the connection (FIN both ways): readers get what is buffered, then the
 * end; writes fail with EPIPE. The application still closes its own sockets.
 */
export const closeEnds = (ends: Ends): void => {
  ends.client.incoming.end()
  ends.client.outgoing.end()
}

/** An RST both ways: every reader fails with ECONNRESET, buffered bytes are lost. */
export const resetEnds = (ends: Ends): void => {
  ends.client.incoming.reset()
  ends.client.outgoing.reset()
}

/** Puts a link in the way of one direction of a live connection (once), and starts `state` on it. */
export const attach = (kernel: Kernel, live: LiveConnection, state: ToxicState): void => {
  if (!appliesTo(state, live.clientAddress, live.serverAddress)) return
  const loop = live.server === undefined
  const linkOf = (upstream: boolean): Link => {
    const existing = upstream || loop ? live.upstream : live.downstream
    if (existing !== undefined) return existing
    const direction = upstream ? live.client.outgoing : live.client.incoming
    const link = new Link({
      kernel,
      direction,
      ends: live,
      upstream,
      loop,
      serverAddress: live.serverAddress,
      clientAddress: live.clientAddress,
      recorder: live.recorder,
      context: live.context
    })
    direction.tap = link
    if (upstream || loop) live.upstream = link
    else live.downstream = link
    return link
  }
  if (state.upstream || (loop && state.downstream)) linkOf(true).activate(state)
  if (state.downstream && !loop) linkOf(false).activate(state)
}

/** The `toxic` control. */
export const toxicControl =
  (kernel: Kernel): Controls["toxic"] =>
  (address, toxic, options = {}) =>
    Effect.suspend(() => {
      const matches = matcherOf(address)
      if (Result.isFailure(matches)) return Effect.fail(matches.failure)
      const decoded = decode(toxic)
      if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
      const direction = options.direction ?? "downstream"
      if (direction !== "upstream" && direction !== "downstream" && direction !== "both") {
        return Effect.fail(InvalidInput.make("direction", direction, "expected upstream, downstream or both"))
      }
      return addToxic(kernel, {
        name: `${decoded.success.type} ${direction}`,
        matches: matches.success,
        upstream: direction !== "downstream",
        downstream: direction !== "upstream",
        toxic: decoded.success
      })
    })

/** Adds a toxic until the scope closes: to the live connections it matches now and to new ones. */
export const addToxic = (kernel: Kernel, state: ToxicState): Effect.Effect<void, never, Scope.Scope> =>
  Effect.withFiber((fiber) => {
    const recorder = kernel.journal.recorder(fiber.getRef(Clock.Clock), 0, "stream")
    kernel.toxics.push(state)
    recorder.record({ op: "toxic", outcome: `added ${state.name}` })
    for (const live of kernel.liveConnections()) attach(kernel, live, state)
    return Effect.addFinalizer(() =>
      Effect.sync(() => {
        const index = kernel.toxics.indexOf(state)
        if (index !== -1) kernel.toxics.splice(index, 1)
        recorder.record({ op: "toxic", outcome: `removed ${state.name}` })
      })
    )
  })

const everywhere: Matcher = () => true

/**
 * A partition over the live connections it separates (a connect across it waits for the heal,
 * so none is made while it lasts): what either end sends is held, then delivered when it heals,
 * as TCP retransmits it. Returns the heal.
 */
export const partitionLive = (
  kernel: Kernel,
  separates: (client: SockAddr.SockAddr, server: SockAddr.SockAddr) => boolean
): (() => void) => {
  const state: ToxicState = {
    name: "partition",
    matches: everywhere,
    between: separates,
    upstream: true,
    downstream: true,
    toxic: { type: "partition" }
  }
  kernel.toxics.push(state)
  for (const live of kernel.liveConnections()) attach(kernel, live, state)
  return () => {
    const index = kernel.toxics.indexOf(state)
    if (index !== -1) kernel.toxics.splice(index, 1)
    for (const live of kernel.liveConnections()) {
      live.upstream?.release(state)
      live.downstream?.release(state)
    }
  }
}
