#!/usr/bin/env bash
# Runs the whole test suite: the host's unit and binary tests, the SDK's tests, the
# integration tests (whose build script compiles the example strategies and test plugins once)
# and the example strategies' own unit tests, run natively through the SDK's test harness.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Formatting first: cheap, and a diff there is a finding like any failed test.
echo "test: cargo fmt --all -- --check"
cargo fmt --all -- --check
# Default members: host, sdk, tests. Guest crates are built for wasm32-wasip2 by tests/build.rs.
cargo test "$@"
# The examples are guest crates outside the default members; their tests run natively.
examples=()
for manifest in examples/*/Cargo.toml; do
    name=$(sed -n '/^\[package\]/,/^\[/{s/^name *= *"\(.*\)"/\1/p}' "$manifest")
    examples+=(-p "$name")
done
cargo test "${examples[@]}" "$@"
# The Python SDK's own tests, under the venv's CPython (the integration tests build the
# Python components and run them in the host).
if [ -x .venv/bin/python ]; then
    .venv/bin/python -m unittest discover -s sdk/python/tests
else
    echo "test: no .venv (scripts/setup.sh found no python3): Python SDK tests skipped" >&2
fi
