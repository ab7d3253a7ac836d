/**
 * Builds a Schema class instance from fields the library produced itself, without the Schema
 * pass that `new Class(fields)` runs on every construction (a struct parse of every field,
 * about 0.7 µs: most of what building an errno error cost). Fields the library computes from
 * its own validated values (an errno row, an address it parsed) need no second check; what a
 * user passes to `new ECONNREFUSED(...)` still gets one.
 *
 * Effect's trusted constructor (`Schema.makeClassTrusted`, what its own decoders use) is
 * internal to Effect, so it is detected when this module loads, not assumed: without it,
 * `construct` is undefined and callers build through the validating constructor.
 */
import * as Schema from "effect/Schema"

type Trusted = <A>(Class: new (input: never) => A, fields: object) => A

const found = (Schema as unknown as { readonly makeClassTrusted?: unknown }).makeClassTrusted

/** Effect's trusted constructor, or undefined where this Effect has none (a test pins it). */
export const construct: Trusted | undefined = typeof found === "function" ? (found as Trusted) : undefined
