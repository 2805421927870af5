"""The component's entry point: componentize-py's implementation of the WIT exports.

Built with `componentize-py -d wit -w strategy-plugin componentize tradehost_strategy.component`
and the strategy's folder on the path: importing this module imports the user's `app`
module, which calls `register(...)`. Both imports run at build time (componentize-py
pre-initialises the interpreter and snapshots it), so a load only instantiates.

Converts between the generated bindings and the runtime's plain values. An exception in a
hook prints its Python traceback to stderr (the host logs it under the plugin's name) and
traps, which faults this plugin only.
"""

import sys
import traceback

from wit_world import exports
from wit_world.imports import host as _wit_host
from wit_world.imports import types as wit
from componentize_py_types import Err

from .params import ConfigError
from .registry import registered
from .runtime import Runtime

import app  # noqa: F401  (the user's module; it calls register())

_LEVELS = list(wit.LogLevel)
_SIDES = (wit.Side.BUY, wit.Side.SELL)
_KINDS = {
    wit.Event_Trade: "trade",
    wit.Event_Bar: "bar",
    wit.Event_Prediction: "prediction",
    wit.Event_Fill: "fill",
    wit.Event_Rejected: "rejection",
}


class _Host:
    """The host imports with the SDK's plain arguments (levels as ints)."""

    log = staticmethod(lambda level, message: _wit_host.log(_LEVELS[level], message))
    now = staticmethod(_wit_host.now)
    latest_prediction = staticmethod(_wit_host.latest_prediction)
    position_of = staticmethod(_wit_host.position_of)
    recent_bars = staticmethod(_wit_host.recent_bars)
    intern_symbol = staticmethod(_wit_host.intern_symbol)
    symbol_name = staticmethod(_wit_host.symbol_name)


_runtime = Runtime(registered(), _Host)


def _to_wit(action):
    if action[0] == "cancel":
        return wit.Action_Cancel(action[1])
    _, symbol, side, quantity, limit, tag = action
    kind = wit.OrderKind_Market() if limit is None else wit.OrderKind_Limit(float(limit))
    side = side if isinstance(side, wit.Side) else _SIDES[side]
    return wit.Action_Place(wit.OrderRequest(symbol, side, quantity, kind, tag))


def _traced(what):
    # The traceback goes to stderr, which the host logs with the plugin's name.
    print(f"{_runtime.cls.name}: exception in {what}:", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


class Strategy(exports.Strategy):
    """The exported `strategy` interface, delegating to the registered strategy's runtime."""

    def describe(self):
        name, version, description, symbols, params, periods = _runtime.describe()
        return wit.StrategyInfo(
            name,
            version,
            description,
            symbols,
            [wit.Parameter(n, d, v) for n, d, v in params],
            periods,
        )

    def init(self, config):
        try:
            _runtime.init(config)
        except (ConfigError, ValueError) as e:
            raise Err(str(e))
        except Exception:
            _traced("start")
            raise

    def on_events(self, batch):
        c = batch.trades
        others = batch.others
        if others:
            others = [(p.after_trades, _KINDS[type(p.event)], p.event.value) for p in others]
        try:
            consumed, actions = _runtime.on_events(c.symbols, c.prices, c.sizes, c.times, others)
        except BaseException:
            _traced("on_events")
            raise
        return wit.BatchOutcome(consumed, [_to_wit(a) for a in actions])

    def snapshot(self):
        try:
            return _runtime.snapshot()
        except Exception:
            _traced("snapshot")
            return b""

    def restore(self, state):
        try:
            _runtime.restore(state)
        except (ConfigError, ValueError) as e:
            raise Err(str(e))
        except Exception:
            _traced("restore")
            raise
