/**
 * Reading values the library did not make (a user's error, a report parsed from JSON, a proxy
 * whose getters throw) without ever throwing: the CLI's exports are total over any value.
 */

/** `self[key]` when it can be read, undefined when reading it throws. */
export const field = (self: unknown, key: string): unknown => {
  if ((typeof self !== "object" && typeof self !== "function") || self === null) return undefined
  try {
    return (self as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

export const stringField = (self: unknown, key: string): string | undefined => {
  const value = field(self, key)
  return typeof value === "string" ? value : undefined
}

export const numberField = (self: unknown, key: string): number | undefined => {
  const value = field(self, key)
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

/** The longest text of a value shown in a message; a 1 MiB input is not echoed whole. */
export const maxShown = 200

/** A value as text, for messages: never throws (`String(Object.create(null))` would). */
export const show = (value: unknown): string => {
  let text: string
  try {
    text = typeof value === "string" ? value : typeof value === "symbol" ? value.toString() : String(value)
  } catch {
    text = `[${typeof value}]`
  }
  return text.length > maxShown ? `${text.slice(0, maxShown)}… (${text.length} characters)` : text
}

/** `run()`, or `fallback()` when it throws. */
export const attempt = <A>(run: () => A, fallback: () => A): A => {
  try {
    return run()
  } catch {
    return fallback()
  }
}
