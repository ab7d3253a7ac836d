/**
 * The protocol halves of the readiness probes: pure parsers over the bytes read so far. Each
 * parser answers `undefined` (needs more bytes) or a verdict with how many bytes it used; when
 * `final` is true no more bytes will come (the peer closed, or the read cap is reached) and the
 * parser must decide. The effectful conversation lives in `Ready.ts`.
 */

/** What a probe concluded from the server's answer. */
export type Verdict =
  | { readonly _tag: "Ready"; readonly reply: string }
  | {
      readonly _tag: "NotReady"
      readonly state: State
      readonly reply: string
      readonly retryClass: "transient" | "permanent"
    }

/** The not-ready states a probe tells apart. */
export type State =
  | "starting"
  | "shutting-down"
  | "recovering"
  | "too-many-connections"
  | "loading"
  | "busy"
  | "master-down"
  | "rejected"
  | "status"
  | "mismatch"
  | "handshake-failed"
  | "closed"
  | "no-answer"
  | "unexpected"

export interface Parsed<A> {
  readonly value: A
  readonly used: number
}

export type Parser<A> = (buffer: Uint8Array, final: boolean) => Parsed<A> | undefined

export const ready = (reply: string): Verdict => ({ _tag: "Ready", reply })

export const notReady = (
  state: State,
  reply: string,
  retryClass: "transient" | "permanent" = "transient"
): Verdict => ({
  _tag: "NotReady",
  state,
  reply,
  retryClass
})

const decoder = new TextDecoder("utf-8", { fatal: false })

/** At most this many characters of a server's words go into a verdict. */
const replyLimit = 300

/** The server's words as a short printable line: control bytes escaped, long text cut. */
export const words = (bytes: Uint8Array): string => {
  const text = decoder.decode(bytes.subarray(0, replyLimit * 4))
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control bytes is the point
  const shown = text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === "\r") return "\\r"
    if (c === "\n") return "\\n"
    if (c === "\t") return "\\t"
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`
  })
  return shown.length > replyLimit ? `${shown.slice(0, replyLimit)}…` : shown
}

export const encoder = new TextEncoder()

export const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.byteLength === 0) return b
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}

const indexOf = (haystack: Uint8Array, needle: Uint8Array, from = 0): number => {
  if (needle.byteLength === 0) return from
  outer: for (let i = from; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

const crlf = encoder.encode("\r\n")

// --- PostgreSQL ------------------------------------------------------------------------------

const int32 = (value: number): Array<number> => [
  (value >>> 24) & 255,
  (value >>> 16) & 255,
  (value >>> 8) & 255,
  value & 255
]

/** SSLRequest: length 8, code 1234.5679 (protocol docs, "Message Formats"). */
export const pgSslRequest = new Uint8Array([...int32(8), ...int32(80877103)])

/** StartupMessage, protocol 3.0, with `user`, `database` and `application_name`. */
export const pgStartup = (user: string, database: string): Uint8Array => {
  const params = encoder.encode(`user\0${user}\0database\0${database}\0application_name\0dial\0\0`)
  const length = 8 + params.byteLength
  const out = new Uint8Array(length)
  out.set([...int32(length), ...int32(196608)], 0)
  out.set(params, 8)
  return out
}

/** The one-byte answer to SSLRequest: `S` (TLS offered), `N` (plain), or an error message. */
export const pgSslAnswer: Parser<"S" | "N" | Verdict> = (buffer, final) => {
  if (buffer.byteLength === 0)
    return final ? { value: notReady("closed", "closed before answering SSLRequest"), used: 0 } : undefined
  const first = buffer[0]
  if (first === 0x53) return { value: "S", used: 1 }
  if (first === 0x4e) return { value: "N", used: 1 }
  if (first === 0x45) return pgMessage(buffer, final)
  return { value: notReady("unexpected", words(buffer), "permanent"), used: buffer.byteLength }
}

const pgFields = (payload: Uint8Array): Map<string, string> => {
  const fields = new Map<string, string>()
  let i = 0
  while (i < payload.byteLength && payload[i] !== 0) {
    const type = String.fromCharCode(payload[i]!)
    const end = payload.indexOf(0, i + 1)
    const stop = end === -1 ? payload.byteLength : end
    fields.set(type, decoder.decode(payload.subarray(i + 1, stop)))
    i = stop + 1
  }
  return fields
}

const authNames: Record<number, string> = {
  0: "ok",
  2: "Kerberos V5",
  3: "cleartext password",
  5: "MD5 password",
  7: "GSSAPI",
  9: "SSPI",
  10: "SASL"
}

/**
 * The first message after the startup packet. An authentication request (or AuthenticationOk)
 * means the server takes connections: pg_isready's "accepting". An ErrorResponse with SQLSTATE
 * 57P03 (cannot_connect_now) is "rejecting": starting up, shutting down, or in recovery; 53300
 * is too many connections. Any other error means the server is up and judged this client
 * (a role or database that does not exist, no pg_hba.conf entry): ready, as libpq's PQping
 * decides, with the server's words in the reply.
 */
export const pgMessage: Parser<Verdict> = (buffer, final) => {
  if (buffer.byteLength < 5) {
    return final
      ? { value: notReady("closed", buffer.byteLength === 0 ? "closed after startup" : words(buffer)), used: 0 }
      : undefined
  }
  const type = String.fromCharCode(buffer[0]!)
  const length = ((buffer[1]! << 24) | (buffer[2]! << 16) | (buffer[3]! << 8) | buffer[4]!) >>> 0
  if (length < 4 || length > 65536)
    return { value: notReady("unexpected", words(buffer), "permanent"), used: buffer.byteLength }
  if (buffer.byteLength < 1 + length) {
    return final ? { value: notReady("closed", words(buffer)), used: 0 } : undefined
  }
  const payload = buffer.subarray(5, 1 + length)
  const used = 1 + length
  if (type === "R") {
    const code =
      payload.byteLength >= 4
        ? ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0
        : -1
    return { value: ready(`authentication request: ${authNames[code] ?? `type ${code}`}`), used }
  }
  if (type === "v") return { value: ready("protocol version negotiation"), used }
  if (type === "E") {
    const fields = pgFields(payload)
    const code = fields.get("C") ?? ""
    const message = fields.get("M") ?? ""
    const reply = `${fields.get("V") ?? fields.get("S") ?? "ERROR"} ${code}: ${message}`
    if (code === "57P03") {
      const state = /shutting down/i.test(message)
        ? "shutting-down"
        : /recovery/i.test(message)
          ? "recovering"
          : "starting"
      return { value: notReady(state, reply), used }
    }
    if (code === "53300") return { value: notReady("too-many-connections", reply), used }
    return { value: ready(reply), used }
  }
  return { value: notReady("unexpected", words(buffer), "permanent"), used: buffer.byteLength }
}

// --- Redis -----------------------------------------------------------------------------------

export const redisPing = encoder.encode("*1\r\n$4\r\nPING\r\n")

/**
 * The reply to PING. `+PONG`, and `-NOAUTH` (a password is set: the server is up), mean ready.
 * `-LOADING` (the dataset is loading), `-BUSY` (a script is running) and `-MASTERDOWN` (a replica
 * without its master) mean not yet. Any other error is the server refusing this client (for
 * example `-DENIED` in protected mode): permanent, so that a wait stops and shows it.
 */
export const redisReply: Parser<Verdict> = (buffer, final) => {
  const end = indexOf(buffer, crlf)
  if (end === -1)
    return final
      ? { value: notReady(buffer.byteLength === 0 ? "closed" : "unexpected", words(buffer)), used: 0 }
      : undefined
  const line = decoder.decode(buffer.subarray(0, end))
  const used = end + 2
  if (line === "+PONG") return { value: ready(line), used }
  const code = line.startsWith("-") ? (line.slice(1).split(" ")[0] ?? "") : ""
  switch (code) {
    case "NOAUTH":
      return { value: ready(line), used }
    case "LOADING":
      return { value: notReady("loading", line), used }
    case "BUSY":
      return { value: notReady("busy", line), used }
    case "MASTERDOWN":
      return { value: notReady("master-down", line), used }
    case "":
      return { value: notReady("unexpected", words(buffer.subarray(0, end)), "permanent"), used }
    default:
      return { value: notReady("rejected", line, "permanent"), used }
  }
}

// --- MySQL / MariaDB -------------------------------------------------------------------------

/**
 * The server's first packet: a HandshakeV10 greeting (protocol 10) means ready; an ERR packet
 * (0xff) carries the server's code and words: 1040 (too many connections) is transient, others
 * (1129 host blocked, 1130 host not allowed) are configuration and permanent.
 */
export const mysqlGreeting: Parser<Verdict> = (buffer, final) => {
  if (buffer.byteLength < 5) return final ? { value: notReady("closed", words(buffer)), used: 0 } : undefined
  const length = buffer[0]! | (buffer[1]! << 8) | (buffer[2]! << 16)
  if (buffer.byteLength < 4 + length) return final ? { value: notReady("closed", words(buffer)), used: 0 } : undefined
  const payload = buffer.subarray(4, 4 + length)
  const used = 4 + length
  if (payload[0] === 0x0a) {
    const end = payload.indexOf(0, 1)
    const version = decoder.decode(payload.subarray(1, end === -1 ? payload.byteLength : end))
    return { value: ready(`greeting: ${version}`), used }
  }
  if (payload[0] === 0xff && payload.byteLength >= 3) {
    const code = payload[1]! | (payload[2]! << 8)
    // A "#" and a five-character SQLSTATE may come before the message.
    const rest = payload[3] === 0x23 ? payload.subarray(9) : payload.subarray(3)
    const reply = `ERROR ${code}: ${decoder.decode(rest)}`
    if (code === 1040) return { value: notReady("too-many-connections", reply), used }
    return { value: notReady("rejected", reply, "permanent"), used }
  }
  return { value: notReady("unexpected", words(buffer), "permanent"), used: buffer.byteLength }
}

// --- HTTP ------------------------------------------------------------------------------------

export const httpRequest = (path: string, host: string): Uint8Array =>
  encoder.encode(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: dial\r\nAccept: */*\r\nConnection: close\r\n\r\n`
  )

/**
 * The status line, judged by class: 2xx and 3xx ready; 5xx, 408 and 429 not yet (transient);
 * other 4xx are a wrong path or a refusal: permanent. 1xx interim answers are skipped.
 */
export const httpStatus: Parser<Verdict> = (buffer, final) => {
  let from = 0
  while (true) {
    const end = indexOf(buffer, crlf, from)
    if (end === -1)
      return final
        ? { value: notReady(buffer.byteLength === 0 ? "closed" : "unexpected", words(buffer.subarray(from))), used: 0 }
        : undefined
    const line = decoder.decode(buffer.subarray(from, end))
    const match = /^HTTP\/\d(?:\.\d)? (\d{3})(?: .*)?$/.exec(line)
    if (match === null)
      return { value: notReady("unexpected", words(buffer.subarray(from, end)), "permanent"), used: buffer.byteLength }
    const status = Number(match[1])
    if (status >= 100 && status < 200) {
      // Skip the interim response's headers, up to its blank line.
      const blank = indexOf(buffer, encoder.encode("\r\n\r\n"), from)
      if (blank === -1) return final ? { value: notReady("closed", line), used: 0 } : undefined
      from = blank + 4
      continue
    }
    if (status < 400) return { value: ready(line), used: end + 2 }
    const transient = status >= 500 || status === 408 || status === 429
    return { value: notReady("status", line, transient ? "transient" : "permanent"), used: end + 2 }
  }
}

// --- send/expect -----------------------------------------------------------------------------

/** Ready once the reply contains `expected`; a reply that ends (or fills the cap) without it is a mismatch. */
export const expectReply =
  (expected: Uint8Array): Parser<Verdict> =>
  (buffer, final) => {
    const at = indexOf(buffer, expected)
    if (at !== -1)
      return { value: ready(words(buffer.subarray(0, at + expected.byteLength))), used: at + expected.byteLength }
    if (!final) return undefined
    return { value: notReady(buffer.byteLength === 0 ? "closed" : "mismatch", words(buffer)), used: 0 }
  }

/**
 * `\r`, `\n`, `\t`, `\0`, `\\` and `\xHH` in a send/expect text; anything else is literal.
 * Answers the bytes, or a description of the first bad escape.
 */
export const unescapeText = (text: string): Uint8Array | string => {
  const out: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== "\\") {
      out.push(...encoder.encode(c))
      continue
    }
    const next = text[++i]
    switch (next) {
      case "r":
        out.push(13)
        break
      case "n":
        out.push(10)
        break
      case "t":
        out.push(9)
        break
      case "0":
        out.push(0)
        break
      case "\\":
        out.push(92)
        break
      case "x": {
        const hex = text.slice(i + 1, i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return `bad \\x escape at ${i - 1}`
        out.push(Number.parseInt(hex, 16))
        i += 2
        break
      }
      default:
        return `bad escape \\${next ?? ""} at ${i - 1}`
    }
  }
  return new Uint8Array(out)
}
