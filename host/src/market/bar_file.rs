//! A minimal reader of CSV bar and trade files (plain or gzip) for tests and offline training.
//!
//! Layouts accepted, recognised by the header:
//! - bars: `timestamp,open,high,low,close,volume` (ISO 8601 UTC, or `YYYY-MM-DD HH:MM:SS.ffffff`
//!   taken as UTC) or `date,open,high,low,close,volume` (daily; the bar starts at midnight UTC);
//! - trades: `timestamp,symbol,price,size,...` (rows with `suspicious=1` are skipped).
//!
//! The replay source of the feed has the full reader; this one stays small on purpose.

use super::error::MarketError;
use crate::types::{Bar, Symbol, TimestampMs, Trade};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLayout {
    /// OHLCV bars with a timestamp column.
    Bars,
    /// Daily OHLCV bars with a date column.
    DailyBars,
    /// Trades with a symbol column.
    Trades,
}

/// The layout of `path`, from its header line.
pub fn detect_layout(path: &Path) -> Result<FileLayout, MarketError> {
    let (_, header) = open_with_header(path)?;
    layout_of(path, &header).map(|(l, _)| l)
}

/// Reads bars of `symbol`; `period_secs` is inferred from the spacing of the rows when `None`.
pub fn read_bars_csv(
    path: &Path,
    symbol: &str,
    period_secs: Option<u32>,
) -> Result<Vec<Bar>, MarketError> {
    let (lines, header) = open_with_header(path)?;
    let (layout, cols) = layout_of(path, &header)?;
    if layout == FileLayout::Trades {
        return Err(MarketError::UnknownLayout {
            path: path.into(),
            header,
        });
    }
    let symbol: Symbol = symbol.into();
    let mut bars = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let parse_err = |reason: String| MarketError::Parse {
            path: path.into(),
            line: i + 2,
            reason,
        };
        let field = |name: &str| -> Result<f64, MarketError> {
            let Some(&c) = cols.get(name) else {
                return Ok(0.0);
            };
            let raw = f
                .get(c)
                .ok_or_else(|| parse_err(format!("missing column {name}")))?;
            raw.trim()
                .parse::<f64>()
                .map_err(|_| parse_err(format!("{name} is not a number: {raw:?}")))
        };
        let time = f.first().copied().unwrap_or_default();
        let start_ms = if layout == FileLayout::DailyBars {
            parse_date_ms(time)
        } else {
            parse_time_ms(time)
        }
        .ok_or_else(|| parse_err(format!("cannot read the time {time:?}")))?;
        bars.push(Bar {
            symbol: symbol.clone(),
            start_ms,
            period_secs: 0,
            open: field("open")?,
            high: field("high")?,
            low: field("low")?,
            close: field("close")?,
            volume: field("volume")?,
            imputed: false,
        });
    }
    if bars.is_empty() {
        return Err(MarketError::Empty { path: path.into() });
    }
    let period = match (period_secs, layout) {
        (Some(p), _) => p,
        (None, FileLayout::DailyBars) => 86_400,
        (None, _) => infer_period_secs(&bars),
    };
    for b in &mut bars {
        b.period_secs = period;
    }
    Ok(bars)
}

/// Reads trades of every symbol in the file, in file order.
pub fn read_trades_csv(path: &Path) -> Result<Vec<Trade>, MarketError> {
    let mut trades = Vec::new();
    for_each_trade(path, |t| trades.push(t))?;
    Ok(trades)
}

/// Streams the trades of the file to `each`, in file order; returns how many there were.
pub fn for_each_trade(path: &Path, mut each: impl FnMut(Trade)) -> Result<usize, MarketError> {
    let (lines, _, cols) = open_trades(path)?;
    let suspicious = cols.get("suspicious").copied();
    let mut symbols: HashMap<String, Symbol> = HashMap::new();
    let mut count = 0;
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let parse_err = |reason: String| MarketError::Parse {
            path: path.into(),
            line: i + 2,
            reason,
        };
        if suspicious
            .and_then(|c| fields.get(c))
            .is_some_and(|v| v.trim() == "1")
        {
            continue;
        }
        if fields.len() < 4 {
            return Err(parse_err(format!(
                "expected at least 4 fields, found {}",
                fields.len()
            )));
        }
        let time_ms = parse_time_ms(fields[0])
            .ok_or_else(|| parse_err(format!("cannot read the time {:?}", fields[0])))?;
        let price = fields[2]
            .trim()
            .parse::<f64>()
            .map_err(|_| parse_err(format!("price {:?}", fields[2])))?;
        let size = fields[3]
            .trim()
            .parse::<f64>()
            .map_err(|_| parse_err(format!("size {:?}", fields[3])))?;
        let name = fields[1].trim();
        let symbol = symbols
            .entry(name.to_string())
            .or_insert_with(|| name.into())
            .clone();
        each(Trade {
            symbol,
            price,
            size,
            time_ms,
        });
        count += 1;
    }
    if count == 0 {
        return Err(MarketError::Empty { path: path.into() });
    }
    Ok(count)
}

/// Milliseconds of an ISO 8601 time (`2013-10-07T13:30:00.123Z`), or of a zoneless
/// `2021-12-31 23:01:00.000000` taken as UTC.
pub fn parse_time_ms(s: &str) -> Option<TimestampMs> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|t| t.and_utc().timestamp_millis())
        .or_else(|| parse_date_ms(s))
}

fn parse_date_ms(s: &str) -> Option<TimestampMs> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
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

/// The lines of `path` after its header, and the header.
fn open_with_header(path: &Path) -> Result<(Lines, String), MarketError> {
    let mut lines = open_lines(path)?;
    let header = match lines.next() {
        Some(h) => h.map_err(|e| io(path, e))?,
        None => return Err(MarketError::Empty { path: path.into() }),
    };
    Ok((lines, header))
}

/// The lines of a trades file after its header, the header, and its columns by name; any
/// other layout is an error.
pub(super) fn open_trades(
    path: &Path,
) -> Result<(Lines, String, HashMap<String, usize>), MarketError> {
    let (lines, header) = open_with_header(path)?;
    let (layout, cols) = layout_of(path, &header)?;
    if layout != FileLayout::Trades {
        return Err(MarketError::UnknownLayout {
            path: path.into(),
            header,
        });
    }
    Ok((lines, header, cols))
}

/// The layout a header names, and its columns by lower-case name.
fn layout_of(
    path: &Path,
    header: &str,
) -> Result<(FileLayout, HashMap<String, usize>), MarketError> {
    let cols: HashMap<String, usize> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .enumerate()
        .map(|(i, c)| (c.trim().to_ascii_lowercase(), i))
        .collect();
    let has = |names: &[&str]| names.iter().all(|n| cols.contains_key(*n));
    let first = |n: &str| cols.get(n) == Some(&0);
    let layout = if first("timestamp") && has(&["symbol", "price", "size"]) {
        FileLayout::Trades
    } else if first("timestamp") && has(&["open", "high", "low", "close"]) {
        FileLayout::Bars
    } else if first("date") && has(&["open", "high", "low", "close"]) {
        FileLayout::DailyBars
    } else {
        return Err(MarketError::UnknownLayout {
            path: path.into(),
            header: header.to_string(),
        });
    };
    Ok((layout, cols))
}

/// Lines of a plain or gzip file.
type Lines = std::io::Lines<Box<dyn BufRead>>;

fn open_lines(path: &Path) -> Result<Lines, MarketError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let buffered: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 16, reader));
    Ok(buffered.lines())
}

pub(super) fn io(path: &Path, source: std::io::Error) -> MarketError {
    MarketError::Io {
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name)
    }

    #[test]
    fn times_in_every_layout_parse_to_utc_millis() {
        // TC0: ISO with Z; TC1: ISO with millis; TC2: zoneless with micros; TC3: date only.
        let cases = [
            ("2020-02-11T17:00:00Z", 1_581_440_400_000),
            ("2013-10-07T13:30:00.007Z", 1_381_152_600_007),
            ("2021-12-31 23:01:00.000000", 1_640_991_660_000),
            ("1998-01-02", 883_699_200_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time_ms(text), Some(want), "{text}");
        }
        assert_eq!(parse_time_ms("yesterday"), None);
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
        assert!(matches!(err, MarketError::Parse { line: 2, .. }), "{err}");
        let odd = dir.path().join("odd.csv");
        std::fs::write(&odd, "a,b\n1,2\n").unwrap();
        assert!(matches!(
            read_bars_csv(&odd, "X", None),
            Err(MarketError::UnknownLayout { .. })
        ));
        assert!(matches!(
            read_bars_csv(&dir.path().join("none.csv"), "X", None),
            Err(MarketError::Io { .. })
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
