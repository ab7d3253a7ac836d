/**
 * dial's socket service on Node: provide `NodeNetwork.layer` and every `Network` operation runs
 * over the kernel through `node:net` and `node:dgram`.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork } from "@dial/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const handle = yield* Network.connect("127.0.0.1:5432", { deadline: "2 seconds", noDelay: true })
 *     return yield* handle.peerAddress
 *   })
 * ).pipe(
 *   Effect.catchTag("ECONNREFUSED", () => Effect.log("nobody listening")),
 *   Effect.provide(NodeNetwork.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Network } from "@dial/core"
import * as Layer from "effect/Layer"
import * as NodeTransport from "./NodeTransport.ts"

/**
 * The `Network` service over the kernel. It holds no resources of its own: every handle is
 * scoped, and closing its scope closes its socket.
 *
 * @example
 * ```ts
 * import { Network } from "@dial/core"
 * import { NodeNetwork } from "@dial/node"
 * import { Effect } from "effect"
 *
 * // Send a line over a unix socket and read the first reply chunk.
 * const ask = Effect.scoped(
 *   Effect.gen(function*() {
 *     const handle = yield* Network.connect("unix:/run/app.sock", { deadline: "1 second" })
 *     const socket = yield* handle.socket
 *     // The reader first: a fromDuplex socket's writer waits until its reader is open.
 *     const reader = yield* socket.reader
 *     const writer = yield* socket.writer
 *     yield* writer.write(new TextEncoder().encode("PING\n"))
 *     return yield* reader.pull
 *   })
 * ).pipe(Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Network.Network> = Layer.succeed(Network.Network)(Network.make(NodeTransport.make()))
