//! {{name}}: a tradehost strategy. Long `quantity` shares while the fast moving average of
//! bar closes is above the slow one, flat otherwise.
//!
//! Bars of `interval_secs` seconds are built from trades inside the strategy, so it trades
//! whether or not the daemon sends bars. The state derives serde, so the daemon keeps it (the
//! averages, the bar being built) when it reloads a new build of this plugin or restarts.

use std::collections::BTreeMap;
use tradehost_sdk::indicators::Sma;
use tradehost_sdk::prelude::*;

parameters! {
    /// The parameters, each declared once: type, accepted range, default and description
    /// (the doc comment). The settings file's `[parameters]` table overrides the defaults.
    pub struct Params {
        /// Bars in the fast moving average
        fast: usize [1..=10_000] = 3,
        /// Bars in the slow moving average (more than `fast`)
        slow: usize [2..=10_000] = 8,
        /// Seconds per bar built from trades
        interval_secs: u32 [1..=86_400] = 5,
        /// Shares held while long
        quantity: f64 [0.0..=1e9] = 10.0,
    }
}

impl Params {
    /// The parameters, with the check that involves two of them.
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

/// What the strategy keeps per symbol: the bar being built and the two averages.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Leg {
    bars: BarBuilder,
    fast: Sma,
    slow: Sma,
}

/// The strategy: its parameters and one leg per symbol.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MyStrategy {
    params: Params,
    legs: BTreeMap<SymbolId, Leg>,
}

impl MyStrategy {
    /// A leg for each configured symbol that has none.
    fn add_legs(&mut self, ctx: &mut Context, config: &Config) {
        for name in config.symbols() {
            let id = ctx.symbol(name);
            let p = &self.params;
            self.legs.entry(id).or_insert_with(|| Leg {
                bars: BarBuilder::new(p.interval_secs),
                fast: Sma::new(p.fast),
                slow: Sma::new(p.slow),
            });
        }
    }
}

impl Strategy for MyStrategy {
    fn info() -> Info {
        Info::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Long while the fast SMA of bar closes is above the slow SMA")
            .symbols(["SPY"])
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
        // The settings file wins over the saved state; averages whose length changed restart.
        let params = Params::checked(config)?;
        let p = &self.params;
        if (p.fast, p.slow, p.interval_secs) != (params.fast, params.slow, params.interval_secs)
        {
            self.legs.clear();
        }
        self.params = params;
        self.add_legs(ctx, config);
        Ok(())
    }

    fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
        let Some(leg) = self.legs.get_mut(&trade.symbol) else {
            return;
        };
        let Some(bar) = leg.bars.push(trade) else {
            return; // the bar is not complete yet
        };
        let (Some(fast), Some(slow)) = (leg.fast.update(bar.close), leg.slow.update(bar.close))
        else {
            return; // not enough bars yet
        };
        let target = if fast > slow { self.params.quantity } else { 0.0 };
        // Orders only the difference to the position (and what is already in flight).
        ctx.target_position(trade.symbol, target);
    }

    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        ctx.warn(&format!("order {} refused: {}", rejection.tag, rejection.reason));
    }
}

export_strategy!(MyStrategy);

// Run with `cargo test-native` (plain `cargo test` would build for WebAssembly).
#[cfg(test)]
mod tests {
    use super::*;
    use tradehost_sdk::testing::Harness;

    #[test]
    fn buys_when_the_fast_average_crosses_above_and_sells_when_it_crosses_below() {
        let mut h = Harness::<MyStrategy>::start(&[
            ("fast", "2"),
            ("slow", "3"),
            ("interval_secs", "1"),
            ("symbols", "SPY"),
        ])
        .unwrap();
        let spy = h.symbol("SPY");
        // One trade per second: each trade completes the previous one-second bar.
        // Closes 10 10 10 11: SMA(2) 10.5 > SMA(3) 10.33, so the 5th trade buys.
        let orders = h.trades(spy, &[10.0, 10.0, 10.0, 11.0, 12.0]);
        let [Action::Place(buy)] = orders.as_slice() else {
            panic!("expected one buy, got {orders:?}")
        };
        assert_eq!((buy.side, buy.quantity), (Side::Buy, 10.0));
        h.fill_market_orders(&orders, 12.0);

        // Closes 11 12 9: SMA(2) 10.5 < SMA(3) 10.67, so the 7th trade sells what it holds.
        let orders = h.trades(spy, &[9.0, 8.0]);
        let [Action::Place(sell)] = orders.as_slice() else {
            panic!("expected one sell, got {orders:?}")
        };
        assert_eq!((sell.side, sell.quantity), (Side::Sell, 10.0));
    }

    #[test]
    fn refuses_a_fast_average_not_shorter_than_the_slow_one() {
        let err = Harness::<MyStrategy>::start(&[("fast", "8"), ("slow", "8")])
            .err()
            .expect("fast = slow must be refused");
        assert!(err.contains("`fast`"), "{err}");
    }
}
