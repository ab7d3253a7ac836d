// Issue 10 over the real kernel: NodeNetwork's entry points, given any value for any argument,
// succeed or fail with a typed error, never a throw, a defect or an unhandled 'error' event.
// Network safety: an address that parses to anything but a loopback inet address is replaced
// by 127.0.0.1:1 (a closed loopback port) before it is dialled, so only loopback is reached.
import { ConnectError, InvalidInput, Network, Retry, SockAddr, type SocketHandle } from "@dial/core"
import { NodeNetwork, NodeStream } from "@dial/node"
import { describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as fc from "fast-check"
import { addressLike, anyOptions, anyValue, oneOf } from "./helpers/anyValue.ts"

const RUNS = 10_000
const params = { numRuns: RUNS }

const allowed = (e: unknown): boolean =>
  e instanceof InvalidInput.InvalidInput ||
  ConnectError.isConnectError(e) ||
  ["DeadlineExceeded", "Unsupported"].includes(String((e as { _tag?: unknown })?._tag))

const expectExit = (exit: Exit.Exit<unknown, unknown>, typed: (e: unknown) => boolean = allowed): void => {
  if (Exit.isSuccess(exit)) return
  if (Cause.hasDies(exit.cause)) throw new Error(`defect: ${Cause.pretty(exit.cause)}`)
  if (Cause.hasInterrupts(exit.cause)) throw new Error(`interrupted: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !typed(error.value)) throw new Error(`unexpected failure: ${Cause.pretty(exit.cause)}`)
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

const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, unknown> => {
  try {
    return Effect.isEffect(u)
  } catch {
    return false
  }
}

describe("NodeStream: any input", () => {
  it("open, fromHandle, factory, ioredisConnector and forPg", { timeout: 600_000 }, async () => {
    // A loopback listener that counts the connections it holds open.
    let open = 0
    let accepted = 0
    const server = Net.createServer((socket) => {
      open++
      accepted++
      socket.on("error", () => {})
      socket.on("close", () => open--)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as Net.AddressInfo).port
    const reachable = Network.connect(`127.0.0.1:${port}`)
    const refused = Network.connect("127.0.0.1:1")
    const unhandled: Array<unknown> = []
    const onError = (error: unknown) => unhandled.push(error)
    process.on("uncaughtException", onError)
    const connect = fc.oneof(
      anyValue,
      anyValue.map((v) => () => Effect.succeed(v())),
      anyValue.map((v) => () => Effect.succeed({ handle: v() })),
      oneOf(
        reachable,
        refused,
        Effect.map(reachable, (handle) => ({ handle })),
        Effect.fail("not a handle")
      )
    )
    const typed = (e: unknown) => allowed(e) || e === "not a handle"
    let sockets = 0
    try {
      await fc.assert(
        fc.asyncProperty(connect, anyOptions(["allowHalfOpen"]), fc.nat(3), async (c, o, which) => {
          const made = c() as Effect.Effect<SocketHandle.StreamHandle, unknown, Scope.Scope>
          let socket: unknown
          if (which === 0) {
            const exit = await Effect.runPromiseExit(NodeStream.open(made).pipe(Effect.provide(NodeNetwork.layer)))
            expectExit(exit, typed)
            if (Exit.isSuccess(exit)) socket = exit.value
          } else if (which === 1) {
            // fromHandle inside the handle's own scope, with any options.
            const exit = await Effect.runPromiseExit(
              Effect.flatMap(isEffect(made) ? made : Effect.succeed(made), (handle) =>
                NodeStream.fromHandle(handle, o() as never)
              ).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
            )
            expectExit(exit, typed)
          } else {
            const provided = isEffect(made) ? Effect.provide(made, NodeNetwork.layer) : made
            if (which === 2) {
              const result = await NodeStream.factory(provided)
                .call(undefined)
                .then(
                  (s) => ({ ok: s as unknown }),
                  (e: unknown) => ({ error: e })
                )
              if ("error" in result && !typed(result.error))
                throw new Error(`factory rejected: ${String(result.error)}`)
              if ("ok" in result) socket = result.ok
            } else {
              const Connector = NodeStream.ioredisConnector(provided)
              const connector = new Connector()
              const stream = await connector.connect()
              if (!(stream instanceof Net.Socket)) throw new Error("ioredisConnector: not a socket")
              if (connector.firstError !== undefined && !typed(connector.firstError)) {
                throw new Error(`ioredisConnector: ${String(connector.firstError)}`)
              }
              socket = stream
            }
          }
          if (socket !== undefined) {
            if (!(socket instanceof Net.Socket)) throw new Error("not a net.Socket")
            sockets++
            // forPg hands the socket back; anything else is handed back untouched.
            if (NodeStream.forPg(socket) !== socket) throw new Error("forPg")
            const closed = new Promise<void>((resolve) => (socket as Net.Socket).once("close", () => resolve()))
            ;(socket as Net.Socket).destroy()
            await closed
          }
          // forPg never throws, whatever it is given.
          const other = o()
          if (!Object.is(NodeStream.forPg(other as never), other)) throw new Error("forPg changed a non-socket")
        }),
        params
      )
      // Every connection the sweep opened is closed again: the server holds none.
      const until = Date.now() + 5_000
      while (open > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
    } finally {
      process.off("uncaughtException", onError)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    if (unhandled.length > 0) throw new Error(`unhandled: ${String(unhandled[0])}`)
    if (open !== 0) throw new Error(`${open} of ${accepted} connections left open`)
    if (sockets < 100) throw new Error(`only ${sockets} runs got a socket`)
    console.log(`NodeStream: ${sockets} sockets, ${accepted} connections accepted, none left open`)
  })
})

describe("NodeStream.SocketDuplex: any input", () => {
  it("the constructor never throws; bad input is a duplex born closed that names its InvalidInput", async () => {
    const unhandled: Array<unknown> = []
    const onError = (error: unknown) => unhandled.push(error)
    process.on("uncaughtException", onError)
    let refused = 0
    try {
      await fc.assert(
        fc.asyncProperty(anyValue, anyOptions(["allowHalfOpen"]), async (s, o) => {
          // No 'error' listener on purpose: bad input must not emit an 'error' nobody hears.
          const duplex = new NodeStream.SocketDuplex(s() as never, o() as never)
          if (duplex.invalid === undefined) throw new Error("a generated value was taken for a Socket")
          if (!(duplex.invalid instanceof InvalidInput.InvalidInput)) throw new Error("invalid is not InvalidInput")
          if (!duplex.destroyed) throw new Error("a duplex over bad input is not destroyed")
          const written = await new Promise<unknown>((resolve) => duplex.write(new Uint8Array(1), resolve))
          if (!(written instanceof Error)) throw new Error("a write to a duplex over bad input succeeded")
          refused++
        }),
        params
      )
      // Let nextTick 'close' and any 'error' events fire before looking.
      await new Promise((resolve) => setTimeout(resolve, 20))
    } finally {
      process.off("uncaughtException", onError)
    }
    if (unhandled.length > 0) throw new Error(`unhandled: ${String(unhandled[0])}`)
    if (refused !== RUNS) throw new Error(`${refused} of ${RUNS} refused`)
  })
})
