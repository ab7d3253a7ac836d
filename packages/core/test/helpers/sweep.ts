// A sweep over a package's index: every exported function (not a class, not a Schema, not on
// the exempt list) is called with generated argument lists; it must not throw; a Result it
// returns fails only with a tagged error; an Effect or a Layer it returns, run in `context`,
// ends with a value or a tagged error, never a defect; a function it returns (a dual's
// data-last form) is called once more the same way. An effect that waits (a sleep, a
// deadline) is suspended under runSync: that is not a defect.
//
// The same file is in packages/{core,node,testkit,cli}/test/helpers: each package's tests
// compile under their own rootDir, so it cannot be imported across packages.
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import type { Any } from "./anyValue.ts"

const guarded =
  <A>(check: (u: unknown) => A, otherwise: A) =>
  (u: unknown): A => {
    try {
      return check(u)
    } catch {
      return otherwise
    }
  }

const isClass = (f: Function): boolean => /^class[\s{]/.test(Function.prototype.toString.call(f))
const isSchema = guarded(Schema.isSchema, false)
const isEffect = guarded(Effect.isEffect, false)
const isLayer = guarded(Layer.isLayer, false)
const isResult = guarded(Result.isResult, false)
const isThenable = guarded(
  (u) => typeof (u as { readonly then?: unknown } | null)?.then === "function" && u instanceof Promise,
  false
)

/** Promises returned by swept functions that rejected with something untagged (checked by the caller). */
export const untaggedRejections: Array<string> = []

const isError = guarded((u) => u instanceof Error, false)
const tagged = guarded((e) => typeof (e as { readonly _tag?: unknown })?._tag === "string", false)

/** Every exported function of `index`, by `Namespace.name`, but classes, Schemas and `exempt`. */
export const functionsOf = (
  index: Record<string, unknown>,
  exempt: Readonly<Record<string, string>>
): ReadonlyArray<readonly [string, (...args: Array<unknown>) => unknown]> =>
  Object.entries(index).flatMap(([namespace, module]) =>
    Object.entries(module as Record<string, unknown>)
      .filter(([, value]) => typeof value === "function" && !isClass(value) && !isSchema(value))
      .map(([name, value]) => [`${namespace}.${name}`, value as (...args: Array<unknown>) => unknown] as const)
      .filter(([name]) => !(name in exempt))
  )

/** The names on `exempt` that are not functions of `index` (the list must stay current). */
export const staleExemptions = (index: Record<string, unknown>, exempt: Readonly<Record<string, string>>) =>
  Object.keys(exempt).filter((name) => {
    const [namespace, key] = name.split(".") as [string, string]
    return typeof (index as Record<string, Record<string, unknown> | undefined>)[namespace]?.[key] !== "function"
  })

const run = (name: string, effect: Effect.Effect<unknown, unknown, unknown>, context: Context.Context<never>): void => {
  const exit = Effect.runSyncExit(
    (effect as Effect.Effect<unknown, unknown, never>).pipe(
      Effect.scoped,
      Effect.provide(context),
      Effect.timeoutOption(0)
    ) as Effect.Effect<unknown, unknown>
  )
  if (Exit.isSuccess(exit)) return
  if (Cause.hasDies(exit.cause)) {
    const defect = Cause.squash(exit.cause)
    if (defect instanceof Error && defect.name === "AsyncFiberError") return
    throw new Error(`${name}: defect: ${defect instanceof Error ? defect.message : typeof defect}`)
  }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && !tagged(error.value)) throw new Error(`${name}: failed with an untagged value`)
}

const check = (
  name: string,
  value: unknown,
  args: () => Array<unknown>,
  context: Context.Context<never>,
  depth: number
): void => {
  if (isResult(value)) {
    const result = value as Result.Result<unknown, unknown>
    if (Result.isFailure(result) && !tagged(result.failure)) throw new Error(`${name}: failed with an untagged value`)
    return
  }
  // A promise (a factory's) must reject with a tagged error; its rejection is recorded, not left unhandled.
  if (isThenable(value)) {
    ;(value as PromiseLike<unknown>).then(undefined, (error: unknown) => {
      if (!tagged(error)) untaggedRejections.push(`${name}: ${typeof error}`)
    })
    return
  }
  // The library's errors are Effects too (yieldable): an error value is a value, not a program.
  if (isError(value)) return
  if (isLayer(value)) {
    run(name, Layer.build(value as Layer.Layer<unknown, unknown>), context)
    return
  }
  if (isEffect(value)) {
    run(name, value as Effect.Effect<unknown, unknown>, context)
    return
  }
  // A class it returns (ioredisConnector's) is the caller's to construct: its own tests do.
  if (typeof value === "function" && !isClass(value) && depth < 1) {
    check(`${name}(...)`, (value as (...a: Array<unknown>) => unknown)(...args()), args, context, depth + 1)
  }
}

/** A property: `f` called with generated argument lists passes {@link check}. */
export const property = (
  name: string,
  f: (...args: Array<unknown>) => unknown,
  values: fc.Arbitrary<Any>,
  context: Context.Context<never>
) =>
  fc.property(fc.array(values, { maxLength: 4 }), fc.array(values, { maxLength: 4 }), (first, then) => {
    const args = first.map((make) => make())
    const returned = f(...args)
    // A function handed back one of its own arguments (forPg's non-sockets): nothing new to check.
    if (args.some((arg) => Object.is(arg, returned))) return
    check(name, returned, () => then.map((make) => make()), context, 0)
  })
