#!/usr/bin/env bash
# Opt-in: installs NautilusTrader for the side-by-side benchmark in scripts/bench.sh
# (bench/nautilus/tick_crossover.py). Idempotent, and says what it does:
#   - finds a Python 3.12 interpreter (python3.12 on PATH, or one of pyenv's 3.12 versions);
#   - creates a project-local virtual environment, .venv-nautilus/, separate from .venv/;
#   - installs the pinned nautilus_trader wheel and its dependencies, with pandas pinned to 2.3,
#     from PyPI into it with pip (registry packages only; nothing is fetched from elsewhere).
# Quiet when everything is already there. Nothing else depends on it: scripts/setup.sh, the
# test suite and the demo never use .venv-nautilus; scripts/bench.sh runs the comparison when
# it exists and says how to enable it when it does not. Remove it with rm -rf .venv-nautilus.
#
# Usage: scripts/setup-nautilus.sh [PYTHON]    (PYTHON: a Python 3.12 interpreter to use)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The versions the comparison was checked with (fills and PnL equal to tradehost's); change them
# together with bench/nautilus/tick_crossover.py, which uses NautilusTrader's API.
NAUTILUS_TRADER_VERSION=1.231.0
# nautilus_trader 1.231 accepts pandas >=2.3.3,<4 and pip picks 3.x. Under pandas 3 (strings
# Arrow-backed by default) its portfolio's record of each closed position's PnL, a pd.concat
# onto a string-indexed Series, grows quadratically: the benchmark's 13,000 round trips took
# 860 s instead of about 90 s. pandas 2.3 keeps NautilusTrader at its usual speed; see
# docs/performance.md.
PANDAS_VERSION=2.3.3
venv="$root/.venv-nautilus"

case "${1:-}" in
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
esac

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

if [ ! -x "$venv/bin/python" ] || ! is_312 "$venv/bin/python"; then
    python="${1:-}"
    if [ -z "$python" ]; then
        candidates=(python3.12)
        pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
        if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
        for dir in "$pyenv_root"/versions/3.12*; do
            [ -x "$dir/bin/python3.12" ] && candidates+=("$dir/bin/python3.12")
        done
        for candidate in "${candidates[@]}"; do
            if command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
                python="$candidate"
                break
            fi
        done
    fi
    if [ -z "$python" ] || ! is_312 "$python"; then
        echo "setup-nautilus: error: no Python 3.12 found (nautilus_trader $NAUTILUS_TRADER_VERSION" \
            "needs 3.12+; tried python3.12 and pyenv's versions/3.12*). Pass one: $0 /path/to/python3.12" >&2
        exit 1
    fi
    if [ -e "$venv" ]; then
        echo "setup-nautilus: $venv is not a Python 3.12 environment; recreating it"
        rm -rf "$venv"
    fi
    echo "setup-nautilus: creating the Python virtual environment $venv ($python -m venv)"
    "$python" -m venv "$venv"
fi

want=("nautilus_trader==$NAUTILUS_TRADER_VERSION" "pandas==$PANDAS_VERSION")
missing=()
for spec in "${want[@]}"; do
    have="$("$venv/bin/python" -m pip show "${spec%%==*}" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    [ "$have" = "${spec##*==}" ] || missing+=("$spec")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-nautilus: installing ${want[*]} from PyPI into $venv (pip install)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${want[@]}"
fi
