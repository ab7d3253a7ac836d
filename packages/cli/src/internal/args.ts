/**
 * The command line's own values, checked before anything connects: durations that need a
 * unit, targets that are not URLs. Each check gives the message a person at a terminal needs,
 * or undefined when the value is good.
 */
import { InvalidInput } from "@dial/core"
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"

const millisPerUnit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** Long enough for any duration a person types; longer is not a duration. */
const maxDurationLength = 64

/**
 * `30s`, `500ms`, `2m`, `1h`, `infinity`, or an Effect duration (`"30 seconds"`). A bare number
 * says a unit is needed; zero says that it would leave no time for a connect.
 */
export const duration = (flag: string, text: string): Result.Result<Duration.Duration, string> => {
  const trimmed = text.trim()
  if (trimmed.length > maxDurationLength)
    return Result.fail(`${flag}: not a duration (longer than ${maxDurationLength} characters)`)
  if (/^[+-]?\d+(?:\.\d+)?$/.test(trimmed))
    return Result.fail(`${flag} ${trimmed}: a unit is needed, e.g. ${trimmed}s or ${trimmed}ms (units: ms, s, m, h)`)
  const short = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(trimmed)
  let decoded: Duration.Duration | undefined
  if (short !== null) {
    decoded = Duration.millis(Number(short[1]) * millisPerUnit[short[2] as keyof typeof millisPerUnit])
  } else {
    const input = /^infinity$/i.test(trimmed) ? "Infinity" : trimmed
    const effect = InvalidInput.duration(flag, input as Duration.Input, { infinite: "allow" })
    decoded = Result.isSuccess(effect) ? effect.success : undefined
  }
  if (decoded === undefined)
    return Result.fail(
      `${flag} ${JSON.stringify(text)}: not a duration; give a number and a unit (500ms, 30s, 2m, 1h) or infinity`
    )
  if (Duration.isZero(decoded))
    return Result.fail(
      `${flag} ${trimmed}: zero leaves no time for a connect, so dial would give up before trying; give at least 1ms, or infinity to wait without limit`
    )
  return Result.succeed(decoded)
}

/**
 * A target that is a URL (`http://127.0.0.1:80`): dial connects to addresses, not to URLs, and
 * the parser's own message (about IPv6 brackets) would only mislead.
 */
export const urlTarget = (target: string): string | undefined => {
  const match = /^([A-Za-z][A-Za-z0-9+.-]{0,31}):\/\/([^/?#]*)/.exec(target)
  if (match === null) return undefined
  const authority = match[2]!.replace(/^[^@]*@/, "")
  const suggestion = /:\d+$/.test(authority) ? authority : `${authority || "host"}:port`
  return `${target}: URLs are not targets; give host:port (e.g. ${suggestion})`
}
