/**
 * The testkit's public entry points read their arguments here, once, before the fake kernel
 * sees them: options bags become plain snapshots (`InvalidInput.options`), outcome lists plain
 * arrays of plain values, and whatever cannot be read (a proxy whose traps throw, a cycle) is
 * `InvalidInput`. The kernel then only ever handles plain data.
 */
import { InvalidInput, SockAddr } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as TestNetwork from "../TestNetwork.ts"

type Controls = TestNetwork.TestNetwork["Service"]

const fail = (field: string, input: unknown, reason: string) => Result.fail(InvalidInput.make(field, input, reason))

const oneOf = (field: string, value: unknown, allowed: ReadonlyArray<unknown>) =>
  value === undefined || allowed.includes(value)
    ? Result.succeed(value)
    : fail(field, value, `expected ${allowed.map(String).join(" or ")}`)

/** Reads `options` once and checks each key's type: the rest is the kernel's to check. */
const read = <K extends string>(
  field: string,
  input: unknown,
  rules: Record<K, ReadonlyArray<unknown> | "number" | "duration" | "any">
  // The values are checked against `rules`, so the caller may read them as its options type (any).
): Result.Result<Partial<Record<K, any>>, InvalidInput.InvalidInput> => {
  const keys = Object.keys(rules) as Array<K>
  const snapshot = InvalidInput.options(field, input, keys)
  if (Result.isFailure(snapshot)) return snapshot
  for (const key of keys) {
    const value = snapshot.success[key]
    if (value === undefined) continue
    const rule = rules[key]
    if (rule === "number") {
      if (typeof value !== "number") return fail(key, value, "expected a number")
    } else if (rule === "duration") {
      const checked = InvalidInput.duration(key, value as never)
      if (Result.isFailure(checked)) return Result.fail(checked.failure)
    } else if (rule !== "any") {
      const checked = oneOf(key, value, rule)
      if (Result.isFailure(checked)) return Result.fail(checked.failure)
    }
  }
  return snapshot
}

const booleans = [true, false] as const
const maxOutcomeDepth = 16

/** An outcome as plain data (nested `{ delay, outcome }` to a bounded depth). */
const copyOutcome = (outcome: unknown, depth: number): Result.Result<unknown, InvalidInput.InvalidInput> => {
  if (typeof outcome !== "object" || outcome === null) return Result.succeed(outcome)
  if (depth >= maxOutcomeDepth) return fail("outcomes", outcome, `outcomes nest at most ${maxOutcomeDepth} deep`)
  const fields = InvalidInput.options("outcomes", outcome, ["errno", "delay", "outcome"])
  if (Result.isFailure(fields)) return fields
  const { errno, delay, outcome: next } = fields.success
  if (errno !== undefined) return Result.succeed({ errno })
  if (delay === undefined) return fail("outcomes", outcome, "expected an outcome")
  if (next === undefined) return Result.succeed({ delay })
  return Result.map(copyOutcome(next, depth + 1), (inner) => ({ delay, outcome: inner }))
}

const copyOutcomes = (outcomes: unknown): Result.Result<Array<never>, InvalidInput.InvalidInput> => {
  let items: Array<unknown>
  try {
    if (!Array.isArray(outcomes)) return fail("outcomes", outcomes, "expected an array of outcomes")
    items = Array.from(outcomes as ReadonlyArray<unknown>)
  } catch {
    return fail("outcomes", outcomes, "reading the outcomes threw")
  }
  const out: Array<never> = []
  for (const item of items) {
    const copied = copyOutcome(item, 0)
    if (Result.isFailure(copied)) return Result.fail(copied.failure)
    out.push(copied.success as never)
  }
  return Result.succeed(out)
}

/** A partition endpoint: `"*"`, a bare IP string (bounded), or an address. */
const endpoint = (field: string, input: unknown) =>
  typeof input === "string" && input.length <= SockAddr.maxStringLength
    ? Result.succeed(input as never)
    : address(field, input, true)

/** An address argument, checked (and copied) before the kernel parses it. */
const address = (field: string, input: unknown, star: boolean) =>
  star && input === "*"
    ? Result.succeed(input as never)
    : Result.mapError(SockAddr.fromInput(input as SockAddr.Input), (e) =>
        field === "address" ? e : InvalidInput.make(field, input, e.reason)
      )

const orFail = <A, E, R>(
  result: Result.Result<unknown, InvalidInput.InvalidInput>,
  then: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidInput.InvalidInput, R> =>
  Result.isFailure(result) ? Effect.fail(result.failure) : Effect.suspend(then)

/** Reads a `layer` options bag once; the nested bags too. */
export const layerOptions = (input: unknown): Result.Result<TestNetwork.Options, InvalidInput.InvalidInput> => {
  const top = read("options", input, {
    seed: "number",
    kernelTimeout: "duration",
    ephemeralPorts: "any",
    hostAddresses: "any",
    record: booleans
  })
  if (Result.isFailure(top)) return Result.fail(top.failure)
  const options: Record<string, unknown> = { ...top.success }
  if (options.ephemeralPorts !== undefined) {
    const range = read("ephemeralPorts", options.ephemeralPorts, { from: "number", to: "number" })
    if (Result.isFailure(range)) return Result.fail(range.failure)
    if (range.success.from === undefined || range.success.to === undefined) {
      return fail("ephemeralPorts", options.ephemeralPorts, "expected { from, to }")
    }
    options.ephemeralPorts = range.success
  }
  if (options.hostAddresses !== undefined) {
    const hosts = read("hostAddresses", options.hostAddresses, { IPv4: "any", IPv6: "any" })
    if (Result.isFailure(hosts)) return Result.fail(hosts.failure)
    for (const family of ["IPv4", "IPv6"] as const) {
      const ip = hosts.success[family]
      if (ip === undefined) continue
      if (typeof ip !== "string" || ip.length > SockAddr.maxStringLength) {
        return fail("hostAddresses", ip, `expected an ${family} address string`)
      }
    }
    options.hostAddresses = hosts.success
  }
  return Result.succeed(options as TestNetwork.Options)
}

/** The controls, each reading its arguments through the rules above first. */
export const controls = (inner: Controls): Controls => ({
  ...inner,
  listen: (input, options) => {
    const checked = Result.andThen(address("address", input, false), () =>
      read("options", options, {
        backlog: "number",
        accept: booleans,
        permission: ["allow", "deny"],
        type: ["stream", "seqpacket"],
        echo: booleans
      })
    )
    return orFail(checked, () =>
      inner.listen(Result.getOrThrow(address("address", input, false)), Result.getOrThrow(checked))
    )
  },
  bindDatagram: <I extends SockAddr.Input>(input: I, options?: TestNetwork.BindDatagramOptions) => {
    const checked = Result.andThen(address("address", input, false), () =>
      read("options", options, { echo: booleans, queue: "number", permission: ["allow", "deny"] })
    )
    // The copy is the same kind of address as the input: the bound kind the type spells stays.
    return orFail(checked, () =>
      inner.bindDatagram(Result.getOrThrow(address("address", input, false)) as I, Result.getOrThrow(checked))
    )
  },
  script: (input, outcomes) => {
    const target = address("address", input, false)
    const copied = Result.andThen(target, () => copyOutcomes(outcomes))
    return orFail(copied, () => inner.script(Result.getOrThrow(target), Result.getOrThrow(copied)))
  },
  latency: (input, options) => {
    const target = address("address", input, true)
    const checked = Result.andThen(target, () =>
      options === undefined
        ? fail("options", options, "expected { base, jitter? }")
        : read("options", options, { base: "duration", jitter: "duration" })
    )
    return orFail(checked, () =>
      inner.latency(Result.getOrThrow(target), Result.getOrThrow(checked) as { readonly base: never })
    )
  },
  partition: (a, b, options) => {
    const left = endpoint("a", a)
    const right = endpoint("b", b)
    const checked = Result.andThen(
      Result.andThen(left, () => right),
      () => read("options", options, { errno: ["ENETUNREACH", "EHOSTUNREACH"] })
    )
    return orFail(checked, () =>
      inner.partition(Result.getOrThrow(left), Result.getOrThrow(right), Result.getOrThrow(checked))
    )
  },
  hold: (input) => {
    const target = address("address", input, false)
    return orFail(target, () => inner.hold(Result.getOrThrow(target)))
  },
  toxic: (input, toxic, options) => {
    const target = endpoint("address", input)
    // The toxic as a plain snapshot of every field any toxic has; `toxics.decode` checks the values.
    const copied = Result.andThen(target, () => read("toxic", toxic, toxicFields))
    const checked = Result.andThen(copied, (snapshot) =>
      toxic === undefined
        ? fail("toxic", toxic, "expected a toxic")
        : Result.map(read("options", options, { direction: ["upstream", "downstream", "both"] }), () => snapshot)
    )
    return orFail(checked, () =>
      inner.toxic(
        Result.getOrThrow(target),
        Result.getOrThrow(checked) as TestNetwork.Toxic,
        Result.getOrThrow(read("options", options, { direction: ["upstream", "downstream", "both"] }))
      )
    )
  },
  faults: (input, rates) => {
    const target = endpoint("address", input)
    const checked = Result.andThen(target, () =>
      rates === undefined
        ? fail("rates", rates, "expected { refuse?, reset?, drop?, per? }")
        : read("rates", rates, { refuse: "number", reset: "number", drop: "number", per: ["connect", "chunk"] })
    )
    return orFail(checked, () => inner.faults(Result.getOrThrow(target), Result.getOrThrow(checked)))
  },
  host: (ip, server) => {
    const checked = Result.andThen(hostIp(ip), () =>
      isEffect(server) ? Result.succeed(server) : fail("server", server, "expected an Effect")
    )
    return orFail(checked, () => inner.host(ip, server))
  },
  crash: (ip, options) => {
    const checked = Result.andThen(hostIp(ip), () =>
      read("options", options, { connections: ["reset", "vanish"], connects: ["refuse", "blackhole"] })
    )
    return orFail(checked, () => inner.crash(ip, Result.getOrThrow(checked)))
  },
  restart: (ip) => orFail(hostIp(ip), () => inner.restart(ip))
})

const toxicFields = {
  type: "any",
  latency: "any",
  jitter: "any",
  bytesPerSecond: "any",
  averageSize: "any",
  sizeVariation: "any",
  delay: "any",
  timeout: "any",
  after: "any",
  bytes: "any"
} as const

/** A host's IP: a string of bounded length; the kernel parses it. */
const hostIp = (ip: unknown) =>
  typeof ip === "string" && ip.length <= SockAddr.maxStringLength
    ? Result.succeed(ip)
    : fail("host", ip, "expected an IP address")

/** Whether `u` is an Effect; never throws. */
export const isEffect = (u: unknown): boolean => {
  try {
    return Effect.isEffect(u)
  } catch {
    // A proxy whose traps throw is no Effect.
    return false
  }
}
