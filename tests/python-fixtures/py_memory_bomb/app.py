"""Allocates without bound on its first trade, until CPython runs out of memory."""

from tradehost_strategy import Strategy, register


class Bomb(Strategy):
    name = "py-memory-bomb"
    symbols = ["SPY"]

    def on_trade(self, ctx, trade):
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))


register(Bomb)
