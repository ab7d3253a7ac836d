/**
 * Instruction counts for the benchmarks' `--instructions` mode: a contender's worker runs under
 * `valgrind --tool=callgrind` with instrumentation off, and switches it on only around its
 * measured window (`callgrind_control -i on|off <pid>`), so the count is the user-space
 * instructions of that window alone: no start-up, no warm-up run, no kernel time (the
 * syscalls are the same for every contender; strace shows it). Unlike wall clock and CPU time,
 * the count barely moves when other processes load the machine, so small differences show.
 *
 * V8 runs single-threaded (`--single-threaded`) so its compiler's work lands in the same
 * thread, every run the same way.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** Why instruction counts cannot be taken here, or undefined when they can. */
export const unavailable = (): string | undefined =>
  ChildProcess.spawnSync("valgrind", ["--version"], { stdio: "ignore" }).status === 0 &&
  ChildProcess.spawnSync("callgrind_control", ["--version"], { stdio: "ignore" }).status === 0
    ? undefined
    : "needs valgrind and callgrind_control (Debian package valgrind)"

let measuring = false

/** Set by the worker for the run whose instructions count. */
export const measure = (on: boolean): void => {
  measuring = on
}

/** Switches counting on or off around a measured window; nothing outside `--instructions`. */
export const window = (on: boolean): void => {
  if (!measuring) return
  ChildProcess.execFileSync("callgrind_control", ["-i", on ? "on" : "off", String(process.pid)], { stdio: "ignore" })
}

/** A worker process under callgrind, and where its count will be once it exits. */
export const forkCounted = (
  file: string,
  args: ReadonlyArray<string>
): { readonly worker: ChildProcess.ChildProcess; readonly total: Promise<number> } => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dial-callgrind-"))
  const out = Path.join(dir, "callgrind.out")
  const worker = ChildProcess.fork(file, [...args], {
    execPath: "valgrind",
    execArgv: [
      "--tool=callgrind",
      "--instr-atstart=no",
      "--smc-check=all-non-file",
      `--callgrind-out-file=${out}`,
      "--log-file=/dev/null",
      process.execPath,
      "--single-threaded"
    ]
  })
  const total = new Promise<number>((resolve, reject) =>
    worker.once("exit", () => {
      try {
        const totals = /^totals: (\d+)/m.exec(Fs.readFileSync(out, "utf8"))
        if (totals === null) throw new Error("callgrind wrote no totals")
        resolve(Number(totals[1]))
      } catch (error) {
        reject(error)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )
  return { worker, total }
}
