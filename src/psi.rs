//! Memory pressure through a PSI trigger (`/proc/pressure/memory`, or a
//! cgroup's `memory.pressure`): the kernel wakes a `poll(2)` with `POLLPRI`
//! when tasks stalled on memory longer than the threshold within the
//! window. The effect half of [`crate::memory::PressureTrigger`].
//!
//! The trigger lives as long as its fd; a watcher polls it together with
//! its other fds and its interval timeout ([`wait`]).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use crate::memory::PressureTrigger;

pub const PROC_PRESSURE_MEMORY: &str = "/proc/pressure/memory";

/// A registered trigger.
pub struct PsiTrigger {
    file: File,
}

impl PsiTrigger {
    /// Registers `trigger` on `path`. Fails where PSI is missing (no file,
    /// `EOPNOTSUPP` when booted with `psi=0`) or not allowed (`EPERM` or
    /// `EACCES`: unprivileged triggers need a window that is a multiple of
    /// 2s on current kernels); the error names the path.
    pub fn register(path: &Path, trigger: &PressureTrigger) -> io::Result<PsiTrigger> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(path)
            .map_err(named)?;
        // The kernel wants the string with its terminating NUL.
        let mut text = trigger.kernel_string().into_bytes();
        text.push(0);
        file.write_all(&text).map_err(named)?;
        Ok(PsiTrigger { file })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Why [`wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The pressure trigger fired.
    Pressure,
    /// The `extra` fd at this index is readable.
    Ready(usize),
    /// A signal arrived (check the stop flag).
    Interrupted,
    Timeout,
}

/// Waits up to `timeout` for the trigger (`POLLPRI`) or any of `extra`
/// (`POLLIN`). A trigger whose file went away (its cgroup removed) reports
/// `POLLERR`: an error, so the caller falls back to its timer.
pub fn wait(
    trigger: Option<BorrowedFd<'_>>,
    extra: &[BorrowedFd<'_>],
    timeout: Duration,
) -> io::Result<Wake> {
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(extra.len() + 1);
    if let Some(t) = trigger {
        fds.push(libc::pollfd {
            fd: t.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        });
    }
    for e in extra {
        fds.push(libc::pollfd {
            fd: e.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: fds points to fds.len() initialised pollfd structs that live
    // across the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EINTR) => Ok(Wake::Interrupted),
            _ => Err(e),
        };
    }
    if n == 0 {
        return Ok(Wake::Timeout);
    }
    let offset = usize::from(trigger.is_some());
    if trigger.is_some() {
        let r = fds[0].revents;
        if r & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::other(
                "pressure trigger: POLLERR (its file is gone)",
            ));
        }
        if r & libc::POLLPRI != 0 {
            return Ok(Wake::Pressure);
        }
    }
    for (i, p) in fds[offset..].iter().enumerate() {
        if p.revents != 0 {
            return Ok(Wake::Ready(i));
        }
    }
    Ok(Wake::Timeout)
}
