/**
 * Socket options set before connect, each proven with the kernel: read back with
 * getsockopt(2) from the very descriptor of the connection, or seen in its effect (linger 0:
 * the peer sees ECONNRESET; a user timeout: a silent peer becomes ETIMEDOUT, in a namespace).
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import {
  IP_BIND_ADDRESS_NO_PORT,
  IPPROTO_IP,
  IPPROTO_TCP,
  native,
  SO_BINDTODEVICE,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_MARK,
  SO_RCVBUF,
  SO_SNDBUF,
  SOL_SOCKET,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
  TCP_USER_TIMEOUT
} from "../src/internal/native.ts"
import { closedTcpPort, command, inNetns, kernelTest, netns, root, summary, tcpServer } from "./helpers/kernel.ts"

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeNetwork.layer)

const calls = () => {
  const loaded = native()
  if (loaded._tag === "Missing") throw new Error(loaded.reason)
  return loaded.native
}

/** This process's descriptor of the established TCP connection with this local port. */
const descriptorOf = (localPort: number): number => {
  const inodes = new Set<string>()
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    for (const line of Fs.readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10) continue
      if (Number.parseInt(fields[1]!.split(":")[1]!, 16) === localPort && fields[3] === "01") inodes.add(fields[9]!)
    }
  }
  for (const name of Fs.readdirSync("/proc/self/fd")) {
    try {
      const link = Fs.readlinkSync(`/proc/self/fd/${name}`)
      if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) return Number(name)
    } catch {
      // A descriptor closed while listing.
    }
  }
  throw new Error(`no established socket with local port ${localPort}`)
}

const localPortOf = (handle: { readonly localAddress: Effect.Effect<Option.Option<unknown>> }) =>
  Effect.map(handle.localAddress, (local) => {
    const value = Option.getOrThrow(local) as { readonly port: number }
    return value.port
  })

const int = (fd: number, level: number, name: number) => calls().getsockoptInt(fd, level, name)

describe("options set before connect, read back from the kernel", () => {
  kernelTest(
    "user timeout, keepalive idle/interval/count, linger, buffers, no-delay; again after a reconnect",
    [],
    () =>
      provide(
        Effect.gen(function* () {
          const server = yield* tcpServer("127.0.0.1")
          const closed = yield* closedTcpPort("127.0.0.1")
          const handle = yield* Network.open("stream", {
            userTimeout: "1234 millis",
            keepAlive: "7 seconds",
            keepAliveInterval: "3 seconds",
            keepAliveCount: 4,
            linger: "5 seconds",
            receiveBufferSize: 65536,
            sendBufferSize: 32768,
            noDelay: true
          })
          const readBack = Effect.gen(function* () {
            const fd = descriptorOf(yield* localPortOf(handle))
            const linger = calls().getsockopt(fd, SOL_SOCKET, SO_LINGER, 8)
            if (typeof linger === "number") throw new Error(`getsockopt: ${linger}`)
            const view = new DataView(linger.buffer, linger.byteOffset)
            return {
              userTimeout: int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT),
              keepAlive: int(fd, SOL_SOCKET, SO_KEEPALIVE),
              keepIdle: int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
              keepInterval: int(fd, IPPROTO_TCP, TCP_KEEPINTVL),
              keepCount: int(fd, IPPROTO_TCP, TCP_KEEPCNT),
              linger: [view.getInt32(0, true), view.getInt32(4, true)],
              // Linux doubles what was asked, for its bookkeeping.
              receiveBuffer: int(fd, SOL_SOCKET, SO_RCVBUF),
              sendBuffer: int(fd, SOL_SOCKET, SO_SNDBUF),
              noDelay: int(fd, IPPROTO_TCP, TCP_NODELAY)
            }
          })
          const expected = {
            userTimeout: 1234,
            keepAlive: 1,
            keepIdle: 7,
            keepInterval: 3,
            keepCount: 4,
            linger: [1, 5],
            receiveBuffer: 131072,
            sendBuffer: 65536,
            noDelay: 1
          }
          yield* handle.connect(`127.0.0.1:${server.port}`)
          expect(yield* readBack).toEqual(expected)
          // Kept across reconnects: a failed connect, then a fresh kernel socket with the same options.
          yield* handle.disconnect
          expect(summary(yield* Effect.flip(handle.connect(`127.0.0.1:${closed}`)))).toMatchObject({
            _tag: "ECONNREFUSED"
          })
          yield* handle.connect(`127.0.0.1:${server.port}`)
          expect(yield* readBack).toEqual(expected)
          expect(server.accepted.length).toBe(2)
        })
      )
  )

  kernelTest(
    "without an option the handshake uses, the rest go on Node's own socket: read back, and after a reconnect",
    [],
    () =>
      provide(
        Effect.gen(function* () {
          const server = yield* tcpServer("127.0.0.1")
          const closed = yield* closedTcpPort("127.0.0.1")
          // No buffer sizes, mark or device: Node makes the socket; these are set on it.
          const handle = yield* Network.open("stream", {
            userTimeout: "4321 millis",
            keepAlive: "9 seconds",
            keepAliveInterval: "2 seconds",
            keepAliveCount: 6,
            linger: "0 seconds",
            noDelay: true
          })
          const readBack = Effect.gen(function* () {
            const fd = descriptorOf(yield* localPortOf(handle))
            const linger = calls().getsockopt(fd, SOL_SOCKET, SO_LINGER, 8)
            if (typeof linger === "number") throw new Error(`getsockopt: ${linger}`)
            const view = new DataView(linger.buffer, linger.byteOffset)
            return {
              userTimeout: int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT),
              keepAlive: int(fd, SOL_SOCKET, SO_KEEPALIVE),
              keepIdle: int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
              keepInterval: int(fd, IPPROTO_TCP, TCP_KEEPINTVL),
              keepCount: int(fd, IPPROTO_TCP, TCP_KEEPCNT),
              linger: [view.getInt32(0, true), view.getInt32(4, true)],
              noDelay: int(fd, IPPROTO_TCP, TCP_NODELAY)
            }
          })
          const expected = {
            userTimeout: 4321,
            keepAlive: 1,
            keepIdle: 9,
            keepInterval: 2,
            keepCount: 6,
            linger: [1, 0],
            noDelay: 1
          }
          yield* handle.connect(`127.0.0.1:${server.port}`)
          expect(yield* readBack).toEqual(expected)
          yield* handle.disconnect
          expect(summary(yield* Effect.flip(handle.connect(`127.0.0.1:${closed}`)))).toMatchObject({
            _tag: "ECONNREFUSED"
          })
          yield* handle.connect(`127.0.0.1:${server.port}`)
          expect(yield* readBack).toEqual(expected)
          // Keepalive without an interval or count stays Node's own (SO_KEEPALIVE and the idle time).
          const plain = yield* Network.connect(`127.0.0.1:${server.port}`, { keepAlive: "11 seconds" })
          const fd = descriptorOf(yield* localPortOf(plain))
          expect([int(fd, SOL_SOCKET, SO_KEEPALIVE), int(fd, IPPROTO_TCP, TCP_KEEPIDLE)]).toEqual([1, 11])
          expect(int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)).toBe(0)
        })
      )
  )

  kernelTest("a local address without a port sets IP_BIND_ADDRESS_NO_PORT; with a port it does not", [], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1")
        const any = yield* Network.connect(`127.0.0.1:${server.port}`, { local: "127.0.0.1:0" })
        expect(int(descriptorOf(yield* localPortOf(any)), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT)).toBe(1)
        const port = yield* closedTcpPort("127.0.0.1")
        const fixed = yield* Network.connect(`127.0.0.1:${server.port}`, { local: `127.0.0.1:${port}` })
        expect(yield* localPortOf(fixed)).toBe(port)
        expect(int(descriptorOf(port), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT)).toBe(0)
      })
    )
  )

  kernelTest("SO_MARK and SO_BINDTODEVICE (root); an unknown device is the kernel's ENODEV", [root], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1")
        const handle = yield* Network.connect(`127.0.0.1:${server.port}`, { mark: 42, bindToDevice: "lo" })
        const fd = descriptorOf(yield* localPortOf(handle))
        expect(int(fd, SOL_SOCKET, SO_MARK)).toBe(42)
        const device = calls().getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, 16)
        expect(typeof device === "number" ? device : new TextDecoder().decode(device).replace(/\0+$/, "")).toBe("lo")
        const error = yield* Effect.flip(Network.connect(`127.0.0.1:${server.port}`, { bindToDevice: "nosuchdev0" }))
        expect(summary(error)).toMatchObject({ _tag: "UnknownErrno", errno: 19, syscall: "socket" })
        expect(server.accepted.length).toBe(1)
      })
    )
  )
})

describe("their effects", () => {
  kernelTest("linger 0: closing resets the connection, and the peer sees ECONNRESET", [], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1")
        const seen: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Network.connect(`127.0.0.1:${server.port}`, { linger: 0 })
            // Wait until the server holds the connection.
            for (let turn = 0; turn < 200 && server.sockets.size === 0; turn++) yield* Effect.sleep("5 millis")
            for (const socket of server.sockets)
              socket.on("error", (error: NodeJS.ErrnoException) => seen.push(error.code ?? ""))
          })
        )
        for (let turn = 0; turn < 200 && seen.length === 0; turn++) yield* Effect.sleep("5 millis")
        expect(seen).toEqual(["ECONNRESET"])
      })
    )
  )

  kernelTest("without linger the peer sees a clean end (the control)", [], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1")
        const seen: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Network.connect(`127.0.0.1:${server.port}`)
            for (let turn = 0; turn < 200 && server.sockets.size === 0; turn++) yield* Effect.sleep("5 millis")
            for (const socket of server.sockets) {
              socket.on("error", (error: NodeJS.ErrnoException) => seen.push(error.code ?? ""))
              socket.on("end", () => seen.push("end"))
              socket.resume()
            }
          })
        )
        for (let turn = 0; turn < 200 && seen.length === 0; turn++) yield* Effect.sleep("5 millis")
        expect(seen).toEqual(["end"])
      })
    )
  )

  kernelTest(
    "user timeout: a peer gone silent (nft drops everything) fails the connection with ETIMEDOUT",
    [netns, root, command("nft")],
    () =>
      Effect.gen(function* () {
        const started = Date.now()
        const results = yield* inNetns("set -e; ip link set lo up", {
          listen: { host: "127.0.0.1", port: 5000 },
          connects: [
            {
              address: "127.0.0.1:5000",
              options: { userTimeout: "500 millis" },
              afterConnect: {
                shell:
                  "nft add table inet dial && nft add chain inet dial input '{ type filter hook input priority 0; }' && nft add rule inet dial input tcp dport 5000 drop",
                write: "are you there?"
              }
            }
          ]
        })
        expect(results).toEqual([
          { ok: false, error: expect.objectContaining({ _tag: "ETIMEDOUT", errno: 110, syscall: "read" }) }
        ])
        // The kernel's default would retransmit for about 15 minutes.
        expect(Date.now() - started).toBeLessThan(15_000)
      }),
    30_000
  )
})

describe("the user timeout bounds the handshake too", () => {
  kernelTest(
    "every SYN dropped (nft): ETIMEDOUT from connect after the user timeout, not after the SYN retries",
    [netns, root, command("nft")],
    () =>
      Effect.gen(function* () {
        const started = Date.now()
        // Set on Node's own socket just after connect(2), it counts from the first SYN as the
        // kernel's check does; a pre-connect buffer option takes the natively made socket.
        const results = yield* inNetns(
          "set -e; ip link set lo up; nft add table inet dial && nft add chain inet dial input '{ type filter hook input priority 0; }' && nft add rule inet dial input tcp dport 5000 drop",
          {
            connects: [
              { address: "127.0.0.1:5000", options: { userTimeout: "600 millis" } },
              { address: "127.0.0.1:5000", options: { userTimeout: "600 millis", receiveBufferSize: 65536 } }
            ]
          }
        )
        const timedOut = {
          ok: false,
          error: expect.objectContaining({ _tag: "ETIMEDOUT", errno: 110, syscall: "connect" })
        }
        expect(results).toEqual([timedOut, timedOut])
        // Without it the kernel would retry the SYN for about 127 s (tcp_syn_retries 6).
        expect(Date.now() - started).toBeLessThan(20_000)
      }),
    40_000
  )
})

describe("bad values are InvalidInput and open nothing", () => {
  kernelTest("each option", [], () =>
    provide(
      Effect.gen(function* () {
        const bad: ReadonlyArray<readonly [string, Network.OpenOptions]> = [
          ["userTimeout", { userTimeout: "soon" as never }],
          ["userTimeout", { userTimeout: "1.5 millis" }],
          ["keepAliveInterval", { keepAliveInterval: "1500 millis" }],
          ["keepAliveInterval", { keepAliveInterval: 0 }],
          ["keepAliveCount", { keepAliveCount: 0 }],
          ["keepAliveCount", { keepAliveCount: 1.5 }],
          ["linger", { linger: -1 }],
          ["mark", { mark: -1 }],
          ["mark", { mark: 2 ** 32 }],
          ["bindToDevice", { bindToDevice: "" }],
          ["bindToDevice", { bindToDevice: "a-name-far-too-long" }],
          ["receiveBufferSize", { receiveBufferSize: 0 }],
          ["sendBufferSize", { sendBufferSize: Number.NaN }]
        ]
        for (const [field, options] of bad) {
          const error = yield* Effect.flip(Network.open("stream", options))
          expect([error._tag, error._tag === "InvalidInput" ? error.field : undefined]).toEqual(["InvalidInput", field])
        }
      })
    )
  )
})
