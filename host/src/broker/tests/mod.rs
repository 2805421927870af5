//! Tests of the paper broker through its public API, against real journal files in temporary
//! folders, and the helpers they share.
//!
//! - [`scenarios`]: fills and PnL computed by hand, each risk limit at its boundary, the kill
//!   switch, cancellation, restart and torn-tail recovery, determinism, journal failures.
//! - [`stream_positions`]: a broker host's orders and fills on the market stream, and reading
//!   it again after a restart.
//! - [`real_day`]: a day of real trades from `host/data`, checked against cash flows; the
//!   hot-path measurement.

mod group_commit;
mod real_day;
mod scenarios;
mod stream_positions;

use super::*;
use crate::types::{OrderKind, OrderRequest, PluginAction, Side, TimestampMs, Trade};
use std::path::Path;

/// 2013-10-07 13:30 UTC, the start of the bundled trades.
pub(super) const T0: TimestampMs = 1_381_152_600_000;

/// A broker configuration without costs, journaling into `dir`, never fsyncing (fast tests).
pub(super) fn config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        slippage_bps: 0.0,
        fee_bps: 0.0,
        journal_path: dir.join("journal/journal.bin"),
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    }
}

/// Opens a broker, failing the test on error.
pub(super) fn open(config: &BrokerConfig) -> (PaperBroker, RecoveryReport) {
    PaperBroker::open(config.clone()).unwrap()
}

/// A trade of 100 units.
pub(super) fn trade(symbol: &str, price: f64, time_ms: TimestampMs) -> Trade {
    Trade {
        symbol: symbol.into(),
        price,
        size: 100.0,
        time_ms,
    }
}

/// A plugin action placing an order.
pub(super) fn place(
    side: Side,
    symbol: &str,
    quantity: f64,
    kind: OrderKind,
    tag: u32,
) -> PluginAction {
    PluginAction::Place(OrderRequest {
        symbol: symbol.into(),
        side,
        quantity,
        kind,
        tag,
    })
}

/// A market order in SPY.
pub(super) fn market(side: Side, quantity: f64, tag: u32) -> PluginAction {
    place(side, "SPY", quantity, OrderKind::Market, tag)
}

/// Which outcomes are acceptances.
pub(super) fn accepted(outcomes: &[BrokerOutcome]) -> Vec<bool> {
    outcomes
        .iter()
        .map(|o| matches!(o, BrokerOutcome::Accepted { .. }))
        .collect()
}

/// Equal up to float rounding.
pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Positions with unrealised PnL zeroed (it depends on last prices, which are not journaled).
pub(super) fn strip_unrealised(v: Vec<PositionEntry>) -> Vec<PositionEntry> {
    v.into_iter()
        .map(|mut e| {
            e.position.unrealised_pnl = 0.0;
            e
        })
        .collect()
}
