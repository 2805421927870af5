#!/usr/bin/env bash
# Builds the example strategies as wasm32-wasip2 components and copies them into plugins/.
#
# Usage: scripts/build-plugins.sh [--fixtures] [PLUGINS_DIR]
#   --fixtures   also build the test fixtures (tests/fixtures/*) into target/guests
#   PLUGINS_DIR  where to copy the examples' .wasm files (default: plugins/ in the repository)
#
# Installs the wasm32-wasip2 target with rustup when it is missing. The build goes to its own
# target directory, target/guests, shared with the tests' build script.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=wasm32-wasip2
profile=guest
fixtures=0
dest="$root/plugins"
for arg in "$@"; do
    case "$arg" in
        --fixtures) fixtures=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) dest="$arg" ;;
    esac
done

if ! rustc --print target-libdir --target "$target" >/dev/null 2>&1 \
    || [ -z "$(ls -A "$(rustc --print target-libdir --target "$target")" 2>/dev/null)" ]; then
    echo "installing the Rust target $target (rustup target add $target)" >&2
    rustup target add "$target"
fi

# Package names of the crates directly under a folder.
packages_in() {
    for manifest in "$1"/*/Cargo.toml; do
        [ -f "$manifest" ] || continue
        sed -n '/^\[package\]/,/^\[/{s/^name *= *"\(.*\)"/\1/p}' "$manifest"
    done
}

examples=($(packages_in "$root/examples"))
packages=("${examples[@]}")
if [ "$fixtures" = 1 ]; then
    packages+=($(packages_in "$root/tests/fixtures"))
fi
if [ "${#packages[@]}" = 0 ]; then
    echo "error: no strategy crates found under $root/examples" >&2
    exit 1
fi

args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
cd "$root"
# Flags meant for native builds must not reach the guest build.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
    cargo build --profile "$profile" --target "$target" --target-dir "$root/target/guests" "${args[@]}"

out="$root/target/guests/$target/$profile"
mkdir -p "$dest"
for p in "${examples[@]}"; do
    file="$out/${p//-/_}.wasm"
    # Copy then rename, so a running host never sees a half-written file.
    cp "$file" "$dest/.${p}.wasm.tmp"
    mv -f "$dest/.${p}.wasm.tmp" "$dest/${p}.wasm"
    printf '%-28s %8d bytes\n' "$dest/${p}.wasm" "$(stat -c %s "$dest/${p}.wasm")"
done
