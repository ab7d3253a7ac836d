/**
 * The README's main job: a self-contained demonstration of the `dial` command on loopback.
 *
 * 1. `dial wait` on a port where nothing listens yet: typed ECONNREFUSED attempts with
 *    backoff; 300 ms after the first one is reported a server starts, and the wait connects.
 * 2. `dial probe` on a few failures: a closed port, a missing unix socket, an invalid
 *    address; each with its typed error, retry class and exit code.
 * 3. `dial explain ECONNREFUSED`.
 *
 * Exits 0 when every step behaved as documented, 1 otherwise. Traffic stays on 127.0.0.1.
 */
import { spawn } from "node:child_process"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const dial = (args: ReadonlyArray<string>, onStderr?: (line: string) => void): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      if (onStderr !== undefined) for (const line of chunk.split("\n")) if (line.length > 0) onStderr(line)
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

let failures = 0
const check = (what: string, ok: boolean) => {
  console.log(`${ok ? "  ok  " : "  FAIL"} ${what}`)
  if (!ok) failures++
}
const indent = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n")

// 1. dial wait; the server starts once the wait has reported its first refused attempt.
const port = await freePort()
console.log(`\n$ dial wait 127.0.0.1:${port} --timeout 10s   (a server starts 300 ms after the first refusal)`)
const server = net.createServer((socket) => socket.end())
let serverStarted: Promise<number> | undefined
const waited = await dial(["wait", `127.0.0.1:${port}`, "--timeout", "10s"], (line) => {
  console.log(`    ${line}`)
  if (serverStarted === undefined && line.includes("ECONNREFUSED")) {
    // Let it retry with backoff for a while (this is a demo, not a test), then start listening.
    serverStarted = new Promise((resolve) =>
      setTimeout(() => server.listen(port, "127.0.0.1", () => resolve(performance.now())), 300)
    )
  }
})
const exitedAt = performance.now()
const startedAt = await (serverStarted ?? Promise.resolve(Number.NaN))
console.log(indent(waited.stdout))
check(
  "the attempts before the server started were typed ECONNREFUSED (errno 111, transient)",
  serverStarted !== undefined
)
check(
  `dial wait exits 0 once the server listens (${Math.round(exitedAt - startedAt)} ms after it started)`,
  waited.code === 0
)
server.close()

// 2. dial probe on failures.
const closed = await freePort()
const missing = path.join(os.tmpdir(), `dial-demo-missing-${process.pid}.sock`)
const probes: ReadonlyArray<{ readonly args: ReadonlyArray<string>; readonly code: number; readonly tag: string }> = [
  { args: ["probe", `127.0.0.1:${closed}`, "--json"], code: 1, tag: "ECONNREFUSED" },
  { args: ["probe", `unix:${missing}`, "--json"], code: 1, tag: "ENOENT" },
  { args: ["probe", "127.0.0.1:99999", "--json"], code: 3, tag: "InvalidInput" },
  // A unix datagram socket goes through @dial/node's native path: the same typed ENOENT.
  { args: ["probe", `unix:${missing}`, "--type", "datagram", "--json"], code: 1, tag: "ENOENT" }
]
for (const probe of probes) {
  console.log(`\n$ dial ${probe.args.join(" ")}`)
  const run = await dial(probe.args)
  console.log(indent(run.stdout || run.stderr))
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as { error?: { _tag?: string } }
  check(`${probe.tag}, exit ${probe.code}`, run.code === probe.code && report.error?._tag === probe.tag)
}

// 3. dial explain.
console.log("\n$ dial explain ECONNREFUSED")
const explained = await dial(["explain", "ECONNREFUSED"])
console.log(indent(explained.stdout))
check("explain prints the errno's number and class", explained.code === 0 && explained.stdout.includes("(111)"))

console.log(failures === 0 ? "\ndemo: every step behaved as documented" : `\ndemo: ${failures} step(s) failed`)
process.exitCode = failures === 0 ? 0 : 1
