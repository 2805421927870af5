"""`Context`: what a strategy's hooks use to reach the host and to place orders.

Host calls go straight to the host with the index of the event being handled (`at`), so the
answers are those at that event however the host batched the events. Symbol lookups are
cached, because each string crossing the boundary costs. Orders are collected and handed to
the host as soon as the hook that placed them returns (the early-return rule of WIT 0.3.0).
The order bookkeeping (next tag, market orders in flight) is the Rust SDK's, so
`target_position` places the same orders in both languages.
"""

import math

from .types import BUY, DEBUG, ERROR, INFO, QUANTITY_EPSILON, SELL, WARN, side_sign

_MAX_TAG = 0xFFFF_FFFF


class OrderBook:
    """Order bookkeeping saved with the strategy's state: next tag and in-flight market orders."""

    __slots__ = ("next_tag", "in_flight")

    def __init__(self):
        self.next_tag = 1
        # tag -> [symbol, signed quantity not yet filled]
        self.in_flight = {}

    def to_state(self):
        """Plain data for a snapshot."""
        return (self.next_tag, {tag: list(v) for tag, v in self.in_flight.items()})

    @classmethod
    def from_state(cls, state):
        """The book saved by `to_state`."""
        book = cls()
        book.next_tag, in_flight = state
        book.in_flight = {tag: list(v) for tag, v in in_flight.items()}
        return book


class Context:
    """Host calls, symbol lookups and order helpers for one strategy instance."""

    def __init__(self, host):
        self._host = host
        self.actions = []
        self.book = OrderBook()
        self._ids = {}
        self._names = {}
        self.at = 0
        # Position quantities the host gave in this on-events call: in a backtest a fill lands
        # between two calls, never inside one, so one question per symbol and call gives
        # every answer (as in the Rust SDK).
        self._held = {}

    def begin_call(self):
        """A new on-events call begins: what the host said before may have changed."""
        self._held.clear()

    # ---- host calls ----

    def log(self, level, message):
        """Writes a line to the host's log at `level` (`tradehost_strategy.INFO`...)."""
        self._host.log(level, str(message))

    def debug(self, message):
        """Logs at debug level."""
        self.log(DEBUG, message)

    def info(self, message):
        """Logs at info level."""
        self.log(INFO, message)

    def warn(self, message):
        """Logs at warn level."""
        self.log(WARN, message)

    def error(self, message):
        """Logs at error level."""
        self.log(ERROR, message)

    def now(self):
        """Milliseconds since the epoch: wall clock live, market time in replay and backtest."""
        return self._host.now(self.at)

    def prediction(self, symbol):
        """The model's latest forecast for `symbol` (stale or not), or None."""
        return self._host.latest_prediction(symbol, self.at)

    def fresh_prediction(self, symbol):
        """The latest forecast for `symbol` only if it is not stale, else None."""
        p = self.prediction(symbol)
        return p if p is not None and not p.stale else None

    def position(self, symbol):
        """This strategy's position in `symbol` (`.quantity`, `.average_price`, PnL)."""
        return self._host.position_of(symbol, self.at)

    def recent_bars(self, symbol, count, period_secs=0):
        """Up to `count` most recent completed bars of `symbol`, oldest first."""
        return self._host.recent_bars(symbol, period_secs, count)

    def symbol(self, name):
        """The id of a symbol in the user's notation (`SPY`, `FOREX:EUR/USD`), cached."""
        sid = self._ids.get(name)
        if sid is None:
            sid = self._host.intern_symbol(name)
            self._ids[name] = sid
            self._names.setdefault(sid, name)
        return sid

    def symbol_name(self, symbol):
        """The name of a symbol id, cached; None when the host does not know it."""
        name = self._names.get(symbol)
        if name is None:
            name = self._host.symbol_name(symbol)
            if name is not None:
                self._names[symbol] = name
                self._ids[name] = symbol
        return name

    # ---- orders ----

    def buy(self, symbol, quantity):
        """Places a market buy of `quantity`; returns the order's tag."""
        return self.order(symbol, BUY, quantity)

    def sell(self, symbol, quantity):
        """Places a market sell of `quantity`; returns the order's tag."""
        return self.order(symbol, SELL, quantity)

    def limit_buy(self, symbol, quantity, price):
        """Places a limit buy of `quantity` at `price` or better; returns the tag."""
        return self.order(symbol, BUY, quantity, price)

    def limit_sell(self, symbol, quantity, price):
        """Places a limit sell of `quantity` at `price` or better; returns the tag."""
        return self.order(symbol, SELL, quantity, price)

    def order(self, symbol, side, quantity, limit=None):
        """Places an order with a fresh tag (market when `limit` is None); returns the tag."""
        book = self.book
        tag = book.next_tag
        book.next_tag = tag + 1 if tag < _MAX_TAG else 1
        self.place(symbol, side, quantity, limit, tag)
        return tag

    def place(self, symbol, side, quantity, limit, tag):
        """Places a fully specified order with the caller's own tag."""
        quantity = float(quantity)
        if limit is None:
            entry = self.book.in_flight.setdefault(tag, [symbol, 0.0])
            entry[1] += side_sign(side) * quantity
        self.actions.append(("place", symbol, side, quantity, limit, tag))

    def cancel(self, tag):
        """Cancels every resting order of this strategy with `tag`."""
        self.actions.append(("cancel", tag))

    def target_position(self, symbol, target):
        """Trades toward a signed `target` position with one market order; returns its tag,
        or None when already there. Counts market orders in flight, so calling it on every
        trade does not stack orders."""
        held = self._held.get(symbol)
        if held is None:
            held = self._held[symbol] = self.position(symbol).quantity
        current = held + self.in_flight(symbol)
        delta = float(target) - current
        if abs(delta) < QUANTITY_EPSILON:
            return None
        return self.order(symbol, BUY if delta > 0.0 else SELL, abs(delta))

    def close(self, symbol):
        """Flattens the position in `symbol` with a market order; None when already flat."""
        return self.target_position(symbol, 0.0)

    def in_flight(self, symbol):
        """Signed quantity of market orders in `symbol` sent but not yet filled or rejected."""
        # In tag order from -0.0: the Rust SDK's BTreeMap sum, bit for bit.
        total = -0.0
        for tag in sorted(self.book.in_flight):
            s, q = self.book.in_flight[tag]
            if s == symbol:
                total += q
        return total

    # ---- used by the runtime ----

    def record_fill(self, fill):
        """Accounts for a fill of an in-flight market order before the strategy sees it."""
        entry = self.book.in_flight.get(fill.tag)
        if entry is None:
            return
        sign = side_sign(fill.side)
        entry[1] -= sign * fill.quantity
        remaining = entry[1]
        # A rounding remainder or a fill past the order both mean "done".
        if abs(remaining) < QUANTITY_EPSILON or math.copysign(1.0, remaining) == -sign:
            del self.book.in_flight[fill.tag]

    def record_rejection(self, rejection):
        """Forgets an in-flight order the broker refused."""
        self.book.in_flight.pop(rejection.tag, None)
