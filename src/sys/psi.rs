//! Memory pressure through a PSI trigger (`/proc/pressure/memory`, or a
//! cgroup's `memory.pressure`): the kernel wakes a `poll(2)` with `POLLPRI`
//! when tasks stalled on memory longer than the threshold within the
//! window. The effect half of [`crate::core::memory::PressureTrigger`].
//!
//! The trigger lives as long as its fd; a watcher polls it together with
//! its other fds and its interval timeout ([`wait`]).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use crate::core::memory::PressureTrigger;

pub const PROC_PRESSURE_MEMORY: &str = "/proc/pressure/memory";

/// A registered trigger.
pub struct PsiTrigger {
    file: File,
    /// The trigger the kernel took: the one asked for, or its
    /// [`PressureTrigger::unprivileged`] form.
    pub used: PressureTrigger,
}

impl PsiTrigger {
    /// Registers `trigger` on `path`. Fails where PSI is missing (no file,
    /// `EOPNOTSUPP` when booted with `psi=0`) or not allowed; the error
    /// names the path. Without CAP_SYS_RESOURCE (root in many containers
    /// lacks it) the kernel takes only windows that are multiples of 2s
    /// and says `EINVAL` otherwise: then the same ratio over the next such
    /// window is registered instead ([`PsiTrigger::used`] says which).
    pub fn register(path: &Path, trigger: &PressureTrigger) -> io::Result<PsiTrigger> {
        let e = match register_one(path, trigger) {
            Ok(file) => {
                return Ok(PsiTrigger {
                    file,
                    used: *trigger,
                })
            }
            Err(e) => e,
        };
        if e.raw_os_error() == Some(libc::EINVAL) {
            if let Some(wider) = trigger.unprivileged() {
                if let Ok(file) = register_one(path, &wider) {
                    return Ok(PsiTrigger { file, used: wider });
                }
            }
        }
        Err(named(path, e))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn register_one(path: &Path, trigger: &PressureTrigger) -> io::Result<File> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    // The kernel wants the string with its terminating NUL.
    let mut text = trigger.kernel_string().into_bytes();
    text.push(0);
    file.write_all(&text)?;
    Ok(file)
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
