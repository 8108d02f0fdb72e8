#!/usr/bin/env bash
# Installs Ockam Rust's `ockam` command, version 0.139.0, from the Rust crate registry, once per
# machine, and prints the path of the binary on stdout (progress goes to stderr):
#
#   OCKAM_RUST=$(scripts/ockam-rust.sh)
#   OCKAM_HOME=/tmp/rust-home "$OCKAM_RUST" node create n1
#
# - The build goes to ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/rust/ (binary under ockam-0.139.0/bin,
#   cargo's target directory beside it for a rebuild), never into the checkout: nothing from
#   Ockam's repository is committed or copied here.
# - Features: the default `ebpf` feature embeds a kernel object that is not in the published crate
#   and needs root, so it is left out; `orchestrator` and `rust-crypto` are what Ockam's release
#   builds carry besides it. `--locked` uses the crate's own Cargo.lock.
# - A cold build takes about 35 minutes on a 2-core machine; afterwards this returns at once.
# - Exits non-zero, saying why, when cargo is missing or the build fails.
set -euo pipefail
version=0.139.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts/rust
root=$cache/ockam-$version
bin=$root/bin/ockam

if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "ockam $version"; then
  command -v cargo >/dev/null || {
    echo "ockam-rust: cargo is not installed; Ockam Rust $version cannot be built" >&2
    exit 1
  }
  echo "ockam-rust: building ockam_command $version with cargo into $root (once per machine)" >&2
  start=$SECONDS
  cargo install ockam_command --version "$version" --locked \
    --no-default-features --features orchestrator,rust-crypto \
    --root "$root" --target-dir "$cache/target" >&2
  echo "ockam-rust: built in $((SECONDS - start)) s" >&2
fi
echo "$bin"
