import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import { InvalidInput } from "../src/index.ts"

describe("InvalidInput.duration", () => {
  it("reads durations in any of Effect's forms", () => {
    assert.strictEqual(Duration.toMillis(Result.getOrThrow(InvalidInput.duration("deadline", "2 seconds"))), 2000)
    assert.strictEqual(Duration.toMillis(Result.getOrThrow(InvalidInput.duration("deadline", 250))), 250)
    assert.strictEqual(Duration.toMillis(Result.getOrThrow(InvalidInput.duration("deadline", 0))), 0)
  })

  it("refuses negative, NaN and malformed durations, naming the field", () => {
    for (const input of [-1, Duration.millis(-5), Number.NaN, "soon" as Duration.Input]) {
      const result = InvalidInput.duration("deadline", input)
      assert.isTrue(Result.isFailure(result), String(input))
      if (Result.isFailure(result)) assert.strictEqual(result.failure.field, "deadline")
    }
  })

  it("refuses infinity unless asked to allow it, where it means no limit", () => {
    assert.isTrue(Result.isFailure(InvalidInput.duration("delay", Duration.infinity)))
    const allowed = InvalidInput.duration("timeout", Duration.infinity, { infinite: "allow" })
    assert.isTrue(Result.isSuccess(allowed) && !Duration.isFinite(allowed.success))
    assert.isTrue(Result.isFailure(InvalidInput.duration("timeout", Number.NaN, { infinite: "allow" })))
  })
})
