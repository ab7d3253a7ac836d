/**
 * The options of `Probe.probe` and `Wait.wait`, read from any value into a checked record, or
 * the `InvalidInput` naming the first bad field. Fields are read once each (a getter runs once),
 * and reading never throws.
 */
import { InvalidInput, type Ready } from "@dial/core"
import type * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import * as Total from "./total.ts"

/** No address or host:port is longer (a DNS name is at most 253 bytes); longer is not parsed. */
export const maxAddressLength = 4096

export interface Checked {
  readonly type: "stream" | "datagram" | "seqpacket"
  readonly local: string | undefined
  readonly ready: Ready.Probe | undefined
}

const probeTags: ReadonlySet<unknown> = new Set(["Postgres", "Redis", "Mysql", "Http", "Tls", "Expect"])

const isRecord = (u: unknown): u is object => (typeof u === "object" && u !== null) || typeof u === "function"

export const record = (input: unknown): Result.Result<object, InvalidInput.InvalidInput> =>
  isRecord(input) ? Result.succeed(input) : Result.fail(InvalidInput.make("options", input, "expected an object"))

export const common = (options: object): Result.Result<Checked, InvalidInput.InvalidInput> => {
  const type = Total.field(options, "type")
  if (type !== "stream" && type !== "datagram" && type !== "seqpacket")
    return Result.fail(InvalidInput.make("type", type, 'expected "stream", "datagram" or "seqpacket"'))
  const local = Total.field(options, "local")
  if (local !== undefined && typeof local !== "string")
    return Result.fail(InvalidInput.make("local", local, "expected an address string"))
  if (local !== undefined && local.length > maxAddressLength)
    return Result.fail(
      InvalidInput.make("local", `${local.slice(0, 64)}…`, `longer than ${maxAddressLength} characters`)
    )
  const ready = Total.field(options, "ready")
  if (ready !== undefined && !(isRecord(ready) && probeTags.has(Total.field(ready, "_tag"))))
    return Result.fail(InvalidInput.make("ready", Total.show(ready), "expected a Ready probe"))
  return Result.succeed({ type, local, ready: ready as Ready.Probe | undefined })
}

/** A duration field: absent, or what InvalidInput.duration accepts; reading it never throws. */
export const duration = (
  options: object,
  key: string,
  infinite: "allow" | "refuse"
): Result.Result<Duration.Duration | undefined, InvalidInput.InvalidInput> => {
  const input = Total.field(options, key)
  if (input === undefined) return Result.succeed(undefined)
  if (typeof input === "string" && input.length > 64)
    return Result.fail(InvalidInput.make(key, `${input.slice(0, 64)}…`, "not a duration (longer than 64 characters)"))
  return Total.attempt(
    () => InvalidInput.duration(key, input as Duration.Input, { infinite }),
    () => Result.fail(InvalidInput.make(key, Total.show(input), "expected a duration"))
  )
}
