//! SMA crossover: long while a fast moving average of interval closes is above a slow one.
//!
//! Trades are grouped into bars of `interval_secs` seconds inside the strategy (so it works
//! whether or not the host sends bars); each completed bar's close updates both averages. When
//! the fast average is above the slow one the strategy holds `quantity` shares; otherwise it is
//! flat (or short `quantity` when `allow_short` is true). The state derives serde, so it keeps
//! its averages and positions across hot reloads.

use std::collections::BTreeMap;
use tradehost_sdk::indicators::Sma;
use tradehost_sdk::prelude::*;

/// Per-symbol state: bar builder and the two averages.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Leg {
    bars: BarBuilder,
    fast: Sma,
    slow: Sma,
}

/// The strategy's state and settings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SmaCrossover {
    fast: usize,
    slow: usize,
    interval_secs: u32,
    quantity: f64,
    allow_short: bool,
    legs: BTreeMap<SymbolId, Leg>,
}

impl SmaCrossover {
    fn new_leg(&self) -> Leg {
        Leg {
            bars: BarBuilder::new(self.interval_secs),
            fast: Sma::new(self.fast),
            slow: Sma::new(self.slow),
        }
    }

    fn apply_settings(&mut self, config: &Config) -> Result<(), String> {
        self.fast = config.get_in("fast", 1..=10_000)?;
        self.slow = config.get_in("slow", 2..=10_000)?;
        if self.fast >= self.slow {
            return Err(format!(
                "parameter `fast` ({}) must be smaller than `slow` ({})",
                self.fast, self.slow
            ));
        }
        self.interval_secs = config.get_in("interval_secs", 1..=86_400)?;
        self.quantity = config.get_in("quantity", 0.0..=1e9)?;
        self.allow_short = config.get("allow_short")?;
        Ok(())
    }
}

impl Strategy for SmaCrossover {
    fn info() -> Info {
        Info::new("sma-crossover", env!("CARGO_PKG_VERSION"))
            .description("Long while the fast SMA of interval closes is above the slow SMA")
            .symbols(["SPY", "IBM"])
            .parameter("fast", 8, "Bars in the fast moving average")
            .parameter(
                "slow",
                21,
                "Bars in the slow moving average (more than `fast`)",
            )
            .parameter("interval_secs", 2, "Seconds per bar built from trades")
            .parameter("quantity", 100, "Shares held when in a position")
            .parameter(
                "allow_short",
                false,
                "Go short instead of flat when fast < slow",
            )
    }

    fn start(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.apply_settings(config)?;
        for name in config.symbols() {
            let id = ctx.symbol(name);
            let leg = self.new_leg();
            self.legs.insert(id, leg);
        }
        ctx.info(&format!(
            "SMA {}/{} over {} s bars on {}",
            self.fast,
            self.slow,
            self.interval_secs,
            config.symbols().join(",")
        ));
        Ok(())
    }

    fn on_restore(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        // New settings win over the snapshot's; averages whose length changed start over.
        let before = (self.fast, self.slow, self.interval_secs);
        self.apply_settings(config)?;
        if before != (self.fast, self.slow, self.interval_secs) {
            let fresh: Vec<SymbolId> = self.legs.keys().copied().collect();
            for id in fresh {
                let leg = self.new_leg();
                self.legs.insert(id, leg);
            }
        }
        for name in config.symbols() {
            let id = ctx.symbol(name);
            if !self.legs.contains_key(&id) {
                let leg = self.new_leg();
                self.legs.insert(id, leg);
            }
        }
        Ok(())
    }

    fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
        let Some(leg) = self.legs.get_mut(&trade.symbol) else {
            return;
        };
        let Some(bar) = leg.bars.push(trade) else {
            return;
        };
        let (Some(fast), Some(slow)) = (leg.fast.update(bar.close), leg.slow.update(bar.close))
        else {
            return;
        };
        let target = if fast > slow {
            self.quantity
        } else if self.allow_short {
            -self.quantity
        } else {
            0.0
        };
        ctx.target_position(trade.symbol, target);
    }

    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        ctx.warn(&format!(
            "order {} refused: {}",
            rejection.tag, rejection.reason
        ));
    }
}

export_strategy!(SmaCrossover);

#[cfg(test)]
mod tests {
    use super::*;
    use tradehost_sdk::testing::Harness;

    #[test]
    fn buys_on_the_upward_cross_and_sells_on_the_downward_one() {
        let mut h = Harness::<SmaCrossover>::start(&[
            ("fast", "2"),
            ("slow", "3"),
            ("interval_secs", "1"),
            ("symbols", "SPY"),
        ])
        .unwrap();
        let spy = h.symbol("SPY");
        // One trade per second → one bar per trade, completed by the next trade.
        // Closes 10 10 10 11: SMA2 10.5 > SMA3 10.33 at the 4th close (completed by the 5th
        // trade): buy. The 5th close keeps fast above slow, and the buy is in flight: nothing.
        let orders = h.trades(spy, &[10.0, 10.0, 10.0, 11.0, 12.0, 12.0]);
        assert_eq!(orders.len(), 1, "{orders:?}");
        let Action::Place(buy) = &orders[0] else {
            panic!("{orders:?}")
        };
        assert_eq!((buy.side, buy.quantity), (Side::Buy, 100.0));
        h.fill_market_orders(&orders, 12.0);
        // Closes ... 12 12 9: SMA2 10.5 < SMA3 11: sell the 100 held.
        let orders = h.trades(spy, &[9.0, 8.0, 8.0]);
        let Some(Action::Place(sell)) = orders.first() else {
            panic!("{orders:?}")
        };
        assert_eq!((sell.side, sell.quantity), (Side::Sell, 100.0));
    }

    #[test]
    fn refuses_fast_not_below_slow() {
        let err = Harness::<SmaCrossover>::start(&[("fast", "30"), ("slow", "20")])
            .err()
            .unwrap();
        assert!(err.contains("`fast`"), "{err}");
    }
}
