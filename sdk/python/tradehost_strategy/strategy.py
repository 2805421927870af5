"""The `Strategy` base class: subclass it, declare parameters, override the hooks you use.

    from tradehost_strategy import Strategy, Param, register

    class Follow(Strategy):
        name = "follow"
        symbols = ["SPY"]
        quantity = Param(10.0, "Shares to hold")

        def on_trade(self, ctx, trade):
            ctx.target_position(trade.symbol, self.quantity)

    register(Follow)

Every hook has a no-op default. A fresh instance is made for `init`, then `start` runs with
the parameters already set as attributes (`self.quantity`) and `self.symbols` the configured
symbols. Public instance attributes (names not starting with `_`) are the state: they are
saved by `snapshot` and put back by `restore`, so they survive hot reloads and restarts.
"""

from .params import declared_params


class Strategy:
    """Base class of a Python strategy; class attributes describe it, hooks handle events."""

    name = "python-strategy"
    """Short name, used in logs and metrics."""
    version = "0.1.0"
    """The strategy's own version."""
    description = ""
    """One-line description."""
    symbols = []
    """Default symbols, in the user's notation; the settings file's `symbols` overrides them."""
    bar_periods = []
    """Periods in seconds of extra bars the host should aggregate and send."""

    def start(self, ctx):
        """Called once after the parameters are set; raise `ValueError` to refuse the load."""

    def on_restore(self, ctx):
        """Called after `restore` put the saved state back and the parameters were re-applied."""

    def on_trade(self, ctx, trade):
        """A trade print (`trade.symbol`, `.price`, `.size`, `.time`)."""

    def on_bar(self, ctx, bar):
        """A completed bar from the host."""

    def on_prediction(self, ctx, prediction):
        """A new model forecast."""

    def on_fill(self, ctx, fill):
        """One of this strategy's orders filled (already counted by `target_position`)."""

    def on_rejection(self, ctx, rejection):
        """One of this strategy's orders was refused (`rejection.reason` says why)."""

    @classmethod
    def parameters(cls):
        """The declared `Param`s, in declaration order."""
        return declared_params(cls)

    def state(self):
        """The instance's state as saved by `snapshot`: its public attributes."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
