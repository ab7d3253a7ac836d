/**
 * The `dial` command: `probe`, `wait` and `explain`, built with Effect's CLI modules. The
 * handlers return the exit code; `bin.ts` runs the command on Node.
 *
 * @since 0.1.0
 */
import { type Network, Ready } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as NodeAddressResolver from "@effect/platform-node/NodeAddressResolver"
import * as NodeDns from "@effect/platform-node/NodeDns"
import { Argument, Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as Host from "effect/net/Host"
import * as NetAddress from "effect/net/NetAddress"
import { readFileSync } from "node:fs"
import * as Explain from "./Explain.ts"
import * as Args from "./internal/args.ts"
import * as StatusLine from "./internal/statusLine.ts"
import * as Probe from "./Probe.ts"
import * as Report from "./Report.ts"
import * as Wait from "./Wait.ts"

/**
 * Where the handlers leave the process's exit code.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { Cli } from "@dial/cli"
 *
 * const program = Cli.ExitCode.use(Ref.get)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ExitCode extends Context.Service<ExitCode, Ref.Ref<number>>()("@dial/cli/ExitCode") {}

const setExit = (code: number) => ExitCode.use((ref) => Ref.set(ref, code))

const timeoutFlag = Flag.String("timeout").pipe(
  Flag.withDescription(
    "Give up after this long. Needs a unit: 500ms, 30s, 2m, 1h; or infinity. Default 30s. 0s is refused (no time to connect)"
  ),
  Flag.withDefault("30s")
)
const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("Print reports as JSON, one object per line, on stdout. Default off"),
  Flag.withDefault(false)
)
const hostsFlag = Flag.String("hosts").pipe(
  Flag.withDescription("Resolve names from this hosts(5) file instead of the system resolver. Default: the system's"),
  Flag.optional
)

/** The flags of every command that connects. New flags of `probe` and `wait` go here. */
const connectFlags = {
  timeout: timeoutFlag,
  local: Flag.String("local").pipe(
    Flag.withDescription("Bind to this local address first (e.g. 127.0.0.1:0). Default: the kernel picks"),
    Flag.optional
  ),
  type: Flag.Literals("type", ["stream", "datagram", "seqpacket"]).pipe(
    Flag.withDescription(
      "stream (TCP, unix stream), datagram (UDP, unix datagram: connect has no handshake, so it only associates) or seqpacket (unix). Default stream"
    ),
    Flag.withDefault("stream" as const)
  ),
  json: jsonFlag,
  hosts: hostsFlag,
  ready: Flag.String("ready").pipe(
    Flag.withDescription(
      "Also wait until the server is ready: postgres|redis|mysql|http[:PATH]|tls|expect:SEND=>EXPECT"
    ),
    Flag.optional
  )
}

/** The `--ready` flag's probe; `undefined` without the flag; a string: why it is invalid. */
const readyOf = (flag: Option.Option<string>): Ready.Probe | undefined | string => {
  if (Option.isNone(flag)) return undefined
  const parsed = Ready.parse(flag.value)
  return Result.isSuccess(parsed) ? parsed.success : parsed.failure.message
}

const targetHelp = "127.0.0.1:80, [::1]:80, host:port (resolved, then raced), unix:/path, or unix:@abstract-name"

const invalid = (json: boolean, target: string, message: string) =>
  Effect.gen(function* () {
    const report = Report.failure(target, { _tag: "InvalidInput", message }, { attempt: 0, elapsedMs: 0, final: true })
    yield* json ? Console.log(Report.json(report)) : Console.error(`dial: ${message}`)
    yield* setExit(3)
  })

/** Reads a hosts(5) file; a missing file, a directory or unreadable bytes is a message, not a throw. */
const readHosts = (file: string): Result.Result<Record<string, Array<string>>, string> => {
  try {
    const table = Host.parseHostsFile(readFileSync(file, "utf8"))
    const hosts: Record<string, Array<string>> = {}
    for (const [name, addresses] of table) hosts[name] = addresses.map(NetAddress.formatIp)
    return Result.succeed(hosts)
  } catch (error) {
    const code = Predicate.hasProperty(error, "code") && typeof error.code === "string" ? `${error.code}: ` : ""
    const reason = code === "EISDIR: " ? "is a directory" : code === "ENOENT: " ? "no such file" : String(error)
    return Result.fail(`cannot read --hosts ${file}: ${code}${reason}`)
  }
}

/** The name resolution of a run: the system's, or a hosts file's. */
const runtimeLayer = (
  hosts: Record<string, Array<string>> | undefined
): Layer.Layer<Network.Network | AddressResolver.AddressResolver> =>
  Layer.merge(
    NodeNetwork.layer,
    hosts === undefined
      ? NodeAddressResolver.layer.pipe(Layer.provide(NodeDns.layer))
      : AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({ hosts }))))
  )

interface ConnectConfig {
  readonly timeout: string
  readonly json: boolean
  readonly hosts: Option.Option<string>
  readonly ready: Option.Option<string>
}

/** The checked settings of a connecting command, or the invalid-input report already printed. */
const settings = (config: ConnectConfig, target: string) =>
  Effect.gen(function* () {
    const timeout = Args.duration("--timeout", config.timeout)
    if (Result.isFailure(timeout)) {
      yield* invalid(config.json, target, timeout.failure)
      return undefined
    }
    const ready = readyOf(config.ready)
    if (typeof ready === "string") {
      yield* invalid(config.json, target, ready)
      return undefined
    }
    let hosts: Record<string, Array<string>> | undefined
    if (Option.isSome(config.hosts)) {
      const read = readHosts(config.hosts.value)
      if (Result.isFailure(read)) {
        yield* invalid(config.json, target, read.failure)
        return undefined
      }
      hosts = read.success
    }
    return { timeout: timeout.success, ready, layer: runtimeLayer(hosts) }
  })

const probe = Command.make(
  "probe",
  {
    target: Argument.String("target").pipe(Argument.withDescription(`Where to connect: ${targetHelp}`)),
    ...connectFlags
  },
  (config) =>
    Effect.gen(function* () {
      const checked = yield* settings(config, config.target)
      if (checked === undefined) return
      const report = yield* Probe.probe(
        config.target,
        {
          deadline: checked.timeout,
          type: config.type,
          local: Option.getOrUndefined(config.local),
          ready: checked.ready
        },
        1
      ).pipe(Effect.provide(checked.layer))
      const final = { ...report, final: true }
      yield* config.json ? Console.log(Report.json(final)) : Console.log(Report.plain(final))
      yield* setExit(Report.exitCode(report.error))
    })
).pipe(
  Command.withDescription("Connect once and print the outcome (one attempt, no retry)"),
  Command.withExamples([
    { command: "dial probe 127.0.0.1:5432", description: "Is anything listening on this port?" },
    { command: "dial probe '[::1]:6379' --timeout 2s --json", description: "One JSON line, give up after 2 s" },
    { command: "dial probe unix:/run/postgresql/.s.PGSQL.5432", description: "A unix socket file" },
    { command: "dial probe db.internal:5432 --hosts ./hosts", description: "A name from a hosts(5) file" }
  ])
)

const wait = Command.make(
  "wait",
  {
    targets: Argument.String("target").pipe(
      Argument.withDescription(`One or more targets, all waited for together: ${targetHelp}`),
      Argument.variadic({ min: 1 })
    ),
    ...connectFlags
  },
  (config) =>
    Effect.gen(function* () {
      const checked = yield* settings(config, config.targets.join(" "))
      if (checked === undefined) return
      const status = StatusLine.make(config.json)
      const waited = yield* Wait.wait(config.targets, {
        timeout: checked.timeout,
        type: config.type,
        local: Option.getOrUndefined(config.local),
        ready: checked.ready,
        onAttempt: (report) => status.attempt(report)
      }).pipe(Effect.provide(checked.layer), Effect.result)
      yield* status.done
      // What `Wait.wait` refuses as a whole (more than `Wait.maxTargets` targets) is bad input
      // of the command line too: exit 3 with its message, not an unexpected failure.
      if (Result.isFailure(waited)) return yield* invalid(config.json, config.targets.join(" "), waited.failure.message)
      const finals = waited.success
      for (const report of finals) {
        const final = { ...report, final: true }
        yield* config.json ? Console.log(Report.json(final)) : Console.log(Report.plain(final))
      }
      yield* setExit(Math.max(...finals.map((report) => Report.exitCode(report.error))))
    })
).pipe(
  Command.withDescription(
    "Retry transient failures (refused, unreachable, no socket file yet) until every target connects or the timeout passes; a permanent failure stops at once"
  ),
  Command.withExamples([
    { command: "dial wait 127.0.0.1:5432 && ./migrate", description: "Run the migration once Postgres listens" },
    { command: "dial wait 127.0.0.1:5432 unix:/run/app.sock --timeout 60s", description: "Both, within a minute" },
    { command: "dial wait 127.0.0.1:6379 --json | head -1", description: "Every attempt as a JSON line" }
  ])
)

const explain = Command.make(
  "explain",
  {
    errno: Argument.String("errno").pipe(
      Argument.withDescription("An errno name (ECONNREFUSED, any case) or its Linux number (111)")
    ),
    json: jsonFlag
  },
  (config) =>
    Effect.gen(function* () {
      const info = Explain.lookup(config.errno)
      if (info === undefined) return yield* invalid(config.json, config.errno, `unknown errno: ${config.errno}`)
      yield* config.json ? Console.log(JSON.stringify(info)) : Console.log(Explain.text(info))
      yield* setExit(0)
    })
).pipe(
  Command.withDescription("What an errno means, its retry class, causes and fixes"),
  Command.withExamples([
    { command: "dial explain ECONNREFUSED" },
    { command: "dial explain 111 --json", description: "The same row as JSON" }
  ])
)

/**
 * The `dial` command with its subcommands.
 *
 * @example
 * ```ts
 * import { Command } from "effect/cli"
 * import { Cli } from "@dial/cli"
 *
 * const run = Command.run(Cli.command, { version: "0.1.0" })
 * ```
 *
 * @category commands
 * @since 0.1.0
 */
export const command = Command.make("dial").pipe(
  Command.withDescription("Typed connect(2): probe, wait for and explain connections"),
  Command.withSubcommands([probe, wait, explain]),
  Command.withExamples([
    { command: "dial wait 127.0.0.1:5432 --timeout 60s", description: "Block until Postgres accepts connections" },
    { command: "dial probe 127.0.0.1:8080 --json", description: "One attempt, one JSON line" },
    { command: "dial explain EACCES", description: "Meaning, retry class, causes and fixes" }
  ])
)
