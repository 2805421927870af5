#!/usr/bin/env bash
# Runs a whole scale-out deployment on this machine, each part its own process talking
# through NATS JetStream: nats-server, a feed host in demo mode (bundled real trades, no key,
# no network), two strategy hosts (SMA crossover; RSI reversion and the prediction follower)
# and the broker host, the one writer of the journal. Ctrl-C (or --for) stops them in order.
#
# Usage: scripts/scale-out-demo.sh [--for SECONDS] [--dir DIR]
#   --for SECONDS  stop by itself after this long (default: run until Ctrl-C)
#   --dir DIR      where each host's folder goes (default: a new temporary folder)
# TRADEHOST_BIN=path uses that tradehost binary instead of building one.
# Each host has DIR/<host>/ with plugins/, state/, logs/ and its console in console.log.
# Status APIs: the broker host on 127.0.0.1:8787 (its kill switch:
# `tradehost kill-switch on --addr 127.0.0.1:8787`), the strategy hosts' dashboards on :8788
# and :8789 (SCALE_OUT_PORT_BASE=N moves them to N, N+1, N+2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run_for=""
work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --for) run_for="$2"; shift 2 ;;
        --dir) work="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

"$root/scripts/setup.sh"
work="${work:-$(mktemp -d -t tradehost-scale-out.XXXXXX)}"
mkdir -p "$work"
"$root/scripts/build-plugins.sh" "$work/examples" >/dev/null
bin="${TRADEHOST_BIN:-}"
if [ -z "$bin" ]; then
    echo "building tradehost (cargo build -p tradehost)"
    cargo build -q -p tradehost --manifest-path "$root/Cargo.toml"
    bin="$root/target/debug/tradehost"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
nats="$root/.venv/bin/nats-server"
port="$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

failed=0
stop_all() {
    trap - INT TERM EXIT
    echo "stopping: feed host, strategy hosts, broker host, nats-server"
    # The feed first (no new trades), the broker last (it answers the last orders).
    for name in feed strategies-1 strategies-2 broker nats; do
        pid_file="$work/$name.pid"
        [ -f "$pid_file" ] || continue
        pid="$(cat "$pid_file")"
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name had already stopped: see $work/$name/console.log" >&2
            failed=1
        fi
        kill -TERM "$pid" 2>/dev/null || true
        status=0
        wait "$pid" 2>/dev/null || status=$?
        # 143: the signal arrived before the host had set up its own handling.
        if [ "$name" != nats ] && [ "$status" -ne 0 ] && [ "$status" -ne 143 ]; then
            echo "$name exited with status $status: see $work/$name/console.log" >&2
            failed=1
        fi
        [ "$name" = feed ] && sleep 2  # let the strategy hosts and the broker catch up
    done
    echo
    echo "journal (broker host): $work/broker/journal/journal.bin"
    for host in strategies-1 strategies-2; do
        fills="$(grep -c 'mirrored fill' "$work/$host/logs/trading_agent.log" 2>/dev/null || true)"
        echo "$host: ${fills:-0} fills received; folder $work/$host"
    done
    echo "broker: $(grep -c 'paper fill' "$work/broker/logs/trading_agent.log" 2>/dev/null || echo 0) fills journaled"
    exit "$failed"
}
trap stop_all INT TERM EXIT

start() { # name role status-addr [plugin...]
    local name="$1" role="$2" status="$3"
    shift 3
    local dir="$work/$name"
    mkdir -p "$dir/plugins"
    for plugin in "$@"; do cp "$work/examples/$plugin.wasm" "$dir/plugins/"; done
    (
        cd "$dir"
        BUS_URL="nats://127.0.0.1:$port" BUS_HOST="$name" \
        PLUGIN_DIR="$dir/plugins" STATE_DIR="$dir/state" MODELS_DIR="$dir/models" \
        JOURNAL_PATH="$dir/journal/journal.bin" LOG_DIR="$dir/logs" STATUS_ADDR="$status" \
            exec "$bin" run --demo --env /dev/null --role "$role" >"$dir/console.log" 2>&1
    ) &
    echo $! >"$work/$name.pid"
    echo "started $name (--role $role), console in $dir/console.log"
}

mkdir -p "$work/nats"
"$nats" -js -a 127.0.0.1 -p "$port" -sd "$work/nats" >"$work/nats/server.log" 2>&1 &
echo $! >"$work/nats.pid"
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
echo "nats-server with JetStream on 127.0.0.1:$port (store $work/nats)"

base="${SCALE_OUT_PORT_BASE:-8787}"
start broker broker "127.0.0.1:$base"
start strategies-1 strategies "127.0.0.1:$((base + 1))" sma-crossover
start strategies-2 strategies "127.0.0.1:$((base + 2))" rsi-reversion prediction-follower
start feed feed off
echo "broker host: http://127.0.0.1:$base/api/status (kill switch: tradehost kill-switch on --addr 127.0.0.1:$base)"
echo "dashboards: http://127.0.0.1:$((base + 1))/ (strategies-1), http://127.0.0.1:$((base + 2))/ (strategies-2)"

if [ -n "$run_for" ]; then
    sleep "$run_for"
else
    echo "running; Ctrl-C stops every host"
    wait
fi
