"""Run a strategy under plain CPython, without the host: a fake host and a harness.

    h = Harness.start(MyStrategy, {"fast": "2", "symbols": "SPY"})
    orders = h.trades("SPY", [10.0, 10.0, 11.0])

The fake host answers like the real one for what it knows: symbols interned in order,
positions from the fills the harness applied, the time of the event being handled.
Used by the SDK's tests and the benchmark's native run.
"""

from types import SimpleNamespace

from .runtime import Runtime
from .types import side_sign


class FakeHost:
    """The host imports, answered from local tables."""

    def __init__(self):
        self.ids = {}
        self.names = {}
        self.positions = {}
        self.predictions = {}
        self.times = []
        self.logs = []

    def log(self, level, message):
        self.logs.append((level, message))

    def now(self, at):
        return self.times[at] if 0 <= at < len(self.times) else 0

    def latest_prediction(self, symbol, at):
        return self.predictions.get(symbol)

    def position_of(self, symbol, at):
        return self.positions.get(symbol) or SimpleNamespace(
            symbol=symbol, quantity=0.0, average_price=0.0, realised_pnl=0.0, unrealised_pnl=0.0
        )

    def recent_bars(self, symbol, period_secs, count):
        return []

    def intern_symbol(self, name):
        if name not in self.ids:
            self.ids[name] = len(self.ids)
            self.names[self.ids[name]] = name
        return self.ids[name]

    def symbol_name(self, symbol):
        return self.names.get(symbol)


class Harness:
    """A strategy in a `Runtime` on a `FakeHost`, fed trades and fills the way the host does."""

    def __init__(self, runtime, host):
        self.runtime = runtime
        self.host = host
        self.clock = 0

    @classmethod
    def start(cls, strategy_cls, settings=None):
        """A started strategy; raises what `init` raises (a `ConfigError` for bad settings)."""
        host = FakeHost()
        rt = Runtime(strategy_cls, host)
        rt.init(list((settings or {}).items()))
        return cls(rt, host)

    def symbol(self, name):
        """The symbol's id, as the strategy sees it."""
        return self.host.intern_symbol(name)

    def batch(self, symbols, prices, sizes, times, others=None):
        """Every action of a batch, calling again with the rest after each early return."""
        actions = []
        while symbols or others:
            self.host.times = list(times)
            consumed, got = self.runtime.on_events(symbols, prices, sizes, times, others)
            if consumed < 1:
                raise AssertionError("on_events made no progress")
            actions += got
            if others:
                # Only used with trades-only batches plus events at the end, by the tests.
                raise NotImplementedError("the harness splits trade-only batches")
            symbols, prices, sizes, times = (
                symbols[consumed:], prices[consumed:], sizes[consumed:], times[consumed:]
            )
        return actions

    def trades(self, name, prices, step_ms=1000):
        """One trade per `step_ms` at each price; returns the actions placed."""
        sid = self.symbol(name)
        n = len(prices)
        times = [self.clock + i * step_ms for i in range(n)]
        self.clock += n * step_ms
        return self.batch([sid] * n, list(prices), [1.0] * n, times)

    def fill_market_orders(self, actions, price):
        """Fills every market order of `actions` at `price`, updating positions and the strategy."""
        for a in actions:
            if a[0] != "place" or a[4] is not None:
                continue
            _, symbol, side, quantity, _, tag = a
            pos = self.host.position_of(symbol, 0)
            pos.quantity += side_sign(side) * quantity
            self.host.positions[symbol] = pos
            fill = SimpleNamespace(
                symbol=symbol, side=side, quantity=quantity, price=price, fee=0.0,
                time=self.clock, tag=tag,
            )
            self.runtime.ctx.record_fill(fill)
            self.runtime.strategy.on_fill(self.runtime.ctx, fill)
