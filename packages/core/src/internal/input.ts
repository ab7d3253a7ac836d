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

/** Whether `input` is a `Uint8Array`; a proxy whose `getPrototypeOf` trap throws is not. */
export const isBytes = (input: unknown): input is Uint8Array => {
  try {
    return input instanceof Uint8Array
  } catch {
    return false
  }
}
