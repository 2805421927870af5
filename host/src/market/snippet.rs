//! Data snippets cut from larger trade files, the way the bundled demo data is made
//! (`tradehost cut`, `tradehost bars`, `scripts/demo-data.sh`):
//! - [`cut_trades`]: the trades of a time window with every column kept verbatim, prints the
//!   vendor flagged as suspicious removed, several files merged in time order;
//! - [`write_bars`]: the bars [`BarAggregator`] builds from the trades of a window (the code
//!   that builds live bars), one CSV per symbol in the `timestamp,open,...` bar layout.
//!
//! Names ending in `.gz` are written gzip-compressed; the gzip header carries no time, so the
//! same inputs give the same bytes.

use super::aggregator::BarAggregator;
use super::error::MarketError;
use crate::data::DataError;
use crate::data::bar_file::{for_each_trade, trade_rows};
use crate::data::timestamp::parse_timestamp_ms;
use crate::types::{Bar, TimestampMs};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A half-open time window `[from, to)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// First millisecond included.
    pub from: Option<TimestampMs>,
    /// First millisecond excluded.
    pub to: Option<TimestampMs>,
}

impl Window {
    /// True when `t` lies in the window.
    pub fn contains(&self, t: TimestampMs) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// One bars file written by [`write_bars`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsFile {
    /// The symbol.
    pub symbol: String,
    /// Where it was written.
    pub path: PathBuf,
    /// Bars in it.
    pub bars: usize,
}

/// Writes the trades of `files` inside `window` to `out`: the first file's header, then every
/// kept row as it was, ordered by time (file order breaks ties). All files must share the
/// header. Returns the number of rows written.
pub fn cut_trades(files: &[PathBuf], window: Window, out: &Path) -> Result<usize, MarketError> {
    let mut first_header: Option<String> = None;
    let mut rows: Vec<(TimestampMs, String)> = Vec::new();
    for path in files {
        let (lines, header, columns) = trade_rows(path)?;
        match &first_header {
            Some(h) if *h != header => {
                return Err(MarketError::Mismatch {
                    path: path.clone(),
                    reason: format!("header {header:?} differs from the first file's {h:?}"),
                });
            }
            Some(_) => {}
            None => first_header = Some(header),
        }
        let suspicious = columns.iter().position(|c| c == "suspicious");
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|source| DataError::Io {
                path: path.clone(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            let time = fields.first().copied().unwrap_or_default();
            // The reader's own timestamp parser: a row cut here is a row it reads.
            let time_ms =
                parse_timestamp_ms(time.trim().as_bytes()).ok_or_else(|| DataError::BadRow {
                    path: path.clone(),
                    line: i as u64 + 2,
                    reason: format!("cannot read the time {time:?}"),
                })?;
            let flagged = suspicious
                .and_then(|c| fields.get(c))
                .is_some_and(|v| v.trim() == "1");
            if !flagged && window.contains(time_ms) {
                rows.push((time_ms, line));
            }
        }
    }
    rows.sort_by_key(|(t, _)| *t);
    let header = first_header.unwrap_or_default();
    write_text(out, &header, rows.iter().map(|(_, line)| line.as_str()))?;
    Ok(rows.len())
}

/// Aggregates the trades of `files` inside `window` into bars of `period_secs` and writes one
/// file per symbol into `out_dir`, named `SYMBOL_<period>_<first day>_<last day>.csv.gz`.
/// Trades the aggregator refuses (late for their bar, impossible prices) are left out.
pub fn write_bars(
    files: &[PathBuf],
    window: Window,
    period_secs: u32,
    out_dir: &Path,
) -> Result<Vec<BarsFile>, MarketError> {
    let mut aggregator = BarAggregator::new(period_secs);
    let mut bars: BTreeMap<String, Vec<Bar>> = BTreeMap::new();
    let mut keep = |bar: Bar| bars.entry(bar.symbol.to_string()).or_default().push(bar);
    for path in files {
        for_each_trade(path, |trade| {
            if window.contains(trade.time_ms)
                && let Some(bar) = aggregator.push(&trade)
            {
                keep(bar);
            }
        })?;
    }
    aggregator
        .flush_until(TimestampMs::MAX)
        .into_iter()
        .for_each(keep);
    std::fs::create_dir_all(out_dir).map_err(|source| MarketError::Write {
        path: out_dir.into(),
        source,
    })?;
    let mut written = Vec::new();
    for (symbol, bars) in bars {
        let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
            continue;
        };
        let name = format!(
            "{}_{}_{}_{}.csv.gz",
            file_safe(&symbol),
            period_label(period_secs),
            day(first.start_ms),
            day(last.start_ms)
        );
        let path = out_dir.join(name);
        let rows = bars.iter().map(|b| {
            format!(
                "{},{},{},{},{},{}",
                iso_time(b.start_ms),
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume
            )
        });
        write_text(&path, "timestamp,open,high,low,close,volume", rows)?;
        written.push(BarsFile {
            symbol,
            path,
            bars: bars.len(),
        });
    }
    Ok(written)
}

/// Writes a header and rows, one per line, gzip-compressed when `path` ends in `.gz`.
fn write_text<S: AsRef<str>>(
    path: &Path,
    header: &str,
    rows: impl Iterator<Item = S>,
) -> Result<(), MarketError> {
    let err = |source| MarketError::Write {
        path: path.into(),
        source,
    };
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
    let lines = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "{header}")?;
        for row in rows {
            writeln!(out, "{}", row.as_ref())?;
        }
        Ok(())
    };
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
        lines(&mut gz).map_err(err)?;
        gz.finish().and_then(|mut f| f.flush()).map_err(err)
    } else {
        let mut file = file;
        lines(&mut file).map_err(err)?;
        file.flush().map_err(err)
    }
}

/// `60` -> `1m`, `3600` -> `1h`, `86400` -> `1d`, otherwise seconds (`15s`).
fn period_label(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn file_safe(symbol: &str) -> String {
    symbol
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn day(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn iso_time(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{read_bars_csv, read_trades_csv};
    use std::io::Read;

    fn bundled() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo_trades_2013-10-07.csv.gz")
    }

    fn gunzip(path: &Path) -> String {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// The bundled trades split into one file per symbol, cut back together over the whole
    /// day, give the same text: rows kept verbatim, merged by time, file order on ties.
    #[test]
    fn cutting_per_symbol_files_rebuilds_the_merged_file() {
        let dir = tempfile::tempdir().unwrap();
        let text = gunzip(&bundled());
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let rows: Vec<&str> = lines.collect();
        let mut files = Vec::new();
        for symbol in ["SPY", "BAC", "AIG", "IBM"] {
            let path = dir.path().join(format!("{symbol}.csv"));
            let mut body = format!("{header}\n");
            for row in rows.iter().filter(|r| r.split(',').nth(1) == Some(symbol)) {
                body.push_str(row);
                body.push('\n');
            }
            if symbol == "SPY" {
                // A late block print the vendor flagged: never part of a snippet.
                body.push_str("2013-10-07T13:45:00.000Z,SPY,150.00,50000,D,80,1\n");
            }
            std::fs::write(&path, body).unwrap();
            files.push(path);
        }
        let out = dir.path().join("merged.csv.gz");
        let n = cut_trades(&files, Window::default(), &out).unwrap();
        assert_eq!(n, rows.len());
        assert_eq!(gunzip(&out), text);

        // A window keeps exactly the rows inside it.
        let window = Window {
            from: parse_timestamp_ms(b"2013-10-07T13:40:00Z"),
            to: parse_timestamp_ms(b"2013-10-07T13:41:00Z"),
        };
        let plain = dir.path().join("minute.csv");
        let n = cut_trades(&files, window, &plain).unwrap();
        let inside = rows
            .iter()
            .filter(|r| r.starts_with("2013-10-07T13:40:"))
            .count();
        assert!(n > 100 && n == inside, "{n} vs {inside}");

        // Files of different layouts are not merged.
        let other = dir.path().join("other.csv");
        std::fs::write(
            &other,
            "timestamp,symbol,price,size\n2013-10-07T13:40:00Z,X,1,1\n",
        )
        .unwrap();
        let err = cut_trades(&[files[0].clone(), other], window, &plain).unwrap_err();
        assert!(matches!(err, MarketError::Mismatch { .. }), "{err}");
    }

    /// The bars written are the aggregator's bars of the window, and the trainer's reader
    /// reads them back unchanged.
    #[test]
    fn written_bars_are_the_aggregators_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let window = Window {
            from: parse_timestamp_ms(b"2013-10-07T13:35:00Z"),
            to: parse_timestamp_ms(b"2013-10-07T13:50:00Z"),
        };
        let written = write_bars(&[bundled()], window, 60, dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["AIG", "BAC", "IBM", "SPY"].map(|s| format!("{s}_1m_2013-10-07_2013-10-07.csv.gz"))
        );
        let mut aggregator = BarAggregator::new(60);
        let trades = read_trades_csv(&bundled()).unwrap();
        let mut expected: Vec<Bar> = trades
            .iter()
            .filter(|t| &*t.symbol == "SPY" && window.contains(t.time_ms))
            .filter_map(|t| aggregator.push(t))
            .collect();
        expected.extend(aggregator.flush_until(TimestampMs::MAX));
        assert_eq!(expected.len(), 15);
        let spy = written.iter().find(|f| f.symbol == "SPY").unwrap();
        assert_eq!(spy.bars, 15);
        assert_eq!(read_bars_csv(&spy.path, "SPY", None).unwrap(), expected);
    }
}
