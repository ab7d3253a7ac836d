/**
 * The interim main job: parses addresses, provokes real failures from Node on loopback,
 * reads each into dial's typed error, and prints the retry decision. Exits 0 when every
 * case came out as expected, 1 otherwise.
 */
import { Result } from "effect"
import * as dgram from "node:dgram"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Retry, SockAddr, SystemError } from "@dial/core"

const line = (...cells: Array<string>) =>
  console.log(cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(31) : c)).join(""))

console.log("Addresses")
line("input", "result")
for (const input of [
  "127.0.0.1:80",
  "[::1]:443",
  "[fe80::1%2]:22",
  "unix:/run/app.sock",
  "unix:@app",
  "unspec",
  "127.0.0.1:70000",
  "db.internal:5432",
  `unix:/tmp/${"x".repeat(120)}`
]) {
  const parsed = SockAddr.fromString(input)
  line(
    input.length > 29 ? `${input.slice(0, 26)}...` : input,
    Result.isSuccess(parsed)
      ? `${parsed.success._tag} ${SockAddr.format(parsed.success)}`
      : `InvalidInput: ${parsed.failure.reason}`
  )
}

/** Runs a Node callback-style failure and captures the error object Node produces. */
const nodeError = (run: (fail: (e: unknown) => void) => void): Promise<unknown> =>
  new Promise((resolve) => {
    try {
      run(resolve)
    } catch (thrown) {
      resolve(thrown)
    }
  })

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const cases: Array<{ readonly title: string; readonly expected: string; readonly error: () => Promise<unknown> }> = [
  {
    title: "closed loopback port",
    expected: "ECONNREFUSED",
    error: async () => {
      const port = await freePort()
      return nodeError((fail) => net.connect(port, "127.0.0.1").on("error", fail))
    }
  },
  {
    title: "missing unix path",
    expected: "ENOENT",
    error: () =>
      nodeError((fail) => net.connect(path.join(os.tmpdir(), `dial-missing-${process.pid}.sock`)).on("error", fail))
  },
  {
    title: "missing abstract name",
    expected: "ECONNREFUSED",
    error: () => nodeError((fail) => net.connect(`\0dial-missing-${process.pid}`).on("error", fail))
  },
  {
    title: "local port already bound",
    expected: "EADDRINUSE",
    error: async () => {
      const holder = net.createServer()
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve))
      const { port } = holder.address() as net.AddressInfo
      const error = await nodeError((fail) =>
        net
          .connect({ host: "127.0.0.1", port: await0(port), localAddress: "127.0.0.1", localPort: port })
          .on("error", fail)
      )
      holder.close()
      return error
    }
  },
  {
    title: "AbortSignal during connect",
    expected: "EINTR",
    error: () =>
      nodeError((fail) => {
        const controller = new AbortController()
        net.connect({ host: "127.0.0.1", port: 9, signal: controller.signal }).on("error", fail)
        controller.abort()
      })
  },
  {
    title: "port out of range",
    expected: "InvalidInput",
    error: () => nodeError(() => net.connect({ host: "127.0.0.1", port: 70000 }))
  },
  {
    title: "second dgram connect",
    expected: "EISCONN",
    error: () =>
      nodeError((fail) => {
        const socket = dgram.createSocket("udp4")
        socket.connect(9, "127.0.0.1", () => {
          try {
            socket.connect(10, "127.0.0.1")
          } catch (error) {
            fail(error)
          } finally {
            socket.close()
          }
        })
      })
  }
]

// The destination of the EADDRINUSE case: any port other than the held one.
function await0(held: number): number {
  return held === 65535 ? 65534 : held + 1
}

console.log("\nReal Node errors, typed")
line("case", "node code", "dial tag", "syscall", "retry")
let mismatches = 0
for (const c of cases) {
  const raw = await c.error()
  const typed = SystemError.fromUnknown(raw)
  const code = (raw as { code?: string }).code ?? "?"
  const syscall = "syscall" in typed ? typed.syscall : "-"
  const ok = typed._tag === c.expected
  if (!ok) mismatches++
  line(c.title, code, `${typed._tag}${ok ? "" : ` (expected ${c.expected})`}`, syscall, Retry.classify(typed) ?? "-")
}

console.log("\nRetry.transient() retries the transient ones with backoff; permanent and state errors stop at once.")
process.exitCode = mismatches === 0 ? 0 : 1
