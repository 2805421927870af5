"""Bars built from trades inside a strategy, whatever bars the host sends.

Same rule as the Rust SDK's `BarBuilder`: a trade in the current bar's period extends it; a
trade in a later period completes it (returned) and opens the next; a trade older than the
current bar is ignored.
"""

import math

from .types import Bar


class BarBuilder:
    """Groups trades into bars of `period_secs` seconds aligned on the epoch."""

    __slots__ = ("period_ms", "current")

    def __init__(self, period_secs=60):
        self.period_ms = max(1, int(period_secs)) * 1000
        self.current = None

    def push(self, trade):
        """Adds a trade; returns the bar it completed, if it started a new period."""
        bar = self.current
        time = trade.time
        if bar is not None and time >= bar.start and time - bar.start < self.period_ms:
            price = trade.price
            if price > bar.high or math.isnan(bar.high):
                bar.high = price
            if price < bar.low or math.isnan(bar.low):
                bar.low = price
            bar.close = price
            bar.volume += trade.size
            return None
        start = (time // self.period_ms) * self.period_ms
        if bar is not None and start < bar.start:
            return None
        price = trade.price
        self.current = Bar(
            trade.symbol, start, self.period_ms // 1000, price, price, price, price, trade.size
        )
        return bar

    def __getstate__(self):
        return (self.period_ms, self.current)

    def __setstate__(self, state):
        self.period_ms, self.current = state
