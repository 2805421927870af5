#!/usr/bin/env bash
# Starts tradehost in the background, as the reference platform's script did:
#   1. loads settings from .env (the daemon reads it itself; this script checks it exists),
#   2. builds what is missing (the wasm32-wasip2 target, the example strategies, the binary),
#   3. starts the daemon (feed, strategies, model trainer) with a PID file,
#   4. sends its output to logs/.
# Usage: ./start_realtime_trading.sh [--demo] [other `tradehost run` flags]
set -euo pipefail
cd "$(dirname "$0")"
PID_FILE=${TRADEHOST_PID_FILE:-tradehost.pid}
mkdir -p logs
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "tradehost is already running (PID $(cat "$PID_FILE")); stop it with ./stop_realtime_trading.sh" >&2
  exit 1
fi
if [[ " $* " != *" --demo "* ]] && [ ! -f .env ] && [ -z "${FINNHUB_API_KEY:-}" ]; then
  echo "No .env and no FINNHUB_API_KEY: copy .env.example to .env and set your key, or use --demo." >&2
  exit 1
fi
./scripts/setup.sh
if ! ls plugins/*.wasm >/dev/null 2>&1; then
  ./scripts/build-plugins.sh
fi
cargo build -p tradehost --quiet
nohup ./target/debug/tradehost run "$@" >>logs/console.log 2>&1 &
echo $! >"$PID_FILE"
sleep 1
if kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "tradehost started (PID $(cat "$PID_FILE")). Logs: tail -f logs/trading_agent.log logs/model_trainer.log"
else
  echo "tradehost exited at start; see logs/console.log:" >&2
  tail -n 20 logs/console.log >&2
  rm -f "$PID_FILE"
  exit 1
fi
