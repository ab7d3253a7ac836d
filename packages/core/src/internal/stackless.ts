/**
 * Builds an error without capturing a JavaScript stack trace.
 *
 * An errno error is an answer from the kernel, not a bug in the caller: its frames would only
 * show Node's event emitter and the fiber runtime, while `syscall`, `address` and the fiber's
 * spans say where it came from. Capturing them was most of the cost of a refused connect
 * (about 5 µs of V8 stack walking per error), so they are not captured.
 *
 * Where `Error.stackTraceLimit` cannot be written (frozen intrinsics, hardened runtimes), the
 * error is built as usual, with its stack: never a throw instead of a typed error.
 */
export const stackless = <A>(build: () => A): A => {
  if (!canSetLimit) return build()
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return build()
  } finally {
    Error.stackTraceLimit = limit
  }
}

const canSetLimit = ((): boolean => {
  const descriptor = Object.getOwnPropertyDescriptor(Error, "stackTraceLimit")
  if (descriptor === undefined) return Object.isExtensible(Error)
  return Object.hasOwn(descriptor, "writable") ? descriptor.writable === true : descriptor.set !== undefined
})()
