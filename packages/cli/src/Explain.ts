/**
 * `dial explain`: an errno's row of the table, for people reading a failure at 3 a.m.
 *
 * @since 0.1.0
 */
import { Errno } from "@dial/core"

/**
 * Looks up an errno by name (`ECONNREFUSED`, any case) or Linux number (`111`).
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
export const lookup = (input: string): Errno.Info | undefined => {
  const trimmed = input.trim()
  if (/^\d+$/.test(trimmed)) return Errno.fromNumber(Number(trimmed))
  const name = trimmed.toUpperCase()
  return Errno.isName(name) ? Errno.info(name) : undefined
}

/**
 * An errno's explanation as text.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 * import { Explain } from "@dial/cli"
 *
 * Explain.text(Errno.info("ENOENT")).startsWith("ENOENT (2)") // true
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const text = (info: Errno.Info): string =>
  [
    `${info.name} (${info.number}) — ${info.retryClass}`,
    "",
    `Meaning:  ${info.meaning}`,
    `Retry:    ${info.retryClass}: ${info.rationale}`,
    `Causes:   ${info.causes}`,
    `Fix:      ${info.fix}`,
    `Source:   ${info.documented ? "connect(2) ERRORS" : 'domain-specific (the man page: "There may be other domain-specific error codes")'}`
  ].join("\n")
