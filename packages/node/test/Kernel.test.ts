/**
 * connect(2)'s errnos, provoked for real on Linux: each case makes the kernel fail the way the
 * man page says and checks the exact tag, errno number, syscall and addresses dial reports.
 * Loopback only, or network namespaces the test creates itself (`unshare -n`).
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  blockUntil,
  childFixture,
  closedTcpPort,
  command,
  hangingTcpPort,
  inet,
  inNetns,
  kernelTest,
  netns,
  parseChild,
  python,
  pythonHelper,
  root,
  run,
  summary,
  tcpServer,
  tempDir,
  unixServer
} from "./helpers/kernel.ts"

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeNetwork.layer)

/** Connects a fresh handle and returns the failure (the test fails if it connects). */
const failureOf = (address: string) =>
  Effect.flip(Effect.flatMap(Network.open("stream"), (handle) => handle.connect(address)))

describe("ECONNREFUSED", () => {
  kernelTest("a closed loopback IPv4 port", [], () =>
    provide(
      Effect.gen(function* () {
        const port = yield* closedTcpPort("127.0.0.1")
        expect(summary(yield* failureOf(`127.0.0.1:${port}`))).toEqual({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address: `127.0.0.1:${port}`,
          localAddress: undefined
        })
      })
    )
  )

  kernelTest("a closed loopback IPv6 port", [], () =>
    provide(
      Effect.gen(function* () {
        const port = yield* closedTcpPort("::1")
        expect(summary(yield* failureOf(`[::1]:${port}`))).toEqual({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address: `[::1]:${port}`,
          localAddress: undefined
        })
      })
    )
  )

  kernelTest("a stale unix socket file (its server exited without unlinking it)", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = Path.join(yield* tempDir, "stale.sock")
        // python binds and exits; unlike Node's server.close(), nothing unlinks the file.
        yield* run("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path])
        expect(Fs.statSync(path).isSocket()).toBe(true)
        expect(summary(yield* failureOf(`unix:${path}`))).toEqual({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address: `unix:${path}`,
          localAddress: undefined
        })
      })
    )
  )

  kernelTest("a missing abstract name", [], () =>
    provide(
      Effect.gen(function* () {
        const address = `unix:@dial-test-missing-${process.pid}-${Date.now()}`
        expect(summary(yield* failureOf(address))).toEqual({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address,
          localAddress: undefined
        })
      })
    )
  )
})

kernelTest("ENOENT: a unix path that does not exist", [], () =>
  provide(
    Effect.gen(function* () {
      const address = `unix:${Path.join(yield* tempDir, "missing.sock")}`
      expect(summary(yield* failureOf(address))).toEqual({
        _tag: "ENOENT",
        errno: 2,
        syscall: "connect",
        address,
        localAddress: undefined
      })
    })
  )
)

kernelTest("EADDRINUSE: the requested local port is taken (reported by bind)", [], () =>
  provide(
    Effect.gen(function* () {
      const taken = yield* tcpServer("127.0.0.1")
      const target = yield* tcpServer("127.0.0.1")
      const handle = yield* Network.open("stream", { local: `127.0.0.1:${taken.port}` })
      const error = yield* Effect.flip(handle.connect(`127.0.0.1:${target.port}`))
      expect(summary(error)).toEqual({
        _tag: "EADDRINUSE",
        errno: 98,
        syscall: "bind",
        address: `127.0.0.1:${target.port}`,
        localAddress: `127.0.0.1:${taken.port}`
      })
      expect(target.accepted).toEqual([])
    })
  )
)

kernelTest("EALREADY: a second connect while the first is in progress", [python], () =>
  provide(
    Effect.gen(function* () {
      const port = yield* hangingTcpPort
      const handle = yield* Network.open("stream")
      const first = yield* Effect.forkChild(handle.connect(`127.0.0.1:${port}`), { startImmediately: true })
      expect((yield* handle.state)._tag).toBe("Connecting")
      expect(summary(yield* Effect.flip(handle.connect(`127.0.0.1:${port}`)))).toEqual({
        _tag: "EALREADY",
        errno: 114,
        syscall: "connect",
        address: `127.0.0.1:${port}`,
        localAddress: undefined
      })
      // The first attempt is untouched by the refused second one.
      expect((yield* handle.state)._tag).toBe("Connecting")
      yield* Fiber.interrupt(first)
      expect((yield* handle.state)._tag).toBe("Idle")
    })
  )
)

kernelTest("EISCONN: connect on a connected stream socket", [], () =>
  provide(
    Effect.gen(function* () {
      const server = yield* tcpServer("127.0.0.1")
      const handle = yield* Network.open("stream")
      yield* handle.connect(`127.0.0.1:${server.port}`)
      const local = yield* handle.localAddress
      const error = yield* Effect.flip(handle.connect(`127.0.0.1:${server.port}`))
      expect(summary(error)).toMatchObject({ _tag: "EISCONN", errno: 106, syscall: "connect" })
      expect(error._tag === "EISCONN" && error.localAddress).toEqual(local._tag === "Some" ? local.value : undefined)
      // Still connected, on the same kernel socket.
      expect((yield* handle.state)._tag).toBe("Connected")
      expect(server.accepted.length).toBe(1)
    })
  )
)

kernelTest("EPROTOTYPE: a stream connect to a path bound by a unix datagram socket", [python], () =>
  provide(
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "datagram.sock")
      yield* pythonHelper(
        `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()`,
        [path]
      )
      expect(summary(yield* failureOf(`unix:${path}`))).toEqual({
        _tag: "EPROTOTYPE",
        errno: 91,
        syscall: "connect",
        address: `unix:${path}`,
        localAddress: undefined
      })
    })
  )
)

kernelTest("EAGAIN: a unix listener whose backlog is full and never accepts", [python], () =>
  provide(
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "busy.sock")
      yield* pythonHelper(
        `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
print("ready", flush=True)
sys.stdin.read()`,
        [path]
      )
      // Each connect on its own handle, kept open, until the backlog is full: bounded.
      const outcomes: Array<string> = []
      let refused: unknown
      for (let attempt = 0; attempt < 8 && refused === undefined; attempt++) {
        const handle = yield* Network.open("stream")
        const result = yield* Effect.result(handle.connect(`unix:${path}`))
        if (result._tag === "Success") outcomes.push("connected")
        else refused = result.failure
      }
      expect(outcomes.length).toBeGreaterThan(0)
      expect(summary(refused)).toEqual({
        _tag: "EAGAIN",
        errno: 11,
        syscall: "connect",
        address: `unix:${path}`,
        localAddress: undefined
      })
    })
  )
)

kernelTest("ECONNRESET: the listener resets the connection during the handshake", [python], () =>
  provide(
    Effect.gen(function* () {
      const marker = Path.join(yield* tempDir, "reset")
      // Accepts one connection and resets it (SO_LINGER 0), then says so through a file.
      const server = yield* pythonHelper(
        `import socket, struct, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
open(sys.argv[1], "w").close()
sys.stdin.read()`,
        [marker]
      )
      const port = Number(server.ready)
      const handle = yield* Network.open("stream")
      const attempt = yield* Effect.forkChild(handle.connect(inet("127.0.0.1", port)), { startImmediately: true })
      // net.Socket#connect issues connect(2) in a nextTick; this later tick holds the event loop
      // until the server has accepted and reset the connection. Node reads the outcome of the
      // non-blocking connect (SO_ERROR) only afterwards, and finds the reset: ECONNRESET.
      let reset = false
      yield* Effect.sync(() =>
        process.nextTick(() => {
          reset = blockUntil(() => Fs.existsSync(marker), 10_000)
        })
      )
      const error = yield* Effect.flip(Fiber.join(attempt))
      expect(reset).toBe(true)
      expect(summary(error)).toEqual({
        _tag: "ECONNRESET",
        errno: 104,
        syscall: "connect",
        address: `127.0.0.1:${port}`,
        localAddress: undefined
      })
    })
  )
)

kernelTest(
  "EACCES: a unix socket without write permission, client as uid 65534 (root bypasses it)",
  [root],
  () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "private.sock")
      yield* unixServer(path)
      Fs.chmodSync(path, 0o600)
      const spec = JSON.stringify({ connects: [{ address: `unix:${path}` }] })
      const asNobody = parseChild(yield* run(process.execPath, [childFixture, spec], { uid: 65534, gid: 65534 }))
      expect(asNobody).toEqual([
        {
          ok: false,
          error: expect.objectContaining({ _tag: "EACCES", errno: 13, syscall: "connect", address: `unix:${path}` })
        }
      ])
      // The same socket as root: permission is the only difference.
      const asRoot = parseChild(yield* run(process.execPath, [childFixture, spec]))
      expect(asRoot).toEqual([{ ok: true, local: "unspec", peer: `unix:${path}` }])
    }),
  20_000
)

describe("in a network namespace of its own", () => {
  kernelTest(
    "ENETUNREACH: loopback down (a fresh namespace), connect to 127.0.0.1",
    [netns],
    () =>
      Effect.gen(function* () {
        const results = yield* inNetns("", { connects: [{ address: "127.0.0.1:80" }] })
        expect(results).toEqual([
          {
            ok: false,
            error: expect.objectContaining({
              _tag: "ENETUNREACH",
              errno: 101,
              syscall: "connect",
              address: "127.0.0.1:80"
            })
          }
        ])
      }),
    20_000
  )

  kernelTest(
    "EHOSTUNREACH: an unreachable route for 127.0.0.7",
    [netns],
    () =>
      Effect.gen(function* () {
        const results = yield* inNetns("set -e; ip link set lo up; ip route add unreachable 127.0.0.7/32 table local", {
          connects: [{ address: "127.0.0.7:80" }]
        })
        expect(results).toEqual([
          {
            ok: false,
            error: expect.objectContaining({
              _tag: "EHOSTUNREACH",
              errno: 113,
              syscall: "connect",
              address: "127.0.0.7:80"
            })
          }
        ])
      }),
    20_000
  )

  kernelTest(
    "EADDRNOTAVAIL: an ephemeral port range of two ports, third connect",
    [netns],
    () =>
      Effect.gen(function* () {
        const results = yield* inNetns(
          `set -e; ip link set lo up; sysctl -qw net.ipv4.ip_local_port_range="40000 40001"`,
          {
            listen: { host: "127.0.0.1", port: 5000 },
            connects: [{ address: "127.0.0.1:5000" }, { address: "127.0.0.1:5000" }, { address: "127.0.0.1:5000" }]
          }
        )
        expect(results).toEqual([
          { ok: true, local: "127.0.0.1:40000", peer: "127.0.0.1:5000" },
          { ok: true, local: "127.0.0.1:40001", peer: "127.0.0.1:5000" },
          {
            ok: false,
            error: expect.objectContaining({
              _tag: "EADDRNOTAVAIL",
              errno: 99,
              syscall: "connect",
              address: "127.0.0.1:5000"
            })
          }
        ])
      }),
    20_000
  )

  kernelTest(
    "EPERM: a local firewall rule drops what a connected datagram socket sends (reported by send)",
    [netns, command("nft")],
    () =>
      Effect.gen(function* () {
        const results = yield* inNetns(
          `set -e; ip link set lo up
nft add table inet dial
nft add chain inet dial output '{ type filter hook output priority 0; }'
nft add rule inet dial output udp dport 5353 drop`,
          { connects: [{ address: "127.0.0.1:5353", type: "datagram", send: "query" }] }
        )
        expect(results).toEqual([
          {
            ok: false,
            error: expect.objectContaining({ _tag: "EPERM", errno: 1, syscall: "send", address: "127.0.0.1:5353" })
          }
        ])
      }),
    20_000
  )

  kernelTest(
    "ETIMEDOUT: SYNs dropped by nft, tcp_syn_retries=1; a deadline is DeadlineExceeded instead",
    [netns, command("nft")],
    () =>
      Effect.gen(function* () {
        const started = Date.now()
        const results = yield* inNetns(
          `set -e; ip link set lo up; sysctl -qw net.ipv4.tcp_syn_retries=1
nft add table inet dial
nft add chain inet dial input '{ type filter hook input priority 0; }'
nft add rule inet dial input tcp dport 9 drop`,
          { connects: [{ address: "127.0.0.1:9", deadline: "300 millis" }, { address: "127.0.0.1:9" }] }
        )
        const elapsed = Date.now() - started
        expect(results).toEqual([
          { ok: false, error: expect.objectContaining({ _tag: "DeadlineExceeded" }) },
          {
            ok: false,
            error: expect.objectContaining({
              _tag: "ETIMEDOUT",
              errno: 110,
              syscall: "connect",
              address: "127.0.0.1:9"
            })
          }
        ])
        // One SYN and one retry: the kernel gives up after about 1 + 2 seconds.
        expect(elapsed).toBeGreaterThanOrEqual(2_500)
      }),
    30_000
  )
})
