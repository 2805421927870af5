"""Incremental indicators: each `update(x)` is O(1) and returns the value once warmed up.

The arithmetic is the Rust SDK's (`sdk/src/indicators/`), operation for operation, so a
Python strategy and its Rust twin compute bit-identical averages and place the same orders.
Floats are summed with explicit loops: Python 3.12's `sum()` compensates rounding, which
would differ from Rust's sequential sum.
"""


class Sma:
    """Simple moving average of the last `period` values."""

    __slots__ = ("values", "capacity", "next", "sum")

    def __init__(self, period=20):
        self.capacity = max(1, int(period))
        self.values = []
        self.next = 0
        self.sum = 0.0

    def update(self, x):
        """Adds a value; returns the average once `period` values have been seen, else None."""
        values = self.values
        if len(values) < self.capacity:
            values.append(x)
        else:
            old = values[self.next]
            values[self.next] = x
            self.sum -= old
        self.sum += x
        self.next = (self.next + 1) % self.capacity
        if self.next == 0:
            # Recomputed at each wrap so rounding errors do not pile up over millions of values.
            total = 0.0
            for v in values:
                total += v
            self.sum = total
        return self.value()

    def value(self):
        """The current average, once warmed up."""
        if len(self.values) == self.capacity:
            return self.sum / len(self.values)
        return None

    @property
    def period(self):
        """The number of values averaged."""
        return self.capacity

    def reset(self):
        """Forgets every value seen."""
        self.values = []
        self.next = 0
        self.sum = 0.0

    def __getstate__(self):
        return (self.values, self.capacity, self.next, self.sum)

    def __setstate__(self, state):
        self.values, self.capacity, self.next, self.sum = state


class Ema:
    """Exponential moving average, seeded with the simple average of the first `period` values."""

    __slots__ = ("period", "alpha", "seen", "seed_sum", "current")

    def __init__(self, period=20):
        self.period = max(1, int(period))
        self.alpha = 2.0 / (float(self.period) + 1.0)
        self.seen = 0
        self.seed_sum = 0.0
        self.current = None

    def update(self, x):
        """Adds a value; returns the average once seeded, else None."""
        prev = self.current
        if prev is not None:
            self.current = prev + self.alpha * (x - prev)
        else:
            self.seen += 1
            self.seed_sum += x
            if self.seen == self.period:
                self.current = self.seed_sum / float(self.period)
        return self.current

    def value(self):
        """The current average, once seeded."""
        return self.current

    def reset(self):
        """Forgets every value seen."""
        self.__init__(self.period)

    def __getstate__(self):
        return (self.period, self.alpha, self.seen, self.seed_sum, self.current)

    def __setstate__(self, state):
        self.period, self.alpha, self.seen, self.seed_sum, self.current = state


class Rsi:
    """Wilder's relative strength index over `period` price changes (0 to 100)."""

    __slots__ = ("period", "previous", "changes", "avg_gain", "avg_loss")

    def __init__(self, period=14):
        self.period = max(1, int(period))
        self.previous = None
        self.changes = 0
        self.avg_gain = 0.0
        self.avg_loss = 0.0

    def update(self, price):
        """Adds a price; returns the RSI once `period` changes have been seen, else None."""
        previous, self.previous = self.previous, price
        if previous is None:
            return None
        change = price - previous
        gain = change if change > 0.0 else 0.0
        loss = -change if -change > 0.0 else 0.0
        n = float(self.period)
        self.changes += 1
        if self.changes <= self.period:
            self.avg_gain += gain / n
            self.avg_loss += loss / n
        else:
            self.avg_gain = (self.avg_gain * (n - 1.0) + gain) / n
            self.avg_loss = (self.avg_loss * (n - 1.0) + loss) / n
        return self.value()

    def value(self):
        """The current RSI, once warmed up."""
        if self.changes < self.period:
            return None
        g, l = self.avg_gain, self.avg_loss
        if g == 0.0 and l == 0.0:
            return 50.0
        if l == 0.0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + g / l)

    def reset(self):
        """Forgets every price seen."""
        self.__init__(self.period)

    def __getstate__(self):
        return (self.period, self.previous, self.changes, self.avg_gain, self.avg_loss)

    def __setstate__(self, state):
        self.period, self.previous, self.changes, self.avg_gain, self.avg_loss = state
