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
 * A fake resolver (`Dns` and `AddressResolver`) answering from a table, with delays and failures.
 *
 * @example
 * ```ts
 * import { TestDns } from "@dial/testkit"
 *
 * const resolver = TestDns.layer({ "db.test": { IPv4: ["10.0.0.10"], IPv6: "NXDOMAIN" } })
 * ```
 *
 * @since 0.1.0
 */
export * as TestDns from "./TestDns.ts"

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
