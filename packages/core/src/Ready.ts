/**
 * Readiness beyond connect: a server that listens is not always ready (PostgreSQL replaying
 * its WAL after a crash, Redis loading its dataset). A probe speaks just enough of the server's
 * protocol over a connected `effect/socket` `Socket` to tell ready from not ready, and a
 * not-ready answer is a typed error, {@link NotReady}, carrying the server's own words and a
 * retry class that `Retry.classify` reads, so it is retried with backoff like ECONNREFUSED.
 *
 * | probe | sends | ready when | not ready (transient) | permanent |
 * |---|---|---|---|---|
 * | `postgres` | SSLRequest, then a StartupMessage | an authentication request, or any error but the two on the right (libpq's PQping rule) | 57P03: starting up, shutting down, in recovery; 53300: too many connections | a reply that is not the protocol |
 * | `redis` | `PING` | `+PONG`, or `-NOAUTH` (a password is set) | `-LOADING`, `-BUSY`, `-MASTERDOWN` | any other error (`-DENIED`) |
 * | `mysql` | nothing | the HandshakeV10 greeting | ERR 1040: too many connections | other ERR packets (1129, 1130) |
 * | `http[:PATH]` | `GET PATH` (default `/`) | 2xx, 3xx | 5xx, 408, 429 | other 4xx |
 * | `tls` | a TLS ClientHello | the handshake completes (the certificate is not verified: readiness, not trust) | a failed handshake | no TLS on this platform (`Unsupported`) |
 * | `expect:SEND=>EXPECT` | SEND | the reply contains EXPECT | a reply that ends or fills the cap without it | |
 *
 * A connection that closes or resets before the answer is `closed`, and no answer before the
 * deadline is `no-answer`: both transient.
 *
 * **Details**
 *
 * - Platform-neutral: probes only read and write the `Socket`, so they run on the in-memory
 *   network too. The `tls` probe is the `Socket` reader's own `upgrade`: on `@dial/node` that is
 *   node:tls over the connected kernel socket (Effect's `NodeSocket`); a transport without TLS
 *   (the testkit's) answers `Unsupported`.
 * - Bounded: every probe reads at most `maxBytes` (default 64 KiB) and ends by its `deadline`
 *   (default 5 s), on Effect's `Clock`.
 * - PostgreSQL with TLS: when the server answers the SSLRequest with `S` (it offers TLS), the
 *   probe does not negotiate TLS but opens a second, plain connection for the startup exchange,
 *   as libpq's `sslmode=prefer` falls back. That needs a way to connect: pass an effect that
 *   connects rather than one `Socket` (with one `Socket`, an `S` answer is `Unsupported`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network, Ready } from "@dial/core"
 *
 * // Connect, then ask the server whether it takes queries.
 * const check = Effect.gen(function*() {
 *   const probe = yield* Effect.fromResult(Ready.parse("postgres"))
 *   const connect = Effect.flatMap(Network.connect("127.0.0.1:5432"), (handle) => handle.socket)
 *   return yield* Ready.check(connect, probe)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as DialError from "./DialError.ts"
import * as internalInput from "./internal/input.ts"
import * as internal from "./internal/ready.ts"
import * as InvalidInput from "./InvalidInput.ts"

/**
 * A readiness probe, as data. Build one with {@link parse} or the constructors.
 *
 * @example
 * ```ts
 * import type { Ready } from "@dial/core"
 *
 * const name = (p: Ready.Probe) => p._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Probe =
  | { readonly _tag: "Postgres"; readonly user: string; readonly database: string }
  | { readonly _tag: "Redis" }
  | { readonly _tag: "Mysql" }
  | { readonly _tag: "Http"; readonly path: string; readonly host: string }
  | { readonly _tag: "Tls"; readonly servername?: string | undefined }
  | { readonly _tag: "Expect"; readonly send: Uint8Array; readonly expect: Uint8Array; readonly text: string }

/**
 * The PostgreSQL probe. The startup packet names `user` and `database` (default `postgres`):
 * a role that does not exist still proves the server takes connections.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * const probe = Ready.postgres({ user: "app" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const postgres = (options?: {
  readonly user?: string | undefined
  readonly database?: string | undefined
}): Probe => {
  // Total: options that cannot be read leave their refusal in the probe, for `check` to fail with.
  const read = InvalidInput.options("options", options, ["user", "database"])
  if (Result.isFailure(read)) return { _tag: "Postgres", user: read.failure as never, database: read.failure as never }
  const user = (read.success.user ?? "postgres") as string
  return { _tag: "Postgres", user, database: (read.success.database ?? user) as string }
}

/**
 * The Redis probe: `PING`.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * Ready.redis._tag // "Redis"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const redis: Probe = { _tag: "Redis" }

/**
 * The MySQL/MariaDB probe: the server's greeting.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * Ready.mysql._tag // "Mysql"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mysql: Probe = { _tag: "Mysql" }

/**
 * The HTTP probe: `GET path` with `Host: host` (default `localhost`), judged by status class.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * const probe = Ready.http("/healthz")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const http = (path = "/", host = "localhost"): Probe => ({ _tag: "Http", path, host })

/**
 * The TLS probe: a handshake over the connected socket, without verifying the certificate.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * const probe = Ready.tls({ servername: "db.internal" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const tls = (options?: { readonly servername?: string | undefined }): Probe => ({
  _tag: "Tls",
  // Total: options that cannot be read leave their refusal in the probe, for `check` to fail with.
  servername: Result.match(InvalidInput.options("options", options, ["servername"]), {
    onFailure: (refusal) => refusal as never,
    onSuccess: (read) => read.servername as string | undefined
  })
})

/**
 * The send/expect probe: send `send`, then wait for a reply containing `expect`. An empty
 * `send` only reads (a banner, e.g. `SSH-`).
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * const probe = Ready.expect("ping\n", "pong")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const expect = (send: string | Uint8Array, expected: string | Uint8Array): Probe => {
  // Total: a value that is neither a string nor bytes is kept as it is, and `check` refuses it.
  const bytes = (value: string | Uint8Array) => (typeof value === "string" ? internal.encoder.encode(value) : value)
  const shown = (value: unknown) => {
    try {
      return value instanceof Uint8Array ? internal.words(value) : "?"
    } catch {
      // `instanceof` runs a proxy's getPrototypeOf trap.
      return "?"
    }
  }
  const sent = bytes(send)
  const wanted = bytes(expected)
  return { _tag: "Expect", send: sent, expect: wanted, text: `expect:${shown(sent)}=>${shown(wanted)}` }
}

/**
 * The longest probe text {@link parse} reads, and the longest field (path, host, user, server
 * name, send or expect bytes) {@link check} accepts in a probe: 8192.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Ready } from "@dial/core"
 *
 * Result.isFailure(Ready.parse(`http:/${"a".repeat(Ready.maxTextLength)}`)) // true
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const maxTextLength = 8192

/**
 * Reads a probe from its command-line form: `postgres`, `redis`, `mysql` (or `mariadb`),
 * `http`, `http:/PATH`, `tls`, `expect:SEND=>EXPECT`. In SEND and EXPECT, `\r`, `\n`, `\t`,
 * `\0`, `\\` and `\xHH` are escapes. Anything else is `InvalidInput` for the field `ready`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Ready } from "@dial/core"
 *
 * Result.isSuccess(Ready.parse("http:/healthz")) // true
 * Result.isFailure(Ready.parse("ftp")) // true
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (text: string): Result.Result<Probe, InvalidInput.InvalidInput> => {
  const bad = (reason: string) => Result.fail(InvalidInput.make("ready", text, reason))
  if (typeof text !== "string") return bad("expected a string")
  if (text.length > maxTextLength) return bad(`a probe is at most ${maxTextLength} characters (got ${text.length})`)
  switch (text) {
    case "postgres":
    case "postgresql":
      return Result.succeed(postgres())
    case "redis":
      return Result.succeed(redis)
    case "mysql":
    case "mariadb":
      return Result.succeed(mysql)
    case "http":
      return Result.succeed(http())
    case "tls":
      return Result.succeed(tls())
  }
  if (text.startsWith("http:")) {
    const path = text.slice(5)
    // The path goes into a request line: no spaces or control bytes, and it starts with "/".
    if (!httpPath.test(path)) return bad("an http path starts with / and has no spaces")
    return Result.succeed(http(path))
  }
  if (text.startsWith("expect:")) {
    const body = text.slice(7)
    const arrow = body.indexOf("=>")
    if (arrow === -1) return bad("expected expect:SEND=>EXPECT")
    const send = internal.unescapeText(body.slice(0, arrow))
    const wanted = internal.unescapeText(body.slice(arrow + 2))
    if (typeof send === "string") return bad(send)
    if (typeof wanted === "string") return bad(wanted)
    if (wanted.byteLength === 0) return bad("EXPECT must not be empty")
    return Result.succeed(expect(send, wanted))
  }
  return bad("expected postgres, redis, mysql, http[:PATH], tls or expect:SEND=>EXPECT")
}

/**
 * A probe's name as the reports print it.
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * Ready.format(Ready.http("/healthz")) // "http:/healthz"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (probe: Probe): string => {
  switch (probe._tag) {
    case "Postgres":
      return "postgres"
    case "Redis":
      return "redis"
    case "Mysql":
      return "mysql"
    case "Http":
      return probe.path === "/" ? "http" : `http:${probe.path}`
    case "Tls":
      return "tls"
    case "Expect":
      return probe.text
  }
}

/**
 * The states a {@link NotReady} tells apart: `starting`, `shutting-down`, `recovering` and
 * `too-many-connections` (postgres, mysql), `loading`, `busy`, `master-down` (redis),
 * `rejected` (the server refused this client), `status` (an HTTP status), `mismatch` (expect),
 * `handshake-failed` (tls), `closed`, `no-answer`, `unexpected` (not the protocol).
 *
 * @example
 * ```ts
 * import { Ready } from "@dial/core"
 *
 * Ready.State.literals.includes("loading") // true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const State = Schema.Literals([
  "starting",
  "shutting-down",
  "recovering",
  "too-many-connections",
  "loading",
  "busy",
  "master-down",
  "rejected",
  "status",
  "mismatch",
  "handshake-failed",
  "closed",
  "no-answer",
  "unexpected"
])

/**
 * The server answered, and not with "ready". `reply` is the server's own words (a FATAL
 * message, a `-LOADING` line, a status line); `retryClass` says whether waiting can help:
 * `Retry.classify` answers it, so `Retry.transient` retries a transient one with backoff.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ready } from "@dial/core"
 *
 * declare const check: Effect.Effect<Ready.Answer, Ready.NotReady>
 * const state = check.pipe(Effect.catchTag("NotReady", (e) => Effect.succeed(e.state)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", {
  probe: Schema.String,
  state: State,
  reply: Schema.String,
  retryClass: Schema.Literals(["transient", "permanent"])
}) {
  override get message(): string {
    return `${this.probe}: not ready (${this.state}): ${this.reply}`
  }
}

/**
 * What a ready server said.
 *
 * @example
 * ```ts
 * import type { Ready } from "@dial/core"
 *
 * const line = (a: Ready.Answer) => `${a.probe}: ${a.reply}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Answer {
  readonly probe: string
  readonly reply: string
}

/**
 * Options of {@link check}.
 *
 * @example
 * ```ts
 * import type { Ready } from "@dial/core"
 *
 * const options: Ready.CheckOptions = { deadline: "2 seconds", maxBytes: 4096 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckOptions {
  /** The whole probe ends by then with `no-answer`. Default 5 s. */
  readonly deadline?: Duration.Input | undefined
  /** Reads at most this many bytes of the server's answer. Default 65536. */
  readonly maxBytes?: number | undefined
}

/**
 * A connected socket, or an effect that connects one (in a scope the probe closes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network, type Ready } from "@dial/core"
 *
 * const connection: Ready.Connection<unknown, never> = Effect.flatMap(Network.connect("127.0.0.1:6379"), (h) => h.socket)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Connection<E, R> = Socket.Socket | Effect.Effect<Socket.Socket, E, R>

const closedWords = (error: Socket.SocketError): string =>
  error.reason._tag === "SocketCloseError"
    ? "connection closed before an answer"
    : `connection failed: ${error.message}`

/** One conversation over one socket: writes, and reads through parsers, at most `maxBytes` in all. */
const converse = (socket: Socket.Socket, maxBytes: number, heard: { bytes: Uint8Array }) =>
  Effect.gen(function* () {
    const writer = yield* socket.writer
    let ended: string | undefined
    // A peer that closed before we read fails the reader's acquisition: that is end of input.
    const opened = yield* Effect.result(socket.reader)
    if (Result.isFailure(opened)) ended = closedWords(opened.failure)
    const reader = Result.isSuccess(opened) ? opened.success : undefined
    let buffer: Uint8Array = new Uint8Array(0)
    let total = 0
    const send = (bytes: Uint8Array) =>
      bytes.byteLength === 0
        ? Effect.void
        : Effect.catch(writer.write(bytes), (error) => Effect.sync(() => (ended ??= closedWords(error))))
    const read = <A>(parse: internal.Parser<A>): Effect.Effect<A> =>
      Effect.gen(function* () {
        while (true) {
          const final = ended !== undefined || total >= maxBytes
          const parsed = parse(buffer, final)
          if (parsed !== undefined) {
            buffer = buffer.subarray(parsed.used)
            return parsed.value
          }
          if (final || reader === undefined) return yield* Effect.die("a probe parser did not decide on final input")
          const pulled = yield* Effect.result(reader.pull)
          if (Result.isFailure(pulled)) {
            ended = closedWords(pulled.failure)
            continue
          }
          for (const chunk of pulled.success) {
            const bytes = typeof chunk === "string" ? internal.encoder.encode(chunk) : chunk
            const room = maxBytes - total
            const kept = bytes.byteLength > room ? bytes.subarray(0, room) : bytes
            total += kept.byteLength
            buffer = internal.concat(buffer, kept)
            heard.bytes = buffer
          }
        }
      })
    const upgrade = (options: Socket.TlsUpgradeOptions) =>
      Result.isFailure(opened)
        ? Effect.succeed(Result.fail(opened.failure))
        : Effect.result(opened.success.upgrade(options))
    return { send, read, upgrade, closed: () => ended }
  })

type Outcome = internal.Verdict | "S"

const notReadyOf = (probe: Probe, verdict: internal.Verdict & { readonly _tag: "NotReady" }) =>
  new NotReady({ probe: format(probe), state: verdict.state, reply: verdict.reply, retryClass: verdict.retryClass })

/** One probe over one socket. `"S"`: a PostgreSQL server that offered TLS; the caller goes on without it. */
const speak = (probe: Probe, socket: Socket.Socket, maxBytes: number, ssl: boolean, heard: { bytes: Uint8Array }) =>
  Effect.gen(function* () {
    const io = yield* converse(socket, maxBytes, heard)
    switch (probe._tag) {
      case "Postgres": {
        if (ssl) {
          yield* io.send(internal.pgSslRequest)
          const answer = yield* io.read(internal.pgSslAnswer)
          if (answer === "S") return "S" as Outcome
          if (answer !== "N") return answer
        }
        yield* io.send(internal.pgStartup(probe.user, probe.database))
        return yield* io.read(internal.pgMessage)
      }
      case "Redis":
        yield* io.send(internal.redisPing)
        return yield* io.read(internal.redisReply)
      case "Mysql":
        return yield* io.read(internal.mysqlGreeting)
      case "Http":
        yield* io.send(internal.httpRequest(probe.path, probe.host))
        return yield* io.read(internal.httpStatus)
      case "Expect":
        yield* io.send(probe.send)
        return yield* io.read(internal.expectReply(probe.expect))
      case "Tls": {
        const done = yield* io.upgrade({ rejectUnauthorized: false, servername: probe.servername })
        if (Result.isSuccess(done)) return internal.ready("TLS handshake completed") as Outcome
        const reason = done.failure.reason
        if (reason._tag === "SocketUpgradeError" && reason.cause === undefined) {
          return yield* Effect.fail(DialError.unsupported("a TLS handshake over this socket", "this transport"))
        }
        const cause: unknown = Predicate.hasProperty(reason, "cause") ? reason.cause : undefined
        const words =
          Predicate.hasProperty(cause, "message") && typeof cause.message === "string" ? cause.message : reason.message
        return internal.notReady("handshake-failed", words)
      }
    }
  }).pipe(Effect.scoped)

const defaultDeadline = Duration.seconds(5)

// No whitespace or control characters: these go into a request line, a header or a handshake.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control bytes is the point
const printable = /^[^\s\u0000-\u001f\u007f]+$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control bytes is the point
const httpPath = /^\/[^\s\u0000-\u001f\u007f]*$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL ends a field of the startup message
const noNul = /^[^\u0000]+$/

/**
 * A probe from any value, rebuilt from its checked fields (a probe is plain data that anyone
 * can write, or a constructor was given the wrong types): the copy, or the `InvalidInput` of
 * the first bad field.
 */
const checkProbe = (input: unknown): Result.Result<Probe, InvalidInput.InvalidInput> =>
  internalInput.guard("probe", input, () => {
    const bad = (field: string, value: unknown, reason: string) => Result.fail(InvalidInput.make(field, value, reason))
    if (typeof input !== "object" || input === null) return bad("probe", input, "expected a Ready probe")
    const fields = input as Record<string, unknown>
    // A constructor that could not read its options left the refusal in the field.
    const text = (field: string, value: unknown, pattern: RegExp, expected: string) =>
      value instanceof InvalidInput.InvalidInput
        ? Result.fail(value)
        : typeof value !== "string" || value.length > maxTextLength || !pattern.test(value)
          ? bad(field, value, `${expected}, at most ${maxTextLength} characters`)
          : Result.succeed(value)
    const bytes = (field: string, value: unknown, empty: "allow" | "refuse") =>
      !(value instanceof Uint8Array) ||
      value.byteLength > maxTextLength ||
      (empty === "refuse" && value.byteLength === 0)
        ? bad(field, value, `expected ${empty === "refuse" ? "non-empty " : ""}bytes, at most ${maxTextLength}`)
        : Result.succeed(Uint8Array.from(value))
    const tag: unknown = fields._tag
    switch (tag) {
      case "Redis":
        return Result.succeed(redis)
      case "Mysql":
        return Result.succeed(mysql)
      case "Postgres":
        return Result.gen(function* () {
          const user = yield* text("user", fields.user, noNul, "expected a non-empty string without NUL")
          const database = yield* text("database", fields.database, noNul, "expected a non-empty string without NUL")
          return { _tag: "Postgres", user, database } as const
        })
      case "Http":
        return Result.gen(function* () {
          const path = yield* text("path", fields.path, httpPath, "expected a path starting with / and no spaces")
          const host = yield* text("host", fields.host, printable, "expected a host name without spaces")
          return { _tag: "Http", path, host } as const
        })
      case "Tls": {
        const servername = fields.servername
        if (servername === undefined) return Result.succeed({ _tag: "Tls", servername: undefined } as const)
        return Result.map(
          text("servername", servername, printable, "expected a server name without spaces"),
          (name) => ({
            _tag: "Tls" as const,
            servername: name
          })
        )
      }
      case "Expect":
        return Result.gen(function* () {
          const send = yield* bytes("send", fields.send, "allow")
          const wanted = yield* bytes("expect", fields.expect, "refuse")
          return expect(send, wanted)
        })
    }
    return bad("probe", input, "expected a Ready probe (Postgres, Redis, Mysql, Http, Tls or Expect)")
  })

const isConnection = (u: unknown): boolean => {
  try {
    return Socket.isSocket(u) || Effect.isEffect(u)
  } catch {
    // A proxy whose traps throw is no connection.
    return false
  }
}

/**
 * Asks the server whether it is ready: succeeds with its {@link Answer}, or fails with
 * {@link NotReady} (the server's words and a retry class). `Unsupported` when the transport
 * cannot do what the probe needs (TLS); the connect effect's own errors pass through. Every
 * socket the probe connects is closed when it returns.
 *
 * `InvalidInput`, before anything connects, for: a `connection` that is neither a `Socket` nor
 * an Effect (or an Effect that succeeds with something else), a probe that the constructors
 * would not make (it is plain data: an unknown `_tag`, a path or host with spaces or control
 * characters, a user with NUL, empty `expect` bytes, a field over {@link maxTextLength}, or
 * options a constructor could not read), and a bad `deadline` or `maxBytes`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network, Ready, Retry } from "@dial/core"
 *
 * // Wait for Redis to finish loading: NotReady("loading") is transient, so it is retried.
 * const untilReady = Ready.check(
 *   Effect.flatMap(Network.connect("127.0.0.1:6379"), (h) => h.socket),
 *   Ready.redis,
 *   { deadline: "1 second" }
 * ).pipe(Effect.scoped, Effect.retry(Retry.transient({ maxElapsed: "30 seconds" })))
 *
 * // Data-last, over a socket you already hold.
 * const overSocket = (socket: import("effect/socket").Socket.Socket) => Ready.check(Ready.mysql)(socket)
 * ```
 *
 * @category probing
 * @since 0.1.0
 */
export const check: {
  (
    probe: Probe,
    options?: CheckOptions
  ): <E = never, R = never>(
    connection: Connection<E, R>
  ) => Effect.Effect<Answer, NotReady | DialError.Unsupported | InvalidInput.InvalidInput | E, Exclude<R, Scope.Scope>>
  <E = never, R = never>(
    connection: Connection<E, R>,
    probe: Probe,
    options?: CheckOptions
  ): Effect.Effect<Answer, NotReady | DialError.Unsupported | InvalidInput.InvalidInput | E, Exclude<R, Scope.Scope>>
} = dual(
  (args) => isConnection(args[0]),
  <E, R>(
    connection: Connection<E, R>,
    probeInput: Probe,
    optionsInput?: CheckOptions
  ): Effect.Effect<Answer, NotReady | DialError.Unsupported | InvalidInput.InvalidInput | E, Exclude<R, Scope.Scope>> =>
    Effect.gen(function* () {
      if (!isConnection(connection)) {
        return yield* InvalidInput.make("connection", connection, "expected a Socket or an Effect of one")
      }
      const probe = yield* Effect.fromResult(checkProbe(probeInput))
      const options = yield* Effect.fromResult(InvalidInput.options("options", optionsInput, ["deadline", "maxBytes"]))
      const deadline = yield* Effect.fromResult(
        InvalidInput.duration("deadline", (options.deadline ?? defaultDeadline) as Duration.Input)
      )
      const maxBytes = options.maxBytes ?? 65536
      if (typeof maxBytes !== "number" || !Number.isSafeInteger(maxBytes) || maxBytes < 1) {
        return yield* InvalidInput.make("maxBytes", maxBytes, "expected a positive integer")
      }
      const single = Socket.isSocket(connection)
      const notASocket = (value: unknown) =>
        InvalidInput.make("connection", value, "the connection effect did not succeed with a Socket")
      const open = (): Effect.Effect<Socket.Socket, E | InvalidInput.InvalidInput, R> =>
        single
          ? Effect.succeed(connection)
          : Effect.flatMap(connection as Effect.Effect<unknown, E, R>, (socket) =>
              isConnection(socket) && Socket.isSocket(socket) ? Effect.succeed(socket) : Effect.fail(notASocket(socket))
            )
      // What the server said before the deadline, for the no-answer report.
      const heard = { bytes: new Uint8Array(0) }
      const once = (ssl: boolean) =>
        Effect.scoped(Effect.flatMap(open(), (socket) => speak(probe, socket, maxBytes, ssl, heard))) as Effect.Effect<
          Outcome,
          E | DialError.Unsupported | InvalidInput.InvalidInput,
          Exclude<R, Scope.Scope>
        >
      const run = Effect.gen(function* () {
        let outcome = yield* once(true)
        if (outcome === "S") {
          if (single) {
            return yield* Effect.fail(
              DialError.unsupported("a PostgreSQL startup after the server offered TLS, on one socket", "Ready.check")
            )
          }
          outcome = yield* once(false)
        }
        return outcome as internal.Verdict
      })
      const verdict = yield* Effect.timeoutOrElse(run, {
        duration: deadline,
        orElse: () =>
          Effect.succeed(
            internal.notReady(
              "no-answer",
              heard.bytes.byteLength === 0
                ? `no answer within ${Duration.format(deadline)}`
                : `no complete answer within ${Duration.format(deadline)}; read: ${internal.words(heard.bytes)}`
            )
          )
      })
      if (verdict._tag === "NotReady") return yield* Effect.fail(notReadyOf(probe, verdict))
      return { probe: format(probe), reply: verdict.reply }
    })
)
