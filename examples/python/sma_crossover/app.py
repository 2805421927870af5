"""SMA crossover: long while a fast moving average of interval closes is above a slow one.

The Python twin of examples/sma-crossover (Rust): same parameters, same rule, same orders.
Trades are grouped into bars of `interval_secs` seconds inside the strategy; each completed
bar's close updates both averages. When the fast average is above the slow one the strategy
holds `quantity` shares; otherwise it is flat (or short `quantity` when `allow_short`).
Its attributes are its state, so averages survive hot reloads.
"""

from tradehost_strategy import BarBuilder, Param, Sma, Strategy, register


class Leg:
    """Per-symbol state: bar builder and the two averages."""

    def __init__(self, interval_secs, fast, slow):
        self.bars = BarBuilder(interval_secs)
        self.fast = Sma(fast)
        self.slow = Sma(slow)


class SmaCrossover(Strategy):
    name = "sma-crossover"
    version = "0.1.0"
    description = "Long while the fast SMA of interval closes is above the slow SMA"
    symbols = ["SPY", "IBM"]

    fast = Param(8, "Bars in the fast moving average", min=1, max=10_000)
    slow = Param(21, "Bars in the slow moving average (more than `fast`)", min=2, max=10_000)
    interval_secs = Param(2, "Seconds per bar built from trades", min=1, max=86_400)
    quantity = Param(100, "Shares held when in a position", type=float, min=0.0, max=1e9)
    allow_short = Param(False, "Go short instead of flat when fast < slow")

    def start(self, ctx):
        self.check_settings()
        self.legs = {ctx.symbol(name): self.new_leg() for name in self.symbols}
        self.shape = (self.fast, self.slow, self.interval_secs)
        ctx.info(
            f"SMA {self.fast}/{self.slow} over {self.interval_secs} s bars on {','.join(self.symbols)}"
        )

    def on_restore(self, ctx):
        # New settings win over the snapshot's; averages whose length changed start over.
        self.check_settings()
        shape = (self.fast, self.slow, self.interval_secs)
        if shape != self.shape:
            self.legs = {sid: self.new_leg() for sid in self.legs}
            self.shape = shape
        for name in self.symbols:
            self.legs.setdefault(ctx.symbol(name), self.new_leg())

    def check_settings(self):
        if self.fast >= self.slow:
            raise ValueError(
                f"parameter `fast` ({self.fast}) must be smaller than `slow` ({self.slow})"
            )

    def new_leg(self):
        return Leg(self.interval_secs, self.fast, self.slow)

    def on_trade(self, ctx, trade):
        leg = self.legs.get(trade.symbol)
        if leg is None:
            return
        bar = leg.bars.push(trade)
        if bar is None:
            return
        fast = leg.fast.update(bar.close)
        slow = leg.slow.update(bar.close)
        if fast is None or slow is None:
            return
        if fast > slow:
            target = self.quantity
        elif self.allow_short:
            target = -self.quantity
        else:
            target = 0.0
        ctx.target_position(trade.symbol, target)

    def on_rejection(self, ctx, rejection):
        ctx.warn(f"order {rejection.tag} refused: {rejection.reason}")


register(SmaCrossover)
