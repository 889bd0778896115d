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
//! `ESRCH` and `EPERM` are outcomes ([`Outcome::Gone`], [`Outcome::Denied`]),
//! never errors.

use crate::proc::ProcKey;
use crate::reap::{Outcome, Signal};

/// Sends signals; behind a trait so the executor can be tested with a fake.
pub trait Signaller {
    /// Signals the process `key` if it still is the process whose comm was
    /// `comm` when it was classified.
    fn send(&mut self, key: ProcKey, comm: &str, signal: Signal) -> Outcome;
}

#[cfg(target_os = "linux")]
pub use imp::LiveSignaller;

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::io::AsRawFd;
    use std::path::PathBuf;

    /// Signals real processes through pidfds, verifying identity in `root`.
    pub struct LiveSignaller {
        root: PathBuf,
        use_pidfd: bool,
        self_pid: i32,
    }

    impl LiveSignaller {
        pub fn new(root: impl Into<PathBuf>) -> Self {
            LiveSignaller {
                root: root.into(),
                use_pidfd: std::env::var_os("STRAY_NO_PIDFD").is_none_or(|v| v.is_empty()),
                self_pid: std::process::id() as i32,
            }
        }

        /// Whether this kernel supports pidfd_open (for `doctor`).
        pub fn pidfd_supported() -> bool {
            pidfd_open(std::process::id() as i32).is_ok()
        }

        /// Is `key` still the process we classified? Zombies count as gone:
        /// there is nothing left to signal.
        fn same_process(&self, key: ProcKey, comm: &str) -> Result<bool, Outcome> {
            match crate::proc::read_one(&self.root, key.pid) {
                Ok(Some(p)) => {
                    Ok(p.start_time == key.start_time && p.comm == comm && !p.is_zombie())
                }
                Ok(None) => Ok(false),
                // Cannot verify: do not signal.
                Err(_) => Err(Outcome::Denied),
            }
        }
    }

    fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
        // no pointers are passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this fd to us; nobody else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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

    impl Signaller for LiveSignaller {
        fn send(&mut self, key: ProcKey, comm: &str, signal: Signal) -> Outcome {
            // Whatever the plan says, never these.
            if key.pid <= 1 || key.pid == self.self_pid {
                return Outcome::Denied;
            }
            if self.use_pidfd {
                match pidfd_open(key.pid) {
                    Ok(fd) => {
                        match self.same_process(key, comm) {
                            Ok(true) => {}
                            Ok(false) => return Outcome::Gone,
                            Err(o) => return o,
                        }
                        // SAFETY: fd is a valid pidfd owned by us; a null
                        // siginfo asks for the default (as kill(2) sends).
                        let r = unsafe {
                            libc::syscall(
                                libc::SYS_pidfd_send_signal,
                                fd.as_raw_fd(),
                                signo(signal),
                                std::ptr::null::<libc::siginfo_t>(),
                                0,
                            )
                        };
                        return if r == 0 {
                            Outcome::Signalled
                        } else {
                            outcome_of(&std::io::Error::last_os_error())
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
            let r = unsafe { libc::kill(key.pid, signo(signal)) };
            if r == 0 {
                Outcome::Signalled
            } else {
                outcome_of(&std::io::Error::last_os_error())
            }
        }
    }
}

/// A recording fake for tests of the executor.
#[derive(Debug, Default)]
pub struct RecordingSignaller {
    pub calls: Vec<(ProcKey, Signal)>,
    /// Outcome per pid; `Signalled` when absent.
    pub outcomes: std::collections::HashMap<i32, Outcome>,
}

impl Signaller for RecordingSignaller {
    fn send(&mut self, key: ProcKey, _comm: &str, signal: Signal) -> Outcome {
        self.calls.push((key, signal));
        self.outcomes
            .get(&key.pid)
            .copied()
            .unwrap_or(Outcome::Signalled)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn start_time(pid: i32) -> u64 {
        crate::proc::read_one(std::path::Path::new("/proc"), pid)
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
        let mut s = LiveSignaller::new("/proc");
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
        let mut s = LiveSignaller::new("/proc");
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
