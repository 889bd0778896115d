//! Delivering signals to exactly the process that was planned.
//!
//! Order matters: open a pidfd *first*, then re-read the start time and comm
//! of that pid, then signal through the pidfd. Once the pidfd is open it
//! refers to one process for good, so if the identity check passes the
//! signal cannot land on a recycled pid. Without pidfds (kernels before 5.3,
//! or `STRAY_NO_PIDFD=1`, a switch for tests) the identity is checked right
//! before `kill(2)`; the window left is the few microseconds between the two
//! calls, during which the pid would have to exit, be reaped and be reused.
//!
//! macOS has no pidfds: there the identity check (libproc) and `kill(2)`
//! path is the only one.
//!
//! `ESRCH` and `EPERM` are outcomes ([`Outcome::Gone`], [`Outcome::Denied`]),
//! never errors.

use std::path::{Path, PathBuf};

use crate::core::escalation::{Outcome, Signal, Signaller};
use crate::core::process::ProcKey;

/// Signals real processes, verifying identity in the procfs root `root`
/// (on macOS the root is ignored: libproc answers).
pub struct LiveSignaller {
    root: PathBuf,
    use_pidfd: bool,
    self_pid: i32,
}

impl LiveSignaller {
    /// `use_pidfd: false` forces the kill(2) path (`STRAY_NO_PIDFD`).
    pub fn new(root: impl Into<PathBuf>, use_pidfd: bool) -> Self {
        LiveSignaller {
            root: root.into(),
            use_pidfd: cfg!(target_os = "linux") && use_pidfd,
            self_pid: std::process::id() as i32,
        }
    }

    /// Whether this kernel supports pidfd_open (for `doctor`).
    pub(crate) fn pidfd_supported() -> bool {
        pidfd::open(std::process::id() as i32).is_ok()
    }

    /// Is `key` still the process we classified? Zombies count as gone:
    /// there is nothing left to signal.
    fn same_process(&self, key: ProcKey, comm: &str) -> Result<bool, Outcome> {
        match crate::sys::proc::read_one(&self.root, key.pid) {
            Ok(Some(p)) => Ok(p.start_time == key.start_time && p.comm == comm && !p.is_zombie()),
            Ok(None) => Ok(false),
            // Cannot verify: do not signal.
            Err(_) => Err(Outcome::Denied),
        }
    }
}

/// A boxed live signaller, as `reap` and `watch` use it.
pub(crate) fn live(root: &Path, use_pidfd: bool) -> Box<dyn Signaller> {
    Box::new(LiveSignaller::new(root, use_pidfd))
}

fn outcome_of(err: &std::io::Error) -> Outcome {
    match err.raw_os_error() {
        Some(libc::ESRCH) => Outcome::Gone,
        _ => Outcome::Denied,
    }
}

fn signo(signal: Signal) -> i32 {
    match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    }
}

/// pidfd_open / pidfd_send_signal (Linux ≥ 5.3).
#[cfg(target_os = "linux")]
mod pidfd {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    pub(crate) fn open(pid: i32) -> std::io::Result<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
        // no pointers are passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this fd to us; nobody else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    pub(crate) fn send(fd: &OwnedFd, signo: i32) -> std::io::Result<()> {
        // SAFETY: fd is a valid pidfd owned by the caller; a null siginfo asks
        // for the default (what kill(2) sends).
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                signo,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// No pidfds here: every open fails as unsupported, so the identity-checked
/// `kill(2)` path is taken.
#[cfg(not(target_os = "linux"))]
mod pidfd {
    pub(crate) struct Unsupported;

    pub(crate) fn open(_pid: i32) -> std::io::Result<Unsupported> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }

    pub(crate) fn send(_fd: &Unsupported, _signo: i32) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

impl Signaller for LiveSignaller {
    fn send(&mut self, key: ProcKey, comm: &str, signal: Signal) -> Outcome {
        // Whatever the plan says, never these.
        if key.pid <= 1 || key.pid == self.self_pid {
            return Outcome::Denied;
        }
        if self.use_pidfd {
            match pidfd::open(key.pid) {
                Ok(fd) => {
                    // Opened first: from here on `fd` is this one process.
                    match self.same_process(key, comm) {
                        Ok(true) => {}
                        Ok(false) => return Outcome::Gone,
                        Err(o) => return o,
                    }
                    return match pidfd::send(&fd, signo(signal)) {
                        Ok(()) => Outcome::Signalled,
                        Err(e) => outcome_of(&e),
                    };
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Outcome::Gone,
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => self.use_pidfd = false,
                Err(_) => return Outcome::Denied,
            }
        }
        match self.same_process(key, comm) {
            Ok(true) => {}
            Ok(false) => return Outcome::Gone,
            Err(o) => return o,
        }
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(key.pid, signo(signal)) } == 0 {
            Outcome::Signalled
        } else {
            outcome_of(&std::io::Error::last_os_error())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn start_time(pid: i32) -> u64 {
        crate::sys::proc::read_one(std::path::Path::new("/proc"), pid)
            .unwrap()
            .unwrap()
            .start_time
    }

    #[test]
    fn signals_only_the_verified_process() {
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let st = start_time(pid);
        let mut s = LiveSignaller::new("/proc", true);
        // Wrong start time: treated as another process, not signalled.
        let wrong = ProcKey {
            pid,
            start_time: st + 1,
        };
        assert_eq!(s.send(wrong, "sleep", Signal::Term), Outcome::Gone);
        // Wrong comm (exec'd into something else): not signalled.
        assert_eq!(
            s.send(
                ProcKey {
                    pid,
                    start_time: st
                },
                "other",
                Signal::Term
            ),
            Outcome::Gone
        );
        assert!(child.try_wait().unwrap().is_none(), "child must still run");
        assert_eq!(
            s.send(
                ProcKey {
                    pid,
                    start_time: st
                },
                "sleep",
                Signal::Term
            ),
            Outcome::Signalled
        );
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Now reaped: gone.
        assert_eq!(
            s.send(
                ProcKey {
                    pid,
                    start_time: st
                },
                "sleep",
                Signal::Kill
            ),
            Outcome::Gone
        );
    }

    #[test]
    fn never_pid1_or_self() {
        let mut s = LiveSignaller::new("/proc", true);
        let me = std::process::id() as i32;
        assert_eq!(
            s.send(
                ProcKey {
                    pid: 1,
                    start_time: 0
                },
                "init",
                Signal::Term
            ),
            Outcome::Denied
        );
        assert_eq!(
            s.send(
                ProcKey {
                    pid: me,
                    start_time: start_time(me)
                },
                "x",
                Signal::Term
            ),
            Outcome::Denied
        );
    }
}
