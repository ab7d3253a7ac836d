/**
 * Real database servers from Debian's packages, started by the tests on loopback (a free port)
 * and on unix sockets in temporary directories, each stopped by its own pid. PostgreSQL refuses
 * to run as root: as root, it runs as `nobody` (setpriv execs in place, so the pid we hold is
 * the postmaster's). `gate.ts` skips or fails a test that lacks them. No vitest here: the
 * readiness benchmark uses these too.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../src/bin.ts", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly lines: ReadonlyArray<Record<string, any>>
  /** When the process exited, `Date.now()`. */
  readonly exitedAt: number
}

/** Runs the real `dial` executable. */
export const dial = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      const exitedAt = Date.now()
      const lines = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, any>)
      resolve({ code, stdout, stderr, lines, exitedAt })
    })
  })

/** Runs a command to completion; its output and status. */
export const run = (command: string, args: ReadonlyArray<string>, timeoutMs = 30_000) => {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs })
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" }
}

const has = (file: string) => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

const which = (name: string): string | undefined => {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** Debian's PostgreSQL binaries: the newest /usr/lib/postgresql/N/bin with initdb and postgres. */
export const pgBin = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!fs.existsSync(root)) return undefined
  const versions = fs
    .readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  for (const version of versions) {
    const dir = path.join(root, version, "bin")
    if (has(path.join(dir, "initdb")) && has(path.join(dir, "postgres"))) return dir
  }
  return undefined
}

const isRoot = () => process.getuid?.() === 0

/** Why the test cannot run here, or undefined. */
export const needs = {
  postgres: (): string | undefined => {
    if (pgBin() === undefined)
      return "needs PostgreSQL (Debian's postgresql: /usr/lib/postgresql/N/bin/{initdb,postgres})"
    if (which("psql") === undefined) return "needs psql (postgresql-client)"
    if (isRoot() && which("setpriv") === undefined) return "needs setpriv to run postgres as nobody"
    return undefined
  },
  redis: (): string | undefined =>
    which("redis-server") === undefined || which("redis-cli") === undefined
      ? "needs redis-server and redis-cli (Debian's redis-server)"
      : undefined,
  openssl: (): string | undefined =>
    which("openssl") === undefined ? "needs openssl (to make a certificate)" : undefined,
  mysql: (): string | undefined =>
    which("mariadbd") === undefined && !has("/usr/sbin/mariadbd")
      ? "needs mariadbd (Debian's mariadb-server)"
      : which("mariadb-install-db") === undefined
        ? "needs mariadb-install-db"
        : undefined
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A temporary directory, owned by `nobody` when we are root (for postgres). */
export const tempDir = (prefix: string, forNobody = false): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (forNobody && isRoot()) fs.chownSync(dir, 65534, 65534)
  return dir
}

/** A started server process, stopped by its own pid. */
export interface Server {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  readonly stop: () => Promise<void>
  readonly log: () => string
}

export const start = (command: string, args: ReadonlyArray<string>, logFile: string, asNobody = false): Server => {
  const out = fs.openSync(logFile, "a")
  const [file, argv] =
    asNobody && isRoot()
      ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", command, ...args]]
      : [command, [...args]]
  const child = spawn(file, argv, { stdio: ["ignore", out, out] })
  fs.closeSync(out)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
    await exited
    clearTimeout(timer)
  }
  return { child, exited, stop, log: () => fs.readFileSync(logFile, "utf8") }
}

/** Polls `check` every 50 ms until it is true, for at most `ms`. */
export const until = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

// --- PostgreSQL ------------------------------------------------------------------------------

export interface Postgres {
  readonly port: number
  readonly dir: string
  readonly server: () => Server
  readonly psql: (sql: string) => { status: number | null; stdout: string; stderr: string }
  /** Starts (again) on the same data directory. */
  readonly start: () => Server
  readonly stop: () => Promise<void>
}

/** initdb (trust auth, superuser `postgres`) in a temporary directory, then starts the server. */
export const postgres = async (settings: ReadonlyArray<string> = []): Promise<Postgres> => {
  const binDir = pgBin()!
  const dir = tempDir("dial-pg-", true)
  const data = path.join(dir, "data")
  const init = run(isRoot() ? "setpriv" : path.join(binDir, "initdb"), [
    ...(isRoot() ? ["--reuid=65534", "--regid=65534", "--clear-groups", path.join(binDir, "initdb")] : []),
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
    "-E",
    "UTF8"
  ])
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const port = await freePort()
  let current: Server | undefined
  const startServer = () => {
    current = start(
      path.join(binDir, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        ...settings.flatMap((s) => ["-c", s])
      ],
      path.join(dir, "log"),
      true
    )
    return current
  }
  const psql = (sql: string) =>
    run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-X", "-qAt", "-c", sql])
  startServer()
  await until(() => psql("select 1").status === 0, 15_000, "postgres to accept queries")
  return {
    port,
    dir,
    server: () => current!,
    psql,
    start: startServer,
    stop: async () => {
      await current?.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

// --- Redis -----------------------------------------------------------------------------------

export interface Redis {
  readonly port: number
  readonly socket: string
  readonly dir: string
  readonly cli: (...args: ReadonlyArray<string>) => { status: number | null; stdout: string; stderr: string }
  readonly server: () => Server
  readonly start: () => Server
  readonly stop: () => Promise<void>
}

export const redis = async (): Promise<Redis> => {
  const dir = tempDir("dial-redis-")
  const port = await freePort()
  const socket = path.join(dir, "redis.sock")
  let current: Server | undefined
  const startServer = () => {
    current = start(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--unixsocket",
        socket,
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "local"
      ],
      path.join(dir, "log")
    )
    return current
  }
  const cli = (...args: ReadonlyArray<string>) => run("redis-cli", ["-p", String(port), ...args], 60_000)
  startServer()
  await until(() => cli("ping").stdout.trim() === "PONG", 10_000, "redis to answer PONG")
  return {
    port,
    socket,
    dir,
    cli,
    server: () => current!,
    start: startServer,
    stop: async () => {
      await current?.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

// --- MariaDB ---------------------------------------------------------------------------------

export interface Mariadb {
  readonly port: number
  readonly socket: string
  readonly start: () => Server
  readonly stop: () => Promise<void>
}

/** mariadb-install-db into a temporary directory; `start` runs mariadbd on it (not started yet). */
export const mariadb = async (): Promise<Mariadb> => {
  const dir = tempDir("dial-my-")
  const data = path.join(dir, "data")
  const install = run(
    "mariadb-install-db",
    ["--no-defaults", `--datadir=${data}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"],
    60_000
  )
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
  const port = await freePort()
  const socket = path.join(dir, "my.sock")
  let current: Server | undefined
  const mariadbd = which("mariadbd") ?? "/usr/sbin/mariadbd"
  return {
    port,
    socket,
    start: () => {
      current = start(
        mariadbd,
        [
          "--no-defaults",
          `--datadir=${data}`,
          "--user=root",
          `--port=${port}`,
          "--bind-address=127.0.0.1",
          `--socket=${socket}`,
          `--pid-file=${path.join(dir, "m.pid")}`,
          "--skip-log-bin",
          "--innodb-buffer-pool-size=16M",
          `--log-error=${path.join(dir, "err.log")}`
        ],
        path.join(dir, "out.log")
      )
      return current
    },
    stop: async () => {
      await current?.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
