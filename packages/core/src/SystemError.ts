/**
 * Reads the errors runtimes throw (Node's `SystemError` and friends, which Bun and Deno copy)
 * into the library's typed errors, by their `code`, never by parsing the message.
 *
 * | runtime code | becomes |
 * |---|---|
 * | an errno name the table knows (`ECONNREFUSED`, …) | that tag |
 * | `ERR_SOCKET_DGRAM_IS_CONNECTED` | `EISCONN` |
 * | `ERR_SOCKET_DGRAM_NOT_CONNECTED` | `ENOTCONN` |
 * | `ERR_INVALID_FD_TYPE` | `ENOTSOCK` |
 * | `ABORT_ERR`, or a `DOMException` named `AbortError` (an `AbortSignal`'s reason) | `EINTR` |
 * | `ERR_SOCKET_BAD_PORT`, `ERR_INVALID_ARG_*`, `ERR_INVALID_IP_ADDRESS` | `InvalidInput` |
 * | an `AggregateError` (Node's multi-address connect) | `AllAttemptsFailed`, each inner error read |
 * | any other code | `UnknownErrno`, code and number kept |
 *
 * Node reports a taken `localPort` as EADDRINUSE from `bind`, with the *local* address in its
 * `address` and `port` fields: those go to `localAddress`.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as ConnectError from "./ConnectError.ts"
import * as DialError from "./DialError.ts"
import * as Errno from "./Errno.ts"
import * as InvalidInput from "./InvalidInput.ts"
import * as SockAddr from "./SockAddr.ts"
import { fieldOf } from "./internal/field.ts"

/**
 * What {@link fromUnknown} can produce.
 *
 * @example
 * ```ts
 * import type { SystemError } from "@dial/core"
 *
 * const tag = (e: SystemError.Mapped) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Mapped = ConnectError.ConnectError | InvalidInput.InvalidInput | DialError.AllAttemptsFailed

const syscalls: Readonly<Record<string, ConnectError.Syscall>> = {
  connect: "connect",
  bind: "bind",
  socket: "socket",
  // A stream's read(2)/write(2) (libuv reports writev too); a datagram's send/recv.
  write: "write",
  writev: "write",
  shutdown: "shutdown",
  read: "read",
  send: "send",
  sendmsg: "send",
  recv: "recv",
  recvmsg: "recv"
}

const nodeCodes: Readonly<Record<string, Errno.Name>> = {
  ERR_SOCKET_DGRAM_IS_CONNECTED: "EISCONN",
  ERR_SOCKET_DGRAM_NOT_CONNECTED: "ENOTCONN",
  ERR_INVALID_FD_TYPE: "ENOTSOCK",
  ABORT_ERR: "EINTR"
}

const isInvalidInputCode = (code: string): boolean =>
  code === "ERR_SOCKET_BAD_PORT" || code === "ERR_INVALID_IP_ADDRESS" || code.startsWith("ERR_INVALID_ARG_")

/** The address a runtime error names, from its `address` and `port` fields. */
const addressOf = (error: object): SockAddr.SockAddr | undefined => {
  const address = fieldOf(error, "address")
  if (typeof address !== "string" || address.length === 0) return undefined
  const port = fieldOf(error, "port")
  const parsed: Result.Result<SockAddr.SockAddr, unknown> =
    typeof port === "number" ? SockAddr.inet(address, port) : SockAddr.fromSocketPath(address)
  return Result.isSuccess(parsed) ? parsed.success : undefined
}

const isAggregate = (u: unknown): u is { readonly errors: ReadonlyArray<unknown> } =>
  (typeof AggregateError !== "undefined" && u instanceof AggregateError) ||
  (u instanceof Error && Array.isArray(fieldOf(u, "errors")))

/**
 * The typed error for a runtime's error. `context` fills what the runtime did not say (the
 * caller knows the address it asked for better than the runtime's strings do).
 *
 * @example
 * ```ts
 * import { SystemError } from "@dial/core"
 *
 * const nodeError = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
 *   code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "127.0.0.1", port: 1
 * })
 * SystemError.fromUnknown(nodeError)._tag // "ECONNREFUSED"
 * ```
 *
 * @category mapping
 * @since 0.1.0
 */
export const fromUnknown = (error: unknown, context: ConnectError.Context = {}): Mapped => {
  try {
    return fromUnknownUnguarded(error, context)
  } catch {
    // The error's own traps threw (a proxy, a hostile object): keep it as the cause where the
    // error's Schema can hold it (a revoked proxy it cannot even inspect).
    try {
      return ConnectError.unknown("UNKNOWN", { cause: error })
    } catch {
      return ConnectError.unknown("UNKNOWN")
    }
  }
}

const fromUnknownUnguarded = (error: unknown, context: ConnectError.Context): Mapped => {
  if (isAggregate(error)) {
    return DialError.allAttemptsFailed(
      error.errors.map((inner) => {
        const mapped = fromUnknown(inner, { ...context, address: undefined })
        const address =
          (mapped._tag === "InvalidInput" || mapped._tag === "AllAttemptsFailed" ? undefined : mapped.address) ??
          SockAddr.unspec
        const attemptError =
          mapped._tag === "InvalidInput" || mapped._tag === "AllAttemptsFailed"
            ? ConnectError.unknown(mapped._tag, { cause: inner })
            : mapped
        return { address, error: attemptError }
      })
    )
  }
  const rawCode = fieldOf(error, "code")
  const code = typeof rawCode === "string" ? rawCode : undefined
  const rawErrno = fieldOf(error, "errno")
  const errno = typeof rawErrno === "number" ? rawErrno : undefined
  const syscallField = fieldOf(error, "syscall")
  const rawSyscall = typeof syscallField === "string" ? syscallField : undefined
  const syscall = (rawSyscall === undefined ? undefined : syscalls[rawSyscall]) ?? context.syscall ?? "connect"
  // A bind error names the local address; every other names the remote one. The runtime's
  // string is parsed only when the caller did not say.
  const isBind = syscall === "bind"
  const named =
    (isBind ? context.localAddress : context.address) === undefined && Predicate.isObject(error)
      ? addressOf(error)
      : undefined
  const full: ConnectError.Context = {
    syscall,
    address: context.address ?? (isBind ? undefined : named),
    localAddress: context.localAddress ?? (isBind ? named : undefined),
    cause: error
  }
  if (code !== undefined) {
    if (Errno.isName(code)) return ConnectError.make(code, full)
    const mappedName = nodeCodes[code]
    if (mappedName !== undefined) return ConnectError.make(mappedName, full)
    if (isInvalidInputCode(code)) {
      const message = error instanceof Error ? error.message : code
      return InvalidInput.make(code === "ERR_SOCKET_BAD_PORT" ? "port" : "argument", error, message)
    }
    return ConnectError.unknown(code, { ...full, errno })
  }
  // `new AbortController().abort()` gives its signal a DOMException whose `code` is the number 20.
  if (fieldOf(error, "name") === "AbortError") return ConnectError.make("EINTR", full)
  if (errno !== undefined) {
    const row = Errno.fromNumber(errno)
    if (row !== undefined) return ConnectError.make(row.name, full)
  }
  return ConnectError.unknown("UNKNOWN", { ...full, errno })
}

/**
 * {@link fromUnknown}, narrowed to what a socket call fails with: an errno error. What maps to
 * something else (`InvalidInput` for an argument the runtime refused, `AllAttemptsFailed` for
 * its own multi-address connect) cannot come from a transport, whose addresses are validated
 * IP literals or paths; if it does, it stays an errno error (EINVAL) with its cause.
 *
 * @example
 * ```ts
 * import { SystemError } from "@dial/core"
 *
 * const nodeError = Object.assign(new RangeError("bad port"), { code: "ERR_SOCKET_BAD_PORT" })
 * SystemError.toConnectError(nodeError, {})._tag // "EINVAL"
 * ```
 *
 * @category mapping
 * @since 0.1.0
 */
export const toConnectError = (error: unknown, context: ConnectError.Context): ConnectError.ConnectError => {
  const mapped = fromUnknown(error, context)
  return ConnectError.isConnectError(mapped) ? mapped : ConnectError.make("EINVAL", { ...context, cause: error })
}
