/**
 * Socket addresses as data: what `connect(2)` takes, validated before any socket sees it.
 *
 * Four variants, one per address family the library speaks:
 *
 * | variant | string form | family |
 * |---|---|---|
 * | `Inet` | `127.0.0.1:80`, `[::1]:443`, `[fe80::1%2]:22` | AF_INET / AF_INET6 |
 * | `UnixPath` | `unix:/run/app.sock` | AF_UNIX, filesystem |
 * | `UnixAbstract` | `unix:@name` | AF_UNIX, Linux abstract namespace |
 * | `Unspec` | `unspec` | AF_UNSPEC: dissolves a datagram association |
 *
 * IP parsing and formatting is `effect/net`'s `NetAddress`; this module adds the unix
 * variants, `Unspec`, the `sun_path` limit, Schemas and generators. A unix path must fit
 * `sun_path`: at most 107 bytes of UTF-8 and no NUL. Node 20 silently truncates a longer path
 * (and can reach a *different* socket whose name is the prefix), Node 24 fails with EINVAL:
 * the library refuses it up front.
 *
 * @since 0.1.0
 */
import * as Arbitrary from "effect/Arbitrary"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as NetAddress from "effect/net/NetAddress"
import * as InvalidInput from "./InvalidInput.ts"

/**
 * The longest unix socket path or abstract name, in bytes: `sun_path` is 108 bytes and a path
 * needs its terminating NUL (an abstract name, its leading one).
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.maxUnixPathBytes // 107
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxUnixPathBytes = 107

/**
 * The longest address string {@link fromString} reads, in UTF-16 code units (JavaScript's
 * `length`). The longest valid form is `unix:@` and a 107-byte name, 113 characters (an IPv6
 * address with scope and port is at most 64); the limit leaves a margin so that a slightly long
 * unix path still hears about `sun_path`. A longer string is refused before it is parsed, so
 * parsing time is bounded whatever the input.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.maxStringLength // 256
 * Result.isFailure(SockAddr.fromString("1".repeat(1 << 20))) // true, at once
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxStringLength = 256

/**
 * An internet address: IPv4, or IPv6 with its scope id. Build one with {@link inet} or
 * {@link fromString}; the class constructor does not validate, so {@link fromInput} (and so every
 * `connect`) checks an address it did not make before any socket sees it.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const addr = Result.getOrThrow(SockAddr.inet("::1", 443))
 * addr.family // "IPv6"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Inet extends Data.TaggedClass("Inet")<{ readonly address: NetAddress.InetAddress }> {
  /** `"IPv4"` or `"IPv6"`. */
  get family(): NetAddress.IpFamily {
    return NetAddress.familyOf(this.address)
  }
  /** The IP address without port. */
  get ip(): NetAddress.IpAddress {
    return this.address.address
  }
  get port(): number {
    return this.address.port
  }
  /** The IPv6 scope id (interface index); 0 for IPv4 and unscoped IPv6. */
  get scopeId(): number {
    return this.address._tag === "InetAddressV6" ? this.address.scopeId : 0
  }
  override toString(): string {
    return format(this)
  }
}

/**
 * A unix socket in the filesystem. Build one with {@link unixPath}.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.getOrThrow(SockAddr.unixPath("/run/app.sock")).path // "/run/app.sock"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class UnixPath extends Data.TaggedClass("UnixPath")<{ readonly path: string }> {
  override toString(): string {
    return format(this)
  }
}

/**
 * A unix socket in Linux's abstract namespace: a name with no file behind it. Build one with
 * {@link unixAbstract}; `name` excludes the leading NUL.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.format(Result.getOrThrow(SockAddr.unixAbstract("app"))) // "unix:@app"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class UnixAbstract extends Data.TaggedClass("UnixAbstract")<{ readonly name: string }> {
  override toString(): string {
    return format(this)
  }
}

/**
 * AF_UNSPEC. Connecting a datagram socket to it dissolves the socket's association; a stream
 * socket refuses it.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.format(SockAddr.unspec) // "unspec"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Unspec extends Data.TaggedClass("Unspec")<{}> {
  override toString(): string {
    return "unspec"
  }
}

/**
 * Any socket address.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * const describe = (a: SockAddr.SockAddr) =>
 *   a._tag === "Inet" ? `port ${a.port}` : a._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SockAddr = Inet | UnixPath | UnixAbstract | Unspec

/**
 * What {@link fromInput} accepts: a `SockAddr`, an `effect/net` `SocketAddress`, or the string
 * form.
 *
 * @example
 * ```ts
 * import type { SockAddr } from "@dial/core"
 *
 * const input: SockAddr.Input = "unix:@app"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Input = SockAddr | NetAddress.SocketAddress | string

/**
 * The one AF_UNSPEC value.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isUnspec(SockAddr.unspec) // true
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const unspec: Unspec = new Unspec()

/**
 * Whether a value is a `SockAddr`.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isSockAddr(SockAddr.unspec) // true
 * SockAddr.isSockAddr("127.0.0.1:80") // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSockAddr = (u: unknown): u is SockAddr => {
  if (typeof u !== "object" || u === null) return false
  try {
    return u instanceof Inet || u instanceof UnixPath || u instanceof UnixAbstract || u instanceof Unspec
  } catch {
    // A proxy whose getPrototypeOf trap throws is no address.
    return false
  }
}

/**
 * Whether an address is an internet address.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isInet(SockAddr.unspec) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isInet = (a: SockAddr): a is Inet => isSockAddr(a) && a._tag === "Inet"

/**
 * Whether an address is a unix address (path or abstract).
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isUnix(SockAddr.unspec) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isUnix = (a: SockAddr): a is UnixPath | UnixAbstract =>
  isSockAddr(a) && (a._tag === "UnixPath" || a._tag === "UnixAbstract")

/**
 * Whether an address is `Unspec`.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isUnspec(SockAddr.unspec) // true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isUnspec = (a: SockAddr): a is Unspec => isSockAddr(a) && a._tag === "Unspec"

const invalid = (input: unknown, reason: string) => Result.fail(InvalidInput.make("address", input, reason))

const utf8 = new TextEncoder()

const checkUnixName = (name: string, what: string): string | undefined => {
  if (name.length === 0) return `${what} must not be empty`
  // Each UTF-16 code unit is at least one byte of UTF-8: a longer string cannot fit, and is
  // refused without encoding it.
  if (name.length > maxUnixPathBytes) {
    return `${what} is ${name.length} characters; sun_path holds at most ${maxUnixPathBytes} bytes`
  }
  if (name.includes("\0")) return `${what} must not contain NUL`
  const bytes = utf8.encode(name).length
  if (bytes > maxUnixPathBytes) {
    return `${what} is ${bytes} bytes of UTF-8; sun_path holds at most ${maxUnixPathBytes}`
  }
  // A lone surrogate cannot be encoded to UTF-8 faithfully: the kernel would get U+FFFD.
  if (!name.isWellFormed()) return `${what} must be well-formed Unicode`
  return undefined
}

/**
 * An internet address from an IP literal, a port, and for IPv6 an optional scope id.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.isSuccess(SockAddr.inet("127.0.0.1", 80)) // true
 * Result.isFailure(SockAddr.inet("127.0.0.1", 70000)) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const inet = (
  ip: string | NetAddress.IpAddress,
  port: number,
  scopeId?: number
): Result.Result<Inet, InvalidInput.InvalidInput> => {
  // The input as the error reports it, built only on failure: formatting an IP is most of the
  // cost of a valid address.
  const fail = (reason: string) =>
    invalid({ ip: typeof ip === "string" || !validIp(ip) ? ip : NetAddress.formatIp(ip), port, scopeId }, reason)
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return fail("port must be an integer within 0..65535")
  }
  let parsed: Result.Result<NetAddress.IpAddress, NetAddress.NetAddressError | string>
  if (typeof ip === "string") {
    parsed =
      ip.length > maxStringLength
        ? Result.fail(`an IP address is at most ${maxStringLength} characters (got ${ip.length})`)
        : NetAddress.ipFromString(ip)
  } else {
    parsed = validIp(ip) ? Result.succeed(ip) : Result.fail("expected an IP address string or a NetAddress.IpAddress")
  }
  if (Result.isFailure(parsed)) {
    const failure = parsed.failure
    return fail(typeof failure === "string" ? failure : `malformed IP address: ${failure.message}`)
  }
  const address = parsed.success
  if (scopeId !== undefined && typeof scopeId !== "number") return fail("scope id must be an unsigned 32-bit integer")
  if (scopeId !== undefined && scopeId !== 0) {
    if (NetAddress.isIpv4Address(address)) return fail("an IPv4 address has no scope id")
    if (!Number.isInteger(scopeId) || scopeId < 0 || scopeId > 0xffffffff) {
      return fail("scope id must be an unsigned 32-bit integer")
    }
  }
  // `+ 0` turns -0 into 0: the two would format alike but hash apart.
  const made: Result.Result<NetAddress.InetAddress, NetAddress.NetAddressError> = NetAddress.isIpv4Address(address)
    ? NetAddress.inetAddressV4(address, port + 0)
    : NetAddress.inetAddressV6(address, port + 0, { scopeId: (scopeId ?? 0) + 0 })
  return Result.isFailure(made)
    ? fail(made.failure.message)
    : Result.succeed(trust(new Inet({ address: made.success })))
}

// Addresses this module made, or checked once: `fromInput` passes them straight through. Any
// other instance (`new Inet({ ... })` from arbitrary fields) is checked field by field first.
const trusted = new WeakSet<SockAddr>()
const trust = <A extends SockAddr>(address: A): A => {
  trusted.add(address)
  return address
}

/**
 * Whether a value really is an IP address: Effect's guard only looks for a type id and a tag,
 * so a forged object would pass it; format and read back, inside a try (a proxy may throw).
 */
const validIp = (ip: unknown): ip is NetAddress.IpAddress => {
  try {
    if (!NetAddress.isIpAddress(ip)) return false
    const back = NetAddress.ipFromString(NetAddress.formatIp(ip))
    return Result.isSuccess(back) && Equal.equals(back.success, ip)
  } catch {
    return false
  }
}

/** An `effect/net` internet address rebuilt from its fields through the checked constructors. */
const rebuildInet = (address: unknown): Result.Result<NetAddress.InetAddress, string> => {
  try {
    if (!NetAddress.isInetAddress(address)) return Result.fail("expected an internet address")
    const { address: ip, port } = address
    if (!validIp(ip)) return Result.fail("malformed IP address")
    if (typeof port !== "number") return Result.fail("port must be an integer within 0..65535")
    const made: Result.Result<NetAddress.InetAddress, NetAddress.NetAddressError> = NetAddress.isIpv4Address(ip)
      ? NetAddress.inetAddressV4(ip, port + 0)
      : NetAddress.inetAddressV6(ip, port + 0, {
          scopeId: address._tag === "InetAddressV6" && typeof address.scopeId === "number" ? address.scopeId + 0 : NaN
        })
    return Result.isFailure(made) ? Result.fail(made.failure.message) : Result.succeed(made.success)
  } catch {
    return Result.fail("reading the address threw")
  }
}

/** An address this module did not make, checked as its constructors check, and copied. */
const recheck = (input: SockAddr): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  try {
    switch (input._tag) {
      case "Inet": {
        const rebuilt = rebuildInet(input.address)
        return Result.isFailure(rebuilt)
          ? invalid(input, rebuilt.failure)
          : Result.succeed(trust(new Inet({ address: rebuilt.success })))
      }
      case "UnixPath":
        return unixPath(input.path)
      case "UnixAbstract":
        return unixAbstract(input.name)
      case "Unspec":
        return Result.succeed(unspec)
    }
    return invalid(input, "unknown address variant")
  } catch {
    return invalid(input, "reading the address threw")
  }
}

/**
 * A filesystem unix address. Refuses an empty path, a NUL, a path longer than `sun_path`
 * holds, and a path starting with `@` (which reads as abstract: write `./@name`).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.isFailure(SockAddr.unixPath("/tmp/" + "x".repeat(200))) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unixPath = (path: string): Result.Result<UnixPath, InvalidInput.InvalidInput> => {
  if (typeof path !== "string") return invalid(path, "unix path must be a string")
  const problem = checkUnixName(path, "unix path")
  if (problem !== undefined) return invalid(path, problem)
  if (path.startsWith("@")) return invalid(path, "a unix path starting with @ reads as abstract; write ./@…")
  return Result.succeed(trust(new UnixPath({ path })))
}

/**
 * An abstract unix address (Linux). `name` is the name without its leading NUL.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.isSuccess(SockAddr.unixAbstract("app.sock")) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unixAbstract = (name: string): Result.Result<UnixAbstract, InvalidInput.InvalidInput> => {
  if (typeof name !== "string") return invalid(name, "abstract name must be a string")
  const problem = checkUnixName(name, "abstract name")
  return problem !== undefined ? invalid(name, problem) : Result.succeed(trust(new UnixAbstract({ name })))
}

/**
 * Parses the string form: `127.0.0.1:80`, `[::1]:443`, `[fe80::1%2]:22`, `unix:/path`,
 * `unix:@name`, `unspec`. Host names are not addresses: resolve them with `Dialer.dial`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const addr = Result.getOrThrow(SockAddr.fromString("[fe80::1%2]:22"))
 * SockAddr.format(addr) // "[fe80::1%2]:22"
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const fromString = (input: string): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  if (typeof input !== "string") return invalid(input, "expected a string")
  // Before anything else (the cache lookup hashes the string): time is bounded by the limit.
  if (input.length > maxStringLength) {
    return invalid(input, `an address string is at most ${maxStringLength} characters (got ${input.length})`)
  }
  // A program connects to a few addresses many times, often written as strings: parsing one
  // on every connect cost a tenth of a loopback connect. Addresses are immutable, so a parse
  // is kept (the cache is bounded and only holds successes), frozen, since every later parse
  // of the string shares it.
  let parsed = parsedStrings.get(input)
  if (parsed === undefined) {
    const result = parseString(input)
    if (Result.isFailure(result)) return result
    if (parsedStrings.size >= maxParsedStrings) parsedStrings.clear()
    const address = result.success
    if (address._tag === "Inet") Object.freeze(address.address)
    parsed = Object.freeze(Result.succeed(Object.freeze(address)))
    parsedStrings.set(input, parsed)
  }
  return parsed
}

const maxParsedStrings = 256
const parsedStrings = new Map<string, Result.Result<SockAddr, InvalidInput.InvalidInput>>()

const parseString = (input: string): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  if (input === "unspec") return Result.succeed(unspec)
  if (input.startsWith("unix:")) {
    const rest = input.slice(5)
    const made: Result.Result<SockAddr, InvalidInput.InvalidInput> = rest.startsWith("@")
      ? unixAbstract(rest.slice(1))
      : unixPath(rest)
    return Result.isSuccess(made) ? made : invalid(input, made.failure.reason)
  }
  const parsed = NetAddress.inetAddressFromString(input)
  if (Result.isSuccess(parsed)) return Result.succeed(trust(new Inet({ address: parsed.success })))
  const reason = parsed.failure.message
  return invalid(
    input,
    looksLikeHostPort(input)
      ? "a host name is not an address (Dialer.dial resolves names)"
      : `expected IPv4:port, [IPv6]:port, unix:/path, unix:@name or unspec: ${reason}`
  )
}

const isNameChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

/**
 * `name:digits` with a letter in the name: one pass, no regular expression (the one this
 * replaces backtracked quadratically on long inputs).
 */
const looksLikeHostPort = (input: string): boolean => {
  const colon = input.lastIndexOf(":")
  if (colon < 0 || colon === input.length - 1) return false
  let letter = false
  for (let i = 0; i < colon; i++) {
    const c = input.charCodeAt(i)
    if (!isNameChar(c)) return false
    if (isLetter(c)) letter = true
  }
  for (let i = colon + 1; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return letter
}

/**
 * Like {@link fromString}, as an `Effect`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const program = Effect.gen(function*() {
 *   const addr = yield* SockAddr.parse("unix:/run/app.sock")
 *   return addr._tag // "UnixPath"
 * })
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const parse = (input: string): Effect.Effect<SockAddr, InvalidInput.InvalidInput> =>
  Effect.suspend(() => Effect.fromResult(fromString(input)))

/**
 * Accepts a `SockAddr`, an `effect/net` `SocketAddress`, or the string form.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { NetAddress } from "effect/net"
 * import { SockAddr } from "@dial/core"
 *
 * const fromEffect = SockAddr.fromInput(NetAddress.inetAddressFromStringUnsafe("127.0.0.1:80"))
 * Result.isSuccess(fromEffect) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromInput = (input: Input): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  if (typeof input === "string") return fromString(input)
  if (isSockAddr(input)) return trusted.has(input) ? Result.succeed(input) : recheck(input)
  try {
    if (NetAddress.isInetAddress(input)) {
      const rebuilt = rebuildInet(input)
      return Result.isFailure(rebuilt)
        ? invalid(input, rebuilt.failure)
        : Result.succeed(trust(new Inet({ address: rebuilt.success })))
    }
    if (NetAddress.isUnixPathAddress(input)) return fromSocketPath(input.path)
  } catch {
    return invalid(input, "reading the address threw")
  }
  return invalid(input, "expected a SockAddr, a NetAddress.SocketAddress or an address string")
}

/**
 * A unix address from the path form runtimes use (`sun_path`): a leading NUL names the
 * abstract namespace.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.getOrThrow(SockAddr.fromSocketPath("\0dial"))._tag // "UnixAbstract"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromSocketPath = (path: string): Result.Result<UnixPath | UnixAbstract, InvalidInput.InvalidInput> =>
  typeof path !== "string"
    ? invalid(path, "unix socket path must be a string")
    : path.startsWith("\0")
      ? unixAbstract(path.slice(1))
      : unixPath(path)

/**
 * The path form runtimes take for a unix address: {@link fromSocketPath} read backwards.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.socketPath(Result.getOrThrow(SockAddr.unixAbstract("dial"))) // "\0dial"
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const socketPath = (address: UnixPath | UnixAbstract): string =>
  address._tag === "UnixPath" ? address.path : `\0${address.name}`

const formatted = new WeakMap<Inet, string>()

/**
 * The string form; {@link fromString} reads it back to an equal address.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.format(SockAddr.unspec) // "unspec"
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const format = (self: SockAddr): string => {
  switch (self._tag) {
    case "Inet": {
      // Every error message names its address, and a program dials a few addresses many
      // times: the text of an (immutable) address is computed once.
      let text = formatted.get(self)
      if (text === undefined) {
        text = NetAddress.formatInet(self.address)
        formatted.set(self, text)
      }
      return text
    }
    case "UnixPath":
      return `unix:${self.path}`
    case "UnixAbstract":
      return `unix:@${self.name}`
    case "Unspec":
      return "unspec"
  }
}

/**
 * Whether `connect` to this address is dialing a loopback or local destination: loopback IPs
 * and unix sockets.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.isLocal(Result.getOrThrow(SockAddr.fromString("127.0.0.9:1"))) // true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const isLocal = (self: SockAddr): boolean =>
  self._tag === "Inet" ? NetAddress.isLoopback(self.ip) : self._tag !== "Unspec"

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

/**
 * The Schema of a decoded `SockAddr` value, for fields of other Schemas.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const Target = Schema.Struct({ address: SockAddr.schema })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const schema: Schema.declare<SockAddr> = Schema.declare(isSockAddr, {
  identifier: "SockAddr",
  expected: "a SockAddr"
})

/** A Schema transformation over one of this module's validating readers and its writer. */
const transformation = <E>(
  read: (encoded: E) => Result.Result<SockAddr, InvalidInput.InvalidInput>,
  write: (address: SockAddr) => E
) =>
  SchemaTransformation.transformEffect<SockAddr, E>({
    decode: (encoded, options) => {
      const decoded = read(encoded)
      return Result.isSuccess(decoded)
        ? Effect.succeed(decoded.success)
        : Effect.fail(new SchemaIssue.InvalidValue({ message: decoded.failure.reason }, encoded, options))
    },
    encode: (address) => Effect.succeed(write(address))
  })

/**
 * A Schema from the string form to `SockAddr`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const addr = Schema.decodeUnknownSync(SockAddr.FromString)("[::1]:443")
 * Schema.encodeSync(SockAddr.FromString)(addr) // "[::1]:443"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const FromString: Schema.decodeTo<Schema.declare<SockAddr>, Schema.String> = Schema.String.pipe(
  Schema.decodeTo(schema, transformation(fromString, format))
)

/**
 * The structured JSON form of an address: `{ _tag: "Inet", ip, port, scopeId? }`,
 * `{ _tag: "UnixPath", path }`, `{ _tag: "UnixAbstract", name }`, `{ _tag: "Unspec" }`.
 *
 * @example
 * ```ts
 * import type { SockAddr } from "@dial/core"
 *
 * const json: SockAddr.Json = { _tag: "Inet", ip: "::1", port: 443 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Json =
  | { readonly _tag: "Inet"; readonly ip: string; readonly port: number; readonly scopeId?: number }
  | { readonly _tag: "UnixPath"; readonly path: string }
  | { readonly _tag: "UnixAbstract"; readonly name: string }
  | { readonly _tag: "Unspec" }

const JsonSchema = Schema.Union([
  Schema.TaggedStruct("Inet", {
    ip: Schema.String,
    port: Schema.Number,
    scopeId: Schema.optionalKey(Schema.Number)
  }),
  Schema.TaggedStruct("UnixPath", { path: Schema.String }),
  Schema.TaggedStruct("UnixAbstract", { name: Schema.String }),
  Schema.TaggedStruct("Unspec", {})
])

/**
 * The JSON form of an address.
 *
 * @example
 * ```ts
 * import { SockAddr } from "@dial/core"
 *
 * SockAddr.toJson(SockAddr.unspec) // { _tag: "Unspec" }
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const toJson = (self: SockAddr): Json => {
  switch (self._tag) {
    case "Inet":
      return self.scopeId === 0
        ? { _tag: "Inet", ip: NetAddress.formatIp(self.ip), port: self.port }
        : { _tag: "Inet", ip: NetAddress.formatIp(self.ip), port: self.port, scopeId: self.scopeId }
    case "UnixPath":
      return { _tag: "UnixPath", path: self.path }
    case "UnixAbstract":
      return { _tag: "UnixAbstract", name: self.name }
    case "Unspec":
      return { _tag: "Unspec" }
  }
}

const decodeJsonShape = Schema.decodeUnknownResult(JsonSchema)

/** The values of a JSON form whose shape `JsonSchema` has checked, through the constructors. */
const fromJsonShape = (json: Json): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  switch (json._tag) {
    case "Inet":
      return inet(json.ip, json.port, json.scopeId)
    case "UnixPath":
      return unixPath(json.path)
    case "UnixAbstract":
      return unixAbstract(json.name)
    case "Unspec":
      return Result.succeed(unspec)
  }
}

/**
 * Reads the JSON form back: its shape by the same Schema as {@link FromJson}, its values by the
 * constructors. Anything else (an unknown `_tag`, a missing or mistyped field, `null`, a
 * string) is `InvalidInput`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * Result.isSuccess(SockAddr.fromJson({ _tag: "UnixAbstract", name: "app" })) // true
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const fromJson = (json: Json): Result.Result<SockAddr, InvalidInput.InvalidInput> => {
  let shape: Result.Result<Json, Schema.SchemaError>
  try {
    shape = decodeJsonShape(json)
  } catch {
    return invalid(json, "reading the JSON form threw")
  }
  if (Result.isSuccess(shape)) return fromJsonShape(shape.success)
  const issue = shape.failure.message
  return invalid(
    json,
    `expected the JSON form of an address: ${issue.length > 200 ? `${issue.slice(0, 200)}…` : issue}`
  )
}

/**
 * A Schema from the structured JSON form to `SockAddr`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const addr = Schema.decodeUnknownSync(SockAddr.FromJson)({ _tag: "Inet", ip: "127.0.0.1", port: 80 })
 * SockAddr.format(addr) // "127.0.0.1:80"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const FromJson: Schema.decodeTo<Schema.declare<SockAddr>, typeof JsonSchema> = JsonSchema.pipe(
  Schema.decodeTo(schema, transformation(fromJsonShape, toJson))
)

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const int = (min: number, max: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

const word32 = int(0, 0xffffffff)
const word16 = int(0, 0xffff)

/**
 * Generates IPv4 internet addresses over the whole address and port space.
 *
 * @example
 * ```ts
 * import { Arbitrary } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const samples = Arbitrary.sampleEffect(SockAddr.arbitraryInetV4)
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const arbitraryInetV4: Arbitrary.Arbitrary<Inet> = Arbitrary.map(
  Arbitrary.all([int(0, 255), int(0, 255), int(0, 255), int(0, 255), word16]),
  ([a, b, c, d, port]) =>
    new Inet({
      address: NetAddress.inetAddressUnsafe(NetAddress.ipv4FromBytesUnsafe(new Uint8Array([a, b, c, d])), port)
    })
)

/**
 * Generates IPv6 internet addresses, about a third of them scoped, with runs of zero groups
 * (so `::` compression is exercised).
 *
 * @example
 * ```ts
 * import { Arbitrary } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const samples = Arbitrary.sampleEffect(SockAddr.arbitraryInetV6)
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const arbitraryInetV6: Arbitrary.Arbitrary<Inet> = Arbitrary.map(
  Arbitrary.all([
    Arbitrary.array(word16, { minLength: 8, maxLength: 8 }),
    int(0, 7),
    int(0, 8),
    word16,
    word32,
    int(0, 2)
  ]),
  ([groups, zeroFrom, zeroCount, port, scope, scoped]) => {
    const segments = groups.map((g, i) => (i >= zeroFrom && i < zeroFrom + zeroCount ? 0 : g))
    const ip = Result.getOrThrow(NetAddress.ipv6FromSegments(segments as unknown as NetAddress.Ipv6Segments))
    const scopeId = scoped === 0 ? scope : 0
    return new Inet({ address: Result.getOrThrow(NetAddress.inetAddressV6(ip, port, { scopeId })) })
  }
)

// Unix names mix ASCII path characters with multi-byte UTF-8 so the byte limit, not the
// character count, is what the generator walks up to. The length is a byte budget drawn over
// the whole range (the characters repeat to fill it): a size-scaled array alone stays short
// under default check options and never came near the limit.
const unixChars = ["a", "b", "z", "0", "9", "-", "_", ".", "/", " ", ":", "@", "é", "中", "🙂"] as const
const unixName = (maxBytes: number): Arbitrary.Arbitrary<string> =>
  Arbitrary.map(
    Arbitrary.all([Arbitrary.array(int(0, unixChars.length - 1), { minLength: 1, maxLength: 60 }), int(1, maxBytes)]),
    ([indexes, budget]) => {
      let name = ""
      for (let k = 0; ; k++) {
        const next = name + unixChars[indexes[k % indexes.length]!]!
        if (utf8.encode(next).length > budget) break
        name = next
      }
      return name.length === 0 ? "s" : name
    }
  )

/**
 * Generates filesystem unix addresses up to the `sun_path` limit.
 *
 * @example
 * ```ts
 * import { Arbitrary } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const samples = Arbitrary.sampleEffect(SockAddr.arbitraryUnixPath)
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const arbitraryUnixPath: Arbitrary.Arbitrary<UnixPath> = Arbitrary.map(
  unixName(maxUnixPathBytes),
  // A leading "@" would read as abstract: swap it for "/" (same byte count, so the name still fits).
  (name) => new UnixPath({ path: name.startsWith("@") ? `/${name.slice(1)}` : name })
)

/**
 * Generates abstract unix addresses up to the `sun_path` limit.
 *
 * @example
 * ```ts
 * import { Arbitrary } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const samples = Arbitrary.sampleEffect(SockAddr.arbitraryUnixAbstract)
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const arbitraryUnixAbstract: Arbitrary.Arbitrary<UnixAbstract> = Arbitrary.map(
  unixName(maxUnixPathBytes),
  (name) => new UnixAbstract({ name })
)

/**
 * Generates addresses of every variant.
 *
 * @example
 * ```ts
 * import { Arbitrary } from "effect"
 * import { SockAddr } from "@dial/core"
 *
 * const samples = Arbitrary.sampleEffect(SockAddr.arbitrary)
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const arbitrary: Arbitrary.Arbitrary<SockAddr> = Arbitrary.flatMap(
  int(0, 4),
  (variant): Arbitrary.Arbitrary<SockAddr> =>
    variant === 0
      ? arbitraryInetV4
      : variant === 1
        ? arbitraryInetV6
        : variant === 2
          ? arbitraryUnixPath
          : variant === 3
            ? arbitraryUnixAbstract
            : Arbitrary.Constant(unspec)
)
