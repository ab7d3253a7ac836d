// Start-up cost of one `dial probe`, from the installed tarball, against wait-on in the same run.
//
//   node packages/cli/bench/startup.ts [rounds]
//
// Packs and installs the packages into a project under the temp directory (as a user gets
// them), then, for `rounds` rounds in rotating order, runs each contender once as its own
// process and times it from spawn to exit:
//   - dial (installed, bundled bin): probe of a closed loopback port (ECONNREFUSED, exit 1)
//   - dial (installed): probe of an open loopback port (exit 0)
//   - dial (workspace sources, unbundled, type-stripped): the same closed-port probe
//   - wait-on: tcp check of the open port (it exits 0 once the port accepts)
// Prints the median, p10 and p90 wall time, the median CPU (user+sys, from /usr/bin/time when
// present) and each contender's median ratio to dial's closed-port probe, paired per round.
// Connects go only to loopback ports this program opened.
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { install, pack, root } from "../../../scripts/consumer.ts"

const rounds = Number(process.argv[2] ?? 40)
const work = mkdtempSync(path.join(os.tmpdir(), "dial-startup-"))
const app = path.join(work, "app")
install(app, pack(path.join(work, "tarballs")))

const server = net.createServer((socket) => socket.end())
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
const open = (server.address() as net.AddressInfo).port
const closing = net.createServer()
await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", () => resolve()))
const closed = (closing.address() as net.AddressInfo).port
await new Promise<void>((resolve) => closing.close(() => resolve()))

const dial = path.join(app, "node_modules", ".bin", "dial")
const waitOn = path.join(root, "packages", "cli", "node_modules", ".bin", "wait-on")
const timeBin = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined

interface Contender {
  readonly name: string
  readonly command: ReadonlyArray<string>
  readonly expect: number
}
const contenders: ReadonlyArray<Contender> = [
  { name: "dial probe (installed), closed port", command: [dial, "probe", `127.0.0.1:${closed}`], expect: 1 },
  { name: "dial probe (installed), open port", command: [dial, "probe", `127.0.0.1:${open}`], expect: 0 },
  {
    name: "dial probe (workspace src, unbundled)",
    command: [process.execPath, path.join(root, "packages", "cli", "src", "bin.ts"), "probe", `127.0.0.1:${closed}`],
    expect: 1
  },
  { name: "wait-on tcp, open port", command: [waitOn, "-t", "5000", `tcp:127.0.0.1:${open}`], expect: 0 }
]

// The server must keep answering while the children run: spawn asynchronously per run.
const runOnce = (contender: Contender): Promise<{ wallMs: number; cpuMs: number | undefined }> =>
  new Promise((resolve, reject) => {
    const [command, ...args] = timeBin ? [timeBin, "-f", "%U %S", ...contender.command] : contender.command
    const started = process.hrtime.bigint()
    {
      const child = spawn(command!, args, { stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
      })
      child.on("error", reject)
      child.on("close", (code) => {
        const wallMs = Number(process.hrtime.bigint() - started) / 1e6
        if (code !== contender.expect) return reject(new Error(`${contender.name}: exit ${code}\n${stderr}`))
        const times = timeBin ? /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(stderr) : null
        resolve({ wallMs, cpuMs: times ? (Number(times[1]) + Number(times[2])) * 1000 : undefined })
      })
    }
  })

const wall: Array<Array<number>> = contenders.map(() => [])
const cpu: Array<Array<number>> = contenders.map(() => [])
for (const contender of contenders) await runOnce(contender) // warm the page cache
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < contenders.length; k++) {
    const i = (round + k) % contenders.length
    const result = await runOnce(contenders[i]!)
    wall[i]!.push(result.wallMs)
    if (result.cpuMs !== undefined) cpu[i]!.push(result.cpuMs)
  }
}
server.close()
rmSync(work, { recursive: true, force: true })

const quantile = (values: ReadonlyArray<number>, q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}
console.log(
  `startup, ${rounds} rounds, rotating order, node ${process.versions.node}, ${os.cpus().length} CPUs (shared)`
)
console.log("| contender | median ms | p10–p90 ms | CPU ms (median) | ratio to dial closed-port (median, p10–p90) |")
console.log("|---|---|---|---|---|")
contenders.forEach((contender, i) => {
  const ratios = wall[i]!.map((ms, round) => ms / wall[0]![round]!)
  const cpuText = cpu[i]!.length > 0 ? quantile(cpu[i]!, 0.5).toFixed(0) : "n/a"
  console.log(
    `| ${contender.name} | ${quantile(wall[i]!, 0.5).toFixed(1)} | ${quantile(wall[i]!, 0.1).toFixed(1)}–${quantile(wall[i]!, 0.9).toFixed(1)} | ${cpuText} | ${quantile(ratios, 0.5).toFixed(2)} (${quantile(ratios, 0.1).toFixed(2)}–${quantile(ratios, 0.9).toFixed(2)}) |`
  )
})
