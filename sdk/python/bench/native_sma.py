"""The Python SMA example under native CPython, over the same trades as the component bench.

Usage: python native_sma.py TRADES.csv.gz [BATCH]
Prints `native_cpython_ns_per_trade=<float> trades=<n> orders=<n>`.

The strategy runs in the SDK's `Runtime` with the testing `FakeHost`, fed batches of `BATCH`
trades as columns, with the early return honoured and no fills (as the component bench:
orders stay in flight); only the `on_events` calls are timed (process CPU time), the CSV
parsing is not.
"""

import csv
import datetime
import gzip
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[3] / "examples" / "python" / "sma_crossover")]

from tradehost_strategy.runtime import Runtime  # noqa: E402
from tradehost_strategy.testing import FakeHost  # noqa: E402
import app  # noqa: E402


def load(path):
    host = FakeHost()
    cols = ([], [], [], [])
    with gzip.open(path, "rt") as f:
        for row in csv.DictReader(f):
            t = datetime.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            cols[0].append(host.intern_symbol(row["symbol"]))
            cols[1].append(float(row["price"]))
            cols[2].append(float(row["size"]))
            cols[3].append(int(t.timestamp() * 1000))
    return host, cols


def main():
    path = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    host, (symbols, prices, sizes, times) = load(path)
    rt = Runtime(app.SmaCrossover, host)
    rt.init([("symbols", "SPY,IBM")])
    orders = 0
    n = len(symbols)
    start = time.process_time()
    i = 0
    while i < n:
        j = min(i + batch, n)
        consumed, actions = rt.on_events(symbols[i:j], prices[i:j], sizes[i:j], times[i:j], None)
        orders += len(actions)
        i += consumed
    elapsed = time.process_time() - start
    print(f"native_cpython_ns_per_trade={elapsed / n * 1e9:.1f} trades={n} orders={orders}")


if __name__ == "__main__":
    main()
