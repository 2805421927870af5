#!/usr/bin/env bash
# Rebuilds the demo's bundled data from the project's shared tick files, with the host's own
# code (see host/data/SOURCES.md):
#   host/data/demo_trades_2013-10-11.csv.gz  the trades the demo replays, 2013-10-11 13:30-14:00 UTC
#   host/data/demo_history/*_1m_*.csv.gz     the 1-minute bars it trains on, built by the daemon's
#                                            bar aggregator from the trades before that window
#
# Usage: scripts/demo-data.sh [TICKS_DIR]   (default: ../shared/data/ticks)
# The same inputs give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
ticks="${1:-../shared/data/ticks}"
files=()
for symbol in SPY BAC AIG IBM; do
    files+=("$ticks/equity_trades_${symbol}_2013-10-07_2013-10-11.csv.gz")
done
cargo build -q -p tradehost
bin=target/debug/tradehost
"$bin" cut --data "${files[@]}" \
    --from 2013-10-11T13:30:00Z --to 2013-10-11T14:00:00Z \
    --out host/data/demo_trades_2013-10-11.csv.gz
# From the first tick (04:00 New York) to the start of the replayed window.
"$bin" bars --data "${files[@]}" --period 60 \
    --from 2013-10-07T08:00:00Z --to 2013-10-11T13:30:00Z \
    --out host/data/demo_history
