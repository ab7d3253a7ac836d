/**
 * The stream conformance suite on the fake: a connection through core's Network to a
 * listener, and the listener's accepted end. The node package runs the same cases on loopback.
 */
import { Network } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import * as StreamConformance from "@dial/testkit/StreamConformance"
import { Effect } from "effect"

const fixture: StreamConformance.Fixture<TestNetwork.TestNetwork> = {
  pair: Effect.gen(function* () {
    const listener = yield* TestNetwork.listen("127.0.0.1:0")
    const handle = yield* Network.connect(listener.address)
    const client = yield* handle.socket
    const server = (yield* listener.accept).socket
    return { handle, client, server }
  }).pipe(Effect.orDie)
}

StreamConformance.suite("TestNetwork streams", { layer: TestNetwork.layer(), fixture, kernel: false })
