/**
 * The controls a test holds: listeners, scripts, latencies, partitions, holds and the clock
 * helpers. Each is a function of the kernel; each returns an effect that changes the kernel's
 * tables (or waits on them) and nothing else.
 */
import { ConnectError, InvalidInput } from "@dial/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as TestNetwork from "../TestNetwork.ts"
import {
  decodeOutcome,
  enqueue,
  type HoldState,
  type Kernel,
  keyOf,
  type ListenerState,
  matcherOf,
  millisOf,
  type PartitionState,
  parseConcrete,
  type Scripted,
  testClockOf
} from "./kernel.ts"

import { partitionLive } from "./toxics.ts"

export type Controls = TestNetwork.TestNetwork["Service"]

export const listen =
  (kernel: Kernel): Controls["listen"] =>
  (input, listenOptions = {}) =>
    Effect.withFiber((fiber): ReturnType<Controls["listen"]> => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const backlog = listenOptions.backlog ?? 511
      if (!Number.isInteger(backlog) || backlog < 0) {
        return Effect.fail(InvalidInput.make("backlog", backlog, "expected a non-negative integer"))
      }
      const type = listenOptions.type ?? "stream"
      if (type === "seqpacket" && parsed.success._tag === "Inet") {
        return Effect.fail(InvalidInput.make("type", type, "seqpacket listeners are unix sockets"))
      }
      const clock = fiber.getRef(Clock.Clock)
      const recorder = kernel.journal.recorder(clock, kernel.nextSocket(), type)
      const bound = kernel.bindPort(kernel.tcp, parsed.success, recorder)
      if (Result.isFailure(bound)) return Effect.fail(bound.failure)
      const address = bound.success.address
      const key = keyOf(address)
      const state: ListenerState = {
        id: recorder.socket,
        address,
        type,
        backlog,
        accepting: listenOptions.accept !== false,
        deny: listenOptions.permission === "deny",
        echo: listenOptions.echo === true,
        pending: [],
        acceptWaiters: [],
        connections: 0,
        closed: false,
        shutdown: (pending) => {
          if (state.closed) return
          state.closed = true
          if (kernel.listeners.get(key) === state) kernel.listeners.delete(key)
          bound.success.release()
          // Unaccepted connections are reset when their listener goes, as the kernel does (a
          // crashed machine says nothing at all).
          for (const waiting of state.pending.splice(0)) {
            if (pending === "reset") waiting.side.reset()
            else waiting.side.detach()
          }
          for (const waiter of state.acceptWaiters.splice(0)) waiter(Effect.fail(badf()))
          recorder.record({ op: "close", outcome: "ok", address })
        }
      }
      kernel.listeners.set(key, state)
      recorder.record({ op: "listen", outcome: "ok", address })
      const badf = () => ConnectError.make("EBADF", { syscall: "socket", localAddress: address })
      const close = Effect.sync(() => state.shutdown("reset"))
      const accept: TestNetwork.Listener["accept"] = Effect.withFiber((acceptFiber) => {
        if (state.closed) return Effect.fail(badf())
        const acceptClock = acceptFiber.getRef(Clock.Clock)
        const next = state.pending.shift()
        if (next !== undefined) {
          kernel.journal
            .recorder(acceptClock, next.id, type)
            .record({ op: "accept", outcome: "ok", address: next.connection.peer, localAddress: address })
          return Effect.succeed(next.connection)
        }
        return enqueue(state.acceptWaiters)
      })
      const listener: TestNetwork.Listener = {
        address,
        accept,
        connections: Effect.sync(() => state.connections),
        pending: Effect.sync(() => state.pending.length)
      }
      return Effect.as(
        Effect.addFinalizer(() => close),
        listener
      )
    })

export const script =
  (kernel: Kernel): Controls["script"] =>
  (input, outcomes) =>
    Effect.suspend(() => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const key = keyOf(parsed.success)
      const decoded: Array<Scripted> = []
      for (const outcome of outcomes) {
        const result = decodeOutcome(outcome)
        if (Result.isFailure(result)) return Effect.fail(InvalidInput.make("outcomes", outcome, result.failure))
        decoded.push(result.success)
      }
      if (decoded.length === 0) kernel.scripts.delete(key)
      else kernel.scripts.set(key, { outcomes: decoded, index: 0 })
      return Effect.void
    })

export const latency =
  (kernel: Kernel): Controls["latency"] =>
  (input, latencyOptions) =>
    Effect.suspend(() => {
      let key = "*"
      if (input !== "*") {
        const parsed = parseConcrete("address", input)
        if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
        key = keyOf(parsed.success)
      }
      const base = millisOf("base", latencyOptions.base, 0)
      if (Result.isFailure(base)) return Effect.fail(base.failure)
      const jitter = millisOf("jitter", latencyOptions.jitter, 0)
      if (Result.isFailure(jitter)) return Effect.fail(jitter.failure)
      if (base.success === 0 && jitter.success === 0) kernel.latencies.delete(key)
      else kernel.latencies.set(key, { base: base.success, jitter: Math.floor(jitter.success) })
      return Effect.void
    })

export const partition =
  (kernel: Kernel): Controls["partition"] =>
  (a, b, partitionOptions = {}) =>
    Effect.suspend(() => {
      const left = matcherOf(a)
      if (Result.isFailure(left)) return Effect.fail(left.failure)
      const right = matcherOf(b)
      if (Result.isFailure(right)) return Effect.fail(right.failure)
      const errno = partitionOptions.errno
      if (errno !== undefined && errno !== "ENETUNREACH" && errno !== "EHOSTUNREACH") {
        return Effect.fail(InvalidInput.make("errno", errno, "expected ENETUNREACH or EHOSTUNREACH"))
      }
      const state: PartitionState = { a: left.success, b: right.success, errno, healWaiters: new Set() }
      kernel.partitions.add(state)
      const healLive = partitionLive(
        kernel,
        (client, server) => (state.a(client) && state.b(server)) || (state.b(client) && state.a(server))
      )
      return Effect.addFinalizer(() =>
        Effect.sync(() => {
          kernel.partitions.delete(state)
          healLive()
          for (const heal of [...state.healWaiters]) heal()
          state.healWaiters.clear()
        })
      )
    })

export const hold =
  (kernel: Kernel): Controls["hold"] =>
  (input) =>
    Effect.suspend(() => {
      const parsed = parseConcrete("address", input)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const key = keyOf(parsed.success)
      if (kernel.holds.has(key)) return Effect.fail(InvalidInput.make("address", key, "the address is already held"))
      const state: HoldState = { parked: [], watchers: new Set() }
      kernel.holds.set(key, state)
      const release = Effect.sync(() => {
        if (kernel.holds.get(key) === state) kernel.holds.delete(key)
        for (const go of state.parked.splice(0)) go(Effect.void)
      })
      const handle: TestNetwork.Hold = {
        address: parsed.success,
        parked: Effect.sync(() => state.parked.length),
        awaitParked: (count) =>
          Effect.callback<void>((resume) => {
            const check = () => {
              if (state.parked.length < count) return
              state.watchers.delete(check)
              resume(Effect.void)
            }
            state.watchers.add(check)
            check()
            return Effect.sync(() => state.watchers.delete(check))
          }),
        releaseOne: Effect.sync(() => {
          const go = state.parked.shift()
          go?.(Effect.void)
          return go !== undefined
        }),
        release
      }
      return Effect.as(
        Effect.addFinalizer(() => release),
        handle
      )
    })

export const advanceToNextEvent = (kernel: Kernel): Effect.Effect<boolean> =>
  Effect.withFiber((fiber) => {
    const clock = testClockOf(fiber.getRef(Clock.Clock))
    if (clock === undefined) {
      return Effect.die(new Error("TestNetwork.advanceToNextEvent needs the TestClock (it.effect provides it)"))
    }
    return Effect.gen(function* () {
      // Let forked fibers run up to their next suspension, so their timers are known.
      for (let i = 0; i < 4; i++) yield* Effect.yieldNow
      yield* clock.adjust(0)
      const next = kernel.nextTimer()
      if (next === undefined) return false
      yield* clock.adjust(Math.max(0, next - clock.currentTimeMillisUnsafe()))
      return true
    })
  })

export const advanceUntilIdle = (kernel: Kernel): Effect.Effect<void> => {
  const advance = advanceToNextEvent(kernel)
  return Effect.gen(function* () {
    // Bounded: a network whose timers keep re-arming forever stops after this many steps.
    for (let step = 0; step < 100_000; step++) {
      if (!(yield* advance)) return
    }
  })
}
