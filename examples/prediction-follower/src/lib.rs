//! Prediction follower: holds a position in the direction of the host model's forecast.
//!
//! On each forecast (and on each completed host bar, re-reading the latest forecast), an
//! expected return above `threshold` targets `quantity` long, below `-threshold` targets short
//! (or flat without `allow_short`), and in between flat. When there is no forecast, or only a
//! stale one, the strategy places no order at all and keeps what it holds, logging the
//! situation once per symbol until a fresh forecast arrives. An order the broker refuses
//! (for instance before the first trade of a symbol, when it cannot price a market order) is
//! tried again once, on the symbol's next trade, for the same forecast.

use std::collections::BTreeMap;
use tradehost_sdk::prelude::*;

/// Why the strategy is not trading a symbol, so it logs each reason only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Idle {
    NoForecast,
    Stale,
}

/// The strategy's state and settings.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PredictionFollower {
    threshold: f64,
    quantity: f64,
    allow_short: bool,
    min_model_version: u32,
    symbols: Vec<SymbolId>,
    /// Symbols currently idle, and why (logged on entry only).
    idle: BTreeMap<SymbolId, Idle>,
    /// Symbols whose order was refused, with the time of the forecast it followed: retried
    /// on the next trade, once per forecast, so a lasting refusal cannot loop.
    #[serde(default)]
    retry: BTreeMap<SymbolId, i64>,
    /// The forecast time each symbol's last retry was for.
    #[serde(default)]
    retried: BTreeMap<SymbolId, i64>,
}

impl PredictionFollower {
    fn apply_settings(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.threshold = config.get_in("threshold", 0.0..1.0)?;
        self.quantity = config.get_in("quantity", 0.0..=1e9)?;
        self.allow_short = config.get("allow_short")?;
        self.min_model_version = config.get("min_model_version")?;
        self.symbols = config.symbols().iter().map(|s| ctx.symbol(s)).collect();
        Ok(())
    }

    /// The position a forecast asks for.
    fn target(&self, expected_return: f64) -> f64 {
        if expected_return > self.threshold {
            self.quantity
        } else if expected_return < -self.threshold && self.allow_short {
            -self.quantity
        } else {
            0.0
        }
    }

    /// Trades `symbol` toward what `forecast` says, or stays idle (logging once) without one.
    fn follow(&mut self, ctx: &mut Context, symbol: SymbolId, forecast: Option<Prediction>) {
        let usable = forecast.filter(|p| p.model_version >= self.min_model_version);
        let idle = match &usable {
            None => Some(Idle::NoForecast),
            Some(p) if p.stale => Some(Idle::Stale),
            Some(_) => None,
        };
        match (idle, usable) {
            (Some(reason), _) => {
                if self.idle.insert(symbol, reason) != Some(reason) {
                    let name = ctx.symbol_name(symbol).unwrap_or("?").to_string();
                    let why = match reason {
                        Idle::NoForecast => "no forecast yet",
                        Idle::Stale => "the forecast is stale",
                    };
                    ctx.info(&format!(
                        "{name}: {why}; not trading it until a fresh one arrives"
                    ));
                }
            }
            (None, Some(p)) => {
                if self.idle.remove(&symbol).is_some() {
                    ctx.info(&format!(
                        "forecast from model v{} again: trading",
                        p.model_version
                    ));
                }
                ctx.target_position(symbol, self.target(p.expected_return));
            }
            (None, None) => {}
        }
    }
}

impl Strategy for PredictionFollower {
    fn info() -> Info {
        Info::new("prediction-follower", env!("CARGO_PKG_VERSION"))
            .description("Long when the model forecasts a rise, flat (or short) otherwise")
            .symbols(["SPY", "BAC", "AIG", "IBM"])
            .parameter(
                "threshold",
                0.0001,
                "Smallest expected log return worth trading",
            )
            .parameter("quantity", 100, "Shares held when in a position")
            .parameter(
                "allow_short",
                false,
                "Go short on forecasts below -threshold",
            )
            .parameter(
                "min_model_version",
                0,
                "Ignore forecasts of older model versions",
            )
    }

    fn start(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.apply_settings(ctx, config)
    }

    fn on_restore(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        self.apply_settings(ctx, config)
    }

    fn on_prediction(&mut self, ctx: &mut Context, prediction: &Prediction) {
        if self.symbols.contains(&prediction.symbol) {
            self.follow(ctx, prediction.symbol, Some(*prediction));
        }
    }

    fn on_bar(&mut self, ctx: &mut Context, bar: &Bar) {
        if self.symbols.contains(&bar.symbol) {
            // The forecast may have gone stale since it arrived.
            let latest = ctx.prediction(bar.symbol);
            self.follow(ctx, bar.symbol, latest);
        }
    }

    fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
        if self.retry.remove(&trade.symbol).is_some() {
            let latest = ctx.prediction(trade.symbol);
            self.follow(ctx, trade.symbol, latest);
        }
    }

    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        ctx.warn(&format!(
            "order {} refused: {}",
            rejection.tag, rejection.reason
        ));
        let Some(forecast) = ctx.prediction(rejection.symbol) else {
            return;
        };
        if self.retried.insert(rejection.symbol, forecast.time) != Some(forecast.time) {
            self.retry.insert(rejection.symbol, forecast.time);
        }
    }
}

export_strategy!(PredictionFollower);

#[cfg(test)]
mod tests {
    use super::*;
    use tradehost_sdk::testing::{Harness, with_host};

    fn bar(symbol: SymbolId, start: i64) -> Event {
        Event::Bar(Bar {
            symbol,
            start,
            period_secs: 60,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
            imputed: false,
        })
    }

    fn forecast(symbol: SymbolId, expected_return: f64, stale: bool) -> Prediction {
        Prediction {
            symbol,
            expected_return,
            horizon_bars: 5,
            model_version: 3,
            time: 0,
            stale,
        }
    }

    #[test]
    fn does_nothing_and_logs_once_without_a_forecast() {
        let mut h = Harness::<PredictionFollower>::start(&[]).unwrap();
        let spy = h.symbol("SPY");
        let orders = h.events(vec![bar(spy, 0), bar(spy, 60_000), bar(spy, 120_000)]);
        assert!(orders.is_empty(), "{orders:?}");
        let logs = with_host(|m| {
            m.logs_at_least(LogLevel::Info)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        });
        let idle: Vec<_> = logs.iter().filter(|l| l.contains("no forecast")).collect();
        assert_eq!(idle.len(), 1, "{logs:?}");
        assert!(idle[0].starts_with("SPY:"), "{idle:?}");
    }

    #[test]
    fn follows_fresh_forecasts_and_ignores_stale_ones() {
        let mut h = Harness::<PredictionFollower>::start(&[]).unwrap();
        let spy = h.symbol("SPY");
        let orders = h.events(vec![Event::Prediction(forecast(spy, 0.002, false))]);
        let [Action::Place(buy)] = orders.as_slice() else {
            panic!("{orders:?}")
        };
        assert_eq!((buy.side, buy.quantity), (Side::Buy, 100.0));
        h.fill_market_orders(&orders, 10.0);
        // A stale bearish forecast: no order, the position is kept.
        let orders = h.events(vec![Event::Prediction(forecast(spy, -0.01, true))]);
        assert!(orders.is_empty(), "{orders:?}");
        // The host's latest forecast is still stale when the next bar completes: still nothing.
        with_host(|m| m.predictions.insert(spy, forecast(spy, -0.01, true)));
        assert!(h.events(vec![bar(spy, 0)]).is_empty());
        // A fresh bearish one: without shorting, go flat.
        let orders = h.events(vec![Event::Prediction(forecast(spy, -0.01, false))]);
        let [Action::Place(sell)] = orders.as_slice() else {
            panic!("{orders:?}")
        };
        assert_eq!((sell.side, sell.quantity), (Side::Sell, 100.0));
    }

    #[test]
    fn small_forecasts_mean_flat() {
        let h = Harness::<PredictionFollower>::start(&[
            ("threshold", "0.001"),
            ("allow_short", "true"),
        ])
        .unwrap();
        let s = h.strategy();
        let table = [
            (0.0005, 0.0),
            (0.002, 100.0),
            (-0.0005, 0.0),
            (-0.002, -100.0),
        ];
        for (expected_return, target) in table {
            assert_eq!(s.target(expected_return), target, "{expected_return}");
        }
    }

    #[test]
    fn a_refused_order_is_retried_once_on_the_next_trade() {
        let mut h = Harness::<PredictionFollower>::start(&[]).unwrap();
        let spy = h.symbol("SPY");
        let p = forecast(spy, 0.002, false);
        with_host(|m| m.predictions.insert(spy, p));
        let first = h.events(vec![Event::Prediction(p)]);
        let [Action::Place(buy)] = first.as_slice() else {
            panic!("no order: {first:?}")
        };
        let refuse = |tag| {
            Event::Rejected(Rejection {
                symbol: spy,
                tag,
                reason: "no trade seen yet".into(),
                time: 0,
            })
        };
        let trade = Event::Trade(Trade {
            symbol: spy,
            price: 10.0,
            size: 1.0,
            time: 1,
        });
        assert!(h.events(vec![refuse(buy.tag)]).is_empty());
        let again = h.events(vec![trade.clone()]);
        let [Action::Place(retry)] = again.as_slice() else {
            panic!("not retried: {again:?}")
        };
        assert_eq!((retry.side, retry.quantity), (Side::Buy, 100.0));
        // Refused again for the same forecast: no second retry, however many trades follow.
        h.events(vec![refuse(retry.tag)]);
        assert!(h.events(vec![trade.clone(), trade]).is_empty());
    }
}
