"""tradehost_strategy: write tradehost trading strategies in Python.

Subclass `Strategy`, declare parameters with `Param`, override the hooks you use, and
`register` the class in your project's `app.py`; `tradehost build` (componentize-py) turns
it into a sandboxed WebAssembly component speaking `wit/strategy.wit`. See sdk/python/README.md.
"""

from .bars import BarBuilder
from .context import Context
from .indicators import Ema, Rsi, Sma
from .params import ConfigError, Param
from .registry import register
from .strategy import Strategy
from .types import BUY, DEBUG, ERROR, INFO, SELL, TRACE, WARN, Bar, Trade

__all__ = [
    "BUY", "SELL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR",
    "Bar", "BarBuilder", "ConfigError", "Context", "Ema", "Param", "Rsi", "Sma",
    "Strategy", "Trade", "register",
]
