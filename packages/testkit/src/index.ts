/**
 * `@dial/testkit`: an in-memory network for `@dial/core` that fails the way the kernel fails,
 * on `TestClock`.
 *
 * The conformance suite is not re-exported here because it imports `@effect/vitest`: import it
 * from `@dial/testkit/Conformance` in a test file.
 *
 * @since 0.1.0
 */

/**
 * The in-memory network layer and its controls.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Network } from "@dial/core"
 * import { TestNetwork } from "@dial/testkit"
 *
 * const refused = Effect.scoped(Network.connect("127.0.0.1:1")).pipe(Effect.flip, Effect.provide(TestNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 */
export * as TestNetwork from "./TestNetwork.ts"
