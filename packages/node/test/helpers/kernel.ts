/**
 * Test support for provoking the real kernel: loopback servers, helper processes, capability
 * gating, resource counting. Traffic goes to loopback or into network namespaces a test makes.
 */
import { ConnectError, DialError, InvalidInput, SockAddr } from "@dial/core"
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Dgram from "node:dgram"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

// ---------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------

const hasCommand = (name: string): boolean =>
  ChildProcess.spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0

let unshareWorks: boolean | undefined

/**
 * What a kernel test needs. `missing` answers why it cannot run here, or `undefined`.
 */
export interface Requirement {
  readonly missing: () => string | undefined
}

export const root: Requirement = {
  missing: () => (process.getuid?.() === 0 ? undefined : "needs root")
}

export const command = (name: string): Requirement => ({
  missing: () => (hasCommand(name) ? undefined : `needs the \`${name}\` command`)
})

export const python: Requirement = command("python3")

export const netns: Requirement = {
  missing: () => {
    const lacking = root.missing() ?? command("unshare").missing() ?? command("ip").missing()
    if (lacking !== undefined) return lacking
    unshareWorks ??= ChildProcess.spawnSync("unshare", ["-n", "true"], { stdio: "ignore" }).status === 0
    return unshareWorks ? undefined : "`unshare -n` is not permitted here"
  }
}

/**
 * A test that needs capabilities of the machine. Without them it is skipped with the reason in
 * its name, or, when `DIAL_KERNEL_TESTS=require` (CI), it fails with the reason.
 */
export const kernelTest = <A, E>(
  name: string,
  requirements: ReadonlyArray<Requirement>,
  self: () => Effect.Effect<A, E, Scope.Scope>,
  timeout?: number
): void => {
  let missing: string | undefined
  for (const requirement of requirements) {
    missing = requirement.missing()
    if (missing !== undefined) break
  }
  if (missing === undefined) {
    it.live(name, self, timeout)
  } else if (process.env.DIAL_KERNEL_TESTS === "require") {
    it.live(name, () => Effect.die(new Error(`DIAL_KERNEL_TESTS=require but this test cannot run: ${missing}`)))
  } else {
    console.warn(`[kernel] skipped "${name}": ${missing}`)
    it.live.skip(`${name} [skipped: ${missing}]`, self)
  }
}

// ---------------------------------------------------------------------------
// Addresses, servers
// ---------------------------------------------------------------------------

export const inet = (ip: string, port: number): SockAddr.Inet => {
  const made = SockAddr.inet(ip, port)
  if (made._tag === "Failure") throw new Error(made.failure.message)
  return made.success
}

/** A scoped temporary directory that nobody-users can traverse (for the EACCES case). */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dial-"))
    Fs.chmodSync(dir, 0o755)
    return dir
  }),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

export interface TcpServer {
  readonly port: number
  readonly server: Net.Server
  /** Remote ports of accepted connections, in order. */
  readonly accepted: Array<number>
  /** The open accepted connections. */
  readonly sockets: Set<Net.Socket>
}

/**
 * A scoped TCP listener. `behaviour`: `"echo"` echoes, `"hold"` keeps connections open. The
 * scope closes the listener and destroys its connections.
 */
export const tcpServer = (
  host: string,
  behaviour: "echo" | "hold" | "reset" = "hold",
  port = 0
): Effect.Effect<TcpServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<TcpServer>((resume) => {
      const sockets = new Set<Net.Socket>()
      const accepted: Array<number> = []
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        accepted.push(socket.remotePort ?? -1)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        if (behaviour === "echo") socket.pipe(socket)
        // Reset once the client speaks: it is surely connected by then.
        if (behaviour === "reset") socket.once("data", () => socket.resetAndDestroy())
      })
      server.listen({ host, port }, () =>
        resume(Effect.succeed({ port: (server.address() as Net.AddressInfo).port, server, accepted, sockets }))
      )
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A scoped unix stream listener at `path` that echoes. */
export const unixServer = (path: string): Effect.Effect<Net.Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const server = Net.createServer((socket) => {
        socket.on("error", () => {})
        socket.pipe(socket)
      })
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )

/** A loopback port nobody listens on: bound by the kernel's choice, then closed. */
export const closedTcpPort = (host: string): Effect.Effect<number> =>
  Effect.callback((resume) => {
    const probe = Net.createServer().listen(0, host, () => {
      const port = (probe.address() as Net.AddressInfo).port
      probe.close(() => resume(Effect.succeed(port)))
    })
  })

/** A UDP port nobody listens on. */
export const closedUdpPort = (host: string): Effect.Effect<number> =>
  Effect.callback((resume) => {
    const probe = Dgram.createSocket(host.includes(":") ? "udp6" : "udp4")
    probe.bind(0, host, () => {
      const port = probe.address().port
      probe.close(() => resume(Effect.succeed(port)))
    })
  })

export interface UdpServer {
  readonly port: number
  /** Every datagram received, as text. */
  readonly received: Array<string>
  /** Resumes once a datagram with this text has arrived. */
  readonly waitFor: (text: string) => Effect.Effect<void>
}

/** A scoped UDP server on 127.0.0.1 that echoes every datagram back with a prefix. */
export const udpEcho = (prefix: string): Effect.Effect<UdpServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<UdpServer & { readonly socket: Dgram.Socket }>((resume) => {
      const socket = Dgram.createSocket("udp4")
      const received: Array<string> = []
      const waiters = new Map<string, () => void>()
      socket.on("message", (message, from) => {
        const text = message.toString()
        received.push(text)
        waiters.get(text)?.()
        socket.send(`${prefix}${text}`, from.port, from.address)
      })
      const waitFor = (text: string) =>
        Effect.callback<void>((done) => {
          if (received.includes(text)) return done(Effect.void)
          waiters.set(text, () => done(Effect.void))
        })
      socket.bind(0, "127.0.0.1", () =>
        resume(Effect.succeed({ port: socket.address().port, received, waitFor, socket }))
      )
    }),
    ({ socket }) => Effect.callback<void>((resume) => void socket.close(() => resume(Effect.void)))
  )

// ---------------------------------------------------------------------------
// Helper processes
// ---------------------------------------------------------------------------

export interface Helper {
  readonly pid: number
  /** The first line the helper printed (its "ready" answer). */
  readonly ready: string
}

/**
 * A scoped python3 helper: resolves with the first line it prints; the scope kills it (by pid)
 * and waits for its exit. Helpers block on stdin, so they also end if the test process dies.
 */
export const pythonHelper = (
  source: string,
  args: ReadonlyArray<string> = []
): Effect.Effect<Helper, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly pid: number; readonly ready: string; readonly child: ChildProcess.ChildProcess }, Error>(
      (resume) => {
        const child = ChildProcess.spawn("python3", ["-c", source, ...args], { stdio: ["pipe", "pipe", "pipe"] })
        let output = ""
        let errors = ""
        child.stderr.on("data", (chunk: Buffer) => {
          errors += chunk.toString()
        })
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString()
          const newline = output.indexOf("\n")
          if (newline !== -1) resume(Effect.succeed({ pid: child.pid!, ready: output.slice(0, newline), child }))
        })
        child.once("exit", (code) => resume(Effect.fail(new Error(`python3 exited with ${code}: ${errors}`))))
        child.once("error", (error) => resume(Effect.fail(error)))
      }
    ),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  )

/** Runs a command to completion and returns its stdout; fails on a non-zero exit. */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: ChildProcess.SpawnOptions = {}
): Effect.Effect<string, Error> =>
  Effect.callback<string, Error>((resume) => {
    const child = ChildProcess.spawn(file, args, { ...options, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once("error", (error) => resume(Effect.fail(error)))
    child.once("close", (code) =>
      resume(code === 0 ? Effect.succeed(stdout) : Effect.fail(new Error(`${file} exited with ${code}: ${stderr}`)))
    )
    return Effect.sync(() => {
      if (child.exitCode === null) child.kill("SIGKILL")
    })
  })

// ---------------------------------------------------------------------------
// The child fixture: connects with @dial/node in another process and prints JSON
// ---------------------------------------------------------------------------

export const childFixture = Path.join(import.meta.dirname, "..", "fixtures", "connect.ts")

/** What the child fixture prints for one connect. */
export type ChildResult =
  | { readonly ok: true; readonly local: string; readonly peer: string }
  | {
      readonly ok: false
      readonly error: {
        readonly _tag: string
        readonly errno?: number
        readonly syscall?: string
        readonly address?: string
        readonly localAddress?: string
        readonly message: string
      }
    }

/** The spec the child fixture takes. */
export interface ChildSpec {
  /** Listen here first (in the child), holding connections open. */
  readonly listen?: { readonly host: string; readonly port: number } | undefined
  /** Connects, in order, each on its own handle, all kept open until the end. */
  readonly connects: ReadonlyArray<{
    readonly address: string
    readonly deadline?: string | undefined
    /** `datagram`: connect, then send `send`. */
    readonly type?: "stream" | "datagram" | "seqpacket" | undefined
    readonly send?: string | undefined
    /** Open options, as JSON. */
    readonly options?: Record<string, unknown> | undefined
    /** A stream connection: run `shell`, write `write`, then read until the connection fails. */
    readonly afterConnect?: { readonly shell?: string; readonly write?: string } | undefined
  }>
}

export const parseChild = (stdout: string): ReadonlyArray<ChildResult> => {
  const line = stdout.trim().split("\n").at(-1) ?? "[]"
  return JSON.parse(line) as ReadonlyArray<ChildResult>
}

/** Runs the child fixture inside a fresh network namespace after `setup` (shell commands). */
export const inNetns = (setup: string, spec: ChildSpec): Effect.Effect<ReadonlyArray<ChildResult>, Error> =>
  Effect.map(
    run("unshare", [
      "-n",
      "--",
      "sh",
      "-c",
      `${setup}\nexec "$0" "$1" "$2"`,
      process.execPath,
      childFixture,
      JSON.stringify(spec)
    ]),
    parseChild
  )

// ---------------------------------------------------------------------------
// Errors and resources
// ---------------------------------------------------------------------------

/** The fields the errno tests compare. */
export const summary = (error: unknown) => {
  if (ConnectError.isConnectError(error)) {
    return {
      _tag: error._tag,
      errno: error.errno,
      syscall: error.syscall,
      address: error.address === undefined ? undefined : SockAddr.format(error.address),
      localAddress: error.localAddress === undefined ? undefined : SockAddr.format(error.localAddress)
    }
  }
  if (error instanceof DialError.DeadlineExceeded || error instanceof DialError.Unsupported) return { _tag: error._tag }
  if (error instanceof InvalidInput.InvalidInput) return { _tag: error._tag }
  return { _tag: "not a dial error", error: String(error) }
}

/** Socket-ish handles of this process, counted by type. */
export const socketResources = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) {
    if (/TCP|UDP|Pipe|Connect/.test(name)) counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

const nextTurn = Effect.callback<void>((resume) => void setImmediate(() => resume(Effect.void)))

/**
 * The socket file descriptors this process holds (Linux: the entries of /proc/self/fd that are
 * sockets), or undefined where there is no /proc. The kernel's own count: a descriptor is
 * closed by `destroy()` at once, while Node's handle wrapper (counted by `socketResources`)
 * goes a moment later, in the close phase of the same event-loop turn.
 */
export const socketDescriptors = (): number | undefined => {
  let entries: Array<string>
  try {
    entries = Fs.readdirSync("/proc/self/fd")
  } catch {
    return undefined
  }
  let count = 0
  for (const entry of entries) {
    try {
      if (Fs.readlinkSync(`/proc/self/fd/${entry}`).startsWith("socket:")) count++
    } catch {
      // Closed between the listing and the read (the listing's own descriptor, for one).
    }
  }
  return count
}

/**
 * Asserts what "released" means for a dial stream socket whose close (or failure, or
 * interruption) has just completed: its descriptor is already closed, with no waiting, and
 * Node's handle wrappers are gone within one event-loop turn (two check phases: one closed
 * during the poll phase is freed in that turn's close phase, after its check phase).
 */
export const expectReleased = (
  descriptors: number | undefined,
  baseline: Record<string, number>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    expect(socketDescriptors()).toBe(descriptors)
    expect(yield* resourcesSettle(baseline, 3)).toEqual(baseline)
  })

/**
 * Waits, for at most `turns` event-loop turns, until the socket resources equal `expected`.
 * Node emits a net.Server's and a dgram socket's 'close' before libuv releases the handle (in
 * the loop's close phase), so those are counted a turn later; a dial stream socket is released
 * before its effect completes and needs no waiting.
 */
export const resourcesSettle = (expected: Record<string, number>, turns = 10): Effect.Effect<Record<string, number>> =>
  Effect.gen(function* () {
    const wanted = JSON.stringify(expected)
    for (let turn = 0; turn < turns; turn++) {
      const now = socketResources()
      if (JSON.stringify(now) === wanted) return now
      yield* nextTurn
    }
    return socketResources()
  })

/**
 * A baseline of socket resources: the count once it held still over two event-loop turns, so
 * that handles other code is still releasing (closed servers, finished connect requests) are
 * not part of it. Bounded.
 */
export const stableResources: Effect.Effect<Record<string, number>> = Effect.gen(function* () {
  let previous = JSON.stringify(socketResources())
  for (let turn = 0; turn < 20; turn++) {
    yield* nextTurn
    yield* nextTurn
    const now = JSON.stringify(socketResources())
    if (now === previous) break
    previous = now
  }
  return socketResources()
})

/**
 * Collects 'uncaughtException' / 'unhandledRejection' events while the scope is open; the test
 * asserts the list is empty.
 */
export const uncaughtErrors: Effect.Effect<ReadonlyArray<unknown>, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      const errors: Array<unknown> = []
      const onError = (error: unknown) => errors.push(error)
      process.on("uncaughtException", onError)
      process.on("unhandledRejection", onError)
      return { errors, onError }
    }),
    ({ onError }) =>
      Effect.sync(() => {
        process.off("uncaughtException", onError)
        process.off("unhandledRejection", onError)
      })
  ),
  ({ errors }) => errors
)

/**
 * TCP socket options of a connected socket of process `pid`, found by its local port, read
 * with pidfd_getfd(2) (Linux >= 5.6) from a python3 helper: what the kernel really set.
 */
export const socketOptionsOf = (
  pid: number,
  localPort: number
): Effect.Effect<{ readonly keepalive: number; readonly keepidle: number; readonly nodelay: number }, Error> =>
  Effect.map(run("python3", ["-c", readSocketOptions, String(pid), String(localPort)]), (out) => JSON.parse(out))

const readSocketOptions = `
import ctypes, json, os, socket, sys
pid, port = int(sys.argv[1]), int(sys.argv[2])
inodes = set()
for table in ("tcp", "tcp6"):
    with open(f"/proc/{pid}/net/{table}") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
fd = None
for name in os.listdir(f"/proc/{pid}/fd"):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{name}")
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in inodes:
        fd = int(name)
        break
if fd is None:
    sys.exit("no established socket with local port %d in process %d" % (port, pid))
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
copy = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd: 438 on x86-64 and arm64
if copy < 0:
    sys.exit("pidfd_getfd: " + os.strerror(ctypes.get_errno()))
s = socket.socket(fileno=copy)
print(json.dumps({
    "keepalive": s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "keepidle": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "nodelay": s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
}))
s.close()
`

/** A loopback TCP port that is free right now (bound by the kernel's choice, then released). */
export const freeTcpPort = closedTcpPort

/**
 * Blocks the event loop (synchronously) until `condition` holds, for at most `millis`. Only
 * for provoking races that need the loop to stand still while another process acts.
 */
export const blockUntil = (condition: () => boolean, millis: number): boolean => {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  const until = Date.now() + millis
  while (!condition()) {
    if (Date.now() > until) return false
    Atomics.wait(cell, 0, 0, 2)
  }
  return true
}

/**
 * A loopback TCP port whose connects hang: a python3 listener with backlog 0 that never
 * accepts, its one-slot accept queue already filled by a connection held open here. The
 * kernel drops further SYNs, so connect(2) neither succeeds nor fails for a long while.
 */
export const hangingTcpPort: Effect.Effect<number, Error, Scope.Scope> = Effect.gen(function* () {
  const helper = yield* pythonHelper(`
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`)
  const port = Number(helper.ready)
  yield* Effect.acquireRelease(
    Effect.callback<Net.Socket, Error>((resume) => {
      const filler = Net.connect({ host: "127.0.0.1", port })
      filler.on("error", (error) => resume(Effect.fail(error)))
      filler.once("connect", () => resume(Effect.succeed(filler)))
    }),
    (filler) => Effect.sync(() => filler.destroy())
  )
  return port
})
