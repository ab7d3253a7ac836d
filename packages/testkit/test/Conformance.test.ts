import { type SockAddr as SockAddrType, SockAddr } from "@dial/core"
import { TestNetwork } from "@dial/testkit"
import * as Conformance from "@dial/testkit/Conformance"
import { Effect, Result } from "effect"

// Every address is fresh, so no two cases (or fixtures) can meet by accident.
let next = 0
function fresh(kind: "inet4" | "inet6", port?: number): SockAddrType.Inet
function fresh(kind: Conformance.Kind, port?: number): SockAddrType.SockAddr
function fresh(kind: Conformance.Kind, port?: number): SockAddrType.SockAddr {
  next++
  const text =
    kind === "inet4"
      ? `127.0.0.1:${port ?? 20000 + next}`
      : kind === "inet6"
        ? `[::1]:${port ?? 20000 + next}`
        : kind === "unix"
          ? `unix:/tmp/dial-fake-${next}.sock`
          : `unix:@dial-fake-${next}`
  return Result.getOrThrow(SockAddr.fromString(text))
}

const family = (f: "IPv4" | "IPv6"): "inet4" | "inet6" => (f === "IPv4" ? "inet4" : "inet6")

const fixture: Conformance.Fixture<TestNetwork.TestNetwork> = {
  listen: (kind) =>
    TestNetwork.listen(fresh(kind, 0), { echo: true }).pipe(
      Effect.map((listener) => listener.address),
      Effect.orDie
    ),
  closedAddress: (kind) => Effect.sync(() => fresh(kind)),
  udpEcho: (f) =>
    TestNetwork.bindDatagram(fresh(family(f), 0), { echo: true }).pipe(
      Effect.map((port) => port.address),
      Effect.orDie
    ),
  // The fake's way to lose every SYN; the kernel's fixture fills an accept queue instead.
  hanging: Effect.suspend(() => {
    const address = fresh("inet4")
    return Effect.as(Effect.orDie(TestNetwork.script(address, ["blackhole"])), address)
  }),
  listenAt: (address) => Effect.asVoid(Effect.orDie(TestNetwork.listen(address, { echo: true }))),
  udpClosed: (f) => Effect.sync(() => fresh(family(f))),
  seqpacketEcho: (kind) =>
    TestNetwork.listen(fresh(kind, 0), { echo: true, type: "seqpacket" }).pipe(
      Effect.map((listener) => listener.address),
      Effect.orDie
    ),
  // A path of its own each time: a closed unix datagram socket leaves its file behind.
  unixDatagramEcho: Effect.suspend(() => TestNetwork.bindDatagram(fresh("unix"), { echo: true })).pipe(
    Effect.map((port) => port.address),
    Effect.orDie
  ),
  server: TestNetwork.listen(fresh("inet4", 0)).pipe(
    Effect.map((listener) => ({ address: listener.address, accept: Effect.orDie(listener.accept) })),
    Effect.orDie
  )
}

Conformance.suite("TestNetwork", { layer: TestNetwork.layer(), fixture, kernel: false })
