/**
 * `dial wait --ready` and `dial probe --ready` against real servers from Debian's packages,
 * started here on loopback and on unix sockets in temporary directories. The two cases of the
 * issue: PostgreSQL replaying its WAL after a crash, and Redis loading a large dataset. In
 * both, the server listens all along, and dial must not exit before it answers real queries.
 */
import { afterAll, describe, expect } from "@effect/vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as tls from "node:tls"
import { Ready } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { Effect, Layer } from "effect"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import { type Report, Wait } from "@dial/cli"
import { dial, freePort, mariadb, needs, postgres, redis, run, sleep, tempDir, until } from "./helpers/servers.ts"
import { serverTest } from "./helpers/gate.ts"

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const notReadyAttempts = (lines: ReadonlyArray<Record<string, any>>) =>
  lines.filter((line) => !line.final && line.error?._tag === "NotReady")

describe("--ready postgres", () => {
  serverTest(
    "a fresh server is ready over TCP and over its unix socket; the report says what it answered",
    needs.postgres,
    async () => {
      const pg = await postgres()
      cleanups.push(pg.stop)
      const tcp = await dial(["probe", `127.0.0.1:${pg.port}`, "--ready", "postgres", "--json"])
      expect(tcp.code, tcp.stderr).toBe(0)
      expect(tcp.lines.at(-1)).toMatchObject({ ok: true, ready: { probe: "postgres" } })
      // Trust auth: the server answers AuthenticationOk.
      expect(tcp.lines.at(-1)?.ready.reply).toBe("authentication request: ok")
      const unix = await dial(["probe", `unix:${pg.dir}/.s.PGSQL.${pg.port}`, "--ready", "postgres", "--json"])
      expect(unix.code, unix.stderr).toBe(0)
      expect(unix.lines.at(-1)).toMatchObject({ ok: true, ready: { probe: "postgres" } })
    },
    30_000
  )

  serverTest(
    "crash recovery: dial waits through 'the database system is in recovery mode' until real queries work",
    needs.postgres,
    async () => {
      // No checkpoint while we write: recovery has all of this WAL to replay.
      const pg = await postgres(["checkpoint_timeout=1h", "max_wal_size=8GB"])
      cleanups.push(pg.stop)
      const load = pg.psql(
        "create table t as select g, md5(g::text) m from generate_series(1, 1200000) g; select count(*) from t"
      )
      expect(load.stdout.trim(), load.stderr).toBe("1200000")
      const checkpointer = pg.psql("select pid from pg_stat_activity where backend_type = 'checkpointer'").stdout.trim()
      expect(checkpointer).toMatch(/^\d+$/)
      // A child killed with SIGKILL: the postmaster resets every backend and replays the WAL,
      // listening (and refusing) all along. We started it, so this is our own process's child.
      process.kill(Number(checkpointer), "SIGKILL")
      // In this process (a new `dial` process takes longer to start than a short recovery lasts).
      const attempts: Array<Report.AttemptReport> = []
      const [final] = await Effect.runPromise(
        Wait.wait([`127.0.0.1:${pg.port}`], {
          timeout: "20 seconds",
          type: "stream",
          ready: Ready.postgres(),
          onAttempt: (report) => Effect.sync(() => void attempts.push(report))
        }).pipe(
          Effect.provide(
            Layer.merge(
              NodeNetwork.layer,
              AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({ hosts: {} }))))
            )
          )
        )
      )
      // The very moment dial returns, a real query works.
      const query = pg.psql("select count(*) from t")
      expect(final?.ok, JSON.stringify(attempts.at(-1))).toBe(true)
      expect(query.stdout.trim(), query.stderr).toBe("1200000")
      // And dial did see the recovery: typed, transient, in the server's own words.
      const refused = attempts.filter((a) => a.error?._tag === "NotReady")
      expect(refused.length).toBeGreaterThan(0)
      const error = refused[0]!.error!
      expect(error).toMatchObject({ class: "transient" })
      expect(["recovering", "starting"]).toContain(error.state)
      expect(error.reply).toMatch(
        /57P03: the database system is (in recovery mode|starting up|not yet accepting connections)/
      )
    },
    60_000
  )

  serverTest(
    "too many connections (53300) is not ready, and a plain TCP wait would have said ready",
    needs.postgres,
    async () => {
      const pg = await postgres(["max_connections=3", "superuser_reserved_connections=0"])
      cleanups.push(pg.stop)
      // Hold every slot with sessions that sleep. A holder that loses a slot to another (or to
      // the check below) tries again, a bounded number of times.
      const { spawn } = await import("node:child_process")
      const session = `psql -h 127.0.0.1 -p ${pg.port} -U postgres -X -q -c "select pg_sleep(25)"`
      const holders = Array.from({ length: 3 }, () =>
        spawn("bash", ["-c", `for i in $(seq 100); do ${session} && exit 0; sleep 0.1; done; exit 1`], {
          stdio: ["ignore", "ignore", "pipe"]
        })
      )
      const holderErrors: Array<string> = []
      for (const holder of holders) holder.stderr!.on("data", (d) => holderErrors.push(String(d)))
      try {
        let last = ""
        await until(
          () => (last = pg.psql("select 1").stderr).includes("too many clients"),
          10_000,
          "the connection slots to fill"
        ).catch((e) => {
          throw new Error(`${e.message}: ${last} ${holderErrors.join(" ")}`)
        })
        const probe = await dial(["probe", `127.0.0.1:${pg.port}`, "--ready", "postgres", "--json"])
        expect(probe.code).toBe(1)
        expect(probe.lines.at(-1)?.error).toMatchObject({
          _tag: "NotReady",
          state: "too-many-connections",
          class: "transient"
        })
        expect(probe.lines.at(-1)?.error.reply).toContain("53300")
        const plain = await dial(["probe", `127.0.0.1:${pg.port}`, "--json"])
        expect(plain.code).toBe(0)
      } finally {
        for (const holder of holders) holder.kill("SIGTERM")
        // Stopping the server ends the sleeping sessions (and their psql processes).
        await pg.stop()
      }
    },
    30_000
  )
})

describe("--ready redis", () => {
  serverTest(
    "loading a large dataset: dial waits through -LOADING until GET answers",
    needs.redis,
    async () => {
      const rd = await redis()
      cleanups.push(rd.stop)
      expect(rd.cli("debug", "populate", "1500000").stdout.trim()).toBe("OK")
      expect(rd.cli("save").stdout.trim()).toBe("OK")
      // Stop it by its pid and start it again on the same dump: it listens at once and loads.
      await rd.server().stop()
      rd.start()
      await until(
        () => rd.cli("ping").stdout.includes("LOADING") || rd.cli("ping").stdout.includes("PONG"),
        10_000,
        "redis to listen"
      )
      const waited = await dial(["wait", `127.0.0.1:${rd.port}`, "--ready", "redis", "--json", "--timeout", "20s"])
      const get = rd.cli("get", "key:1499999")
      expect(waited.code, waited.stdout + waited.stderr).toBe(0)
      expect(get.stdout.trim()).toBe("value:1499999")
      const loading = notReadyAttempts(waited.lines)
      expect(loading.length).toBeGreaterThan(0)
      expect(loading[0]!.error).toMatchObject({
        state: "loading",
        class: "transient",
        reply: "-LOADING Redis is loading the dataset in memory"
      })
      expect(waited.lines.at(-1)).toMatchObject({ ok: true, ready: { probe: "redis", reply: "+PONG" } })
    },
    60_000
  )

  serverTest(
    "over the unix socket; a password set is -NOAUTH: up",
    needs.redis,
    async () => {
      const rd = await redis()
      cleanups.push(rd.stop)
      const unix = await dial(["probe", `unix:${rd.socket}`, "--ready", "redis", "--json"])
      expect(unix.code, unix.stderr).toBe(0)
      expect(rd.cli("config", "set", "requirepass", "secret").stdout.trim()).toBe("OK")
      const locked = await dial(["probe", `127.0.0.1:${rd.port}`, "--ready", "redis", "--json"])
      expect(locked.code).toBe(0)
      expect(locked.lines.at(-1)?.ready.reply).toMatch(/^-NOAUTH/)
    },
    30_000
  )
})

describe("--ready mysql", () => {
  serverTest(
    "dial waits for mariadbd started after it, over TCP and the unix socket, and reads its greeting",
    needs.mysql,
    async () => {
      const my = await mariadb()
      cleanups.push(my.stop)
      const tcp = dial(["wait", `127.0.0.1:${my.port}`, "--ready", "mysql", "--json", "--timeout", "30s"])
      const unix = dial(["wait", `unix:${my.socket}`, "--ready", "mariadb", "--json", "--timeout", "30s"])
      await sleep(300)
      my.start()
      for (const waited of [await tcp, await unix]) {
        expect(waited.code, waited.stdout + waited.stderr).toBe(0)
        expect(waited.lines.at(-1)?.ready.reply).toMatch(/^greeting: .*MariaDB/)
      }
    },
    60_000
  )
})

describe("--ready http, tls, expect (node servers on loopback)", () => {
  serverTest(
    "http: 503 until the app says 200; the path is requested",
    () => undefined,
    async () => {
      const paths: Array<string> = []
      // The app comes up on its third health check.
      const server = http.createServer((req, res) => {
        paths.push(req.url ?? "")
        res.statusCode = paths.length >= 3 ? 200 : 503
        res.end()
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
      const port = (server.address() as net.AddressInfo).port
      try {
        const waited = await dial([
          "wait",
          `127.0.0.1:${port}`,
          "--ready",
          "http:/healthz",
          "--json",
          "--timeout",
          "10s"
        ])
        expect(waited.code).toBe(0)
        expect(notReadyAttempts(waited.lines)).toHaveLength(2)
        expect(notReadyAttempts(waited.lines)[0]?.error).toMatchObject({
          state: "status",
          reply: "HTTP/1.1 503 Service Unavailable"
        })
        expect(waited.lines.at(-1)?.ready).toEqual({ probe: "http:/healthz", reply: "HTTP/1.1 200 OK" })
        expect(new Set(paths)).toEqual(new Set(["/healthz"]))
      } finally {
        server.close()
      }
    },
    20_000
  )

  serverTest(
    "tls: a plain server fails the handshake (transient); expect: a banner is matched",
    () => undefined,
    async () => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.write("220 hello\r\n")
        socket.on("data", (data) => {
          if (data.toString().startsWith("PING")) socket.end("+PONG\r\n")
          else socket.end("not tls\r\n")
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
      const port = (server.address() as net.AddressInfo).port
      try {
        const tls = await dial(["probe", `127.0.0.1:${port}`, "--ready", "tls", "--json"])
        expect(tls.code).toBe(1)
        expect(tls.lines.at(-1)?.error).toMatchObject({
          _tag: "NotReady",
          state: "handshake-failed",
          class: "transient"
        })
        const expectOk = await dial(["probe", `127.0.0.1:${port}`, "--ready", "expect:PING\\r\\n=>+PONG", "--json"])
        expect(expectOk.code, expectOk.stdout).toBe(0)
        // The banner is not the one expected and the server keeps the connection open: at the
        // deadline, no-answer, with what it did say.
        const mismatch = await dial([
          "probe",
          `127.0.0.1:${port}`,
          "--ready",
          "expect:=>230",
          "--json",
          "--timeout",
          "1s"
        ])
        expect(mismatch.code).toBe(1)
        expect(mismatch.lines.at(-1)?.error).toMatchObject({ state: "no-answer" })
        expect(mismatch.lines.at(-1)?.error.reply).toContain("read: 220 hello\\r\\n")
      } finally {
        server.close()
      }
    },
    20_000
  )

  serverTest(
    "tls: a real node:tls server (self-signed) completes the handshake over TCP and a unix socket",
    needs.openssl,
    async () => {
      const dir = tempDir("dial-tls-")
      const made = run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`
      ])
      expect(made.status, made.stderr).toBe(0)
      const options = { key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) }
      const handshakes: Array<string> = []
      const server = tls.createServer(options, (socket) => {
        handshakes.push(socket.getProtocol() ?? "?")
        socket.on("error", () => {})
        socket.end()
      })
      server.on("tlsClientError", () => {})
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
      const unixServer = tls.createServer(options, (socket) => {
        handshakes.push(socket.getProtocol() ?? "?")
        socket.on("error", () => {})
        socket.end()
      })
      await new Promise<void>((resolve) => unixServer.listen(`${dir}/tls.sock`, () => resolve()))
      const port = (server.address() as net.AddressInfo).port
      try {
        const tcp = await dial(["probe", `127.0.0.1:${port}`, "--ready", "tls", "--json"])
        expect(tcp.code, tcp.stdout + tcp.stderr).toBe(0)
        expect(tcp.lines.at(-1)?.ready).toEqual({ probe: "tls", reply: "TLS handshake completed" })
        const unix = await dial(["probe", `unix:${dir}/tls.sock`, "--ready", "tls", "--json"])
        expect(unix.code, unix.stdout + unix.stderr).toBe(0)
        expect(unix.lines.at(-1)?.ready.reply).toBe("TLS handshake completed")
      } finally {
        server.close()
        unixServer.close()
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    20_000
  )

  serverTest(
    "a bad --ready is invalid input: exit 3, nothing connected",
    () => undefined,
    async () => {
      const port = await freePort()
      const run = await dial(["wait", `127.0.0.1:${port}`, "--ready", "ftp", "--json"])
      expect(run.code).toBe(3)
      expect(run.lines).toHaveLength(1)
      expect(run.lines[0]?.error).toMatchObject({ _tag: "InvalidInput" })
      expect(run.lines[0]?.error.message).toContain("ready")
      // A probe speaks over a stream: with --type datagram it is invalid input too.
      const datagram = await dial(["probe", `127.0.0.1:${port}`, "--type", "datagram", "--ready", "redis", "--json"])
      expect(datagram.code).toBe(3)
      expect(datagram.lines.at(-1)?.error).toMatchObject({ _tag: "InvalidInput" })
      // Plain output says what the ready server answered.
      const server = net.createServer((socket) => socket.end("+PONG\r\n"))
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
      try {
        const plain = await dial([
          "probe",
          `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
          "--ready",
          "redis"
        ])
        expect(plain.code).toBe(0)
        expect(plain.stdout).toContain(", ready (redis: +PONG)")
      } finally {
        server.close()
      }
    },
    20_000
  )
})
