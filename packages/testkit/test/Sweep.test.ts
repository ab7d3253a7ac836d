// Issue 10, as a sweep: every function exported from @dial/testkit's index, called with
// generated values (helpers/sweep.ts says what is checked), its Effects and Layers run over
// the in-memory network. A new export is swept without anyone adding it here.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fc from "fast-check"
import * as Testkit from "../src/index.ts"
import { anyValue } from "./helpers/anyValue.ts"
import { functionsOf, property, staleExemptions } from "./helpers/sweep.ts"

const RUNS = Number(process.env.DIAL_SWEEP_RUNS ?? 10_000)

const exempt: Record<string, string> = {
  "TestNetwork.formatEntry": "an encoder of journal entries the network wrote"
}

const context = Effect.runSync(Layer.build(Testkit.TestNetwork.layer()).pipe(Effect.scoped))
const swept = functionsOf(Testkit, exempt)

describe("every export of @dial/testkit, any input", () => {
  it("the exempt list names exports that exist", () => {
    expect(staleExemptions(Testkit, exempt)).toEqual([])
    expect(swept.length).toBeGreaterThan(10)
  })
  for (const [name, f] of swept) {
    it(name, { timeout: 300_000 }, () => {
      fc.assert(property(name, f, anyValue, context as never), { numRuns: RUNS })
    })
  }
})
