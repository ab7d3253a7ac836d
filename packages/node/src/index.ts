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
