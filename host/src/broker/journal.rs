//! The broker's append-only journal: every order, refusal, fill and cancellation, on disk
//! before the broker acknowledges it, so positions can be rebuilt after a restart.
//!
//! # Format
//! A 12-byte header (`THJOURNL` then the format version as u32 little-endian), then records,
//! each framed as `u32 LE payload length | u32 LE crc32 of the payload | payload`, the payload
//! being one [`JournalRecord`] in rmp-serde (MessagePack). No wall-clock time is written: the
//! same inputs produce a byte-identical file, which backtests rely on.
//!
//! # Recovery
//! A crash can leave a torn last record (length prefix past the end, checksum mismatch,
//! undecodable payload). [`Journal::open`] stops at the first bad frame, copies the bytes from
//! there to the end into `<journal>.torn-<offset>` so nothing is destroyed unseen, truncates
//! them away so new appends follow valid records, and reports what it did in a [`TornTail`].

use super::config::FsyncPolicy;
use super::error::BrokerError;
use crate::types::{Fill, OrderRequest, Rejection, Symbol, TimestampMs};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first eight bytes of every journal.
pub const MAGIC: [u8; 8] = *b"THJOURNL";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Length of the file header: magic then version.
pub const HEADER_LEN: u64 = 12;
/// Length of a record's frame: payload length then checksum.
const FRAME_LEN: usize = 8;
/// Records are small; a larger length prefix is garbage, not a record.
const MAX_RECORD_LEN: u32 = 1 << 20;

/// Why the broker cancelled a resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// The plugin asked for it (`PluginAction::Cancel`).
    Requested,
    /// The kill switch was engaged.
    KillSwitch,
    /// The engine removed the plugin's orders (plugin unloaded or quarantined).
    PluginRemoved,
}

/// One entry of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JournalRecord {
    /// An order that passed the risk checks; it rests until it fills or is cancelled.
    Order {
        /// Broker-assigned id, increasing from 1.
        order_id: u64,
        /// The plugin that placed it.
        plugin: Arc<str>,
        /// The order as the plugin asked for it.
        request: OrderRequest,
        /// When it was accepted (engine time).
        time_ms: TimestampMs,
    },
    /// An order the risk checks refused.
    Rejected {
        /// The order as the plugin asked for it.
        request: OrderRequest,
        /// The refusal returned to the plugin.
        rejection: Rejection,
    },
    /// A paper fill of a whole resting order.
    Fill {
        /// The fill delivered to the plugin.
        fill: Fill,
    },
    /// A resting order taken out of the book.
    Cancel {
        /// The order's id.
        order_id: u64,
        /// The plugin that placed it.
        plugin: Arc<str>,
        /// The plugin's tag.
        tag: u32,
        /// The instrument.
        symbol: Symbol,
        /// Why.
        reason: CancelReason,
        /// When (engine time).
        time_ms: TimestampMs,
    },
}

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

/// Everything readable in a journal file, for tests and tools.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalContents {
    /// The valid records, in file order.
    pub records: Vec<JournalRecord>,
    /// The bad tail after them, if any (left in place: reading never modifies the file).
    pub torn_tail: Option<TornTail>,
}

/// What opening a journal found.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalScan {
    /// The file was created (or its torn header rewritten) by this open.
    pub created: bool,
    /// Valid records read.
    pub records: u64,
    /// The bad tail that was cut off, if any.
    pub torn_tail: Option<TornTail>,
}

/// The open, locked journal file, appended to by the broker.
#[derive(Debug)]
pub struct Journal {
    /// The journal file's path, for messages.
    path: PathBuf,
    /// The file, locked exclusively, positioned at `len`.
    file: File,
    /// Length of the valid part of the file: the end of the last complete record.
    len: u64,
    /// When to fsync.
    fsync: FsyncPolicy,
    /// Records written since the last fsync.
    unsynced: u32,
    /// Reused encoding buffer, so appending does not allocate.
    buf: Vec<u8>,
    /// Set after a failure that leaves the file's tail in doubt; no more appends then.
    poisoned: Option<String>,
}

impl Journal {
    /// Opens or creates the journal at `path`, handing every valid record to `on_record` in
    /// order, and cuts off a torn tail; the returned journal appends after the last valid record.
    pub fn open(
        path: &Path,
        fsync: FsyncPolicy,
        mut on_record: impl FnMut(JournalRecord),
    ) -> Result<(Journal, JournalScan), BrokerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| BrokerError::io(path, "create folder", e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| BrokerError::io(path, "open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(BrokerError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(BrokerError::io(path, "lock", e)),
        }
        let file_len = file
            .metadata()
            .map_err(|e| BrokerError::io(path, "stat", e))?
            .len();

        let mut scan = JournalScan {
            created: false,
            records: 0,
            torn_tail: None,
        };
        let valid_len = match check_header(&mut file, path, file_len)? {
            Header::Valid => {
                let mut reader = RecordReader::new(BufReader::new(&file), HEADER_LEN, file_len);
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
                reader.offset
            }
            Header::Missing => {
                if file_len > 0 {
                    scan.torn_tail = Some(TornTail {
                        offset: 0,
                        bytes_skipped: file_len,
                        reason: TornReason::ShortHeader,
                        saved_to: None,
                    });
                }
                scan.created = true;
                0
            }
        };

        if let Some(tail) = &mut scan.torn_tail {
            tail.saved_to = Some(save_tail(&mut file, path, tail.offset)?);
            file.set_len(valid_len)
                .map_err(|e| BrokerError::io(path, "truncate torn tail", e))?;
        }
        file.seek(SeekFrom::Start(valid_len))
            .map_err(|e| BrokerError::io(path, "seek", e))?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            len: valid_len,
            fsync,
            unsynced: 0,
            buf: Vec::with_capacity(256),
            poisoned: None,
        };
        if scan.created {
            let mut header = MAGIC.to_vec();
            header.extend_from_slice(&VERSION.to_le_bytes());
            journal
                .file
                .write_all(&header)
                .map_err(|e| BrokerError::io(path, "write header", e))?;
            journal.len = HEADER_LEN;
        }
        if scan.created || scan.torn_tail.is_some() {
            journal.sync()?;
            sync_parent(path);
        }
        Ok((journal, scan))
    }

    /// Reads every valid record of the journal at `path` without modifying it.
    pub fn read_all(path: &Path) -> Result<JournalContents, BrokerError> {
        let mut file = File::open(path).map_err(|e| BrokerError::io(path, "open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| BrokerError::io(path, "stat", e))?
            .len();
        let mut contents = JournalContents {
            records: Vec::new(),
            torn_tail: None,
        };
        match check_header(&mut file, path, file_len)? {
            Header::Missing if file_len == 0 => {}
            Header::Missing => {
                contents.torn_tail = Some(TornTail {
                    offset: 0,
                    bytes_skipped: file_len,
                    reason: TornReason::ShortHeader,
                    saved_to: None,
                })
            }
            Header::Valid => {
                let mut reader = RecordReader::new(BufReader::new(&file), HEADER_LEN, file_len);
                loop {
                    match reader.next_record(path)? {
                        Step::Record(r) => contents.records.push(r),
                        Step::End => break,
                        Step::Torn(reason) => {
                            contents.torn_tail = Some(TornTail {
                                offset: reader.offset,
                                bytes_skipped: file_len - reader.offset,
                                reason,
                                saved_to: None,
                            });
                            break;
                        }
                    }
                }
            }
        }
        Ok(contents)
    }

    /// Appends one record, handing it to the operating system before returning, and fsyncs
    /// according to the policy.
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), BrokerError> {
        if let Some(cause) = &self.poisoned {
            return Err(BrokerError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        self.buf.clear();
        self.buf.extend_from_slice(&[0; FRAME_LEN]);
        rmp_serde::encode::write(&mut self.buf, record).map_err(|e| BrokerError::Encode {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let payload_len = self.buf.len() - FRAME_LEN;
        let len = u32::try_from(payload_len)
            .ok()
            .filter(|l| *l <= MAX_RECORD_LEN)
            .ok_or_else(|| BrokerError::Encode {
                path: self.path.clone(),
                message: format!("record of {payload_len} bytes exceeds {MAX_RECORD_LEN}"),
            })?;
        let crc = crc32fast::hash(&self.buf[FRAME_LEN..]);
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());

        if let Err(e) = self.file.write_all(&self.buf) {
            return Err(self.roll_back("append", e));
        }
        self.len += self.buf.len() as u64;
        self.unsynced += 1;
        let due = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::EveryN(n) => self.unsynced >= n,
            FsyncPolicy::Never => false,
        };
        if due { self.sync() } else { Ok(()) }
    }

    /// Forces every appended record to stable storage.
    pub fn flush(&mut self) -> Result<(), BrokerError> {
        if self.unsynced == 0 {
            return Ok(());
        }
        self.sync()
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of the valid part of the file, in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the journal holds no record yet.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER_LEN
    }

    /// The failure that stopped appends, if any.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    fn sync(&mut self) -> Result<(), BrokerError> {
        match self.file.sync_data() {
            Ok(()) => {
                self.unsynced = 0;
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the dirty pages: what is on
                // disk is unknown, so stop writing rather than acknowledge on top of it.
                self.poisoned = Some(format!("fsync failed: {e}"));
                Err(BrokerError::io(&self.path, "fsync", e))
            }
        }
    }

    /// Cuts a partly written record off after a failed write; poisons the journal if that fails.
    fn roll_back(&mut self, action: &'static str, e: std::io::Error) -> BrokerError {
        let restored = self.file.set_len(self.len).is_ok()
            && self.file.seek(SeekFrom::Start(self.len)).is_ok();
        if !restored {
            self.poisoned = Some(format!(
                "{action} failed and the partial record could not be removed: {e}"
            ));
        }
        BrokerError::io(&self.path, action, e)
    }
}

/// The state of a file's header.
enum Header {
    /// Magic and version are right.
    Valid,
    /// The file is empty, or holds only a prefix of a header (crash while creating it).
    Missing,
}

/// Checks the header at the start of `file`, leaving the position after it.
fn check_header(file: &mut File, path: &Path, file_len: u64) -> Result<Header, BrokerError> {
    let mut header = [0u8; HEADER_LEN as usize];
    let n = (file_len.min(HEADER_LEN)) as usize;
    file.read_exact(&mut header[..n])
        .map_err(|e| BrokerError::io(path, "read header", e))?;
    let mut expected = [0u8; HEADER_LEN as usize];
    expected[..8].copy_from_slice(&MAGIC);
    expected[8..].copy_from_slice(&VERSION.to_le_bytes());
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
    if found != VERSION {
        return Err(BrokerError::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported: VERSION,
        });
    }
    Ok(Header::Valid)
}

/// Copies the bytes from `offset` to the end of `file` into `<path>.torn-<offset>`.
fn save_tail(file: &mut File, path: &Path, offset: u64) -> Result<PathBuf, BrokerError> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".torn-{offset}"));
    let target = PathBuf::from(name);
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| BrokerError::io(path, "seek", e))?;
    let mut out = File::create(&target).map_err(|e| BrokerError::io(&target, "create", e))?;
    std::io::copy(file, &mut out).map_err(|e| BrokerError::io(&target, "copy torn tail", e))?;
    out.sync_all()
        .map_err(|e| BrokerError::io(&target, "fsync", e))?;
    Ok(target)
}

/// Best effort: makes a newly created file's directory entry durable.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrderKind, Side};

    fn order(id: u64) -> JournalRecord {
        JournalRecord::Order {
            order_id: id,
            plugin: "sma".into(),
            request: OrderRequest {
                symbol: "SPY".into(),
                side: Side::Buy,
                quantity: 10.0,
                kind: OrderKind::Limit(168.25),
                tag: id as u32,
            },
            time_ms: 1_381_152_600_000 + id as i64,
        }
    }

    fn write(path: &Path, records: &[JournalRecord]) {
        let (mut j, _) = Journal::open(path, FsyncPolicy::Never, |_| {}).unwrap();
        for r in records {
            j.append(r).unwrap();
        }
        j.flush().unwrap();
    }

    fn reopen(path: &Path) -> (Vec<JournalRecord>, JournalScan, Journal) {
        let mut seen = Vec::new();
        let (j, scan) = Journal::open(path, FsyncPolicy::Always, |r| seen.push(r)).unwrap();
        (seen, scan, j)
    }

    #[test]
    fn records_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/journal.bin");
        let records = vec![
            order(1),
            JournalRecord::Cancel {
                order_id: 1,
                plugin: "sma".into(),
                tag: 1,
                symbol: "SPY".into(),
                reason: CancelReason::KillSwitch,
                time_ms: 5,
            },
            order(2),
        ];
        write(&path, &records);
        assert_eq!(
            Journal::read_all(&path).unwrap(),
            JournalContents {
                records: records.clone(),
                torn_tail: None
            }
        );
        let (seen, scan, j) = reopen(&path);
        assert_eq!(seen, records);
        assert_eq!(
            (scan.created, scan.records, scan.torn_tail),
            (false, 3, None)
        );
        assert_eq!(j.len(), std::fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn a_new_journal_starts_with_the_versioned_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let (j, scan) = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap();
        assert!(scan.created && j.is_empty());
        drop(j);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"THJOURNL");
        assert_eq!(bytes[8..], VERSION.to_le_bytes());
    }

    /// Writes three records, damages the file with `damage`, reopens it, and checks that the
    /// first `kept` records survive, the tail is reported and saved, and appends work again.
    fn recover_after(
        damage: impl Fn(&mut Vec<u8>, &[u64]),
        kept: usize,
        reason: fn(&TornReason) -> bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let records = vec![order(1), order(2), order(3)];
        // Record boundaries, from the file after each append.
        let mut ends = vec![HEADER_LEN];
        {
            let (mut j, _) = Journal::open(&path, FsyncPolicy::Never, |_| {}).unwrap();
            for r in &records {
                j.append(r).unwrap();
                ends.push(j.len());
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes, &ends);
        std::fs::write(&path, &bytes).unwrap();

        let (seen, scan, mut j) = reopen(&path);
        assert_eq!(seen, records[..kept]);
        let tail = scan.torn_tail.expect("the damage is reported");
        assert_eq!(tail.offset, ends[kept]);
        assert_eq!(tail.bytes_skipped, bytes.len() as u64 - ends[kept]);
        assert!(reason(&tail.reason), "unexpected reason {:?}", tail.reason);
        let saved = tail.saved_to.expect("the skipped bytes are kept aside");
        assert_eq!(std::fs::read(&saved).unwrap(), bytes[ends[kept] as usize..]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[kept]);

        j.append(&order(9)).unwrap();
        drop(j);
        let after = Journal::read_all(&path).unwrap();
        assert_eq!(after.torn_tail, None);
        assert_eq!(after.records.len(), kept + 1);
        assert_eq!(after.records[kept], order(9));
    }

    #[test]
    fn a_journal_with_a_torn_last_record_still_loads() {
        // Last record cut a few bytes short: its length points past the end.
        recover_after(
            |b, _| b.truncate(b.len() - 3),
            2,
            |r| matches!(r, TornReason::PastEnd { .. }),
        );
    }

    #[test]
    fn a_cut_frame_header_is_a_torn_tail() {
        recover_after(
            |b, e| b.truncate(e[2] as usize + 5),
            2,
            |r| *r == TornReason::ShortFrame,
        );
    }

    #[test]
    fn a_flipped_payload_byte_fails_the_checksum() {
        recover_after(
            |b, e| b[e[2] as usize + 12] ^= 0x40,
            2,
            |r| *r == TornReason::ChecksumMismatch,
        );
    }

    #[test]
    fn a_flipped_length_byte_is_caught() {
        recover_after(
            |b, e| b[e[1] as usize + 3] ^= 0x80,
            1,
            |r| matches!(r, TornReason::Oversized { .. }),
        );
    }

    #[test]
    fn garbage_with_a_valid_checksum_is_undecodable() {
        recover_after(
            |b, _| {
                let payload = [0xc1u8, 0x00, 0x01]; // 0xc1 is never used in MessagePack
                b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                b.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
                b.extend_from_slice(&payload);
            },
            3,
            |r| matches!(r, TornReason::Undecodable(_)),
        );
    }

    #[test]
    fn a_torn_header_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        std::fs::write(&path, b"THJOU").unwrap();
        let (_, scan, j) = reopen(&path);
        assert!(scan.created);
        assert_eq!(
            scan.torn_tail
                .map(|t| (t.offset, t.bytes_skipped, t.reason)),
            Some((0, 5, TornReason::ShortHeader))
        );
        drop(j);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), HEADER_LEN);
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        for content in [&b"date,price\n2013-10-07,168.2\n"[..], b"{}"] {
            let path = dir.path().join("prices.csv");
            std::fs::write(&path, content).unwrap();
            let e = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap_err();
            assert!(matches!(e, BrokerError::NotAJournal { .. }), "{e}");
            assert!(
                e.to_string().contains("prices.csv") && e.is_terminal(),
                "{e}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), content);
            assert!(Journal::read_all(&path).is_err());
        }
    }

    #[test]
    fn another_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(VERSION + 1).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let e = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap_err();
        assert!(
            matches!(e, BrokerError::UnsupportedVersion { found, .. } if found == VERSION + 1),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_journal_is_opened_by_one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let (first, _) = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap();
        let e = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap_err();
        assert!(matches!(e, BrokerError::Locked { .. }), "{e}");
        drop(first);
        assert!(Journal::open(&path, FsyncPolicy::Always, |_| {}).is_ok());
    }

    #[test]
    fn the_same_records_give_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
        let records: Vec<_> = (1..50).map(order).collect();
        write(&a, &records);
        write(&b, &records);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }
}
