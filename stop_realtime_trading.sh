#!/usr/bin/env bash
# Stops the tradehost started by start_realtime_trading.sh: SIGTERM, then waits for the
# graceful shutdown (feed stopped, events drained, strategy state saved, journal flushed).
set -euo pipefail
cd "$(dirname "$0")"
PID_FILE=${TRADEHOST_PID_FILE:-tradehost.pid}
TIMEOUT=${TRADEHOST_STOP_TIMEOUT:-30}
if [ ! -f "$PID_FILE" ]; then
  echo "tradehost is not running (no $PID_FILE)."
  exit 0
fi
PID=$(cat "$PID_FILE")
if ! kill -0 "$PID" 2>/dev/null; then
  echo "tradehost (PID $PID) is not running; removing the stale $PID_FILE."
  rm -f "$PID_FILE"
  exit 0
fi
kill -TERM "$PID"
for _ in $(seq 1 $((TIMEOUT * 10))); do
  if ! kill -0 "$PID" 2>/dev/null; then
    rm -f "$PID_FILE"
    echo "tradehost (PID $PID) stopped cleanly."
    exit 0
  fi
  sleep 0.1
done
echo "tradehost (PID $PID) did not stop within ${TIMEOUT}s; sending SIGKILL (state since the last periodic save is lost)." >&2
kill -KILL "$PID" 2>/dev/null || true
rm -f "$PID_FILE"
exit 1
