/**
 * @dial/node: dial's socket service over `node:net` and `node:dgram`.
 *
 * @since 0.1.0
 */

/**
 * The `Network` layer over the kernel.
 *
 * @since 0.1.0
 */
export * as NodeNetwork from "./NodeNetwork.ts"

/**
 * The core's `Transport` over `node:net` and `node:dgram`.
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.ts"

/**
 * A connected handle as a Node socket for existing clients (pg, postgres, mysql2, ioredis).
 *
 * @since 0.1.0
 */
export * as NodeStream from "./NodeStream.ts"
