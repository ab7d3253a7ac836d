/**
 * Builds an error without capturing a JavaScript stack trace.
 *
 * An errno error is an answer from the kernel, not a bug in the caller: its frames would only
 * show Node's event emitter and the fiber runtime, while `syscall`, `address` and the fiber's
 * spans say where it came from. Capturing them was most of the cost of a refused connect
 * (about 5 µs of V8 stack walking per error), so they are not captured.
 */
export const stackless = <A>(build: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return build()
  } finally {
    Error.stackTraceLimit = limit
  }
}
