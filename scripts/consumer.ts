// A user's project, outside the workspace: every package packed (`pnpm pack` builds first and
// applies publishConfig), the tarballs installed with npm next to effect and its peers, and
// Node binaries of each supported major from the npm registry's `node` package. Used by
// scripts/consume.ts (the pack-and-consume test) and packages/cli/bench/startup.ts.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "..")
export const packages = ["core", "node", "testkit", "cli"] as const

const quiet = {
  ...process.env,
  npm_config_loglevel: "error",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false"
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  execFileSync(command, args, { cwd, env: quiet, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })

/** npm with retries: one bad response from the registry should not fail the run. */
const npmInstall = (cwd: string, args: ReadonlyArray<string>) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return run(
        "npm",
        ["install", "--prefer-offline", "--fetch-retries=5", "--fetch-retry-mintimeout=1000", ...args],
        cwd
      )
    } catch (error) {
      if (attempt === 3) throw error
      console.error(`consumer: npm install failed (attempt ${attempt}), retrying`)
    }
  }
}

const versionOf = (name: string): string => {
  const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"))
  const cli = JSON.parse(readFileSync(path.join(root, "packages", "cli", "package.json"), "utf8"))
  const version = manifest.devDependencies?.[name] ?? cli.devDependencies?.[name]
  if (typeof version !== "string") throw new Error(`no pinned version of ${name} in the workspace`)
  return version
}

/** Packs every package into `dir`; returns the tarball of each by package name. */
export const pack = (dir: string): Record<string, string> => {
  mkdirSync(dir, { recursive: true })
  const tarballs: Record<string, string> = {}
  for (const name of packages) {
    const before = new Set(readdirSync(dir))
    run("pnpm", ["pack", "--pack-destination", dir], path.join(root, "packages", name))
    const made = readdirSync(dir).find((file) => !before.has(file) && file.endsWith(".tgz"))
    if (made === undefined) throw new Error(`pnpm pack of ${name} made no tarball`)
    tarballs[`@dial/${name}`] = path.join(dir, made)
  }
  return tarballs
}

/**
 * A fresh project in `dir` with the tarballs installed as a user would: dependencies
 * `@dial/*`, effect and @effect/platform-node (peers); vitest and @effect/vitest for the
 * testkit; @types/node. npm resolves @dial/node's own dependency on @dial/core to the tarball
 * through `overrides`, never the registry.
 */
export const install = (dir: string, tarballs: Record<string, string>) => {
  mkdirSync(dir, { recursive: true })
  const files = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]))
  const manifest = {
    name: "dial-consumer",
    private: true,
    type: "module",
    dependencies: {
      ...files,
      effect: versionOf("effect"),
      "@effect/platform-node": versionOf("@effect/platform-node")
    },
    devDependencies: {
      "@effect/vitest": versionOf("@effect/vitest"),
      "@types/node": versionOf("@types/node"),
      vitest: versionOf("vitest")
    },
    overrides: files
  }
  writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  npmInstall(dir, ["--no-package-lock"])
}

/**
 * The `node` binary of a major version from the npm registry, cached under `.cache/node/`
 * (gitignored): installed once, reused by later runs.
 */
export const nodeBinary = (major: 22 | 24): string => {
  const dir = path.join(root, ".cache", "node", String(major))
  const bin = path.join(dir, "node_modules", ".bin", "node")
  const works = () => {
    if (!existsSync(bin)) return false
    try {
      return run(bin, ["--version"], dir).startsWith(`v${major}.`)
    } catch {
      return false
    }
  }
  if (!works()) {
    mkdirSync(dir, { recursive: true })
    if (!existsSync(path.join(dir, "package.json")))
      writeFileSync(path.join(dir, "package.json"), '{ "private": true }\n')
    npmInstall(dir, ["--no-save", "--no-package-lock", `node@${major}`])
    if (!works()) throw new Error(`node@${major} from the npm registry does not run`)
  }
  return bin
}
