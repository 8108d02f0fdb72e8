#!/usr/bin/env bash
# Installs Ockam Rust's `ockam` command, version 0.139.0, from the Rust crate registry, once per
# machine, and prints the path of the binary on stdout (progress goes to stderr):
#
#   OCKAM_RUST=$(scripts/ockam-rust.sh)
#   OCKAM_HOME=/tmp/rust-home "$OCKAM_RUST" node create n1
#
# - Everything goes to ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/rust/ (the binary under
#   ockam-0.139.0/bin, the crate sources and cargo's target directory beside it), never into the
#   checkout: nothing from Ockam's repository is committed or copied here.
# - The published crate `ockam_command` 0.139.0 is built with the Cargo.lock it ships (so every
#   dependency is the version Ockam released with), with `--no-default-features --features
#   orchestrator,rust-crypto`: the default `ebpf` feature embeds a kernel object that is not in the
#   published crate and needs root.
# - Two one-line patches make it build with today's Rust (cargo 1.95 here; Ockam released 0.139
#   with Rust 1.81), and change nothing it does:
#   - `size-of` 0.1.5 (used by Ockam's terminal UI crate) implements a trait for function pointers
#     of the "aapcs", "stdcall" and "fastcall" calling conventions, which rustc now rejects on
#     x86-64 (error E0570). The patched copy drops those three lines; cargo uses it through
#     `[patch.crates-io]`, so the lock file changes only in that entry.
#   - `ockam_command`'s async blocks now overflow rustc's default query depth ("queries overflow
#     the depth limit!", 26 times): its src/lib.rs gets `#![recursion_limit = "256"]`, as rustc
#     advises.
# - Crates are downloaded from static.crates.io and checked against the sha256 the crates.io index
#   publishes for them.
# - A cold build takes about 20 minutes on a 2-core machine (7m37 + 8m01 + 4m31 here, in three
#   runs stopped by the two errors the patches fix); afterwards this returns at once.
# - Exits non-zero, saying why, when cargo is missing or a download or the build fails.
set -euo pipefail
version=0.139.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts/rust
root=$cache/ockam-$version
bin=$root/bin/ockam
src=$cache/src

say() { echo "ockam-rust: $*" >&2; }

# fetch NAME VERSION: downloads a crate into $src and unpacks it, after checking its sha256.
fetch() {
  local name=$1 vers=$2 file="$src/$1-$2.crate" prefix
  [ -d "$src/$name-$vers" ] && return
  case ${#name} in
  1) prefix=1 ;; 2) prefix=2 ;; 3) prefix=3/${name:0:1} ;; *) prefix=${name:0:2}/${name:2:2} ;;
  esac
  local want
  want=$(curl -sSfL "https://index.crates.io/$prefix/$name" |
    node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>{for(const l of t.split("\n")){if(!l)continue;const e=JSON.parse(l);if(e.vers===process.argv[1])console.log(e.cksum)}})' "$vers")
  [ -n "$want" ] || { say "no $name $vers in the crates.io index"; exit 1; }
  curl -sSfL -o "$file" "https://static.crates.io/crates/$name/$vers/download"
  echo "$want  $file" | sha256sum -c --quiet - || { say "$name $vers: checksum mismatch"; exit 1; }
  tar -xzf "$file" -C "$src"
  rm -f "$file"
}

if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$version"; then
  command -v cargo >/dev/null || { say "cargo is not installed; Ockam Rust $version cannot be built"; exit 1; }
  start=$SECONDS
  mkdir -p "$src" "$root/bin"
  if [ ! -d "$src/ockam_command-$version" ]; then
    fetch ockam_command "$version"
    sed -i '1i #![recursion_limit = "256"]' "$src/ockam_command-$version/src/lib.rs"
  fi
  if [ ! -d "$src/size-of-0.1.5" ]; then
    fetch size-of 0.1.5
    sed -i -E '/^    "(aapcs|stdcall|fastcall)",$/d' "$src/size-of-0.1.5/src/core_impls.rs"
  fi
  say "building ockam_command $version with $(cargo --version) into $cache (once per machine)"
  (cd "$src/ockam_command-$version" &&
    cargo build --release --bin ockam --no-default-features --features orchestrator,rust-crypto \
      --config "patch.crates-io.size-of.path=\"$src/size-of-0.1.5\"" \
      --target-dir "$cache/target" >&2)
  cp "$cache/target/release/ockam" "$bin.tmp" && mv "$bin.tmp" "$bin"
  say "built in $((SECONDS - start)) s"
fi
echo "$bin"
