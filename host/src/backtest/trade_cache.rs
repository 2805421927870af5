//! A parsed, columnar copy of each trade file, so that repeated backtests skip the CSV.
//!
//! Parsing a gzip CSV costs most of a short backtest (0.45 s of 1.2 s on the SPY week). The
//! cache keeps, per source file, the parsed trades as columns (times, prices, sizes, symbol
//! indexes, and the symbols once), keyed by the CRC-32 and length of the source's bytes, so a
//! file that changed in any way is parsed again. A cache file that cannot be read (torn,
//! another version, corrupt) is ignored, said in the log, and rewritten: the answer is always
//! exactly what parsing the CSV gives (`it/backtest.rs` checks it).

use super::trade_stream::TradeStream;
use crate::data::{DataError, TradeReader};
use crate::types::{Symbol, TimestampMs, Trade};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// First bytes of a cache file; the digit is the layout's version.
const MAGIC: &[u8; 8] = b"THTRADE1";

/// A folder of cached trade files.
#[derive(Debug, Clone)]
pub struct TradeCache {
    dir: PathBuf,
}

impl TradeCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        TradeCache { dir: dir.into() }
    }

    /// The user's cache folder: `$XDG_CACHE_HOME/tradehost/trades`, else
    /// `$HOME/.cache/tradehost/trades`; `None` when neither is set.
    pub fn user_default() -> Option<TradeCache> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(TradeCache::new(base.join("tradehost").join("trades")))
    }

    /// Every trade of `file`, from the cache when it holds this exact file, else parsed (and
    /// then cached; a cache that cannot be written is logged and skipped).
    pub fn load(&self, file: &Path) -> Result<Vec<Trade>, DataError> {
        let cached = self.entry(file)?;
        if let Ok(data) = std::fs::read(&cached) {
            match decode(&data) {
                Some(trades) => return Ok(trades),
                None => unreadable(&cached, file),
            }
        }
        self.parse_and_keep(file, &cached)
    }

    /// The trades of `file` as [`TradeCache::load`] gives them, kept between `from` and
    /// `to`, read on a thread of their own while the backtest runs on what has arrived.
    pub fn stream(
        &self,
        file: &Path,
        from: Option<TimestampMs>,
        to: Option<TimestampMs>,
    ) -> Result<TradeStream, DataError> {
        let cache = self.clone();
        let path = file.to_path_buf();
        TradeStream::spawn(file, from, to, move |sink| {
            let cached = match cache.entry(&path) {
                Ok(cached) => cached,
                Err(e) => return sink.fail(e),
            };
            if let Ok(data) = std::fs::read(&cached) {
                match Layout::of(&data) {
                    Some(layout) => {
                        for trade in layout.trades() {
                            if !sink.push(trade) {
                                return;
                            }
                        }
                        return;
                    }
                    None => unreadable(&cached, &path),
                }
            }
            match cache.parse_and_keep(&path, &cached) {
                Ok(trades) => {
                    for trade in trades {
                        if !sink.push(trade) {
                            return;
                        }
                    }
                }
                Err(e) => sink.fail(e),
            }
        })
    }

    /// The cache file for `file`, named by the CRC-32 and length of its bytes.
    fn entry(&self, file: &Path) -> Result<PathBuf, DataError> {
        let (crc, len) = checksum(file).map_err(|source| DataError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        Ok(self.dir.join(format!("{crc:08x}-{len}.trades")))
    }

    /// Parse `file` and keep its trades at `cached`.
    fn parse_and_keep(&self, file: &Path, cached: &Path) -> Result<Vec<Trade>, DataError> {
        let trades = TradeReader::open(file)?.collect::<Result<Vec<Trade>, DataError>>()?;
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| crate::atomic_file::write_atomic(cached, &encode(&trades)));
        if let Err(e) = written {
            tracing::warn!("cannot write the trade cache {}: {e}", cached.display());
        }
        Ok(trades)
    }
}

/// Say that a cache file is ignored.
fn unreadable(cached: &Path, file: &Path) {
    tracing::warn!(
        "ignoring unreadable trade cache {} (parsing {} again)",
        cached.display(),
        file.display()
    );
}

/// The columnar layout: magic, symbol count and symbols (u16 length + bytes), trade count,
/// then the time, price, size and symbol-index columns, little-endian.
fn encode(trades: &[Trade]) -> Vec<u8> {
    let mut symbols: Vec<&Symbol> = Vec::new();
    let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let ids: Vec<u32> = trades
        .iter()
        .map(|t| {
            *index.entry(&t.symbol).or_insert_with(|| {
                symbols.push(&t.symbol);
                (symbols.len() - 1) as u32
            })
        })
        .collect();
    let mut out = Vec::with_capacity(32 + trades.len() * 28);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    for s in &symbols {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(trades.len() as u64).to_le_bytes());
    for t in trades {
        out.extend_from_slice(&t.time_ms.to_le_bytes());
    }
    for t in trades {
        out.extend_from_slice(&t.price.to_bits().to_le_bytes());
    }
    for t in trades {
        out.extend_from_slice(&t.size.to_bits().to_le_bytes());
    }
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// Reads `encode`'s layout back; `None` for anything else (wrong magic, cut short, bad
/// symbol index or text).
fn decode(data: &[u8]) -> Option<Vec<Trade>> {
    let layout = Layout::of(data)?;
    let mut trades = Vec::with_capacity(layout.len());
    trades.extend(layout.trades());
    Some(trades)
}

/// A cache file's columns, checked whole (lengths and every symbol index) before any trade
/// is taken from them: a damaged file is refused, never half used.
struct Layout<'a> {
    symbols: Vec<Symbol>,
    times: &'a [u8],
    prices: &'a [u8],
    sizes: &'a [u8],
    ids: &'a [u8],
}

impl<'a> Layout<'a> {
    fn of(data: &'a [u8]) -> Option<Layout<'a>> {
        let mut r = Reader { data, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let n_symbols = u32::from_le_bytes(r.array()?) as usize;
        let mut symbols: Vec<Symbol> = Vec::with_capacity(n_symbols.min(1 << 16));
        for _ in 0..n_symbols {
            let len = u16::from_le_bytes(r.array()?) as usize;
            symbols.push(Arc::from(std::str::from_utf8(r.take(len)?).ok()?));
        }
        let n = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
        if data.len() - r.at != n.checked_mul(28)? {
            return None;
        }
        let layout = Layout {
            times: r.take(n * 8)?,
            prices: r.take(n * 8)?,
            sizes: r.take(n * 8)?,
            ids: r.take(n * 4)?,
            symbols,
        };
        let known = layout.symbols.len();
        let in_range = layout
            .ids
            .chunks_exact(4)
            .all(|id| (u32::from_le_bytes(id.try_into().unwrap_or([0xff; 4])) as usize) < known);
        in_range.then_some(layout)
    }

    fn len(&self) -> usize {
        self.ids.len() / 4
    }

    /// The trades, in order (a plain pass over the four columns at once).
    fn trades(&self) -> impl Iterator<Item = Trade> + '_ {
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
        self.times
            .chunks_exact(8)
            .zip(self.prices.chunks_exact(8))
            .zip(self.sizes.chunks_exact(8))
            .zip(self.ids.chunks_exact(4))
            .filter_map(move |(((time, price), size), id)| {
                let id = u32::from_le_bytes(id.try_into().unwrap_or_default()) as usize;
                Some(Trade {
                    // Checked in `of`: every index is in range.
                    symbol: self.symbols.get(id)?.clone(),
                    price: f64::from_bits(word(price)),
                    size: f64::from_bits(word(size)),
                    time_ms: word(time) as i64,
                })
            })
    }
}

/// The CRC-32 and length of a file's bytes, read in blocks (not held in memory at once).
fn checksum(file: &Path) -> std::io::Result<(u32, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(file)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut block = vec![0u8; 1 << 18];
    let mut len = 0u64;
    loop {
        let got = match f.read(&mut block) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&block[..got]);
        len += got as u64;
    }
    Ok((hasher.finalize(), len))
}

/// A cursor over a byte slice.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let bytes = self.data.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(symbol: &str, price: f64, size: f64, time_ms: i64) -> Trade {
        Trade {
            symbol: symbol.into(),
            price,
            size,
            time_ms,
        }
    }

    #[test]
    fn the_layout_round_trips_exactly_and_refuses_damage() {
        let trades = vec![
            trade("SPY", 168.826_881_000_000_01, 100.0, 1_381_152_600_007),
            trade("BRK.B", 0.1 + 0.2, 3.5, -5),
            trade("SPY", f64::MIN_POSITIVE, 1e-9, 0),
        ];
        let bytes = encode(&trades);
        assert_eq!(decode(&bytes), Some(trades));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut short");
        let mut other = bytes.clone();
        other[7] = b'9';
        assert_eq!(decode(&other), None, "another layout version");
        let mut bad_index = bytes.clone();
        let last = bad_index.len() - 4;
        bad_index[last..].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(decode(&bad_index), None, "symbol index out of range");
        assert_eq!(decode(&encode(&[])), Some(vec![]));
    }
}
