import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

// The real executable, run as users run it. Every target is on loopback or a unix path.
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly lines: ReadonlyArray<Record<string, any>>
}

const dial = (args: ReadonlyArray<string>, onLine?: (line: Record<string, any>) => void): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let seen = 0
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      const complete = stdout.split("\n").slice(0, -1)
      for (const line of complete.slice(seen)) if (line.startsWith("{")) onLine?.(JSON.parse(line))
      seen = complete.length
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const lines = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, any>)
      resolve({ code, stdout, stderr, lines })
    })
  })

const listen = (port = 0): Promise<net.Server> =>
  new Promise((resolve) => {
    const server = net.createServer((socket) => socket.end())
    server.listen(port, "127.0.0.1", () => resolve(server))
  })

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port

const closedPort = async () => {
  const server = await listen()
  const port = portOf(server)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dial-cli-"))

describe("dial probe", () => {
  it("connects and reports both ends as JSON, exit 0", async () => {
    const server = await listen()
    try {
      const run = await dial(["probe", `127.0.0.1:${portOf(server)}`, "--json"])
      expect(run.code).toBe(0)
      const [report] = run.lines
      expect(report).toMatchObject({
        target: `127.0.0.1:${portOf(server)}`,
        address: `127.0.0.1:${portOf(server)}`,
        ok: true,
        attempt: 1,
        final: true
      })
      expect(report!.local).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(typeof report!.elapsedMs).toBe("number")
    } finally {
      server.close()
    }
  })

  it("a closed port is ECONNREFUSED, errno 111, transient: exit 1", async () => {
    const port = await closedPort()
    const run = await dial(["probe", `127.0.0.1:${port}`, "--json"])
    expect(run.code).toBe(1)
    expect(run.lines.at(-1)).toMatchObject({
      ok: false,
      address: `127.0.0.1:${port}`,
      error: { _tag: "ECONNREFUSED", errno: 111, syscall: "connect", class: "transient" }
    })
  })

  it("a missing unix socket is ENOENT: exit 1", async () => {
    const run = await dial(["probe", `unix:${path.join(tmp, "missing.sock")}`, "--json"])
    expect(run.code).toBe(1)
    expect(run.lines.at(-1)?.error).toMatchObject({ _tag: "ENOENT", errno: 2, class: "transient" })
  })

  it("an invalid address is InvalidInput: exit 3, no errno", async () => {
    const run = await dial(["probe", "127.0.0.1:99999", "--json"])
    expect(run.code).toBe(3)
    const error = run.lines.at(-1)?.error
    expect(error).toMatchObject({ _tag: "InvalidInput", class: "permanent" })
    expect(error).not.toHaveProperty("errno")
  })

  it("an unsupported operation is permanent: exit 2", async () => {
    // SOCK_SEQPACKET over inet would be SCTP, which dial does not do.
    const run = await dial(["probe", "127.0.0.1:9", "--type", "seqpacket", "--json"])
    expect(run.code).toBe(2)
    expect(run.lines.at(-1)?.error).toMatchObject({ _tag: "Unsupported", class: "permanent" })
  })

  it("a bad --timeout is invalid input: exit 3", async () => {
    const run = await dial(["probe", "127.0.0.1:1", "--timeout", "soon"])
    expect(run.code).toBe(3)
    expect(run.stderr).toContain("--timeout")
    expect(run.stderr).toContain("not a duration")
  })

  it("a negative --timeout is invalid input for wait too: exit 3, one JSON report", async () => {
    const run = await dial(["wait", "127.0.0.1:1", "--timeout=-5 seconds", "--json"])
    expect(run.code).toBe(3)
    expect(run.lines).toHaveLength(1)
    expect(run.lines[0]?.error).toMatchObject({ _tag: "InvalidInput", class: "permanent" })
  })

  it("prints plain text without --json", async () => {
    const port = await closedPort()
    const run = await dial(["probe", `127.0.0.1:${port}`])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`127.0.0.1:${port}: ECONNREFUSED (errno 111), transient`)
  })

  it("resolves names from --hosts and races the addresses", async () => {
    const server = await listen()
    const hosts = path.join(tmp, "hosts")
    // ::1 has no listener on this port: the IPv6 attempt is refused, IPv4 wins.
    fs.writeFileSync(hosts, "::1 db.test\n127.0.0.1 db.test\n")
    try {
      const run = await dial(["probe", `db.test:${portOf(server)}`, "--hosts", hosts, "--json"])
      expect(run.code).toBe(0)
      expect(run.lines.at(-1)).toMatchObject({ ok: true, address: `127.0.0.1:${portOf(server)}` })
    } finally {
      server.close()
    }
  })
})

describe("dial wait", () => {
  it("retries ECONNREFUSED until the server listens, then exits 0", async () => {
    const port = await closedPort()
    let server: Promise<net.Server> | undefined
    // The server starts when the CLI reports its first refused attempt: no sleeps.
    const run = await dial(["wait", `127.0.0.1:${port}`, "--timeout", "20s", "--json"], (line) => {
      if (server === undefined && line.error?._tag === "ECONNREFUSED") server = listen(port)
    })
    try {
      expect(server).toBeDefined()
      expect(run.code).toBe(0)
      const final = run.lines.at(-1)!
      expect(final).toMatchObject({ ok: true, final: true, target: `127.0.0.1:${port}` })
      for (const line of run.lines.slice(0, -2)) {
        expect(line).toMatchObject({ ok: false, error: { _tag: "ECONNREFUSED", class: "transient" } })
      }
      expect(run.lines.map((line) => line.attempt)).toEqual([
        ...run.lines.slice(0, -1).map((_, i) => i + 1),
        final.attempt
      ])
    } finally {
      ;(await server)?.close()
    }
  })

  it("gives up at the timeout with exit 1", async () => {
    const port = await closedPort()
    const started = Date.now()
    const run = await dial(["wait", `127.0.0.1:${port}`, "--timeout", "300ms", "--json"])
    expect(run.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(run.lines.at(-1)).toMatchObject({ ok: false, final: true, error: { class: "transient" } })
    expect(run.lines.length).toBeGreaterThan(2)
  })

  it("stops at once on a permanent failure with exit 2", async () => {
    const port = await closedPort()
    const run = await dial([
      "wait",
      `127.0.0.1:${port}`,
      `unix:${path.join(tmp, "d.sock")}`,
      "--type",
      "seqpacket",
      "--timeout",
      "20s",
      "--json"
    ])
    expect(run.code).toBe(2)
    const finals = run.lines.filter((line) => line.final === true)
    expect(finals.map((line) => line.error?._tag).sort()).toContain("Unsupported")
  })

  it("waits for several targets", async () => {
    const a = await listen()
    const b = await listen()
    try {
      const run = await dial(["wait", `127.0.0.1:${portOf(a)}`, `127.0.0.1:${portOf(b)}`, "--json"])
      expect(run.code).toBe(0)
      expect(run.lines.filter((line) => line.final === true && line.ok === true)).toHaveLength(2)
    } finally {
      a.close()
      b.close()
    }
  })
})

describe("dial explain", () => {
  it("prints the errno's table row as JSON", async () => {
    const run = await dial(["explain", "econnrefused", "--json"])
    expect(run.code).toBe(0)
    expect(run.lines[0]).toMatchObject({ name: "ECONNREFUSED", number: 111, retryClass: "transient" })
  })

  it("accepts a number and prints causes and fixes", async () => {
    const run = await dial(["explain", "2"])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("ENOENT (2)")
    expect(run.stdout).toContain("Fix:")
  })

  it("an unknown errno is invalid input: exit 3", async () => {
    const run = await dial(["explain", "EWHATEVER"])
    expect(run.code).toBe(3)
  })
})

// What a person at a terminal sees when something is wrong: one clear line, never a stack.
const noStack = (run: Run) => {
  expect(run.stderr).not.toMatch(/\n\s+at /)
  expect(run.stdout).not.toMatch(/\n\s+at /)
}

describe("dial's manners", () => {
  it("--help lists exit codes, defaults, streams and examples", async () => {
    const run = await dial(["probe", "--help"])
    expect(run.code).toBe(0)
    for (const text of ["EXIT CODES", "Default 30s", "stdout:", "stderr:", "EXAMPLES", "dial probe 127.0.0.1:5432"]) {
      expect(run.stdout).toContain(text)
    }
    const wait = await dial(["wait", "--help"])
    expect(wait.stdout).toContain("One or more targets")
    expect(wait.stdout).toContain("EXIT CODES")
  })

  it("an unknown flag prints the error first and a one-line hint, not the help", async () => {
    const run = await dial(["probe", "127.0.0.1:1", "--bogus"])
    expect(run.code).toBe(3)
    expect(run.stderr.split("\n")[0]).toContain("--bogus")
    expect(run.stderr).toContain("Run 'dial probe --help'")
    expect(run.stdout).toBe("")
    const json = await dial(["probe", "127.0.0.1:1", "--bogus", "--json"])
    expect(json.code).toBe(3)
    expect(json.lines).toHaveLength(1)
    expect(json.lines[0]?.error).toMatchObject({ _tag: "InvalidInput" })
  })

  it("--timeout 1 says a unit is needed; --timeout 0s says what it would do", async () => {
    const bare = await dial(["probe", "127.0.0.1:1", "--timeout", "1"])
    expect(bare.code).toBe(3)
    expect(bare.stderr).toContain("a unit is needed")
    const zero = await dial(["wait", "127.0.0.1:1", "--timeout", "0s", "--json"])
    expect(zero.code).toBe(3)
    expect(zero.lines[0]?.error.message).toContain("give up before trying")
  })

  it("a URL target says URLs are not targets and suggests host:port", async () => {
    const run = await dial(["probe", "http://127.0.0.1:80", "--json"])
    expect(run.code).toBe(3)
    expect(run.lines[0]?.error.message).toContain("URLs are not targets")
    expect(run.lines[0]?.error.message).toContain("127.0.0.1:80")
  })

  it("a missing --hosts file or a directory is exit 3 with a JSON error, no stack", async () => {
    for (const file of [path.join(tmp, "no-such-hosts"), tmp]) {
      const run = await dial(["probe", "db.test:1", "--hosts", file, "--json"])
      expect(run.code).toBe(3)
      expect(run.lines).toHaveLength(1)
      expect(run.lines[0]?.error).toMatchObject({ _tag: "InvalidInput", class: "permanent" })
      expect(run.lines[0]?.error.message).toContain(file)
      noStack(run)
    }
  })

  it("a datagram probe says associated, not connected", async () => {
    const port = await closedPort()
    const run = await dial(["probe", `127.0.0.1:${port}`, "--type", "datagram"])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("associated with")
    expect(run.stdout).toContain("reachability unknown until a reply")
    expect(run.stdout).not.toContain("connected")
    const json = await dial(["probe", `127.0.0.1:${port}`, "--type", "datagram", "--json"])
    expect(json.lines[0]).toMatchObject({ ok: true, state: "associated" })
  })

  it("a reader that goes away ends dial wait quietly (EPIPE), exit 141", async () => {
    const port = await closedPort()
    const code = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, "wait", `127.0.0.1:${port}`, "--json", "--timeout", "20s"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
      })
      // Like `head -1`: read the first line, then close the pipe.
      child.stdout.once("data", () => child.stdout.destroy())
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stderr }))
    })
    expect(code.code).toBe(141)
    expect(code.stderr).toBe("")
  })
})

describe("dial probe --type datagram|seqpacket (unix, through @dial/node's native path)", () => {
  /** A python3 helper holding a unix socket of `type` bound at `at`; resolves once bound. */
  const bound = (type: "SOCK_DGRAM" | "SOCK_SEQPACKET", at: string) =>
    new Promise<{ readonly stop: () => void }>((resolve, reject) => {
      const child = spawn(
        "python3",
        [
          "-c",
          `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.${type})
s.bind(sys.argv[1])
if socket.${type} == socket.SOCK_SEQPACKET:
    s.listen(8)
print("ready", flush=True)
sys.stdin.read()`,
          at
        ],
        { stdio: ["pipe", "pipe", "inherit"] }
      )
      child.once("error", reject)
      child.stdout.once("data", () => resolve({ stop: () => child.kill("SIGKILL") }))
    })

  it("datagram: a bound socket connects (exit 0, local is the autobound name); a missing path is ENOENT", async () => {
    const at = path.join(tmp, "dgram.sock")
    const peer = await bound("SOCK_DGRAM", at)
    try {
      const run = await dial(["probe", `unix:${at}`, "--type", "datagram", "--json"])
      expect(run.code).toBe(0)
      expect(run.lines.at(-1)).toMatchObject({ ok: true, address: `unix:${at}` })
      expect(run.lines.at(-1)?.local).toMatch(/^unix:@/)
    } finally {
      peer.stop()
    }
    const missing = await dial(["probe", `unix:${path.join(tmp, "nope.sock")}`, "--type", "datagram", "--json"])
    expect(missing.code).toBe(1)
    expect(missing.lines.at(-1)?.error).toMatchObject({ _tag: "ENOENT", errno: 2, class: "transient" })
  })

  it("seqpacket: a listener connects (exit 0); a stream listener there is EPROTOTYPE (exit 2)", async () => {
    const at = path.join(tmp, "seq.sock")
    const peer = await bound("SOCK_SEQPACKET", at)
    try {
      const run = await dial(["probe", `unix:${at}`, "--type", "seqpacket", "--json"])
      expect(run.code).toBe(0)
      expect(run.lines.at(-1)).toMatchObject({ ok: true, address: `unix:${at}` })
    } finally {
      peer.stop()
    }
    const streamAt = path.join(tmp, "stream.sock")
    const server = net.createServer().listen(streamAt)
    await new Promise((resolve) => server.once("listening", resolve))
    try {
      const run = await dial(["probe", `unix:${streamAt}`, "--type", "seqpacket", "--json"])
      expect(run.code).toBe(2)
      expect(run.lines.at(-1)?.error).toMatchObject({ _tag: "EPROTOTYPE", errno: 91, class: "permanent" })
    } finally {
      server.close()
    }
  })
})

// Issue 10: every bad argument, on every subcommand, is exit 3 with one JSON error line under
// --json and no stack trace. No target here reaches past loopback (names are refused or absent).
describe("bad arguments: exit 3, one JSON line, no stack", () => {
  const long = (n: number) => "a".repeat(n)
  const cases: ReadonlyArray<ReadonlyArray<string>> = [
    ["probe"],
    ["probe", ""],
    ["probe", "127.0.0.1:99999"],
    ["probe", "127.0.0.1:1", "--timeout", "abc"],
    ["probe", "127.0.0.1:1", "--timeout", "-1s"],
    ["probe", "127.0.0.1:1", "--timeout", "1e400s"],
    ["probe", "127.0.0.1:1", "--local", "garbage"],
    ["probe", "127.0.0.1:1", "--local", "unix:/tmp/x"],
    ["probe", "127.0.0.1:1", "--type", "bogus"],
    ["probe", "127.0.0.1:1", "--ready", "bogus"],
    ["probe", "127.0.0.1:1", "--ready", "expect:\\x4=>a"],
    ["probe", "127.0.0.1:1", "--ready", `http:/${long(9000)}`],
    ["probe", `${long(70_000)}:1`],
    ["probe", `unix:/${long(200)}`],
    ["probe", "\u0001\u0002:1"],
    ["probe", "127.0.0.1:1", "--timeout"],
    ["probe", "127.0.0.1:1", "127.0.0.1:2"],
    ["wait"],
    ["wait", "127.0.0.1:1", "--timeout", "1"],
    // More targets than Wait.maxTargets: Wait.wait refuses them as a whole (was exit 2, "a bug").
    ["wait", ...Array.from({ length: 1100 }, (_, i) => `127.0.0.1:${i + 1}`), "--timeout", "1s"],
    ["explain"],
    ["explain", "NOPE"],
    ["explain", long(70_000)],
    ["bogus-command"]
  ]
  it("each case", { timeout: 300_000 }, async () => {
    for (const args of cases) {
      const label = args.join(" ").slice(0, 80)
      const run = await dial([...args, "--json"])
      expect(run.code, label).toBe(3)
      expect(run.lines, label).toHaveLength(1)
      expect(run.lines[0]?.error?._tag, label).toBe("InvalidInput")
      expect(`${run.stdout}\n${run.stderr}`, label).not.toMatch(/\n\s+at /)
      expect(run.stderr, label).not.toContain("unexpected failure")
    }
  })
})
