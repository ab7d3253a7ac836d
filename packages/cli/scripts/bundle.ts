// The `dial` executable as one file: every import (effect, @dial/*, platform-node) bundled and
// tree-shaken, so a run reads and compiles one module instead of resolving some hundreds of
// files. That is most of the bin's start-up cost (docs/cli.md, "Start-up").
// The library entry points stay unbundled tsc output: users bring their own effect (a peer).
import { build } from "esbuild"
import { chmodSync, writeFileSync } from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")

await build({
  entryPoints: [path.join(root, "src", "bin.ts")],
  outfile: path.join(root, "dist", "dial-main.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  // Shorter names: V8 compiles a third less source on every start.
  minify: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "none",
  // esbuild keeps the shebang of the entry point; ESM bundles of CommonJS packages need require.
  banner: {
    js: 'import { createRequire as __dialRequire } from "node:module";const require=__dialRequire(import.meta.url);'
  },
  logLevel: "warning"
})

// The bin itself: turns on V8's compile cache (Node >= 22.1; kept under the temp directory)
// before loading the bundle, so that runs after the first skip compiling it. Where the cache
// cannot be written, Node goes on without it.
const launcher = path.join(root, "dist", "dial.js")
writeFileSync(
  launcher,
  `#!/usr/bin/env node
import module from "node:module"
module.enableCompileCache?.()
await import("./dial-main.js")
`
)
chmodSync(launcher, 0o755)
