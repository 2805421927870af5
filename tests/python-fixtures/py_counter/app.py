"""Counts trades; orders `VERSION` units on every `every`-th trade, tagged with the count."""

from tradehost_strategy import Param, Strategy, register

VERSION = 1


class Counter(Strategy):
    name = "py-counter"
    version = f"{VERSION}.0.0"
    symbols = ["SPY"]
    every = Param(10, "Order on every N-th trade", min=1)

    def start(self, ctx):
        self.count = 0

    def on_trade(self, ctx, trade):
        self.count += 1
        if self.count % self.every == 0:
            ctx.place(trade.symbol, 0, float(VERSION), None, self.count)


register(Counter)
