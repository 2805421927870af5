"""Never returns from its first trade."""

from tradehost_strategy import Strategy, register


class Spin(Strategy):
    name = "py-infinite-loop"
    symbols = ["SPY"]

    def on_trade(self, ctx, trade):
        n = 0
        while True:
            n += 1


register(Spin)
