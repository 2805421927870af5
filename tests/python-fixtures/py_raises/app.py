"""Raises on its third trade: the Python traceback must reach the host's log."""

from tradehost_strategy import Strategy, register


def check_price(count):
    if count == 3:
        raise RuntimeError("py-raises: deliberate failure on trade 3")


class Raises(Strategy):
    name = "py-raises"
    symbols = ["SPY"]

    def start(self, ctx):
        self.count = 0

    def on_trade(self, ctx, trade):
        self.count += 1
        check_price(self.count)


register(Raises)
