/**
 * The shared datagram receive buffer: the pending error first, then queued datagrams in order,
 * waiting receivers served as things arrive, a bound on the queue, and close failing everyone.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ConnectError, DatagramInbox } from "../src/index.ts"

const bytes = (...values: Array<number>) => new Uint8Array(values)

describe("DatagramInbox", () => {
  it.effect("queued datagrams come out in order; the pending error comes first, once", () =>
    Effect.gen(function* () {
      const inbox = DatagramInbox.make()
      inbox.push(bytes(1))
      inbox.push(bytes(2))
      inbox.fail(ConnectError.make("ECONNREFUSED", { syscall: "recv" }))
      const error = yield* Effect.flip(inbox.receive)
      expect(error._tag).toBe("ECONNREFUSED")
      expect([...(yield* inbox.receive)]).toEqual([1])
      expect([...(yield* inbox.receive)]).toEqual([2])
    })
  )

  it.effect("a waiting receiver gets the next datagram or error; an interrupted one gets nothing", () =>
    Effect.gen(function* () {
      const inbox = DatagramInbox.make()
      const gone = yield* Effect.forkChild(inbox.receive)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(gone)
      const waiting = yield* Effect.forkChild(inbox.receive)
      yield* Effect.yieldNow
      inbox.push(bytes(7))
      expect([...(yield* Fiber.join(waiting))]).toEqual([7])
      const failing = yield* Effect.forkChild(Effect.flip(inbox.receive))
      yield* Effect.yieldNow
      inbox.fail(ConnectError.make("ECONNREFUSED", { syscall: "recv" }))
      expect((yield* Fiber.join(failing))._tag).toBe("ECONNREFUSED")
    })
  )

  it.effect("beyond maxQueued datagrams are dropped, like a full socket buffer's", () =>
    Effect.gen(function* () {
      const inbox = DatagramInbox.make({ maxQueued: 2 })
      for (let i = 0; i < 5; i++) inbox.push(bytes(i))
      expect(inbox.queued).toBe(2)
      expect([...(yield* inbox.receive)]).toEqual([0])
    })
  )

  it.effect("forget drops queue and pending error; close fails waiting and later receives", () =>
    Effect.gen(function* () {
      const inbox = DatagramInbox.make()
      inbox.push(bytes(1))
      inbox.fail(ConnectError.make("ECONNREFUSED", { syscall: "recv" }))
      inbox.forget()
      expect(inbox.queued).toBe(0)
      const waiting = yield* Effect.forkChild(Effect.flip(inbox.receive))
      yield* Effect.yieldNow
      inbox.close(ConnectError.make("EBADF", { syscall: "recv" }))
      expect((yield* Fiber.join(waiting))._tag).toBe("EBADF")
      inbox.push(bytes(2))
      expect((yield* Effect.flip(inbox.receive))._tag).toBe("EBADF")
    })
  )
})
