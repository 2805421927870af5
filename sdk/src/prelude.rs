//! Everything a strategy usually needs: `use tradehost_sdk::prelude::*;`.

pub use crate::serde::{Deserialize, Serialize};
pub use crate::types::{
    Action, Bar, Event, Fill, LogLevel, OrderKind, OrderRequest, Position, Prediction, Rejection,
    Side, SymbolId, TimestampMs, Trade,
};
pub use crate::{
    BarBuilder, Config, ConfigError, Context, Info, Parameters, Strategy, SymbolMap, Tag,
};
pub use crate::{export_strategy, parameters};
