// Issue 10, as a sweep: every function exported from @dial/cli's index, called with generated
// values (helpers/sweep.ts says what is checked). Its Effects run over the in-memory network
// and a resolver that knows no names: nothing leaves the process.
import { TestNetwork } from "@dial/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as fc from "fast-check"
import * as Cli from "../src/index.ts"
import { anyValue } from "./helpers/anyValue.ts"
import { functionsOf, property, staleExemptions } from "./helpers/sweep.ts"

const RUNS = Number(process.env.DIAL_SWEEP_RUNS ?? 10_000)

const exempt: Record<string, string> = {}

const context = Effect.runSync(
  Layer.build(
    Layer.merge(TestNetwork.layer(), AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({})))))
  ).pipe(Effect.scoped)
)
const swept = functionsOf(Cli, exempt)

describe("every export of @dial/cli, any input", () => {
  it("the exempt list names exports that exist", () => {
    expect(staleExemptions(Cli, exempt)).toEqual([])
    expect(swept.length).toBeGreaterThan(5)
  })
  for (const [name, f] of swept) {
    it(name, { timeout: 300_000 }, () => {
      fc.assert(property(name, f, anyValue, context as never), { numRuns: RUNS })
    })
  }
})
