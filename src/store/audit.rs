//! The audit log: one JSON line per signal sent, per signal that could not be
//! delivered, and per unkillable report. It lives under a persistent
//! directory so that after a reboot one can still tell who killed what.
//! Size-capped with one rotation (`audit.jsonl.1`).

use std::fs::{self, File};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use crate::sys::safefs::Dir;

/// Rotate when the log grows past this.
pub(crate) const MAX_BYTES: u64 = 8 << 20;

/// `event` of a line written before events existed: stray's own signals.
fn reap_event() -> String {
    EVENT_REAP.to_string()
}

/// `event` values (SPEC "Deaths").
pub(crate) const EVENT_REAP: &str = "reap";
pub(crate) const EVENT_OOM_KILL: &str = "oom-kill";
pub(crate) const EVENT_KILLED: &str = "killed";
pub(crate) const EVENT_OOM_SCORE_ADJ: &str = "oom-score-adj";
/// `stray sockets --destroy` closing a stalled socket.
pub(crate) const EVENT_SOCKET_DESTROY: &str = "socket-destroy";

/// One audit record, as written and as read back. A line of an older
/// stray (no `event`) reads as a `reap` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// `reap`, `oom-kill`, `killed`, `oom-score-adj`, `socket-destroy`.
    #[serde(default = "reap_event")]
    pub event: String,
    /// RFC 3339, UTC: when it happened.
    pub ts: String,
    pub pid: i32,
    /// `None`: a death of a process no cycle saw (only its comm matched).
    pub start_time: Option<u64>,
    pub uid: Option<u32>,
    pub comm: String,
    #[serde(default)]
    pub cmdline: String,
    /// The last class known; `None` for a death of a process no cycle saw.
    pub class: Option<String>,
    #[serde(default)]
    pub rule: String,
    pub signal: Option<String>,
    /// What became of stray's own action (`signalled`, …); empty on deaths.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// Deaths: who sent the signal (`killed`), or null.
    #[serde(default)]
    pub sender_pid: Option<i32>,
    #[serde(default)]
    pub sender_comm: Option<String>,
    /// Deaths: resident memory the kernel reported (`oom-kill`), or null.
    #[serde(default)]
    pub rss_bytes: Option<u64>,
    /// Deaths: the victim's memory cgroup (`oom-kill`), or null.
    #[serde(default)]
    pub memcg: Option<String>,
    /// `oom-score-adj`: the value before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i32>,
    /// Why the cycle ran when not on its schedule (`memory pressure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

impl Event {
    /// A death: `oom-kill` or `killed`.
    pub(crate) fn is_death(&self) -> bool {
        self.event == EVENT_OOM_KILL || self.event == EVENT_KILLED
    }

    pub(crate) fn class_or_unknown(&self) -> &str {
        self.class.as_deref().unwrap_or("unknown")
    }

    /// The one-line stderr form, without the `stray:` prefix that
    /// `msg::warn` adds (journald picks it up under systemd).
    pub(crate) fn line(&self) -> String {
        use crate::render::table::escape;
        let who = format!(
            "pid {} ({}) {}",
            self.pid,
            escape(&self.comm),
            escape(self.class_or_unknown())
        );
        match self.event.as_str() {
            EVENT_OOM_KILL => format!("oom-kill: the OOM killer took {who}{}", self.detail()),
            EVENT_KILLED => format!(
                "killed: {} to {who}{}",
                self.signal.as_deref().unwrap_or("a signal"),
                self.detail()
            ),
            EVENT_OOM_SCORE_ADJ => format!("oom_score_adj of {who}:{}", self.detail()),
            _ => format!(
                "{} {who} [{}]: {}",
                self.signal.as_deref().unwrap_or("no signal"),
                // The rule names the comm it matched: hostile too.
                escape(&self.rule),
                escape(&self.outcome)
            ),
        }
    }

    /// What a death or raise adds to its line, escaped: ` from pid 9
    /// (ttyd)`, `, rss 1.0GiB, memcg /x`, ` 0 -> 1000`.
    pub(crate) fn detail(&self) -> String {
        use crate::render::table::escape;
        let mut out = String::new();
        if let Some(p) = self.sender_pid {
            out += &format!(
                " from pid {p} ({})",
                escape(self.sender_comm.as_deref().unwrap_or("?"))
            );
        }
        if let Some(r) = self.rss_bytes {
            out += &format!(", rss {}", crate::core::human::size(r));
        }
        if let Some(m) = &self.memcg {
            out += &format!(", memcg {}", escape(m));
        }
        if let (Some(f), Some(t)) = (self.from, self.to) {
            out += &format!(" {f} -> {t}");
        }
        if let Some(t) = &self.trigger {
            out += &format!(" ({})", escape(t));
        }
        out
    }
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Appends events to the log at `path`.
pub(crate) struct AuditLog {
    pub path: PathBuf,
}

impl AuditLog {
    pub(crate) fn new(path: PathBuf) -> Self {
        AuditLog { path }
    }

    /// Serialized events, one JSON line each.
    pub(crate) fn lines(events: &[Event]) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        for e in events {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
        }
        Ok(buf)
    }

    fn name(&self) -> Result<String> {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .with_context(|| format!("audit log {} has no file name", self.path.display()))
    }

    /// Creates (0700) and opens the log's directory, refusing one that
    /// others could use to swap files under us: owned by someone other than
    /// us or root, or writable by others without the sticky bit.
    fn open_dir(&self) -> Result<Dir> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create audit dir {}", dir.display()))?;
        let d =
            Dir::open(dir).with_context(|| format!("cannot open audit dir {}", dir.display()))?;
        let st = d
            .stat()
            .with_context(|| format!("cannot stat audit dir {}", dir.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        let mode = crate::sys::safefs::mode(&st);
        if st.st_uid != me && st.st_uid != 0 {
            bail!(
                "refusing audit dir {}: owned by uid {}, not {me}",
                dir.display(),
                st.st_uid
            );
        }
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            bail!(
                "refusing audit dir {}: writable by group or others (mode {:o})",
                dir.display(),
                mode & 0o7777
            );
        }
        Ok(d)
    }

    /// Opens the log for appending (never through a symlink), rotating
    /// first if it is over [`MAX_BYTES`] (or would be after `extra` bytes).
    fn open_for_append(&self, extra: u64) -> Result<File> {
        let d = self.open_dir()?;
        let name = self.name()?;
        let open = || {
            d.open_file(
                &name,
                OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
                0o600,
            )
            .with_context(|| format!("cannot open audit log {}", self.path.display()))
        };
        let mut f = open()?;
        let len = f.metadata()?.len();
        if len > 0 && len.saturating_add(extra) > MAX_BYTES {
            let rotated = format!("{name}.1");
            d.rename(&name, &rotated)
                .with_context(|| format!("cannot rotate {}", self.path.display()))?;
            f = open()?;
        }
        let st = nix::sys::stat::fstat(&f)
            .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
            .with_context(|| format!("cannot stat audit log {}", self.path.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        if st.st_uid != me {
            bail!(
                "refusing audit log {}: owned by uid {}, not {me}",
                self.path.display(),
                st.st_uid
            );
        }
        Ok(f)
    }

    /// Makes sure `bytes` more can be appended before anything is done that
    /// must be recorded: the log opens, is ours, and (where the filesystem
    /// can reserve space) the space is set aside, so a full disk fails
    /// here, before a signal, rather than after it.
    pub(crate) fn prepare(&self, bytes: u64) -> Result<()> {
        let f = self.open_for_append(bytes)?;
        crate::sys::safefs::reserve(&f, bytes).with_context(|| {
            format!(
                "cannot reserve {bytes} bytes in audit log {}",
                self.path.display()
            )
        })?;
        Ok(())
    }

    /// Appends each event as one line, rotating first if the file is over
    /// [`MAX_BYTES`]. Never follows a symlink at the log's path.
    pub(crate) fn append(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let buf = Self::lines(events)?;
        let mut f = self.open_for_append(buf.len() as u64)?;
        // One write per batch: concurrent appenders cannot interleave lines.
        f.write_all(&buf)
            .and_then(|_| f.sync_data())
            .with_context(|| format!("cannot write audit log {}", self.path.display()))
    }
}

pub(crate) fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// Reads the rotated and the current log, oldest first. Lines that do not
/// parse are counted and skipped, not fatal.
pub(crate) fn read_all(path: &Path) -> Result<(Vec<Event>, usize)> {
    let mut events = Vec::new();
    let mut bad = 0;
    for p in [rotated_path(path), path.to_path_buf()] {
        // O_NONBLOCK: a FIFO planted as the log cannot hang `stray log`.
        let f = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
        {
            Ok(f) if !f.metadata().is_ok_and(|m| m.is_file()) => {
                bail!("cannot read audit log {}: not a regular file", p.display())
            }
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read audit log {}", p.display()))
            }
        };
        for line in io::BufReader::new(f).split(b'\n') {
            let line = line.with_context(|| format!("cannot read audit log {}", p.display()))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Event>(&line) {
                Ok(e) => events.push(e),
                Err(_) => bad += 1,
            }
        }
    }
    Ok((events, bad))
}

/// Filters for `stray log`.
pub(crate) fn filter(
    events: Vec<Event>,
    since: Option<SystemTime>,
    pid: Option<i32>,
) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| pid.is_none_or(|p| e.pid == p))
        .filter(|e| match since {
            None => true,
            Some(t) => humantime::parse_rfc3339_weak(&e.ts)
                .map(|ts| ts >= t)
                .unwrap_or(false),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ev(pid: i32, ts: &str) -> Event {
        Event {
            event: EVENT_REAP.into(),
            ts: ts.into(),
            pid,
            start_time: Some(1),
            uid: Some(1000),
            comm: "claude".into(),
            cmdline: "claude --x".into(),
            class: Some("orphan".into()),
            rule: "name:claude".into(),
            signal: Some("SIGTERM".into()),
            outcome: "signalled".into(),
            ..Event::default()
        }
    }

    #[test]
    fn append_rotate_and_read_back() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sub/audit.jsonl");
        let log = AuditLog::new(path.clone());
        log.append(&[ev(1, "2026-01-01T00:00:00Z")]).unwrap();
        // Grow past the cap: next append rotates.
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&vec![b' '; MAX_BYTES as usize])
            .unwrap();
        log.append(&[ev(2, "2026-06-01T00:00:00Z")]).unwrap();
        assert!(rotated_path(&path).exists());
        assert!(fs::metadata(&path).unwrap().len() < 1000);
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"not json\n")
            .unwrap();
        let (events, bad) = read_all(&path).unwrap();
        assert_eq!(events.iter().map(|e| e.pid).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(bad, 1);
        let since = humantime::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        assert_eq!(filter(events.clone(), Some(since), None).len(), 1);
        assert_eq!(filter(events, None, Some(1)).len(), 1);
        let _ = Duration::ZERO;
    }

    #[test]
    fn refuses_a_symlinked_log() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("elsewhere");
        fs::write(&target, "").unwrap();
        let path = t.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = AuditLog::new(path).append(&[ev(1, "x")]).unwrap_err();
        assert!(format!("{err:#}").contains("audit.jsonl"));
        assert_eq!(fs::read(&target).unwrap(), b"");
    }

    #[test]
    fn event_line_escapes_hostile_comm() {
        let mut e = ev(1, "x");
        e.comm = "evil\x1b[2J\n".into();
        e.rule = "name:evil\x1b[2J\n".into();
        let line = e.line();
        assert!(!line.contains('\x1b') && !line.contains('\n'), "{line:?}");
    }
}
