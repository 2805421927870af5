//! The broker's append-only journal: every order, refusal, fill and cancellation, on disk
//! before the broker acknowledges it, so positions can be rebuilt after a restart.
//!
//! The format is described in [`frame`](super::frame). No wall-clock time is written: the same
//! inputs produce a byte-identical file, which backtests rely on.
//!
//! # Recovery
//! A crash can leave a torn last record (length prefix past the end, checksum mismatch,
//! undecodable payload). [`Journal::open`] stops at the first bad frame, copies the bytes from
//! there to the end into `<journal>.torn-<offset>` so nothing is destroyed unseen, truncates
//! them away so new appends follow valid records, and reports what it did in a [`TornTail`].
//! The file is locked while open, so two daemons cannot write one journal.

use super::config::FsyncPolicy;
use super::error::BrokerError;
use super::frame::{self, HEADER_LEN, TornTail};
use super::record::JournalRecord;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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

/// Bytes of records a [`FsyncPolicy::Deferred`] journal collects before writing them.
pub const DEFERRED_BLOCK: usize = 64 << 10;

/// The open, locked journal file, appended to by the broker.
#[derive(Debug)]
pub struct Journal {
    /// The journal file's path, for messages.
    path: PathBuf,
    /// The file, locked exclusively, positioned at `written`.
    file: File,
    /// Length of the journal: the end of the last complete record (pending ones included).
    len: u64,
    /// Length of the valid part of the file (`len` minus the pending records).
    written: u64,
    /// Records appended but not yet written (deferred policy, or held).
    pending: Vec<u8>,
    /// Records appended are collected until [`release`](Self::release) (group commit).
    held: bool,
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
        on_record: impl FnMut(JournalRecord),
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
        let mut scan = frame::read_records(&mut file, path, on_record)?;
        if let Some(tail) = &mut scan.torn_tail {
            tail.saved_to = Some(save_tail(&mut file, path, tail.offset)?);
            file.set_len(scan.valid_len)
                .map_err(|e| BrokerError::io(path, "truncate torn tail", e))?;
        }
        file.seek(SeekFrom::Start(scan.valid_len))
            .map_err(|e| BrokerError::io(path, "seek", e))?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            len: scan.valid_len,
            written: scan.valid_len,
            pending: Vec::new(),
            held: false,
            fsync,
            unsynced: 0,
            buf: Vec::with_capacity(256),
            poisoned: None,
        };
        let created = !scan.has_header;
        let upgraded = scan.has_header && scan.version < frame::VERSION;
        if upgraded {
            // An older journal's records are valid records of this version: stamp the new
            // version so an older build refuses the file instead of cutting newer records off.
            journal
                .file
                .seek(SeekFrom::Start(frame::VERSION_OFFSET))
                .and_then(|_| journal.file.write_all(&frame::VERSION.to_le_bytes()))
                .and_then(|_| {
                    journal
                        .file
                        .seek(SeekFrom::Start(scan.valid_len))
                        .map(|_| ())
                })
                .map_err(|e| BrokerError::io(path, "upgrade header", e))?;
            tracing::info!(target: "tradehost::broker", "journal {} upgraded from format version {} to {}", path.display(), scan.version, frame::VERSION);
        }
        if created {
            journal
                .file
                .write_all(&frame::header())
                .map_err(|e| BrokerError::io(path, "write header", e))?;
            journal.len = HEADER_LEN;
            journal.written = HEADER_LEN;
        }
        if created || upgraded || scan.torn_tail.is_some() {
            journal.sync()?;
            sync_parent(path);
        }
        let scan = JournalScan {
            created,
            records: scan.records,
            torn_tail: scan.torn_tail,
        };
        Ok((journal, scan))
    }

    /// Reads every valid record of the journal at `path` without modifying it.
    pub fn read_all(path: &Path) -> Result<JournalContents, BrokerError> {
        let mut file = File::open(path).map_err(|e| BrokerError::io(path, "open", e))?;
        let mut records = Vec::new();
        let scan = frame::read_records(&mut file, path, |r| records.push(r))?;
        Ok(JournalContents {
            records,
            torn_tail: scan.torn_tail,
        })
    }

    /// Appends one record, handing it to the operating system before returning, and fsyncs
    /// according to the policy. While [held](Self::hold), the record is only collected; an
    /// append from outside the group first writes the group (poisoning the journal if that
    /// fails, as its records may already have had effects).
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), BrokerError> {
        if self.held {
            self.held = false;
            self.write_pending()?;
        }
        self.append_inner(record)
    }

    /// Appends one record of the held group (written by [`release`](Self::release)), or,
    /// when nothing is held, as [`append`](Self::append).
    pub fn append_to_group(&mut self, record: &JournalRecord) -> Result<(), BrokerError> {
        self.append_inner(record)
    }

    fn append_inner(&mut self, record: &JournalRecord) -> Result<(), BrokerError> {
        if let Some(cause) = &self.poisoned {
            return Err(BrokerError::Poisoned {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        frame::encode(&mut self.buf, record).map_err(|message| BrokerError::Encode {
            path: self.path.clone(),
            message,
        })?;
        if self.held || self.fsync == FsyncPolicy::Deferred {
            self.pending.extend_from_slice(&self.buf);
            self.len += self.buf.len() as u64;
            self.unsynced += 1;
            return if !self.held && self.pending.len() >= DEFERRED_BLOCK {
                self.write_pending()
            } else {
                Ok(())
            };
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            return Err(self.roll_back("append", e));
        }
        self.len += self.buf.len() as u64;
        self.written = self.len;
        self.unsynced += 1;
        self.sync_if_due()
    }

    /// Collect the records appended to the group from now on ([`append_to_group`](Self::append_to_group)),
    /// to write them with one call and fsync them once, at [`release`](Self::release): a
    /// group commit. (A deferred journal collects anyway.)
    pub fn hold(&mut self) {
        if self.fsync != FsyncPolicy::Deferred && self.poisoned.is_none() {
            self.held = true;
        }
    }

    /// Write the held records and fsync according to the policy. On failure the group's
    /// records are cut off (the journal is as before [`hold`](Self::hold)) and the error
    /// returned: none of them was acknowledged, the caller takes them back.
    pub fn release(&mut self) -> Result<(), BrokerError> {
        if !std::mem::take(&mut self.held) {
            return Ok(());
        }
        if let Err(e) = self.write_out() {
            // Forgotten (its records stay counted toward the next fsync: at worst an earlier one).
            self.pending.clear();
            self.len = self.written;
            return Err(self.roll_back("append", e));
        }
        self.sync_if_due()
    }

    /// True while records are collected for a group commit.
    pub fn is_held(&self) -> bool {
        self.held
    }

    fn sync_if_due(&mut self) -> Result<(), BrokerError> {
        let due = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::EveryN(n) => self.unsynced >= n,
            FsyncPolicy::Never | FsyncPolicy::Deferred => false,
        };
        if due { self.sync() } else { Ok(()) }
    }

    /// Forces every appended record to stable storage.
    pub fn flush(&mut self) -> Result<(), BrokerError> {
        self.write_pending()?;
        if self.unsynced == 0 {
            return Ok(());
        }
        self.sync()
    }

    /// Hands the deferred records to the operating system. A failure poisons the journal:
    /// those records were already acknowledged.
    fn write_pending(&mut self) -> Result<(), BrokerError> {
        if let Err(e) = self.write_out() {
            let error = self.roll_back("append", e);
            self.poisoned
                .get_or_insert_with(|| "a block of deferred records could not be written".into());
            return Err(error);
        }
        Ok(())
    }

    /// Hands the collected records to the operating system with one call.
    fn write_out(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
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

    /// Makes every later write fail, as a full or failed disk would (tests only).
    #[cfg(test)]
    pub(crate) fn break_writes(&mut self) {
        self.file = File::open(&self.path).expect("the journal file exists");
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
        let restored = self.file.set_len(self.written).is_ok()
            && self.file.seek(SeekFrom::Start(self.written)).is_ok();
        if !restored {
            self.poisoned = Some(format!(
                "{action} failed and the partial record could not be removed: {e}"
            ));
        }
        BrokerError::io(&self.path, action, e)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Deferred records still count: write them (best effort) when the broker goes away
        // without a flush, as on an error path.
        if self.poisoned.is_none() {
            let _ = self.write_pending();
        }
    }
}

/// Copies the bytes from `offset` to the end of `file` into `<path>.torn-<offset>`.
fn save_tail(file: &mut File, path: &Path, offset: u64) -> Result<PathBuf, BrokerError> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| BrokerError::io(path, "seek", e))?;
    // Never overwrite the tail an earlier crash left at the same offset: add `.1`, `.2`...
    let mut attempt = 0u32;
    let (target, mut out) = loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".torn-{offset}"));
        if attempt > 0 {
            name.push(format!(".{attempt}"));
        }
        let target = PathBuf::from(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
        {
            Ok(out) => break (target, out),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1;
            }
            Err(e) => return Err(BrokerError::io(&target, "create", e)),
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::frame::{MAGIC, TornReason, VERSION};
    use crate::broker::record::CancelReason;
    use crate::types::OrderRequest;
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
            origin: None,
            market_position: None,
            cause: None,
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
    fn deferred_records_reach_the_file_in_blocks_on_flush_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, deferred) = (
            dir.path().join("plain.bin"),
            dir.path().join("deferred.bin"),
        );
        let records: Vec<JournalRecord> = (1..=3000).map(order).collect();
        write(&plain, &records);
        let on_disk = |path: &Path| std::fs::metadata(path).unwrap().len();
        let (mut j, _) = Journal::open(&deferred, FsyncPolicy::Deferred, |_| {}).unwrap();
        j.append(&records[0]).unwrap();
        assert_eq!(on_disk(&deferred), HEADER_LEN, "one record waits in memory");
        assert!(j.len() > HEADER_LEN && !j.is_empty());
        for r in &records[1..] {
            j.append(r).unwrap();
        }
        let written = on_disk(&deferred);
        assert!(
            written > HEADER_LEN && written < j.len(),
            "full blocks were written"
        );
        j.flush().unwrap();
        assert_eq!(
            std::fs::read(&deferred).unwrap(),
            std::fs::read(&plain).unwrap()
        );
        // Dropped without a flush: what was pending is written all the same.
        j.append(&order(9999)).unwrap();
        drop(j);
        let contents = Journal::read_all(&deferred).unwrap();
        assert_eq!(contents.records.len(), 3001);
        assert_eq!(contents.torn_tail, None);
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
            JournalRecord::KillSwitch {
                engaged: true,
                reason: "operator: venue outage".into(),
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
            (false, 4, None)
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
    fn tails_torn_twice_at_one_offset_are_both_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        write(&path, &[order(1)]);
        let valid = std::fs::read(&path).unwrap();
        let mut saved = Vec::new();
        for garbage in [&b"first"[..], b"second!!!"] {
            let mut bytes = valid.clone();
            bytes.extend_from_slice(garbage);
            std::fs::write(&path, &bytes).unwrap();
            let (_, scan, _) = reopen(&path);
            let to = scan.torn_tail.and_then(|t| t.saved_to).unwrap();
            assert_eq!(std::fs::read(&to).unwrap(), garbage);
            saved.push(to);
        }
        assert_ne!(saved[0], saved[1]);
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
    fn a_version_1_journal_is_read_and_its_header_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        write(&path, &[order(1), order(2)]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();

        let (records, scan, mut journal) = reopen(&path);
        assert_eq!(records, [order(1), order(2)]);
        assert!(scan.torn_tail.is_none() && !scan.created);
        journal.append(&order(3)).unwrap();
        drop(journal);
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after[8..12], VERSION.to_le_bytes(), "header not upgraded");
        assert_eq!(after[12..bytes.len()], bytes[12..], "records rewritten");
        let (records, _, _) = reopen(&path);
        assert_eq!(records, [order(1), order(2), order(3)]);
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
    fn a_failed_write_leaves_the_file_valid_and_stops_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let (mut j, _) = Journal::open(&path, FsyncPolicy::Always, |_| {}).unwrap();
        j.append(&order(1)).unwrap();
        let len = j.len();
        j.break_writes();
        let e = j.append(&order(2)).unwrap_err();
        assert!(
            matches!(
                e,
                BrokerError::Io {
                    action: "append",
                    ..
                }
            ),
            "{e}"
        );
        // The partial record could not be cut off here, so the journal refuses to go on.
        assert!(j.poisoned().is_some());
        let e = j.append(&order(3)).unwrap_err();
        assert!(
            matches!(e, BrokerError::Poisoned { .. }) && e.is_terminal(),
            "{e}"
        );
        assert_eq!(j.len(), len);
        drop(j);
        let contents = Journal::read_all(&path).unwrap();
        assert_eq!(
            (contents.records, contents.torn_tail),
            (vec![order(1)], None)
        );
    }

    #[test]
    fn a_held_group_is_written_at_release_as_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, grouped) = (dir.path().join("plain.bin"), dir.path().join("grouped.bin"));
        let records: Vec<JournalRecord> = (1..=20).map(order).collect();
        write(&plain, &records);
        let on_disk = |path: &Path| std::fs::metadata(path).unwrap().len();
        let (mut j, _) = Journal::open(&grouped, FsyncPolicy::Always, |_| {}).unwrap();
        j.append(&records[0]).unwrap();
        let before = on_disk(&grouped);
        j.hold();
        assert!(j.is_held());
        for r in &records[1..10] {
            j.append_to_group(r).unwrap();
        }
        assert_eq!(on_disk(&grouped), before, "the group waits in memory");
        assert!(j.len() > before, "its length counts the group");
        j.release().unwrap();
        assert!(!j.is_held());
        assert_eq!(on_disk(&grouped), j.len());
        // An append from outside a group writes the group first.
        j.hold();
        j.append_to_group(&records[10]).unwrap();
        j.append(&records[11]).unwrap();
        assert!(!j.is_held());
        assert_eq!(on_disk(&grouped), j.len());
        for r in &records[12..] {
            j.append_to_group(r).unwrap(); // nothing held: written at once
            assert_eq!(on_disk(&grouped), j.len());
        }
        j.release().unwrap();
        drop(j);
        assert_eq!(
            std::fs::read(&grouped).unwrap(),
            std::fs::read(&plain).unwrap()
        );
    }

    #[test]
    fn a_group_that_cannot_be_written_leaves_the_records_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let (mut j, _) = Journal::open(&path, FsyncPolicy::Never, |_| {}).unwrap();
        j.append(&order(1)).unwrap();
        let len = j.len();
        j.hold();
        j.append_to_group(&order(2)).unwrap();
        j.append_to_group(&order(3)).unwrap();
        j.break_writes();
        let e = j.release().unwrap_err();
        assert!(
            matches!(
                e,
                BrokerError::Io {
                    action: "append",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(j.len(), len, "the group is forgotten");
        drop(j);
        let contents = Journal::read_all(&path).unwrap();
        assert_eq!(
            (contents.records, contents.torn_tail),
            (vec![order(1)], None)
        );
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
