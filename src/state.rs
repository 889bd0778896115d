//! The state directory: where it is, that it is safe, the cycle lock, and the
//! atomically written `state.json`.
//!
//! A lost or corrupt state only costs escalation progress (the next cycle
//! starts over from SIGTERM), so every doubt about the file resolves to
//! "start fresh": garbage never turns into a signal.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use fs2::FileExt;
use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use crate::proc::{ProcKey, ProcessTable};
use crate::reap::Entry;
use crate::safefs::{self, Dir};

pub const STATE_FILE: &str = "state.json";
pub const LOCK_FILE: &str = "lock";
/// A state file larger than this is not ours (thousands of entries fit in
/// a fraction of it): moved aside unread rather than loaded into memory.
pub const MAX_STATE_BYTES: u64 = 64 << 20;
const SCHEMA: u32 = 1;

/// `--state-dir`, else `$STRAY_STATE_DIR`, else `$XDG_RUNTIME_DIR/stray`,
/// else `/run/stray` for root, else `/tmp/stray-$UID`.
pub fn resolve_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = env("STRAY_STATE_DIR") {
        return p;
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        return p.join("stray");
    }
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        PathBuf::from("/run/stray")
    } else {
        PathBuf::from(format!("/tmp/stray-{uid}"))
    }
}

/// A state directory that passed the safety checks.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// For messages and for callers that need a path.
    pub path: PathBuf,
    dir: Arc<Dir>,
}

impl StateDir {
    /// Checks (and with `create`, creates 0700) the directory. Refuses a
    /// symlink, a directory owned by another user, or one writable by group
    /// or others: whoever can write there can steer our signals.
    /// Returns `None` when it does not exist and `create` is false.
    pub fn open(path: &Path, create: bool) -> Result<Option<StateDir>> {
        match fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Ok(None);
                }
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                match fs::DirBuilder::new().mode(0o700).create(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("cannot create state dir {}", path.display()))
                    }
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot stat state dir {}", path.display()))
            }
        }
        let meta = fs::symlink_metadata(path)
            .with_context(|| format!("cannot stat state dir {}", path.display()))?;
        if meta.file_type().is_symlink() {
            bail!("refusing state dir {}: it is a symlink", path.display());
        }
        if !meta.is_dir() {
            bail!("refusing state dir {}: not a directory", path.display());
        }
        // The checks that count are made on the opened directory, so that a
        // swap between the check and the use cannot redirect anything; all
        // later file operations go through this descriptor.
        let dir = match Dir::open(path) {
            Ok(d) => d,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                bail!(
                    "refusing state dir {}: not a plain directory",
                    path.display()
                )
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open state dir {}", path.display()))
            }
        };
        let st = dir
            .stat()
            .with_context(|| format!("cannot stat state dir {}", path.display()))?;
        if let Some(why) = safefs::untrusted(&st) {
            if why.starts_with("writable") {
                bail!("refusing state dir {}: {why}; chmod 700 it", path.display());
            }
            bail!("refusing state dir {}: {why}", path.display());
        }
        Ok(Some(StateDir {
            path: path.to_path_buf(),
            dir: Arc::new(dir),
        }))
    }

    /// The opened directory, for `*at` operations relative to it.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// The exclusive lock held for a whole cycle. Released on drop.
#[derive(Debug)]
pub struct Lock {
    file: File,
}

/// The lock is held by another process.
#[derive(Debug)]
pub struct Busy {
    pub path: PathBuf,
    pub holder: Option<i32>,
    pub waited: Duration,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another stray cycle holds {} ({}); gave up after {}",
            self.path.display(),
            match self.holder {
                Some(pid) => format!("pid {pid}"),
                None => "holder unknown".to_string(),
            },
            humantime::format_duration(Duration::from_millis(self.waited.as_millis() as u64))
        )
    }
}

impl std::error::Error for Busy {}

impl Lock {
    /// Takes the lock, waiting up to `wait`. The holder's pid is written into
    /// the lock file so that a waiter can say who holds it.
    pub fn acquire(dir: &StateDir, wait: Duration) -> Result<Lock> {
        let path = dir.file(LOCK_FILE);
        let mut file = dir
            .dir()
            .open_file(LOCK_FILE, OFlag::O_RDWR | OFlag::O_CREAT, 0o600)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let start = Instant::now();
        loop {
            match file.try_lock_exclusive() {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                    if start.elapsed() >= wait {
                        let mut s = String::new();
                        let _ = file.read_to_string(&mut s);
                        return Err(Busy {
                            path,
                            holder: s.trim().parse().ok(),
                            waited: start.elapsed(),
                        }
                        .into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
            }
        }
        file.set_len(0)?;
        let _ = writeln!(&file, "{}", std::process::id());
        Ok(Lock { file })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// Everything kept between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Required: a JSON file without it is not ours.
    pub schema: u32,
    /// The boot this state belongs to; pids mean nothing across boots.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Processes under escalation.
    #[serde(default)]
    pub reap: Vec<Entry>,
    /// The last `stray sockets` sample (sockets with queued data).
    #[serde(default)]
    pub sockets: crate::sockets::Stored,
    /// PTY usage samples for churn (`stray pty`, `stray watch`), bounded.
    #[serde(default)]
    pub pty_samples: Vec<crate::pty::PtySample>,
    /// Each live agent's parent as first seen (see [`Lineage`]).
    #[serde(default)]
    pub lineage: Lineage,
}

/// At most this many processes are remembered; beyond it new ones are not
/// (a process without memory is judged on what the table shows, which errs
/// towards not signalling).
pub const MAX_LINEAGE: usize = 4096;

/// Lineage memory: the parent each live process had when a real cycle first
/// saw it, keyed by (pid, start time) and dropped once the process is gone.
///
/// The kernel changes a process's parent only when the parent exits (it is
/// re-parented to the nearest child subreaper, else to PID 1 of its PID
/// namespace), so a parent different from the remembered one proves that the
/// process was re-parented: an orphan, whoever adopted it. Today it holds
/// the agents; agent families extend the same records to each agent's
/// descendants (an `agent` field per entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lineage {
    /// Sorted by (pid, start time), unique.
    pub seen: Vec<Seen>,
}

/// One remembered process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub pid: i32,
    pub start_time: u64,
    /// Its parent (pid, start time) when first seen.
    pub parent: ProcKey,
}

impl Lineage {
    /// The parent `key` had when first seen, if it was.
    pub fn parent_of(&self, key: ProcKey) -> Option<ProcKey> {
        self.seen
            .binary_search_by_key(&key, |s| ProcKey {
                pid: s.pid,
                start_time: s.start_time,
            })
            .ok()
            .map(|i| self.seen[i].parent)
    }

    /// The memory after a cycle that saw `table`: the earlier records of
    /// the `pids` still alive (same start time) kept as they were (the first
    /// parent is the evidence), new ones added with their current parent;
    /// everything else dropped. A process whose parent is not in the table
    /// (it exited mid-scan) is not recorded this time.
    pub fn remember(&self, table: &ProcessTable, pids: impl IntoIterator<Item = i32>) -> Lineage {
        let mut seen: Vec<Seen> = pids
            .into_iter()
            .filter_map(|pid| table.get(pid))
            .filter_map(|p| match self.parent_of(p.key()) {
                Some(parent) => Some(Seen {
                    pid: p.pid,
                    start_time: p.start_time,
                    parent,
                }),
                None => table.get(p.ppid).map(|parent| Seen {
                    pid: p.pid,
                    start_time: p.start_time,
                    parent: parent.key(),
                }),
            })
            .collect();
        seen.sort_by_key(|s| (s.pid, s.start_time));
        seen.dedup_by_key(|s| (s.pid, s.start_time));
        if seen.len() > MAX_LINEAGE {
            // Keep the remembered ones first: their evidence is older.
            let (mut old, new): (Vec<Seen>, Vec<Seen>) = seen.into_iter().partition(|s| {
                self.parent_of(ProcKey {
                    pid: s.pid,
                    start_time: s.start_time,
                })
                .is_some()
            });
            old.extend(new);
            old.truncate(MAX_LINEAGE);
            old.sort_by_key(|s| (s.pid, s.start_time));
            seen = old;
        }
        Lineage { seen }
    }
}

/// The lineage memory of the state in `path`, read only, for commands that
/// classify without running a cycle (`scan`, `check`): they must decide as
/// a cycle would. Anything wrong with the dir or file means no memory.
pub fn read_lineage(path: &Path) -> Lineage {
    let boot_id = crate::proc::current_boot_id();
    match StateDir::open(path, false) {
        Ok(Some(dir)) => State::load(&dir, boot_id.as_deref(), false)
            .map(|l| l.state.lineage)
            .unwrap_or_default(),
        _ => Lineage::default(),
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            schema: SCHEMA,
            boot_id: None,
            reap: Vec::new(),
            sockets: Default::default(),
            pty_samples: Vec::new(),
            lineage: Lineage::default(),
        }
    }
}

/// The result of loading: the state, plus what was wrong with the file.
#[derive(Debug, Default)]
pub struct Loaded {
    pub state: State,
    /// Where a corrupt file was moved (only when loading for writing).
    pub quarantined: Option<PathBuf>,
    /// Human notes: corrupt file, earlier boot.
    pub notes: Vec<String>,
}

impl State {
    /// Loads `state.json`. A corrupt, truncated or foreign file is moved
    /// aside (when `quarantine` is true; a dry run only reports it) and the
    /// state starts fresh; state from another boot is discarded.
    pub fn load(dir: &StateDir, boot_id: Option<&str>, quarantine: bool) -> Result<Loaded> {
        let path = dir.file(STATE_FILE);
        let mut loaded = Loaded::default();
        // A symlink or a FIFO planted as state.json is foreign: it is never
        // followed or read (O_NOFOLLOW, O_NONBLOCK), only moved aside. So is
        // a file of another owner or one others can write (checked on the
        // opened file): a forged "SIGTERM sent long ago" would be a SIGKILL.
        let mut what = "corrupt";
        let parsed = match dir.dir().read_trusted(STATE_FILE, MAX_STATE_BYTES) {
            Ok(bytes) => serde_json::from_slice::<State>(&bytes).map_err(|e| e.to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                loaded.state.boot_id = boot_id.map(str::to_string);
                return Ok(loaded);
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err("it is a symlink".to_string()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(e.to_string()),
            Err(e) if safefs::untrusted_error(&e).is_some() => {
                what = "untrusted";
                Err(e.to_string())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        match parsed {
            Ok(s) if s.schema == SCHEMA => loaded.state = s,
            parsed => {
                let why = match parsed {
                    Ok(s) => format!("unknown schema {}", s.schema),
                    Err(e) => e,
                };
                if quarantine {
                    // The pid too: two quarantines in one second must not overwrite.
                    let aside_name =
                        format!("{STATE_FILE}.corrupt-{}-{}", unix_now(), std::process::id());
                    let aside = dir.file(&aside_name);
                    dir.dir()
                        .rename(STATE_FILE, &aside_name)
                        .with_context(|| format!("cannot move {what} {} aside", path.display()))?;
                    loaded.notes.push(format!(
                        "{what} state {} ({why}) moved to {}; starting fresh",
                        path.display(),
                        aside.display()
                    ));
                    loaded.quarantined = Some(aside);
                } else {
                    loaded.notes.push(format!(
                        "{what} state {} ({why}) ignored; a real cycle moves it aside",
                        path.display()
                    ));
                }
                loaded.state = State::default();
            }
        }
        if loaded.state.boot_id.as_deref() != boot_id {
            if !loaded.state.reap.is_empty() {
                loaded
                    .notes
                    .push("state from an earlier boot discarded".to_string());
            }
            loaded.state = State {
                boot_id: boot_id.map(str::to_string),
                ..State::default()
            };
        }
        Ok(loaded)
    }

    /// Writes `state.json` atomically: temp file in the same dir (0600,
    /// O_EXCL, O_NOFOLLOW), fsync, rename, fsync the dir.
    pub fn save(&self, dir: &StateDir) -> Result<()> {
        let path = dir.file(STATE_FILE);
        let json = serde_json::to_vec_pretty(self)?;
        dir.dir()
            .write_atomic(STATE_FILE, &json)
            .with_context(|| format!("cannot write state {}", path.display()))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> (tempfile::TempDir, StateDir) {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::open(&t.path().join("state"), true)
            .unwrap()
            .unwrap();
        (t, d)
    }

    fn entry() -> Entry {
        Entry {
            pid: 42,
            start_time: 7,
            comm: "claude".into(),
            term_at: 10.0,
            kill_at: None,
        }
    }

    #[test]
    fn created_0700_and_round_trips() {
        let (_t, d) = dir();
        let mode = fs::metadata(&d.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let s = State {
            boot_id: Some("b".into()),
            reap: vec![entry()],
            ..State::default()
        };
        s.save(&d).unwrap();
        let mode = fs::metadata(d.file(STATE_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let l = State::load(&d, Some("b"), true).unwrap();
        assert_eq!(l.state, s);
        assert!(l.notes.is_empty());
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_quarantined() {
        for garbage in [
            &b"{\"schema\": 1, \"reap\": [{\"pid\": 4"[..],
            b"{\"foo\": 1}",
            b"[1,2]",
            b"\0\xff",
            b"{\"schema\": 99}",
        ] {
            let (_t, d) = dir();
            fs::write(d.file(STATE_FILE), garbage).unwrap();
            let l = State::load(&d, Some("b"), true).unwrap();
            assert!(l.state.reap.is_empty());
            let aside = l.quarantined.expect("moved aside");
            assert_eq!(fs::read(&aside).unwrap(), garbage);
            assert!(!d.file(STATE_FILE).exists());
            assert_eq!(l.notes.len(), 1);
        }
    }

    #[test]
    fn state_others_can_write_is_untrusted_and_moved_aside() {
        let valid = State {
            boot_id: Some("b".into()),
            reap: vec![entry()],
            ..State::default()
        };
        for mode in [0o666, 0o620, 0o602] {
            let (_t, d) = dir();
            valid.save(&d).unwrap();
            fs::set_permissions(d.file(STATE_FILE), fs::Permissions::from_mode(mode)).unwrap();
            // A dry run does not trust it either, and leaves it in place.
            let l = State::load(&d, Some("b"), false).unwrap();
            assert!(l.state.reap.is_empty(), "mode {mode:o}");
            assert!(d.file(STATE_FILE).exists());
            let l = State::load(&d, Some("b"), true).unwrap();
            assert!(l.state.reap.is_empty(), "mode {mode:o}");
            assert!(l.quarantined.is_some());
            assert_eq!(l.notes.len(), 1);
            assert!(
                l.notes[0].starts_with("untrusted state") && l.notes[0].contains("writable"),
                "{:?}",
                l.notes
            );
        }
        // Control: ours and not writable by others is trusted.
        for mode in [0o600, 0o644, 0o400] {
            let (_t, d) = dir();
            valid.save(&d).unwrap();
            fs::set_permissions(d.file(STATE_FILE), fs::Permissions::from_mode(mode)).unwrap();
            let l = State::load(&d, Some("b"), true).unwrap();
            assert_eq!(l.state, valid, "mode {mode:o}");
        }
    }

    #[test]
    fn oversized_state_is_moved_aside_unread() {
        let (_t, d) = dir();
        let f = File::create(d.file(STATE_FILE)).unwrap();
        f.set_len(MAX_STATE_BYTES + 1).unwrap();
        let l = State::load(&d, Some("b"), true).unwrap();
        assert!(l.state.reap.is_empty());
        assert!(l.quarantined.is_some());
        assert!(l.notes[0].contains("larger than"), "{:?}", l.notes);
    }

    #[test]
    fn dry_load_does_not_move_the_file() {
        let (_t, d) = dir();
        fs::write(d.file(STATE_FILE), "garbage").unwrap();
        let l = State::load(&d, None, false).unwrap();
        assert!(l.quarantined.is_none());
        assert!(d.file(STATE_FILE).exists());
    }

    #[test]
    fn earlier_boot_is_discarded() {
        let (_t, d) = dir();
        State {
            boot_id: Some("old".into()),
            reap: vec![entry()],
            ..State::default()
        }
        .save(&d)
        .unwrap();
        let l = State::load(&d, Some("new"), true).unwrap();
        assert!(l.state.reap.is_empty());
        assert_eq!(l.state.boot_id.as_deref(), Some("new"));
        assert_eq!(
            l.notes,
            vec!["state from an earlier boot discarded".to_string()]
        );
    }

    #[test]
    fn unsafe_dirs_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = StateDir::open(&link, true).unwrap_err().to_string();
        assert!(err.contains("symlink") && err.contains("link"), "{err}");

        let open = t.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&open, true).unwrap_err().to_string();
        assert!(err.contains("writable by group or others"), "{err}");

        assert!(StateDir::open(&t.path().join("missing"), false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_dir_swapped_after_open_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("state");
        let d = StateDir::open(&path, true).unwrap().unwrap();
        // Someone swaps the checked directory for a symlink to theirs.
        fs::rename(&path, t.path().join("moved")).unwrap();
        fs::create_dir(t.path().join("theirs")).unwrap();
        std::os::unix::fs::symlink(t.path().join("theirs"), &path).unwrap();
        State::default().save(&d).unwrap();
        let _lock = Lock::acquire(&d, Duration::ZERO).unwrap();
        assert!(t.path().join("moved").join(STATE_FILE).exists());
        assert_eq!(fs::read_dir(t.path().join("theirs")).unwrap().count(), 0);
    }

    fn proc_at(pid: i32, ppid: i32, start_time: u64) -> crate::proc::Process {
        crate::proc::Process {
            pid,
            ppid,
            start_time,
            uid: 1000,
            state: 'S',
            pgid: pid,
            sid: pid,
            tty: None,
            comm: "x".into(),
            rss_bytes: 0,
            kernel_thread: false,
            exe: None,
            cmdline: None,
            exe_id: None,
            live_thread: None,
        }
    }

    fn k(pid: i32, start_time: u64) -> ProcKey {
        ProcKey { pid, start_time }
    }

    #[test]
    fn lineage_keeps_the_first_parent_and_forgets_the_gone() {
        let t1 = ProcessTable::new(
            vec![
                proc_at(1, 0, 0),
                proc_at(10, 1, 5),
                proc_at(20, 10, 7),
                proc_at(30, 10, 8),
                proc_at(40, 99, 9), // parent exited mid-scan
            ],
            100.0,
            100,
        );
        let m1 = Lineage::default().remember(&t1, [20, 30, 40, 77]);
        assert_eq!(m1.parent_of(k(20, 7)), Some(k(10, 5)));
        assert_eq!(m1.parent_of(k(30, 8)), Some(k(10, 5)));
        assert_eq!(m1.parent_of(k(40, 9)), None, "no parent to record");
        assert_eq!(m1.parent_of(k(20, 6)), None, "another start time");
        // 10 exits: 20 is re-parented to 1; 30 is gone and its pid reused.
        let t2 = ProcessTable::new(
            vec![proc_at(1, 0, 0), proc_at(20, 1, 7), proc_at(30, 1, 50)],
            200.0,
            100,
        );
        let m2 = m1.remember(&t2, [20, 30]);
        assert_eq!(m2.parent_of(k(20, 7)), Some(k(10, 5)), "first parent kept");
        assert_eq!(m2.parent_of(k(30, 8)), None, "gone: forgotten");
        assert_eq!(m2.parent_of(k(30, 50)), Some(k(1, 0)), "new process");
        assert_eq!(m2.seen.len(), 2);
    }

    #[test]
    fn lineage_is_bounded_and_keeps_what_it_knew() {
        let mut procs = vec![proc_at(1, 0, 0)];
        procs.extend((2..MAX_LINEAGE as i32 + 12).map(|pid| proc_at(pid, 1, 10)));
        let t = ProcessTable::new(procs, 100.0, 100);
        // The highest pids were remembered before; the rest are new.
        let pids: Vec<i32> = (2..MAX_LINEAGE as i32 + 12).collect();
        let old = Lineage::default().remember(&t, pids.iter().rev().take(5).copied());
        let m = old.remember(&t, pids.iter().copied());
        assert_eq!(m.seen.len(), MAX_LINEAGE);
        for &pid in pids.iter().rev().take(5) {
            assert!(m.parent_of(k(pid, 10)).is_some(), "{pid} forgotten");
        }
        assert!(m
            .seen
            .windows(2)
            .all(|w| (w[0].pid, w[0].start_time) < (w[1].pid, w[1].start_time)));
    }

    #[test]
    fn lineage_round_trips_and_old_state_files_load_without_it() {
        let (_t, d) = dir();
        let t = ProcessTable::new(vec![proc_at(1, 0, 0), proc_at(5, 1, 3)], 10.0, 100);
        let s = State {
            boot_id: Some("b".into()),
            lineage: Lineage::default().remember(&t, [5]),
            ..State::default()
        };
        s.save(&d).unwrap();
        let l = State::load(&d, Some("b"), true).unwrap();
        assert_eq!(l.state.lineage.parent_of(k(5, 3)), Some(k(1, 0)));
        assert_eq!(read_lineage(&d.path), Lineage::default(), "another boot id");
        fs::write(d.file(STATE_FILE), r#"{"schema": 1, "boot_id": "b"}"#).unwrap();
        let l = State::load(&d, Some("b"), true).unwrap();
        assert!(l.state.lineage.seen.is_empty());
        assert!(l.notes.is_empty());
    }

    #[test]
    fn lock_is_exclusive_and_names_the_holder() {
        let (_t, d) = dir();
        let held = Lock::acquire(&d, Duration::ZERO).unwrap();
        let err = Lock::acquire(&d, Duration::from_millis(50)).unwrap_err();
        let busy = err.downcast_ref::<Busy>().expect("busy");
        assert_eq!(busy.holder, Some(std::process::id() as i32));
        drop(held);
        Lock::acquire(&d, Duration::ZERO).unwrap();
    }
}
