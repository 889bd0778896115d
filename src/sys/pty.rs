//! PTY slots, the platform part: reading the pool's counters and scanning
//! every process's fds for PTY masters, behind one `cfg` switch. The maths
//! (thresholds, churn, exhaustion) is in `core::pty`; nothing here decides.
//!
//! # Platform specific behavior
//!
//! Linux: `/proc/sys/kernel/pty/{nr,max,reserve}`; holders are the processes
//! with an fd whose link is `/dev/ptmx` or `/dev/pts/ptmx`, and
//! `/proc/PID/fdinfo/FD` names the pty index. macOS: `kern.tty.ptmx_max`
//! and the `/dev/ttysNNN` nodes in use; holders are not listed there.

#[cfg(target_os = "linux")]
mod imp {
    //! Linux: procfs counters and an fd scan with `*at` calls and reused
    //! buffers: per fd one `readlinkat` into a stack buffer, and an fdinfo
    //! read only for PTY masters.

    use std::fs;
    use std::io::{self, Read};
    use std::os::fd::{AsFd, AsRawFd};
    use std::path::Path;

    use nix::dir::Dir;
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;

    use crate::core::pty::{sort_holders, Counts, Holder, HolderScan};
    use crate::sys::proc::{is_ptmx_link, parse_pid, parse_tty_index};

    fn read_u64(path: &Path) -> io::Result<u64> {
        let s = fs::read_to_string(path)?;
        s.trim().parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    pub(crate) fn counts(proc_root: &Path) -> io::Result<Counts> {
        let dir = proc_root.join("sys/kernel/pty");
        let get = |name: &str| {
            let p = dir.join(name);
            read_u64(&p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        };
        Ok(Counts {
            used: get("nr")?,
            max: get("max")?,
            reserve: get("reserve").ok(),
        })
    }

    pub(crate) fn holders(proc_root: &Path) -> io::Result<HolderScan> {
        let mut scan = HolderScan::default();
        let mut root = Dir::open(
            proc_root,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io::Error::other(format!("{}: {e}", proc_root.display())))?;
        let root_fd = root.as_fd().as_raw_fd();
        let mut pids: Vec<i32> = Vec::with_capacity(1024);
        for entry in root.iter().flatten() {
            if let Some(pid) = parse_pid(entry.file_name().to_bytes()) {
                pids.push(pid);
            }
        }
        let mut link = [0u8; 64];
        let mut masters: Vec<i32> = Vec::new();
        let mut path = String::with_capacity(32);
        let mut text = String::with_capacity(256);
        for pid in pids {
            path.clear();
            use std::fmt::Write as _;
            let _ = write!(path, "{pid}/fd");
            // SAFETY: root_fd is the open directory owned by `root`, alive
            // for this whole loop.
            let root_bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(root_fd) };
            let fd_dir = match openat(
                root_bfd,
                path.as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => {
                    scan.unreadable += 1;
                    continue;
                }
                // Exited, or a kernel thread without an fd table.
                Err(_) => continue,
            };
            let Ok(mut dir) = Dir::from_fd(fd_dir) else {
                continue;
            };
            let dfd = dir.as_fd().as_raw_fd();
            masters.clear();
            for entry in dir.iter().flatten() {
                let name = entry.file_name();
                if name.to_bytes().first() == Some(&b'.') {
                    continue;
                }
                // SAFETY: dfd is the open fd directory owned by `dir`; name
                // is NUL-terminated; link is a valid writable buffer of the
                // length passed.
                let n = unsafe {
                    libc::readlinkat(dfd, name.as_ptr(), link.as_mut_ptr().cast(), link.len())
                };
                if n <= 0 || n as usize >= link.len() {
                    continue;
                }
                if is_ptmx_link(&link[..n as usize]) {
                    if let Some(fd) = parse_pid(name.to_bytes()) {
                        masters.push(fd);
                    }
                }
            }
            if masters.is_empty() {
                continue;
            }
            let mut indexes = Vec::with_capacity(masters.len());
            for &fd in &masters {
                path.clear();
                let _ = write!(path, "{pid}/fdinfo/{fd}");
                text.clear();
                if let Ok(f) = openat(
                    root_bfd,
                    path.as_str(),
                    OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    let mut file = fs::File::from(f);
                    if file.read_to_string(&mut text).is_ok() {
                        if let Some(i) = parse_tty_index(&text) {
                            indexes.push(i);
                        }
                    }
                }
            }
            indexes.sort_unstable();
            indexes.dedup();
            let dir_path = proc_root.join(pid.to_string());
            let comm = fs::read_to_string(dir_path.join("comm"))
                .map(|s| s.trim_end_matches('\n').to_string())
                .unwrap_or_default();
            let cmdline = fs::read(dir_path.join("cmdline"))
                .map(|b| crate::sys::proc::split_nul(&b).join(" "))
                .unwrap_or_default();
            scan.holders.push(Holder {
                pid,
                comm,
                masters: masters.len() as u32,
                indexes,
                cmdline,
            });
        }
        sort_holders(&mut scan.holders);
        Ok(scan)
    }
}

#[cfg(target_os = "macos")]
mod imp {
    //! macOS: the pool size from `kern.tty.ptmx_max`, slots in use from the
    //! `/dev/ttysNNN` nodes that exist (devfs creates one per open pty).
    //! Listing holders would need libproc fd walks: not done yet.

    use std::io;
    use std::path::Path;

    use crate::core::pty::{Counts, HolderScan};

    fn sysctl_int(name: &str) -> io::Result<u64> {
        let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>();
        // SAFETY: cname is NUL-terminated; value/len point to a c_int and its
        // size; no new value is set.
        let rc = unsafe {
            libc::sysctlbyname(
                cname.as_ptr(),
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(value.max(0) as u64)
    }

    pub(crate) fn counts(_proc_root: &Path) -> io::Result<Counts> {
        let max = sysctl_int("kern.tty.ptmx_max")
            .map_err(|e| io::Error::new(e.kind(), format!("sysctl kern.tty.ptmx_max: {e}")))?;
        let used = std::fs::read_dir("/dev")?
            .flatten()
            .filter(|e| {
                e.file_name().to_str().is_some_and(|n| {
                    n.strip_prefix("ttys")
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                })
            })
            .count() as u64;
        Ok(Counts {
            used,
            max,
            reserve: None,
        })
    }

    pub(crate) fn holders(_proc_root: &Path) -> io::Result<HolderScan> {
        Ok(HolderScan {
            unsupported: Some("listing PTY holders is not implemented on macOS".into()),
            ..HolderScan::default()
        })
    }
}

pub(crate) use imp::{counts, holders};

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_our_own_master() {
        // SAFETY: posix_openpt has no preconditions; the fd is closed below.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
        assert!(fd >= 0);
        let scan = holders(std::path::Path::new("/proc")).unwrap();
        let me = std::process::id() as i32;
        let mine = scan
            .holders
            .iter()
            .find(|h| h.pid == me)
            .expect("we hold one");
        assert!(mine.masters >= 1);
        assert!(!mine.indexes.is_empty());
        // SAFETY: fd was opened above and is not used after this.
        unsafe { libc::close(fd) };
        let c = counts(std::path::Path::new("/proc")).unwrap();
        assert!(c.max > 0);
    }
}
