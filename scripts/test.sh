#!/usr/bin/env bash
# Runs the whole test suite: the host's unit tests, the SDK's tests and the integration
# tests (whose build script compiles the example strategies and test plugins once).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Default members: host, sdk, tests. Guest crates are built for wasm32-wasip2 by tests/build.rs.
cargo test "$@"
