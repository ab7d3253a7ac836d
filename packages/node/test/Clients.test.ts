/**
 * Existing clients over dial, against real servers the tests start (Debian's PostgreSQL 15,
 * Redis 7, MariaDB): pg, postgres, mysql2 and ioredis get their socket from `NodeStream`, run
 * queries while the server is killed and started again, and the test checks the typed error
 * the application saw on reconnect and that every answer after it is right.
 */
import { Network, Retry } from "@dial/core"
import { NodeNetwork, NodeStream } from "@dial/node"
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Redis } from "ioredis"
import * as Mysql from "mysql2/promise"
import pg from "pg"
import postgresJs from "postgres"
import * as Net from "node:net"
import { closedTcpPort, kernelTest } from "./helpers/kernel.ts"
import * as Servers from "./helpers/servers.ts"

/** Every reconnect error the application saw, by tag. */
const tagsOf = (errors: ReadonlyArray<unknown>) =>
  errors.map((error) => (error as { readonly _tag?: string })._tag ?? String(error))

const refusedOrMissing = ["ECONNREFUSED", "ENOENT"]

describe("clients through dial, servers killed and restarted", () => {
  kernelTest(
    "pg (stream option) over loopback TCP: the query during the outage fails, dial's reconnect sees ECONNREFUSED, then every answer is right",
    [Servers.postgresBinaries],
    () =>
      Effect.gen(function* () {
        const server = yield* Servers.postgres
        const seen: Array<unknown> = []
        const connect = Effect.gen(function* () {
          const socket = yield* NodeStream.open(Network.connect(`127.0.0.1:${server.port}`))
          const client = new pg.Client({
            stream: () => NodeStream.forPg(socket),
            user: "postgres",
            database: "postgres"
          })
          client.on("error", () => {})
          yield* Effect.tryPromise({
            try: () => client.connect(),
            catch: (error) => error as { readonly code?: string }
          })
          return client
        })
        const query = (client: pg.Client, n: number) =>
          Effect.tryPromise(() => client.query<{ n: number }>("select $1::int + 1 as n", [n])).pipe(
            Effect.map((result) => result.rows[0]!.n)
          )
        let client = yield* connect
        for (let i = 0; i < 3; i++) expect(yield* query(client, i)).toBe(i + 1)
        yield* server.kill
        // The connection died with the server: pg reports it, nothing answers wrongly.
        expect((yield* Effect.flip(query(client, 10)))._tag).toBe("UnknownError")
        // Reconnect through dial while the server comes back.
        const restart = yield* Effect.forkChild(Effect.andThen(Effect.sleep("300 millis"), server.start))
        // A postmaster that listens may still be starting up (57P03): pg's error, worth a retry too.
        const startingUp = (error: unknown) => (error as { readonly code?: string }).code === "57P03"
        client = yield* connect.pipe(
          Effect.tapError((error) => Effect.sync(() => seen.push(error))),
          Effect.retry({
            schedule: Retry.backoff({ base: "50 millis", maxElapsed: "15 seconds" }),
            while: (error) => Retry.isTransient(error) || startingUp(error)
          })
        )
        yield* Fiber.join(restart)
        const typed = seen.filter((error) => !startingUp(error))
        expect(typed.length).toBeGreaterThan(0)
        expect(new Set(tagsOf(typed))).toEqual(new Set(["ECONNREFUSED"]))
        for (let i = 0; i < 3; i++) expect(yield* query(client, 100 + i)).toBe(101 + i)
        yield* Effect.promise(() => client.end())
      }).pipe(Effect.provide(NodeNetwork.layer)),
    30_000
  )

  kernelTest(
    "postgres (socket option) over a unix socket: the query during the outage rejects with dial's typed ENOENT/ECONNREFUSED; a new sql works after the restart",
    [Servers.postgresBinaries],
    () =>
      Effect.gen(function* () {
        const server = yield* Servers.postgres
        const open = () =>
          postgresJs({
            socket: NodeStream.factory(
              Network.connect(`unix:${server.socketPath}`).pipe(Effect.provide(NodeNetwork.layer))
            ),
            username: "postgres",
            database: "postgres",
            max: 1,
            onnotice: () => {}
            // postgres' types do not list `socket`, which its docs and code take.
          } as unknown as postgresJs.Options<{}>)
        const query = (sql: postgresJs.Sql, n: number) =>
          Effect.tryPromise({
            try: () => sql<Array<{ n: number }>>`select ${n}::int + 1 as n`,
            catch: (error) => error
          }).pipe(
            Effect.map((rows) => rows[0]!.n),
            Effect.timeout("5 seconds")
          )
        let sql = open()
        for (let i = 0; i < 3; i++) expect(yield* query(sql, i)).toBe(i + 1)
        yield* server.kill
        // The next connection is dial's: its typed error reaches the query.
        const error = yield* Effect.flip(query(sql, 1))
        expect(refusedOrMissing).toContain((error as { readonly _tag?: string })._tag)
        yield* Effect.promise(() => sql.end({ timeout: 0 }))
        yield* server.start
        // postgres 3.4 stops dialing after a rejected factory: a new sql, retried while the
        // server starts up, gets right answers.
        sql = open()
        expect(
          yield* query(sql, 41).pipe(
            Effect.retry({ schedule: Retry.backoff({ base: "50 millis", maxElapsed: "10 seconds" }) })
          )
        ).toBe(42)
        for (let i = 0; i < 3; i++) expect(yield* query(sql, 200 + i)).toBe(201 + i)
        yield* Effect.promise(() => sql.end({ timeout: 0 }))
      }),
    30_000
  )

  kernelTest(
    "ioredis (custom Connector) over loopback TCP: reconnects through dial, sees ECONNREFUSED while down, values stay right",
    [Servers.redisBinary],
    () =>
      Effect.gen(function* () {
        const server = yield* Servers.redis
        const errors: Array<unknown> = []
        const Connector = NodeStream.ioredisConnector(
          Network.connect(`127.0.0.1:${server.port}`).pipe(Effect.provide(NodeNetwork.layer))
        )
        const redis = new Redis({
          Connector: Connector as never,
          lazyConnect: true,
          retryStrategy: () => 50,
          maxRetriesPerRequest: null
        })
        redis.on("error", (error: unknown) => errors.push(error))
        yield* Effect.promise(() => redis.connect())
        for (let i = 0; i < 3; i++) {
          yield* Effect.promise(() => redis.set(`k${i}`, `v${i}`))
          expect(yield* Effect.promise(() => redis.get(`k${i}`))).toBe(`v${i}`)
        }
        yield* server.kill
        // Commands issued while the server is down wait in ioredis' offline queue.
        const pending = Effect.promise(() => redis.incr("counter"))
        const fiber = yield* Effect.forkChild(pending)
        yield* Effect.sleep("300 millis")
        yield* server.start
        // A fresh server (no persistence): the counter starts at 1, exactly once.
        expect(yield* Fiber.join(fiber)).toBe(1)
        expect(tagsOf(errors)).toContain("ECONNREFUSED")
        expect(yield* Effect.promise(() => redis.get("k0"))).toBeNull()
        yield* Effect.promise(() => redis.set("after", "restart"))
        expect(yield* Effect.promise(() => redis.get("after"))).toBe("restart")
        redis.disconnect()
      }),
    30_000
  )

  kernelTest(
    "mysql2 (stream option) over a unix socket: the outage is a typed error on reconnect; answers after it are right",
    [Servers.mariadbBinary],
    () =>
      Effect.gen(function* () {
        const server = yield* Servers.mariadb
        const connect = Effect.gen(function* () {
          const socket = yield* NodeStream.open(Network.connect(`unix:${server.socketPath}`))
          return yield* Effect.promise(() => Mysql.createConnection({ stream: socket as never, user: "root" }))
        })
        const query = (connection: Mysql.Connection, n: number) =>
          Effect.tryPromise(() => connection.query<Array<Mysql.RowDataPacket>>("select ? + 1 as n", [n])).pipe(
            Effect.map(([rows]) => Number(rows[0]!.n))
          )
        let connection = yield* connect
        for (let i = 0; i < 3; i++) expect(yield* query(connection, i)).toBe(i + 1)
        connection.on("error", () => {})
        yield* server.kill
        expect((yield* Effect.flip(query(connection, 1)))._tag).toBe("UnknownError")
        const seen: Array<unknown> = []
        const restart = yield* Effect.forkChild(Effect.andThen(Effect.sleep("300 millis"), server.start))
        connection = yield* connect.pipe(
          Effect.tapError((error) => Effect.sync(() => seen.push(error))),
          Effect.retry(Retry.transient({ base: "50 millis", maxElapsed: "20 seconds" }))
        )
        yield* Fiber.join(restart)
        expect(seen.length).toBeGreaterThan(0)
        for (const tag of tagsOf(seen)) expect(refusedOrMissing).toContain(tag)
        for (let i = 0; i < 3; i++) expect(yield* query(connection, 300 + i)).toBe(301 + i)
        yield* Effect.promise(() => connection.end())
      }).pipe(Effect.provide(NodeNetwork.layer)),
    30_000
  )
})

describe("pg.Pool through dial", () => {
  kernelTest(
    "pg.Pool with stream: NodeStream.pgStream dials once per client on connect(), on the kernel socket; 12 concurrent queries over 3 clients answer right; a refused dial rejects pool.query with dial's typed ECONNREFUSED",
    [Servers.postgresBinaries],
    () =>
      Effect.gen(function* () {
        const server = yield* Servers.postgres
        let dials = 0
        const connect = (port: number) =>
          Network.connect(`127.0.0.1:${port}`).pipe(
            Effect.tap(() => Effect.sync(() => dials++)),
            Effect.provide(NodeNetwork.layer)
          )
        const pool = new pg.Pool({
          stream: NodeStream.pgStream(connect(server.port)),
          user: "postgres",
          database: "postgres",
          max: 3
        })
        pool.on("error", () => {})
        const streams: Array<unknown> = []
        pool.on("connect", (client) =>
          streams.push((client as unknown as { connection: { stream: unknown } }).connection.stream)
        )
        // The factory is synchronous: no dial happens until pg connects a client.
        expect(dials).toBe(0)
        const answers = yield* Effect.promise(() =>
          Promise.all(
            Array.from({ length: 12 }, (_, i) =>
              pool.query<{ n: number }>("select $1::int * 2 as n", [i]).then((result) => result.rows[0]!.n)
            )
          )
        )
        expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => i * 2))
        expect(dials).toBe(3)
        expect(pool.totalCount).toBe(3)
        expect(streams).toHaveLength(3)
        for (const stream of streams) {
          expect(stream).toBeInstanceOf(NodeStream.DialingSocket)
          // The bytes go through the kernel socket dial connected.
          expect((stream as NodeStream.DialingSocket).socket).toBeInstanceOf(Net.Socket)
        }
        yield* Effect.promise(() => pool.end())

        // Nothing listens: the pool's connect fails with dial's error, typed and with `code`.
        const closed = yield* closedTcpPort("127.0.0.1")
        const refusedPool = new pg.Pool({ stream: NodeStream.pgStream(connect(closed)), user: "postgres", max: 1 })
        const error = yield* Effect.promise(() =>
          refusedPool.query("select 1").then(
            () => undefined,
            (error: unknown) => error as { readonly _tag?: string; readonly code?: string }
          )
        )
        expect(error?._tag).toBe("ECONNREFUSED")
        expect(error?.code).toBe("ECONNREFUSED")
        expect(refusedPool.totalCount).toBe(0)
        yield* Effect.promise(() => refusedPool.end())
      }),
    30_000
  )
})
