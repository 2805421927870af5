//! Configuration of the paper broker: fill costs, risk limits, kill switch and journal.
//!
//! Every field is read from one setting (see [`BrokerConfig::from_settings`]); the defaults
//! are sized so the demo's example strategies trade, and the limits can only be loosened by
//! configuration, never by a plugin.

use crate::settings::{SettingError, Settings};
use std::path::PathBuf;

/// When the journal forces its writes to stable storage (`JOURNAL_FSYNC`).
///
/// Records are always handed to the operating system before they are acknowledged, so a crash
/// of the process loses nothing; fsync protects against a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync after every record, or every group of orders the live engine journals together
    /// (`always`): nothing acknowledged is ever lost.
    Always,
    /// fsync after every n-th record (`every_n:N`): at most n-1 records lost on power failure.
    EveryN(u32),
    /// Never fsync except on [`flush`](super::PaperBroker::flush) (`never`).
    Never,
    /// Like `never`, and records are also handed to the operating system in blocks of
    /// [`DEFERRED_BLOCK`](super::journal::DEFERRED_BLOCK) bytes rather than one write each:
    /// set by backtests, whose journal is an output rather than a safeguard (one write per
    /// record was a tenth of the SPY backtest's engine loop). Not offered in `JOURNAL_FSYNC`:
    /// a crash of the process loses the last block.
    Deferred,
}

impl FsyncPolicy {
    /// What `JOURNAL_FSYNC` accepts, in words.
    pub const EXPECTED: &'static str = "always, never or every_n:N with N from 1 to 1000000";

    /// Parses `always`, `never` or `every_n:N` (any case).
    pub fn parse(value: &str) -> Option<FsyncPolicy> {
        let v = value.trim().to_ascii_lowercase();
        match v.as_str() {
            "always" => Some(FsyncPolicy::Always),
            "never" => Some(FsyncPolicy::Never),
            _ => {
                let n: u32 = v.strip_prefix("every_n:")?.trim().parse().ok()?;
                (1..=1_000_000)
                    .contains(&n)
                    .then_some(FsyncPolicy::EveryN(n))
            }
        }
    }
}

/// Fill costs, risk limits and journal settings of the paper broker.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// Price moved against the order on every fill, in basis points (`BROKER_SLIPPAGE_BPS`, 1).
    pub slippage_bps: f64,
    /// Fee as a share of the fill's notional, in basis points (`BROKER_FEE_BPS`, 1).
    pub fee_bps: f64,
    /// Fee per unit filled, added to the bps fee (`BROKER_FEE_PER_SHARE`, 0).
    pub fee_per_share: f64,
    /// Market time from an order's acceptance to the first trade that may fill it, in
    /// milliseconds (`BROKER_LATENCY_MS`, 0: the next trade of its symbol).
    pub latency_ms: i64,
    /// Largest absolute position per plugin and symbol, resting orders included
    /// (`RISK_MAX_POSITION`, 1000).
    pub max_position: f64,
    /// Smallest quantity of one order, the lot (`RISK_MIN_ORDER_QTY`, 0.000001); smaller
    /// orders are dust, refused without a journal record.
    pub min_order_qty: f64,
    /// Largest quantity of one order (`RISK_MAX_ORDER_QTY`, 500).
    pub max_order_qty: f64,
    /// Largest notional of one order at the last trade price (`RISK_MAX_ORDER_NOTIONAL`, 100000).
    pub max_order_notional: f64,
    /// Most orders a plugin may place in any one-second window (`RISK_MAX_ORDERS_PER_SEC`, 10).
    pub max_orders_per_sec: u32,
    /// Most resting orders a plugin may have at once (`RISK_MAX_OPEN_ORDERS`, 100).
    pub max_open_orders: u32,
    /// Most refusals of one plugin journaled per minute of market time
    /// (`RISK_MAX_REFUSALS_PER_MIN`, 600); the rest are returned and counted, not journaled.
    pub max_refusals_per_min: u32,
    /// Start with trading halted (`KILL_SWITCH`, false).
    pub kill_switch: bool,
    /// The journal file (`JOURNAL_PATH`, `journal/journal.bin`).
    pub journal_path: PathBuf,
    /// When journal writes are synced to disk (`JOURNAL_FSYNC`, `always`).
    pub fsync: FsyncPolicy,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            slippage_bps: 1.0,
            fee_bps: 1.0,
            fee_per_share: 0.0,
            latency_ms: 0,
            max_position: 1000.0,
            min_order_qty: 1e-6,
            max_order_qty: 500.0,
            max_order_notional: 100_000.0,
            max_orders_per_sec: 10,
            max_open_orders: 100,
            max_refusals_per_min: 600,
            kill_switch: false,
            journal_path: PathBuf::from("journal/journal.bin"),
            fsync: FsyncPolicy::Always,
        }
    }
}

impl BrokerConfig {
    /// Reads the broker's settings; unset ones take the defaults documented on each field.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = BrokerConfig::default();
        Ok(BrokerConfig {
            slippage_bps: non_negative(s, "BROKER_SLIPPAGE_BPS", d.slippage_bps, 1000.0)?,
            fee_bps: non_negative(s, "BROKER_FEE_BPS", d.fee_bps, 1000.0)?,
            fee_per_share: non_negative(s, "BROKER_FEE_PER_SHARE", d.fee_per_share, 1e6)?,
            latency_ms: s.int_in("BROKER_LATENCY_MS", d.latency_ms, 0, 3_600_000)?,
            max_position: positive(s, "RISK_MAX_POSITION", d.max_position)?,
            min_order_qty: positive(s, "RISK_MIN_ORDER_QTY", d.min_order_qty)?,
            max_order_qty: positive(s, "RISK_MAX_ORDER_QTY", d.max_order_qty)?,
            max_order_notional: positive(s, "RISK_MAX_ORDER_NOTIONAL", d.max_order_notional)?,
            max_orders_per_sec: s.int_in(
                "RISK_MAX_ORDERS_PER_SEC",
                d.max_orders_per_sec,
                1,
                100_000,
            )?,
            max_open_orders: s.int_in("RISK_MAX_OPEN_ORDERS", d.max_open_orders, 1, 100_000)?,
            max_refusals_per_min: s.int_in(
                "RISK_MAX_REFUSALS_PER_MIN",
                d.max_refusals_per_min,
                1,
                1_000_000,
            )?,
            kill_switch: s.flag("KILL_SWITCH", d.kill_switch)?,
            journal_path: s
                .raw("JOURNAL_PATH")
                .map(PathBuf::from)
                .unwrap_or(d.journal_path),
            fsync: s.parse_with(
                "JOURNAL_FSYNC",
                d.fsync,
                FsyncPolicy::EXPECTED,
                FsyncPolicy::parse,
            )?,
        })
    }
}

/// A finite number from 0 to `max`.
fn non_negative(s: &Settings, name: &str, default: f64, max: f64) -> Result<f64, SettingError> {
    let expected = format!("a number from 0 to {max}");
    s.parse_with(name, default, &expected, |v| {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && (0.0..=max).contains(x))
    })
}

/// A finite number above 0.
fn positive(s: &Settings, name: &str, default: f64) -> Result<f64, SettingError> {
    s.parse_with(name, default, "a number above 0, e.g. 1000 or 2.5", |v| {
        v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_take_the_documented_defaults() {
        let c = BrokerConfig::from_settings(&Settings::default()).unwrap();
        assert_eq!(c, BrokerConfig::default());
        assert_eq!(c.journal_path, PathBuf::from("journal/journal.bin"));
        assert_eq!(c.fsync, FsyncPolicy::Always);
    }

    #[test]
    fn every_setting_is_read() {
        let s = Settings::from_pairs([
            ("BROKER_SLIPPAGE_BPS", "2.5"),
            ("BROKER_FEE_BPS", "0"),
            ("BROKER_FEE_PER_SHARE", "0.005"),
            ("RISK_MAX_POSITION", "50"),
            ("RISK_MAX_ORDER_QTY", "10"),
            ("RISK_MAX_ORDER_NOTIONAL", "2000"),
            ("RISK_MAX_ORDERS_PER_SEC", "3"),
            ("RISK_MAX_OPEN_ORDERS", "7"),
            ("KILL_SWITCH", "on"),
            ("JOURNAL_PATH", "/tmp/j.bin"),
            ("JOURNAL_FSYNC", "every_n:64"),
            ("BROKER_LATENCY_MS", "250"),
            ("RISK_MIN_ORDER_QTY", "0.01"),
        ]);
        let c = BrokerConfig::from_settings(&s).unwrap();
        let want = BrokerConfig {
            slippage_bps: 2.5,
            fee_bps: 0.0,
            fee_per_share: 0.005,
            latency_ms: 250,
            max_position: 50.0,
            min_order_qty: 0.01,
            max_order_qty: 10.0,
            max_order_notional: 2000.0,
            max_orders_per_sec: 3,
            max_open_orders: 7,
            max_refusals_per_min: 600,
            kill_switch: true,
            journal_path: PathBuf::from("/tmp/j.bin"),
            fsync: FsyncPolicy::EveryN(64),
        };
        assert_eq!(c, want);
    }

    #[test]
    fn invalid_values_are_refused_with_the_variable_name() {
        // TC: (variable, bad value, words the message must contain)
        let cases = [
            ("BROKER_SLIPPAGE_BPS", "-1", "from 0 to 1000"),
            ("BROKER_SLIPPAGE_BPS", "NaN", "from 0 to 1000"),
            ("BROKER_FEE_BPS", "5000", "from 0 to 1000"),
            ("RISK_MAX_POSITION", "0", "above 0"),
            ("RISK_MAX_ORDER_QTY", "inf", "above 0"),
            ("RISK_MAX_ORDER_NOTIONAL", "lots", "above 0"),
            ("RISK_MAX_ORDERS_PER_SEC", "0", "from 1 to 100000"),
            ("KILL_SWITCH", "maybe", "true or false"),
            ("JOURNAL_FSYNC", "sometimes", "every_n:N"),
            ("JOURNAL_FSYNC", "every_n:0", "every_n:N"),
        ];
        for (name, value, words) in cases {
            let e =
                BrokerConfig::from_settings(&Settings::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.to_string().contains(words), "{name}={value}: {e}");
        }
    }

    #[test]
    fn fsync_policy_parses_its_three_forms() {
        assert_eq!(FsyncPolicy::parse("ALWAYS"), Some(FsyncPolicy::Always));
        assert_eq!(FsyncPolicy::parse("never"), Some(FsyncPolicy::Never));
        assert_eq!(
            FsyncPolicy::parse("every_n: 8"),
            Some(FsyncPolicy::EveryN(8))
        );
        assert_eq!(FsyncPolicy::parse("every_n:"), None);
        assert_eq!(FsyncPolicy::parse("every_n:1000001"), None);
    }
}
