// The pack-and-consume test (run by `bash scripts/dev.sh test`): what a user gets from npm.
// Packs every package, installs the tarballs with npm into a project under the system's temp
// directory (outside the workspace, so nothing resolves to the sources), then:
//   1. runs an ESM program using core and node, and the root README's first sample, on Node 22
//      and on Node 24 (both from the npm registry's `node` package);
//   2. type-checks a TypeScript consumer with tsc, moduleResolution bundler and nodenext,
//      skipLibCheck off;
//   3. bundles that consumer with esbuild and runs the bundle;
//   4. runs the testkit README's vitest test with @dial/testkit from the tarball;
//   5. runs the installed `dial` bin: a closed loopback port is ECONNREFUSED, exit 1.
// Every connect goes to a loopback port this script opened. Prints one line per check and
// exits 1 when any fails.
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { install, nodeBinary, pack, root } from "./consumer.ts"

const started = Date.now()
const work = mkdtempSync(path.join(os.tmpdir(), "dial-consume-"))
const app = path.join(work, "app")
const failures: Array<string> = []

const check = (name: string, ok: boolean, detail: string) => {
  console.error(`consume: ${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : `\n${detail}`}`)
  if (!ok) failures.push(name)
}

interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly text: string
}

const exec = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Ran => {
  const result = spawnSync(command, args, {
    cwd: app,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env, NODE_OPTIONS: "" }
  })
  const text = `$ ${command} ${args.join(" ")}\nexit ${result.status}${result.error ? ` (${result.error.message})` : ""}\n${result.stdout}${result.stderr}`
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", text }
}

const listen = (): Promise<net.Server> =>
  new Promise((resolve) => {
    const server = net.createServer((socket) => socket.end())
    server.listen(0, "127.0.0.1", () => resolve(server))
  })
const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port
const closedPort = async () => {
  const server = await listen()
  const port = portOf(server)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The first ```ts block of a markdown file, as written. */
const firstSample = (file: string): string => {
  const match = /^```ts\n([\s\S]*?)^```$/m.exec(readFileSync(path.join(root, file), "utf8"))
  if (match === null) throw new Error(`${file} has no ts sample`)
  return match[1]!
}

try {
  console.error(`consume: packing and installing into ${app}`)
  install(app, pack(path.join(work, "tarballs")))
  const node22 = nodeBinary(22)
  const node24 = nodeBinary(24)
  console.error(`consume: installed in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  // 1. An ESM program on each supported major, and the README's sample.
  writeFileSync(
    path.join(app, "main.mjs"),
    `import { Effect, Option } from "effect"
import { Network, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
const [open, closed] = process.argv.slice(2)
const peer = await Effect.runPromise(
  Effect.scoped(Effect.flatMap(Network.connect(open, { deadline: "2 seconds" }), (h) => h.peerAddress)).pipe(
    Effect.provide(NodeNetwork.layer)
  )
)
const refused = await Effect.runPromise(
  Effect.scoped(Network.connect(closed)).pipe(Effect.flip, Effect.provide(NodeNetwork.layer))
)
console.log(JSON.stringify({ node: process.versions.node, peer: Option.getOrNull(Option.map(peer, SockAddr.format)), refused: refused._tag }))
`
  )
  const server = await listen()
  const open = `127.0.0.1:${portOf(server)}`
  const closed = `127.0.0.1:${await closedPort()}`
  const readme = firstSample("README.md").replaceAll("127.0.0.1:5432", open)
  writeFileSync(path.join(app, "readme.ts"), readme)
  for (const [major, bin] of [
    [22, node22],
    [24, node24]
  ] as const) {
    const ran = exec(bin, ["main.mjs", open, closed])
    const line = ran.stdout.trim().split("\n").at(-1) ?? ""
    let parsed: { node?: string; peer?: unknown; refused?: string } = {}
    try {
      parsed = JSON.parse(line)
    } catch {}
    check(
      `node ${major}: ESM program connects and gets ECONNREFUSED`,
      ran.status === 0 &&
        parsed.node?.startsWith(`${major}.`) === true &&
        parsed.peer === open &&
        parsed.refused === "ECONNREFUSED",
      ran.text
    )
    const sample = exec(bin, ["readme.ts"])
    check(
      `node ${major}: README.md's first sample runs`,
      sample.status === 0 && sample.stdout.includes(`connected to ${open}`),
      sample.text
    )
  }

  // 2. tsc under both resolutions that users pick, checking the libraries' .d.ts too.
  writeFileSync(
    path.join(app, "consumer.ts"),
    `import { Effect, Layer } from "effect"
import { ConnectError, Dialer, Network, Retry, SockAddr } from "@dial/core"
import { NodeNetwork } from "@dial/node"
import { TestNetwork } from "@dial/testkit"
import { Probe, Report } from "@dial/cli"
import * as NodeAddressResolver from "@effect/platform-node/NodeAddressResolver"
import * as NodeDns from "@effect/platform-node/NodeDns"

const target: string = process.argv[2] ?? "127.0.0.1:1"
const addr = SockAddr.fromString(target)
const connect = Effect.scoped(Network.connect(target, { deadline: "1 second" }))
const retried = connect.pipe(Effect.retry(Retry.transient({ maxAttempts: 1 })))
const refused: ConnectError.ConnectError = ConnectError.make("ECONNREFUSED")
const dialed = Effect.scoped(Dialer.dial(target, { deadline: "1 second" }))
const fake = retried.pipe(Effect.provide(TestNetwork.layer()))
const resolver = NodeAddressResolver.layer.pipe(Layer.provide(NodeDns.layer))
const report = await Effect.runPromise(
  Probe.probe(target, { deadline: "1 second", type: "stream" }, 1).pipe(
    Effect.provide(Layer.merge(NodeNetwork.layer, resolver))
  )
)
console.log(Report.plain(report), Report.exitCode(report.error), refused._tag, typeof dialed, typeof fake, addr._tag)
`
  )
  const tsc = path.join(root, "node_modules", ".bin", "tsc")
  for (const [resolution, module] of [
    ["bundler", "preserve"],
    ["nodenext", "nodenext"]
  ] as const) {
    const config = `tsconfig.${resolution}.json`
    writeFileSync(
      path.join(app, config),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          // effect's own declarations name Web Crypto types (CryptoKey, JsonWebKey) from lib.dom.
          lib: ["ES2022", "DOM"],
          module,
          moduleResolution: resolution,
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          noEmit: true
        },
        files: ["consumer.ts", "readme.ts", "test/greeting.test.ts"]
      })
    )
  }
  mkdirSync(path.join(app, "test"), { recursive: true })
  writeFileSync(path.join(app, "test", "greeting.test.ts"), firstSample("packages/testkit/README.md"))
  for (const resolution of ["bundler", "nodenext"]) {
    const ran = exec(tsc, ["-p", `tsconfig.${resolution}.json`])
    check(`tsc, moduleResolution ${resolution}, skipLibCheck false`, ran.status === 0, ran.text)
  }

  // 3. A bundler: esbuild follows the published exports and the bundle runs.
  const esbuild = path.join(root, "node_modules", ".bin", "esbuild")
  const bundled = exec(esbuild, [
    "consumer.ts",
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--outfile=out/consumer.mjs",
    "--log-level=warning"
  ])
  const bundleRun = bundled.status === 0 ? exec(node24, ["out/consumer.mjs", closed]) : bundled
  check(
    "esbuild bundles the consumer and the bundle runs",
    bundleRun.status === 0 && bundleRun.stdout.includes("ECONNREFUSED (errno 111)"),
    bundleRun.text
  )

  // 4. The testkit under vitest, from the tarball.
  const vitest = exec(node24, [path.join(app, "node_modules", "vitest", "vitest.mjs"), "run", "--root", app])
  check("vitest runs the testkit README's test", vitest.status === 0 && /1 passed/.test(vitest.text), vitest.text)

  // 5. The installed bin, on both majors.
  const dial = path.join(app, "node_modules", ".bin", "dial")
  for (const [major, bin] of [
    [22, node22],
    [24, node24]
  ] as const) {
    const ran = exec(dial, ["probe", closed], { PATH: `${path.dirname(bin)}:${process.env.PATH}` })
    check(
      `node ${major}: installed dial probe of a closed port prints ECONNREFUSED, exit 1`,
      ran.status === 1 && ran.stdout.includes("ECONNREFUSED"),
      ran.text
    )
  }
  const rejected = exec(dial, ["probe", closed, "--bogus", "--json"])
  check(
    "installed dial: an unknown flag under --json is one InvalidInput report, exit 3",
    rejected.status === 3 && /"_tag":"InvalidInput"/.test(rejected.stdout) && !/\n\s+at /.test(rejected.text),
    rejected.text
  )
  server.close()
} catch (error) {
  check("pack and install", false, String((error as Error)?.stack ?? error))
} finally {
  rmSync(work, { recursive: true, force: true })
}

console.error(
  `consume: ${failures.length === 0 ? "all passed" : `${failures.length} failed`} in ${((Date.now() - started) / 1000).toFixed(1)} s`
)
process.exit(failures.length === 0 ? 0 : 1)
