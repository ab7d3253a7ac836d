/**
 * The `dial` command: `probe`, `wait` and `explain`, built with Effect's CLI modules. The
 * handlers return the exit code; `bin.ts` runs the command on Node.
 *
 * @since 0.1.0
 */
import { InvalidInput } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import * as NodeAddressResolver from "@effect/platform-node/NodeAddressResolver"
import * as NodeDns from "@effect/platform-node/NodeDns"
import { Argument, Command, Flag } from "effect/cli"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as AddressResolver from "effect/net/AddressResolver"
import * as Dns from "effect/net/Dns"
import * as Host from "effect/net/Host"
import * as NetAddress from "effect/net/NetAddress"
import { readFileSync } from "node:fs"
import * as Explain from "./Explain.ts"
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
  Flag.withDescription("Give up after this long (e.g. 500ms, 30s, 2m)"),
  Flag.withDefault("30s")
)
const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("One JSON object per line"), Flag.withDefault(false))
const hostsFlag = Flag.String("hosts").pipe(
  Flag.withDescription("Resolve names from this hosts(5) file instead of the system resolver"),
  Flag.optional
)

/** The flags of every command that connects. */
const connectFlags = {
  timeout: timeoutFlag,
  local: Flag.String("local").pipe(
    Flag.withDescription("Bind to this local address first (e.g. 127.0.0.1:0)"),
    Flag.optional
  ),
  type: Flag.Literals("type", ["stream", "datagram", "seqpacket"]).pipe(
    Flag.withDescription("The socket type: stream (TCP, unix), datagram (UDP, unix) or seqpacket (unix)"),
    Flag.withDefault("stream" as const)
  ),
  json: jsonFlag,
  hosts: hostsFlag
}

const millisPerUnit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/**
 * `30s`, `500ms`, `2m` or any Effect duration (`"30 seconds"`, `"Infinity"`). A negative, NaN
 * or malformed one is undefined: the caller reports it as invalid input.
 */
const parseDuration = (text: string): Duration.Duration | undefined => {
  const short = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim())
  if (short !== null) return Duration.millis(Number(short[1]) * millisPerUnit[short[2] as keyof typeof millisPerUnit])
  const decoded = InvalidInput.duration("timeout", text as Duration.Input, { infinite: "allow" })
  return Result.isSuccess(decoded) ? decoded.success : undefined
}

const invalid = (json: boolean, target: string, message: string) =>
  Effect.gen(function* () {
    const report = Report.failure(target, { _tag: "InvalidInput", message }, { attempt: 0, elapsedMs: 0, final: true })
    yield* json ? Console.log(Report.json(report)) : Console.error(`dial: ${message}`)
    yield* setExit(3)
  })

/** The name resolution of a run: the system's, or a hosts file's. */
const resolverLayer = (hostsFile: Option.Option<string>): Layer.Layer<AddressResolver.AddressResolver> =>
  Option.match(hostsFile, {
    onNone: () => NodeAddressResolver.layer.pipe(Layer.provide(NodeDns.layer)),
    onSome: (file) => {
      const table = Host.parseHostsFile(readFileSync(file, "utf8"))
      const hosts: Record<string, Array<string>> = {}
      for (const [name, addresses] of table) hosts[name] = addresses.map(NetAddress.formatIp)
      return AddressResolver.layer().pipe(Layer.provide(Layer.orDie(Dns.layerStatic({ hosts }))))
    }
  })

const runtimeLayer = (hostsFile: Option.Option<string>) => Layer.merge(NodeNetwork.layer, resolverLayer(hostsFile))

const probe = Command.make(
  "probe",
  {
    target: Argument.String("target").pipe(
      Argument.withDescription("127.0.0.1:80, [::1]:80, host:port, unix:/path, unix:@name")
    ),
    ...connectFlags
  },
  (config) =>
    Effect.gen(function* () {
      const deadline = parseDuration(config.timeout)
      if (deadline === undefined)
        return yield* invalid(config.json, config.target, `invalid --timeout: ${config.timeout}`)
      const report = yield* Probe.probe(
        config.target,
        {
          deadline,
          type: config.type,
          local: Option.getOrUndefined(config.local)
        },
        1
      ).pipe(Effect.provide(runtimeLayer(config.hosts)))
      const final = { ...report, final: true }
      yield* config.json ? Console.log(Report.json(final)) : Console.log(Report.plain(final))
      yield* setExit(Report.exitCode(report.error))
    })
).pipe(Command.withDescription("Connect once and print the outcome"))

const wait = Command.make(
  "wait",
  {
    targets: Argument.String("target").pipe(Argument.variadic({ min: 1 })),
    ...connectFlags
  },
  (config) =>
    Effect.gen(function* () {
      const timeout = parseDuration(config.timeout)
      if (timeout === undefined)
        return yield* invalid(config.json, config.targets.join(" "), `invalid --timeout: ${config.timeout}`)
      const status = StatusLine.make(config.json)
      const finals = yield* Wait.wait(config.targets, {
        timeout,
        type: config.type,
        local: Option.getOrUndefined(config.local),
        onAttempt: (report) => status.attempt(report)
      }).pipe(Effect.provide(runtimeLayer(config.hosts)))
      yield* status.done
      for (const report of finals) {
        const final = { ...report, final: true }
        yield* config.json ? Console.log(Report.json(final)) : Console.log(Report.plain(final))
      }
      yield* setExit(Math.max(...finals.map((report) => Report.exitCode(report.error))))
    })
).pipe(Command.withDescription("Retry transient failures until every target connects or the timeout passes"))

const explain = Command.make(
  "explain",
  { errno: Argument.String("errno").pipe(Argument.withDescription("An errno name or number")), json: jsonFlag },
  (config) =>
    Effect.gen(function* () {
      const info = Explain.lookup(config.errno)
      if (info === undefined) return yield* invalid(config.json, config.errno, `unknown errno: ${config.errno}`)
      yield* config.json ? Console.log(JSON.stringify(info)) : Console.log(Explain.text(info))
      yield* setExit(0)
    })
).pipe(Command.withDescription("What an errno means, its retry class, causes and fixes"))

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
  Command.withSubcommands([probe, wait, explain])
)
