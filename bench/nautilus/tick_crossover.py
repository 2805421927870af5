"""The tick crossover of issue 11, run by NautilusTrader, for the side-by-side benchmark.

It mirrors, rule for rule, the `tick-crossover` fixture that tradehost runs
(tests/fixtures/tick-crossover/src/lib.rs) and the independent reference computation in
tests/tests/it/exactness.rs:

- every trade of the file is one event (the 10 rows the vendor flagged `suspicious` are
  skipped, as tradehost's reader skips them);
- each price is taken in integer cents, `round(price * 100)`; with `s20` and `s100` the sums of
  the last 20 and last 100 prices in cents, `d = 5*s20 - s100` (the fixture computes
  `100*s20 - 20*s100`, the same sign);
- from the 100th trade on: target 100 shares long when `d > 0`, flat when `d < 0`, keep what is
  held or on its way when `d == 0`; an order is sent only when the target differs from the
  position plus the market orders still in flight, for the difference, as a market order;
- fills: a market order fills whole at the price of the first trade after the one that caused
  it, with no fee, no slippage and no risk limits (tradehost: `BROKER_SLIPPAGE_BPS=0
  BROKER_FEE_BPS=0` and limits raised out of the way).

How NautilusTrader is made to fill that way (see docs/performance.md):
- `BestPriceFillModel`: the whole order fills at the best price, which for a book built from
  trades alone is the last trade's price (the default model would fill the part above the
  trade's size one tick worse);
- `LatencyModel` of 1 ns for order commands: without it the venue fills a market order sent
  from `on_trade_tick` at the price of the trade being handled. With it the order reaches the
  venue at the first event at least 1 ns later. Many trades share a millisecond, so each
  trade's timestamp gets its rank within its millisecond added in nanoseconds (all ranks are
  far below a millisecond): every trade then has a time of its own, and the order arrives with
  the very next trade, after the venue has seen its price;
- `RiskEngineConfig(bypass=True)` (no rate limits or pre-trade checks) and zero maker/taker
  fees on the instrument.

`--fill same` leaves out the latency: NautilusTrader's default, an order filled at the trade
that caused it, for comparison.

Prints the trades, orders, fills and PnL (realised + unrealised, from the fills and from the
account's balance), and the time of each phase. Usage:

    .venv-nautilus/bin/python bench/nautilus/tick_crossover.py --data FILE.csv.gz [--fills OUT.csv]
"""

import argparse
import sys
import time

STARTED = time.perf_counter()

from decimal import Decimal  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nautilus_trader.backtest.engine import BacktestEngine  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngineConfig  # noqa: E402
from nautilus_trader.backtest.models import BestPriceFillModel  # noqa: E402
from nautilus_trader.backtest.models import LatencyModel  # noqa: E402
from nautilus_trader.config import LoggingConfig  # noqa: E402
from nautilus_trader.config import RiskEngineConfig  # noqa: E402
from nautilus_trader.config import StrategyConfig  # noqa: E402
from nautilus_trader.model.currencies import USD  # noqa: E402
from nautilus_trader.model.data import TradeTick  # noqa: E402
from nautilus_trader.model.enums import AccountType  # noqa: E402
from nautilus_trader.model.enums import AggressorSide  # noqa: E402
from nautilus_trader.model.enums import OmsType  # noqa: E402
from nautilus_trader.model.enums import OrderSide  # noqa: E402
from nautilus_trader.model.events import OrderFilled  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId  # noqa: E402
from nautilus_trader.model.identifiers import Symbol  # noqa: E402
from nautilus_trader.model.identifiers import Venue  # noqa: E402
from nautilus_trader.model.instruments import Equity  # noqa: E402
from nautilus_trader.model.objects import Money  # noqa: E402
from nautilus_trader.model.objects import Price  # noqa: E402
from nautilus_trader.model.objects import Quantity  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402

IMPORTED = time.perf_counter()

VENUE = Venue("SIM")
STARTING_CASH = 1_000_000


class TickCrossoverConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    fast: int = 20
    slow: int = 100
    quantity: int = 100


class TickCrossover(Strategy):
    """SMA(fast)/SMA(slow) crossover on every trade, in integer cents (see the module doc)."""

    def __init__(self, config: TickCrossoverConfig) -> None:
        super().__init__(config)
        self.fast = config.fast
        self.slow = config.slow
        self.quantity = config.quantity
        # The last `slow` prices in cents, as a ring; `seen` counts the trades so far.
        self.ring = [0] * self.slow
        self.seen = 0
        self.sum_fast = 0
        self.sum_slow = 0
        # Position plus market orders in flight, in shares (every order fills whole here).
        self.held_or_ordered = 0
        self.orders = 0
        self.fills = []  # (ts_event ns, side, quantity, price)
        self.last_price = 0.0

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.buy_qty = self.instrument.make_qty(self.quantity)
        self.subscribe_trade_ticks(self.config.instrument_id)

    def on_trade_tick(self, tick: TradeTick) -> None:
        price = tick.price.as_double()
        self.last_price = price
        # Prices here have at most two decimals: this is exact, as the fixture's f64::round.
        cents = int(price * 100.0 + 0.5)
        slot = self.seen % self.slow
        leaving_slow = self.ring[slot]  # the price `slow` trades ago (0 before there is one)
        leaving_fast = self.ring[(self.seen - self.fast) % self.slow]
        self.ring[slot] = cents
        self.sum_fast += cents
        self.sum_slow += cents - leaving_slow
        if self.seen >= self.fast:
            self.sum_fast -= leaving_fast
        self.seen += 1
        if self.seen < self.slow:
            return
        d = self.slow * self.sum_fast - self.fast * self.sum_slow
        if d > 0:
            target = self.quantity
        elif d < 0:
            target = 0
        else:
            return
        delta = target - self.held_or_ordered
        if delta == 0:
            return
        order = self.order_factory.market(
            instrument_id=self.instrument.id,
            order_side=OrderSide.BUY if delta > 0 else OrderSide.SELL,
            quantity=self.instrument.make_qty(abs(delta)),
        )
        self.held_or_ordered = target
        self.orders += 1
        self.submit_order(order)

    def on_order_filled(self, event: OrderFilled) -> None:
        self.fills.append(
            (event.ts_event, event.order_side, float(event.last_qty), float(event.last_px))
        )


def load_trades(path: str, instrument: Equity) -> list[TradeTick]:
    """The file's trades as TradeTicks, suspicious rows left out, each at a time of its own.

    Built with NautilusTrader's fast constructor for columns of trades
    (`TradeTick.from_raw_arrays_to_list`): the same ticks as its `TradeTickDataWrangler`
    makes, several times sooner.
    """
    frame = pd.read_csv(
        path,
        usecols=["timestamp", "symbol", "price", "size", "suspicious"],
        dtype={"symbol": str, "price": np.float64, "size": np.float64, "suspicious": np.int8},
    )
    frame = frame[(frame["suspicious"] == 0) & (frame["symbol"] == instrument.raw_symbol.value)]
    # ISO 8601 in UTC with a Z (2013-10-07T13:30:00.123Z): numpy reads it, without the Z, as UTC.
    ns = np.array(frame["timestamp"].str.rstrip("Z").to_numpy(), dtype="datetime64[ns]").view(np.int64)
    # Rank of each trade within its millisecond (the file is sorted by time).
    rank = pd.Series(ns).groupby(ns).cumcount().to_numpy()
    if len(rank) and rank.max() >= 1_000_000:
        sys.exit("more than a million trades in one millisecond: the ranks would overlap")
    stamps = (ns + rank).astype(np.uint64)
    return TradeTick.from_raw_arrays_to_list(
        instrument.id,
        instrument.price_precision,
        instrument.size_precision,
        frame["price"].to_numpy(),
        frame["size"].to_numpy(),
        np.full(len(frame), AggressorSide.NO_AGGRESSOR.value, dtype=np.uint8),
        np.arange(1, len(frame) + 1).astype(str).tolist(),
        stamps,
        stamps,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="trade file (timestamp,symbol,price,size,...,suspicious)")
    parser.add_argument("--symbol", default="SPY")
    parser.add_argument("--fill", choices=["next", "same"], default="next",
                        help="next: fill at the trade after the order's (as tradehost); same: NautilusTrader's default")
    parser.add_argument("--limit", type=int, help="only the first LIMIT trades (for quick checks)")
    parser.add_argument("--fills", help="write every fill to this CSV file (time_ns,side,quantity,price)")
    args = parser.parse_args()

    instrument = Equity(
        instrument_id=InstrumentId(Symbol(args.symbol), VENUE),
        raw_symbol=Symbol(args.symbol),
        currency=USD,
        price_precision=2,
        price_increment=Price.from_str("0.01"),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
    )
    trades = load_trades(args.data, instrument)
    if args.limit is not None:
        trades = trades[: args.limit]
    loaded = time.perf_counter()

    engine = BacktestEngine(
        config=BacktestEngineConfig(
            logging=LoggingConfig(log_level="ERROR"),
            risk_engine=RiskEngineConfig(bypass=True),
            run_analysis=False,
        ),
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(STARTING_CASH, USD)],
        fill_model=BestPriceFillModel(),
        latency_model=LatencyModel(base_latency_nanos=1) if args.fill == "next" else None,
    )
    engine.add_instrument(instrument)
    engine.add_data(trades)
    strategy = TickCrossover(TickCrossoverConfig(instrument_id=instrument.id))
    engine.add_strategy(strategy)
    ready = time.perf_counter()
    engine.run()
    ran = time.perf_counter()

    fills = strategy.fills
    held = sum(q if side == OrderSide.BUY else -q for _, side, q, _ in fills)
    cash_flow = sum(-q * p if side == OrderSide.BUY else q * p for _, side, q, p in fills)
    pnl = cash_flow + held * strategy.last_price
    account = engine.portfolio.account(VENUE)
    account_pnl = float(account.balance_total(USD)) - STARTING_CASH + held * strategy.last_price
    if args.fills:
        with open(args.fills, "w") as out:
            out.write("time_ns,side,quantity,price\n")
            for ts, side, q, p in fills:
                out.write(f"{ts},{'buy' if side == OrderSide.BUY else 'sell'},{q:g},{p:.2f}\n")

    print(f"NautilusTrader {sys.modules['nautilus_trader'].__version__}, Python {sys.version.split()[0]}")
    print(f"trades {len(trades)}")
    print(f"orders {strategy.orders}")
    print(f"fills {len(fills)}")
    print(f"position {held:g}")
    print(f"pnl {pnl:.2f}")
    print(f"account pnl {account_pnl:.2f}")
    print(
        f"seconds: imports {IMPORTED - STARTED:.2f}, reading {loaded - IMPORTED:.2f}, "
        f"engine set-up {ready - loaded:.2f}, engine run {ran - ready:.2f}"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
