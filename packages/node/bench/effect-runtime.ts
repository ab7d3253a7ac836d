/**
 * What Effect's runtime costs per connect, apart from any socket: the pieces every scoped
 * Effect socket pays for (dial, `NodeSocket.makeNet`, or the connect benchmark's "floor"), each
 * measured alone in a loop, against the plain JavaScript that raw `node:net` code uses instead.
 *
 *   node --expose-gc packages/node/bench/effect-runtime.ts [--rounds 9] [--iterations 100000]
 *
 * - a suspension: `Effect.callback` resumed from a later microtask, against `await` on a
 *   promise resolved the same way. Effect 4 creates a `node:async_hooks` `AsyncResource` for
 *   every suspension of a fiber and destroys it on resume (so that async context survives);
 *   that alone is measured too;
 * - a fiber per operation, as `Effect.forEach` with `concurrency` forks one per element;
 * - a scope per operation, with one finalizer (`Effect.scoped` + `Effect.addFinalizer`).
 *
 * Medians over rounds; main-thread CPU per operation. A program, not a test.
 */
import * as Effect from "effect/Effect"
import { AsyncResource } from "node:async_hooks"
import * as Os from "node:os"
import { parseArgs } from "node:util"

const { values: args } = parseArgs({
  options: { rounds: { type: "string", default: "9" }, iterations: { type: "string", default: "100000" } }
})
const rounds = Number(args.rounds)
const iterations = Number(args.iterations)

/** `effect`, `n` times in one fiber (a loop, not `Effect.repeat`, whose schedule costs more than the pieces). */
const times = (n: number, effect: Effect.Effect<void>) =>
  Effect.gen(function* () {
    for (let i = 0; i < n; i++) yield* effect
  })

const resumeLater = (resume: () => void) => queueMicrotask(resume)

const cases: ReadonlyArray<{ readonly name: string; readonly run: (n: number) => Promise<void> }> = [
  {
    name: "await a promise (raw code's suspension)",
    run: async (n) => {
      for (let i = 0; i < n; i++) await new Promise<void>(resumeLater)
    }
  },
  {
    name: "Effect.callback suspension, resumed",
    run: (n) =>
      Effect.runPromise(
        times(
          n,
          Effect.callback<void>((resume) => resumeLater(() => resume(Effect.void)))
        )
      )
  },
  {
    name: "AsyncResource create + run + destroy",
    run: async (n) => {
      const f = () => {}
      for (let i = 0; i < n; i++) {
        const resource = new AsyncResource("bench")
        resource.runInAsyncScope(f)
        resource.emitDestroy()
      }
    }
  },
  {
    name: "a fiber per element (forEach, concurrency 64)",
    run: (n) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: n }), () => Effect.void, { concurrency: 64, discard: true })
      )
  },
  {
    name: "a scope with one finalizer",
    run: (n) => Effect.runPromise(times(n, Effect.scoped(Effect.addFinalizer(() => Effect.void))))
  }
]

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]!
}

const results = new Map<string, Array<number>>()
for (const c of cases) await c.run(iterations / 10)
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < cases.length; i++) {
    const c = cases[(i + round) % cases.length]!
    const before = process.threadCpuUsage()
    await c.run(iterations)
    const cpu = process.threadCpuUsage(before)
    results.set(c.name, [...(results.get(c.name) ?? []), ((cpu.user + cpu.system) * 1000) / iterations])
  }
}
const width = Math.max(...cases.map((c) => c.name.length))
console.log(`${"main-thread CPU per operation".padEnd(width)}  ns (median of ${rounds} rounds)`)
for (const c of cases) console.log(`${c.name.padEnd(width)}  ${median(results.get(c.name)!).toFixed(0).padStart(6)}`)
console.log(
  `\nNode ${process.version}, ${Os.cpus().length} x ${Os.cpus()[0]?.model ?? "unknown cpu"}, load average ${Os.loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")}; ${iterations} operations per round.`
)
