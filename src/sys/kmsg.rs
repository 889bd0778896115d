//! Reading the kernel log (`/dev/kmsg`) from the last record seen, without
//! blocking and within a bound. The effect half of [`crate::core::deaths`]'s OOM
//! parsing.
//!
//! `/dev/kmsg` hands out one record per `read(2)`, in sequence order. It
//! cannot seek to a sequence number (only to the first record, the end, or
//! the last `dmesg -c`), so a reader starts at the first record still in
//! the buffer and skips what it has seen. Its quirks:
//! - `EAGAIN` (opened `O_NONBLOCK`): the end of the log, instead of blocking;
//! - `EPIPE`: the records after our position were overwritten; the next
//!   read continues at the oldest one left (the gap shows in the sequence
//!   numbers);
//! - `EINVAL`: the buffer is too small for a record (records reach 8 KiB
//!   with their dictionary; ours is 16 KiB).
//!
//! The position saved between cycles is the boot id and the last sequence
//! number: after a reboot the numbers start over, and the whole buffer is
//! this boot's, so a new boot (or no saved position) reads from the start:
//! an OOM kill between boot and the first cycle is not missed, and none is
//! read twice.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::core::deaths::{self, KmsgRecord, OomKill};

pub const DEV_KMSG: &str = "/dev/kmsg";

pub use crate::core::deaths::KmsgPos;

/// How much one cycle may read, so a flood of kernel messages cannot stall
/// it; the rest is read by the next cycle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_records: usize,
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records: 20_000,
            max_bytes: 4 << 20,
        }
    }
}

/// New records read in one call.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<KmsgRecord>,
    /// Records overwritten before they could be read (sequence gaps).
    pub lost: u64,
    /// A limit stopped the read before the end of the log.
    pub truncated: bool,
    /// The highest sequence number seen (skipped records included).
    pub max_seq: Option<u64>,
}

const BUF: usize = 16 << 10;

pub struct KmsgReader {
    file: File,
    buf: Vec<u8>,
    /// The sequence number of the last record this fd returned, so a
    /// reader kept open across cycles (`watch`) goes on without rewinding.
    last_read: Option<u64>,
}

impl KmsgReader {
    /// Opens the log read-only and non-blocking. `EPERM`/`EACCES` mean no
    /// root or CAP_SYSLOG (or `dmesg_restrict`).
    pub fn open(path: &Path) -> io::Result<KmsgReader> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(path)?;
        Ok(KmsgReader {
            file,
            buf: vec![0; BUF],
            last_read: None,
        })
    }

    fn rewind(&mut self) -> io::Result<()> {
        // SAFETY: lseek on an fd we own; SEEK_SET 0 means "the first record
        // still in the buffer" for /dev/kmsg.
        if unsafe { libc::lseek(self.file.as_raw_fd(), 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.last_read = None;
        Ok(())
    }

    /// Reads the records after sequence number `after` (all of them for
    /// `None`), up to the end of the log or a limit.
    pub fn read_after(&mut self, after: Option<u64>, limits: Limits) -> io::Result<Batch> {
        if self.last_read.is_none() || self.last_read != after {
            self.rewind()?;
        }
        let mut batch = Batch::default();
        let mut bytes = 0usize;
        let mut expected = after.and_then(|s| s.checked_add(1));
        loop {
            if batch.records.len() >= limits.max_records || bytes >= limits.max_bytes {
                batch.truncated = true;
                break;
            }
            let n = match self.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    Some(libc::EPIPE) => continue,
                    Some(libc::EINTR) => continue,
                    _ => return Err(e),
                },
            };
            let Some(rec) = deaths::parse_kmsg_record(&self.buf[..n]) else {
                continue;
            };
            self.last_read = Some(rec.seq);
            batch.max_seq = batch.max_seq.max(Some(rec.seq));
            if after.is_some_and(|a| rec.seq <= a) {
                continue;
            }
            if let Some(exp) = expected {
                batch.lost += rec.seq.saturating_sub(exp);
            }
            expected = rec.seq.checked_add(1);
            bytes += n;
            batch.records.push(rec);
        }
        Ok(batch)
    }
}

/// Why `/dev/kmsg` could not be opened, with what fixes it (for the
/// "say so once" message and `doctor`).
pub fn why_unreadable(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "{err}: reading the kernel log needs root or CAP_SYSLOG \
             (kernel.dmesg_restrict); OOM kills are not recorded"
        ),
        Some(libc::ENOENT) => {
            format!("{err}: no kernel log device (a container without /dev/kmsg?)")
        }
        _ => err.to_string(),
    }
}

/// What one cycle learnt from the kernel log.
#[derive(Debug)]
pub struct OomRead {
    pub kills: Vec<OomKill>,
    /// The position to save for the next cycle.
    pub pos: KmsgPos,
    pub lost: u64,
    pub truncated: bool,
}

/// Reads the OOM kills since `saved` (a position of another boot counts as
/// none) and returns them with the position to save.
pub fn read_oom_kills(
    reader: &mut KmsgReader,
    saved: Option<&KmsgPos>,
    boot_id: &str,
    limits: Limits,
) -> io::Result<OomRead> {
    let after = saved
        .filter(|p| p.boot_id == boot_id)
        .and_then(|p| p.last_seq);
    let batch = reader.read_after(after, limits)?;
    let scan = deaths::scan_oom(&batch.records);
    let last_seq = match (scan.commit_seq, after, batch.max_seq) {
        // Held back to before an unfinished OOM report: never go backwards.
        (Some(c), Some(a), _) if c < a => Some(a),
        (Some(c), _, _) => Some(c),
        // Nothing new. A saved number past everything in the log is not
        // this log's (a state file from elsewhere): start over from its end.
        (None, Some(a), Some(m)) if batch.records.is_empty() && m < a => Some(m),
        (None, a, _) => a,
    };
    Ok(OomRead {
        kills: scan.kills,
        pos: KmsgPos {
            boot_id: boot_id.to_string(),
            last_seq,
        },
        lost: batch.lost,
        truncated: batch.truncated,
    })
}

/// Microseconds on the printk clock now (`CLOCK_MONOTONIC`: like printk's
/// timestamps, it stops during suspend).
pub fn now_monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec.max(0) as u64) * 1_000_000 + (ts.tv_nsec.max(0) as u64) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_position_at_the_last_sequence_number_does_not_overflow() {
        // A state file's `last_seq` of u64::MAX is not this log's: start
        // over from the log's end, without `u64::MAX + 1`.
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "6,5,100,-;hello\n").unwrap();
        let mut reader = KmsgReader::open(f.path()).unwrap();
        let saved = KmsgPos {
            boot_id: "b".into(),
            last_seq: Some(u64::MAX),
        };
        let read = read_oom_kills(&mut reader, Some(&saved), "b", Limits::default()).unwrap();
        assert!(read.kills.is_empty());
        assert_eq!(read.pos.last_seq, Some(5));
        assert_eq!(read.lost, 0);
    }
}
