#!/usr/bin/env node
/**
 * The `dial` executable.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import { Command } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import type * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

const exitCode = Ref.makeUnsafe(0)

const program = Command.run(Cli.command, { version: "0.1.0" }).pipe(
  Effect.provideService(Cli.ExitCode, exitCode),
  Effect.provide(NodeServices.layer)
)

// The handlers set the exit code; a command line the parser rejects is invalid input (3).
// Exit at once: runMain would otherwise wait for the event loop to drain (sockets closing,
// resolver handles), which `dial wait`'s callers would see as detection latency. Writes to
// stdout are synchronous for files and pipes on Linux, so nothing printed is lost.
const teardown: Runtime.Teardown = (exit, onExit) => {
  const code = Exit.isSuccess(exit) ? Ref.getUnsafe(exitCode) : Cause.hasInterruptsOnly(exit.cause) ? 130 : 3
  onExit(code)
  process.exit(code)
}

NodeRuntime.runMain(program, { teardown })
