//! Host-side Rust bindings of `wit/strategy.wit`, and conversions to the crate's types.

use super::symbols::SymbolTable;
use crate::types::{self, Bar, OrderKind, OrderRequest, PluginAction, Side};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "strategy-plugin",
    additional_derives: [PartialEq],
});

/// The WIT record types (`trade`, `bar`, `event`, ...).
pub use self::tradehost::strategy::types as wit;

/// Convert a bar for a strategy.
pub fn bar_to_wit(bar: &Bar, symbol: u32) -> wit::Bar {
    wit::Bar {
        symbol,
        start: bar.start_ms,
        period_secs: bar.period_secs,
        open: bar.open,
        high: bar.high,
        low: bar.low,
        close: bar.close,
        volume: bar.volume,
        imputed: bar.imputed,
    }
}

/// Convert a side for a strategy.
pub fn side_to_wit(side: Side) -> wit::Side {
    match side {
        Side::Buy => wit::Side::Buy,
        Side::Sell => wit::Side::Sell,
    }
}

/// Convert a position for a strategy.
pub fn position_to_wit(p: &types::Position, symbol: u32) -> wit::Position {
    wit::Position {
        symbol,
        quantity: p.quantity,
        average_price: p.average_price,
        realised_pnl: p.realised_pnl,
        unrealised_pnl: p.unrealised_pnl,
    }
}

/// Convert a strategy's action; `Err` says why it is invalid (unknown symbol id).
pub fn action_from_wit(
    action: &wit::Action,
    symbols: &SymbolTable,
) -> Result<PluginAction, String> {
    match action {
        wit::Action::Cancel(tag) => Ok(PluginAction::Cancel(*tag)),
        wit::Action::Place(o) => {
            let symbol = symbols.name(o.symbol).ok_or_else(|| {
                format!("order tag {} names unknown symbol id {}", o.tag, o.symbol)
            })?;
            Ok(PluginAction::Place(OrderRequest {
                symbol,
                side: match o.side {
                    wit::Side::Buy => Side::Buy,
                    wit::Side::Sell => Side::Sell,
                },
                quantity: o.quantity,
                kind: match o.kind {
                    wit::OrderKind::Market => OrderKind::Market,
                    wit::OrderKind::Limit(p) => OrderKind::Limit(p),
                },
                tag: o.tag,
            }))
        }
    }
}

/// A trade as a strategy event.
pub fn trade_event(t: &types::Trade, symbols: &SymbolTable) -> wit::Event {
    wit::Event::Trade(wit::Trade {
        symbol: symbols.intern(&t.symbol),
        price: t.price,
        size: t.size,
        time: t.time_ms,
    })
}

/// A completed bar as a strategy event.
pub fn bar_event(b: &Bar, symbols: &SymbolTable) -> wit::Event {
    wit::Event::Bar(bar_to_wit(b, symbols.intern(&b.symbol)))
}

/// A prediction as a strategy event; `now_ms` decides staleness.
pub fn prediction_event(p: &types::Prediction, symbols: &SymbolTable, now_ms: i64) -> wit::Event {
    wit::Event::Prediction(wit::Prediction {
        symbol: symbols.intern(&p.symbol),
        expected_return: p.expected_return,
        horizon_bars: p.horizon_bars,
        model_version: p.model_version,
        time: p.time_ms,
        stale: p.is_stale(now_ms),
    })
}

/// A fill as a strategy event.
pub fn fill_event(f: &types::Fill, symbols: &SymbolTable) -> wit::Event {
    wit::Event::Fill(wit::Fill {
        symbol: symbols.intern(&f.symbol),
        side: side_to_wit(f.side),
        quantity: f.quantity,
        price: f.price,
        fee: f.fee,
        time: f.time_ms,
        tag: f.tag,
    })
}

/// Any event other than a trade, as a strategy event.
pub fn strategy_event(e: &types::StrategyEvent, symbols: &SymbolTable) -> wit::Event {
    match e {
        types::StrategyEvent::Bar(b) => bar_event(b, symbols),
        types::StrategyEvent::Prediction { prediction, stale } => {
            wit::Event::Prediction(wit::Prediction {
                symbol: symbols.intern(&prediction.symbol),
                expected_return: prediction.expected_return,
                horizon_bars: prediction.horizon_bars,
                model_version: prediction.model_version,
                time: prediction.time_ms,
                stale: *stale,
            })
        }
        types::StrategyEvent::Fill(f) => fill_event(f, symbols),
        types::StrategyEvent::Rejection(r) => rejection_event(r, symbols),
    }
}

/// A refusal as a strategy event.
pub fn rejection_event(r: &types::Rejection, symbols: &SymbolTable) -> wit::Event {
    wit::Event::Rejected(wit::Rejection {
        symbol: symbols.intern(&r.symbol),
        tag: r.tag,
        reason: r.reason.clone(),
        time: r.time_ms,
    })
}
