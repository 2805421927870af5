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
# NautilusTrader side by side (issue 11): when .venv-nautilus/ exists (made by the opt-in
# scripts/setup-nautilus.sh), the tick crossover runs once under NautilusTrader
# (bench/nautilus/tick_crossover.py) and several times under tradehost's release build, on the
# same SPY file, and the whole-process times and their ratio are written with the commands.
# Without .venv-nautilus that part is skipped, saying how to enable it.
#
# Takes about a minute on 2 cores once the release build exists (the first release build of
# the host alone takes about 10), and NautilusTrader's run adds two to four minutes. Run it
# on a quiet machine: every figure moves with load.
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

# --- NautilusTrader side by side (issue 11) -------------------------------------------------
nautilus_python="$root/.venv-nautilus/bin/python"
nautilus_script="$root/bench/nautilus/tick_crossover.py"
if [ ! -x "$nautilus_python" ]; then
    echo "== NautilusTrader side by side: skipped (.venv-nautilus is missing; run scripts/setup-nautilus.sh to enable it)" >&2
    printf '## NautilusTrader side by side\n\nSkipped: .venv-nautilus is missing. Run `scripts/setup-nautilus.sh` (installs NautilusTrader from PyPI into .venv-nautilus, opt-in) and this script again.\n\n' >>"$body"
elif [ ! -f "$spy" ]; then
    printf '## NautilusTrader side by side\n\nSkipped: %s is missing (set DATA_DIR to the shared data folder).\n\n' "$spy" >>"$body"
else
    echo "== NautilusTrader side by side" >&2
    ./scripts/build-plugins.sh --fixtures >/dev/null
    target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    tradehost_bin="$target_dir/release/tradehost"
    tick_plugin="$root/target/guests/wasm32-wasip2/guest/tick_crossover.wasm"
    # A frictionless broker with the risk limits out of the way (the only default in the way is
    # 10 orders a second); --env /dev/null so that a local .env changes nothing.
    tradehost_env=(env BROKER_SLIPPAGE_BPS=0 BROKER_FEE_BPS=0 BROKER_FEE_PER_SHARE=0 BROKER_LATENCY_MS=0
        RISK_MAX_ORDERS_PER_SEC=100000 "XDG_CACHE_HOME=$work/side/cache" "PLUGIN_CACHE_DIR=$work/side/plugin-cache")
    tradehost_cmd=("$tradehost_bin" backtest --env /dev/null --data "$spy" --plugins "$tick_plugin")
    nautilus_cmd=("$nautilus_python" "$nautilus_script" --data "$spy")
    mkdir -p "$work/side"
    rows="$work/side/rows.md"
    : >"$rows"

    # timed LOG CMD...: runs CMD (stdout to LOG) and prints "wall user sys peak_MB" of its whole
    # process, start to exit.
    timed() {
        local log="$1"
        shift
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f '%e %U %S %M' -o "$work/side/time" "$@" >"$log" 2>"$work/side/err.log" \
                || { echo "failed: $*" >&2; tail -n 30 "$work/side/err.log" >&2; exit 1; }
            awk '{ printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$work/side/time"
        else
            local TIMEFORMAT='%3R %3U %3S'
            { time "$@" >"$log" 2>"$work/side/err.log"; } 2>"$work/side/time" \
                || { echo "failed: $*" >&2; tail -n 30 "$work/side/err.log" >&2; exit 1; }
            awk '{ printf "%.2f %.2f n/a\n", $1, $2 + $3 }' "$work/side/time"
        fi
    }

    # The warm-up compiles the plugin into its artifact cache and fills the trade cache.
    timed "$work/side/warm.log" "${tradehost_env[@]}" "${tradehost_cmd[@]}" --out "$work/side/warm" >/dev/null
    runs=3
    for i in $(seq 1 $((runs * 2))); do
        from=cache
        extra=()
        if [ $((i % 2)) = 1 ]; then from=CSV; extra=(--no-cache); fi
        before="$(load)"
        timed "$work/side/run$i.log" "${tradehost_env[@]}" "${tradehost_cmd[@]}" --out "$work/side/run$i" "${extra[@]}" >"$work/side/t"
        read -r wall cpu peak <"$work/side/t"
        # The command prints "N trades in ...", then a line per plugin: name, fills, realised,
        # unrealised, ...
        trades="$(awk '$2 == "trades" && $3 == "in" { print $1; exit }' "$work/side/run$i.log")"
        fills="$(awk '$1 == "tick_crossover" { print $2 }' "$work/side/run$i.log")"
        pnl="$(awk '$1 == "tick_crossover" { printf "%.2f", $3 + $4 }' "$work/side/run$i.log")"
        echo "tradehost $from $wall $cpu $trades $fills $pnl" >>"$work/side/results"
        echo "| $i | tradehost | $from | $wall | $cpu | $peak | $fills | $pnl | $before |" >>"$rows"
    done
    before="$(load)"
    timed "$work/side/nautilus.log" "${nautilus_cmd[@]}" >"$work/side/t"
    read -r wall cpu peak <"$work/side/t"
    n_trades="$(sed -n 's/^trades //p' "$work/side/nautilus.log")"
    n_fills="$(sed -n 's/^fills //p' "$work/side/nautilus.log")"
    n_pnl="$(sed -n 's/^pnl //p' "$work/side/nautilus.log")"
    n_version="$(sed -n 's/^NautilusTrader \([^,]*\),.*/\1/p' "$work/side/nautilus.log")"
    n_wall="$wall"
    n_cpu="$cpu"
    echo "| $((runs * 2 + 1)) | NautilusTrader $n_version | CSV | $wall | $cpu | $peak | $n_fills | $n_pnl | $before |" >>"$rows"

    # median FROM FIELD: the median of tradehost's runs from CSV or cache (field 3 wall, 4 CPU).
    median() { awk -v from="$1" -v f="$2" '$1 == "tradehost" && $2 == from { print $f }' "$work/side/results" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }
    same=yes
    while read -r _ _ _ _ trades fills pnl; do
        [ "$trades" = "$n_trades" ] && [ "$fills" = "$n_fills" ] && [ "$pnl" = "$n_pnl" ] || same=NO
    done <"$work/side/results"
    {
        echo "## NautilusTrader side by side"
        echo
        echo "The tick crossover of issue 11 on the SPY trades of 2013-10-07..11 ($n_trades trades, without the rows the vendor flagged as suspicious): SMA(20)/SMA(100) on every trade in integer cents, \`d = 5*sum20 - sum100\`, 100 shares long when d > 0, flat when d < 0, unchanged when d = 0, from the 100th trade on; a frictionless broker, market orders filled whole at the next trade. tradehost runs the \`tick-crossover\` fixture (tests/fixtures/tick-crossover) with its release build, NautilusTrader runs bench/nautilus/tick_crossover.py (the same rule; how its venue is set to fill the same way: [docs/performance.md](docs/performance.md)). Whole process, start to exit, reading the file included, measured around each command; CPU is user + system time. tradehost runs $runs times from the CSV (\`--no-cache\`) and $runs times from its trade cache, after a warm-up run that compiled the plugin and filled the cache; NautilusTrader runs once. **This machine has 2 cores shared with another engineer's work**: the load average (1, 5, 15 min) before each run is shown, and wall times move with it more than CPU times do."
        echo
        echo "tradehost (\$TMP: a fresh temporary folder): \`${tradehost_env[*]//"$work/side"/\$TMP} ${tradehost_cmd[*]} --out DIR [--no-cache]\`"
        echo
        echo "NautilusTrader: \`${nautilus_cmd[*]}\`"
        echo
        echo "| run | program | trades from | whole process s | CPU s | peak MB | fills | PnL USD | load before |"
        echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        cat "$rows"
        echo
        echo "NautilusTrader's own split: $(sed -n 's/^seconds: //p' "$work/side/nautilus.log") (seconds)."
        echo
        echo "Trades, fills and PnL the same in every run: $same."
        echo
        echo "| NautilusTrader whole process ÷ tradehost's (median of $runs) | wall | CPU |"
        echo "| --- | ---: | ---: |"
        for from in CSV cache; do
            echo "| tradehost reading the $from | $(ratio "$n_wall" "$(median $from 3)")× ($n_wall s ÷ $(median $from 3) s) | $(ratio "$n_cpu" "$(median $from 4)")× ($n_cpu s ÷ $(median $from 4) s) |"
        done
        echo
    } >>"$body"
    for from in CSV cache; do
        r="$(ratio "$n_wall" "$(median $from 3)")"
        verdict="not met"
        [ "$r" -ge 100 ] && verdict=met
        echo "tick crossover on the SPY file, whole process, trades from the $from, against NautilusTrader in the same run (2 shared cores)|${r}× (tradehost $(median $from 3) s, NautilusTrader $n_wall s)|≥ 100×|$verdict" >>"$targets"
    done
    [ "$same" = yes ] || { echo "NautilusTrader and tradehost disagree on trades, fills or PnL: see $work/side" >&2; trap - EXIT; exit 1; }
fi

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
