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

    pub fn oom_score_adj(&self) -> io::Result<i32> {
        let bytes = self.dir.read("oom_score_adj", 64)?;
        String::from_utf8_lossy(&bytes).trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("pid {}: unreadable oom_score_adj", self.pid),
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

/// Raises `key`'s `oom_score_adj` to `target` (never lowering it).
pub fn raise(proc_root: &Path, key: ProcKey, target: i32) -> RaiseOutcome {
    match ProcHandle::open(proc_root, key.pid) {
        Ok(h) => h.raise(key, target),
        Err(e) if gone(&e) => RaiseOutcome::Gone,
        Err(e) => RaiseOutcome::Failed(format!("pid {}: {e}", key.pid)),
    }
}
