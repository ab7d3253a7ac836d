/**
 * One tagged error per errno, so a failed connect reads like the man page:
 * `Effect.catchTag("ECONNREFUSED", ...)`.
 *
 * Every error carries the errno's name (its `_tag`) and Linux number, the syscall that failed
 * (`connect`, or `bind` when a requested local port was taken), the remote address, the local
 * address when known, the man page's meaning, and the original cause. Codes the library does
 * not know become `UnknownErrno`, which keeps the code.
 *
 * Build them with {@link make}; read a runtime's error with `SystemError.fromUnknown`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Errno from "./Errno.ts"
import { fieldOf } from "./internal/field.ts"
import { stackless } from "./internal/stackless.ts"
import * as trusted from "./internal/trusted.ts"
import * as SockAddr from "./SockAddr.ts"

/**
 * The system call that failed. `send` and `recv` are a connected datagram socket's: the
 * ECONNREFUSED of an ICMP port-unreachable arrives on them, not on `connect`. `read`, `write`
 * and `shutdown` are a connected stream's: the ECONNRESET, EPIPE or ETIMEDOUT of a connection's
 * life after connect.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * Schema.is(ConnectError.Syscall)("bind") // true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Syscall = Schema.Literals(["connect", "bind", "send", "recv", "socket", "read", "write", "shutdown"])

/**
 * @example
 * ```ts
 * import type { ConnectError } from "@dial/core"
 *
 * const syscall: ConnectError.Syscall = "connect"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Syscall = typeof Syscall.Type

/**
 * The fields every errno error has.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const Report = Schema.Struct(ConnectError.fields)
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const fields = {
  /** The Linux errno number. */
  errno: Schema.Number,
  syscall: Syscall,
  /** The remote address the connect was for. */
  address: Schema.optional(SockAddr.schema),
  /** The local address, when it was requested or is known. */
  localAddress: Schema.optional(SockAddr.schema),
  /** What connect(2) says the errno means. */
  meaning: Schema.String,
  message: Schema.String,
  /** The runtime's own error, kept for debugging. */
  cause: Schema.optional(Schema.Defect())
}
/**
 * EACCES: see `Errno.table.EACCES`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EACCES", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EACCES", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EACCES extends Schema.TaggedError<EACCES>()("EACCES", fields) {}
/**
 * EPERM: see `Errno.table.EPERM`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EPERM", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EPERM", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EPERM extends Schema.TaggedError<EPERM>()("EPERM", fields) {}
/**
 * EADDRINUSE: see `Errno.table.EADDRINUSE`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EADDRINUSE", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EADDRINUSE", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EADDRINUSE extends Schema.TaggedError<EADDRINUSE>()("EADDRINUSE", fields) {}
/**
 * EADDRNOTAVAIL: see `Errno.table.EADDRNOTAVAIL`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EADDRNOTAVAIL", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EADDRNOTAVAIL", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EADDRNOTAVAIL extends Schema.TaggedError<EADDRNOTAVAIL>()("EADDRNOTAVAIL", fields) {}
/**
 * EAFNOSUPPORT: see `Errno.table.EAFNOSUPPORT`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EAFNOSUPPORT", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EAFNOSUPPORT", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EAFNOSUPPORT extends Schema.TaggedError<EAFNOSUPPORT>()("EAFNOSUPPORT", fields) {}
/**
 * EAGAIN: see `Errno.table.EAGAIN`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EAGAIN", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EAGAIN", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EAGAIN extends Schema.TaggedError<EAGAIN>()("EAGAIN", fields) {}
/**
 * EALREADY: see `Errno.table.EALREADY`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EALREADY", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EALREADY", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EALREADY extends Schema.TaggedError<EALREADY>()("EALREADY", fields) {}
/**
 * EBADF: see `Errno.table.EBADF`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EBADF", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EBADF", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EBADF extends Schema.TaggedError<EBADF>()("EBADF", fields) {}
/**
 * ECONNREFUSED: see `Errno.table.ECONNREFUSED`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ECONNREFUSED", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ECONNREFUSED", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ECONNREFUSED extends Schema.TaggedError<ECONNREFUSED>()("ECONNREFUSED", fields) {}
/**
 * EFAULT: see `Errno.table.EFAULT`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EFAULT", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EFAULT", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EFAULT extends Schema.TaggedError<EFAULT>()("EFAULT", fields) {}
/**
 * EINPROGRESS: see `Errno.table.EINPROGRESS`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EINPROGRESS", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EINPROGRESS", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EINPROGRESS extends Schema.TaggedError<EINPROGRESS>()("EINPROGRESS", fields) {}
/**
 * EINTR: see `Errno.table.EINTR`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EINTR", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EINTR", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EINTR extends Schema.TaggedError<EINTR>()("EINTR", fields) {}
/**
 * EISCONN: see `Errno.table.EISCONN`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EISCONN", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EISCONN", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EISCONN extends Schema.TaggedError<EISCONN>()("EISCONN", fields) {}
/**
 * ENETUNREACH: see `Errno.table.ENETUNREACH`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ENETUNREACH", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ENETUNREACH", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ENETUNREACH extends Schema.TaggedError<ENETUNREACH>()("ENETUNREACH", fields) {}
/**
 * ENOTSOCK: see `Errno.table.ENOTSOCK`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ENOTSOCK", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ENOTSOCK", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ENOTSOCK extends Schema.TaggedError<ENOTSOCK>()("ENOTSOCK", fields) {}
/**
 * EPROTOTYPE: see `Errno.table.EPROTOTYPE`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EPROTOTYPE", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EPROTOTYPE", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EPROTOTYPE extends Schema.TaggedError<EPROTOTYPE>()("EPROTOTYPE", fields) {}
/**
 * ETIMEDOUT: see `Errno.table.ETIMEDOUT`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ETIMEDOUT", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ETIMEDOUT", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ETIMEDOUT extends Schema.TaggedError<ETIMEDOUT>()("ETIMEDOUT", fields) {}
/**
 * ENOENT: see `Errno.table.ENOENT`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ENOENT", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ENOENT", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ENOENT extends Schema.TaggedError<ENOENT>()("ENOENT", fields) {}
/**
 * ECONNRESET: see `Errno.table.ECONNRESET`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ECONNRESET", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ECONNRESET", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ECONNRESET extends Schema.TaggedError<ECONNRESET>()("ECONNRESET", fields) {}
/**
 * ECONNABORTED: see `Errno.table.ECONNABORTED`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ECONNABORTED", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ECONNABORTED", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ECONNABORTED extends Schema.TaggedError<ECONNABORTED>()("ECONNABORTED", fields) {}
/**
 * EHOSTUNREACH: see `Errno.table.EHOSTUNREACH`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EHOSTUNREACH", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EHOSTUNREACH", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EHOSTUNREACH extends Schema.TaggedError<EHOSTUNREACH>()("EHOSTUNREACH", fields) {}
/**
 * ENETDOWN: see `Errno.table.ENETDOWN`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ENETDOWN", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ENETDOWN", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ENETDOWN extends Schema.TaggedError<ENETDOWN>()("ENETDOWN", fields) {}
/**
 * EINVAL: see `Errno.table.EINVAL`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EINVAL", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EINVAL", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EINVAL extends Schema.TaggedError<EINVAL>()("EINVAL", fields) {}
/**
 * ENOTCONN: see `Errno.table.ENOTCONN`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("ENOTCONN", { syscall: "connect" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("ENOTCONN", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ENOTCONN extends Schema.TaggedError<ENOTCONN>()("ENOTCONN", fields) {}
/**
 * EPIPE: see `Errno.table.EPIPE`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.make("EPIPE", { syscall: "write" })
 * const handled = Effect.fail(error).pipe(Effect.catchTag("EPIPE", (e) => Effect.succeed(e.errno)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EPIPE extends Schema.TaggedError<EPIPE>()("EPIPE", fields) {}
/**
 * A code the library has no tag for. `code` keeps the runtime's code (`"ENOBUFS"`,
 * `"ERR_SOMETHING"`), `errno` the number when there was one.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 *
 * const error = ConnectError.unknown("ENOBUFS", { errno: 105, syscall: "send" })
 * error.code // "ENOBUFS"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownErrno extends Schema.TaggedError<UnknownErrno>()("UnknownErrno", {
  ...fields,
  code: Schema.String,
  errno: Schema.optional(Schema.Number)
}) {}

/**
 * The error class of every errno name.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 *
 * new ConnectError.classes.ENOENT({ errno: 2, syscall: "connect", meaning: "…", message: "…" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const classes = {
  EACCES,
  EPERM,
  EADDRINUSE,
  EADDRNOTAVAIL,
  EAFNOSUPPORT,
  EAGAIN,
  EALREADY,
  EBADF,
  ECONNREFUSED,
  EFAULT,
  EINPROGRESS,
  EINTR,
  EISCONN,
  ENETUNREACH,
  ENOTSOCK,
  EPROTOTYPE,
  ETIMEDOUT,
  ENOENT,
  ECONNRESET,
  ECONNABORTED,
  EHOSTUNREACH,
  ENETDOWN,
  EINVAL,
  ENOTCONN,
  EPIPE
} as const

/**
 * The error type of an errno name.
 *
 * @example
 * ```ts
 * import type { ConnectError } from "@dial/core"
 *
 * type Refused = ConnectError.ByName["ECONNREFUSED"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ByName = { readonly [K in Errno.Name]: InstanceType<(typeof classes)[K]> }

/**
 * Any errno error: one of the known tags or `UnknownErrno`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { ConnectError } from "@dial/core"
 *
 * const describe = (e: ConnectError.ConnectError) => `${e._tag} (${e.errno ?? "?"}) from ${e.syscall}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ConnectError = ByName[Errno.Name] | UnknownErrno

/**
 * What a failure is about, for {@link make}: all optional.
 *
 * @example
 * ```ts
 * import type { ConnectError } from "@dial/core"
 *
 * const context: ConnectError.Context = { syscall: "bind" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Context {
  readonly syscall?: Syscall | undefined
  readonly address?: SockAddr.SockAddr | undefined
  readonly localAddress?: SockAddr.SockAddr | undefined
  readonly cause?: unknown
}

const describe = (syscall: Syscall, code: string, context: Context, meaning: string): string => {
  const where = context.address === undefined ? "" : ` ${SockAddr.format(context.address)}`
  const local = context.localAddress === undefined ? "" : ` (local ${SockAddr.format(context.localAddress)})`
  return `${syscall} ${code}${where}${local}: ${meaning}`
}

/** The fields every errno error is built from; `UnknownErrno` adds its `code`. */
interface Props {
  _tag: string
  code?: string
  errno?: number
  syscall: Syscall
  address?: SockAddr.SockAddr
  localAddress?: SockAddr.SockAddr
  meaning: string
  cause?: unknown
}

// The optional fields are left out rather than set to undefined (the Schema would encode them
// as present), and added one by one rather than deleted: a `delete` turns the object into a
// slow dictionary. `message` is not among them: it is computed when first read (below).
const fieldsOf = (
  _tag: string,
  errno: number | undefined,
  syscall: Syscall,
  meaning: string,
  context: Context
): Props => {
  const props: Props = { _tag, syscall, meaning }
  if (errno !== undefined) props.errno = errno
  if (context.address !== undefined) props.address = context.address
  if (context.localAddress !== undefined) props.localAddress = context.localAddress
  if (context.cause !== undefined) props.cause = context.cause
  return props
}

/**
 * The message of an error built by {@link make} or {@link unknown}, formatted when first read
 * (most refused connects are retried or matched by tag, and nobody reads it), then kept as an
 * own property, as one given to the constructor is. Formatting an address on every failure
 * was part of what a refused connect cost. Own and not enumerable, as `Error` makes it.
 */
const lazyMessage: PropertyDescriptor = {
  get(this: Props) {
    const message = describe(this.syscall, this.code ?? this._tag, this, this.meaning)
    Object.defineProperty(this, "message", { value: message, writable: true, enumerable: false, configurable: true })
    return message
  },
  // An assignment (`error.message = ...`) makes it the instance's own, as on any Error. (A
  // message given to the constructor is already the instance's own: `Error` defines it.)
  set(this: Props, message: string) {
    Object.defineProperty(this, "message", { value: message, writable: true, enumerable: false, configurable: true })
  },
  enumerable: false,
  configurable: true
}

/**
 * The error for an errno name, with number, meaning and message filled in from the table.
 * `syscall` defaults to `connect`. The fields are the library's own (the table's row, an
 * address already parsed), so they are not validated again; the message is computed when read.
 *
 * @example
 * ```ts
 * import { ConnectError, SockAddr } from "@dial/core"
 * import { Result } from "effect"
 *
 * const address = Result.getOrThrow(SockAddr.fromString("127.0.0.1:1"))
 * const error = ConnectError.make("ECONNREFUSED", { address })
 * error.message // "connect ECONNREFUSED 127.0.0.1:1: A connect() on a stream socket found no one listening …"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <K extends Errno.Name>(name: K, context: Context = {}): ByName[K] => {
  const row = Errno.info(name)
  const props = fieldsOf(name, row.number, context.syscall ?? "connect", row.meaning, context)
  return build(classes[name] as unknown as new (input: never) => ByName[K], props)
}

/**
 * The error for a code the library has no tag for.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 *
 * ConnectError.unknown("ENOBUFS", { errno: 105 }).errno // 105
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unknown = (
  code: string,
  context: Context & { readonly errno?: number | undefined } = {}
): UnknownErrno => {
  const meaning = `an error the library has no tag for (${code})`
  const errno = context.errno === undefined ? undefined : Math.abs(context.errno)
  const props = fieldsOf("UnknownErrno", errno, context.syscall ?? "connect", meaning, context)
  props.code = code
  return build(UnknownErrno, props)
}

/** Builds through Effect's trusted constructor, or, without one, the validating constructor. */
const build = <A>(Class: new (input: never) => A, props: Props): A => {
  if (trusted.construct !== undefined) return stackless(() => trusted.construct!(Class, props))
  const message = describe(props.syscall, props.code ?? props._tag, props, props.meaning)
  return stackless(() => new Class({ ...props, message } as never))
}

for (const Class of [...Object.values(classes), UnknownErrno]) {
  Object.defineProperty(Class.prototype, "message", lazyMessage)
}

const classByTag: Readonly<Record<string, Function>> = { ...classes, UnknownErrno }

/**
 * Whether a value is an errno error.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 *
 * ConnectError.isConnectError(ConnectError.make("EINTR")) // true
 * ConnectError.isConnectError(new Error("x")) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isConnectError = (u: unknown): u is ConnectError => {
  try {
    const tag = fieldOf(u, "_tag")
    if (typeof tag !== "string") return false
    const Class = Object.hasOwn(classByTag, tag) ? classByTag[tag] : undefined
    return Class !== undefined && u instanceof Class
  } catch {
    // A proxy whose traps throw is not an errno error.
    return false
  }
}

/**
 * A Schema of every errno error, for encoding failures (logs, JSON output, RPC).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ConnectError } from "@dial/core"
 *
 * Schema.is(ConnectError.schema)(ConnectError.make("ENOENT")) // true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const schema: Schema.Union<ReadonlyArray<(typeof classes)[Errno.Name] | typeof UnknownErrno>> = Schema.Union([
  ...Object.values(classes),
  UnknownErrno
])
