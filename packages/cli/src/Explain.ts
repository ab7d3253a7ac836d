/**
 * `dial explain`: an errno's row of the table, for people reading a failure at 3 a.m.
 *
 * @since 0.1.0
 */
import { Errno } from "@dial/core"
import * as Total from "./internal/total.ts"

/**
 * Looks up an errno by name (`ECONNREFUSED`, any case) or Linux number (`111`, as a string or
 * a number). Anything else, of any type, is undefined: never a throw.
 *
 * @example
 * ```ts
 * import { Explain } from "@dial/cli"
 *
 * Explain.lookup("econnrefused")?.number // 111
 * Explain.lookup("111")?.name // "ECONNREFUSED"
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const lookup = (input: string | number): Errno.Info | undefined => {
  if (typeof input === "number") return Number.isInteger(input) ? Errno.fromNumber(input) : undefined
  // No errno name or number is longer; a longer input is not one, and is not scanned.
  if (typeof input !== "string" || input.length > 32) return undefined
  const trimmed = input.trim()
  if (/^\d+$/.test(trimmed)) return Errno.fromNumber(Number(trimmed))
  const name = trimmed.toUpperCase()
  return Errno.isName(name) ? Errno.info(name) : undefined
}

/**
 * An errno's explanation as text. A value that is not an `Errno.Info` gives a one-line
 * "not an errno" text, never a throw.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
import * as Total from "./internal/total.ts"
 * import { Explain } from "@dial/cli"
 *
 * Explain.text(Errno.info("ENOENT")).startsWith("ENOENT (2)") // true
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const text = (info: Errno.Info): string => {
  const name = Total.stringField(info, "name")
  const known = name !== undefined && Errno.isName(name) ? Errno.info(name) : undefined
  return known === undefined ? `not an errno: ${Total.show(info)}` : textOf(known)
}

const textOf = (info: Errno.Info): string =>
  [
    `${info.name} (${info.number}) — ${info.retryClass}`,
    "",
    `Meaning:  ${info.meaning}`,
    `Retry:    ${info.retryClass}: ${info.rationale}`,
    `Causes:   ${info.causes}`,
    `Fix:      ${info.fix}`,
    `Source:   ${info.documented ? "connect(2) ERRORS" : 'domain-specific (the man page: "There may be other domain-specific error codes")'}`
  ].join("\n")
