// Issue 10, as a sweep: every function exported from @dial/core's index, called with generated
// values for each of its arguments, never throws; a Result it returns fails only with a tagged
// error; an Effect it returns, run over a transport that refuses every connect (nothing leaves
// the process), ends with a value or a tagged error, never a defect; a function it returns (the
// data-last form of a dual) is swept the same way. A new export is swept without anyone adding
// it here. The exempt list names what takes only values the library makes (docs/addresses.md,
// "Not covered"); the sweep checks that each name on it still exists.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as fc from "fast-check"
import * as Core from "../src/index.ts"
import { anyValue } from "./helpers/anyValue.ts"

const RUNS = Number(process.env.DIAL_SWEEP_RUNS ?? 10_000)

/** Functions documented as taking only the library's own values (no error channel). */
const exempt: Record<string, string> = {
  "SockAddr.format": "an encoder of addresses the library made",
  "SockAddr.toJson": "an encoder of addresses the library made",
  "SockAddr.socketPath": "an encoder of addresses the library made",
  "SockAddr.isLocal": "a question about an address the library made",
  "Dialer.interleave": "orders addresses the resolver returned",
  "Ready.format": "an encoder of probes the constructors made",
  "ConnectError.make": "an error constructor",
  "DialError.deadlineExceeded": "an error constructor",
  "DialError.unsupported": "an error constructor",
  "DialError.allAttemptsFailed": "an error constructor",
  "ConnectError.unknown": "an error constructor",
  "Errno.info": "a lookup keyed by the `Name` type; `Errno.isName` and `Errno.fromNumber` answer for any value",
  "Network.make": "builds the service over a Transport the platform package supplies",
  "SocketHandle.make": "builds a handle over a Transport the platform package supplies",
  "DatagramInbox.make": "the core's buffer for a platform's datagram socket"
}

const isClass = (f: Function): boolean => /^class[\s{]/.test(Function.prototype.toString.call(f))

const isSchema = (u: unknown): boolean => {
  try {
    return Schema.isSchema(u)
  } catch {
    return false
  }
}

/** Every exported function, by `Namespace.name`, that is not a class, a Schema or exempt. */
const swept = Object.entries(Core).flatMap(([namespace, module]) =>
  Object.entries(module as Record<string, unknown>)
    .filter(([, value]) => typeof value === "function" && !isClass(value) && !isSchema(value))
    .map(([name, value]) => [`${namespace}.${name}`, value as (...args: Array<unknown>) => unknown] as const)
    .filter(([name]) => !(name in exempt))
)

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

const tagged = (e: unknown): boolean => {
  try {
    return typeof (e as { readonly _tag?: unknown })?._tag === "string"
  } catch {
    return false
  }
}

const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, never> => {
  try {
    return Effect.isEffect(u)
  } catch {
    return false
  }
}

const isResult = (u: unknown): u is Result.Result<unknown, unknown> => {
  try {
    return Result.isResult(u)
  } catch {
    return false
  }
}

/** What a call returned, checked as its shape promises; `depth` bounds returned functions. */
const checkReturned = (name: string, value: unknown, args: () => Array<unknown>, depth: number): void => {
  if (isResult(value)) {
    if (Result.isFailure(value) && !tagged(value.failure)) throw new Error(`${name}: failed with an untagged value`)
    return
  }
  // The library's errors are Effects too (yieldable): an error value is a value, not a program.
  if (value instanceof Error) return
  if (isEffect(value)) {
    const exit = Effect.runSyncExit(
      (value as Effect.Effect<unknown, unknown, never>).pipe(
        Effect.scoped,
        Effect.provide(context as never),
        Effect.timeoutOption(0)
      ) as Effect.Effect<unknown, unknown, never>
    )
    if (Exit.isFailure(exit)) {
      // An effect that waits (a sleep, a deadline) is suspended: runSync reports it; it is no defect of ours.
      if (Cause.hasDies(exit.cause)) {
        const defect = Cause.squash(exit.cause)
        if (defect instanceof Error && defect.name === "AsyncFiberError") return
        throw new Error(`${name}: defect: ${defect instanceof Error ? defect.message : typeof defect}`)
      }
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some" && !tagged(error.value)) throw new Error(`${name}: failed with an untagged value`)
    }
    return
  }
  if (typeof value === "function" && depth < 1) {
    const returned = (value as (...a: Array<unknown>) => unknown)(...args())
    checkReturned(`${name}(...)`, returned, args, depth + 1)
  }
}

describe("every export of @dial/core, any input", () => {
  it("the exempt list names exports that exist", () => {
    for (const name of Object.keys(exempt)) {
      const [namespace, key] = name.split(".") as [string, string]
      expect(typeof (Core as Record<string, Record<string, unknown>>)[namespace]?.[key], name).toBe("function")
    }
    expect(swept.length).toBeGreaterThan(30)
  })

  for (const [name, f] of swept) {
    it(name, { timeout: 300_000 }, () => {
      fc.assert(
        fc.property(fc.array(anyValue, { maxLength: 4 }), fc.array(anyValue, { maxLength: 4 }), (first, then) => {
          const args = () => first.map((make) => make())
          const returned = f(...args())
          checkReturned(name, returned, () => then.map((make) => make()), 0)
        }),
        { numRuns: RUNS }
      )
    })
  }
})
