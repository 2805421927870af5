#!/usr/bin/env bash
# Installs what tradehost needs beyond the Rust toolchain: the wasm32-wasip2 target that
# strategies are compiled for. Idempotent and quiet when everything is already there.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found. Install Rust from https://rustup.rs and run this again." >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "Installing the wasm32-wasip2 target (strategies are compiled to it)..."
    rustup target add wasm32-wasip2
  fi
else
  echo "warning: rustup not found; make sure your toolchain has the wasm32-wasip2 target." >&2
fi
