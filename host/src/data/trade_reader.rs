//! Streaming reader of trade files (CSV or gzip-compressed CSV), as a plain iterator.
//!
//! Used by backtests, offline training, the demo server and the paced replay source. Files are
//! read line by line into one reused buffer ([`Lines`]), so multi-million-row files stream in
//! constant memory; symbols are interned (a row costs no allocation when its symbol repeats).
//! Columns are found by name in the header, so extra columns (`exchange`, `condition`, ...) are
//! ignored. Every bad row is an error naming the file and line; iteration continues after it.
//!
//! Reading was most of a backtest's time, so a row is split once and only up to the last
//! column needed ([`Columns`]), and a row's date is recognised rather than recomputed.
//!
//! Layout (`../shared/data/SOURCES.md`): `timestamp,symbol,price,size,...`, ISO 8601 UTC.

use std::path::{Path, PathBuf};

use crate::types::{Symbol, Trade};

use super::error::DataError;
use super::fields::{Columns, column, number};
use super::line_source::{Lines, Source, open_source};
use super::timestamp::TimestampParser;

/// Streams the trades of a `timestamp,symbol,price,size,...` file.
pub struct TradeReader {
    lines: Lines,
    /// Fields taken: timestamp, symbol, price, size, and the vendor's `suspicious` flag (the
    /// timestamp again when the file has no such column).
    columns: Columns<5>,
    /// Whether the file has a `suspicious` column (flagged prints are skipped: late block
    /// prints after the close, per the data's SOURCES.md).
    suspicious: bool,
    symbols: Vec<Symbol>,
    times: TimestampParser,
}

impl TradeReader {
    /// Open a `.csv` or `.csv.gz` trades file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        TradeReader::from_source(path, open_source(path)?)
    }

    /// Read trades from any source; `name` is used in error messages.
    pub fn from_source(name: impl Into<PathBuf>, source: Source) -> Result<Self, DataError> {
        let mut lines = Lines::new(name.into(), source);
        let header = lines.header()?;
        let time = column(&lines.path, &header, &["timestamp", "time"])?;
        let suspicious = header.iter().position(|h| h == "suspicious");
        let columns = Columns::new([
            time,
            column(&lines.path, &header, &["symbol"])?,
            column(&lines.path, &header, &["price"])?,
            column(&lines.path, &header, &["size", "volume", "quantity"])?,
            suspicious.unwrap_or(time),
        ]);
        Ok(TradeReader {
            lines,
            columns,
            suspicious: suspicious.is_some(),
            symbols: Vec::new(),
            times: TimestampParser::default(),
        })
    }
}

/// The trade of a row, or `None` for a print the vendor flagged as suspicious.
fn parse_row(
    line: &[u8],
    columns: &Columns<5>,
    suspicious: bool,
    symbols: &mut Vec<Symbol>,
    times: &mut TimestampParser,
) -> Result<Option<Trade>, String> {
    let [time, raw, price, size, flag] = columns
        .pick(line)
        .ok_or_else(|| format!("expected at least {} fields", columns.need()))?;
    if suspicious && flag.trim_ascii() == b"1" {
        return Ok(None);
    }
    let time_ms = times.parse(time).ok_or_else(|| {
        format!(
            "timestamp {:?} is not ISO 8601 UTC (2013-10-07T13:30:00.007Z)",
            String::from_utf8_lossy(time)
        )
    })?;
    let price = number(price, "price")?;
    let size = number(size, "size")?;
    if price <= 0.0 || size < 0.0 {
        return Err(format!("impossible trade: price {price}, size {size}"));
    }
    let symbol = match symbols.iter().find(|s| s.as_bytes() == raw) {
        Some(s) => s.clone(),
        None => {
            let text = std::str::from_utf8(raw)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or("symbol is empty or not UTF-8")?;
            let s = Symbol::from(text);
            symbols.push(s.clone());
            s
        }
    };
    Ok(Some(Trade {
        symbol,
        price,
        size,
        time_ms,
    }))
}

impl Iterator for TradeReader {
    type Item = Result<Trade, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let TradeReader {
            lines,
            columns,
            suspicious,
            symbols,
            times,
        } = self;
        loop {
            let parsed = lines
                .with_next_line(|line| parse_row(line, columns, *suspicious, symbols, times))?;
            match parsed {
                Ok(Ok(Some(trade))) => return Some(Ok(trade)),
                Ok(Ok(None)) => continue,
                Ok(Err(reason)) => return Some(Err(lines.bad(reason))),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bar_reader::BarReader;
    use crate::data::test_files::{data, write};
    use std::io::BufReader;

    #[test]
    fn lines_split_across_reads_crlf_blank_and_unterminated_lines_read_alike() {
        let text = "timestamp,symbol,price,size\r\n\
            2013-10-07T13:30:00.007Z,SPY,167.41,500\r\n\
            \r\n\
            \n\
            2013-10-07T13:30:01.000Z,BAC,13.91,2000\n\
            2013-10-07T13:30:02.000Z,SPY,167.5,100";
        let read = |capacity: usize| -> Vec<(String, f64, f64, i64)> {
            let source = BufReader::with_capacity(capacity, std::io::Cursor::new(text));
            TradeReader::from_source("t.csv", Box::new(source))
                .unwrap()
                .map(|t| t.unwrap())
                .map(|t| (t.symbol.to_string(), t.price, t.size, t.time_ms))
                .collect()
        };
        let whole = read(1 << 16);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[2].0, "SPY");
        assert_eq!(whole[2].1, 167.5);
        // Tiny buffers split every line across reads, at every possible place.
        for capacity in 1..40 {
            assert_eq!(read(capacity), whole, "buffer of {capacity} bytes");
        }
        // Line numbers still count every line, blank ones included.
        let bad = "timestamp,symbol,price,size\n\n2013-10-07T13:30:00.007Z,SPY,x,1\n";
        let source = BufReader::with_capacity(5, std::io::Cursor::new(bad));
        let err = TradeReader::from_source("b.csv", Box::new(source))
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, DataError::BadRow { line: 3, .. }), "{err}");
    }

    #[test]
    fn skips_prints_the_vendor_flagged_as_suspicious() {
        let dir = tempfile::tempdir().unwrap();
        let text = "timestamp,symbol,price,size,exchange,condition,suspicious\n\
            2013-10-07T20:00:01.000Z,SPY,167.0,100,P,1,0\n\
            2013-10-07T20:15:00.000Z,SPY,150.0,500000,D,1,1\n\
            2013-10-07T20:16:00.000Z,SPY,167.1,100,P,1,0\n";
        let path = write(dir.path(), "t.csv", text, false);
        let prices: Vec<f64> = TradeReader::open(&path)
            .unwrap()
            .map(|t| t.unwrap().price)
            .collect();
        assert_eq!(prices, vec![167.0, 167.1]);
    }

    #[test]
    fn reads_the_bundled_demo_trades() {
        let trades: Vec<Trade> = TradeReader::open(data("demo_trades_2013-10-07.csv.gz"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(trades.len(), 58_199, "SOURCES.md says 58,199 trades");
        let first = &trades[0];
        assert_eq!(
            (&*first.symbol, first.price, first.size),
            ("SPY", 167.41, 500.0)
        );
        assert_eq!(
            first.time_ms,
            crate::data::timestamp::parse_timestamp_ms(b"2013-10-07T13:30:00.007Z").unwrap()
        );
        assert!(
            trades.windows(2).all(|w| w[0].time_ms <= w[1].time_ms),
            "time order"
        );
        let mut symbols: Vec<&str> = trades.iter().map(|t| &*t.symbol).collect();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(symbols, ["AIG", "BAC", "IBM", "SPY"]);
        // Interning: all SPY trades share one allocation.
        let spy: Vec<_> = trades.iter().filter(|t| &*t.symbol == "SPY").collect();
        assert!(
            spy.iter()
                .all(|t| std::sync::Arc::ptr_eq(&t.symbol, &spy[0].symbol))
        );
    }

    #[test]
    fn bad_rows_name_the_file_and_line_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let text = "timestamp,symbol,price,size,exchange\n\
                    2013-10-07T13:30:00.007Z,SPY,167.41,500,Q\n\
                    2013-10-07 oops,SPY,167.41,500,Q\n\
                    2013-10-07T13:30:00.009Z,SPY,abc,500,Q\n\
                    2013-10-07T13:30:00.010Z,SPY,167.4\n\
                    2013-10-07T13:30:00.011Z,SPY,-1,5,Q\n\
                    \n\
                    2013-10-07T13:30:00.012Z,BAC,13.91,2000,Z\n";
        let path = write(dir.path(), "bad.csv", text, false);
        let results: Vec<_> = TradeReader::open(&path).unwrap().collect();
        assert_eq!(results.len(), 6);
        let table = [
            (3, "timestamp"),
            (4, "price"),
            (5, "fields"),
            (6, "impossible"),
        ];
        for (i, (line, word)) in table.into_iter().enumerate() {
            let err = results[i + 1].as_ref().unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, DataError::BadRow { line: l, .. } if *l == line),
                "{msg}"
            );
            assert!(msg.contains("bad.csv:") && msg.contains(word), "{msg}");
        }
        assert_eq!(&*results[5].as_ref().unwrap().symbol, "BAC");
    }

    #[test]
    fn headers_without_needed_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", "time,sym,px\n", false);
        let err = TradeReader::open(&path).err().unwrap();
        assert!(err.to_string().contains("no column"), "{err}");
        let empty = write(dir.path(), "e.csv", "", false);
        assert!(matches!(
            BarReader::open(&empty, "X", 60),
            Err(DataError::BadHeader { .. })
        ));
        let missing = dir.path().join("missing.csv");
        assert!(matches!(
            TradeReader::open(&missing),
            Err(DataError::Io { .. })
        ));
    }

    /// Throughput on the large shared files (not in the repository). Run with
    /// `cargo test -p tradehost --lib replay::tests::throughput -- --ignored --nocapture`
    /// (add `--config profile.dev.package.tradehost.opt-level=3` for optimised numbers).
    #[test]
    #[ignore = "needs /work/shared/data; prints a measurement"]
    fn throughput_on_shared_files() {
        let root = Path::new("/work/shared/data");
        let trades = [
            "ticks/equity_trades_SPY_2013-10-07_2013-10-11.csv.gz",
            "ticks/equity_trades_IBM_2013-10-07.csv",
        ];
        for name in trades {
            let path = root.join(name);
            let start = std::time::Instant::now();
            let mut n = 0u64;
            for t in TradeReader::open(&path).unwrap() {
                std::hint::black_box(t.unwrap());
                n += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{name}: {n} trades in {secs:.3} s = {:.2} M rows/s",
                n as f64 / secs / 1e6
            );
        }
        let path = root.join("bars_1m/BTC-PERP_1m_2021-12-31_2022-02-01.csv");
        let start = std::time::Instant::now();
        let n = BarReader::open(&path, "BTC-PERP", 60)
            .unwrap()
            .map(Result::unwrap)
            .count();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "BTC-PERP 1m: {n} bars in {secs:.3} s = {:.2} M rows/s",
            n as f64 / secs / 1e6
        );
    }
}
