/**
 * The in-memory network, assembled: a `Kernel` (tables, ports, timers) and its `Journal`,
 * the transport's moves from `streams.ts` and `datagrams.ts`, the controls from `controls.ts`.
 * Everything is plain synchronous bookkeeping on the kernel; an attempt only suspends on the
 * clock or on a hold, and every suspension is interruptible and cleans up after itself.
 */
import type { Network, Transport } from "@dial/core"
import { InvalidInput } from "@dial/core"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import type * as TestNetwork from "../TestNetwork.ts"
import {
  advanceToNextEvent,
  advanceUntilIdle,
  type Controls,
  hold,
  latency,
  listen,
  partition,
  script
} from "./controls.ts"
import { bindDatagram, openDatagram } from "./datagrams.ts"
import { crash, faults, host, restart } from "./hosts.ts"
import { Journal } from "./journal.ts"
import { type Family, Kernel, millisOf, platform } from "./kernel.ts"
import { connectStream } from "./streams.ts"
import { toxicControl } from "./toxics.ts"

export { formatEntry } from "./journal.ts"

export const make = (
  options: TestNetwork.Options
): Effect.Effect<
  { readonly network: Network.Network["Service"]; readonly controls: Controls },
  InvalidInput.InvalidInput
> =>
  Effect.suspend(() => {
    const kernelTimeout = millisOf("kernelTimeout", options.kernelTimeout, 127_000)
    if (Result.isFailure(kernelTimeout)) return Effect.fail(kernelTimeout.failure)
    const range = options.ephemeralPorts ?? { from: 32768, to: 60999 }
    if (
      !Number.isInteger(range.from) ||
      !Number.isInteger(range.to) ||
      range.from < 1 ||
      range.to > 65535 ||
      range.from > range.to
    ) {
      return Effect.fail(InvalidInput.make("ephemeralPorts", range, "expected integers with 1 <= from <= to <= 65535"))
    }
    const hosts: Record<Family, NetAddress.IpAddress> = { IPv4: NetAddress.ipv4Loopback, IPv6: NetAddress.ipv6Loopback }
    for (const family of ["IPv4", "IPv6"] as const) {
      const text = options.hostAddresses?.[family] ?? (family === "IPv4" ? "192.0.2.1" : "2001:db8::1")
      const ip = NetAddress.ipFromString(text)
      if (Result.isFailure(ip) || NetAddress.familyOf(ip.success) !== family) {
        return Effect.fail(InvalidInput.make("hostAddresses", text, `expected an ${family} address`))
      }
      hosts[family] = ip.success
    }
    return Effect.map(
      Random.withSeed(
        Random.Random.useSync((random) => random),
        options.seed ?? 0
      ),
      (random) => {
        const journal = new Journal(options.record !== false)
        const kernel = new Kernel({ kernelTimeout: kernelTimeout.success, range, hosts, random, journal })
        const transport: Transport.Transport = {
          platform,
          connectStream: connectStream(kernel),
          openDatagram: openDatagram(kernel)
        }
        const controls: Controls = {
          listen: listen(kernel),
          bindDatagram: bindDatagram(kernel),
          script: script(kernel),
          latency: latency(kernel),
          partition: partition(kernel),
          hold: hold(kernel),
          toxic: toxicControl(kernel),
          faults: faults(kernel),
          host: host(kernel),
          crash: crash(kernel),
          restart: restart(kernel),
          journal: Effect.sync(() => journal.entries.slice()),
          faultCoverage: Effect.sync(() => new Map(journal.coverage.counts)),
          advanceToNextEvent: advanceToNextEvent(kernel),
          advanceUntilIdle: advanceUntilIdle(kernel)
        }
        return { network: journal.observe(transport), controls }
      }
    )
  })
