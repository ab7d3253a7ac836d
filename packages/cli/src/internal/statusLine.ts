/**
 * How `dial wait` shows progress: on a terminal, one status line rewritten in place
 * (attempt, last error, elapsed); otherwise a plain line whenever a target's error changes;
 * with `--json`, every attempt as a JSON line.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Report from "../Report.ts"

export interface StatusLine {
  readonly attempt: (report: Report.AttemptReport) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

export const make = (json: boolean): StatusLine => {
  if (json) return { attempt: (report) => Console.log(Report.json(report)), done: Effect.void }
  const tty = process.stderr.isTTY === true
  const lastTag = new Map<string, string>()
  let drawn = false
  return {
    attempt: (report) =>
      Effect.sync(() => {
        if (report.ok) return
        const tag = report.error?._tag ?? "?"
        if (tty) {
          const seconds = (report.elapsedMs / 1000).toFixed(1)
          process.stderr.write(`\r\x1b[K${report.target}: attempt ${report.attempt}, last ${tag}, ${seconds}s`)
          drawn = true
        } else if (lastTag.get(report.target) !== tag) {
          lastTag.set(report.target, tag)
          process.stderr.write(`${Report.plain(report)}\n`)
        }
      }),
    done: Effect.sync(() => {
      if (drawn) process.stderr.write("\r\x1b[K")
    })
  }
}
