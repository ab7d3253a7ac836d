/**
 * `Wait.wait` as a library: a malformed duration is a typed error before any connect, and a
 * wait with no timeout at all still ends when the target answers. Loopback only.
 */
import { NodeNetwork } from "@dial/node"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as Net from "node:net"
import * as Wait from "../src/Wait.ts"

const layer = Layer.merge(NodeNetwork.layer, AddressResolver.layer().pipe(Layer.provide(Dns.layerStatic({}))))

/** Waits with these durations, counting the attempts made. */
const waitWith = (durations: Pick<Wait.Options, "timeout" | "maxDelay">, target = "127.0.0.1:1") => {
  let attempts = 0
  const run = Wait.wait([target], {
    ...durations,
    type: "stream",
    onAttempt: () =>
      Effect.sync(() => {
        attempts++
      })
  })
  return Effect.map(Effect.result(Effect.provide(run, layer)), (result) => ({ result, attempts }))
}

const listening = Effect.acquireRelease(
  Effect.callback<Net.Server>((resume) => {
    const server = Net.createServer((socket) => socket.destroy())
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

describe("Wait.wait", () => {
  const malformed: ReadonlyArray<readonly [string, Pick<Wait.Options, "timeout" | "maxDelay">, string]> = [
    ["a timeout that is not a duration", { timeout: "soon" as Duration.Input }, "timeout"],
    ["a negative timeout", { timeout: Duration.millis(-5) }, "timeout"],
    ["a NaN timeout", { timeout: Number.NaN }, "timeout"],
    ["a maxDelay that is not a duration", { timeout: "1 second", maxDelay: "often" as Duration.Input }, "maxDelay"],
    ["an infinite maxDelay", { timeout: "1 second", maxDelay: Duration.infinity }, "maxDelay"]
  ]
  for (const [name, durations, field] of malformed) {
    it.live(`${name}: InvalidInput naming the field, and no connect`, () =>
      Effect.gen(function* () {
        const { result, attempts } = yield* waitWith(durations)
        expect(result._tag === "Failure" && result.failure._tag).toBe("InvalidInput")
        if (result._tag === "Failure" && result.failure._tag === "InvalidInput") {
          expect(result.failure.field).toBe(field)
        }
        expect(attempts).toBe(0)
      })
    )
  }

  it.live("no timeout at all (infinity) waits until the target answers", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* listening
        const port = (server.address() as Net.AddressInfo).port
        const { result, attempts } = yield* waitWith({ timeout: Duration.infinity }, `127.0.0.1:${port}`)
        expect(result._tag).toBe("Success")
        if (result._tag === "Success") expect(result.success.map((report) => report.ok)).toEqual([true])
        expect(attempts).toBe(1)
      })
    )
  )

  it.live("a refused target is retried with core's capped backoff until the deadline, not 10 times", () =>
    Effect.gen(function* () {
      // 5, 10, 20, then 40 ms pauses (jittered): about 17 attempts in 600 ms; a backoff that
      // stopped after Retry's default 10 retries, or did not pause, would be far off.
      const { result, attempts } = yield* waitWith({ timeout: "600 millis", maxDelay: "40 millis" })
      expect(result._tag).toBe("Success")
      if (result._tag === "Success") expect(result.success.map((report) => report.ok)).toEqual([false])
      expect(attempts).toBeGreaterThan(11)
      expect(attempts).toBeLessThan(40)
    })
  )
})
