/**
 * The data path of an established stream connection: the `effect/socket` view over the kernel
 * `net.Socket`, with every failure a dial errno error.
 *
 * - Reads: one `Inbox` per connection holds the socket's 'data' chunks (flowing mode: a chunk
 *   costs one event, as a raw socket's does) until a pull takes them all as one batch. When no
 *   pull takes them for the socket's `readableHighWaterMark`, the socket is paused, so the
 *   kernel's receive window is the backpressure, as in `NodeSocket.fromDuplex`. A waiting pull
 *   is woken to take the bytes itself, so an interrupted pull (a deadline) loses none. The
 *   peer's FIN delivers what is queued, then Effect's clean close (`SocketCloseError` 1000).
 *   A kernel error (ECONNRESET, ETIMEDOUT from keepalive, EHOSTUNREACH…) is a
 *   `SocketReadError` whose cause is the typed error, with syscall, local and peer address.
 * - Writes: `write()`'s return value and one 'drain' are the backpressure. A write after the
 *   connection's write side is gone fails at once with EPIPE (or the error that killed the
 *   connection), typed, never `Error("socket is not writable")`.
 * - Half-open: the socket is made with `allowHalfOpen`, so the peer's FIN ends our reads and
 *   we can still write until we end (releasing the writer scope, or writing a `CloseEvent`).
 * - `CloseEvent`: as `NodeSocket.fromDuplex` treats it, writing one destroys the connection;
 *   a code above 1000 is an abnormal close, which the reader reports with that code.
 * - Reader scope: the handle owns the connection, so closing the scope a reader was acquired
 *   in ends that reader (a suspended pull fails with close 1006, as Effect's contract asks) and
 *   leaves the connection to the handle. See the package README ("The connection's life").
 * - `upgrade`: a TLS client handshake in place, as `fromDuplex`'s: from then on reads and
 *   writes go through the TLS socket over the kernel one (`Endpoint.raw` becomes it).
 */
import { ConnectError, type SockAddr, SystemError } from "@dial/core"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import * as Tls from "node:tls"

type Batch = NonEmptyReadonlyArray<Uint8Array>
type Resume = (effect: Effect.Effect<Batch, Socket.SocketError>) => void

/** What the data path needs of its connection: the socket and the addresses errors name. */
export interface Endpoint {
  /** The socket the bytes go through: the kernel socket, or the TLS socket over it after an upgrade. */
  raw: Net.Socket
  readonly peer: SockAddr.SockAddr
  readonly local: SockAddr.SockAddr
  /** Set once the handle closed the connection: later use is EBADF, not the peer's doing. */
  readonly closedByHandle: boolean
  /** The code of a `CloseEvent` we wrote, once written. */
  closeCode: number | undefined
}

const closeError = (code: number, closeReason?: string): Socket.SocketError =>
  new Socket.SocketError({
    reason: new Socket.SocketCloseError(closeReason === undefined ? { code } : { code, closeReason })
  })

/** The typed error of a Node error on this connection. */
export const typed = (endpoint: Endpoint, cause: unknown, syscall: ConnectError.Syscall): ConnectError.ConnectError =>
  SystemError.toConnectError(cause, { syscall, address: endpoint.peer, localAddress: endpoint.local })

const readError = (endpoint: Endpoint, cause: unknown): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: typed(endpoint, cause, "read") }) })

const writeError = (cause: ConnectError.ConnectError): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

/** Why a write cannot go out now, or undefined when it can. */
const unwritable = (endpoint: Endpoint): ConnectError.ConnectError | undefined => {
  const socket = endpoint.raw
  if (!socket.destroyed && !socket.writableEnded) return undefined
  const context = { syscall: "write" as const, address: endpoint.peer, localAddress: endpoint.local }
  if (endpoint.closedByHandle) return ConnectError.make("EBADF", context)
  // The error that killed the connection says more than EPIPE does (a reset, a timeout).
  const errored = socket.errored
  return errored === null ? ConnectError.make("EPIPE", context) : typed(endpoint, errored, "write")
}

/** How the connection ended, for a reader that meets it already ended. */
const endedWith = (endpoint: Endpoint): Socket.SocketError | undefined => {
  const socket = endpoint.raw
  if (endpoint.closeCode !== undefined) return closeError(endpoint.closeCode)
  if (socket.errored !== null) return readError(endpoint, socket.errored)
  if (socket.destroyed) return closeError(endpoint.closedByHandle ? 1006 : 1000)
  if (socket.readableEnded) return closeError(1000)
  return undefined
}

/**
 * The connection's inbound bytes, once per connection: one set of listeners, attached while a
 * reader exists (or bytes wait for one), and the socket in flowing mode so a chunk costs one
 * 'data' event, as a raw `net.Socket`'s does. Backpressure stays the kernel's: when a reader
 * falls behind by the socket's `readableHighWaterMark`, the socket is paused (Node stops reading
 * the descriptor, the receive window fills, the peer blocks) until a pull takes the bytes.
 *
 * A waiting pull is woken, never handed bytes: it takes them itself when it runs again. A pull
 * interrupted meanwhile (a deadline, its fiber) leaves the bytes here for the next pull, with no
 * canceler to register per pull.
 */
class Inbox {
  readonly endpoint: Endpoint
  /** The socket the listeners are on, while attached. */
  socket: Net.Socket | undefined = undefined
  queue: Array<Uint8Array> = []
  queued = 0
  /** Paused by us because no pull took the bytes. */
  paused = false
  /** How the connection's reads end; bytes queued before an end are still read first. */
  error: Socket.SocketError | undefined = undefined
  /** The end discards queued bytes (an error, a destroy). */
  discard = false
  readonly readers: Array<Reader> = []

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint
    this.onData = this.onData.bind(this)
    this.onEnd = this.onEnd.bind(this)
    this.onError = this.onError.bind(this)
    this.onClose = this.onClose.bind(this)
  }

  onData(chunk: Uint8Array): void {
    this.queue.push(chunk)
    this.queued += chunk.length
    if (this.queued >= this.socket!.readableHighWaterMark && !this.paused) {
      this.paused = true
      this.socket!.pause()
    }
    this.wake()
  }

  onEnd(): void {
    this.error ??= closeError(1000)
    this.wake()
  }

  onError(cause: Error): void {
    this.fail(readError(this.endpoint, cause))
  }

  onClose(): void {
    // A 'close' after 'end' or 'error' adds nothing; one without either is our own destroy.
    const code = this.endpoint.closeCode
    if (code !== undefined) this.fail(closeError(code))
    else if (this.error === undefined) this.fail(closeError(this.endpoint.closedByHandle ? 1006 : 1000))
    else this.wake()
  }

  fail(error: Socket.SocketError): void {
    this.error ??= error
    this.discard = true
    this.queue = []
    this.queued = 0
    this.wake()
  }

  wake(): void {
    // A woken pull runs its fiber here, which may release a reader: iterate a copy when several.
    const readers = this.readers.length === 1 ? this.readers : this.readers.slice()
    for (let i = 0; i < readers.length; i++) readers[i]!.wake()
  }

  /** What a pull of `reader` gets now: bytes, the end, or undefined (wait). */
  take(reader: Reader): Effect.Effect<Batch, Socket.SocketError> | undefined {
    if (reader.error !== undefined) return Effect.fail(reader.error)
    if (this.queue.length > 0) {
      const batch = this.queue as unknown as Batch
      this.queue = []
      this.queued = 0
      if (this.paused) {
        this.paused = false
        this.socket?.resume()
      }
      return Effect.succeed(batch)
    }
    return this.error === undefined ? undefined : Effect.fail(this.error)
  }

  attach(): void {
    if (this.socket !== undefined) return
    const socket = this.endpoint.raw
    this.socket = socket
    if (this.error === undefined) this.error = endedWith(this.endpoint)
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onClose)
    if (!this.paused) socket.resume()
  }

  detach(): void {
    const socket = this.socket
    if (socket === undefined) return
    this.socket = undefined
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("error", this.onError)
    socket.off("close", this.onClose)
    // Bytes that arrive now wait in Node's buffer (and then the kernel's) for the next reader.
    socket.pause()
    this.paused = false
  }

  add(reader: Reader): void {
    this.readers.push(reader)
    this.attach()
  }

  /** A reader's scope closed: without readers and bytes, the connection is left as it was. */
  remove(reader: Reader): void {
    const at = this.readers.indexOf(reader)
    if (at >= 0) this.readers.splice(at, 1)
    if (this.readers.length === 0 && this.queue.length === 0) this.detach()
  }
}

/** One acquired reader: its pull, and whether its scope has closed. */
class Reader {
  readonly inbox: Inbox
  /** Set when this reader's scope closed (1006), or a failed TLS upgrade. */
  error: Socket.SocketError | undefined = undefined
  /** The waiting pull (or one interrupted since, whose resume is then a no-op). */
  waiter: Resume | undefined = undefined
  /**
   * Pulls that wait beside `waiter` (several fibers pulling one reader): each is woken too, and
   * one interrupted meanwhile takes itself out, so the list holds only live pulls.
   */
  others: Array<Resume> | undefined = undefined
  readonly pull: Effect.Effect<Batch, Socket.SocketError>
  /** What a woken pull runs: it takes what is there, or waits again. */
  readonly retake: Effect.Effect<Batch, Socket.SocketError>

  constructor(inbox: Inbox) {
    this.inbox = inbox
    this.pull = Effect.callback<Batch, Socket.SocketError>((resume) => {
      const now = this.inbox.take(this)
      if (now !== undefined) return resume(now)
      if (this.waiter === undefined) {
        this.waiter = resume
        return
      }
      const others = (this.others ??= [])
      others.push(resume)
      return Effect.sync(() => {
        const at = others.indexOf(resume)
        if (at >= 0) others.splice(at, 1)
      })
    })
    this.retake = Effect.suspend(() => this.inbox.take(this) ?? this.pull)
  }

  /** Resumes the waiting pulls to run again; one interrupted meanwhile ignores it. */
  wake(): void {
    const resume = this.waiter
    const others = this.others
    this.waiter = undefined
    this.others = undefined
    if (resume !== undefined) resume(this.retake)
    if (others !== undefined) for (let i = 0; i < others.length; i++) others[i]!(this.retake)
  }

  fail(error: Socket.SocketError): void {
    this.error ??= error
    this.wake()
  }
}

const upgradeError = (cause: unknown): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketUpgradeError({ cause }) })

const secureContextOf = (options: Socket.TlsUpgradeOptions): Tls.SecureContext => {
  const bytes = (value: string | Uint8Array) => (typeof value === "string" ? value : Buffer.from(value))
  const list = <A>(value: A | ReadonlyArray<A> | undefined): Array<A> | undefined =>
    value === undefined ? undefined : Array.isArray(value) ? [...value] : [value as A]
  return Tls.createSecureContext({
    key: list(options.key)?.map((key) => Buffer.from(Redacted.value(key))),
    cert: list(options.cert)?.map(bytes),
    ca: list(options.ca)?.map(bytes),
    passphrase: options.passphrase === undefined ? undefined : Redacted.value(options.passphrase)
  })
}

/**
 * The client side of a TLS handshake over the connection, in place. The reader listens to the
 * TLS socket once it is secure; a failed handshake fails the reader with the handshake's error.
 */
const upgradeWith =
  (endpoint: Endpoint, inbox: Inbox, reader: Reader): Socket.Reader<Uint8Array>["upgrade"] =>
  (options = {}) =>
    Effect.suspend(() => {
      const raw = endpoint.raw
      if (raw instanceof Tls.TLSSocket || raw.destroyed || reader.error !== undefined) {
        return Effect.fail(upgradeError(new Error("socket is already upgraded or closed")))
      }
      if ((options.key === undefined) !== (options.cert === undefined)) {
        return Effect.fail(upgradeError(new Error("TLS upgrade credentials must include both key and cert")))
      }
      return Effect.callback<void, Socket.SocketError>((resume) => {
        inbox.detach()
        let tls: Tls.TLSSocket
        try {
          tls = Tls.connect({
            socket: raw,
            secureContext: secureContextOf(options),
            servername: options.servername,
            rejectUnauthorized: options.rejectUnauthorized,
            ALPNProtocols: options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols]
          })
        } catch (cause) {
          inbox.attach()
          return resume(Effect.fail(upgradeError(cause)))
        }
        // As the kernel socket's: an error nobody reads must not crash the process.
        tls.on("error", () => {})
        tls.pause()
        endpoint.raw = tls
        const cleanup = () => {
          tls.off("secureConnect", succeed)
          tls.off("error", failed)
          tls.off("close", onClose)
        }
        const succeed = () => {
          cleanup()
          inbox.attach()
          resume(Effect.void)
        }
        const failed = (cause: unknown) => {
          cleanup()
          const error = upgradeError(cause)
          reader.fail(error)
          resume(Effect.fail(error))
        }
        const onClose = () => failed(new Error("socket closed during TLS upgrade"))
        tls.once("secureConnect", succeed)
        tls.once("error", failed)
        tls.once("close", onClose)
        return Effect.sync(() => {
          cleanup()
          reader.fail(closeError(1006))
          tls.destroy()
        })
      })
    })

const acquireReader = (endpoint: Endpoint, inbox: Inbox): Socket.Socket["reader"] =>
  Effect.flatMap(Effect.scope, (scope) => {
    const reader = new Reader(inbox)
    inbox.add(reader)
    return Effect.as(
      Scope.addFinalizer(
        scope,
        Effect.sync(() => {
          // The scope is this reader's, not the connection's: its suspended pull fails (1006).
          reader.fail(closeError(1006))
          inbox.remove(reader)
        })
      ),
      { pull: reader.pull, upgrade: upgradeWith(endpoint, inbox, reader) } satisfies Socket.Reader<Uint8Array>
    )
  })

/** Waits for 'drain' after a write that filled the buffer; fails typed if the connection dies first. */
const drained = (endpoint: Endpoint): Effect.Effect<void, Socket.SocketError> =>
  Effect.callback((resume) => {
    const socket = endpoint.raw
    const cleanup = () => {
      socket.off("drain", onDrain)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(writeError(typed(endpoint, cause, "write"))))
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(writeError(unwritable(endpoint) ?? ConnectError.make("EPIPE", { syscall: "write" }))))
    }
    socket.on("drain", onDrain)
    socket.on("error", onError)
    socket.on("close", onClose)
    return Effect.sync(cleanup)
  })

/** Destroys the connection for a `CloseEvent`, as `fromDuplex` does. */
const closeWith = (endpoint: Endpoint, event: Socket.CloseEvent): void => {
  if (endpoint.raw.destroyed) return
  endpoint.closeCode = event.code
  endpoint.raw.destroy()
}

const write = (
  endpoint: Endpoint,
  chunk: Uint8Array | string | Socket.CloseEvent
): Effect.Effect<void, Socket.SocketError> =>
  Effect.suspend(() => {
    if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) {
      closeWith(endpoint, chunk)
      return Effect.void
    }
    const refused = unwritable(endpoint)
    if (refused !== undefined) return Effect.fail(writeError(refused))
    return endpoint.raw.write(chunk) ? Effect.void : drained(endpoint)
  })

const writeAll = (
  endpoint: Endpoint,
  chunks: NonEmptyReadonlyArray<Uint8Array | string>
): Effect.Effect<void, Socket.SocketError> =>
  Effect.suspend(() => {
    const refused = unwritable(endpoint)
    if (refused !== undefined) return Effect.fail(writeError(refused))
    const socket = endpoint.raw
    if (chunks.length === 1) return socket.write(chunks[0]) ? Effect.void : drained(endpoint)
    socket.cork()
    let full = false
    for (let i = 0; i < chunks.length; i++) full = !socket.write(chunks[i]!) || full
    socket.uncork()
    return full ? drained(endpoint) : Effect.void
  })

/**
 * The connection as an `effect/socket` `Socket`. The writer's scope release half-closes
 * (`end()`, shutdown(SHUT_WR)), as `fromDuplex`'s does; the reader is this module's own.
 */
export const effectSocket = (endpoint: Endpoint): Socket.Socket => {
  const inbox = new Inbox(endpoint)
  const writer: Socket.Writer = {
    write: (chunk) => write(endpoint, chunk),
    writeAll: (chunks) => writeAll(endpoint, chunks)
  }
  return Socket.make({
    reader: acquireReader(endpoint, inbox),
    writer: Effect.as(
      Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (!endpoint.raw.destroyed && !endpoint.raw.writableEnded) endpoint.raw.end()
        })
      ),
      writer
    )
  })
}
