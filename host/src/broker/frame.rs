//! The journal's on-disk format: the file header, record frames, and reading them back with
//! detection of a torn or corrupt tail.
//!
//! A 12-byte header (`THJOURNL` then the format version as u32 little-endian), then records,
//! each framed as `u32 LE payload length | u32 LE crc32 of the payload | payload`, the payload
//! being one [`JournalRecord`] in rmp-serde (MessagePack). Reading stops at the first frame
//! that is cut short, points past the end of the file, fails its checksum or does not decode.

use super::error::BrokerError;
use super::record::JournalRecord;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The first eight bytes of every journal.
pub const MAGIC: [u8; 8] = *b"THJOURNL";
/// The format version this build writes. Version 2 added kill-switch records, version 3 the
/// bus origin of orders and refusals, version 4 the market stream position of a broker
/// host's orders and fills (an older build would take such a record for a torn tail, so it
/// must refuse the file instead).
pub const VERSION: u32 = 4;
/// The oldest format version this build reads; such a journal's header is upgraded on open,
/// because every older record is still a valid record of this version.
pub const OLDEST_READABLE: u32 = 1;
/// Where the version sits in the header.
pub(super) const VERSION_OFFSET: u64 = 8;
/// Length of the file header: magic then version.
pub const HEADER_LEN: u64 = 12;
/// Length of a record's frame: payload length then checksum.
pub(super) const FRAME_LEN: usize = 8;
/// Records are small; a larger length prefix is garbage, not a record.
const MAX_RECORD_LEN: u32 = 1 << 20;

/// What was wrong with the first bad frame of a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TornReason {
    /// The file header itself was cut short (crash while creating the file).
    ShortHeader,
    /// Fewer than eight bytes remained for a frame.
    ShortFrame,
    /// The length prefix points past the end of the file.
    PastEnd {
        /// The declared payload length.
        len: u32,
    },
    /// The length prefix is larger than any record can be.
    Oversized {
        /// The declared payload length.
        len: u32,
    },
    /// The payload does not match its checksum.
    ChecksumMismatch,
    /// The payload passed its checksum but is not a record of this version.
    Undecodable(String),
}

impl fmt::Display for TornReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TornReason::ShortHeader => write!(f, "file header cut short"),
            TornReason::ShortFrame => write!(f, "record frame cut short"),
            TornReason::PastEnd { len } => {
                write!(f, "record of {len} bytes runs past the end of the file")
            }
            TornReason::Oversized { len } => write!(f, "implausible record length {len}"),
            TornReason::ChecksumMismatch => write!(f, "checksum mismatch"),
            TornReason::Undecodable(e) => write!(f, "undecodable record: {e}"),
        }
    }
}

/// A bad tail found in a journal: where it starts, how long it is and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset of the first bad frame (the file's valid length).
    pub offset: u64,
    /// Bytes from `offset` to the end of the file that were not read as records.
    pub bytes_skipped: u64,
    /// What was wrong with the first bad frame.
    pub reason: TornReason,
    /// Where the skipped bytes were copied before truncation (`None` when only read).
    pub saved_to: Option<PathBuf>,
}

impl fmt::Display for TornTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes skipped at offset {} ({})",
            self.bytes_skipped, self.offset, self.reason
        )?;
        if let Some(p) = &self.saved_to {
            write!(f, ", copied to {}", p.display())?;
        }
        Ok(())
    }
}

/// The header a journal starts with.
pub(super) fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Replaces the contents of `buf` with `record`, framed; `Err` holds the encoder's message.
pub(super) fn encode(buf: &mut Vec<u8>, record: &JournalRecord) -> Result<(), String> {
    buf.clear();
    buf.extend_from_slice(&[0; FRAME_LEN]);
    rmp_serde::encode::write(buf, record).map_err(|e| e.to_string())?;
    let payload_len = buf.len() - FRAME_LEN;
    let len = u32::try_from(payload_len)
        .ok()
        .filter(|l| *l <= MAX_RECORD_LEN)
        .ok_or_else(|| format!("record of {payload_len} bytes exceeds {MAX_RECORD_LEN}"))?;
    let crc = crc32fast::hash(&buf[FRAME_LEN..]);
    buf[0..4].copy_from_slice(&len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What reading a whole file found.
#[derive(Debug)]
pub(super) struct Scan {
    /// The file starts with a valid header (false: empty, or a torn header).
    pub has_header: bool,
    /// The format version in the header (0 without a header).
    pub version: u32,
    /// Valid records read.
    pub records: u64,
    /// End of the last valid record (0 without a header).
    pub valid_len: u64,
    /// The bad tail, if any.
    pub torn_tail: Option<TornTail>,
}

/// Reads `file` from its start, handing each valid record to `on_record`, up to the end or
/// the first bad frame. Refuses a file that is not a journal, or of a version it cannot read.
pub(super) fn read_records(
    file: &mut File,
    path: &Path,
    mut on_record: impl FnMut(JournalRecord),
) -> Result<Scan, BrokerError> {
    let file_len = file
        .metadata()
        .map_err(|e| BrokerError::io(path, "stat", e))?
        .len();
    let mut scan = Scan {
        has_header: false,
        version: 0,
        records: 0,
        valid_len: 0,
        torn_tail: None,
    };
    let version = match check_header(file, path, file_len)? {
        Header::Valid(version) => version,
        Header::Missing => 0,
    };
    if version == 0 {
        if file_len > 0 {
            scan.torn_tail = Some(TornTail {
                offset: 0,
                bytes_skipped: file_len,
                reason: TornReason::ShortHeader,
                saved_to: None,
            });
        }
        return Ok(scan);
    }
    scan.has_header = true;
    scan.version = version;
    let mut reader = RecordReader::new(BufReader::new(&*file), HEADER_LEN, file_len);
    loop {
        match reader.next_record(path)? {
            Step::Record(r) => {
                scan.records += 1;
                on_record(r);
            }
            Step::End => break,
            Step::Torn(reason) => {
                scan.torn_tail = Some(TornTail {
                    offset: reader.offset,
                    bytes_skipped: file_len - reader.offset,
                    reason,
                    saved_to: None,
                });
                break;
            }
        }
    }
    scan.valid_len = reader.offset;
    Ok(scan)
}

/// The state of a file's header.
enum Header {
    /// Magic is right and the version (given) is one this build reads.
    Valid(u32),
    /// The file is empty, or holds only a prefix of a header (crash while creating it).
    Missing,
}

/// Checks the header at the start of `file`, leaving the position after it.
fn check_header(file: &mut File, path: &Path, file_len: u64) -> Result<Header, BrokerError> {
    let mut header = [0u8; HEADER_LEN as usize];
    let n = (file_len.min(HEADER_LEN)) as usize;
    file.read_exact(&mut header[..n])
        .map_err(|e| BrokerError::io(path, "read header", e))?;
    if n < HEADER_LEN as usize {
        // Only a prefix of our own header is a torn creation; anything else is someone's file.
        let ours = header[..n.min(8)] == MAGIC[..n.min(8)];
        return if ours {
            Ok(Header::Missing)
        } else {
            Err(BrokerError::NotAJournal {
                path: path.to_path_buf(),
            })
        };
    }
    if header[..8] != MAGIC {
        return Err(BrokerError::NotAJournal {
            path: path.to_path_buf(),
        });
    }
    let found = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if !(OLDEST_READABLE..=VERSION).contains(&found) {
        return Err(BrokerError::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported: VERSION,
        });
    }
    Ok(Header::Valid(found))
}

/// One step of reading records.
enum Step {
    /// A valid record.
    Record(JournalRecord),
    /// The file ended exactly after the last record.
    End,
    /// The frame at the reader's offset is bad.
    Torn(TornReason),
}

/// Reads framed records sequentially, knowing the file length so a length prefix past the end
/// is recognised before reading.
struct RecordReader<R> {
    /// The source, positioned at `offset`.
    reader: R,
    /// Offset of the next frame (after a torn step: of the bad frame).
    offset: u64,
    /// Length of the file.
    file_len: u64,
    /// Reused payload buffer.
    payload: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    fn new(reader: R, offset: u64, file_len: u64) -> Self {
        RecordReader {
            reader,
            offset,
            file_len,
            payload: Vec::new(),
        }
    }

    fn next_record(&mut self, path: &Path) -> Result<Step, BrokerError> {
        let remaining = self.file_len - self.offset;
        if remaining == 0 {
            return Ok(Step::End);
        }
        if remaining < FRAME_LEN as u64 {
            return Ok(Step::Torn(TornReason::ShortFrame));
        }
        let mut frame = [0u8; FRAME_LEN];
        self.reader
            .read_exact(&mut frame)
            .map_err(|e| BrokerError::io(path, "read", e))?;
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if len > MAX_RECORD_LEN {
            return Ok(Step::Torn(TornReason::Oversized { len }));
        }
        if u64::from(len) > remaining - FRAME_LEN as u64 {
            return Ok(Step::Torn(TornReason::PastEnd { len }));
        }
        self.payload.resize(len as usize, 0);
        self.reader
            .read_exact(&mut self.payload)
            .map_err(|e| BrokerError::io(path, "read", e))?;
        if crc32fast::hash(&self.payload) != crc {
            return Ok(Step::Torn(TornReason::ChecksumMismatch));
        }
        match rmp_serde::from_slice(&self.payload) {
            Ok(record) => {
                self.offset += FRAME_LEN as u64 + u64::from(len);
                Ok(Step::Record(record))
            }
            Err(e) => Ok(Step::Torn(TornReason::Undecodable(e.to_string()))),
        }
    }
}
