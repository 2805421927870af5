#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md: machine facts, then for each benchmark the
# exact command, the load average when it ran, and what it printed. Nothing in the file is
# typed by hand: rerun this script to refresh it.
#
# Usage: scripts/bench.sh [OUTPUT]        (default OUTPUT: BENCHMARKS.md in the repository)
#   DATA_DIR   folder of the shared real data (default ../shared/data); the backtest
#              benchmark needs ticks/equity_trades_SPY_2013-10-07_2013-10-11.csv.gz from it
#              and is skipped, saying so, when it is missing.
#
# Takes about a minute on 2 cores once the release build exists (the first release build of
# the host alone takes about 10). Run it on a quiet machine: every figure moves with load.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-$root/BENCHMARKS.md}"
data_dir="${DATA_DIR:-$root/../shared/data}"
spy="$data_dir/ticks/equity_trades_SPY_2013-10-07_2013-10-11.csv.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
body="$work/body.md"
targets="$work/targets.md"
: >"$body"
: >"$targets"

load() { cut -d' ' -f1-3 /proc/loadavg; }

# run TITLE DESCRIPTION COMMAND...: runs the command, appends its output under a heading.
run() {
    local title="$1" description="$2"
    shift 2
    echo "== $title" >&2
    local before
    before="$(load)"
    local log="$work/run.log"
    if ! "$@" >"$log" 2>"$work/err.log"; then
        echo "benchmark failed: $*" >&2
        tail -n 30 "$work/err.log" >&2
        exit 1
    fi
    {
        echo "## $title"
        echo
        echo "$description"
        echo
        echo "Command: \`$*\` (load average before: $before, after: $(load))"
        echo
        grep -v '^TARGET|' "$log"
        echo
    } >>"$body"
    grep '^TARGET|' "$log" | cut -d'|' -f2- >>"$targets" || true
}

echo "building (release host, guest plugins)" >&2
./scripts/setup.sh
./scripts/build-plugins.sh >/dev/null
cargo build --release -q -p tradehost
cargo bench -q --no-run -p tradehost -p tradehost-tests 2>/dev/null

for bench in host/benches/*.rs tests/benches/*.rs; do
    name=$(basename "$bench" .rs)
    if [ "$name" = backtest ] && [ ! -f "$spy" ]; then
        printf '## backtest\n\nSkipped: %s is missing (set DATA_DIR to the shared data folder).\n\n' "$spy" >>"$body"
        continue
    fi
    package=tradehost
    [[ "$bench" == tests/* ]] && package=tradehost-tests
    # The first paragraph of each benchmark's `//!` comment says what it measures.
    description=$(awk '/^\/\/!/ { line = $0; sub(/^\/\/! ?/, "", line); if (line == "") exit; print line; next } { exit }' "$bench" | tr '\n' ' ' | sed 's/ $//')
    case "$name" in
        trainer_throughput) env_prefix=(env RAYON_NUM_THREADS=1) ;;
        backtest) env_prefix=(env "BACKTEST_DATA=$spy") ;;
        *) env_prefix=() ;;
    esac
    run "$(echo "$name" | tr '_' ' ')" "$description" \
        "${env_prefix[@]}" cargo bench -q -p "$package" --bench "$name"
done

# Before the output file is truncated below, or it would count as an uncommitted change.
revision="$(git rev-parse --short HEAD)$(git diff --quiet -- . ":(exclude)$out" || echo ' (with uncommitted changes)')"
{
    echo "# Benchmarks"
    echo
    echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $revision."
    echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r); $(rustc -V)."
    echo "Every figure below was printed by the command shown above it, in this run; figures move"
    echo "with the machine's load, shown for each. What they mean, and what was tried: [docs/performance.md](docs/performance.md)."
    echo
    echo "## Targets"
    echo
    echo "| what | measured | target | |"
    echo "| --- | ---: | ---: | --- |"
    while IFS='|' read -r what measured target verdict; do
        echo "| $what | $measured | $target | $verdict |"
    done <"$targets"
    echo
    cat "$body"
} >"$out"
echo "wrote $out" >&2
