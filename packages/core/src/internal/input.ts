/**
 * Reading untrusted values. Every public entry point reads what it was given through these,
 * once: an options bag becomes a plain snapshot (a getter runs once, so a value cannot change
 * between its check and its use), and a getter or proxy trap that throws becomes the
 * `InvalidInput` of the field being read, never an exception.
 */
import * as Result from "effect/Result"
import * as InvalidInput from "../InvalidInput.ts"

/** Why reading threw, briefly: the thrown value's message when it has one. */
const threw = (error: unknown): string => {
  try {
    const message = error instanceof Error ? error.message : String(error)
    return `reading it threw: ${message.length > 80 ? `${message.slice(0, 80)}…` : message}`
  } catch {
    return "reading it threw"
  }
}

/** Runs `read` over untrusted input; a throw is the `InvalidInput` of `field`. */
export const guard = <A>(
  field: string,
  input: unknown,
  read: () => Result.Result<A, InvalidInput.InvalidInput>
): Result.Result<A, InvalidInput.InvalidInput> => {
  try {
    return read()
  } catch (error) {
    return Result.fail(InvalidInput.make(field, input, threw(error)))
  }
}

// Array.isArray throws on a revoked proxy.
const isArrayOrRevoked = (input: object): boolean => {
  try {
    return Array.isArray(input)
  } catch {
    return true
  }
}

/**
 * An options bag as a plain object holding only `keys`, each read once. `undefined` is no
 * options; anything but a non-array object (`null` included) is refused, naming `field`.
 */
export const snapshot = <K extends string>(
  field: string,
  input: unknown,
  keys: ReadonlyArray<K>
): Result.Result<Partial<Record<K, unknown>>, InvalidInput.InvalidInput> => {
  if (input === undefined) return Result.succeed({})
  if (typeof input !== "object" || input === null || isArrayOrRevoked(input)) {
    return Result.fail(InvalidInput.make(field, input, "expected an options object or undefined"))
  }
  const out: Partial<Record<K, unknown>> = {}
  for (const key of keys) {
    let value: unknown
    try {
      value = (input as Record<string, unknown>)[key]
    } catch (error) {
      return Result.fail(InvalidInput.make(key, input, threw(error)))
    }
    if (value !== undefined) out[key] = value
  }
  return Result.succeed(out)
}
