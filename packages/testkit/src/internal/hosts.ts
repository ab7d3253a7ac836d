/**
 * Hosts that crash and come back (turmoil's `crash` and `bounce`), and fault rates.
 *
 * A host is an IP. `host(ip, server)` registers the software that runs there and starts it;
 * `crash(ip)` first cuts the host's connections and listeners off (reset, or silently gone),
 * then stops the software, so that nothing its dying scope closes reaches a peer as a clean
 * FIN. `restart(ip)` lets connects through again and runs the registered software anew.
 */
import { InvalidInput, type SockAddr } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import type { Controls } from "./controls.ts"
import type { ConnectFault, HostServer, Kernel } from "./kernel.ts"
import { inetOf, ipTextOf, matcherOf } from "./kernel.ts"
import { addToxic, resetEnds } from "./toxics.ts"

const hostIp = (ip: string): Result.Result<NetAddress.IpAddress, InvalidInput.InvalidInput> => {
  const parsed = typeof ip === "string" ? NetAddress.ipFromString(ip) : undefined
  return parsed !== undefined && Result.isSuccess(parsed)
    ? Result.succeed(parsed.success)
    : Result.fail(InvalidInput.make("host", ip, "expected an IP address"))
}

const journalLine = (kernel: Kernel, ip: NetAddress.IpAddress, outcome: string) =>
  Effect.withFiber((fiber) => {
    kernel.journal
      .recorder(fiber.getRef(Clock.Clock), 0, "stream")
      .record({ op: "host", outcome, address: inetOf(ip, 0) })
    return Effect.void
  })

export const host =
  (kernel: Kernel): Controls["host"] =>
  (ip, server) =>
    Effect.withFiber((fiber): ReturnType<Controls["host"]> => {
      const parsed = hostIp(ip)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const text = ipTextOf(parsed.success)
      let running: Fiber.Fiber<unknown, unknown> | undefined
      const entry: HostServer = {
        start: () => {
          // With the registering fiber's services: its clock, its network.
          running = Effect.runForkWith(fiber.context)(server)
        },
        stop: Effect.suspend(() => {
          const fiber = running
          running = undefined
          return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
        })
      }
      let servers = kernel.servers.get(text)
      if (servers === undefined) {
        servers = new Set()
        kernel.servers.set(text, servers)
      }
      servers.add(entry)
      if (!kernel.crashed.has(text)) entry.start()
      return Effect.addFinalizer(() =>
        Effect.suspend(() => {
          kernel.servers.get(text)?.delete(entry)
          return entry.stop
        })
      )
    })

export const crash =
  (kernel: Kernel): Controls["crash"] =>
  (ip, options = {}) =>
    Effect.suspend(() => {
      const parsed = hostIp(ip)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const connections = options.connections ?? "reset"
      if (connections !== "reset" && connections !== "vanish") {
        return Effect.fail(InvalidInput.make("connections", connections, "expected reset or vanish"))
      }
      const connects = options.connects ?? "refuse"
      if (connects !== "refuse" && connects !== "blackhole") {
        return Effect.fail(InvalidInput.make("connects", connects, "expected refuse or blackhole"))
      }
      const text = ipTextOf(parsed.success)
      kernel.crashed.set(text, connects)
      const onHost = (address: SockAddr.SockAddr) => address._tag === "Inet" && ipTextOf(address.ip) === text
      for (const live of kernel.liveConnections()) {
        if (!onHost(live.serverAddress)) continue
        live.upstream?.queue.splice(0)
        live.downstream?.queue.splice(0)
        if (connections === "reset") resetEnds(live)
        else live.vanished = true
        if (connections === "vanish" && live.server === undefined) {
          // An echo peer with no software: the loop stops carrying anything.
          live.client.outgoing.tap = { write: () => {}, end: () => {} }
        }
        live.server?.detach()
        if (live.server === undefined) kernel.removeLive(live)
      }
      for (const listener of [...kernel.listeners.values()]) {
        if (onHost(listener.address)) listener.shutdown(connections)
      }
      const servers = [...(kernel.servers.get(text) ?? [])]
      return Effect.andThen(
        journalLine(kernel, parsed.success, `crashed (${connections}, ${connects})`),
        Effect.forEach(servers, (server) => server.stop, { discard: true })
      )
    })

export const restart =
  (kernel: Kernel): Controls["restart"] =>
  (ip) =>
    Effect.suspend(() => {
      const parsed = hostIp(ip)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const text = ipTextOf(parsed.success)
      const servers = [...(kernel.servers.get(text) ?? [])]
      return Effect.andThen(
        // A running server is stopped first: a restart of a live host is a bounce.
        Effect.forEach(servers, (server) => server.stop, { discard: true }),
        Effect.andThen(
          journalLine(kernel, parsed.success, "restarted"),
          Effect.sync(() => {
            kernel.crashed.delete(text)
            for (const server of servers) server.start()
          })
        )
      )
    })

const isRate = (value: unknown): value is number | undefined =>
  value === undefined || (typeof value === "number" && value >= 0 && value <= 1)

export const faults =
  (kernel: Kernel): Controls["faults"] =>
  (address, rates) =>
    Effect.suspend(() => {
      const matches = matcherOf(address)
      if (Result.isFailure(matches)) return Effect.fail(matches.failure)
      for (const field of ["refuse", "reset", "drop"] as const) {
        if (!isRate(rates[field])) {
          return Effect.fail(InvalidInput.make(field, rates[field], "expected a probability in 0..1"))
        }
      }
      const refuse = rates.refuse ?? 0
      const reset = rates.reset ?? 0
      const drop = rates.drop ?? 0
      if (refuse + reset + drop > 1) {
        return Effect.fail(InvalidInput.make("rates", rates, "the probabilities add up to more than 1"))
      }
      const per = rates.per ?? "connect"
      if (per === "chunk") {
        if (refuse > 0) return Effect.fail(InvalidInput.make("refuse", refuse, "a chunk cannot be refused"))
        return addToxic(kernel, {
          name: `fault per chunk (reset ${reset}, drop ${drop})`,
          matches: matches.success,
          upstream: true,
          downstream: true,
          toxic: { type: "fault", reset, drop }
        })
      }
      if (per !== "connect") return Effect.fail(InvalidInput.make("per", per, "expected connect or chunk"))
      const fault: ConnectFault = { matches: matches.success, refuse, reset, drop }
      kernel.connectFaults.push(fault)
      return Effect.addFinalizer(() =>
        Effect.sync(() => {
          const index = kernel.connectFaults.indexOf(fault)
          if (index !== -1) kernel.connectFaults.splice(index, 1)
        })
      )
    })
