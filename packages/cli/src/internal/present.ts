/**
 * How the command line's own events reach the person: help gains the exit codes and which
 * stream carries what; a command line the parser rejects prints the error first and a one-line
 * hint (not the whole help), or one JSON report under `--json`.
 */
import * as CliOutput from "effect/cli/CliOutput"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Report from "../Report.ts"

export const footer = `EXIT CODES
  0    connected (for --type datagram: associated, see below)
  1    transient failure (refused, unreachable, reset, no socket file yet), or the timeout passed
  2    permanent failure (permission, wrong socket type, unsupported), or a state error
  3    invalid input: a bad argument, flag, duration or address, or an unreadable --hosts file

OUTPUT
  stdout: the final report of each target (one line; one JSON object per line with --json),
          and, with --json, every attempt of dial wait.
  stderr: progress of dial wait without --json, and errors about the command line itself
          (with --json these are a JSON report on stdout instead).
  A datagram connect has no handshake: it reports "associated", and reachability stays
  unknown until a reply. A closed stdout or stderr (dial wait | head -1) ends dial quietly.`

/** The operands of a command line, for the report of a rejected one. */
const operands = (argv: ReadonlyArray<string>) =>
  argv
    .filter((arg) => !arg.startsWith("-"))
    .slice(1)
    .join(" ")

export const presenter = (argv: ReadonlyArray<string>): CliOutput.Presenter => {
  const json = argv.includes("--json")
  return {
    present: (event) =>
      Effect.gen(function* () {
        const formatter = CliOutput.defaultFormatter({ colors: false })
        switch (event._tag) {
          case "Help":
            return yield* Console.log(`${formatter.formatHelpDoc(event.helpDoc)}\n\n${footer}\n`)
          case "Version":
            return yield* Console.log(formatter.formatVersion(event.name, event.version))
          case "InvalidInvocation": {
            const message = event.errors.map((error) => error.message).join("; ")
            if (json) {
              const report = Report.failure(
                operands(argv),
                { _tag: "InvalidInput", message },
                { attempt: 0, elapsedMs: 0, final: true }
              )
              return yield* Console.log(Report.json(report))
            }
            const help = [...event.commandPath, "--help"].join(" ")
            return yield* Console.error(`dial: ${message}\nRun '${help}' for the flags and examples.`)
          }
        }
      })
  }
}
