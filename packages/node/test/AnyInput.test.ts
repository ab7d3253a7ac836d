// Issue 10 over the real kernel: NodeNetwork's entry points, given any value for any argument,
// succeed or fail with a typed error, never a throw, a defect or an unhandled 'error' event.
// Network safety: an address that parses to anything but a loopback inet address is replaced
// by 127.0.0.1:1 (a closed loopback port) before it is dialled, so only loopback is reached.
import { ConnectError, InvalidInput, Network, Retry, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { addressLike, anyOptions, anyValue, oneOf } from "./helpers/anyValue.ts"

const RUNS = 10_000
const params = { numRuns: RUNS }

const allowed = (e: unknown): boolean =>
  e instanceof InvalidInput.InvalidInput ||
  ConnectError.isConnectError(e) ||
  ["DeadlineExceeded", "Unsupported"].includes(String((e as { _tag?: unknown })?._tag))

const expectExit = (exit: Exit.Exit<unknown, unknown>): void => {
  if (Exit.isSuccess(exit)) return
  if (Cause.hasDies(exit.cause)) throw new Error(`defect: ${Cause.pretty(exit.cause)}`)
  if (Cause.hasInterrupts(exit.cause)) throw new Error(`interrupted: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !allowed(error.value)) throw new Error(`unexpected failure: ${Cause.pretty(exit.cause)}`)
}

/** Loopback only: anything that would be a real destination elsewhere becomes a closed loopback port. */
const loopbackOnly = (input: unknown): unknown => {
  const parsed = SockAddr.fromInput(input as SockAddr.Input)
  if (Result.isFailure(parsed)) return input
  const address = parsed.success
  return address._tag === "Inet" && SockAddr.isLocal(address) ? input : "127.0.0.1:1"
}

const anyAddress = fc.oneof(anyValue, addressLike, oneOf("127.0.0.1:1", "[::1]:1", "unspec"))
const keys = ["local", "keepAlive", "noDelay", "deadline", "signal"]

describe("NodeNetwork: any input", () => {
  it("open, connect and handle.connect", { timeout: 300_000 }, async () => {
    let reachedKernel = 0
    const unhandled: Array<unknown> = []
    const onError = (error: unknown) => unhandled.push(error)
    process.on("uncaughtException", onError)
    try {
      await fc.assert(
        fc.asyncProperty(anyAddress, anyOptions(keys), oneOf("stream", "datagram"), async (a, o, t) => {
          const address = loopbackOnly(a())
          const options = o() as Record<string, unknown> | undefined
          // A local bind address is loopback only too (port 0: the kernel picks). A getter that
          // throws is left in place: the library must refuse it.
          let safe: unknown = options
          try {
            if (
              typeof options === "object" &&
              options !== null &&
              Result.isSuccess(SockAddr.fromInput(options.local as never))
            ) {
              safe = { ...options, local: "127.0.0.1:0" }
            }
          } catch {
            safe = options
          }
          const type = t() as "stream" | "datagram"
          const exit = await Effect.runPromiseExit(
            Network.open(type, safe as never).pipe(
              Effect.flatMap((handle) => handle.connect(address as SockAddr.Input, safe as never)),
              Effect.scoped,
              Effect.provide(NodeNetwork.layer)
            )
          )
          expectExit(exit)
          if (
            Exit.isSuccess(exit) ||
            ConnectError.isConnectError(
              Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined))
            )
          )
            reachedKernel++
          // Every refusal is classed for retry (an InvalidInput is permanent).
          if (Exit.isFailure(exit)) {
            const error = Cause.findErrorOption(exit.cause)
            if (error._tag === "Some" && Retry.classify(error.value) === undefined) throw new Error("unclassified")
          }
        }),
        params
      )
    } finally {
      process.off("uncaughtException", onError)
    }
    if (unhandled.length > 0) throw new Error(`unhandled: ${String(unhandled[0])}`)
    // The property is not all refusals: valid inputs went on to a real (loopback) socket.
    if (reachedKernel < 100) throw new Error(`only ${reachedKernel} runs reached the kernel`)
    console.log(`NodeNetwork: ${reachedKernel} of ${RUNS} runs reached the kernel`)
  })
})
