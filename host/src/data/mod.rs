//! Market data files: the streaming readers of trade and bar files (CSV or gzip-compressed
//! CSV) and whole-file reading with the layout told by the header. The feed's replay and demo
//! server, the market's snippets, the trainer and backtests all read files through here, so a
//! file reads the same everywhere.
//!
//! # Layout
//! - [`trade_reader`]: [`TradeReader`], trades of a `timestamp,symbol,price,size,...` file.
//! - [`bar_reader`]: [`BarReader`], bars of one symbol (OHLC[V] or FX bid/ask layouts).
//! - [`bar_file`]: whole files, layout detection, period inference.
//! - [`line_source`]: opening (gzip told by its magic bytes) and reading lines;
//!   [`fields`]: splitting rows and parsing numbers; [`timestamp`]: the fast timestamp parser.
//! - [`error`]: [`DataError`], naming the file and line.

pub mod bar_file;
pub mod bar_reader;
pub mod error;
pub mod fields;
pub mod line_source;
#[cfg(test)]
pub(crate) mod test_files;
pub mod timestamp;
pub mod trade_reader;

pub use bar_file::{FileLayout, detect_layout, for_each_trade, read_bars_csv, read_trades_csv};
pub use bar_reader::BarReader;
pub use error::DataError;
pub use line_source::{Source, memory_source, open_source};
pub use trade_reader::TradeReader;
