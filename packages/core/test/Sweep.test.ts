// Issue 10, as a sweep: every function exported from @dial/core's index, called with generated
// values for each of its arguments (helpers/sweep.ts says what is checked). Effects run over a
// transport that refuses every connect: nothing leaves the process. A new export is swept
// without anyone adding it here. The exempt list is docs/addresses.md's "Not covered"; the
// sweep checks that each name on it still exists.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as fc from "fast-check"
import * as Core from "../src/index.ts"
import { anyValue } from "./helpers/anyValue.ts"
import { functionsOf, property, staleExemptions } from "./helpers/sweep.ts"

const RUNS = Number(process.env.DIAL_SWEEP_RUNS ?? 10_000)

/** Functions documented as taking only the library's own values (no error channel). */
const exempt: Record<string, string> = {
  "SockAddr.format": "an encoder of addresses the library made",
  "SockAddr.toJson": "an encoder of addresses the library made",
  "SockAddr.socketPath": "an encoder of addresses the library made",
  "SockAddr.isLocal": "a question about an address the library made",
  "Dialer.interleave": "orders addresses the resolver returned",
  "Ready.format": "an encoder of probes the constructors made",
  "Errno.info": "a lookup keyed by the `Name` type; `Errno.isName` and `Errno.fromNumber` answer for any value",
  "ConnectError.make": "an error constructor",
  "ConnectError.unknown": "an error constructor",
  "DialError.deadlineExceeded": "an error constructor",
  "DialError.unsupported": "an error constructor",
  "DialError.allAttemptsFailed": "an error constructor",
  "Network.make": "builds the service over a Transport the platform package supplies",
  "SocketHandle.make": "builds a handle over a Transport the platform package supplies",
  "DatagramInbox.make": "the core's buffer for a platform's datagram socket"
}

const refusing: Core.Transport.Transport = {
  platform: "refusing",
  connectStream: (request) => Effect.fail(Core.ConnectError.make("ECONNREFUSED", { address: request.address })),
  openDatagram: (request) => Effect.fail(Core.ConnectError.make("EACCES", { address: request.address }))
}
const context = Effect.runSync(
  Layer.build(
    Layer.merge(
      Layer.succeed(Core.Network.Network)(Core.Network.make(refusing)),
      AddressResolver.layer().pipe(Layer.provide(Dns.layerStatic({ hosts: { "db.internal": ["127.0.0.1"] } })))
    )
  ).pipe(Effect.scoped)
)
const swept = functionsOf(Core, exempt)

describe("every export of @dial/core, any input", () => {
  it("the exempt list names exports that exist", () => {
    expect(staleExemptions(Core, exempt)).toEqual([])
    expect(swept.length).toBeGreaterThan(30)
  })
  for (const [name, f] of swept) {
    it(name, { timeout: 300_000 }, () => {
      fc.assert(property(name, f, anyValue, context as never), { numRuns: RUNS })
    })
  }
})
