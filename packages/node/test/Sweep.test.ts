// Issue 10, as a sweep: every function exported from @dial/node's index, called with generated
// values (helpers/sweep.ts says what is checked), its Effects run over NodeNetwork. Generated
// values are plain data, never an Effect that connects, so nothing reaches the network; a
// listener counts what does (nothing may).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fc from "fast-check"
import * as Node from "../src/index.ts"
import { anyValue } from "./helpers/anyValue.ts"
import { functionsOf, property, staleExemptions, untaggedRejections } from "./helpers/sweep.ts"

const RUNS = Number(process.env.DIAL_SWEEP_RUNS ?? 10_000)

const exempt: Record<string, string> = {
  "NodeTransport.make": "builds the platform's transport; takes no input"
}

const context = Effect.runSync(Layer.build(Node.NodeNetwork.layer).pipe(Effect.scoped))
const swept = functionsOf(Node, exempt)

describe("every export of @dial/node, any input", () => {
  it("the exempt list names exports that exist", () => {
    expect(staleExemptions(Node, exempt)).toEqual([])
    expect(swept.length).toBeGreaterThan(3)
  })
  for (const [name, f] of swept) {
    it(name, { timeout: 300_000 }, () => {
      const unhandled: Array<unknown> = []
      const onError = (error: unknown) => unhandled.push(error)
      process.on("uncaughtException", onError)
      try {
        fc.assert(property(name, f, anyValue, context as never), { numRuns: RUNS })
      } finally {
        process.off("uncaughtException", onError)
      }
      expect(unhandled).toEqual([])
    })
  }
  it("every promise a swept function returned rejected with a tagged error", async () => {
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(untaggedRejections).toEqual([])
  })
})
