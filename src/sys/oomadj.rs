//! Raising a stray's `oom_score_adj` so the OOM killer takes it before a
//! live session. The effect half of [`crate::core::memory`]'s decisions.
//!
//! The process is pinned by its `/proc/PID` directory fd: every later
//! access (its `stat`, its `oom_score_adj`) goes through that fd, and the
//! kernel answers `ESRCH`/`ENOENT` once that process has exited, even if
//! the pid number is reused. So a start time checked through the fd, then a
//! write through the same fd, cannot land on a recycled pid.

use std::io::{self, Read, Write};
use std::path::Path;

use nix::fcntl::OFlag;

use crate::core::memory;
use crate::core::process::ProcKey;
use crate::sys::safefs::Dir;

/// What a raise did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaiseOutcome {
    /// Written: `from` → `to`. Audit it (once per process).
    Raised { from: i32, to: i32 },
    /// Already at or above the target: untouched (never lower).
    AlreadyHigh(i32),
    /// Exited, or the pid now belongs to another process.
    Gone,
    /// Could not read or write (permissions, an odd /proc).
    Failed(String),
}

/// One process, pinned by its `/proc/PID` directory.
pub struct ProcHandle {
    dir: Dir,
    pid: i32,
}

fn gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT))
}

impl ProcHandle {
    pub fn open(proc_root: &Path, pid: i32) -> io::Result<ProcHandle> {
        Ok(ProcHandle {
            dir: Dir::open(&proc_root.join(pid.to_string()))?,
            pid,
        })
    }

    pub fn start_time(&self) -> io::Result<u64> {
        let bytes = self.dir.read("stat", 4096)?;
        crate::sys::proc::stat_start_time(&bytes).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("pid {}: unreadable stat", self.pid),
            )
        })
    }

    /// Raises to `target` if this is still `key` and its value is lower.
    pub fn raise(&self, key: ProcKey, target: i32) -> RaiseOutcome {
        if key.pid != self.pid {
            return RaiseOutcome::Gone;
        }
        match self.start_time() {
            Ok(st) if st == key.start_time => {}
            Ok(_) => return RaiseOutcome::Gone,
            Err(e) if gone(&e) => return RaiseOutcome::Gone,
            Err(e) => return RaiseOutcome::Failed(format!("pid {}: stat: {e}", self.pid)),
        }
        // Open first, then read and write through the one fd.
        let mut f = match self.dir.open_file("oom_score_adj", OFlag::O_RDWR, 0) {
            Ok(f) => f,
            Err(e) if gone(&e) => return RaiseOutcome::Gone,
            Err(e) => return RaiseOutcome::Failed(format!("pid {}: oom_score_adj: {e}", self.pid)),
        };
        let mut text = String::new();
        let current = match f.read_to_string(&mut text) {
            Ok(_) => match text.trim().parse::<i32>() {
                Ok(v) => v,
                Err(_) => {
                    return RaiseOutcome::Failed(format!(
                        "pid {}: oom_score_adj: unreadable {text:?}",
                        self.pid
                    ))
                }
            },
            Err(e) if gone(&e) => return RaiseOutcome::Gone,
            Err(e) => return RaiseOutcome::Failed(format!("pid {}: oom_score_adj: {e}", self.pid)),
        };
        let Some(to) = memory::raised_value(current, target) else {
            return RaiseOutcome::AlreadyHigh(current);
        };
        // proc's oom_score_adj write ignores the file offset.
        match f.write_all(to.to_string().as_bytes()) {
            Ok(()) => RaiseOutcome::Raised { from: current, to },
            Err(e) if gone(&e) => RaiseOutcome::Gone,
            Err(e) => RaiseOutcome::Failed(format!("pid {}: oom_score_adj: {e}", self.pid)),
        }
    }
}

/// `pid`'s `oom_score_adj` as it is now, for a plan (the raise reads it
/// again through the pinned fd). One `open`, one `read`: procfs hands the
/// value out whole, and the newline ends it. Opened non-blocking and not
/// following a symlink, like every file [`Dir`] opens.
pub fn current(proc_root: &Path, pid: i32) -> io::Result<i32> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = proc_root.join(pid.to_string()).join("oom_score_adj");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)?;
    let mut buf = [0u8; 32];
    let mut len = 0;
    while len < buf.len() && !buf[..len].ends_with(b"\n") {
        match f.read(&mut buf[len..])? {
            0 => break,
            n => len += n,
        }
    }
    std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a number", path.display()),
            )
        })
}

/// Raises `key`'s `oom_score_adj` to `target` (never lowering it).
pub fn raise(proc_root: &Path, key: ProcKey, target: i32) -> RaiseOutcome {
    match ProcHandle::open(proc_root, key.pid) {
        Ok(h) => h.raise(key, target),
        Err(e) if gone(&e) => RaiseOutcome::Gone,
        Err(e) => RaiseOutcome::Failed(format!("pid {}: {e}", key.pid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(pid: i32, content: &[u8]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join(pid.to_string())).unwrap();
        std::fs::write(t.path().join(format!("{pid}/oom_score_adj")), content).unwrap();
        t
    }

    #[test]
    fn current_reads_our_own_value() {
        let ours = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        let me = std::process::id() as i32;
        assert_eq!(
            current(Path::new("/proc"), me).unwrap(),
            ours.trim().parse::<i32>().unwrap()
        );
    }

    #[test]
    fn current_takes_a_value_with_or_without_its_newline() {
        assert_eq!(current(root_with(7, b"-17\n").path(), 7).unwrap(), -17);
        assert_eq!(current(root_with(7, b"300").path(), 7).unwrap(), 300);
    }

    #[test]
    fn current_names_the_file_it_cannot_parse() {
        for bad in [&b"x\n"[..], b"", &[b'9'; 40][..]] {
            let t = root_with(8, bad);
            let e = current(t.path(), 8).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
            assert!(e.to_string().contains("8/oom_score_adj"), "{e}");
        }
        let missing = tempfile::tempdir().unwrap();
        assert_eq!(
            current(missing.path(), 9).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn current_neither_follows_a_symlink_nor_hangs_on_a_fifo() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("10");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(t.path().join("target"), b"5\n").unwrap();
        std::os::unix::fs::symlink(t.path().join("target"), dir.join("oom_score_adj")).unwrap();
        assert!(current(t.path(), 10).is_err());
        let fifo_root = tempfile::tempdir().unwrap();
        let dir = fifo_root.path().join("11");
        std::fs::create_dir(&dir).unwrap();
        nix::unistd::mkfifo(&dir.join("oom_score_adj"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        // No writer: a blocking open would hang here.
        assert!(current(fifo_root.path(), 11).is_err());
    }
}
