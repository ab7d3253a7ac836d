/**
 * What the `dial` command prints: one report per attempt and a final one per target, as JSON
 * lines (`--json`) or plain text, and the exit code a failure maps to.
 *
 * | exit | meaning |
 * |---|---|
 * | 0 | connected (datagram: associated; no handshake, so reachability is unknown) |
 * | 1 | transient failure, or the deadline passed |
 * | 2 | permanent failure (or a state error: a bug in the call order) |
 * | 3 | invalid input |
 *
 * @since 0.1.0
 */
import { type Errno, Retry, SockAddr } from "@dial/core"
import * as Total from "./internal/total.ts"

/**
 * The error part of a report.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 * import { Report } from "@dial/cli"
 *
 * Report.errorReport(ConnectError.make("ECONNREFUSED")).class // "transient"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ErrorReport {
  readonly _tag: string
  /** The Linux errno number; absent for the library's own errors. */
  readonly errno?: number
  readonly syscall?: string
  readonly class: Errno.RetryClass
  readonly message: string
  /** A `NotReady`'s state (`starting`, `loading`, ...). */
  readonly state?: string
  /** A `NotReady`'s server's own words. */
  readonly reply?: string
}

/**
 * One attempt's report, or the final one of a target (`final: true`).
 *
 * @example
 * ```ts
 * import type { Report } from "@dial/cli"
 *
 * const ok: Report.AttemptReport = { target: "127.0.0.1:80", address: "127.0.0.1:80", ok: true, attempt: 1, elapsedMs: 1 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AttemptReport {
  readonly target: string
  /** The address this attempt reached or tried, when known. */
  readonly address: string | null
  readonly ok: boolean
  readonly attempt: number
  readonly elapsedMs: number
  readonly local?: string
  /**
   * Present on a datagram success: connect(2) only set the default peer (no handshake), so
   * whether anything listens stays unknown until a reply comes.
   */
  readonly state?: "associated"
  readonly error?: ErrorReport
  readonly final?: boolean
  /** With `--ready`: the probe and what the ready server said. */
  readonly ready?: { readonly probe: string; readonly reply: string }
}

/**
 * The report of a failure, with its retry class. Errors the library does not class (anything
 * unexpected) count as permanent: retrying what nobody understands hides it.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 * import { Report } from "@dial/cli"
 *
 * Report.errorReport(ConnectError.make("EACCES")).errno // 13
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const errorReport = (error: unknown): ErrorReport => {
  const tag = Total.stringField(error, "_tag") ?? "UnknownError"
  const errno = Total.numberField(error, "errno")
  const syscall = Total.stringField(error, "syscall")
  const message = Total.stringField(error, "message") ?? Total.show(error)
  const retryClass = Total.attempt(
    () => Retry.classify(error),
    () => undefined
  )
  // A NotReady carries the server's state and its own words.
  const state = tag === "NotReady" ? Total.stringField(error, "state") : undefined
  const reply = tag === "NotReady" ? Total.stringField(error, "reply") : undefined
  const notReady = {
    ...(state === undefined ? {} : { state }),
    ...(reply === undefined ? {} : { reply })
  }
  return {
    _tag: tag,
    ...(errno === undefined ? {} : { errno }),
    ...(syscall === undefined ? {} : { syscall }),
    class: retryClass ?? "permanent",
    message,
    ...notReady
  }
}

/**
 * The exit code of an outcome: 0 connected, 1 transient or deadline, 2 permanent or state, 3
 * invalid input.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 * import { Report } from "@dial/cli"
 *
 * Report.exitCode(Report.errorReport(ConnectError.make("ECONNREFUSED"))) // 1
 * ```
 *
 * @category exit codes
 * @since 0.1.0
 */
export const exitCode = (error: ErrorReport | undefined): 0 | 1 | 2 | 3 => {
  if (error === undefined) return 0
  const tag = Total.field(error, "_tag")
  if (tag === "InvalidInput" || tag === "NetAddressError") return 3
  return Total.field(error, "class") === "transient" ? 1 : 2
}

/**
 * The address an error names, formatted, when it names one.
 *
 * @example
 * ```ts
 * import { ConnectError, SockAddr } from "@dial/core"
 * import { Report } from "@dial/cli"
 *
 * Report.addressOf(ConnectError.make("ENOENT", { address: SockAddr.unspec })) // "unspec"
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const addressOf = (error: unknown): string | null => {
  const address = Total.field(error, "address")
  return Total.attempt(
    () => (SockAddr.isSockAddr(address) ? SockAddr.format(address) : null),
    () => null
  )
}

/**
 * The report of a failed attempt: the error's report, and the address it names (`null` when it
 * names none). A synthetic error (`{ _tag, message }`) classes as permanent. `final`, when given,
 * comes before `error`, as the invalid-input report has always printed it.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@dial/core"
 * import { Report } from "@dial/cli"
 *
 * Report.failure("127.0.0.1:1", ConnectError.make("ECONNREFUSED"), { attempt: 1, elapsedMs: 2 }).error?.class // "transient"
 * Report.failure("t", { _tag: "InvalidInput", message: "bad" }, { attempt: 0, elapsedMs: 0, final: true }).address // null
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const failure = (
  target: string,
  error: unknown,
  options: { readonly attempt: number; readonly elapsedMs: number; readonly final?: boolean | undefined }
): AttemptReport => {
  const final = Total.field(options, "final")
  return {
    target: typeof target === "string" ? target : Total.show(target),
    address: addressOf(error),
    ok: false,
    attempt: Total.numberField(options, "attempt") ?? 0,
    elapsedMs: Total.numberField(options, "elapsedMs") ?? 0,
    ...(typeof final === "boolean" ? { final } : {}),
    error: errorReport(error)
  }
}

/**
 * A report as one plain line.
 *
 * @example
 * ```ts
 * import { Report } from "@dial/cli"
 *
 * Report.plain({ target: "127.0.0.1:80", address: "127.0.0.1:80", ok: true, attempt: 1, elapsedMs: 3 })
 * // "127.0.0.1:80: connected to 127.0.0.1:80 (attempt 1, 3 ms)"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const plain = (report: AttemptReport): string =>
  Total.attempt(
    () => plainUnsafe(report),
    () => `invalid report: ${Total.show(report)}`
  )

const plainUnsafe = (report: AttemptReport): string => {
  if (typeof report !== "object" || report === null) throw new TypeError("not a report")
  const timing = `attempt ${report.attempt}, ${report.elapsedMs} ms`
  if (report.ok) {
    const from = report.local === undefined ? "" : ` from ${report.local}`
    if (report.state === "associated") {
      return `${report.target}: associated with ${report.address ?? report.target}${from} (no handshake; reachability unknown until a reply) (${timing})`
    }
    const ready = report.ready === undefined ? "" : `, ready (${report.ready.probe}: ${report.ready.reply})`
    return `${report.target}: connected to ${report.address ?? report.target}${from}${ready} (${timing})`
  }
  const error = errorReport(report.error)
  const errno = error.errno === undefined ? "" : ` (errno ${error.errno})`
  return `${report.target}: ${error._tag}${errno}, ${error.class}: ${error.message} (${timing})`
}

/**
 * A report as one JSON line.
 *
 * @example
 * ```ts
 * import { Report } from "@dial/cli"
 *
 * JSON.parse(Report.json({ target: "t", address: null, ok: false, attempt: 1, elapsedMs: 0 })).ok // false
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const json = (report: AttemptReport): string =>
  Total.attempt(
    () => {
      const text = JSON.stringify(report)
      if (typeof text !== "string") throw new TypeError("not JSON")
      return text
    },
    () =>
      JSON.stringify({ ok: false, error: { _tag: "InvalidInput", message: `invalid report: ${Total.show(report)}` } })
  )
