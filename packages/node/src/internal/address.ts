/**
 * Between the core's `SockAddr` and the strings `node:net` / `node:dgram` take and give.
 *
 * Both directions sit on the connect path, so both are memoised: a process talks to a few
 * addresses from a few local IPs, and parsing or formatting an IP on every connect would be
 * most of the library's own cost. The caches are bounded; addresses are immutable values.
 */
import { SockAddr } from "@dial/core"
import * as Result from "effect/Result"
import * as NetAddress from "effect/net/NetAddress"
import * as Fs from "node:fs"

const maxCached = 256

/**
 * The interface name of an IPv6 scope id. libuv reads the zone of `fe80::1%zone` with
 * `if_nametoindex` on Unix, so a numeric zone would silently become scope 0: give it the name.
 * Linux lists the indexes under /sys/class/net; elsewhere (or when no interface has the index)
 * the number is kept, which Windows reads as an index.
 */
const zoneOf = (scopeId: number): string => {
  try {
    for (const name of Fs.readdirSync("/sys/class/net")) {
      const index = Number(Fs.readFileSync(`/sys/class/net/${name}/ifindex`, "utf8"))
      if (index === scopeId) return name
    }
  } catch {
    // Not Linux, or no sysfs: fall through to the number.
  }
  return String(scopeId)
}

const hosts = new WeakMap<SockAddr.Inet, string>()

/** The host string for an inet address: an IP literal, so Node never calls the resolver. */
export const hostOf = (address: SockAddr.Inet): string => {
  let host = hosts.get(address)
  if (host === undefined) {
    const ip = NetAddress.formatIp(address.ip)
    const scopeId = address.scopeId
    host = scopeId === 0 ? ip : `${ip}%${zoneOf(scopeId)}`
    hosts.set(address, host)
  }
  return host
}

const ips = new Map<string, NetAddress.IpAddress>()

const ipOf = (ip: string): NetAddress.IpAddress | undefined => {
  let parsed = ips.get(ip)
  if (parsed === undefined) {
    const result = NetAddress.ipFromString(ip)
    if (Result.isFailure(result)) return undefined
    parsed = result.success
    if (ips.size >= maxCached) ips.clear()
    ips.set(ip, parsed)
  }
  return parsed
}

/**
 * The local address a socket was given, from Node's `getsockname` strings. A link-local IPv6
 * local address shares its peer's scope (Node does not report the scope of a local address).
 * An unbound unix client has no name: `unspec`.
 */
export const localOf = (
  ip: string | undefined,
  port: number | undefined,
  peer: SockAddr.SockAddr
): SockAddr.SockAddr => {
  if (peer._tag !== "Inet" || ip === undefined || port === undefined) return SockAddr.unspec
  const percent = ip.indexOf("%")
  const parsed = ipOf(percent === -1 ? ip : ip.slice(0, percent))
  if (parsed === undefined) return SockAddr.unspec
  const scoped = peer.scopeId !== 0 && NetAddress.isIpv6Address(parsed) && NetAddress.isLinkLocal(parsed)
  const local = SockAddr.inet(parsed, port, scoped ? peer.scopeId : undefined)
  return Result.isSuccess(local) ? local.success : SockAddr.unspec
}
