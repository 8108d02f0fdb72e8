#!/usr/bin/env bash
# Builds local-kms (github.com/nsmithuk/local-kms, a KMS API endpoint in Go with real ECDSA keys
# that persist in a directory) through the Go module proxy, once per machine, and prints the path
# of its binary on stdout (progress goes to stderr):
#
#   OCKAM_LOCAL_KMS=$(scripts/local-kms.sh)
#   PORT=4599 KMS_DATA_PATH=/tmp/kms KMS_REGION=eu-west-1 "$OCKAM_LOCAL_KMS"
#
# - Everything goes to ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/local-kms/<version>/ (the binary under
#   bin/, the module cache beside it), never into the checkout.
# - The version is pinned (a pseudo-version of its main branch, which has no newer tag); the Go
#   command checks every module against the checksum database.
# - Why local-kms and not moto: packages/vault-aws-kms/README.md.
# - Exits non-zero, saying why, when go is missing or too old (local-kms needs Go 1.20) or the
#   build fails.
set -euo pipefail
version=${LOCAL_KMS_VERSION:-v0.0.0-20260228092603-2a5e92d09ab6}
root=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts/local-kms/$version
bin=$root/bin/local-kms

say() { echo "local-kms: $*" >&2; }

if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { say "go is missing (Go 1.20 or later builds local-kms)"; exit 1; }
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ "${go_minor:-0}" -ge 20 ] || { say "$(go env GOVERSION) is too old: local-kms needs Go 1.20"; exit 1; }

say "building github.com/nsmithuk/local-kms@$version into $root"
mkdir -p "$root/bin"
GOBIN="$root/bin" GOMODCACHE="$root/gomod" GOFLAGS=-modcacherw CGO_ENABLED=0 \
  go install "github.com/nsmithuk/local-kms@$version" >&2
[ -x "$bin" ] || { say "$bin is missing after the build"; exit 1; }
echo "$bin"
