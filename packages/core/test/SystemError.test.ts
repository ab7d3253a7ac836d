import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Equal from "effect/Equal"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { ConnectError, DialError, Errno, InvalidInput, Retry, SockAddr, SystemError } from "../src/index.ts"

// The class of a tag, widened so `instanceof` accepts any of them.
const classOf = (name: Errno.Name): Function => ConnectError.classes[name]

const addr = (text: string): SockAddr.SockAddr => Result.getOrThrow(SockAddr.fromString(text))

/** An error shaped like the ones Node's net module emits. */
const nodeError = (fields: {
  readonly code?: string
  readonly errno?: number
  readonly syscall?: string
  readonly address?: string
  readonly port?: number
}): Error => Object.assign(new Error(`${fields.syscall ?? "?"} ${fields.code ?? "?"} ${fields.address ?? ""}`), fields)

const assertConnectError = (mapped: SystemError.Mapped): ConnectError.ConnectError => {
  assert.isTrue(ConnectError.isConnectError(mapped), `expected an errno error, got ${mapped._tag}`)
  return mapped as ConnectError.ConnectError
}

const assertSameAddress = (actual: SockAddr.SockAddr | undefined, expected: string) => {
  assert.isDefined(actual, `expected address ${expected}`)
  assert.isTrue(Equal.equals(actual, addr(expected)), `${actual === undefined ? "none" : SockAddr.format(actual)}`)
}

describe("SystemError.fromUnknown", () => {
  describe("every tag", () => {
    it.each(Errno.names)("%s from connect", (name) => {
      const row = Errno.info(name)
      const error = nodeError({ code: name, errno: -row.number, syscall: "connect", address: "127.0.0.1", port: 1 })
      const mapped = assertConnectError(SystemError.fromUnknown(error))
      assert.strictEqual(mapped._tag, name)
      assert.isTrue(mapped instanceof classOf(name))
      assert.strictEqual(mapped.errno, row.number)
      assert.isAbove(mapped.errno!, 0)
      assert.strictEqual(mapped.syscall, "connect")
      assertSameAddress(mapped.address, "127.0.0.1:1")
      assert.isUndefined(mapped.localAddress)
      assert.strictEqual(mapped.meaning, row.meaning)
      assert.strictEqual(mapped.cause, error)
      assert.include(mapped.message, `connect ${name} 127.0.0.1:1`)
      assert.strictEqual(Retry.classify(mapped), row.retryClass)
      assert.isTrue(Schema.is(ConnectError.schema)(mapped))
    })

    it.each(Errno.names)("%s from bind: the address is the local one", (name) => {
      const row = Errno.info(name)
      const error = nodeError({ code: name, errno: -row.number, syscall: "bind", address: "127.0.0.1", port: 8080 })
      const mapped = assertConnectError(SystemError.fromUnknown(error))
      assert.strictEqual(mapped._tag, name)
      assert.strictEqual(mapped.syscall, "bind")
      assertSameAddress(mapped.localAddress, "127.0.0.1:8080")
      assert.isUndefined(mapped.address)
      assert.include(mapped.message, "(local 127.0.0.1:8080)")
    })

    it.each(Errno.names)("%s with no code maps by its number", (name) => {
      const row = Errno.info(name)
      for (const errno of [-row.number, row.number]) {
        const mapped = assertConnectError(SystemError.fromUnknown({ errno, syscall: "connect" }))
        assert.strictEqual(mapped._tag, name)
        assert.strictEqual(mapped.errno, row.number)
      }
    })
  })

  describe("addresses", () => {
    it("EADDRINUSE from bind: the caller's remote address stays the address", () => {
      const error = nodeError({ code: "EADDRINUSE", errno: -98, syscall: "bind", address: "::1", port: 4000 })
      const mapped = assertConnectError(SystemError.fromUnknown(error, { address: addr("[::1]:5432") }))
      assert.strictEqual(mapped._tag, "EADDRINUSE")
      assertSameAddress(mapped.localAddress, "[::1]:4000")
      assertSameAddress(mapped.address, "[::1]:5432")
    })

    it("a unix path (no port) becomes UnixPath; a leading NUL becomes UnixAbstract", () => {
      const path = assertConnectError(
        SystemError.fromUnknown(nodeError({ code: "ENOENT", errno: -2, syscall: "connect", address: "/run/app.sock" }))
      )
      assert.strictEqual(path._tag, "ENOENT")
      assertSameAddress(path.address, "unix:/run/app.sock")
      const abstract = assertConnectError(
        SystemError.fromUnknown(nodeError({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "\0name" }))
      )
      assert.strictEqual(abstract.address?._tag, "UnixAbstract")
      assertSameAddress(abstract.address, "unix:@name")
    })

    it("the caller's context wins over the runtime's strings and fills what they lack", () => {
      const error = nodeError({ code: "ECONNREFUSED", errno: -111, address: "127.0.0.1", port: 1 })
      const mapped = assertConnectError(
        SystemError.fromUnknown(error, { address: addr("[::1]:2"), localAddress: addr("[::1]:0"), syscall: "connect" })
      )
      assertSameAddress(mapped.address, "[::1]:2")
      assertSameAddress(mapped.localAddress, "[::1]:0")
      // No syscall on the error: the context's is used.
      const sent = assertConnectError(SystemError.fromUnknown({ code: "ECONNREFUSED" }, { syscall: "send" }))
      assert.strictEqual(sent.syscall, "send")
    })

    it("runtime syscall names are read into the library's", () => {
      const cases = [
        ["write", "write"],
        ["writev", "write"],
        ["shutdown", "shutdown"],
        ["sendmsg", "send"],
        ["read", "read"],
        ["recvmsg", "recv"],
        ["socket", "socket"],
        ["getaddrinfo", "connect"]
      ] as const
      for (const [runtime, expected] of cases) {
        const mapped = assertConnectError(SystemError.fromUnknown({ code: "ECONNRESET", syscall: runtime }))
        assert.strictEqual(mapped.syscall, expected, runtime)
      }
    })

    it("an address the runtime names badly is dropped, not thrown", () => {
      for (const [address, port] of [
        ["not-an-ip", 1],
        ["127.0.0.1", 70000],
        ["", 1],
        ["/x\0y", undefined]
      ] as const) {
        const mapped = assertConnectError(
          SystemError.fromUnknown(
            nodeError({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address, ...(port ? { port } : {}) })
          )
        )
        assert.strictEqual(mapped._tag, "ECONNREFUSED")
        assert.isUndefined(mapped.address)
      }
    })
  })

  describe("AggregateError (Node's multi-address connect)", () => {
    const v6 = () => nodeError({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "::1", port: 1 })
    const v4 = () => nodeError({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "127.0.0.1", port: 1 })

    for (const [label, make] of [
      ["plain", (errors: Array<Error>) => new AggregateError(errors, "")],
      [
        "with Node's code",
        (errors: Array<Error>) => Object.assign(new AggregateError(errors, ""), { code: "ECONNREFUSED" })
      ]
    ] as const) {
      it(`maps to AllAttemptsFailed with each attempt read (${label})`, () => {
        const inner = [v6(), v4()]
        const mapped = SystemError.fromUnknown(make(inner))
        assert.strictEqual(mapped._tag, "AllAttemptsFailed")
        if (mapped._tag !== "AllAttemptsFailed") return
        assert.instanceOf(mapped, DialError.AllAttemptsFailed)
        assert.strictEqual(mapped.attempts.length, 2)
        const [first, second] = mapped.attempts
        assertSameAddress(first?.address, "[::1]:1")
        assertSameAddress(second?.address, "127.0.0.1:1")
        for (const [i, attempt] of mapped.attempts.entries()) {
          assert.strictEqual(attempt.error._tag, "ECONNREFUSED")
          if (attempt.error._tag === "ECONNREFUSED") {
            assert.strictEqual(attempt.error.cause, inner[i])
            assert.strictEqual(attempt.error.errno, 111)
            assert.isTrue(Equal.equals(attempt.error.address, attempt.address))
          }
        }
        assert.include(mapped.message, "[::1]:1 ECONNREFUSED")
        assert.include(mapped.message, "127.0.0.1:1 ECONNREFUSED")
        assert.strictEqual(Retry.classify(mapped), "transient")
      })
    }

    it("an inner error that is not an errno becomes an UnknownErrno attempt; no address becomes unspec", () => {
      const mapped = SystemError.fromUnknown(new AggregateError([nodeError({ code: "ERR_SOCKET_BAD_PORT" }), 42]))
      assert.strictEqual(mapped._tag, "AllAttemptsFailed")
      if (mapped._tag !== "AllAttemptsFailed") return
      assert.deepStrictEqual(
        mapped.attempts.map((a) => a.error._tag),
        ["UnknownErrno", "UnknownErrno"]
      )
      assert.isTrue(mapped.attempts.every((a) => SockAddr.isUnspec(a.address)))
    })
  })

  describe("codes the table does not name", () => {
    it("an unknown errno name becomes UnknownErrno with code and number kept", () => {
      const error = nodeError({ code: "ENOBUFS", errno: -105, syscall: "connect", address: "127.0.0.1", port: 1 })
      const mapped = assertConnectError(SystemError.fromUnknown(error))
      assert.strictEqual(mapped._tag, "UnknownErrno")
      if (mapped._tag !== "UnknownErrno") return
      assert.instanceOf(mapped, ConnectError.UnknownErrno)
      assert.strictEqual(mapped.code, "ENOBUFS")
      assert.strictEqual(mapped.errno, 105)
      assert.strictEqual(mapped.cause, error)
      assertSameAddress(mapped.address, "127.0.0.1:1")
      assert.include(mapped.message, "ENOBUFS")
      assert.strictEqual(Retry.classify(mapped), "permanent")
    })

    it("Node's own codes map to the errno they stand for", () => {
      const cases = [
        ["ERR_SOCKET_DGRAM_IS_CONNECTED", "EISCONN"],
        ["ERR_SOCKET_DGRAM_NOT_CONNECTED", "ENOTCONN"],
        ["ERR_INVALID_FD_TYPE", "ENOTSOCK"],
        ["ABORT_ERR", "EINTR"]
      ] as const
      for (const [code, name] of cases) {
        const error = nodeError({ code })
        const mapped = assertConnectError(SystemError.fromUnknown(error))
        assert.strictEqual(mapped._tag, name, code)
        assert.strictEqual(mapped.errno, Errno.info(name).number)
        assert.strictEqual(mapped.cause, error)
      }
    })

    it("Node's argument codes are InvalidInput", () => {
      const cases = [
        ["ERR_SOCKET_BAD_PORT", "port"],
        ["ERR_INVALID_IP_ADDRESS", "argument"],
        ["ERR_INVALID_ARG_TYPE", "argument"],
        ["ERR_INVALID_ARG_VALUE", "argument"]
      ] as const
      for (const [code, field] of cases) {
        const mapped = SystemError.fromUnknown(nodeError({ code }))
        assert.strictEqual(mapped._tag, "InvalidInput", code)
        assert.instanceOf(mapped, InvalidInput.InvalidInput)
        if (mapped._tag === "InvalidInput") assert.strictEqual(mapped.field, field)
      }
    })

    it("an unknown number with no code keeps the number", () => {
      const mapped = assertConnectError(SystemError.fromUnknown({ errno: -9999 }))
      assert.strictEqual(mapped._tag, "UnknownErrno")
      if (mapped._tag === "UnknownErrno") {
        assert.strictEqual(mapped.code, "UNKNOWN")
        assert.strictEqual(mapped.errno, 9999)
      }
    })

    it("non-errors give UnknownErrno and never throw", () => {
      for (const value of [null, undefined, 42, "x", true, {}, [], Symbol.for("s"), () => 1, new Error("plain")]) {
        const mapped = assertConnectError(SystemError.fromUnknown(value))
        assert.strictEqual(mapped._tag, "UnknownErrno")
        assert.strictEqual(mapped.cause, value)
      }
    })

    it.prop(
      "any value maps to a typed error without throwing",
      [Arbitrary.schema(Schema.Unknown)],
      ([value]) => {
        const mapped = SystemError.fromUnknown(value)
        assert.include(["UnknownErrno", "InvalidInput", "AllAttemptsFailed", ...Errno.names], mapped._tag)
      },
      { arbitrary: { runs: 1000 } }
    )
  })

  // Real errors from Node, provoked on loopback only.
  describe("real Node errors", () => {
    const listen = async (): Promise<net.Server> => {
      const server = net.createServer((socket) => socket.destroy())
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => resolve())
      })
      return server
    }
    const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port
    const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()))

    /** Connects and returns the error the socket emits; fails the test if it connects. */
    const connectError = (options: net.NetConnectOpts): Promise<Error> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(options)
        socket.once("error", (error) => {
          socket.destroy()
          resolve(error)
        })
        socket.once("connect", () => {
          socket.destroy()
          reject(new Error("connected where a failure was expected"))
        })
      })

    it("ECONNREFUSED from a closed loopback port", async () => {
      const server = await listen()
      const port = portOf(server)
      await close(server)
      const error = await connectError({ host: "127.0.0.1", port, autoSelectFamily: false })
      const mapped = assertConnectError(SystemError.fromUnknown(error))
      assert.strictEqual(mapped._tag, "ECONNREFUSED")
      assert.strictEqual(mapped.errno, 111)
      assert.strictEqual(mapped.syscall, "connect")
      assertSameAddress(mapped.address, `127.0.0.1:${port}`)
      assert.strictEqual(mapped.cause, error)
      assert.isTrue(Retry.isTransient(mapped))
    })

    it("EADDRINUSE from bind when the local port is taken", async () => {
      const server = await listen()
      const port = portOf(server)
      try {
        const error = await connectError({ host: "127.0.0.1", port, localAddress: "127.0.0.1", localPort: port })
        const mapped = assertConnectError(SystemError.fromUnknown(error))
        assert.strictEqual(mapped._tag, "EADDRINUSE")
        assert.strictEqual(mapped.syscall, "bind")
        assertSameAddress(mapped.localAddress, `127.0.0.1:${port}`)
      } finally {
        await close(server)
      }
    })

    it("ENOENT from a unix path that does not exist", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dial-core-"))
      try {
        const socketPath = path.join(dir, "missing.sock")
        const error = await connectError({ path: socketPath })
        const mapped = assertConnectError(SystemError.fromUnknown(error))
        assert.strictEqual(mapped._tag, "ENOENT")
        assertSameAddress(mapped.address, `unix:${socketPath}`)
        assert.isTrue(Retry.isTransient(mapped))
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })

    it("an AbortSignal aborting a connect (ABORT_ERR) is EINTR", async () => {
      const server = await listen()
      try {
        const controller = new AbortController()
        const pending = connectError({ host: "127.0.0.1", port: portOf(server), signal: controller.signal })
        controller.abort()
        const error = await pending
        assert.strictEqual((error as { code?: unknown }).code, "ABORT_ERR")
        assert.strictEqual(SystemError.fromUnknown(error)._tag, "EINTR")
      } finally {
        await close(server)
      }
    })

    it("the reason of new AbortController().abort() (a DOMException) is EINTR", async () => {
      const controller = new AbortController()
      controller.abort()
      const reason: unknown = controller.signal.reason
      assert.strictEqual((reason as { name?: unknown }).name, "AbortError")
      const mapped = assertConnectError(SystemError.fromUnknown(reason))
      assert.strictEqual(mapped._tag, "EINTR")
      assert.strictEqual(mapped.cause, reason)
      // And what Node's promise APIs reject with when given that signal.
      const rejected = await delay(60_000, undefined, { signal: controller.signal }).then(
        () => assert.fail("not aborted"),
        (error: unknown) => error
      )
      assert.strictEqual(SystemError.fromUnknown(rejected)._tag, "EINTR")
    })

    it("ERR_SOCKET_BAD_PORT thrown by net.connect is InvalidInput", () => {
      let thrown: unknown
      try {
        net.connect({ host: "127.0.0.1", port: 70000 }).destroy()
      } catch (error) {
        thrown = error
      }
      assert.strictEqual((thrown as { code?: unknown }).code, "ERR_SOCKET_BAD_PORT")
      const mapped = SystemError.fromUnknown(thrown)
      assert.strictEqual(mapped._tag, "InvalidInput")
      if (mapped._tag === "InvalidInput") assert.strictEqual(mapped.field, "port")
    })

    it("dgram's ERR_SOCKET_DGRAM_NOT_CONNECTED and ERR_SOCKET_DGRAM_IS_CONNECTED", async () => {
      const socket = dgram.createSocket("udp4")
      try {
        let notConnected: unknown
        try {
          socket.remoteAddress()
        } catch (error) {
          notConnected = error
        }
        assert.strictEqual(SystemError.fromUnknown(notConnected)._tag, "ENOTCONN")
        // A UDP connect only sets the peer: nothing is sent.
        await new Promise<void>((resolve) => socket.connect(9, "127.0.0.1", () => resolve()))
        let isConnected: unknown
        try {
          socket.connect(9, "127.0.0.1")
        } catch (error) {
          isConnected = error
        }
        assert.strictEqual(SystemError.fromUnknown(isConnected)._tag, "EISCONN")
      } finally {
        await new Promise<void>((resolve) => socket.close(() => resolve()))
      }
    })
  })
})
