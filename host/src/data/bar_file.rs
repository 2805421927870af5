//! Whole-file reading of bar and trade files (plain or gzip) for offline training, snippets
//! and tests, on top of the streaming readers ([`BarReader`], [`TradeReader`]), so a file
//! reads the same here as in a backtest or replay.
//!
//! Layouts, recognised by the header (`../shared/data/SOURCES.md`):
//! - bars: `timestamp,open,high,low,close,volume` (ISO 8601 UTC, or `YYYY-MM-DD HH:MM:SS.ffffff`
//!   taken as UTC), the same with `date` for daily bars (starting at midnight UTC), or the FX
//!   `bid_open,...,ask_close` layout (mid prices);
//! - trades: `timestamp,symbol,price,size,...` (rows with `suspicious=1` are skipped).

use super::bar_reader::BarReader;
use super::error::DataError;
use super::line_source::{Source, header_columns, open_source, read_header};
use super::trade_reader::TradeReader;
use crate::types::{Bar, Trade};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLayout {
    /// OHLCV (or bid/ask) bars with a timestamp column.
    Bars,
    /// Daily bars with a date column.
    DailyBars,
    /// Trades with a symbol column.
    Trades,
}

/// The layout of `path`, from its header line.
pub fn detect_layout(path: &Path) -> Result<FileLayout, DataError> {
    layout_of(path, &read_header(path)?)
}

/// The layout `header` (column names, as [`header_columns`] gives them) names.
fn layout_of(path: &Path, header: &[String]) -> Result<FileLayout, DataError> {
    let has = |names: &[&str]| names.iter().all(|n| header.iter().any(|h| h == n));
    let first = |n: &str| header.first().is_some_and(|h| h == n);
    let bars = has(&["open", "high", "low", "close"]) || has(&["bid_open", "ask_open"]);
    if first("timestamp") && has(&["symbol", "price"]) {
        Ok(FileLayout::Trades)
    } else if bars && (first("timestamp") || first("time")) {
        Ok(FileLayout::Bars)
    } else if bars && first("date") {
        Ok(FileLayout::DailyBars)
    } else {
        Err(unknown_layout(path, header))
    }
}

fn unknown_layout(path: &Path, header: &[String]) -> DataError {
    DataError::UnknownLayout {
        path: path.into(),
        header: header.join(","),
    }
}

/// Reads bars of `symbol`; `period_secs` is inferred from the spacing of the rows when `None`.
/// The first bad row is an error naming its line.
pub fn read_bars_csv(
    path: &Path,
    symbol: &str,
    period_secs: Option<u32>,
) -> Result<Vec<Bar>, DataError> {
    let header = read_header(path)?;
    let layout = layout_of(path, &header)?;
    if layout == FileLayout::Trades {
        return Err(unknown_layout(path, &header));
    }
    let mut bars = BarReader::open(path, symbol, period_secs.unwrap_or(0))?
        .collect::<Result<Vec<Bar>, DataError>>()?;
    if bars.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    if period_secs.is_none() {
        let period = match layout {
            FileLayout::DailyBars => 86_400,
            _ => infer_period_secs(&bars),
        };
        for b in &mut bars {
            b.period_secs = period;
        }
    }
    Ok(bars)
}

/// Reads trades of every symbol in the file, in file order.
pub fn read_trades_csv(path: &Path) -> Result<Vec<Trade>, DataError> {
    let mut trades = Vec::new();
    for_each_trade(path, |t| trades.push(t))?;
    Ok(trades)
}

/// Streams the trades of the file to `each`, in file order; returns how many there were.
/// The first bad row is an error naming its line.
pub fn for_each_trade(path: &Path, mut each: impl FnMut(Trade)) -> Result<usize, DataError> {
    let mut count = 0;
    for trade in TradeReader::open(path)? {
        each(trade?);
        count += 1;
    }
    if count == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(count)
}

/// The rows of a trades file as text, after its header, with the header line as it is and
/// its column names: for tools that copy rows verbatim (snippets). Any other layout is an
/// error.
pub(crate) fn trade_rows(
    path: &Path,
) -> Result<(std::io::Lines<Source>, String, Vec<String>), DataError> {
    let mut lines = open_source(path)?.lines();
    let header = match lines.next() {
        Some(h) => h.map_err(|e| io(path, e))?,
        None => return Err(DataError::Empty { path: path.into() }),
    };
    let columns = header_columns(&header);
    if layout_of(path, &columns)? != FileLayout::Trades {
        return Err(unknown_layout(path, &columns));
    }
    Ok((lines, header, columns))
}

/// The most common spacing between consecutive rows, in seconds (60 when unknown).
fn infer_period_secs(bars: &[Bar]) -> u32 {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for w in bars.windows(2).take(5000) {
        let d = w[1].start_ms - w[0].start_ms;
        if d > 0 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(d, n)| (n, -d))
        .map(|(d, _)| (d / 1000).clamp(1, i64::from(u32::MAX)) as u32)
        .unwrap_or(60)
}

fn io(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name)
    }

    #[test]
    fn bundled_bars_read_with_inferred_period() {
        let hourly = read_bars_csv(&data("SPY_1h_2020-02-11_2021-03-31.csv"), "SPY", None).unwrap();
        assert_eq!(hourly.len(), 2000);
        assert_eq!(hourly[0].period_secs, 3600);
        assert_eq!(hourly[0].close, 336.29);
        let minutes =
            read_bars_csv(&data("SPY_1m_2013-10-04_2013-10-11.csv"), "SPY", None).unwrap();
        assert_eq!((minutes.len(), minutes[0].period_secs), (4839, 60));
        assert_eq!(
            detect_layout(&data("demo_trades_2013-10-07.csv.gz")).unwrap(),
            FileLayout::Trades
        );
    }

    #[test]
    fn daily_and_bad_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let daily = dir.path().join("d.csv");
        std::fs::write(&daily, "date,open,high,low,close,volume\n1998-01-02,1,2,0.5,1.5,10\n1998-01-05,1,2,0.5,1.5,10\n")
            .unwrap();
        let bars = read_bars_csv(&daily, "X", None).unwrap();
        assert_eq!((bars.len(), bars[0].period_secs), (2, 86_400));
        let bad = dir.path().join("bad.csv");
        let mut f = std::fs::File::create(&bad).unwrap();
        writeln!(
            f,
            "timestamp,open,high,low,close,volume\n2020-01-01T00:00:00Z,1,2,x,1,1"
        )
        .unwrap();
        let err = read_bars_csv(&bad, "X", None).unwrap_err();
        assert!(matches!(err, DataError::BadRow { line: 2, .. }), "{err}");
        // FX bid/ask bars (the shared EURUSD files) read as mid prices, period inferred.
        let fx = dir.path().join("fx.csv");
        std::fs::write(
            &fx,
            "\u{feff}timestamp,bid_open,bid_high,bid_low,bid_close,ask_open,ask_high,ask_low,ask_close\n\
             2007-03-30T05:00:00Z,1.0,1.2,0.9,1.1,1.2,1.4,1.1,1.3\n\
             2007-03-30T06:00:00Z,1.0,1.2,0.9,1.1,1.2,1.4,1.1,1.3\n",
        )
        .unwrap();
        assert_eq!(detect_layout(&fx).unwrap(), FileLayout::Bars);
        let bars = read_bars_csv(&fx, "EURUSD", None).unwrap();
        assert_eq!((bars[0].open, bars[0].period_secs), (1.1, 3600));
        assert!((bars[0].close - 1.2).abs() < 1e-12, "{:?}", bars[0]);
        let odd = dir.path().join("odd.csv");
        std::fs::write(&odd, "a,b\n1,2\n").unwrap();
        assert!(matches!(
            read_bars_csv(&odd, "X", None),
            Err(DataError::UnknownLayout { .. })
        ));
        assert!(matches!(
            read_bars_csv(&dir.path().join("none.csv"), "X", None),
            Err(DataError::Io { .. })
        ));
    }

    #[test]
    fn gzip_trades_read_all_symbols() {
        let trades = read_trades_csv(&data("demo_trades_2013-10-07.csv.gz")).unwrap();
        assert_eq!(trades.len(), 58_199);
        assert!(trades.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        assert!(trades.iter().any(|t| &*t.symbol == "IBM"));
    }
}
