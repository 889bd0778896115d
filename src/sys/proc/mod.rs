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
pub(crate) use imp::{is_ptmx_link, parse_pid, parse_tty_index};
pub(crate) use imp::{now_boottime, read_one, LiveSource};

/// Everything a command reads about individual processes after the table
/// pass. Behind a trait so the gathering logic can be tested on fakes.
pub(crate) trait ProcSource {
    /// Executable path (`/proc/PID/exe`).
    fn exe(&self, pid: i32) -> std::io::Result<String>;
    /// Arguments (`/proc/PID/cmdline`).
    fn cmdline(&self, pid: i32) -> std::io::Result<Vec<String>>;
    /// Raw `KEY=VALUE` environment entries (`/proc/PID/environ`).
    fn environ(&self, pid: i32) -> std::io::Result<Vec<String>>;
    /// Indexes of the PTYs whose master side this process holds.
    fn pty_masters(&self, pid: i32) -> std::io::Result<Vec<u32>>;
    /// Inodes of the sockets this process holds.
    fn socket_inodes(&self, pid: i32) -> std::io::Result<Vec<u64>>;
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
    fn split_nul_handles_edges() {
        assert!(split_nul(b"").is_empty());
        assert_eq!(split_nul(b"a\0b\0"), vec!["a", "b"]);
        assert_eq!(split_nul(b"a\0\0b"), vec!["a", "", "b"]);
        assert_eq!(split_nul(b"\xff\0"), vec!["\u{fffd}"]);
    }
}
