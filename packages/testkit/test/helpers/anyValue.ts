// Any JavaScript value, for "never throws, never defects" properties: fast-check's
// `anything()` with bigints, boxed values, typed arrays, null prototypes and sparse arrays, the
// edge values issue 10 lists by name, and hostile objects (proxies whose traps throw, a revoked
// proxy, frozen objects, class instances with throwing getters).
//
// Values are generated as thunks (`Any`), made inside the property: fast-check itself inspects
// the values it generates, and a hostile proxy would throw inside fast-check, not the code under
// test. Call a thunk to get the value.
//
// The same file is in packages/{core,node,testkit,cli}/test/helpers: each package's tests compile
// under their own rootDir, so it cannot be imported across packages.
import * as fc from "fast-check"

const trap = (): never => {
  throw new Error("trap")
}

class WithThrowingGetter {
  get deadline(): never {
    return trap()
  }
  get signal(): never {
    return trap()
  }
  get _tag(): never {
    return trap()
  }
}

class Plain {
  readonly x = 1
}

const revoked = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

const everyTrap: ProxyHandler<object> = {
  get: trap,
  has: trap,
  ownKeys: trap,
  getOwnPropertyDescriptor: trap,
  getPrototypeOf: trap,
  set: trap,
  defineProperty: trap,
  apply: trap,
  construct: trap
}

/** A generated value, made when called; printed by its description in counterexamples. */
export type Any = () => unknown

const thunk = (make: () => unknown, description: string): Any =>
  Object.assign(make, { [fc.toStringMethod]: () => description })

const value = (v: unknown): Any => thunk(() => v, fc.stringify(v))

/** Fresh hostile objects (each made anew per run). */
export const hostile: fc.Arbitrary<Any> = fc
  .constantFrom(
    () => new Proxy({}, { get: trap }),
    () => new Proxy({}, everyTrap),
    () => new Proxy([], everyTrap),
    () => new Proxy(() => undefined, everyTrap),
    () => new Proxy({ _tag: "Inet" }, { get: trap }),
    () => new Proxy(AbortSignal.abort(), { get: trap }),
    () => new Proxy(AbortSignal.abort(), {}),
    revoked,
    () => new WithThrowingGetter(),
    () => new Plain(),
    () => Object.freeze({ _tag: "Inet", ip: "127.0.0.1", port: 80 }),
    () => Object.freeze([1, 2]),
    () => Object.create(null),
    () => ({ toString: trap, valueOf: trap, toJSON: trap, [Symbol.toPrimitive]: trap }),
    () => {
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      return cyclic
    },
    () => new Date(Number.NaN),
    () => new Map([["a", 1]]),
    () => /x/,
    () => new Error("e"),
    () => Promise.resolve(1),
    () => new Uint8Array(4),
    () => Symbol("s")
  )
  .map((make) => thunk(make, `hostile ${make.toString().slice(0, 60)}`))

/** The values issue 10 names, each at least once in every few hundred runs. */
export const edge: fc.Arbitrary<Any> = fc
  .constantFrom(
    undefined,
    null,
    true,
    false,
    0,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0.5,
    -1,
    65536,
    2 ** 53 + 2,
    1e308,
    2n ** 64n,
    -1n,
    0n,
    "",
    "\0",
    "\uD800",
    "\uDFFFa",
    "x".repeat(1 << 20),
    "1".repeat(1 << 16),
    `[${":".repeat(1 << 16)}]:1`,
    `unix:${"a".repeat(1 << 16)}`,
    [],
    {},
    [Number.NaN, 0],
    [1, 2, 3],
    { seconds: Number.NaN },
    { _tag: "Inet" },
    { _tag: "Nope" },
    { _tag: "Inet", ip: 5, port: 1 },
    { _tag: "Inet", ip: "127.0.0.1", port: 1.5 },
    { _tag: "UnixPath", path: null },
    "unspec",
    "127.0.0.1:80",
    "[::1]:443",
    "unix:@x"
  )
  .map(value)

/** Any value: mostly `anything()`, with the named edges and the hostile objects mixed in. */
export const anyValue: fc.Arbitrary<Any> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .anything({
        withBigInt: true,
        withBoxedValues: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withSparseArray: true,
        withNullPrototype: true,
        withObjectString: true,
        withDate: true
      })
      .map(value)
  },
  { weight: 2, arbitrary: edge },
  { weight: 2, arbitrary: hostile }
)

/** An options bag with any subset of `keys`, each any value; sometimes with a throwing getter. */
export const anyOptions = (keys: ReadonlyArray<string>): fc.Arbitrary<Any> => {
  const record = fc.record(Object.fromEntries(keys.map((k) => [k, anyValue])), { requiredKeys: [] })
  const make = (bag: Partial<Record<string, Any>>, getter: string | undefined): Any =>
    thunk(
      () => {
        const out: Record<string, unknown> = {}
        for (const [k, v] of Object.entries(bag)) out[k] = v?.()
        if (getter !== undefined) Object.defineProperty(out, getter, { get: trap, enumerable: true })
        return out
      },
      `{ ${Object.entries(bag)
        .map(([k, v]) => `${k}: ${fc.stringify(v)}`)
        .join(", ")}${getter === undefined ? "" : `, get ${getter}() { throw }`} }`
    )
  return fc.oneof(
    { weight: 4, arbitrary: record.map((bag) => make(bag, undefined)) },
    { weight: 1, arbitrary: fc.tuple(record, fc.constantFrom(...keys)).map(([bag, key]) => make(bag, key)) },
    { weight: 2, arbitrary: anyValue }
  )
}

/** Strings shaped like addresses, to reach past the first checks. */
export const addressLike: fc.Arbitrary<Any> = fc
  .array(
    fc.oneof(
      fc.constantFrom("unix:", "@", "[", "]", ":", "%", ".", "::", "/", "\0", "é", "\uD800", "unspec", " "),
      fc.integer({ min: 0, max: 70000 }).map(String),
      fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 5 }),
      fc.string({ maxLength: 8 })
    ),
    { maxLength: 24 }
  )
  .map((parts) => value(parts.join("")))

/** One of these values, as a thunk. */
export const oneOf = (...values: ReadonlyArray<unknown>): fc.Arbitrary<Any> => fc.constantFrom(...values).map(value)

/** Values from another arbitrary, as thunks. */
export const lift = <A>(arbitrary: fc.Arbitrary<A>): fc.Arbitrary<Any> => arbitrary.map(value)
