"""Plain data the hooks receive and the helpers return, independent of the generated bindings.

Trades are rebuilt from the batch's columns as `Trade` objects (slots: cheap to make, one per
trade). Bars, predictions, fills, rejections and positions are passed as the host sent them:
objects with the WIT record's fields under their snake_case names (`fill.quantity`,
`bar.close`, `position.average_price`...).
"""

BUY = 0
"""Side of an order or fill that increases the position (the WIT `side.buy`)."""
SELL = 1
"""Side of an order or fill that decreases the position (the WIT `side.sell`)."""

TRACE, DEBUG, INFO, WARN, ERROR = range(5)
"""Log levels, in the WIT `log-level` order."""

QUANTITY_EPSILON = 1e-9
"""Quantities smaller than this are treated as zero (positions, order sizes)."""


def side_sign(side):
    """+1.0 for a buy, -1.0 for a sell; accepts `BUY`/`SELL` or the WIT `Side` enum."""
    return 1.0 if getattr(side, "value", side) == BUY else -1.0


class Trade:
    """One trade print: symbol id, price, size and time (ms since the epoch)."""

    __slots__ = ("symbol", "price", "size", "time")

    def __init__(self, symbol, price, size, time):
        self.symbol = symbol
        self.price = price
        self.size = size
        self.time = time

    def __repr__(self):
        return f"Trade({self.symbol}, {self.price}, {self.size}, {self.time})"


class Bar:
    """An OHLCV bar: the fields of the WIT `bar` record."""

    __slots__ = ("symbol", "start", "period_secs", "open", "high", "low", "close", "volume", "imputed")

    def __init__(self, symbol, start, period_secs, open, high, low, close, volume, imputed=False):
        self.symbol = symbol
        self.start = start
        self.period_secs = period_secs
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.imputed = imputed

    def __getstate__(self):
        return tuple(getattr(self, f) for f in Bar.__slots__)

    def __setstate__(self, state):
        for f, v in zip(Bar.__slots__, state):
            setattr(self, f, v)

    def __repr__(self):
        return (
            f"Bar(symbol={self.symbol}, start={self.start}, o={self.open}, h={self.high}, "
            f"l={self.low}, c={self.close}, v={self.volume})"
        )
