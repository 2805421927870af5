//! The host's imports, behind plain functions: the WIT bindings in a component, and the
//! in-process stand-in of [`crate::testing`] in native builds (unit tests, doc tests).

pub(crate) use imp::*;

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::tradehost::strategy::host as wit;
    use crate::types::{Bar, LogLevel, Position, Prediction, SymbolId, TimestampMs};

    pub(crate) fn log(level: LogLevel, message: &str) {
        wit::log(level, message)
    }

    pub(crate) fn now(at: u32) -> TimestampMs {
        wit::now(at)
    }

    pub(crate) fn prediction(symbol: SymbolId, at: u32) -> Option<Prediction> {
        wit::latest_prediction(symbol, at)
    }

    pub(crate) fn position(symbol: SymbolId, at: u32) -> Position {
        wit::position_of(symbol, at)
    }

    pub(crate) fn recent_bars(symbol: SymbolId, period_secs: u32, count: u32) -> Vec<Bar> {
        wit::recent_bars(symbol, period_secs, count)
    }

    pub(crate) fn symbol_id(name: &str) -> SymbolId {
        wit::intern_symbol(name)
    }

    pub(crate) fn symbol_name(symbol: SymbolId) -> Option<String> {
        wit::symbol_name(symbol)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::testing::with_host;
    use crate::types::{Bar, LogLevel, Position, Prediction, SymbolId, TimestampMs};

    pub(crate) fn log(level: LogLevel, message: &str) {
        with_host(|h| h.logs.push((level, message.to_string())))
    }

    pub(crate) fn now(at: u32) -> TimestampMs {
        with_host(|h| h.time_at(at))
    }

    pub(crate) fn prediction(symbol: SymbolId, _at: u32) -> Option<Prediction> {
        with_host(|h| h.predictions.get(&symbol).cloned())
    }

    pub(crate) fn position(symbol: SymbolId, _at: u32) -> Position {
        with_host(|h| {
            h.positions
                .get(&symbol)
                .cloned()
                .unwrap_or(Position::flat(symbol))
        })
    }

    pub(crate) fn recent_bars(symbol: SymbolId, period_secs: u32, count: u32) -> Vec<Bar> {
        with_host(|h| {
            let bars = h.bars.get(&symbol).map(Vec::as_slice).unwrap_or(&[]);
            let bars: Vec<Bar> = bars
                .iter()
                .filter(|b| period_secs == 0 || b.period_secs == period_secs)
                .cloned()
                .collect();
            let from = bars.len().saturating_sub(count as usize);
            bars[from..].to_vec()
        })
    }

    pub(crate) fn symbol_id(name: &str) -> SymbolId {
        with_host(|h| h.intern(name))
    }

    pub(crate) fn symbol_name(symbol: SymbolId) -> Option<String> {
        with_host(|h| h.symbol_name(symbol).map(String::from))
    }
}
