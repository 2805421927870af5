//! RSI mean reversion: buy when Wilder's RSI of interval closes is oversold, exit when it recovers.
//!
//! Trades are grouped into bars of `interval_secs` seconds inside the strategy; each completed
//! bar's close updates an RSI of `period` bars. Below `oversold` the strategy goes long
//! `quantity`; once the RSI climbs back above `exit` it closes. With `allow_short`, it also
//! shorts above `overbought` and covers below `exit`. The state derives serde, so the RSI and
//! the open trade survive hot reloads.

use std::collections::BTreeMap;
use tradehost_sdk::indicators::Rsi;
use tradehost_sdk::prelude::*;

/// Per-symbol state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Leg {
    bars: BarBuilder,
    rsi: Rsi,
    /// The position the strategy wants: +1 long, -1 short, 0 flat.
    stance: i8,
}

/// The strategy's state and settings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RsiReversion {
    period: usize,
    interval_secs: u32,
    oversold: f64,
    overbought: f64,
    exit: f64,
    quantity: f64,
    allow_short: bool,
    legs: BTreeMap<SymbolId, Leg>,
}

impl RsiReversion {
    fn apply_settings(&mut self, config: &Config) -> Result<(), String> {
        self.period = config.get_in("period", 2..=1_000)?;
        self.interval_secs = config.get_in("interval_secs", 1..=86_400)?;
        self.oversold = config.get_in("oversold", 0.0..=100.0)?;
        self.overbought = config.get_in("overbought", 0.0..=100.0)?;
        self.exit = config.get_in("exit", 0.0..=100.0)?;
        self.quantity = config.get_in("quantity", 0.0..=1e9)?;
        self.allow_short = config.get("allow_short")?;
        if !(self.oversold < self.exit && self.exit < self.overbought) {
            return Err(format!(
                "parameters must satisfy oversold < exit < overbought (got {} < {} < {})",
                self.oversold, self.exit, self.overbought
            ));
        }
        Ok(())
    }

    fn new_leg(&self) -> Leg {
        Leg {
            bars: BarBuilder::new(self.interval_secs),
            rsi: Rsi::new(self.period),
            stance: 0,
        }
    }

    /// The stance an RSI reading asks for, given the current one.
    fn next_stance(&self, current: i8, rsi: f64) -> i8 {
        match current {
            _ if rsi < self.oversold => 1,
            _ if rsi > self.overbought && self.allow_short => -1,
            1 if rsi > self.exit => 0,
            -1 if rsi < self.exit => 0,
            other => other,
        }
    }
}

impl Strategy for RsiReversion {
    fn info() -> Info {
        Info::new("rsi-reversion", env!("CARGO_PKG_VERSION"))
            .description("Long when the RSI is oversold, flat again once it recovers")
            .symbols(["BAC", "AIG"])
            .parameter("period", 14, "Bars in Wilder's RSI")
            .parameter("interval_secs", 2, "Seconds per bar built from trades")
            .parameter("oversold", 30, "Go long below this RSI")
            .parameter(
                "overbought",
                70,
                "Go short above this RSI (with allow_short)",
            )
            .parameter(
                "exit",
                50,
                "Close the position when the RSI crosses back over this",
            )
            .parameter("quantity", 100, "Shares per position")
            .parameter("allow_short", false, "Also short overbought symbols")
    }

    fn start(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.apply_settings(config)?;
        for name in config.symbols() {
            let id = ctx.symbol(name);
            let leg = self.new_leg();
            self.legs.insert(id, leg);
        }
        Ok(())
    }

    fn on_restore(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        // Thresholds and quantity follow the new settings; the RSI restarts only if its
        // period or bar length changed.
        let before = (self.period, self.interval_secs);
        self.apply_settings(config)?;
        let changed = before != (self.period, self.interval_secs);
        for name in config.symbols() {
            let id = ctx.symbol(name);
            let fresh = self.new_leg();
            let leg = self.legs.entry(id).or_insert_with(|| fresh.clone());
            if changed {
                *leg = Leg {
                    stance: leg.stance,
                    ..fresh
                };
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
        let Some(rsi) = leg.rsi.update(bar.close) else {
            return;
        };
        let current = leg.stance;
        let stance = self.next_stance(current, rsi);
        if stance != current {
            if let Some(leg) = self.legs.get_mut(&trade.symbol) {
                leg.stance = stance;
            }
            ctx.debug(&format!("RSI {rsi:.1}: stance {current} -> {stance}"));
            ctx.target_position(trade.symbol, f64::from(stance) * self.quantity);
        }
    }

    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        ctx.warn(&format!(
            "order {} refused: {}",
            rejection.tag, rejection.reason
        ));
    }
}

export_strategy!(RsiReversion);

#[cfg(test)]
mod tests {
    use super::*;
    use tradehost_sdk::testing::Harness;

    fn start() -> (Harness<RsiReversion>, SymbolId) {
        let mut h = Harness::<RsiReversion>::start(&[
            ("period", "2"),
            ("interval_secs", "1"),
            ("symbols", "BAC"),
        ])
        .unwrap();
        let bac = h.symbol("BAC");
        (h, bac)
    }

    #[test]
    fn buys_when_oversold_and_exits_on_recovery() {
        let (mut h, bac) = start();
        // Closes 10 9 8 (completed by the 4th trade): RSI(2) = 0 → long 100.
        let orders = h.trades(bac, &[10.0, 9.0, 8.0, 8.0]);
        let [Action::Place(buy)] = orders.as_slice() else {
            panic!("{orders:?}")
        };
        assert_eq!((buy.side, buy.quantity), (Side::Buy, 100.0));
        h.fill_market_orders(&orders, 8.0);
        // Closes ... 8 9 10: gains dominate, RSI > 50 → close the 100.
        let orders = h.trades(bac, &[9.0, 10.0, 10.0]);
        let Some(Action::Place(sell)) = orders.first() else {
            panic!("{orders:?}")
        };
        assert_eq!((sell.side, sell.quantity), (Side::Sell, 100.0));
    }

    #[test]
    fn stance_table() {
        let (h, _) = start();
        let s = h.strategy();
        // (current stance, RSI, expected stance) with oversold 30, exit 50, overbought 70.
        let table = [
            (0, 25.0, 1),
            (0, 40.0, 0),
            (1, 45.0, 1),
            (1, 55.0, 0),
            (0, 80.0, 0),
            (-1, 45.0, 0),
        ];
        for (current, rsi, expected) in table {
            assert_eq!(
                s.next_stance(current, rsi),
                expected,
                "stance {current}, RSI {rsi}"
            );
        }
    }

    #[test]
    fn refuses_inconsistent_thresholds() {
        let err = Harness::<RsiReversion>::start(&[("oversold", "60")])
            .err()
            .unwrap();
        assert!(err.contains("oversold < exit"), "{err}");
    }
}
