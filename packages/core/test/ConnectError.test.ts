import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"
import { ConnectError, Errno, InvalidInput, SockAddr } from "../src/index.ts"
import * as Trusted from "../src/internal/trusted.ts"

// The class of a tag, widened so `instanceof` accepts any of them.
const classOf = (name: Errno.Name): Function => ConnectError.classes[name]

const addr = (text: string): SockAddr.SockAddr => Result.getOrThrow(SockAddr.fromString(text))

describe("ConnectError", () => {
  it.each(Errno.names)("make(%s) fills number, meaning and message from the table", (name) => {
    const row = Errno.info(name)
    const cause = new Error("underneath")
    const error = ConnectError.make(name, { address: addr("[::1]:443"), cause })
    assert.strictEqual(error._tag, name)
    assert.isTrue(error instanceof classOf(name))
    assert.instanceOf(error, Error)
    assert.strictEqual(error.errno, row.number)
    assert.strictEqual(error.syscall, "connect")
    assert.strictEqual(error.meaning, row.meaning)
    assert.strictEqual(error.cause, cause)
    assert.strictEqual(error.message, `connect ${name} [::1]:443: ${row.meaning}`)
    assert.isTrue(ConnectError.isConnectError(error))
    assert.isTrue(Schema.is(ConnectError.schema)(error))
    // Only its own class claims it.
    for (const other of Errno.names) {
      if (other !== name) assert.isFalse(error instanceof classOf(other), other)
    }
  })

  it("leaves out what it was not told, and names the local address when given", () => {
    const bare = ConnectError.make("ECONNREFUSED")
    assert.isUndefined(bare.address)
    assert.isUndefined(bare.localAddress)
    assert.isUndefined(bare.cause)
    assert.isFalse(Object.hasOwn(bare, "address"))
    assert.strictEqual(bare.message, `connect ECONNREFUSED: ${Errno.info("ECONNREFUSED").meaning}`)
    const bind = ConnectError.make("EADDRINUSE", { syscall: "bind", localAddress: addr("127.0.0.1:8080") })
    assert.strictEqual(bind.syscall, "bind")
    assert.strictEqual(bind.message, `bind EADDRINUSE (local 127.0.0.1:8080): ${Errno.info("EADDRINUSE").meaning}`)
  })

  it("unknown keeps the code and a positive number", () => {
    const error = ConnectError.unknown("ENOBUFS", { errno: -105, syscall: "send", address: addr("127.0.0.1:1") })
    assert.instanceOf(error, ConnectError.UnknownErrno)
    assert.strictEqual(error._tag, "UnknownErrno")
    assert.strictEqual(error.code, "ENOBUFS")
    assert.strictEqual(error.errno, 105)
    assert.strictEqual(error.syscall, "send")
    assert.include(error.message, "send ENOBUFS 127.0.0.1:1")
    assert.isTrue(ConnectError.isConnectError(error))
    assert.isUndefined(ConnectError.unknown("ERR_X").errno)
  })

  it("errno errors capture no JavaScript stack, and the global limit is left as it was", () => {
    const limit = Error.stackTraceLimit
    const made = ConnectError.make("ECONNREFUSED", { address: addr("127.0.0.1:1") })
    const unknown = ConnectError.unknown("ENOBUFS")
    assert.strictEqual(made.stack, `ECONNREFUSED: ${made.message}`)
    assert.strictEqual(unknown.stack, `UnknownErrno: ${unknown.message}`)
    assert.strictEqual(Error.stackTraceLimit, limit)
    assert.include(new Error("other errors keep theirs").stack, "\n    at ")
  })

  it("where Error.stackTraceLimit is frozen, errors are still built (with their stack)", () => {
    const index = new URL("../src/index.ts", import.meta.url).href
    const script = `
      const { ConnectError } = await import(${JSON.stringify(index)})
      const error = ConnectError.make("ECONNREFUSED")
      console.log(JSON.stringify({ tag: error._tag, frozen: Object.isFrozen(Error) }))
    `
    const output = ChildProcess.execFileSync(
      process.execPath,
      ["--frozen-intrinsics", "--no-warnings", "--input-type=module", "-e", script],
      { encoding: "utf8", timeout: 30_000 }
    )
    assert.deepStrictEqual(JSON.parse(output.trim()), { tag: "ECONNREFUSED", frozen: true })
  })

  it("make builds through Effect's trusted constructor: no Schema pass over the library's own fields", () => {
    // Pinned: if an Effect upgrade drops it, errors are still built (validated), and this says so.
    assert.isFunction(Trusted.construct)
    // The proof that no Schema pass ran: `message` is a required field, and make does not pass
    // it. The validating constructor refuses the same fields.
    const error = ConnectError.make("ECONNREFUSED", { address: addr("127.0.0.1:1") })
    assert.isFalse(Object.hasOwn(error, "message"))
    const { message: _message, ...fields } = { ...error, message: undefined }
    assert.throws(() => new ConnectError.ECONNREFUSED(fields as never))
  })

  it("the message is computed when first read, then kept as the error's own", () => {
    const address = addr("127.0.0.1:1")
    const error = ConnectError.make("ECONNREFUSED", { address })
    assert.isFalse(Object.hasOwn(error, "message"))
    const expected = `connect ECONNREFUSED 127.0.0.1:1: ${Errno.info("ECONNREFUSED").meaning}`
    assert.strictEqual(error.message, expected)
    assert.isTrue(Object.hasOwn(error, "message"))
    assert.strictEqual(error.message, expected)
    assert.strictEqual(String(error), `ECONNREFUSED: ${expected}`)
  })

  it("an error made by make equals, field for field, one built and validated by its constructor", () => {
    const address = addr("[::1]:443")
    const cause = new Error("underneath")
    const made = ConnectError.make("ECONNREFUSED", { address, cause })
    const row = Errno.info("ECONNREFUSED")
    const validated = new ConnectError.ECONNREFUSED({
      errno: row.number,
      syscall: "connect",
      address,
      meaning: row.meaning,
      message: `connect ECONNREFUSED [::1]:443: ${row.meaning}`,
      cause
    })
    void made.message
    assert.deepStrictEqual({ ...made }, { ...validated })
    const encode = Schema.encodeUnknownSync(ConnectError.schema)
    assert.deepStrictEqual(encode(made), encode(validated))
    assert.isTrue(Schema.is(ConnectError.schema)(ConnectError.make("ENOENT")))
    // Encoding reads the message though nobody had.
    assert.strictEqual(
      (encode(ConnectError.unknown("EPIPE", { errno: 32 })) as { message: string }).message,
      "connect EPIPE: an error the library has no tag for (EPIPE)"
    )
  })

  it("the public constructor still validates, and a message given to it is kept", () => {
    const row = Errno.info("EINTR")
    const given = new ConnectError.EINTR({
      errno: row.number,
      syscall: "connect",
      meaning: row.meaning,
      message: "mine"
    })
    assert.strictEqual(given.message, "mine")
    assert.throws(() => new ConnectError.EINTR({ errno: "4", syscall: "connect", meaning: "m", message: "x" } as never))
  })

  it("isConnectError is false for look-alikes and other errors", () => {
    // A look-alike whose tag is an inherited property name must not match either.
    assert.isFalse(ConnectError.isConnectError({ _tag: "toString" }))
    assert.isFalse(ConnectError.isConnectError({ _tag: 1 }))
    assert.isFalse(ConnectError.isConnectError({ _tag: "ECONNREFUSED", errno: 111 }))
    assert.isFalse(ConnectError.isConnectError(new Error("ECONNREFUSED")))
    assert.isFalse(ConnectError.isConnectError(InvalidInput.make("address", "x", "bad")))
    assert.isFalse(ConnectError.isConnectError(null))
  })

  it.effect("catchTag reads like the man page, and the errors are yieldable", () =>
    Effect.gen(function* () {
      const connect = (name: "ECONNREFUSED" | "EACCES") =>
        Effect.gen(function* () {
          return yield* ConnectError.make(name, { address: addr("127.0.0.1:1") })
        })
      const recovered = yield* connect("ECONNREFUSED").pipe(
        Effect.catchTag("ECONNREFUSED", (e) => Effect.succeed(`refused by ${SockAddr.format(e.address!)}`))
      )
      assert.strictEqual(recovered, "refused by 127.0.0.1:1")
      // The other tag passes through catchTag untouched.
      const exit = yield* Effect.exit(
        connect("EACCES").pipe(Effect.catchTag("ECONNREFUSED", () => Effect.succeed("no")))
      )
      assert.isTrue(Exit.isFailure(exit))
      const failure = Exit.findErrorOption(exit)
      assert.isTrue(failure._tag === "Some" && failure.value._tag === "EACCES")
    })
  )

  it("the types: ByName and make are precise", () => {
    const refused = ConnectError.make("ECONNREFUSED")
    expectTypeOf(refused).toEqualTypeOf<ConnectError.ECONNREFUSED>()
    expectTypeOf<ConnectError.ByName["EACCES"]>().toEqualTypeOf<ConnectError.EACCES>()
    expectTypeOf(refused._tag).toEqualTypeOf<"ECONNREFUSED">()
    expectTypeOf<ConnectError.ConnectError["_tag"]>().toEqualTypeOf<Errno.Name | "UnknownErrno">()
    assert.strictEqual(refused._tag, "ECONNREFUSED")
  })
})
