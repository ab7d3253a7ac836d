// Runs every benchmark program and writes their output, with the date and the machine, to
// docs/benchmarks.md (which the README links). Each program prints its own figures and
// ratios; this only collects them.
//
//   bash scripts/dev.sh bench
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const programs: ReadonlyArray<{
  readonly title: string
  readonly file: string
  readonly args?: ReadonlyArray<string>
}> = [
  { title: "Connect path against raw node:net (issues 3 and 13)", file: "packages/node/bench/connect.ts" },
  { title: "What Effect's runtime costs per connect (issue 13)", file: "packages/node/bench/effect-runtime.ts" },
  { title: "Data path against raw net.Socket (issue 12)", file: "packages/node/bench/data.ts" },
  { title: "pg and ioredis through dial against native (issue 12)", file: "packages/node/bench/clients.ts" },
  {
    title: "Handles and memory after 10,000 failures and 10,000 interruptions (issue 3)",
    file: "packages/node/bench/resources.ts"
  },
  { title: "Fake connects per second (issue 4)", file: "packages/testkit/bench/fake-connects.ts" },
  {
    title: "Happy Eyeballs: time to connect with IPv6 blackholed (issue 5)",
    file: "packages/node/bench/happy-eyeballs.ts"
  },
  { title: "`dial wait` detection latency (issue 6)", file: "packages/cli/bench/wait-latency.ts", args: ["15"] },
  { title: "Parse time against input length, 1 KiB to 1 MiB (issue 10)", file: "packages/core/bench/parse.ts" }
]

const sections: Array<string> = []
for (const program of programs) {
  console.error(`bench: ${program.file}`)
  let output: string
  try {
    output = execFileSync(process.execPath, ["--expose-gc", path.join(root, program.file), ...(program.args ?? [])], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 10 * 60_000
    })
  } catch (error) {
    output = `failed: ${(error as Error).message}`
  }
  process.stdout.write(output)
  sections.push(`## ${program.title}\n\n\`${program.file}\`\n\n\`\`\`text\n${output.trimEnd()}\n\`\`\`\n`)
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU"
const header = `# Benchmarks

Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB,
Linux ${os.release()}, Node ${process.version}. Every figure below comes from one run of
\`bash scripts/dev.sh bench\`, which regenerates this page; each program runs its contenders in
the same run, in rotating rounds, so the ratios compare like with like (the connect benchmark
gives each contender a process of its own). Loopback only, or a network namespace the
benchmark creates.
`
writeFileSync(path.join(root, "docs", "benchmarks.md"), `${header}\n${sections.join("\n")}`)
console.error("bench: wrote docs/benchmarks.md")
