//! Streaming reader of trade files (CSV or gzip-compressed CSV), as a plain iterator, and the
//! line and field handling it shares with the bar reader (`bars.rs`).
//!
//! Used by backtests, offline training, the demo server and the paced replay source. Files are
//! read line by line into one reused buffer, so multi-million-row files stream in constant
//! memory; symbols are interned (a row costs no allocation when its symbol repeats). Columns are
//! found by name in the header, so extra columns (`exchange`, `condition`, ...) are ignored.
//! Every bad row is an error naming the file and line; iteration continues after it.
//!
//! Reading was most of a backtest's time, so a row is split once and only up to the last
//! column needed ([`Columns`]), plain decimals skip the general float parser (with the same
//! result, bit for bit), and a row's date is recognised rather than recomputed.
//!
//! Layout (`../shared/data/SOURCES.md`): `timestamp,symbol,price,size,...`, ISO 8601 UTC.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::types::{Symbol, Trade};

use super::error::FeedError;
use super::timestamp::TimestampParser;

/// A buffered byte source (file, gzip stream, memory).
pub type Source = Box<dyn BufRead + Send>;

/// Open `path` for reading, decompressing when it starts with the gzip magic bytes.
pub fn open_source(path: &Path) -> Result<Source, FeedError> {
    let io = |source| FeedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gz = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Wrap in-memory bytes (plain or gzip) as a source.
pub fn memory_source(bytes: &'static [u8]) -> Source {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(bytes),
        ))
    } else {
        Box::new(bytes)
    }
}

/// The column names of a data file's header (trimmed, lower-case), for telling layouts apart.
pub fn read_header(path: &Path) -> Result<Vec<String>, FeedError> {
    Lines::new(path.to_path_buf(), open_source(path)?).header()
}

/// The column names of a header line: trimmed, lower-case, a byte-order mark ignored.
pub fn header_columns(line: &str) -> Vec<String> {
    line.trim_start_matches('\u{feff}')
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect()
}

/// Line reading shared by both readers: the file name, line count and reused buffers.
pub(super) struct Lines {
    pub(super) path: PathBuf,
    pub(super) source: Source,
    pub(super) line: u64,
    /// The line [`Lines::next_line`] read.
    pub(super) buf: Vec<u8>,
    /// A line [`Lines::with_next_line`] found split across two reads, put back together.
    spill: Vec<u8>,
}

impl Lines {
    /// Lines of `source`, called `path` in error messages.
    pub(super) fn new(path: PathBuf, source: Source) -> Self {
        Lines {
            path,
            source,
            line: 0,
            buf: Vec::with_capacity(256),
            spill: Vec::with_capacity(256),
        }
    }

    /// The next non-empty line, without its line end, handed to `parse`; `None` at the end.
    /// Unlike [`Lines::next_line`] the line is read where it lies in the read buffer (it
    /// is copied only when split across two reads): the copy and the generic line search
    /// were a sixth of the cost of a trade row.
    pub(super) fn with_next_line<R>(
        &mut self,
        mut parse: impl FnMut(&[u8]) -> R,
    ) -> Option<Result<R, FeedError>> {
        loop {
            let available = match self.source.fill_buf() {
                Ok(available) => available,
                Err(e) => return Some(Err(self.read_error(e))),
            };
            if available.is_empty() {
                // The end; a last line without a line end may be waiting.
                if self.spill.is_empty() {
                    return None;
                }
                self.line += 1;
                let line = without_cr(&self.spill);
                let parsed = (!line.is_empty()).then(|| parse(line));
                self.spill.clear();
                match parsed {
                    Some(r) => return Some(Ok(r)),
                    None => continue,
                }
            }
            let Some(end) = memchr::memchr(b'\n', available) else {
                let n = available.len();
                self.spill.extend_from_slice(available);
                self.source.consume(n);
                continue;
            };
            let parsed = if self.spill.is_empty() {
                let line = without_cr(&available[..end]);
                (!line.is_empty()).then(|| parse(line))
            } else {
                self.spill.extend_from_slice(&available[..end]);
                let line = without_cr(&self.spill);
                (!line.is_empty()).then(|| parse(line))
            };
            self.source.consume(end + 1);
            self.spill.clear();
            self.line += 1;
            if let Some(r) = parsed {
                return Some(Ok(r));
            }
        }
    }

    fn read_error(&self, e: std::io::Error) -> FeedError {
        FeedError::BadRow {
            path: self.path.clone(),
            line: self.line + 1,
            reason: format!("read error: {e}"),
        }
    }

    /// The next non-empty line without its line end; `None` at the end.
    pub(super) fn next_line(&mut self) -> Option<Result<(), FeedError>> {
        loop {
            self.buf.clear();
            match self.source.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {
                    self.line += 1;
                    while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                        self.buf.pop();
                    }
                    if !self.buf.is_empty() {
                        return Some(Ok(()));
                    }
                }
                Err(e) => return Some(Err(self.read_error(e))),
            }
        }
    }

    /// The header's column names.
    pub(super) fn header(&mut self) -> Result<Vec<String>, FeedError> {
        match self.next_line() {
            Some(Ok(())) => Ok(header_columns(&String::from_utf8_lossy(&self.buf))),
            Some(Err(e)) => Err(e),
            None => Err(FeedError::BadHeader {
                path: self.path.clone(),
                reason: "the file is empty".into(),
            }),
        }
    }

    pub(super) fn bad(&self, reason: impl Into<String>) -> FeedError {
        FeedError::BadRow {
            path: self.path.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }
}

/// `line` without the carriage returns that end it.
fn without_cr(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r'] = line {
        line = rest;
    }
    line
}

/// Most columns a file may need to be read up to (the rest of a row is not split).
pub(super) const MAX_COLUMNS: usize = 32;

/// The first `need` comma-separated fields of `line`, without allocating; `None` if fewer.
pub(super) fn split(line: &[u8], need: usize) -> Option<[&[u8]; MAX_COLUMNS]> {
    let mut out: [&[u8]; MAX_COLUMNS] = [&[]; MAX_COLUMNS];
    let mut n = 0;
    for field in line.splitn(need + 1, |b| *b == b',').take(need) {
        out[n] = field;
        n += 1;
    }
    (n == need).then_some(out)
}

pub(super) fn check_width(path: &Path, need: usize) -> Result<(), FeedError> {
    if need > MAX_COLUMNS {
        return Err(FeedError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("the needed columns must be among the first {MAX_COLUMNS}"),
        });
    }
    Ok(())
}

/// Which fields of a row a reader takes: `N` column indexes (in any order, repeats allowed),
/// turned once into a mask per column so that splitting a row tests each comma once.
#[derive(Debug, Clone)]
pub(super) struct Columns<const N: usize> {
    /// Per column up to the last wanted: the slots (bits) that want it.
    masks: Vec<u8>,
}

impl<const N: usize> Columns<N> {
    /// The columns `wanted`; `N` is at most 8.
    pub(super) fn new(wanted: [usize; N]) -> Self {
        const { assert!(N > 0 && N <= 8) };
        let last = wanted.iter().copied().max().unwrap_or(0);
        let mut masks = vec![0u8; last + 1];
        for (slot, &column) in wanted.iter().enumerate() {
            masks[column] |= 1 << slot;
        }
        Columns { masks }
    }

    /// How many fields a row needs.
    pub(super) fn need(&self) -> usize {
        self.masks.len()
    }

    /// The wanted fields of `line`, splitting it only as far as the last of them; `None` when
    /// the line has fewer fields.
    pub(super) fn pick<'a>(&self, line: &'a [u8]) -> Option<[&'a [u8]; N]> {
        let last = self.masks.len() - 1;
        let mut out = [&line[..0]; N];
        let (mut index, mut start) = (0, 0);
        let mut at_comma = |i: usize, out: &mut [&'a [u8]; N]| {
            self.store(out, index, &line[start..i]);
            index += 1;
            start = i + 1;
            index > last
        };
        // Eight bytes at a time: a byte-by-byte scan was the largest cost of reading a row.
        let mut chunks = line.chunks_exact(8);
        let mut base = 0;
        for chunk in chunks.by_ref() {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let mut commas = comma_bytes(word);
            while commas != 0 {
                if at_comma(base + (commas.trailing_zeros() / 8) as usize, &mut out) {
                    return Some(out);
                }
                commas &= commas - 1;
            }
            base += 8;
        }
        for (j, &b) in chunks.remainder().iter().enumerate() {
            if b == b',' && at_comma(base + j, &mut out) {
                return Some(out);
            }
        }
        (index == last).then(|| {
            self.store(&mut out, index, &line[start..]);
            out
        })
    }

    /// Puts field number `index` in every slot that wants it.
    fn store<'a>(&self, out: &mut [&'a [u8]; N], index: usize, field: &'a [u8]) {
        let mut mask = self.masks[index];
        while mask != 0 {
            out[mask.trailing_zeros() as usize] = field;
            mask &= mask - 1;
        }
    }
}

/// The high bit of every byte of `word` that is a comma, and no other bit.
fn comma_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ 0x2c2c_2c2c_2c2c_2c2c;
    // Exact per byte (no borrow between bytes): the high bit ends up set where x's byte is 0.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// A plain decimal (`167.41`, `100`, `.5`) read exactly as `str::parse::<f64>` reads it,
/// without its generality: at most 15 digits make an integer below 2^53, so one division by
/// an exact power of ten rounds correctly, which is what `parse` guarantees. `None` for
/// anything else (signs, exponents, spaces, more digits), which `parse` then handles.
fn plain_decimal(field: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if field.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut dot) = (0u64, 0usize, None);
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            mantissa = mantissa * 10 + u64::from(d);
            digits += 1;
        } else if b == b'.' && dot.is_none() {
            dot = Some(digits);
        } else {
            return None;
        }
    }
    let decimals = digits - dot.unwrap_or(digits);
    (digits > 0 && digits <= 15).then(|| mantissa as f64 / POW10[decimals])
}

pub(super) fn number(field: &[u8], name: &str) -> Result<f64, String> {
    if let Some(v) = plain_decimal(field) {
        return Ok(v);
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            format!(
                "{name} {:?} is not a number",
                String::from_utf8_lossy(field)
            )
        })
}

pub(super) fn column(path: &Path, header: &[String], names: &[&str]) -> Result<usize, FeedError> {
    header
        .iter()
        .position(|h| names.contains(&h.as_str()))
        .ok_or_else(|| FeedError::BadHeader {
            path: path.to_path_buf(),
            reason: format!(
                "no column {} in the header ({}); expected timestamp,symbol,price,size for trades \
             or timestamp|date,open,high,low,close,volume for bars",
                names.join(" or "),
                header.join(",")
            ),
        })
}

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
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FeedError> {
        let path = path.as_ref();
        TradeReader::from_source(path, open_source(path)?)
    }

    /// Read trades from any source; `name` is used in error messages.
    pub fn from_source(name: impl Into<PathBuf>, source: Source) -> Result<Self, FeedError> {
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
    type Item = Result<Trade, FeedError>;

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
pub(super) mod tests {
    use std::io::Write;

    use super::*;
    use crate::feed::bars::BarReader;

    /// A file of the bundled data.
    pub(crate) fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name)
    }

    /// Write `text` to `dir/name`, gzip-compressed when `gz`.
    pub(crate) fn write(dir: &Path, name: &str, text: &str, gz: bool) -> PathBuf {
        let path = dir.join(name);
        let mut f = File::create(&path).unwrap();
        if gz {
            let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap();
        } else {
            f.write_all(text.as_bytes()).unwrap();
        }
        path
    }

    #[test]
    fn plain_decimals_read_bit_for_bit_as_parse_does() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut texts: Vec<String> = ["0", "00.10", ".5", "5.", "167.41", "999999999999999"]
            .into_iter()
            .map(String::from)
            .collect();
        for _ in 0..50_000 {
            let digits = rng.usize(1..=15);
            let text: String = (0..digits)
                .map(|_| char::from(b'0' + rng.u8(0..10)))
                .collect();
            let dot = rng.usize(0..=digits);
            texts.push(format!("{}.{}", &text[..dot], &text[dot..]));
            texts.push(text);
        }
        for text in &texts {
            let want: f64 = text.parse().unwrap();
            let got = plain_decimal(text.as_bytes()).expect(text);
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
        // Everything else is left to `parse`.
        for text in [
            "",
            ".",
            "1.2.3",
            "-1",
            "+1",
            "1e5",
            " 1",
            "1234567890123456",
            "nan",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
        assert_eq!(number(b" 1.5 ", "x"), Ok(1.5));
        assert!(number(b"1e999", "x").is_err());
    }

    #[test]
    fn pick_takes_the_wanted_fields_in_any_order() {
        let line = b"a,bb,,dddd,e";
        let pick = |line: &[u8], wanted: &[usize; 3]| {
            Columns::new(*wanted)
                .pick(line)
                .map(|f| f.map(<[u8]>::to_vec))
        };
        let v = |s: &[u8]| s.to_vec();
        assert_eq!(pick(line, &[3, 0, 0]), Some([v(b"dddd"), v(b"a"), v(b"a")]));
        assert_eq!(pick(line, &[4, 2, 2]), Some([v(b"e"), v(b""), v(b"")]));
        assert_eq!(pick(line, &[5, 0, 1]), None);
        assert_eq!(pick(b"", &[0, 0, 0]), Some([v(b""), v(b""), v(b"")]));
        // Random lines of any length against a plain split, commas anywhere (in and across
        // eight-byte words), bytes next to ',' in value (`+`, `-`, 0xac) included.
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b",,,,+-.0123456789abc\xac\x2d";
        for _ in 0..20_000 {
            let len = rng.usize(0..60);
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
            let wanted = [rng.usize(0..8), rng.usize(0..8), rng.usize(0..8)];
            let want = (wanted.iter().max().copied().unwrap_or(0) < fields.len())
                .then(|| wanted.map(|w| fields[w].to_vec()));
            assert_eq!(pick(&line, &wanted), want, "{line:?} {wanted:?}");
        }
    }

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
        assert!(matches!(err, FeedError::BadRow { line: 3, .. }), "{err}");
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
            crate::feed::timestamp::parse_timestamp_ms(b"2013-10-07T13:30:00.007Z").unwrap()
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
                matches!(err, FeedError::BadRow { line: l, .. } if *l == line),
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
            Err(FeedError::BadHeader { .. })
        ));
        let missing = dir.path().join("missing.csv");
        assert!(matches!(
            TradeReader::open(&missing),
            Err(FeedError::Io { .. })
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
