// Type-checks every ```ts sample in docs/*.md and the packages' READMEs: each block becomes
// a module under docs/_samples/ and `tsc` checks them against the workspace's packages.
// A block fenced as ```ts no-check is shown but not checked (shell transcripts, fragments).
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, "docs", "_samples")
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const sources = [
  ...readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f)),
  "README.md",
  ...readdirSync(path.join(root, "packages")).map((p) => path.join("packages", p, "README.md"))
]

let count = 0
for (const source of sources) {
  let text: string
  try {
    text = readFileSync(path.join(root, source), "utf8")
  } catch {
    continue
  }
  const fence = /^```ts( no-check)?\n([\s\S]*?)^```$/gm
  for (const match of text.matchAll(fence)) {
    if (match[1] !== undefined) continue
    const line = text.slice(0, match.index).split("\n").length
    const name = `${source.replace(/[/.]/g, "_")}_L${line}.ts`
    writeFileSync(path.join(out, name), `// ${source}:${line}\n${match[2]}\nexport {}\n`)
    count++
  }
}
console.error(`check-docs: ${count} samples from ${sources.length} files`)
try {
  execFileSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", path.join(root, "docs", "tsconfig.json")], {
    stdio: "inherit"
  })
} catch {
  console.error("check-docs: a documentation sample does not type-check (see above)")
  process.exit(1)
}
