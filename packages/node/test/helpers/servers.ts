/**
 * Real database servers from Debian's packages, started by the tests on loopback TCP (a free
 * port) and a unix socket in a temporary directory, and stopped by their own pid. Each can be
 * killed and started again on the same port and path, for reconnect tests.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { closedTcpPort, type Requirement } from "./kernel.ts"

const pgBin = "/usr/lib/postgresql/15/bin"
const nobody = 65534

const exists = (path: string) => Fs.existsSync(path)
const onPath = (name: string) =>
  ChildProcess.spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0

export const postgresBinaries: Requirement = {
  missing: () =>
    exists(`${pgBin}/postgres`) && exists(`${pgBin}/initdb`)
      ? undefined
      : `needs PostgreSQL 15 (${pgBin}/postgres; Debian package postgresql)`
}
export const redisBinary: Requirement = {
  missing: () => (onPath("redis-server") ? undefined : "needs redis-server (Debian package redis-server)")
}
export const mariadbBinary: Requirement = {
  missing: () => (onPath("mariadbd") ? undefined : "needs mariadbd (Debian package mariadb-server)")
}

export interface Server {
  readonly port: number
  readonly dir: string
  /** The unix socket the server listens on. */
  readonly socketPath: string
  /** Starts the server and waits until it accepts on its port. */
  readonly start: Effect.Effect<void>
  /** Kills the server by its pid (the signal it dies of) and waits for it to exit. */
  readonly kill: Effect.Effect<void>
}

/** Waits (bounded: 15 s) until something accepts on the port. */
const awaitPort = (port: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const deadline = Date.now() + 15_000
    const attempt = () => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      socket.once("connect", () => {
        socket.destroy()
        resume(Effect.void)
      })
      socket.once("error", () => {
        socket.destroy()
        if (Date.now() > deadline) resume(Effect.die(new Error(`nothing accepted on port ${port} within 15 s`)))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })

const makeServer = (options: {
  readonly port: number
  readonly dir: string
  readonly socketPath: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly uid?: number | undefined
  readonly signal: NodeJS.Signals
}): Effect.Effect<Server, never, Scope.Scope> => {
  let child: ChildProcess.ChildProcess | undefined
  const kill = Effect.callback<void>((resume) => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return resume(Effect.void)
    running.once("exit", () => resume(Effect.void))
    // By its own pid, never by name.
    process.kill(running.pid!, options.signal)
  })
  const start = Effect.suspend(() => {
    const log = Fs.openSync(Path.join(options.dir, `${Path.basename(options.command)}.log`), "a")
    child = ChildProcess.spawn(options.command, [...options.args], {
      stdio: ["ignore", log, log],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid })
    })
    Fs.closeSync(log)
    return awaitPort(options.port)
  })
  const server: Server = { port: options.port, dir: options.dir, socketPath: options.socketPath, start, kill }
  return Effect.as(
    Effect.acquireRelease(start, () => kill),
    server
  )
}

const tempDirFor = (uid: number | undefined): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dial-db-"))
      if (uid !== undefined) Fs.chownSync(dir, uid, uid)
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/**
 * PostgreSQL 15, trust authentication, user `postgres`. It refuses to run as root: as root it
 * runs as nobody, in a directory owned by nobody. Killed with SIGQUIT (immediate shutdown:
 * every backend dies at once, nothing is flushed), which lets it start again at once.
 */
export const postgres: Effect.Effect<Server, never, Scope.Scope> = Effect.gen(function* () {
  const uid = process.getuid?.() === 0 ? nobody : undefined
  const dir = yield* tempDirFor(uid)
  const port = yield* closedTcpPort("127.0.0.1")
  const data = Path.join(dir, "data")
  const init = ChildProcess.spawnSync(`${pgBin}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], {
    stdio: "ignore",
    ...(uid === undefined ? {} : { uid, gid: uid })
  })
  if (init.status !== 0) return yield* Effect.die(new Error(`initdb failed (${init.status})`))
  return yield* makeServer({
    port,
    dir,
    socketPath: Path.join(dir, `.s.PGSQL.${port}`),
    command: `${pgBin}/postgres`,
    args: ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
    uid,
    signal: "SIGQUIT"
  })
})

/** Redis 7, no persistence; killed with SIGKILL. */
export const redis: Effect.Effect<Server, never, Scope.Scope> = Effect.gen(function* () {
  const dir = yield* tempDirFor(undefined)
  const port = yield* closedTcpPort("127.0.0.1")
  const socketPath = Path.join(dir, "redis.sock")
  return yield* makeServer({
    port,
    dir,
    socketPath,
    command: "redis-server",
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--unixsocket",
      socketPath,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir
    ],
    signal: "SIGKILL"
  })
})

/**
 * MariaDB with an empty data directory and `--skip-grant-tables` (any user logs in; no
 * `mariadb-install-db`, which takes seconds); killed with SIGKILL.
 */
export const mariadb: Effect.Effect<Server, never, Scope.Scope> = Effect.gen(function* () {
  const dir = yield* tempDirFor(undefined)
  const port = yield* closedTcpPort("127.0.0.1")
  const socketPath = Path.join(dir, "mysqld.sock")
  const data = Path.join(dir, "data")
  Fs.mkdirSync(data)
  return yield* makeServer({
    port,
    dir,
    socketPath,
    command: "mariadbd",
    args: [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socketPath}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--skip-grant-tables",
      "--skip-log-bin",
      "--innodb-buffer-pool-size=16M",
      `--pid-file=${Path.join(dir, "mysqld.pid")}`,
      ...(process.getuid?.() === 0 ? ["--user=root"] : [])
    ],
    signal: "SIGKILL"
  })
})
