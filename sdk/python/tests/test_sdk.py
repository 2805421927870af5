"""Tests of the Python SDK under native CPython: `python -m unittest discover sdk/python/tests`."""

import pathlib
import sys
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "sdk" / "python"), str(ROOT / "examples" / "python" / "sma_crossover")]

from tradehost_strategy import BUY, SELL, ConfigError, Ema, Param, Rsi, Sma, Strategy  # noqa: E402
from tradehost_strategy.runtime import Runtime  # noqa: E402
from tradehost_strategy.testing import FakeHost, Harness  # noqa: E402
import app  # noqa: E402


class Every(Strategy):
    name = "every"
    symbols = ["SPY"]
    step = Param(2, "orders every N", min=1)

    def start(self, ctx):
        self.trades = 0

    def on_trade(self, ctx, trade):
        self.trades += 1
        if self.trades % self.step == 0:
            ctx.buy(trade.symbol, 1.0)


class IndicatorTests(unittest.TestCase):
    def test_sma_averages_the_last_period_values(self):
        sma = Sma(3)
        self.assertEqual([sma.update(x) for x in (1.0, 2.0, 6.0, 4.0, 11.0)], [None, None, 3.0, 4.0, 7.0])

    def test_ema_seeds_with_the_sma_then_smooths(self):
        ema = Ema(3)
        self.assertEqual([ema.update(x) for x in (10.0, 11.0, 9.0, 12.0, 8.0)], [None, None, 10.0, 11.0, 9.5])

    def test_rsi_is_50_when_flat_and_100_when_only_rising(self):
        flat, up = Rsi(3), Rsi(3)
        self.assertEqual([flat.update(1.0) for _ in range(4)][-1], 50.0)
        self.assertEqual([up.update(float(x)) for x in range(4)][-1], 100.0)


class RuntimeTests(unittest.TestCase):
    def test_returns_after_the_first_event_that_placed_an_order(self):
        rt = Runtime(Every, FakeHost())
        rt.init([("step", "3")])
        consumed, actions = rt.on_events([0] * 7, [1.0] * 7, [1.0] * 7, list(range(7)), None)
        self.assertEqual(consumed, 3)
        self.assertEqual(actions, [("place", 0, BUY, 1.0, None, 1)])
        consumed, actions = rt.on_events([0] * 4, [1.0] * 4, [1.0] * 4, list(range(3, 7)), None)
        self.assertEqual((consumed, actions[0][5]), (3, 2))

    def test_placed_events_count_in_the_index_and_stop_the_walk(self):
        rt = Runtime(Every, FakeHost())
        rt.init([("step", "2")])
        fill = type("F", (), dict(symbol=0, side=BUY, quantity=1.0, price=1.0, fee=0.0, time=0, tag=9))
        consumed, actions = rt.on_events([0, 0], [1.0] * 2, [1.0] * 2, [0, 1], [(1, "fill", fill)])
        self.assertEqual(consumed, 3, "trade, fill, then the trade that orders")

    def test_bad_settings_are_refused_naming_the_parameter(self):
        with self.assertRaisesRegex(ConfigError, "`step`"):
            Harness.start(Every, {"step": "x"})
        with self.assertRaisesRegex(ValueError, "`fast`"):
            Harness.start(app.SmaCrossover, {"fast": "30", "slow": "20"})

    def test_snapshot_restore_keeps_state_and_new_settings_win(self):
        h = Harness.start(Every, {"step": "5"})
        h.trades("SPY", [1.0] * 3)
        saved = h.runtime.snapshot()
        rt = Runtime(Every, h.host)
        rt.init([("step", "4")])
        rt.restore(saved)
        self.assertEqual((rt.strategy.trades, rt.strategy.step), (3, 4))


class Target(Strategy):
    name = "target"
    symbols = ["SPY"]

    def start(self, ctx):
        pass

    def on_trade(self, ctx, trade):
        ctx.target_position(trade.symbol, 3.0)


class TargetPositionTests(unittest.TestCase):
    def test_the_held_quantity_is_asked_once_per_call(self):
        host = FakeHost()
        rt = Runtime(Target, host)
        rt.init([])
        host.positions[0] = type("P", (), dict(symbol=0, quantity=3.0))
        asked = []
        answer = host.position_of
        host.position_of = lambda symbol, at: asked.append(at) or answer(symbol, at)
        consumed, actions = rt.on_events([0] * 5, [1.0] * 5, [1.0] * 5, list(range(5)), None)
        self.assertEqual((consumed, actions, asked), (5, [], [0]), "one question for five trades")
        # The next call asks again, and sees the position gone.
        del host.positions[0]
        consumed, actions = rt.on_events([0] * 2, [1.0] * 2, [1.0] * 2, [5, 6], None)
        self.assertEqual((consumed, asked), (1, [0, 0]))
        self.assertEqual(actions[0][2:4], (BUY, 3.0))


class SmaExampleTests(unittest.TestCase):
    def test_buys_on_the_upward_cross_and_sells_on_the_downward_one(self):
        # The Rust example's unit test, step for step.
        h = Harness.start(app.SmaCrossover, {"fast": "2", "slow": "3", "interval_secs": "1", "symbols": "SPY"})
        orders = h.trades("SPY", [10.0, 10.0, 10.0, 11.0, 12.0, 12.0])
        self.assertEqual([(o[2], o[3]) for o in orders], [(BUY, 100.0)])
        h.fill_market_orders(orders, 12.0)
        orders = h.trades("SPY", [9.0, 8.0, 8.0])
        self.assertEqual((orders[0][2], orders[0][3]), (SELL, 100.0))


if __name__ == "__main__":
    unittest.main()
