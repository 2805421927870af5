//! A trade file read on a thread of its own while the backtest runs on what has arrived.
//!
//! Parsing a gzip CSV costs about as much as the backtest of a simple strategy on it; with
//! two cores the two overlap instead of adding up. The stream hands over the trades in
//! chunks, in file order, keeping those inside the window; the engine's answer does not
//! depend on where the chunks are cut (it does not depend on batching at all, see
//! [`crate::engine::lockstep`]). A bad row ends the stream with its error, as reading the
//! whole file first would. Dropping the stream stops the reading thread and waits for it.

use crate::data::{DataError, TradeReader};
use crate::types::{TimestampMs, Trade};

use crossbeam_channel::Receiver;
use std::path::Path;
use std::thread::JoinHandle;

/// Trades in the first chunk: small, so that the backtest can start soon.
const FIRST_CHUNK: usize = 4_096;
/// Trades in every later chunk.
const CHUNK: usize = 65_536;
/// Chunks read ahead of the engine at most.
const AHEAD: usize = 16;

/// The chunks of one trade file, read by a thread of its own.
#[derive(Debug)]
pub struct TradeStream {
    chunks: Option<Receiver<Result<Vec<Trade>, DataError>>>,
    reader: Option<JoinHandle<()>>,
}

impl TradeStream {
    /// Start reading `file`, keeping trades at or after `from` and before `to`. Errors
    /// opening the file or its header come back here; later ones come from the stream.
    pub fn open(
        file: &Path,
        from: Option<TimestampMs>,
        to: Option<TimestampMs>,
    ) -> Result<TradeStream, DataError> {
        let reader = TradeReader::open(file)?;
        TradeStream::spawn(file, from, to, move |sink| {
            for trade in reader {
                match trade {
                    Ok(t) => {
                        if !sink.push(t) {
                            return;
                        }
                    }
                    Err(e) => return sink.fail(e),
                }
            }
        })
    }

    /// Trades from `produce`, which runs on a thread of its own and hands them to its
    /// [`ChunkSink`] one by one, in order; those outside the window are left out.
    pub fn spawn(
        file: &Path,
        from: Option<TimestampMs>,
        to: Option<TimestampMs>,
        produce: impl FnOnce(&mut ChunkSink) + Send + 'static,
    ) -> Result<TradeStream, DataError> {
        let (tx, rx) = crossbeam_channel::bounded(AHEAD);
        let thread = std::thread::Builder::new()
            .name("trade-reader".into())
            .spawn(move || {
                let mut sink = ChunkSink {
                    tx,
                    chunk: Vec::with_capacity(FIRST_CHUNK),
                    from,
                    to,
                };
                produce(&mut sink);
                sink.finish();
            })
            .map_err(|source| DataError::Io {
                path: file.to_path_buf(),
                source,
            })?;
        Ok(TradeStream {
            chunks: Some(rx),
            reader: Some(thread),
        })
    }
}

/// Where a reading thread puts its trades: cut into chunks and sent to the stream.
#[derive(Debug)]
pub struct ChunkSink {
    tx: crossbeam_channel::Sender<Result<Vec<Trade>, DataError>>,
    chunk: Vec<Trade>,
    from: Option<TimestampMs>,
    to: Option<TimestampMs>,
}

impl ChunkSink {
    /// Add the next trade; false when the stream's reader has gone (stop producing).
    pub fn push(&mut self, trade: Trade) -> bool {
        let kept = self.from.is_none_or(|f| trade.time_ms >= f)
            && self.to.is_none_or(|e| trade.time_ms < e);
        if kept {
            self.chunk.push(trade);
        }
        if self.chunk.len() < self.chunk.capacity() {
            return true;
        }
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.tx.send(Ok(full)).is_ok()
    }

    /// End the stream with an error, after the trades before it.
    pub fn fail(&mut self, e: DataError) {
        self.finish();
        let _ = self.tx.send(Err(e));
    }

    /// Send what is left of the last chunk.
    fn finish(&mut self) {
        if !self.chunk.is_empty() {
            let _ = self.tx.send(Ok(std::mem::take(&mut self.chunk)));
        }
    }
}

impl Iterator for TradeStream {
    type Item = Result<Vec<Trade>, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.as_ref()?.recv().ok()
    }
}

impl Drop for TradeStream {
    fn drop(&mut self) {
        // Closing the channel first makes a reader blocked on a full channel return.
        self.chunks = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(rows: usize, bad_at: Option<usize>) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::with_suffix(".csv").unwrap();
        writeln!(f, "timestamp,symbol,price,size").unwrap();
        for i in 0..rows {
            if Some(i) == bad_at {
                writeln!(f, "2013-10-07T13:30:00Z,SPY,not-a-price,1").unwrap();
                continue;
            }
            let (s, ms) = (i / 1000, i % 1000);
            writeln!(
                f,
                "2013-10-07T13:{:02}:{:02}.{ms:03}Z,SPY,{}.{:02},{}",
                s / 60 % 60,
                s % 60,
                100 + i % 7,
                i % 100,
                1 + i % 5
            )
            .unwrap();
        }
        f
    }

    #[test]
    fn the_chunks_hold_the_files_trades_in_order_within_the_window() {
        let f = file(100_000, None);
        let all = crate::backtest::load_trades(&[f.path().into()], None, None).unwrap();
        let (from, to) = (all[10].time_ms, all[90_000].time_ms);
        let chunks: Vec<Vec<Trade>> = TradeStream::open(f.path(), Some(from), Some(to))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        let streamed: Vec<Trade> = chunks.into_iter().flatten().collect();
        let windowed = crate::backtest::load_trades(&[f.path().into()], Some(from), Some(to));
        assert_eq!(streamed, windowed.unwrap());
    }

    #[test]
    fn a_bad_row_ends_the_stream_with_its_error_and_an_early_drop_stops_the_reader() {
        let f = file(50_000, Some(30_000));
        let last = TradeStream::open(f.path(), None, None)
            .unwrap()
            .last()
            .unwrap();
        let e = last.unwrap_err().to_string();
        assert!(e.contains(":30002:"), "{e}");
        // Taking one chunk and dropping the stream returns (the reader is not left blocked).
        let mut stream = TradeStream::open(f.path(), None, None).unwrap();
        assert_eq!(stream.next().unwrap().unwrap().len(), FIRST_CHUNK);
        drop(stream);
        let missing = TradeStream::open(Path::new("/nonexistent/trades.csv"), None, None);
        assert!(missing.is_err());
    }
}
