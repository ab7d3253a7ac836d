#!/usr/bin/env bash
# The workspace's one entry point: brings a supported Node and pnpm when the machine lacks
# them (from the npm registry only), installs the locked dependencies, then runs a task.
#
#   bash scripts/dev.sh demo   # the main job
#   bash scripts/dev.sh test   # type-check, lint, pack-and-consume, and every test
#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

node_version=24.21.0
# pnpm is pinned here, not by package.json's "packageManager": with that field pnpm 12 also
# records the pin in the lockfile, which it cannot do against a registry that does not list
# the version's signatures, and a frozen install then fails.
pnpm_version=12.21.0
toolchain="$root/.toolchain"

# Node >= 22.19 is required (@effect/platform-node declares it; vitest 5 and type stripping
# need less); older machines get Node 24 from the npm registry's `node` package.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'
}

export npm_config_loglevel=${npm_config_loglevel:-error}
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
if [ -x "$toolchain/node_modules/.bin/node" ]; then
  export PATH="$toolchain/node_modules/.bin:$PATH"
fi
if ! node_ok || ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  echo "dev: bringing node@$node_version and pnpm@$pnpm_version into .toolchain/ from the npm registry" >&2
  mkdir -p "$toolchain"
  # Install from inside .toolchain rather than with --prefix: --prefix also moves npm's
  # *global* config file to <prefix>/etc/npmrc, dropping the machine's own settings (here,
  # the cafile its registry's TLS needs).
  [ -f "$toolchain/package.json" ] || echo '{ "private": true }' > "$toolchain/package.json"
  # npm retries each fetch; the loop retries the whole install, so one bad request to the
  # registry does not fail the task.
  for attempt in 1 2 3; do
    if (cd "$toolchain" && npm install --no-save --no-package-lock \
      --fetch-retries=5 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=10000 \
      "node@$node_version" "pnpm@$pnpm_version" >&2); then
      break
    fi
    [ "$attempt" = 3 ] && { echo "dev: could not install the toolchain from the npm registry" >&2; exit 1; }
    echo "dev: toolchain install failed (attempt $attempt), retrying" >&2
  done
  export PATH="$toolchain/node_modules/.bin:$PATH"
fi
node_ok || { echo "dev: node >= 22.19 is required, found $(node --version)" >&2; exit 1; }

# Install only when the lockfile changed since the last install.
stamp=node_modules/.dial-install-stamp
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  for attempt in 1 2 3; do
    if pnpm install --frozen-lockfile --reporter=append-only >&2; then break; fi
    [ "$attempt" = 3 ] && { echo "dev: pnpm install failed" >&2; exit 1; }
    echo "dev: pnpm install failed (attempt $attempt), retrying" >&2
  done
  touch "$stamp"
fi

task=${1:-}
shift || true
case "$task" in
  demo) exec pnpm run --silent demo "$@" ;;
  test)
    echo "dev: type-check" >&2
    pnpm run --silent check
    echo "dev: lint" >&2
    pnpm run --silent lint
    # What users get from npm: tarballs installed outside the workspace, on Node 22 and 24.
    echo "dev: pack and consume" >&2
    node scripts/consume.ts
    report=$(mktemp -t dial-vitest-XXXXXX.json)
    status=0
    pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
    # One plain closing line, the form CI reads: "tests: N passed, N failed, N skipped".
    node scripts/summary.ts "$report" || status=1
    rm -f "$report"
    exit "$status"
    ;;
  bench) exec pnpm run --silent bench "$@" ;;
  pnpm) exec pnpm "$@" ;;
  *) echo "usage: bash scripts/dev.sh demo|test|bench|pnpm ..." >&2; exit 2 ;;
esac
