"""One strategy instance with its context: init, event dispatch, snapshot and restore.

Independent of the generated bindings (the component module adapts them), so the same code
runs under native CPython in the SDK's tests and the benchmark.

Early return (WIT 0.3.0): events are handled in order and the call returns right after the
first event whose handling placed an order or a cancellation, saying how many were handled;
the host settles those actions and calls again with the rest. This is `Runtime::on_events`
of the Rust SDK (`sdk/src/export.rs`).
"""

import pickle

from .context import Context, OrderBook
from .params import SYMBOLS_KEY, ConfigError, split_symbols
from .types import Trade

SNAPSHOT_MAGIC = b"THPY1"
"""Prefix of a Python strategy's snapshot (then a pickle of `{sdk, strategy}`)."""


class Runtime:
    """The strategy class, its live instance and context, as kept by the component."""

    def __init__(self, cls, host):
        self.cls = cls
        self.host = host
        self.ctx = Context(host)
        self.config = {}
        self.strategy = cls()

    def describe(self):
        """(name, version, description, symbols, [(name, description, default)], bar periods)."""
        cls = self.cls
        params = [(p.name, p.description, p.default_text()) for p in cls.parameters()]
        return (cls.name, cls.version, cls.description, list(cls.symbols), params, list(cls.bar_periods))

    def init(self, pairs):
        """Builds a fresh instance with the settings and calls `start`; raises `ConfigError`."""
        self.config = dict(pairs)
        self.ctx = Context(self.host)
        self.strategy = self.cls()
        known = {p.name for p in self.cls.parameters()} | {SYMBOLS_KEY}
        for key in self.config:
            if key not in known:
                self.ctx.warn(
                    f"{self.cls.name}: ignoring setting `{key}`, which the strategy does not declare"
                )
        self._apply_settings()
        self.strategy.start(self.ctx)

    def _apply_settings(self):
        s = self.strategy
        for p in self.cls.parameters():
            text = self.config.get(p.name)
            setattr(s, p.name, p.default if text is None else p.parse(text))
        symbols = self.config.get(SYMBOLS_KEY)
        s.symbols = list(self.cls.symbols) if symbols is None else split_symbols(symbols)

    def on_events(self, symbols, prices, sizes, times, others):
        """Handles events until one places an action; returns (consumed, actions).

        `others` is a list of (after_trades, kind, value), kind one of "trade", "bar",
        "prediction", "fill", "rejection", or None when the batch has only trades."""
        s, ctx = self.strategy, self.ctx
        ctx.begin_call()
        actions = ctx.actions
        n = min(len(symbols), len(prices), len(sizes), len(times))
        consumed = n
        if not others:
            on_trade = s.on_trade
            for i in range(n):
                ctx.at = i
                on_trade(ctx, Trade(symbols[i], prices[i], sizes[i], times[i]))
                if actions:
                    consumed = i + 1
                    break
        else:
            consumed = self._walk(symbols, prices, sizes, times, n, others)
        ctx.at = 0
        ctx.actions = []
        return consumed, actions

    def _walk(self, symbols, prices, sizes, times, n, others):
        s, ctx = self.strategy, self.ctx
        done = index = 0
        # The sentinel (n, None, None) flushes the trades after the last placed event.
        for after, kind, value in [*others, (n, None, None)]:
            until = min(max(after, done), n)
            while done < until:
                ctx.at = index
                index += 1
                s.on_trade(ctx, Trade(symbols[done], prices[done], sizes[done], times[done]))
                done += 1
                if ctx.actions:
                    return index
            if kind is None:
                break
            ctx.at = index
            index += 1
            self._dispatch(kind, value)
            if ctx.actions:
                return index
        return index

    def _dispatch(self, kind, value):
        s, ctx = self.strategy, self.ctx
        if kind == "trade":
            s.on_trade(ctx, Trade(value.symbol, value.price, value.size, value.time))
        elif kind == "bar":
            s.on_bar(ctx, value)
        elif kind == "prediction":
            s.on_prediction(ctx, value)
        elif kind == "fill":
            ctx.record_fill(value)
            s.on_fill(ctx, value)
        elif kind == "rejection":
            ctx.record_rejection(value)
            s.on_rejection(ctx, value)

    def snapshot(self):
        """The state as bytes: the order book and the strategy's public attributes."""
        saved = {"sdk": self.ctx.book.to_state(), "strategy": self.strategy.state()}
        return SNAPSHOT_MAGIC + pickle.dumps(saved, protocol=4)

    def restore(self, data):
        """Puts a snapshot's state back, re-applies the settings, calls `on_restore`.

        Attributes the snapshot lacks keep the values of a fresh instance, so a new version
        may add state. Raises `ConfigError` with a message for the user."""
        if not data:
            # Nothing saved (first start, or the previous version kept no state).
            self.strategy.on_restore(self.ctx)
            return
        if not data.startswith(SNAPSHOT_MAGIC):
            raise ConfigError(
                f"{self.cls.name}: the saved state was not written by a Python strategy; "
                "remove it to start afresh"
            )
        try:
            saved = pickle.loads(data[len(SNAPSHOT_MAGIC):])
            book = OrderBook.from_state(saved["sdk"])
            state = saved["strategy"]
        except Exception as e:
            raise ConfigError(
                f"{self.cls.name}: the snapshot does not decode into this version's state "
                f"({type(e).__name__}: {e}); remove the saved state to start afresh"
            ) from None
        vars(self.strategy).update(state)
        self.ctx.book = book
        self._apply_settings()
        self.strategy.on_restore(self.ctx)
