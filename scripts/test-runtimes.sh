#!/usr/bin/env bash
# The I/O-free core's tests (dist/test/protocol/) under Deno and Bun: src/protocol/ imports
# nothing from node:*, and this shows it runs there. The tests themselves use node:test and
# node:assert, which both runtimes provide.
#
#   scripts/test-runtimes.sh [deno] [bun]     (both when none is named)
#
# Compile first (npx tsc -p tsconfig.json, or npm test). Each runtime is the pinned release's
# Linux x64 binary from its npm platform package, installed on first use into
# $WS13_RUNTIME_CACHE (/tmp/ws13-runtimes), never into this project. Exits 1 naming the
# runtimes whose tests failed.
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
BUN_VERSION=1.4.5
cache=${WS13_RUNTIME_CACHE:-/tmp/ws13-runtimes}

if ! compgen -G 'dist/test/protocol/*.test.js' >/dev/null; then
  echo "dist/test/protocol/ has no compiled tests: compile first (npx tsc -p tsconfig.json)" >&2
  exit 2
fi
if [ "$(uname -sm)" != 'Linux x86_64' ]; then
  echo "scripts/test-runtimes.sh installs Linux x64 binaries; this is $(uname -sm)" >&2
  exit 2
fi

# fetch DIR PACKAGE@VERSION: the platform package, which holds the binary itself.
fetch() {
  npm install --prefix "$1" --no-save --no-package-lock --no-audit --no-fund "$2" >/dev/null
}

# `deno test` runs node:test tests as its own; --no-check: they are compiled JavaScript.
# Read (the tests' files), env (CI, SUT) and run (clang-14, for the encoder's C source).
# Once a file has called node:test's test(), `deno test` ignores an error thrown later by
# that file's top-level code, and the tests after it silently go missing; so the files are
# first imported with `deno eval`, where test() runs nothing, and one that throws fails.
run_deno() (
  local dir=$cache/deno-$DENO_VERSION
  local bin=$dir/node_modules/@deno/linux-x64-glibc/deno
  [ -x "$bin" ] || fetch "$dir" "@deno/linux-x64-glibc@$DENO_VERSION"
  echo "== the core's tests on $("$bin" --version | head -1)"
  export DENO_DIR=$dir/cache DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
  "$bin" eval '
    import { pathToFileURL } from "node:url";
    for (const file of Deno.args) {
      try {
        await import(pathToFileURL(file).href);
      } catch (error) {
        console.error(`${file} does not load on Deno:`, error);
        Deno.exit(1);
      }
    }' dist/test/protocol/*.test.js &&
    "$bin" test --no-check --allow-read --allow-env --allow-run dist/test/protocol/
)

# `bun test` runs node:test tests as its own. A path starting with ./ is a path, not a filter.
run_bun() {
  local dir=$cache/bun-$BUN_VERSION
  local bin=$dir/node_modules/@oven/bun-linux-x64/bin/bun
  [ -x "$bin" ] || fetch "$dir" "@oven/bun-linux-x64@$BUN_VERSION"
  echo "== the core's tests on Bun $("$bin" --version)"
  DO_NOT_TRACK=1 NO_COLOR=1 "$bin" test ./dist/test/protocol/
}

runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(deno bun)
failed=()
for r in "${runtimes[@]}"; do
  case $r in
    deno) run_deno || failed+=("Deno $DENO_VERSION") ;;
    bun) run_bun || failed+=("Bun $BUN_VERSION") ;;
    *) echo "unknown runtime: $r (deno, bun)" >&2; exit 2 ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  printf -v list '%s, ' "${failed[@]}"
  echo "the core's tests failed on ${list%, }" >&2
  exit 1
fi
