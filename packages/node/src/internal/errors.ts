/**
 * Node's errors read into the core's typed errors. The mapping itself (by `code`) is core's
 * `SystemError.fromUnknown`; this only narrows its result to what a transport may fail with.
 */
import { ConnectError, SystemError } from "@dial/core"

/**
 * The typed error for an error Node reported about a socket. `fromUnknown` can also answer
 * `InvalidInput` (Node refused an argument) or `AllAttemptsFailed` (Node's own multi-address
 * connect): neither can happen here, since every address reaching the transport is a validated
 * IP literal or path, but if one does it stays an errno error (EINVAL) with its cause.
 */
export const toConnectError = (error: unknown, context: ConnectError.Context): ConnectError.ConnectError => {
  const mapped = SystemError.fromUnknown(error, context)
  return ConnectError.isConnectError(mapped) ? mapped : ConnectError.make("EINVAL", { ...context, cause: error })
}
