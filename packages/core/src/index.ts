/**
 * @dial/core: typed connect(2) for Effect.
 *
 * @since 0.1.0
 */

/**
 * Connect errors, one tagged error per errno.
 *
 * @since 0.1.0
 */
export * as ConnectError from "./ConnectError.ts"

/**
 * The receive buffer of a datagram socket, shared by every platform.
 *
 * @since 0.1.0
 */
export * as DatagramInbox from "./DatagramInbox.ts"

/**
 * Dialing names: resolution and Happy Eyeballs v2.
 *
 * @since 0.1.0
 */
export * as Dialer from "./Dialer.ts"

/**
 * The library's own errors: deadlines, unsupported operations, multi-address failures.
 *
 * @since 0.1.0
 */
export * as DialError from "./DialError.ts"

/**
 * The errno table: numbers, meanings, retry classes.
 *
 * @since 0.1.0
 */
export * as Errno from "./Errno.ts"

/**
 * Input the library refuses.
 *
 * @since 0.1.0
 */
export * as InvalidInput from "./InvalidInput.ts"

/**
 * The socket service.
 *
 * @since 0.1.0
 */
export * as Network from "./Network.ts"

/**
 * Readiness probes: postgres, redis, mysql, http, tls, send/expect.
 *
 * @since 0.1.0
 */
export * as Ready from "./Ready.ts"

/**
 * Retry classes and policies.
 *
 * @since 0.1.0
 */
export * as Retry from "./Retry.ts"

/**
 * Socket addresses.
 *
 * @since 0.1.0
 */
export * as SockAddr from "./SockAddr.ts"

/**
 * The socket handle and its state machine.
 *
 * @since 0.1.0
 */
export * as SocketHandle from "./SocketHandle.ts"

/**
 * Runtime errors read into typed ones.
 *
 * @since 0.1.0
 */
export * as SystemError from "./SystemError.ts"

/**
 * What a platform implements.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
