/**
 * Detection latency of `dial wait` against `wait-on` and `wait-port`: how long after a
 * loopback listener starts does each tool exit 0. Each run spawns the tool on a free port,
 * lets it poll for a while (so process start-up is not counted), starts the listener, and
 * times from `listen` to the tool's exit. Prints median and p90 per tool, and the ratios.
 *
 *   node packages/cli/bench/wait-latency.ts [runs=15]
 *
 * Loopback only; every tool is a process this program started and waits for.
 */
import { spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"

const runs = Math.max(3, Math.min(50, Number(process.argv[2] ?? 15)))
const settleMillis = 1500
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url))
const dialBin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

const tools: ReadonlyArray<{ readonly name: string; readonly command: (port: number) => [string, Array<string>] }> = [
  {
    name: "dial wait",
    command: (port) => [process.execPath, [dialBin, "wait", `127.0.0.1:${port}`, "--timeout", "20s"]]
  },
  { name: "wait-on", command: (port) => [bin("wait-on"), ["-t", "20000", `tcp:127.0.0.1:${port}`]] },
  { name: "wait-port", command: (port) => [bin("wait-port"), ["-t", "20000", `127.0.0.1:${port}`]] }
]

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const once = async (command: (port: number) => [string, Array<string>]): Promise<number> => {
  const port = await freePort()
  const [file, args] = command(port)
  const child = spawn(file, args, { stdio: "ignore" })
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on("close", (code) => resolve({ code, at: performance.now() }))
  )
  await new Promise((resolve) => setTimeout(resolve, settleMillis))
  const server = net.createServer((socket) => socket.destroy())
  const listening = await new Promise<number>((resolve) =>
    server.listen(port, "127.0.0.1", () => resolve(performance.now()))
  )
  const { code, at } = await exited
  server.close()
  if (code !== 0) throw new Error(`${file} exited ${code}`)
  return at - listening
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const results: Array<{ name: string; median: number; p90: number }> = []
for (const tool of tools) {
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) samples.push(await once(tool.command))
  samples.sort((a, b) => a - b)
  results.push({ name: tool.name, median: quantile(samples, 0.5), p90: quantile(samples, 0.9) })
}

const dial = results[0]!
console.log(`dial wait detection latency: listener start -> exit 0, ${runs} runs each, loopback`)
console.log("tool        median ms   p90 ms   median vs dial")
for (const r of results) {
  console.log(
    `${r.name.padEnd(12)}${r.median.toFixed(1).padStart(9)}${r.p90.toFixed(1).padStart(9)}${(r.median / dial.median).toFixed(1).padStart(12)}x`
  )
}
