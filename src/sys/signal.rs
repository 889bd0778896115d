//! Delivering signals to exactly the process that was planned.
//!
//! Order matters: open a pidfd *first*, then re-check, through that pid,
//! everything that made the process an agent and a victim: its start time
//! and comm, the file it runs (device and inode of its executable), and a
//! `cmdline` or `env` match rule, matched again. Once the pidfd is open it
//! refers to one process for good, so if the checks pass the signal cannot
//! land on a recycled pid, nor on a program the process exec'd since the
//! scan (same pid, same start time, maybe even the same comm). Without
//! pidfds (kernels before 5.3, or `STRAY_NO_PIDFD=1`, a switch for tests)
//! the same checks are made right before `kill(2)`; the window left is the
//! few microseconds between the two calls.
//!
//! macOS has no pidfds: there the identity check (libproc) and `kill(2)`
//! path is the only one.
//!
//! `ESRCH` and `EPERM` are outcomes ([`Outcome::Gone`], [`Outcome::Denied`]),
//! never errors; a process that is no longer what was classified is
//! [`Outcome::Changed`].

use std::path::{Path, PathBuf};

use crate::core::escalation::{Expected, Outcome, Recheck, Signal, Signaller};
use crate::sys::proc::{LiveSource, ProcSource};

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
        let mut s = Self::without_pidfd(root);
        s.use_pidfd = cfg!(target_os = "linux") && use_pidfd;
        s
    }

    /// The `kill(2)` path only, as on a kernel without pidfds.
    pub(crate) fn without_pidfd(root: impl Into<PathBuf>) -> Self {
        LiveSignaller {
            root: root.into(),
            use_pidfd: false,
            self_pid: std::process::id() as i32,
        }
    }

    /// Whether this kernel supports pidfd_open (for `doctor`).
    pub(crate) fn pidfd_supported() -> bool {
        pidfd::open(std::process::id() as i32).is_ok()
    }

    /// Is the pid still the process we classified? `Err` carries the
    /// outcome when it is not: `Gone` (exited, a zombie, another start
    /// time), `Changed` (another comm, executable, or no longer matching
    /// its rule) or `Denied` (cannot be verified: do not signal).
    fn verify(&self, e: &Expected) -> Result<(), Outcome> {
        let p = match crate::sys::proc::read_one(&self.root, e.key.pid) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(Outcome::Gone),
            Err(_) => return Err(Outcome::Denied),
        };
        // A zombie with live threads was read as one of them: alive.
        if p.start_time != e.key.start_time || p.is_zombie() {
            return Err(Outcome::Gone);
        }
        if p.comm != e.comm {
            return Err(Outcome::Changed);
        }
        let source = LiveSource::for_process(&self.root, &p);
        let unreadable = |err: std::io::Error| {
            if err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ESRCH)
            {
                Outcome::Gone
            } else {
                Outcome::Denied
            }
        };
        let Some(exe) = e.exe else {
            return Err(Outcome::Denied);
        };
        if source.exe_id(p.pid).map_err(unreadable)? != exe {
            return Err(Outcome::Changed);
        }
        let still = match &e.rule {
            Recheck::Nothing => true,
            Recheck::Cmdline(re) => {
                let args = source.cmdline(p.pid).map_err(unreadable)?;
                re.is_match(&args.join(" "))
            }
            Recheck::Env(marker) => {
                let env = source.environ(p.pid).map_err(unreadable)?;
                env.iter().any(|kv| kv == marker)
            }
            Recheck::Unknown(_) => return Err(Outcome::Denied),
        };
        if !still {
            return Err(Outcome::Changed);
        }
        Ok(())
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
pub(crate) mod pidfd {
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
pub(crate) mod pidfd {
    pub(crate) struct Unsupported;

    pub(crate) fn open(_pid: i32) -> std::io::Result<Unsupported> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }

    pub(crate) fn send(_fd: &Unsupported, _signo: i32) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

impl Signaller for LiveSignaller {
    fn send(&mut self, expected: &Expected, signal: Signal) -> Outcome {
        let key = expected.key;
        // Whatever the plan says, never these.
        if key.pid <= 1 || key.pid == self.self_pid {
            return Outcome::Denied;
        }
        if self.use_pidfd {
            match pidfd::open(key.pid) {
                Ok(fd) => {
                    // Opened first: from here on `fd` is this one process.
                    if let Err(o) = self.verify(expected) {
                        return o;
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
        if let Err(o) = self.verify(expected) {
            return o;
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
    use crate::core::process::ProcKey;
    use std::process::{Child, Command, Stdio};

    fn start_time(pid: i32) -> u64 {
        crate::sys::proc::read_one(std::path::Path::new("/proc"), pid)
            .unwrap()
            .unwrap()
            .start_time
    }

    /// What a scan would record for `pid` now.
    fn expected(pid: i32, comm: &str, rule: Recheck) -> Expected {
        Expected {
            key: ProcKey {
                pid,
                start_time: start_time(pid),
            },
            comm: comm.into(),
            exe: LiveSource::new("/proc").exe_id(pid).ok(),
            rule,
        }
    }

    fn sleeper(env: &[(&str, &str)]) -> Child {
        Command::new("sleep")
            .arg("30")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }

    #[test]
    fn signals_only_the_verified_process() {
        let mut child = sleeper(&[]);
        let pid = child.id() as i32;
        let good = expected(pid, "sleep", Recheck::Nothing);
        assert!(good.exe.is_some());
        let mut s = LiveSignaller::new("/proc", true);
        // Wrong start time: treated as another process, not signalled.
        let mut wrong = good.clone();
        wrong.key.start_time += 1;
        assert_eq!(s.send(&wrong, Signal::Term), Outcome::Gone);
        // Wrong comm (exec'd into something else): not signalled.
        let other = Expected {
            comm: "other".into(),
            ..good.clone()
        };
        assert_eq!(s.send(&other, Signal::Term), Outcome::Changed);
        // Another executable under the same comm: not signalled.
        let mut moved = good.clone();
        moved.exe.as_mut().unwrap().ino += 1;
        assert_eq!(s.send(&moved, Signal::Term), Outcome::Changed);
        // An executable that could not be read at scan time: unverifiable.
        let unknown = Expected {
            exe: None,
            ..good.clone()
        };
        assert_eq!(s.send(&unknown, Signal::Term), Outcome::Denied);
        // The same without pidfds.
        let mut k = LiveSignaller::without_pidfd("/proc");
        assert_eq!(k.send(&moved, Signal::Term), Outcome::Changed);
        assert_eq!(k.send(&other, Signal::Term), Outcome::Changed);
        assert!(child.try_wait().unwrap().is_none(), "child must still run");
        assert_eq!(s.send(&good, Signal::Term), Outcome::Signalled);
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // Now reaped: gone.
        assert_eq!(s.send(&good, Signal::Kill), Outcome::Gone);
    }

    #[test]
    fn cmdline_and_env_rules_are_matched_again() {
        let mut child = sleeper(&[("STRAY_UNIT_MARK", "on")]);
        let pid = child.id() as i32;
        let mut s = LiveSignaller::new("/proc", true);
        let re = |r: &str| Recheck::Cmdline(regex::Regex::new(r).unwrap());
        let no_longer = [
            re("^sleep 31$"),
            Recheck::Env("STRAY_UNIT_MARK=off".into()),
            Recheck::Unknown("cmdline:gone".into()),
        ];
        for rule in no_longer {
            let want = if matches!(rule, Recheck::Unknown(_)) {
                Outcome::Denied
            } else {
                Outcome::Changed
            };
            let e = expected(pid, "sleep", rule);
            assert_eq!(s.send(&e, Signal::Term), want, "{:?}", e.rule);
            let mut k = LiveSignaller::without_pidfd("/proc");
            assert_eq!(k.send(&e, Signal::Term), want, "{:?}", e.rule);
        }
        assert!(child.try_wait().unwrap().is_none(), "child must still run");
        let e = expected(pid, "sleep", Recheck::Env("STRAY_UNIT_MARK=on".into()));
        assert_eq!(s.send(&e, Signal::Term), Outcome::Signalled);
        child.wait().unwrap();

        let mut child = sleeper(&[]);
        let pid = child.id() as i32;
        let e = expected(pid, "sleep", re("^sleep 30$"));
        let mut k = LiveSignaller::without_pidfd("/proc");
        assert_eq!(k.send(&e, Signal::Term), Outcome::Signalled);
        child.wait().unwrap();
    }

    #[test]
    fn never_pid1_or_self() {
        let mut s = LiveSignaller::new("/proc", true);
        let me = std::process::id() as i32;
        let init = Expected {
            key: ProcKey {
                pid: 1,
                start_time: 0,
            },
            comm: "init".into(),
            exe: None,
            rule: Recheck::Nothing,
        };
        assert_eq!(s.send(&init, Signal::Term), Outcome::Denied);
        let own = expected(me, "x", Recheck::Nothing);
        assert_eq!(s.send(&own, Signal::Term), Outcome::Denied);
    }
}
