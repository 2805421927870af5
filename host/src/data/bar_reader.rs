//! Streaming reader of bar files (CSV or gzip-compressed CSV), as a plain iterator.
//!
//! Layouts (`../shared/data/SOURCES.md`): `timestamp|date,open,high,low,close,volume` (ISO 8601
//! UTC, the BTC-PERP source's `YYYY-MM-DD HH:MM:SS.ffffff`, or a daily `YYYY-MM-DD`), and the
//! FX bid/ask layout `timestamp|date,bid_open,...,ask_close` (mid prices, volume 0). The file
//! holds one symbol, given by the caller, like the bar length. Bad rows are errors naming the
//! file and line; iteration continues after them.

use std::path::{Path, PathBuf};

use crate::types::{Bar, Symbol};

use super::error::DataError;
use super::fields::{check_width, column, number, split};
use super::line_source::{Lines, Source, open_source};
use super::timestamp::parse_timestamp_ms;

/// How a bar file stores prices.
#[derive(Debug, Clone, Copy)]
enum Prices {
    /// open, high, low, close columns, and volume when the file has one (FX quote data
    /// usually has none: volume unknown, read as 0, as for bid/ask files).
    Ohlcv([usize; 4], Option<usize>),
    /// bid_open..bid_close and ask_open..ask_close columns: mid prices, no volume.
    BidAsk([usize; 4], [usize; 4]),
}

/// Streams the bars of one symbol from an OHLCV (or FX bid/ask) file.
pub struct BarReader {
    lines: Lines,
    symbol: Symbol,
    period_secs: u32,
    time_col: usize,
    prices: Prices,
    need: usize,
}

impl BarReader {
    /// Open a bar file; its rows are bars of `symbol`, each `period_secs` long.
    pub fn open(path: impl AsRef<Path>, symbol: &str, period_secs: u32) -> Result<Self, DataError> {
        let path = path.as_ref();
        BarReader::from_source(path, open_source(path)?, symbol, period_secs)
    }

    /// Read bars from any source; `name` is used in error messages.
    pub fn from_source(
        name: impl Into<PathBuf>,
        source: Source,
        symbol: &str,
        period_secs: u32,
    ) -> Result<Self, DataError> {
        let mut lines = Lines::new(name.into(), source);
        let header = lines.header()?;
        let path = lines.path.clone();
        let time_col = column(&path, &header, &["timestamp", "date", "time"])?;
        let has = |n: &str| header.iter().any(|h| h == n);
        let prices = if !has("open") && has("bid_open") && has("ask_open") {
            let side = |p: &str| -> Result<[usize; 4], DataError> {
                Ok([
                    column(&path, &header, &[&format!("{p}_open")])?,
                    column(&path, &header, &[&format!("{p}_high")])?,
                    column(&path, &header, &[&format!("{p}_low")])?,
                    column(&path, &header, &[&format!("{p}_close")])?,
                ])
            };
            Prices::BidAsk(side("bid")?, side("ask")?)
        } else {
            Prices::Ohlcv(
                [
                    column(&path, &header, &["open"])?,
                    column(&path, &header, &["high"])?,
                    column(&path, &header, &["low"])?,
                    column(&path, &header, &["close"])?,
                ],
                has("volume")
                    .then(|| column(&path, &header, &["volume"]))
                    .transpose()?,
            )
        };
        let max = match prices {
            Prices::Ohlcv(c, v) => c.into_iter().chain(v).max(),
            Prices::BidAsk(b, a) => b.into_iter().chain(a).max(),
        };
        let need = max.unwrap_or(0).max(time_col) + 1;
        check_width(&path, need)?;
        Ok(BarReader {
            lines,
            symbol: Symbol::from(symbol),
            period_secs,
            time_col,
            prices,
            need,
        })
    }

    fn parse_row(&self) -> Result<Bar, String> {
        let fields = split(&self.lines.buf, self.need)
            .ok_or_else(|| format!("expected at least {} fields", self.need))?;
        let start_ms = parse_timestamp_ms(fields[self.time_col]).ok_or_else(|| {
            format!(
                "time {:?} is not a date or an ISO 8601 UTC timestamp",
                String::from_utf8_lossy(fields[self.time_col])
            )
        })?;
        let names = ["open", "high", "low", "close"];
        let mut ohlc = [0.0; 4];
        let volume = match self.prices {
            Prices::Ohlcv(c, v) => {
                for i in 0..4 {
                    ohlc[i] = number(fields[c[i]], names[i])?;
                }
                match v {
                    Some(v) => number(fields[v], "volume")?,
                    None => 0.0,
                }
            }
            Prices::BidAsk(b, a) => {
                for i in 0..4 {
                    ohlc[i] =
                        (number(fields[b[i]], names[i])? + number(fields[a[i]], names[i])?) / 2.0;
                }
                0.0
            }
        };
        let [open, high, low, close] = ohlc;
        if ohlc.iter().any(|p| *p <= 0.0) || volume < 0.0 {
            return Err(format!(
                "impossible bar: o {open} h {high} l {low} c {close} v {volume}"
            ));
        }
        Ok(Bar {
            symbol: self.symbol.clone(),
            start_ms,
            period_secs: self.period_secs,
            open,
            high,
            low,
            close,
            volume,
            imputed: false,
        })
    }
}

impl Iterator for BarReader {
    type Item = Result<Bar, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.lines.next_line()? {
            return Some(Err(e));
        }
        Some(self.parse_row().map_err(|reason| self.lines.bad(reason)))
    }
}

/// The bar length a file name suggests (`_1m_`, `_5m_`, `_1h_`, `daily`), in seconds.
pub fn period_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.contains("daily") || name.contains("_1d") {
        return Some(86_400);
    }
    name.split(['_', '.', '-']).find_map(|part| {
        let (num, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let n: u32 = num.parse().ok()?;
        match unit {
            "s" => Some(n),
            "m" | "min" => Some(n * 60),
            "h" => Some(n * 3600),
            "d" => Some(n * 86_400),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_files::{data, write};

    #[test]
    fn reads_the_bundled_bars() {
        let bars: Vec<Bar> = BarReader::open(data("SPY_1m_2013-10-04_2013-10-11.csv"), "SPY", 60)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(bars.len(), 4_839);
        assert_eq!(
            bars[0].start_ms,
            parse_timestamp_ms(b"2013-10-04T08:06:00Z").unwrap()
        );
        assert_eq!(
            (bars[0].open, bars[0].volume, bars[0].period_secs),
            (167.65, 20000.0, 60)
        );
        assert!(bars.iter().all(|b| b.low <= b.high && &*b.symbol == "SPY"));
    }

    #[test]
    fn reads_daily_btc_perp_and_fx_layouts_plain_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "SPY_daily.csv",
                "date,open,high,low,close,volume\n1998-01-02,97.31,97.53,96.53,97.36,2150000\n",
                (883_699_200_000, 97.31, 97.36, 2_150_000.0),
            ),
            (
                "BTC-PERP_1m.csv",
                "timestamp,open,high,low,close,volume\n2021-12-31 23:01:00.000000,46319.0,46385.0,46319.0,46377.0,2300413.7295\n",
                (1_640_991_660_000, 46319.0, 46377.0, 2_300_413.729_5),
            ),
            (
                "EURUSD_daily_fxcm.csv",
                "date,bid_open,bid_high,bid_low,bid_close,ask_open,ask_high,ask_low,ask_close\r\n2007-03-30,1.2,1.4,1.1,1.3,1.4,1.6,1.3,1.5\r\n",
                (1_175_212_800_000, 1.3, 1.4, 0.0),
            ),
            (
                // FX quotes with no volume column, times with an offset.
                "EURUSD_1h.csv",
                "timestamp,open,high,low,close\n2013-02-01 00:00:00+00:00,1.3579,1.3590,1.3570,1.3585\n",
                (1_359_676_800_000, 1.3579, 1.3585, 0.0),
            ),
        ];
        for (name, text, (start, open, close, volume)) in cases {
            for gz in [false, true] {
                let path = write(
                    dir.path(),
                    &format!("{name}{}", if gz { ".gz" } else { "" }),
                    text,
                    gz,
                );
                let bars: Vec<Bar> = BarReader::open(&path, "X", 60)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(bars.len(), 1, "{name}");
                let b = &bars[0];
                assert_eq!(b.start_ms, start, "{name}");
                assert!(
                    (b.open - open).abs() < 1e-12 && (b.close - close).abs() < 1e-12,
                    "{name} {b:?}"
                );
                assert_eq!(b.volume, volume, "{name}");
            }
        }
    }

    #[test]
    fn period_from_file_names() {
        let table = [
            ("SPY_1m_2013-10-04_2013-10-11.csv", Some(60)),
            ("SPY_1h_1998-2021.csv", Some(3600)),
            ("AAPL_daily.csv", Some(86_400)),
            ("BTC-PERP_1m_2021-12-31_2022-02-01.csv", Some(60)),
            ("EURUSD_1h_fxcm_2007-2018.csv", Some(3600)),
            ("trades.csv", None),
        ];
        for (name, want) in table {
            assert_eq!(period_from_name(Path::new(name)), want, "{name}");
        }
    }
}
