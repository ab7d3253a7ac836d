/**
 * Existing clients through dial against the same clients on their own sockets, on real servers:
 * pg `SELECT 1` queries per second (one connection, one query in flight) and ioredis SET/GET
 * commands per second (one connection, one command in flight).
 *
 *   node packages/node/bench/clients.ts [--rounds 5] [--queries 5000] [--commands 10000] [--out FILE]
 *
 * The servers are the tests' (packages/node/test/helpers/servers.ts: Debian's PostgreSQL 15
 * and Redis 7 on loopback TCP, data in a temporary directory, stopped by their own pid at the
 * end). Contenders: `pg` native (`new pg.Client({ port })`), `pg` through dial (`NodeStream.open`
 * + `NodeStream.forPg`, so the client runs on the kernel socket dial connected), ioredis native,
 * ioredis through dial (`NodeStream.ioredisConnector`).
 *
 * Each contender runs in a process of its own, driven over IPC; it connects before the clock
 * starts and closes after it stops. Every round runs each contender once per client in rotating
 * order; a round's ratio pairs dial with the native client of the same round. The table reports
 * the median ratio, its spread (min..max over rounds) and CPU per operation (user+system of the
 * contender's process) against native's.
 *
 * A program, not a test.
 */
import { Network } from "@dial/core"
import { NodeNetwork, NodeStream } from "@dial/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { parseArgs } from "node:util"
import pg from "pg"
import * as Servers from "../test/helpers/servers.ts"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    queries: { type: "string", default: "5000" },
    commands: { type: "string", default: "10000" },
    out: { type: "string" },
    worker: { type: "string" }
  }
})

type Client = "pg" | "ioredis"
type Contender = "pg-native" | "pg-dial" | "ioredis-native" | "ioredis-dial"
const clientOf = (contender: Contender): Client => (contender.startsWith("pg") ? "pg" : "ioredis")
const contenders: Record<Client, ReadonlyArray<Contender>> = {
  pg: ["pg-native", "pg-dial"],
  ioredis: ["ioredis-native", "ioredis-dial"]
}

interface Result {
  readonly millis: number
  readonly cpuMicros: number
  readonly ops: number
}

interface Command {
  readonly pg: number
  readonly redis: number
}

// ---------------------------------------------------------------------------------------------
// Contenders: connect (untimed), run the loop (timed), close (untimed).
// ---------------------------------------------------------------------------------------------

const timed = async (ops: number, loop: () => Promise<void>): Promise<Result> => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  await loop()
  const millis = performance.now() - started
  const used = process.cpuUsage(cpu)
  return { millis, cpuMicros: used.user + used.system, ops }
}

const pgLoop = (client: pg.Client) => {
  const queries = Number(args.queries)
  return timed(queries, async () => {
    for (let i = 0; i < queries; i++) await client.query("SELECT 1")
  })
}

const pgNative = async (ports: Command): Promise<Result> => {
  const client = new pg.Client({ host: "127.0.0.1", port: ports.pg, user: "postgres", database: "postgres" })
  await client.connect()
  try {
    return await pgLoop(client)
  } finally {
    await client.end()
  }
}

const pgDial = async (ports: Command): Promise<Result> => {
  const socket = await Effect.runPromise(
    NodeStream.open(Network.connect(`127.0.0.1:${ports.pg}`, { noDelay: true })).pipe(Effect.provide(NodeNetwork.layer))
  )
  const client = new pg.Client({ stream: () => NodeStream.forPg(socket), user: "postgres", database: "postgres" })
  await client.connect()
  try {
    return await pgLoop(client)
  } finally {
    await client.end()
  }
}

const redisLoop = (redis: Redis) => {
  const commands = Number(args.commands)
  return timed(commands, async () => {
    for (let i = 0; i < commands; i += 2) {
      await redis.set("bench", i)
      await redis.get("bench")
    }
  })
}

const redisRun = async (redis: Redis): Promise<Result> => {
  await redis.connect()
  try {
    return await redisLoop(redis)
  } finally {
    redis.disconnect()
  }
}

const ioredisNative = (ports: Command) =>
  redisRun(new Redis({ host: "127.0.0.1", port: ports.redis, lazyConnect: true, maxRetriesPerRequest: 0 }))

const ioredisDial = (ports: Command) => {
  const Connector = NodeStream.ioredisConnector(
    Network.connect(`127.0.0.1:${ports.redis}`, { noDelay: true }).pipe(Effect.provide(NodeNetwork.layer))
  )
  return redisRun(new Redis({ Connector: Connector as never, lazyConnect: true, maxRetriesPerRequest: 0 }))
}

const runners: Record<Contender, (ports: Command) => Promise<Result>> = {
  "pg-native": pgNative,
  "pg-dial": pgDial,
  "ioredis-native": ioredisNative,
  "ioredis-dial": ioredisDial
}

// ---------------------------------------------------------------------------------------------
// Worker: one contender, commands over IPC.
// ---------------------------------------------------------------------------------------------

if (args.worker !== undefined) {
  const run = runners[args.worker as Contender]
  process.on("message", (ports: Command) => {
    run(ports).then(
      (result) => process.send!(result),
      (error) => process.send!({ error: String(error) })
    )
  })
} else {
  await main()
}

async function main() {
  const missing = [Servers.postgresBinaries, Servers.redisBinary].map((r) => r.missing()).filter((m) => m !== undefined)
  if (missing.length > 0) {
    console.error(`cannot run: ${missing.join("; ")}`)
    process.exit(1)
  }
  const scope = await Effect.runPromise(Scope.make())
  try {
    const [postgres, redis] = await Effect.runPromise(
      Scope.provide(Effect.all([Servers.postgres, Servers.redis]), scope)
    )
    await measure({ pg: postgres.port, redis: redis.port })
  } finally {
    // Stops both servers by their pids and removes their directories.
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

async function measure(ports: Command) {
  const all = [...contenders.pg, ...contenders.ioredis]
  const self = new URL(import.meta.url).pathname
  const forward = ["--queries", String(args.queries), "--commands", String(args.commands)]
  const workers = new Map(all.map((name) => [name, ChildProcess.fork(self, ["--worker", name, ...forward])]))
  const ask = (name: Contender) =>
    new Promise<Result>((resolve, reject) => {
      const worker = workers.get(name)!
      worker.once("message", (message: Result | { error: string }) =>
        "error" in message ? reject(new Error(`${name}: ${message.error}`)) : resolve(message)
      )
      worker.send(ports)
    })
  const rounds = Number(args.rounds)
  const results = new Map<Contender, Array<Result>>()
  try {
    for (const name of all) await ask(name) // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const client of ["pg", "ioredis"] as const) {
        const list = contenders[client]
        for (let i = 0; i < list.length; i++) {
          const name = list[(i + round) % list.length]!
          const mine = results.get(name) ?? []
          mine.push(await ask(name))
          results.set(name, mine)
        }
      }
      console.error(`round ${round + 1}/${rounds} done`)
    }
  } finally {
    for (const worker of workers.values()) worker.kill()
  }

  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const rate = (r: Result) => r.ops / (r.millis / 1000)
  const lines = [
    `Clients, ${new Date().toISOString().slice(0, 10)}, ${Os.cpus().length} vCPU ${Os.cpus()[0]?.model ?? ""}, Node ${process.versions.node}, load ${Os.loadavg()
      .map((l) => l.toFixed(2))
      .join(
        " "
      )}; ${rounds} rounds, ${args.queries} pg queries, ${args.commands} ioredis commands per run; PostgreSQL 15 and Redis 7 on loopback TCP.`,
    "",
    "| client | contender | ops/s (median) | ops/s vs native: median (min..max) | CPU/op vs native: median (min..max) |",
    "|---|---|---:|---|---|"
  ]
  for (const client of ["pg", "ioredis"] as const) {
    const native = results.get(contenders[client][0]!)!
    for (const name of contenders[client]) {
      const mine = results.get(name)!
      const ratios = mine.map((r, i) => rate(r) / rate(native[i]!))
      const cpu = mine.map((r, i) => r.cpuMicros / r.ops / (native[i]!.cpuMicros / native[i]!.ops))
      const spread = (xs: ReadonlyArray<number>) =>
        `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)})`
      lines.push(
        `| ${clientOf(name)} | ${name} | ${Math.round(median(mine.map(rate)))} | ${spread(ratios)} | ${spread(cpu)} |`
      )
    }
  }
  const table = lines.join("\n")
  console.log(table)
  if (args.out !== undefined) Fs.writeFileSync(args.out, `${table}\n`)
}
