/**
 * Reading a field of a value of unknown shape, cheaply.
 *
 * `u[key]` when `u` is an object (or function) that has it, else undefined. For the hot paths
 * that inspect foreign errors: `Predicate.hasProperty` is a dual, and allocates its arguments on
 * every call. May throw where `u`'s traps throw (a proxy), as reading the field would.
 */
export const fieldOf = (u: unknown, key: string): unknown =>
  ((typeof u === "object" && u !== null) || typeof u === "function") && key in u
    ? (u as Record<string, unknown>)[key]
    : undefined
