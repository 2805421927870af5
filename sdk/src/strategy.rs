//! The [`Strategy`] trait an author implements, and the [`Info`] a strategy gives about itself.

use crate::config::Config;
use crate::context::Context;
use crate::types::{Bar, Fill, ParameterInfo, Prediction, Rejection, StrategyInfo, Trade};

/// A trading strategy: hooks called by the host, one per event, in the order events happened.
///
/// Every hook has a no-op default, so a strategy implements only what it uses. The instance is
/// created with [`Default`], then [`start`](Strategy::start) receives the settings. Orders are
/// placed through the [`Context`]; the host receives them as soon as the hook that placed them
/// returns, before the strategy sees the next event, so an order placed on trade *i* fills
/// against the trades after *i* however the host batched them.
///
/// State survives hot reloads and restarts when the type derives `Serialize` and `Deserialize`:
/// [`export_strategy!`](crate::export_strategy) detects it and snapshots the whole value with
/// MessagePack. A type without serde still works; it simply starts afresh after a reload.
///
/// # Example
///
/// ```
/// use tradehost_sdk::prelude::*;
/// use tradehost_sdk::indicators::Sma;
///
/// /// Buys when the price rises above its 20-trade average, sells when it falls below.
/// #[derive(Default, Serialize, Deserialize)]
/// struct AboveAverage {
///     sma: Sma,
///     quantity: f64,
/// }
///
/// impl Strategy for AboveAverage {
///     fn info() -> Info {
///         Info::new("above-average", "0.1.0")
///             .description("Long above the moving average, flat below")
///             .symbols(["SPY"])
///             .parameter("length", "20", "Trades in the moving average")
///             .parameter("quantity", "10", "Shares held when long")
///     }
///
///     fn start(&mut self, _ctx: &mut Context, config: &Config) -> Result<(), String> {
///         self.sma = Sma::new(config.get::<usize>("length")?);
///         self.quantity = config.get("quantity")?;
///         Ok(())
///     }
///
///     fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
///         let Some(average) = self.sma.update(trade.price) else { return };
///         let target = if trade.price > average { self.quantity } else { 0.0 };
///         ctx.target_position(trade.symbol, target);
///     }
/// }
///
/// export_strategy!(AboveAverage);
/// # fn main() {
/// # use tradehost_sdk::testing::Harness;
/// # let mut h = Harness::<AboveAverage>::start(&[("length", "2")]).unwrap();
/// # let spy = h.symbol("SPY");
/// # assert!(h.trades(spy, &[10.0, 10.0, 11.0]).len() == 1);
/// # }
/// ```
pub trait Strategy: Default + 'static {
    /// Name, version, wanted symbols and accepted parameters (with defaults).
    fn info() -> Info;

    /// Called once with the settings before any event; an error refuses the load.
    fn start(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        let _ = (ctx, config);
        Ok(())
    }

    /// Called after the state was replaced by a snapshot of an earlier instance, with the
    /// current settings (which may differ from the ones the snapshot was taken under).
    fn on_restore(&mut self, ctx: &mut Context, config: &Config) -> Result<(), String> {
        let _ = (ctx, config);
        Ok(())
    }

    /// A trade print in a subscribed symbol.
    fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
        let _ = (ctx, trade);
    }

    /// A completed bar in a subscribed symbol.
    fn on_bar(&mut self, ctx: &mut Context, bar: &Bar) {
        let _ = (ctx, bar);
    }

    /// A new forecast of the host's model.
    fn on_prediction(&mut self, ctx: &mut Context, prediction: &Prediction) {
        let _ = (ctx, prediction);
    }

    /// One of this strategy's orders filled (fully or partly).
    fn on_fill(&mut self, ctx: &mut Context, fill: &Fill) {
        let _ = (ctx, fill);
    }

    /// One of this strategy's orders was refused by the broker.
    fn on_rejected(&mut self, ctx: &mut Context, rejection: &Rejection) {
        let _ = (ctx, rejection);
    }
}

/// A parameter a strategy accepts, with its default value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Name used in the settings file's `[parameters]` table.
    pub name: String,
    /// The value used when the settings file gives none.
    pub default: String,
    /// What the parameter does.
    pub description: String,
}

/// What a strategy says about itself: built with [`Info::new`] and chained setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Short name used in logs and metrics.
    pub name: String,
    /// The strategy's own version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Symbols traded when the settings file names none.
    pub symbols: Vec<String>,
    /// Parameters accepted, with defaults.
    pub parameters: Vec<Parameter>,
    /// Periods (seconds) of extra bars wanted from the host, besides its own.
    pub bar_periods: Vec<u32>,
}

impl Info {
    /// Info with a name and a version; usually `env!("CARGO_PKG_VERSION")` for the latter.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Info {
        Info {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            symbols: Vec::new(),
            parameters: Vec::new(),
            bar_periods: Vec::new(),
        }
    }

    /// Sets the one-line description.
    pub fn description(mut self, text: impl Into<String>) -> Info {
        self.description = text.into();
        self
    }

    /// Sets the default symbols (the settings file's `symbols` overrides them).
    pub fn symbols<I, S>(mut self, symbols: I) -> Info
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.symbols = symbols.into_iter().map(Into::into).collect();
        self
    }

    /// Declares a parameter with its default value and what it does.
    pub fn parameter(
        mut self,
        name: impl Into<String>,
        default: impl ToString,
        description: impl Into<String>,
    ) -> Info {
        self.parameters.push(Parameter {
            name: name.into(),
            default: default.to_string(),
            description: description.into(),
        });
        self
    }

    /// Declares every parameter of `P` (see [`parameters!`](crate::parameters)).
    pub fn parameters<P: crate::parameters::Parameters>(mut self) -> Info {
        self.parameters.extend(P::declared());
        self
    }

    /// Asks the host for bars of `period_secs` seconds too (besides its own `UPDATE_INTERVAL`
    /// bars): they arrive through `on_bar` with that `period_secs`, and
    /// [`Context::recent_bars_of`](crate::Context::recent_bars_of) reads their history.
    pub fn bar_period(mut self, period_secs: u32) -> Info {
        if !self.bar_periods.contains(&period_secs) {
            self.bar_periods.push(period_secs);
        }
        self
    }

    /// The declared parameter called `name`, if any.
    pub fn find_parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The WIT record the host receives from `describe`.
    pub fn to_wit(&self) -> StrategyInfo {
        StrategyInfo {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            symbols: self.symbols.clone(),
            parameters: self
                .parameters
                .iter()
                .map(|p| ParameterInfo {
                    name: p.name.clone(),
                    description: p.description.clone(),
                    default_value: p.default.clone(),
                })
                .collect(),
            bar_periods: self.bar_periods.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_builder_converts_to_the_wit_record() {
        let info = Info::new("x", "1.2.3")
            .description("d")
            .symbols(["SPY", "BAC"])
            .parameter("fast", 10, "fast length");
        let wit = info.to_wit();
        assert_eq!(wit.name, "x");
        assert_eq!(wit.version, "1.2.3");
        assert_eq!(wit.symbols, vec!["SPY".to_string(), "BAC".to_string()]);
        assert_eq!(wit.parameters.len(), 1);
        assert_eq!(wit.parameters[0].default_value, "10");
        assert_eq!(
            info.find_parameter("fast").map(|p| p.default.as_str()),
            Some("10")
        );
        assert!(info.find_parameter("slow").is_none());
    }
}
