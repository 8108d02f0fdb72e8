#!/usr/bin/env bash
# The README demo: three nodes on this machine, a message routed n1 -> n2 -> n3 over TCP.
# State goes to a fresh temporary OCKAM_HOME unless you set one.
set -euo pipefail
cd "$(dirname "$0")/.."
export OCKAM_HOME="${OCKAM_HOME:-$(mktemp -d /tmp/ockam-demo.XXXXXX)}"
ockam() { ./ockam "$@"; }
trap 'ockam node delete --all --yes >/dev/null 2>&1 || true' EXIT

echo "OCKAM_HOME=$OCKAM_HOME"
set -x
ockam node create n1
ockam node create n2
ockam node create n3
ockam message send "hello ockam!" --from n1 --to /node/n1/node/n2/node/n3/service/uppercase
