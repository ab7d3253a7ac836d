#!/usr/bin/env node
/**
 * The `dial` executable.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import { CliError, CliOutput, Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import type * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"
import * as Present from "./internal/present.ts"

// A reader that goes away (`dial wait --json | head -1`) ends dial quietly, with the status of
// a process killed by SIGPIPE (128 + 13), as `cat` and `yes` end: no unhandled 'error' event.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 141 : 1))
}

const exitCode = Ref.makeUnsafe(0)
const argv = process.argv.slice(2)

const program = Command.run(Cli.command, { version: "0.1.0" }).pipe(
  Effect.provideService(Cli.ExitCode, exitCode),
  Effect.provide(CliOutput.layerPresenter(Present.presenter(argv))),
  Effect.provide(NodeServices.layer)
)

// A failure that is not the command line's (already shown by the presenter) is a bug: one line
// on stderr, never a stack trace.
const oneLine = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

// The handlers set the exit code; a command line the parser rejects is invalid input (3).
// Exit at once: runMain would otherwise wait for the event loop to drain (sockets closing,
// resolver handles), which `dial wait`'s callers would see as detection latency. Writes to
// stdout are synchronous for files and pipes on Linux, so nothing printed is lost.
const teardown: Runtime.Teardown = (exit, onExit) => {
  let code: number
  if (Exit.isSuccess(exit)) code = Ref.getUnsafe(exitCode)
  else if (Cause.hasInterruptsOnly(exit.cause)) code = 130
  else if (CliError.isCliError(Cause.squash(exit.cause))) code = 3
  else {
    process.stderr.write(`dial: unexpected failure (a bug; please report it): ${oneLine(exit.cause)}\n`)
    code = 2
  }
  onExit(code)
  process.exit(code)
}

NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
