#!/usr/bin/env bash
# Runs Ockam's own command tests for local use (the bats suite of build-trust/ockam at 0.139.0,
# implementations/rust/ockam/ockam_command/tests/bats/local) against an `ockam` command — ours by
# default — and prints one line per test and the pass count:
#
#   scripts/ockam-bats.sh ~/src/ockam                     # ours (apps/cli/bin/ockam.js; pnpm build first)
#   OCKAM=$(scripts/ockam-rust.sh) scripts/ockam-bats.sh ~/src/ockam   # Ockam Rust, as the reference
#   scripts/ockam-bats.sh ~/src/ockam local/nodes.bats -f 'HTTP server'   # part of the suite
#
# The first argument is a checkout of build-trust/ockam (or its tests/bats folder). Its test files
# are not part of this repository and are never copied into it: this script only runs them.
# - bats, bats-support and bats-assert come from the npm registry and uploadserver (the suite's
#   HTTP server) from PyPI, as the suite's README says; both are installed once into
#   ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/bats/. GNU parallel is needed only for BATS_JOBS > 1.
# - Every test gets a fresh OCKAM_HOME under a temporary folder, removed afterwards.
# - BATS_TEST_TIMEOUT (default 120 s) bounds each test; BATS_JOBS (default 1) runs tests in parallel.
# - The TAP output is also kept in $BATS_TAP (default: a temporary file, printed at the end).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OCKAM_CHECKOUT [bats files or flags, relative to tests/bats]" >&2; exit 2; }
src=$1; shift
if [ -d "$src/implementations/rust/ockam/ockam_command/tests/bats" ]; then
  suite=$src/implementations/rust/ockam/ockam_command/tests/bats
elif [ -d "$src/local" ] && [ -d "$src/load" ]; then
  suite=$src
else
  echo "ockam-bats: $src is neither a checkout of build-trust/ockam nor its tests/bats folder" >&2
  exit 2
fi
[ $# -ge 1 ] || set -- local

cache=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts/bats
mkdir -p "$cache"
if [ ! -x "$cache/node_modules/bats/bin/bats" ]; then
  echo "ockam-bats: installing bats, bats-support and bats-assert into $cache" >&2
  (cd "$cache" && npm install --silent --no-audit --no-fund --prefix . bats@1 bats-support bats-assert >&2)
fi
if [ ! -x "$cache/venv/bin/uploadserver" ]; then
  echo "ockam-bats: installing uploadserver into $cache/venv" >&2
  python3 -m venv "$cache/venv" >&2
  "$cache/venv/bin/pip" install --quiet uploadserver >&2
fi

export OCKAM=${OCKAM:-$here/apps/cli/bin/ockam.js}
[ -x "$OCKAM" ] || { echo "ockam-bats: $OCKAM is not executable (run pnpm build?)" >&2; exit 2; }
export BATS_LIB=$cache/node_modules
export PATH=$cache/node_modules/bats/bin:$cache/venv/bin:$PATH
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}
base=$(mktemp -d "${TMPDIR:-/tmp}/ockam-bats.XXXXXX")
trap 'OCKAM_HOME=$base "$OCKAM" node delete --all --yes >/dev/null 2>&1 || true; rm -rf "$base"' EXIT
export OCKAM_HOME=$base
tap=${BATS_TAP:-$base.tap}
jobs=()
[ "${BATS_JOBS:-1}" -gt 1 ] && jobs=(-j "$BATS_JOBS")

cd "$suite"
status=0
bats --timing --tap "${jobs[@]}" "$@" | tee "$tap" || status=$?
passed=$(grep -c '^ok ' "$tap" || true)
total=$(grep -cE '^(ok|not ok) ' "$tap" || true)
echo "ockam-bats: $passed of $total passed against $OCKAM (TAP in $tap)"
exit $status
