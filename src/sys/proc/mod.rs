//! The process table readers, per OS behind one `cfg` switch, and the
//! [`ProcSource`] trait for the per-process reads that come after.
//!
//! What they read is `core::process` data; outside `sys` nothing reads
//! `/proc` or calls libproc. (Inside `sys`, the PTY-holder scan, the tmux
//! socket lookup and the socket-owner lookup read their own `/proc` files.)
//! Nothing here classifies or decides.
//! Names and command lines are hostile input: they are kept as (lossily
//! decoded) strings and escaped only when rendered for a terminal.

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod imp;

pub use imp::{current_boot_id, read_table};
/// Shared with the PTY-holder scan, which walks fds its own (faster) way.
#[cfg(target_os = "linux")]
pub(crate) use imp::{is_ptmx_link, parse_pid, parse_tty_index, stat_start_time};
pub(crate) use imp::{now_boottime, read_one, LiveSource};
#[cfg(target_os = "linux")]
pub(crate) use imp::{read_some, reread_stat};

use crate::core::process::{ExeId, Tty};

/// Everything a command reads about individual processes after the table
/// pass. Behind a trait so the gathering logic can be tested on fakes.
/// One end of a pipe held by a process: an anonymous pipe (`dev` 0, the
/// pipefs inode) or a named FIFO (its file's device and inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PipeEnd {
    pub dev: u64,
    pub inode: u64,
    /// The write end (else the read end).
    pub write: bool,
}

pub(crate) trait ProcSource {
    /// Executable path (`/proc/PID/exe`).
    fn exe(&self, pid: i32) -> std::io::Result<String>;
    /// Device and inode of the executable (`stat` of `/proc/PID/exe`).
    /// Unknown by default: an executable that cannot be verified is never
    /// signalled.
    fn exe_id(&self, _pid: i32) -> std::io::Result<ExeId> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this source cannot identify executables",
        ))
    }
    /// Arguments (`/proc/PID/cmdline`).
    fn cmdline(&self, pid: i32) -> std::io::Result<Vec<String>>;
    /// Raw `KEY=VALUE` environment entries (`/proc/PID/environ`).
    fn environ(&self, pid: i32) -> std::io::Result<Vec<String>>;
    /// The `KEY=VALUE` entries of the environment whose KEY is one of
    /// `names`, as pairs (what the family rules read).
    fn environ_named(
        &self,
        pid: i32,
        names: &std::collections::BTreeSet<String>,
    ) -> std::io::Result<Vec<(String, String)>> {
        Ok(named_entries(
            self.environ(pid)?.join("\0").as_bytes(),
            names,
        ))
    }
    /// Indexes of the PTYs whose master side this process holds.
    fn pty_masters(&self, pid: i32) -> std::io::Result<Vec<u32>>;
    /// Inodes of the sockets this process holds.
    fn socket_inodes(&self, pid: i32) -> std::io::Result<Vec<u64>>;
    /// The anonymous pipe ends this process holds. Unknown by default: a
    /// would-be leftover whose pipes cannot be read is kept.
    fn pipe_ends(&self, _pid: i32) -> std::io::Result<Vec<PipeEnd>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this source cannot list pipes",
        ))
    }
    /// The paths of the files and directories this process holds open
    /// (fd link targets that are paths, not sockets, pipes or anonymous
    /// inodes). Unknown by default: a session such a process may hold is
    /// then never taken for gone.
    fn open_paths(&self, _pid: i32) -> std::io::Result<Vec<String>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this source cannot list open files",
        ))
    }
    /// A source that keeps fd tables for one survey (Linux's
    /// `LiveSource::for_table`) drops them all but `keep`'s: what is read
    /// next must be read after this point (holders of a peer found in a
    /// dump made just now). Nothing to do for a source that keeps none.
    fn forget_fd_tables(&self, _keep: &[i32]) {}
    /// The `NSpid` line of `/proc/PID/status`: the pid in each PID namespace
    /// the process belongs to, outermost first (the last is its own).
    fn nspid(&self, _pid: i32) -> std::io::Result<Vec<i32>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "NSpid is only read on Linux",
        ))
    }
    /// The cgroup v2 path of the process (`0::PATH` in `/proc/PID/cgroup`).
    fn cgroup(&self, _pid: i32) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "cgroups are only read on Linux",
        ))
    }
    /// The pids in cgroup `path` (its `cgroup.procs`).
    fn cgroup_procs(&self, _path: &str) -> std::io::Result<Vec<i32>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "cgroups are only read on Linux",
        ))
    }
    /// Which of `inodes` (sockets `pid` holds) are AF_UNIX sockets.
    fn unix_sockets_among(&self, _pid: i32, _inodes: &[u64]) -> std::io::Result<Vec<u64>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "socket families are only read on Linux",
        ))
    }
    /// The devpts instance (device number of the devpts mount) of each PTY
    /// master with this `index` that `pid` holds, `None` for a master that
    /// does not say (opened through a `/dev/ptmx` device node outside
    /// devpts). Empty where there is no devpts (not Linux).
    fn pty_master_devpts(&self, _pid: i32, _index: u32) -> std::io::Result<Vec<Option<u64>>> {
        Ok(Vec::new())
    }
    /// The devpts instance of `tty` as `pid` holds it open: `None` when it
    /// holds no fd to it, or fds to that pts number in two instances.
    fn tty_devpts(&self, _pid: i32, _tty: Tty) -> std::io::Result<Option<u64>> {
        Ok(None)
    }
}

/// Parses the `NSpid:` line of a `/proc/PID/status` text.
pub(crate) fn parse_nspid(status: &str) -> Option<Vec<i32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let pids: Option<Vec<i32>> = line.split_whitespace().map(|f| f.parse().ok()).collect();
    pids.filter(|p| !p.is_empty())
}

/// The cgroup v2 path in a `/proc/PID/cgroup` text (the `0::` line).
pub(crate) fn parse_cgroup_v2(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The entries of a NUL-separated environment blob whose name is one of
/// `names`, decoded; the rest is skipped without being decoded.
pub(crate) fn named_entries(
    blob: &[u8],
    names: &std::collections::BTreeSet<String>,
) -> Vec<(String, String)> {
    blob.split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            let name = std::str::from_utf8(&entry[..eq]).ok()?;
            names.contains(name).then(|| {
                let value = String::from_utf8_lossy(&entry[eq + 1..]).into_owned();
                (name.to_string(), value)
            })
        })
        .collect()
}

/// Decodes a NUL-separated `/proc` blob (cmdline, environ).
pub(crate) fn split_nul(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Parses a macOS `sysctl(KERN_PROCARGS2)` buffer: a native-endian `i32`
/// argc, the exec path, NUL padding, argc arguments, then the environment
/// up to the first empty string. `None` when the buffer is too short for
/// what it claims. (Pure, so it is tested on every platform.)
#[cfg(any(target_os = "macos", test))]
pub(crate) fn parse_procargs2(buf: &[u8]) -> Option<(Vec<String>, Vec<String>)> {
    let argc = i32::from_ne_bytes(buf.get(..4)?.try_into().ok()?);
    let argc = usize::try_from(argc).ok()?;
    let rest = &buf[4..];
    // Skip the exec path, then the padding NULs after it.
    let path_end = rest.iter().position(|&b| b == 0)?;
    let mut i = path_end;
    while rest.get(i) == Some(&0) {
        i += 1;
    }
    let mut strings = rest[i..].split(|&b| b == 0);
    let mut argv = Vec::with_capacity(argc.min(4096));
    for _ in 0..argc {
        argv.push(String::from_utf8_lossy(strings.next()?).into_owned());
    }
    let env = strings
        .take_while(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some((argv, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procargs2_layout() {
        let mut buf = 2i32.to_ne_bytes().to_vec();
        buf.extend(b"/usr/local/bin/claude\0\0\0\0");
        buf.extend(b"claude\0-p\0HOME=/Users/a\0CLAUDECODE=1\0\0executable_path=x\0");
        let (argv, env) = parse_procargs2(&buf).unwrap();
        assert_eq!(argv, vec!["claude", "-p"]);
        assert_eq!(env, vec!["HOME=/Users/a", "CLAUDECODE=1"]);
        // Claims more arguments than it holds: rejected, not padded.
        let mut short = 5i32.to_ne_bytes().to_vec();
        short.extend(b"/bin/x\0x\0");
        assert_eq!(parse_procargs2(&short), None);
        assert_eq!(parse_procargs2(b"\x01"), None);
        let mut neg = (-1i32).to_ne_bytes().to_vec();
        neg.extend(b"/bin/x\0");
        assert_eq!(parse_procargs2(&neg), None);
    }

    #[test]
    fn nspid_and_cgroup_lines() {
        let status = "Name:\tsh\nTgid:\t5\nNSpid:\t18163\t1\nNSpgid:\t1\n";
        assert_eq!(parse_nspid(status), Some(vec![18163, 1]));
        assert_eq!(parse_nspid("NSpid:\t42\n"), Some(vec![42]));
        assert_eq!(parse_nspid("Name:\tx\n"), None);
        assert_eq!(parse_nspid("NSpid:\t4x\n"), None);
        assert_eq!(parse_nspid("NSpid:\n"), None);
        let cg = "1:name=systemd:/\n0::/user.slice/user-1000.slice/user@1000.service/app.slice/a.service\n";
        assert_eq!(
            parse_cgroup_v2(cg).as_deref(),
            Some("/user.slice/user-1000.slice/user@1000.service/app.slice/a.service")
        );
        assert_eq!(parse_cgroup_v2("4:memory:/x\n"), None);
    }

    #[test]
    fn named_entries_decode_only_the_named() {
        let names = std::collections::BTreeSet::from(["A".to_string(), "C".to_string()]);
        let blob = b"A=1\0B=2\0C=x=y\0\xff\xfe=3\0noequals\0A=\0";
        assert_eq!(
            named_entries(blob, &names),
            vec![
                ("A".to_string(), "1".to_string()),
                ("C".to_string(), "x=y".to_string()),
                ("A".to_string(), String::new()),
            ]
        );
        assert!(named_entries(b"", &names).is_empty());
    }

    #[test]
    fn split_nul_handles_edges() {
        assert!(split_nul(b"").is_empty());
        assert_eq!(split_nul(b"a\0b\0"), vec!["a", "b"]);
        assert_eq!(split_nul(b"a\0\0b"), vec!["a", "", "b"]);
        assert_eq!(split_nul(b"\xff\0"), vec!["\u{fffd}"]);
    }
}
