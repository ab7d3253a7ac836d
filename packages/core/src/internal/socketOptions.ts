/**
 * The socket options set before connect (setsockopt(2)), from `Network.OpenOptions` to the
 * transport's `SocketOptions`: each checked against what the kernel would take, so a bad value
 * is `InvalidInput` at open, never an EINVAL later, and nothing is opened.
 */
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import * as InvalidInput from "../InvalidInput.ts"

export interface Input {
  readonly userTimeout?: Duration.Input | undefined
  readonly keepAliveInterval?: Duration.Input | undefined
  readonly keepAliveCount?: number | undefined
  readonly linger?: Duration.Input | undefined
  readonly mark?: number | undefined
  readonly bindToDevice?: string | undefined
  readonly receiveBufferSize?: number | undefined
  readonly sendBufferSize?: number | undefined
}

export interface Validated {
  userTimeoutMillis?: number
  keepAliveIntervalSeconds?: number
  keepAliveCount?: number
  lingerSeconds?: number
  mark?: number
  bindToDevice?: string
  receiveBufferSize?: number
  sendBufferSize?: number
}

const maxInt = 2 ** 31 - 1

const integer = (
  field: string,
  input: unknown,
  min: number,
  max: number
): Result.Result<number, InvalidInput.InvalidInput> =>
  typeof input === "number" && Number.isInteger(input) && input >= min && input <= max
    ? Result.succeed(input)
    : Result.fail(InvalidInput.make(field, input, `expected an integer from ${min} to ${max}`))

/** A duration in whole units (`unit` milliseconds each), within the kernel's range. */
const whole = (
  field: string,
  input: Duration.Input,
  unit: number,
  min: number,
  max: number
): Result.Result<number, InvalidInput.InvalidInput> => {
  const decoded = InvalidInput.duration(field, input)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const millis = Duration.toMillis(decoded.success)
  const units = millis / unit
  if (!Number.isInteger(units) || units < min || units > max) {
    const name = unit === 1 ? "milliseconds" : "seconds"
    return Result.fail(InvalidInput.make(field, input, `expected whole ${name} from ${min} to ${max}`))
  }
  return Result.succeed(units)
}

/** Linux's IFNAMSIZ is 16 with the NUL. */
const interfaceName = (input: unknown): Result.Result<string, InvalidInput.InvalidInput> =>
  typeof input === "string" &&
  input.length > 0 &&
  new TextEncoder().encode(input).length <= 15 &&
  !/[\0/\s]/.test(input)
    ? Result.succeed(input)
    : Result.fail(InvalidInput.make("bindToDevice", input, "expected an interface name of 1 to 15 bytes"))

/** Reads the options; `{}` when none is given. Straight-line: it runs on every open with options. */
export const validate = (options: Input): Result.Result<Validated, InvalidInput.InvalidInput> => {
  const out: Validated = {}
  let result: Result.Result<number | string, InvalidInput.InvalidInput>
  if (options.userTimeout !== undefined) {
    result = whole("userTimeout", options.userTimeout, 1, 0, maxInt)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.userTimeoutMillis = result.success as number
  }
  if (options.keepAliveInterval !== undefined) {
    result = whole("keepAliveInterval", options.keepAliveInterval, 1000, 1, 32767)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.keepAliveIntervalSeconds = result.success as number
  }
  if (options.keepAliveCount !== undefined) {
    result = integer("keepAliveCount", options.keepAliveCount, 1, 127)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.keepAliveCount = result.success as number
  }
  if (options.linger !== undefined) {
    result = whole("linger", options.linger, 1000, 0, maxInt)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.lingerSeconds = result.success as number
  }
  if (options.mark !== undefined) {
    result = integer("mark", options.mark, 0, 2 ** 32 - 1)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.mark = result.success as number
  }
  if (options.bindToDevice !== undefined) {
    result = interfaceName(options.bindToDevice)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.bindToDevice = result.success as string
  }
  if (options.receiveBufferSize !== undefined) {
    result = integer("receiveBufferSize", options.receiveBufferSize, 1, maxInt / 2)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.receiveBufferSize = result.success as number
  }
  if (options.sendBufferSize !== undefined) {
    result = integer("sendBufferSize", options.sendBufferSize, 1, maxInt / 2)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.sendBufferSize = result.success as number
  }
  return Result.succeed(out)
}
