/**
 * The socket types Node cannot make, through the native path, against the real kernel: unix
 * datagram (connect, re-connect, dissolve, send, receive) and SOCK_SEQPACKET (message
 * boundaries, half-close), with their errnos provoked for real.
 */
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Socket from "effect/socket/Socket"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  childFixture,
  kernelTest,
  parseChild,
  python,
  pythonHelper,
  root,
  run,
  summary,
  tempDir,
  unixServer
} from "./helpers/kernel.ts"
import { boundUnix, seqpacketEcho, unixDatagramEcho, unixDatagramSink } from "./helpers/native.ts"

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeNetwork.layer)
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const bytes = (value: string) => new TextEncoder().encode(value)

describe("unix datagram", () => {
  kernelTest("connect, send, receive; the socket has an autobound abstract name the peer answers", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = yield* unixDatagramEcho()
        const handle = yield* Network.open("datagram")
        yield* handle.connect(`unix:${path}`)
        const state = yield* handle.state
        expect(state._tag).toBe("Connected")
        const local = Option.getOrThrow(yield* handle.localAddress)
        expect(local._tag).toBe("UnixAbstract")
        expect(SockAddr.format(Option.getOrThrow(yield* handle.peerAddress))).toBe(`unix:${path}`)
        yield* handle.send(bytes("one"))
        yield* handle.send(bytes("two"))
        expect(text(yield* handle.receive)).toBe("echo:one")
        expect(text(yield* handle.receive)).toBe("echo:two")
      })
    )
  )

  kernelTest("re-connect changes the peer; connect(unspec) dissolves the association", [python], () =>
    provide(
      Effect.gen(function* () {
        const first = yield* unixDatagramEcho("first:")
        const second = yield* unixDatagramEcho("second:")
        const handle = yield* Network.open("datagram")
        yield* handle.connect(`unix:${first}`)
        yield* handle.send(bytes("a"))
        expect(text(yield* handle.receive)).toBe("first:a")
        const local = yield* handle.localAddress
        yield* handle.connect(`unix:${second}`)
        yield* handle.send(bytes("b"))
        expect(text(yield* handle.receive)).toBe("second:b")
        // The same kernel socket: its name did not change.
        expect(yield* handle.localAddress).toEqual(local)
        yield* handle.connect(SockAddr.unspec)
        expect((yield* handle.state)._tag).toBe("Idle")
        expect(summary(yield* Effect.flip(handle.send(bytes("c"))))).toMatchObject({ _tag: "ENOTCONN" })
        // And it connects again afterwards.
        yield* handle.connect(`unix:${first}`)
        yield* handle.send(bytes("d"))
        expect(text(yield* handle.receive)).toBe("first:d")
      })
    )
  )

  kernelTest("an abstract peer", [python], () =>
    provide(
      Effect.gen(function* () {
        const name = `dial-native-${process.pid}-${Date.now()}`
        yield* pythonHelper(
          `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + sys.argv[1])
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(b"abstract:" + data, addr)`,
          [name]
        )
        const handle = yield* Network.open("datagram")
        yield* handle.connect(`unix:@${name}`)
        yield* handle.send(bytes("x"))
        expect(text(yield* handle.receive)).toBe("abstract:x")
      })
    )
  )

  kernelTest("ENOENT: a path that does not exist; the handle connects afterwards", [python], () =>
    provide(
      Effect.gen(function* () {
        const missing = `unix:${Path.join(yield* tempDir, "missing.sock")}`
        const handle = yield* Network.open("datagram")
        expect(summary(yield* Effect.flip(handle.connect(missing)))).toMatchObject({
          _tag: "ENOENT",
          errno: 2,
          syscall: "connect",
          address: missing
        })
        const path = yield* unixDatagramEcho()
        yield* handle.connect(`unix:${path}`)
        yield* handle.send(bytes("after"))
        expect(text(yield* handle.receive)).toBe("echo:after")
      })
    )
  )

  kernelTest("ECONNREFUSED: a stale socket file; and a send after the peer closed", [python], () =>
    provide(
      Effect.gen(function* () {
        const stale = Path.join(yield* tempDir, "stale.sock")
        yield* run("python3", [
          "-c",
          "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])",
          stale
        ])
        expect(Fs.statSync(stale).isSocket()).toBe(true)
        const handle = yield* Network.open("datagram")
        expect(summary(yield* Effect.flip(handle.connect(`unix:${stale}`)))).toMatchObject({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "connect",
          address: `unix:${stale}`
        })
        // A peer that goes away after the connect: the next send is refused.
        const gone = yield* Effect.scoped(
          Effect.gen(function* () {
            const path = yield* unixDatagramSink
            yield* handle.connect(`unix:${path}`)
            return path
          })
        )
        expect(summary(yield* Effect.flip(handle.send(bytes("anyone?"))))).toMatchObject({
          _tag: "ECONNREFUSED",
          errno: 111,
          syscall: "send",
          address: `unix:${gone}`
        })
      })
    )
  )

  kernelTest("EPROTOTYPE: a datagram connect to a path bound by a stream listener", [], () =>
    provide(
      Effect.gen(function* () {
        const path = Path.join(yield* tempDir, "stream.sock")
        yield* unixServer(path)
        const handle = yield* Network.open("datagram")
        expect(summary(yield* Effect.flip(handle.connect(`unix:${path}`)))).toMatchObject({
          _tag: "EPROTOTYPE",
          errno: 91,
          syscall: "connect",
          address: `unix:${path}`
        })
      })
    )
  )

  kernelTest("EAGAIN: send to a peer whose receive queue is full (bounded)", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = yield* unixDatagramSink
        const handle = yield* Network.open("datagram")
        yield* handle.connect(`unix:${path}`)
        let sent = 0
        let refused: unknown
        const payload = new Uint8Array(1024)
        for (; sent < 20_000 && refused === undefined; sent++) {
          const result = yield* Effect.result(handle.send(payload))
          if (result._tag === "Failure") refused = result.failure
        }
        expect(sent).toBeGreaterThan(1)
        expect(summary(refused)).toMatchObject({ _tag: "EAGAIN", errno: 11, syscall: "send", address: `unix:${path}` })
      })
    )
  )

  kernelTest(
    "EACCES: a datagram socket without write permission, client as uid 65534",
    [root, python],
    () =>
      Effect.gen(function* () {
        const path = yield* unixDatagramSink
        Fs.chmodSync(path, 0o600)
        const spec = JSON.stringify({ connects: [{ address: `unix:${path}`, type: "datagram", send: "x" }] })
        const asNobody = parseChild(yield* run(process.execPath, [childFixture, spec], { uid: 65534, gid: 65534 }))
        expect(asNobody).toEqual([
          {
            ok: false,
            error: expect.objectContaining({ _tag: "EACCES", errno: 13, syscall: "connect", address: `unix:${path}` })
          }
        ])
        const asRoot = parseChild(yield* run(process.execPath, [childFixture, spec]))
        expect(asRoot).toEqual([{ ok: true, local: expect.stringMatching(/^unix:@/), peer: `unix:${path}` }])
      }),
    20_000
  )

  kernelTest("a receive waiting when the scope closes fails with EBADF", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = yield* unixDatagramSink
        const waiting = yield* Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* Network.open("datagram")
            yield* handle.connect(`unix:${path}`)
            const fiber = yield* Effect.forkDetach(Effect.flip(handle.receive), { startImmediately: true })
            yield* Effect.sleep("20 millis")
            return fiber
          })
        )
        expect(summary(yield* Fiber.join(waiting))).toMatchObject({ _tag: "EBADF", syscall: "recv" })
      })
    )
  )

  kernelTest(
    "2,000 sockets waiting at once on the main loop, each answered",
    [python],
    () =>
      provide(
        Effect.gen(function* () {
          const path = yield* unixDatagramEcho()
          const handles = yield* Effect.forEach(Array.from({ length: 2000 }), () => Network.open("datagram"))
          yield* Effect.forEach(handles, (handle) => handle.connect(`unix:${path}`), { discard: true })
          // Every receive waits first: 2,000 descriptors polled by libuv, no thread among them.
          const receivers = yield* Effect.forEach(handles, (handle) =>
            Effect.forkChild(handle.receive, { startImmediately: true })
          )
          // One echo server's queue holds far fewer than 2,000 datagrams: a full queue is the
          // kernel's EAGAIN, retried as a user would.
          yield* Effect.forEach(
            handles,
            (handle, i) =>
              handle
                .send(bytes(String(i)))
                .pipe(
                  Effect.retry({ while: (e) => e._tag === "EAGAIN", schedule: Schedule.spaced("2 millis"), times: 500 })
                ),
            { discard: true }
          )
          const answers = yield* Fiber.joinAll(receivers)
          expect(answers.map(text)).toEqual(handles.map((_, i) => `echo:${i}`))
        })
      ),
    30_000
  )
})

describe("SOCK_SEQPACKET", () => {
  const reply = (socket: Socket.Socket, messages: ReadonlyArray<string>, expected: number) =>
    Effect.scoped(
      Effect.gen(function* () {
        const reader = yield* socket.reader
        const writer = yield* socket.writer
        for (const message of messages) yield* writer.write(bytes(message))
        const got: Array<string> = []
        while (got.length < expected) for (const chunk of yield* reader.pull) got.push(text(chunk as Uint8Array))
        return { got, reader, writer }
      })
    )

  kernelTest("connect; each write is one message and each message arrives whole", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = Path.join(yield* tempDir, "seq.sock")
        yield* seqpacketEcho(path)
        const handle = yield* Network.open("seqpacket")
        yield* handle.connect(`unix:${path}`)
        expect((yield* handle.state)._tag).toBe("Connected")
        const socket = yield* handle.socket
        const { got } = yield* reply(socket, ["a", "bb", "ccc", "x".repeat(100_000)], 4)
        // A byte stream would have merged them; seqpacket keeps every boundary.
        expect(got.map((m) => m.length)).toEqual([1, 2, 3, 100_000])
        expect(got.slice(0, 3)).toEqual(["a", "bb", "ccc"])
        expect(summary(yield* Effect.flip(handle.connect(`unix:${path}`)))).toMatchObject({ _tag: "EISCONN" })
      })
    )
  )

  kernelTest("half-close: the peer reads the end and can still answer; then the reader ends", [python], () =>
    provide(
      Effect.gen(function* () {
        const name = `dial-seq-${process.pid}-${Date.now()}`
        yield* seqpacketEcho(`@${name}`)
        const handle = yield* Network.open("seqpacket")
        yield* handle.connect(`unix:@${name}`)
        const socket = yield* handle.socket
        const outcome = yield* Effect.scoped(
          Effect.gen(function* () {
            const reader = yield* socket.reader
            const writer = yield* socket.writer
            yield* writer.write(bytes("last"))
            yield* writer.write(new Socket.CloseEvent())
            const got: Array<string> = []
            const end = yield* Effect.flip(
              Effect.forever(
                Effect.map(reader.pull, (chunks) => {
                  for (const chunk of chunks) got.push(text(chunk as Uint8Array))
                })
              )
            )
            return { got, end }
          })
        )
        expect(outcome.got).toEqual(["last", "bye"])
        expect(outcome.end.reason._tag).toBe("SocketCloseError")
      })
    )
  )

  kernelTest(
    "errnos: ENOENT, ECONNREFUSED (stale), EPROTOTYPE (a datagram socket there), EAGAIN (backlog full)",
    [python],
    () =>
      provide(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const failure = (address: string) =>
            Effect.flip(Effect.flatMap(Network.open("seqpacket"), (handle) => handle.connect(address)))
          const missing = `unix:${Path.join(dir, "missing.sock")}`
          expect(summary(yield* failure(missing))).toMatchObject({ _tag: "ENOENT", errno: 2, address: missing })
          const stale = Path.join(dir, "stale.sock")
          yield* run("python3", [
            "-c",
            "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])",
            stale
          ])
          expect(summary(yield* failure(`unix:${stale}`))).toMatchObject({ _tag: "ECONNREFUSED", errno: 111 })
          const datagram = yield* boundUnix("datagram")
          expect(summary(yield* failure(`unix:${datagram}`))).toMatchObject({
            _tag: "EPROTOTYPE",
            errno: 91,
            syscall: "connect",
            address: `unix:${datagram}`
          })
          // listen(1), never accepting: bounded attempts until the backlog is full.
          const busy = yield* boundUnix("seqpacket")
          let refused: unknown
          for (let attempt = 0; attempt < 8 && refused === undefined; attempt++) {
            const handle = yield* Network.open("seqpacket")
            const result = yield* Effect.result(handle.connect(`unix:${busy}`))
            if (result._tag === "Failure") refused = result.failure
          }
          expect(summary(refused)).toMatchObject({
            _tag: "EAGAIN",
            errno: 11,
            syscall: "connect",
            address: `unix:${busy}`
          })
        })
      )
  )

  kernelTest("a stream connect to a seqpacket listener is EPROTOTYPE", [python], () =>
    provide(
      Effect.gen(function* () {
        const path = yield* boundUnix("seqpacket")
        const handle = yield* Network.open("stream")
        expect(summary(yield* Effect.flip(handle.connect(`unix:${path}`)))).toMatchObject({
          _tag: "EPROTOTYPE",
          errno: 91
        })
      })
    )
  )
})

kernelTest(
  "DIAL_NATIVE=off: unix datagram and seqpacket are a typed Unsupported; everything else still works",
  [],
  () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const stream = Path.join(dir, "stream.sock")
      yield* unixServer(stream)
      const spec = JSON.stringify({
        connects: [
          { address: `unix:${Path.join(dir, "d.sock")}`, type: "datagram", send: "x" },
          { address: `unix:${Path.join(dir, "s.sock")}`, type: "seqpacket" },
          { address: `unix:${stream}` }
        ]
      })
      const off = parseChild(
        yield* run(process.execPath, [childFixture, spec], { env: { ...process.env, DIAL_NATIVE: "off" } })
      )
      expect(off).toEqual([
        {
          ok: false,
          error: { _tag: "Unsupported", message: "unix datagram sockets (DIAL_NATIVE=off) is not supported on node" }
        },
        {
          ok: false,
          error: { _tag: "Unsupported", message: "seqpacket sockets (DIAL_NATIVE=off) is not supported on node" }
        },
        { ok: true, local: "unspec", peer: `unix:${stream}` }
      ])
      // The same spec with the native path: the kernel's own answers.
      const on = parseChild(yield* run(process.execPath, [childFixture, spec]))
      expect(on.map((result) => (result.ok ? "ok" : result.error._tag))).toEqual(["ENOENT", "ENOENT", "ok"])
    }),
  20_000
)
