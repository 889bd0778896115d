//! Tracing `signal:signal_generate` in stray's own tracefs instance: who
//! sent a signal that ends a process by default, to whom. The effect half
//! of [`crate::core::deaths`]'s event parsing and decisions.
//!
//! An instance (`instances/stray-<pid>`) has its own ring buffer, event
//! switches and filter, so stray neither sees nor disturbs anyone else's
//! tracing. Instances are kernel-global and outlive their creator, so:
//! - dropping a [`Tracer`] closes `trace_pipe` (an open pipe makes `rmdir`
//!   fail with `EBUSY`) and removes the instance;
//! - [`Tracer::start`] first removes `stray-<pid>` instances whose pid is
//!   gone (a tracer killed by SIGKILL). A live tracer's instance is never
//!   removed: its open `trace_pipe` makes the kernel refuse.
//!
//! Events are read from `trace_pipe` opened `O_NONBLOCK`: no thread, no
//! fork, and the fd can join a `poll(2)` set.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::core::deaths::{self, SignalEvent};

/// Ring buffer per CPU, KiB: signals are rare, and a flood that overflows
/// it loses the oldest events (counted), never stalls anything.
const BUFFER_KB: &str = "128";

const INSTANCE_PREFIX: &str = "stray-";

/// Where tracefs is mounted: `/sys/kernel/tracing`, else as `/proc/mounts`
/// says (a `tracefs` mount, or `tracing/` under `debugfs`). `None` when it
/// is not mounted; stray never mounts it.
pub fn find_root() -> Option<PathBuf> {
    let usual = Path::new("/sys/kernel/tracing");
    if usual.join("instances").is_dir() {
        return Some(usual.to_path_buf());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    deaths::tracefs_root_from_mounts(&mounts).filter(|r| r.join("instances").is_dir())
}

/// What one read of the pipe returned.
#[derive(Debug, Default)]
pub struct TraceRead {
    pub events: Vec<SignalEvent>,
    /// Events the ring buffer dropped (`[LOST N EVENTS]` lines).
    pub lost: u64,
    /// A limit stopped the read; the rest waits in the buffer.
    pub truncated: bool,
}

pub struct Tracer {
    instance: PathBuf,
    pipe: Option<File>,
    /// The tail of the last read when it ended mid-line.
    partial: Vec<u8>,
    buf: Vec<u8>,
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(text.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl Tracer {
    /// Creates `instances/stray-<our pid>` under the tracefs `root`, enables
    /// `signal_generate` filtered to the signals that end a process, and
    /// opens its `trace_pipe`.
    pub fn start(root: &Path) -> io::Result<Tracer> {
        remove_stale(root)?;
        let instance = root
            .join("instances")
            .join(format!("{INSTANCE_PREFIX}{}", std::process::id()));
        match std::fs::create_dir(&instance) {
            Ok(()) => {}
            // Ours, left by an earlier tracer in this process that could not
            // remove it: start over.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_dir(&instance).map_err(|e| with_path(e, &instance))?;
                std::fs::create_dir(&instance).map_err(|e| with_path(e, &instance))?;
            }
            Err(e) => return Err(with_path(e, &instance)),
        }
        // From here on, Drop removes the instance whatever fails.
        let mut tracer = Tracer {
            instance,
            pipe: None,
            partial: Vec::new(),
            buf: vec![0; 64 << 10],
        };
        tracer.configure()?;
        Ok(tracer)
    }

    fn configure(&mut self) -> io::Result<()> {
        let i = &self.instance;
        // Best effort: a smaller buffer, the sender's tgid column, and
        // timestamps on CLOCK_MONOTONIC (the default `local` clock is
        // close to it, not equal), as `kmsg::now_monotonic_usec` reads.
        let _ = write_file(&i.join("buffer_size_kb"), BUFFER_KB);
        let _ = write_file(&i.join("trace_clock"), "mono");
        let _ = write_file(&i.join("options/record-tgid"), "1");
        // poll(2) on trace_pipe waits for this much of the buffer to fill
        // (default 50%) on recent kernels: wake on the first event instead.
        let _ = write_file(&i.join("buffer_percent"), "0");
        let event = i.join("events/signal/signal_generate");
        if let Err(e) = write_file(&event.join("filter"), &deaths::trace_filter()) {
            // Kernels whose event has no `result` field.
            write_file(&event.join("filter"), &deaths::trace_filter_signals_only())
                .map_err(|_| e)?;
        }
        write_file(&event.join("enable"), "1")?;
        let pipe_path = i.join("trace_pipe");
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&pipe_path)
            .map_err(|e| with_path(e, &pipe_path))?;
        self.pipe = Some(pipe);
        Ok(())
    }

    pub fn instance(&self) -> &Path {
        &self.instance
    }

    /// The pipe, for `poll(2)` (readable when events wait).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }

    /// Reads the events waiting, up to `max_bytes`, without blocking.
    pub fn read_events(&mut self, max_bytes: usize) -> io::Result<TraceRead> {
        let mut out = TraceRead::default();
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(out);
        };
        let mut total = 0usize;
        loop {
            if total >= max_bytes {
                out.truncated = true;
                break;
            }
            let n = match pipe.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    Some(libc::EINTR) => continue,
                    _ => return Err(with_path(e, &self.instance.join("trace_pipe"))),
                },
            };
            total += n;
            self.partial.extend_from_slice(&self.buf[..n]);
            let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let rest = self.partial.split_off(end + 1);
            let lines = std::mem::replace(&mut self.partial, rest);
            for line in lines.split(|&b| b == b'\n') {
                let line = String::from_utf8_lossy(line);
                if let Some(ev) = deaths::parse_trace_line(&line) {
                    out.events.push(ev);
                } else if let Some(n) = lost_events(&line) {
                    out.lost += n;
                }
            }
        }
        // A runaway line without a newline must not grow without bound.
        if self.partial.len() > 64 << 10 {
            self.partial.clear();
        }
        Ok(out)
    }
}

/// `CPU:1 [LOST 42 EVENTS]`.
fn lost_events(line: &str) -> Option<u64> {
    let at = line.find("[LOST ")?;
    line[at + 6..].split_whitespace().next()?.parse().ok()
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // The open pipe holds the instance: close it first.
        self.pipe = None;
        let _ = write_file(
            &self.instance.join("events/signal/signal_generate/enable"),
            "0",
        );
        let _ = std::fs::remove_dir(&self.instance);
    }
}

/// Removes the `stray-<pid>` instances whose pid is gone; returns their
/// names. An instance whose pid lives (or is reused) is left alone, as is
/// one the kernel refuses to remove (its tracer still reads it).
pub fn remove_stale(root: &Path) -> io::Result<Vec<String>> {
    let dir = root.join("instances");
    let mut removed = Vec::new();
    let own = std::process::id() as i32;
    for entry in std::fs::read_dir(&dir).map_err(|e| with_path(e, &dir))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix(INSTANCE_PREFIX)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || pid == own || pid_alive(pid) {
            continue;
        }
        if std::fs::remove_dir(entry.path()).is_ok() {
            removed.push(name.to_string());
        }
    }
    Ok(removed)
}

fn pid_alive(pid: i32) -> bool {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::ESRCH) => false,
        // EPERM: it exists.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_lines() {
        assert_eq!(lost_events("CPU:1 [LOST 42 EVENTS]"), Some(42));
        assert_eq!(lost_events("nothing"), None);
        assert_eq!(lost_events("[LOST x EVENTS]"), None);
    }
}
