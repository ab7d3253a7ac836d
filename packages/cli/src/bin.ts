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
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

const exitCode = Ref.makeUnsafe(0)

const program = Command.run(Cli.command, { version: "0.1.0" }).pipe(
  Effect.provideService(Cli.ExitCode, exitCode),
  Effect.provide(NodeServices.layer)
)

// The handlers set the exit code; a command line the parser rejects is invalid input (3).
const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(Ref.getUnsafe(exitCode))
  if (!Cause.hasInterruptsOnly(exit.cause)) return onExit(3)
  return Runtime.defaultTeardown(exit, onExit)
}

NodeRuntime.runMain(program, { teardown })
