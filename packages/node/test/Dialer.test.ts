/**
 * `Dialer.dial` over the real kernel (`NodeNetwork.layer`): a name with `::1` and `127.0.0.1`
 * from a static table (`Dns.layerStatic`, never a real DNS server), on loopback, and a
 * blackholed `::1` inside a network namespace the test creates (`unshare -n`, an nft rule that
 * drops the SYNs), where the IPv4 attempt must start after the connection attempt delay.
 */
import { Dialer, type DialError } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AddressResolver, Dns } from "effect/net"
import * as Socket from "effect/socket/Socket"
import * as Os from "node:os"
import * as Path from "node:path"
import { closedTcpPort, command, kernelTest, netns, type Requirement, run, tcpServer } from "./helpers/kernel.ts"

/** `::1` must be configured: the cases race it against `127.0.0.1`. */
const ipv6Loopback: Requirement = {
  missing: () =>
    Object.values(Os.networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === "::1"))
      ? undefined
      : "needs IPv6 loopback (::1)"
}

const names = AddressResolver.layer().pipe(
  Layer.provide(Layer.orDie(Dns.layerStatic({ hosts: { "db.test": ["::1", "127.0.0.1"] } })))
)

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, Layer.merge(NodeNetwork.layer, names))

const decoder = new TextDecoder()

describe("Dialer over the kernel (loopback)", () => {
  kernelTest("only 127.0.0.1 listens: ::1 is refused first, 127.0.0.1 connects at once", [ipv6Loopback], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1", "echo")
        const dialed = yield* Dialer.dial(`db.test:${server.port}`, { deadline: "5 seconds" })
        expect(String(dialed.address)).toBe(`127.0.0.1:${server.port}`)
        const [refused, connected] = dialed.attempts
        expect(dialed.attempts.length).toBe(2)
        expect(String(refused?.address)).toBe(`[::1]:${server.port}`)
        expect(refused?.outcome).toBe("failed")
        expect(refused?.error?._tag).toBe("ECONNREFUSED")
        expect(connected?.outcome).toBe("connected")
        // The refusal started the next attempt at once, long before the 250 ms attempt delay.
        expect(connected?.startedAtMillis).toBeLessThan(100)

        // The winner is a working connection to the echo server.
        const socket = yield* dialed.handle.socket
        // The reader first: the Node socket's writer waits for its reader to open.
        const pull = yield* Socket.readerBytes(socket)
        const writer = yield* socket.writer
        yield* writer.write("ping")
        let echoed = ""
        for (let reads = 0; reads < 10 && echoed.length < 4; reads++) {
          for (const chunk of yield* pull) echoed += decoder.decode(chunk)
        }
        expect(echoed).toBe("ping")
        expect(server.accepted.length).toBe(1)
      })
    )
  )

  kernelTest("only ::1 listens: one attempt, IPv6, connected", [ipv6Loopback], () =>
    provide(
      Effect.gen(function* () {
        const server = yield* tcpServer("::1")
        const dialed = yield* Dialer.dial(`db.test:${server.port}`, { deadline: "5 seconds" })
        expect(dialed.attempts.map((a) => `${String(a.address)} ${a.outcome}`)).toEqual([
          `[::1]:${server.port} connected`
        ])
      })
    )
  )

  kernelTest("nothing listens: AllAttemptsFailed with both refusals, their errno and addresses", [ipv6Loopback], () =>
    provide(
      Effect.gen(function* () {
        const port = yield* closedTcpPort("127.0.0.1")
        const error = yield* Effect.flip(Dialer.dial(`db.test:${port}`, { deadline: "5 seconds" }))
        expect(error._tag).toBe("AllAttemptsFailed")
        const attempts = (error as DialError.AllAttemptsFailed).attempts.map((a) => ({
          address: String(a.address),
          error: a.error._tag,
          errno: "errno" in a.error ? a.error.errno : undefined
        }))
        expect(attempts).toEqual([
          { address: `[::1]:${port}`, error: "ECONNREFUSED", errno: 111 },
          { address: `127.0.0.1:${port}`, error: "ECONNREFUSED", errno: 111 }
        ])
      })
    )
  )
})

/**
 * Runs inside the network namespace (plain JavaScript, given to `node -e`): brings lo up,
 * listens on 127.0.0.1, drops TCP SYNs to [::1] at that port with nft, dials `db.test` and
 * prints the result as one JSON line.
 */
const blackholeChild = `
import { Dialer } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AddressResolver, Dns } from "effect/net"
import { execFileSync } from "node:child_process"
import * as Net from "node:net"

execFileSync("ip", ["link", "set", "lo", "up"])
const server = Net.createServer((socket) => socket.on("error", () => {}))
await new Promise((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve))
const port = server.address().port
execFileSync("nft", ["add", "table", "inet", "t"])
execFileSync("nft", ["add", "chain", "inet", "t", "c", "{ type filter hook input priority 0; }"])
execFileSync("nft", ["add", "rule", "inet", "t", "c", "ip6", "daddr", "::1", "tcp", "dport", String(port), "drop"])

const names = AddressResolver.layer().pipe(
  Layer.provide(Layer.orDie(Dns.layerStatic({ hosts: { "db.test": ["::1", "127.0.0.1"] } })))
)
const result = await Effect.runPromise(
  Dialer.dial("db.test:" + port, { deadline: "5 seconds" }).pipe(
    Effect.map((dialed) => ({
      port,
      address: String(dialed.address),
      attempts: dialed.attempts.map((a) => ({
        address: String(a.address),
        startedAtMillis: a.startedAtMillis,
        endedAtMillis: a.endedAtMillis,
        outcome: a.outcome,
        error: a.error?._tag
      }))
    })),
    Effect.catch((error) => Effect.succeed({ port, error: error._tag, message: String(error.message) })),
    Effect.scoped,
    Effect.provide(Layer.merge(NodeNetwork.layer, names))
  )
)
server.close()
console.log(JSON.stringify(result))
`

interface BlackholeResult {
  readonly port: number
  readonly address?: string
  readonly error?: string
  readonly attempts?: ReadonlyArray<{
    readonly address: string
    readonly startedAtMillis: number
    readonly endedAtMillis: number | undefined
    readonly outcome: string
    readonly error: string | undefined
  }>
}

describe("Dialer over the kernel (a network namespace)", () => {
  kernelTest(
    "::1 blackholed by nft: IPv4 starts ~250 ms after IPv6 and wins; IPv6 is cancelled",
    [netns, command("nft")],
    () =>
      Effect.gen(function* () {
        // The child resolves @dial/* and effect from this package, as the tests do.
        const stdout = yield* run(
          "unshare",
          ["-n", "--", process.execPath, "--input-type=module", "-e", blackholeChild],
          {
            cwd: Path.join(import.meta.dirname, "..")
          }
        )
        const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as BlackholeResult
        expect(result.error).toBeUndefined()
        expect(result.address).toBe(`127.0.0.1:${result.port}`)
        const [v6, v4] = result.attempts ?? []
        expect(result.attempts?.length).toBe(2)
        expect(v6?.address).toBe(`[::1]:${result.port}`)
        // Dropped, not refused: the attempt was still waiting when IPv4 won.
        expect(v6?.outcome).toBe("cancelled")
        expect(v4?.outcome).toBe("connected")
        const gap = (v4?.startedAtMillis ?? 0) - (v6?.startedAtMillis ?? 0)
        // The connection attempt delay, 250 ms, on a real clock (timers never fire early; a loaded
        // machine may fire them a little late).
        expect(gap).toBeGreaterThanOrEqual(249)
        expect(gap).toBeLessThan(450)
        expect(v4?.endedAtMillis).toBeLessThan(1000)
      }),
    30_000
  )
})
