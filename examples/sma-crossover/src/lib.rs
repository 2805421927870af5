//! SMA crossover: long while a fast moving average of interval closes is above a slow one.
//!
//! Trades are grouped into bars of `interval_secs` seconds inside the strategy (so it works
//! whether or not the host sends bars); each completed bar's close updates both averages. When
//! the fast average is above the slow one the strategy holds `quantity` shares; otherwise it is
//! flat (or short `quantity` when `allow_short` is true). The state derives serde, so it keeps
//! its averages and positions across hot reloads.

use tradehost_sdk::indicators::Sma;
use tradehost_sdk::prelude::*;

parameters! {
    /// The settings, each declared once: type, accepted range, default, description.
    pub struct Params {
        /// Bars in the fast moving average
        fast: usize [1..=10_000] = 8,
        /// Bars in the slow moving average (more than `fast`)
        slow: usize [2..=10_000] = 21,
        /// Seconds per bar built from trades
        interval_secs: u32 [1..=86_400] = 2,
        /// Shares held when in a position
        quantity: f64 [0.0..=1e9] = 100.0,
        /// Go short instead of flat when fast < slow
        allow_short: bool = false,
    }
}

impl Params {
    /// Reads the parameters and checks what no single range can say.
    fn checked(config: &Config) -> Result<Params, String> {
        let p = Params::read(config)?;
        if p.fast >= p.slow {
            return Err(format!(
                "parameter `fast` ({}) must be smaller than `slow` ({})",
                p.fast, p.slow
            ));
        }
        Ok(p)
    }
}

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
    params: Params,
    legs: SymbolMap<Leg>,
}

impl SmaCrossover {
    fn new_leg(&self) -> Leg {
        Leg {
            bars: BarBuilder::new(self.params.interval_secs),
            fast: Sma::new(self.params.fast),
            slow: Sma::new(self.params.slow),
        }
    }

    /// Adds a fresh leg for each configured symbol that has none.
    fn add_legs(&mut self, ctx: &mut Context, config: &Config) {
        for name in config.symbols() {
            let id = ctx.symbol(name);
            if !self.legs.contains_key(id) {
                let leg = self.new_leg();
                self.legs.insert(id, leg);
            }
        }
    }
}

impl Strategy for SmaCrossover {
    fn info() -> Info {
        Info::new("sma-crossover", env!("CARGO_PKG_VERSION"))
            .description("Long while the fast SMA of interval closes is above the slow SMA")
            .symbols(["SPY", "IBM"])
            .parameters::<Params>()
    }

    fn start(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.params = Params::checked(config)?;
        self.add_legs(ctx, config);
        let p = &self.params;
        ctx.info(&format!(
            "SMA {}/{} over {} s bars on {}",
            p.fast,
            p.slow,
            p.interval_secs,
            config.symbols().join(",")
        ));
        Ok(())
    }

    fn on_restore(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        // New settings win over the snapshot's; averages whose length changed start over.
        let params = Params::checked(config)?;
        let p = &self.params;
        if (p.fast, p.slow, p.interval_secs) != (params.fast, params.slow, params.interval_secs) {
            self.legs.clear();
        }
        self.params = params;
        self.add_legs(ctx, config);
        Ok(())
    }

    fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
        // Every trade passes here and few complete a bar: this part stays small, the rest is
        // `bar_closed`.
        let Some(leg) = self.legs.get_mut(trade.symbol) else {
            return;
        };
        if let Some(bar) = leg.bars.push(trade) {
            bar_closed(leg, &self.params, ctx, trade.symbol, bar.close);
        }
    }

    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        ctx.warn(&format!(
            "order {} refused: {}",
            rejection.tag, rejection.reason
        ));
    }
}

/// A bar of `symbol` closed at `close`: both averages move, and the position follows them.
#[inline(never)]
fn bar_closed(leg: &mut Leg, params: &Params, ctx: &mut Context, symbol: SymbolId, close: f64) {
    let (Some(fast), Some(slow)) = (leg.fast.update(close), leg.slow.update(close)) else {
        return;
    };
    let target = if fast > slow {
        params.quantity
    } else if params.allow_short {
        -params.quantity
    } else {
        0.0
    };
    ctx.target_position(symbol, target);
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
