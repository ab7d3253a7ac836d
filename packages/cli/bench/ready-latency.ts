/**
 * Readiness detection against the servers' own tools: how long after a server starts to come
 * back (PostgreSQL after a crash, Redis reloading its dump) each waiting tool exits, and
 * whether the server answered a real query at that moment (an "early" exit is a wrong answer).
 *
 *   node packages/cli/bench/ready-latency.ts [rounds=5]
 *
 * Contenders, each in its own process, in rotating order per round:
 * - postgres: `dial wait --ready postgres`; a shell loop over `pg_isready` (50 ms pause);
 *   plain `dial wait` (TCP only, the early exit).
 * - redis: `dial wait --ready redis`; a loop until `redis-cli ping` prints PONG; a loop on
 *   `redis-cli ping`'s exit code (which is 0 on -LOADING); plain `dial wait`.
 *
 * Prints, per contender: the lag from the moment the server logged that it is ready (its own
 * log line, millisecond timestamps) to the tool's exit (negative: the tool exited before the
 * server was ready), the time from the crash or restart to the exit, early exits (a real query
 * at the tool's exit failed), CPU (user+sys) of the contender's process tree per run, and the
 * paired ratio (same round) of exit times against the server's own tool. A `dial` process
 * starts Node and loads its sources, a cost pg_isready and redis-cli do not pay: the not-ready
 * windows here (seconds) are longer than that start, so the lag measures detection. Loopback and temporary directories only; every server and tool is a
 * process this program started, stopped by its pid.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { postgres, redis, run } from "../test/helpers/servers.ts"

const rounds = Math.max(1, Math.min(20, Number(process.argv[2] ?? 5)))
const dialBin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const dialCmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(dialBin)}`

interface Contender {
  readonly name: string
  readonly script: (port: number) => string
}

interface Sample {
  readonly ms: number
  readonly lagMs: number
  readonly cpuMs: number
  readonly early: boolean
}

/** Runs a shell script; resolves with its exit time and its children's CPU (bash `times`). */
const timed = (script: string, startedAt: number): Promise<{ ms: number; cpuMs: number; exitedAt: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `${script}\nstatus=$?\ntimes >&2\nexit $status`], {
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = performance.now() - startedAt
      const exitedAt = Date.now()
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${stderr}`))
      // `times` prints the shell's user/sys, then its children's: "0m0.123s 0m0.045s".
      const lines = stderr.trim().split("\n").slice(-2)
      const seconds = (lines[1] ?? "")
        .split(/\s+/)
        .map((field) => /(\d+)m([\d.]+)s/.exec(field))
        .filter((m) => m !== null)
        .reduce((sum, m) => sum + Number(m![1]) * 60 + Number(m![2]), 0)
      resolve({ ms, cpuMs: seconds * 1000, exitedAt })
    })
  })

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const report = (
  title: string,
  contenders: ReadonlyArray<Contender>,
  samples: Map<string, Array<Sample>>,
  base: string
) => {
  console.log(`\n## ${title} (${rounds} rounds)\n`)
  console.log(
    `| contender | lag after server ready, median (min..max) ms | exit after crash/restart, median (min..max) ms | early exits | CPU/run (ms) | exit time ratio vs ${base}, paired (median, min..max) |`
  )
  console.log("|---|---|---|---|---|---|")
  const baseSamples = samples.get(base)!
  for (const contender of contenders) {
    const mine = samples.get(contender.name)!
    const times = mine.map((s) => s.ms)
    const lags = mine.map((s) => s.lagMs)
    const ratios = mine.map((s, i) => s.ms / baseSamples[i]!.ms)
    console.log(
      `| ${contender.name} | ${median(lags).toFixed(0)} (${Math.min(...lags).toFixed(0)}..${Math.max(...lags).toFixed(0)}) | ${median(times).toFixed(0)} (${Math.min(...times).toFixed(0)}..${Math.max(...times).toFixed(0)}) | ${mine.filter((s) => s.early).length}/${mine.length} | ${median(mine.map((s) => s.cpuMs)).toFixed(0)} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}) |`
    )
  }
}

/** The time of the server's own log line saying it is ready (the machine's clock, UTC). */
const logTime = (log: string, line: RegExp, parse: (text: string) => number): number => {
  const match = line.exec(log)
  if (match === null) throw new Error(`no ready line in the server log:\n${log.slice(-2000)}`)
  const at = parse(match[1]!)
  if (Number.isNaN(at)) throw new Error(`cannot read the time ${match[1]}`)
  return at
}

const rotate = <A>(xs: ReadonlyArray<A>, by: number): ReadonlyArray<A> => xs.map((_, i) => xs[(i + by) % xs.length]!)

const benchPostgres = async () => {
  const pg = await postgres(["checkpoint_timeout=1h", "max_wal_size=8GB"])
  const contenders: ReadonlyArray<Contender> = [
    {
      name: "dial wait --ready postgres",
      script: (p) => `${dialCmd} wait 127.0.0.1:${p} --ready postgres --timeout 60s`
    },
    {
      name: "pg_isready loop",
      script: (p) => `until pg_isready -q -h 127.0.0.1 -p ${p}; do sleep 0.05; done`
    },
    { name: "dial wait (TCP only)", script: (p) => `${dialCmd} wait 127.0.0.1:${p} --timeout 60s` }
  ]
  const samples = new Map(contenders.map((c) => [c.name, [] as Array<Sample>]))
  try {
    for (let round = 0; round < rounds; round++) {
      for (const contender of rotate(contenders, round)) {
        // WAL to replay: a fresh table each time, no checkpoint since.
        const load = pg.psql(
          "drop table if exists t; create table t as select g, md5(g::text) m from generate_series(1, 2000000) g"
        )
        if (load.status !== 0) throw new Error(load.stderr)
        const checkpointer = Number(
          pg.psql("select pid from pg_stat_activity where backend_type = 'checkpointer'").stdout.trim()
        )
        const logFrom = pg.server().log().length
        const startedAt = performance.now()
        process.kill(checkpointer, "SIGKILL")
        const { ms, cpuMs, exitedAt } = await timed(contender.script(pg.port), startedAt)
        const early = pg.psql("select 1").status !== 0
        // Let recovery finish before the next contender's round.
        while (pg.psql("select 1").status !== 0) await new Promise((r) => setTimeout(r, 50))
        const readyAt = logTime(
          pg.server().log().slice(logFrom),
          /^(\S+ \S+) UTC .*database system is ready to accept connections/m,
          (t) => Date.parse(`${t.replace(" ", "T")}Z`)
        )
        samples.get(contender.name)!.push({ ms, cpuMs, early, lagMs: exitedAt - readyAt })
      }
    }
  } finally {
    await pg.stop()
  }
  report(
    "PostgreSQL crash recovery (kill -9 of the checkpointer after 2M rows of WAL)",
    contenders,
    samples,
    "pg_isready loop"
  )
}

const benchRedis = async () => {
  const rd = await redis()
  const contenders: ReadonlyArray<Contender> = [
    { name: "dial wait --ready redis", script: (p) => `${dialCmd} wait 127.0.0.1:${p} --ready redis --timeout 60s` },
    {
      name: "redis-cli ping = PONG loop",
      script: (p) => `until [ "$(redis-cli -p ${p} ping 2>/dev/null)" = PONG ]; do sleep 0.05; done`
    },
    {
      name: "redis-cli ping exit-code loop",
      script: (p) => `until redis-cli -p ${p} ping >/dev/null 2>&1; do sleep 0.05; done`
    },
    { name: "dial wait (TCP only)", script: (p) => `${dialCmd} wait 127.0.0.1:${p} --timeout 60s` }
  ]
  const samples = new Map(contenders.map((c) => [c.name, [] as Array<Sample>]))
  try {
    if (rd.cli("debug", "populate", "1500000").stdout.trim() !== "OK") throw new Error("populate failed")
    if (rd.cli("save").stdout.trim() !== "OK") throw new Error("save failed")
    for (let round = 0; round < rounds; round++) {
      for (const contender of rotate(contenders, round)) {
        await rd.server().stop()
        const logFrom = rd.server().log().length
        const startedAt = performance.now()
        rd.start()
        const { ms, cpuMs, exitedAt } = await timed(contender.script(rd.port), startedAt)
        const early = run("redis-cli", ["-p", String(rd.port), "get", "key:1"]).stdout.trim() !== "value:1"
        while (rd.cli("ping").stdout.trim() !== "PONG") await new Promise((r) => setTimeout(r, 50))
        // "12345:M 02 Dec 2026 00:06:35.123 * DB loaded from disk: 2.100 seconds"
        const readyAt = logTime(
          rd.server().log().slice(logFrom),
          /^\d+:M (\d\d \w{3} \d{4} [\d:.]+) \* DB loaded from disk/m,
          (t) => Date.parse(`${t.replace(/^(\d\d) (\w{3}) (\d{4}) /, "$2 $1 $3 ")} UTC`)
        )
        samples.get(contender.name)!.push({ ms, cpuMs, early, lagMs: exitedAt - readyAt })
      }
    }
  } finally {
    await rd.stop()
  }
  report("Redis restart loading 1.5M keys (about 50 MB of RDB)", contenders, samples, "redis-cli ping = PONG loop")
}

console.log(`# Readiness detection, ${new Date().toISOString()}, node ${process.version}`)
console.log("Times are from the start of recovery/restart to the tool's exit. Shared 2-core machine: expect noise.")
await benchPostgres()
await benchRedis()
