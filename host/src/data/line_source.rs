//! Lines of a data file (CSV or gzip-compressed CSV, from disk or memory): one reused buffer,
//! line ends and blank lines handled, every line counted, so an error can name its line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// A buffered byte source (file, gzip stream, memory).
pub type Source = Box<dyn BufRead + Send>;

/// Open `path` for reading, decompressing when it starts with the gzip magic bytes.
pub fn open_source(path: &Path) -> Result<Source, DataError> {
    let io = |source| DataError::Io {
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
pub fn read_header(path: &Path) -> Result<Vec<String>, DataError> {
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
pub(crate) struct Lines {
    pub(crate) path: PathBuf,
    pub(crate) source: Source,
    pub(crate) line: u64,
    /// The line [`Lines::next_line`] read.
    pub(crate) buf: Vec<u8>,
    /// A line [`Lines::with_next_line`] found split across two reads, put back together.
    spill: Vec<u8>,
}

impl Lines {
    /// Lines of `source`, called `path` in error messages.
    pub(crate) fn new(path: PathBuf, source: Source) -> Self {
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
    pub(crate) fn with_next_line<R>(
        &mut self,
        mut parse: impl FnMut(&[u8]) -> R,
    ) -> Option<Result<R, DataError>> {
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

    fn read_error(&self, e: std::io::Error) -> DataError {
        DataError::BadRow {
            path: self.path.clone(),
            line: self.line + 1,
            reason: format!("read error: {e}"),
        }
    }

    /// The next non-empty line without its line end; `None` at the end.
    pub(crate) fn next_line(&mut self) -> Option<Result<(), DataError>> {
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
    pub(crate) fn header(&mut self) -> Result<Vec<String>, DataError> {
        match self.next_line() {
            Some(Ok(())) => Ok(header_columns(&String::from_utf8_lossy(&self.buf))),
            Some(Err(e)) => Err(e),
            None => Err(DataError::BadHeader {
                path: self.path.clone(),
                reason: "the file is empty".into(),
            }),
        }
    }

    pub(crate) fn bad(&self, reason: impl Into<String>) -> DataError {
        DataError::BadRow {
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
