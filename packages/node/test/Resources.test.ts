/**
 * Many failed and interrupted connects leave nothing behind: after 10,000 refused and 10,000
 * interrupted connects, the process holds exactly the socket handles it held before, and its
 * memory has not grown by more than 5 MB. No waiting is needed for the handles: a dial stream
 * socket is released before its effect completes.
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import {
  closedTcpPort,
  expectReleased,
  hangingTcpPort,
  kernelTest,
  python,
  socketDescriptors,
  stableResources,
  tcpServer,
  uncaughtErrors
} from "./helpers/kernel.ts"

const concurrency = 64

// A full collection before each measurement, so that RSS compares live memory rather than
// garbage that happens not to be collected yet. Node hides `gc` unless --expose-gc was given:
// setting the flag at run time makes it available to a fresh context.
V8.setFlagsFromString("--expose-gc")
const collectGarbage = Vm.runInNewContext("gc") as () => void

const memory = () => {
  collectGarbage()
  return process.memoryUsage()
}

/** `count` connects to a closed port; returns how many failed with ECONNREFUSED. */
const refusedConnects = (address: string, count: number) =>
  Effect.map(
    Effect.forEach(
      Array.from({ length: count }),
      () =>
        Effect.scoped(
          Effect.map(Effect.flip(Network.connect(address)), (error) => (error._tag === "ECONNREFUSED" ? 1 : 0))
        ),
      { concurrency }
    ),
    (outcomes) => outcomes.reduce((sum: number, one) => sum + one, 0)
  )

/**
 * `count` connects to a port whose connects hang, each interrupted: the even ones right after
 * the fork (before Node issued connect(2)), the odd ones one scheduler turn later (the SYN is
 * out and dropped). Returns how many ended interrupted with the handle back to `Idle`.
 */
const interruptedConnects = (address: string, count: number) =>
  Effect.map(
    Effect.forEach(
      Array.from({ length: count }, (_, index) => index),
      (index) =>
        Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* Network.open("stream")
            const attempt = yield* Effect.forkChild(handle.connect(address), { startImmediately: true })
            if (index % 2 === 1) yield* Effect.yieldNow
            yield* Fiber.interrupt(attempt)
            const exit = yield* Fiber.await(attempt)
            const state = yield* handle.state
            return Exit.hasInterrupts(exit) && state._tag === "Idle" ? 1 : 0
          })
        ),
      { concurrency }
    ),
    (outcomes) => outcomes.reduce((sum: number, one) => sum + one, 0)
  )

kernelTest(
  "10,000 refused and 10,000 interrupted connects: handles back to baseline, RSS within 5 MB",
  [python],
  () =>
    Effect.provide(
      Effect.gen(function* () {
        const uncaught = yield* uncaughtErrors
        const refused = `127.0.0.1:${yield* closedTcpPort("127.0.0.1")}`
        const hanging = `127.0.0.1:${yield* hangingTcpPort}`

        // Warm up with twice the same load, so that the baseline includes the JIT's code and the
        // heap's working size: V8 grows its heap over the first rounds and keeps those pages.
        for (let round = 0; round < 2; round++) {
          expect(yield* refusedConnects(refused, 10_000)).toBe(10_000)
          expect(yield* interruptedConnects(hanging, 10_000)).toBe(10_000)
        }

        const baseline = yield* stableResources
        const descriptors = socketDescriptors()
        const before = memory()

        expect(yield* refusedConnects(refused, 10_000)).toBe(10_000)
        yield* expectReleased(descriptors, baseline)
        expect(yield* interruptedConnects(hanging, 10_000)).toBe(10_000)
        yield* expectReleased(descriptors, baseline)

        const after = memory()
        expect(after.rss - before.rss).toBeLessThan(5 * 1024 * 1024)
        // Live JavaScript objects, more precise than RSS: a leak of one object per connect shows.
        expect(after.heapUsed - before.heapUsed).toBeLessThan(1024 * 1024)
        expect(uncaught).toEqual([])
      }),
      NodeNetwork.layer
    ),
  120_000
)

/** Counts the event-loop turns (check phases) that pass while `effect` runs. */
const countingTurns = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    let turns = 0
    let ticking = true
    const tick = () => {
      if (!ticking) return
      turns++
      setImmediate(tick)
    }
    setImmediate(tick)
    return Effect.as(
      Effect.ensuring(
        effect,
        Effect.sync(() => {
          ticking = false
        })
      ),
      undefined
    ).pipe(Effect.map(() => turns))
  })

it.live(
  "closing 2,048 connected handles that share one scope takes at most one event-loop turn",
  () =>
    Effect.provide(
      Effect.gen(function* () {
        const uncaught = yield* uncaughtErrors
        const server = yield* tcpServer("127.0.0.1")
        const count = 2048
        const scope = yield* Scope.make()
        yield* Effect.forEach(
          Array.from({ length: count }),
          () =>
            Effect.flatMap(Network.open("stream"), (handle) => handle.connect(`127.0.0.1:${server.port}`)).pipe(
              Scope.provide(scope)
            ),
          { concurrency: 64, discard: true }
        )
        const open = socketDescriptors()
        // Waiting for Node's 'close' after each destroy made this one turn per handle (2,048);
        // a finalizer per handle (about 4 run-loop steps each) made it 4 of Effect's fairness
        // yields. The handles opened one after another share one finalizer that closes them
        // synchronously: the whole close fits in one turn (it measures 0 here).
        expect(yield* countingTurns(Scope.close(scope, Exit.void))).toBeLessThanOrEqual(1)
        // Every client descriptor is closed (the server's side closes on its own, during the
        // turns above or later).
        if (open !== undefined) expect(socketDescriptors()).toBeLessThanOrEqual(open - count)
        expect(uncaught).toEqual([])
      }),
      NodeNetwork.layer
    ),
  60_000
)

it.live("handles sharing a scope still close in reverse order around the scope's other finalizers", () =>
  Effect.provide(
    Effect.gen(function* () {
      const uncaught = yield* uncaughtErrors
      const server = yield* tcpServer("127.0.0.1")
      const scope = yield* Scope.make()
      const address = `127.0.0.1:${server.port}`
      const connected = Effect.flatMap(Network.open("stream"), (handle) =>
        Effect.as(handle.connect(address), handle)
      ).pipe(Scope.provide(scope))
      const first = yield* connected
      const second = yield* connected
      const seen: Array<string> = []
      // Registered after the first two handles and before the last two: it runs after those
      // two closed (a scope runs its finalizers in reverse) and while the first two are open.
      yield* Scope.addFinalizer(
        scope,
        Effect.gen(function* () {
          for (const handle of [first, second, third, fourth]) seen.push((yield* handle.state)._tag)
        })
      )
      const third = yield* connected
      const fourth = yield* connected
      yield* Scope.close(scope, Exit.void)
      expect(seen).toEqual(["Connected", "Connected", "Closed", "Closed"])
      expect((yield* first.state)._tag).toBe("Closed")
      expect((yield* fourth.state)._tag).toBe("Closed")
      expect(uncaught).toEqual([])
    }),
    NodeNetwork.layer
  )
)

/** Counts the fiber run loop's steps: it asks the scheduler whether to yield once per step. */
class CountingScheduler extends Scheduler.MixedScheduler {
  steps = 0
  override shouldYield(fiber: Parameters<Scheduler.MixedScheduler["shouldYield"]>[0]) {
    this.steps++
    return super.shouldYield(fiber)
  }
}

/** Run-loop steps per run of `effect`, `count` runs one after another, less those of the loop itself. */
const stepsPer = <E>(effect: Effect.Effect<void, E, Network.Network>, count: number) =>
  Effect.gen(function* () {
    const each = <E2, R>(one: Effect.Effect<void, E2, R>) =>
      Effect.forEach(Array.from({ length: count }), () => one, { discard: true })
    const counting = new CountingScheduler()
    yield* Effect.provideService(each(Effect.void), Scheduler.Scheduler, counting)
    const overhead = counting.steps
    counting.steps = 0
    yield* Effect.provideService(each(effect), Scheduler.Scheduler, counting)
    return (counting.steps - overhead) / count
  })

it.live("a connect+close takes at most 10 run-loop steps, a refused connect at most 15", () =>
  Effect.provide(
    Effect.gen(function* () {
      const uncaught = yield* uncaughtErrors
      const server = yield* tcpServer("127.0.0.1")
      const closed = yield* closedTcpPort("127.0.0.1")
      const connect = (port: number) =>
        Effect.scoped(Effect.flatMap(Network.open("stream"), (handle) => handle.connect(`127.0.0.1:${port}`)))
      // The scoped floor (one Effect.callback around net.connect, one finalizer) takes 14 and 9
      // (packages/node/bench/connect.ts). Before #13's second pass dial took 19 and 25.
      expect(yield* stepsPer(connect(server.port), 50)).toBeLessThanOrEqual(10)
      const refused = Effect.flatMap(Effect.flip(connect(closed)), (error) =>
        error._tag === "ECONNREFUSED" ? Effect.void : Effect.die(error)
      )
      expect(yield* stepsPer(refused, 50)).toBeLessThanOrEqual(15)
      expect(uncaught).toEqual([])
    }),
    NodeNetwork.layer
  )
)

it.live("a connection's state is plain data: it spreads and compares with its local address", () =>
  Effect.provide(
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* tcpServer("127.0.0.1")
        const handle = yield* Network.open("stream")
        yield* handle.connect(`127.0.0.1:${server.port}`)
        const state = yield* handle.state
        if (state._tag !== "Connected") throw new Error(`expected Connected, got ${state._tag}`)
        expect({ ...state }).toEqual({ _tag: "Connected", local: state.local, peer: state.peer })
        expect(state.local._tag).toBe("Inet")
        // Read twice, the same value.
        expect(yield* handle.state).toBe(state)
      })
    ),
    NodeNetwork.layer
  )
)
