#!/usr/bin/env bash
# Sets up and runs tradehost in demo mode: installs the wasm32-wasip2 target if missing,
# builds the example strategies into plugins/, and starts the daemon on bundled real
# trades (no API key, no network). Stop it with Ctrl-C. Extra arguments go to `run`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-plugins.sh
exec cargo run -p tradehost -- run --demo "$@"
