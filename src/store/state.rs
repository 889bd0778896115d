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

use crate::core::escalation::Entry;
use crate::core::lineage::Lineage;
use crate::sys::safefs::{self, Dir};

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const LOCK_FILE: &str = "lock";
/// The one waiting place of `reap --coalesce` (see [`QueueSlot`]).
pub(crate) const QUEUE_FILE: &str = "queue.lock";
/// A state file larger than this is not ours (thousands of entries fit in
/// a fraction of it): moved aside unread rather than loaded into memory.
pub(crate) const MAX_STATE_BYTES: u64 = 64 << 20;
const SCHEMA: u32 = 1;

/// A state directory that passed the safety checks.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// For messages and for callers that need a path.
    pub path: PathBuf,
    dir: Arc<Dir>,
}

impl StateDir {
    /// Opens an existing state directory; `None` when there is none (a dry
    /// run or a check creates nothing). See [`StateDir::create`] for the
    /// checks.
    pub(crate) fn open(path: &Path) -> Result<Option<StateDir>> {
        StateDir::checked(path, false)
    }

    /// Opens the state directory, creating it (0700, with its parents) when
    /// missing.
    pub fn create(path: &Path) -> Result<StateDir> {
        match StateDir::checked(path, true)? {
            Some(dir) => Ok(dir),
            None => bail!("cannot create state dir {}", path.display()),
        }
    }

    /// Refuses a symlink, a directory owned by another user, or one writable
    /// by group or others: whoever can write there can steer our signals.
    fn checked(path: &Path, create: bool) -> Result<Option<StateDir>> {
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
    pub(crate) fn dir(&self) -> &Dir {
        &self.dir
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// The exclusive lock held for a whole cycle. Released on drop.
#[derive(Debug)]
pub(crate) struct Lock {
    file: File,
}

/// The lock is held by another process.
#[derive(Debug)]
pub(crate) struct Busy {
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
    pub(crate) fn acquire(dir: &StateDir, wait: Duration) -> Result<Lock> {
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
                        return Err(Busy {
                            path,
                            holder: holder_of(&mut file),
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

/// Who holds the lock, as [`Lock::probe`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Held {
    /// When it was taken (the holder rewrites the file, so its mtime).
    pub since: Option<SystemTime>,
    pub holder: Option<i32>,
}

impl Lock {
    /// Whether another process holds the lock, without waiting or taking it.
    pub(crate) fn probe(dir: &StateDir) -> Option<Held> {
        let mut file = dir.dir().open_file(LOCK_FILE, OFlag::O_RDONLY, 0).ok()?;
        match FileExt::try_lock_shared(&file) {
            Ok(()) => {
                let _ = FileExt::unlock(&file);
                None
            }
            Err(_) => Some(Held {
                since: file.metadata().and_then(|m| m.modified()).ok(),
                holder: holder_of(&mut file),
            }),
        }
    }
}

/// The pid the holder wrote into the lock file.
fn holder_of(file: &mut File) -> Option<i32> {
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// The single place in the queue behind the cycle lock, for hooks that fire
/// in bursts (`reap --coalesce`): closing twenty panes must not run twenty
/// cycles, and the last close must still be covered.
///
/// A caller that takes the slot waits for the cycle lock, gives the slot up
/// once it holds the lock, and only then reads the process table. So a
/// caller that finds the slot taken knows that the holder's cycle reads the
/// table after this moment, and covers whatever made this caller run: it can
/// exit at once. A burst thus costs at most the cycle already running plus
/// one more, and at most one caller ever waits.
#[derive(Debug)]
pub struct QueueSlot {
    file: File,
}

impl QueueSlot {
    /// Takes the slot without waiting; `None` when another caller holds it.
    pub fn try_take(dir: &StateDir) -> Result<Option<QueueSlot>> {
        let path = dir.file(QUEUE_FILE);
        let file = dir
            .dir()
            .open_file(QUEUE_FILE, OFlag::O_RDWR | OFlag::O_CREAT, 0o600)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock_exclusive() {
            Ok(()) => Ok(Some(QueueSlot { file })),
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }
}

impl Drop for QueueSlot {
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
    pub sockets: crate::core::sockets::Stored,
    /// PTY usage samples for churn (`stray pty`, `stray watch`), bounded.
    #[serde(default)]
    pub pty_samples: Vec<crate::core::pty::PtySample>,
    /// Each live agent's parent as first seen (see [`Lineage`]).
    #[serde(default)]
    pub lineage: Lineage,
    /// Where the last cycle stopped reading the kernel log (OOM kills).
    #[serde(default)]
    pub kmsg: Option<crate::core::deaths::KmsgPos>,
    /// Who a death would be recorded for, as the last real cycle saw them
    /// (bounded: `core::deaths::LAST_KNOWN_MAX`).
    #[serde(default)]
    pub watched: Vec<crate::core::deaths::Watched>,
    /// Strays whose `oom_score_adj` raise was audited (live ones only,
    /// bounded): each (pid, start time) is audited once.
    #[serde(default)]
    pub oom_raised: Vec<crate::core::process::ProcKey>,
}

impl State {
    /// The last-known table the state holds, by pid.
    pub(crate) fn last_known(&self) -> crate::core::deaths::LastKnown {
        self.watched
            .iter()
            .map(|w| (w.key.pid, w.clone()))
            .collect()
    }

    pub(crate) fn set_last_known(&mut self, table: &crate::core::deaths::LastKnown) {
        let mut v: Vec<_> = table.values().cloned().collect();
        v.sort_by_key(|w| w.key);
        self.watched = v;
    }
}

/// The lineage memory of the state in `path`, read only, for commands that
/// classify without running a cycle (`scan`, `check`): they must decide as
/// a cycle would. Anything wrong with the dir or file means no memory.
pub(crate) fn read_lineage(path: &Path) -> Lineage {
    let boot_id = crate::sys::proc::current_boot_id();
    match StateDir::open(path) {
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
            kmsg: None,
            watched: Vec::new(),
            oom_raised: Vec::new(),
        }
    }
}

/// The result of loading: the state, plus what was wrong with the file.
#[derive(Debug, Default)]
pub struct Loaded {
    pub state: State,
    /// Where a corrupt file was moved (only when loading for writing).
    pub quarantined: Option<PathBuf>,
    /// What a command should tell the user about the file.
    pub notes: Vec<Note>,
}

/// Something wrong with the state file; `Display` is the message for people.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The file did not parse or is not ours; `moved_to` when quarantined.
    Corrupt {
        path: PathBuf,
        why: String,
        moved_to: Option<PathBuf>,
        /// Of another owner or writable by others, rather than unparsable.
        untrusted: bool,
    },
    /// Escalation entries from an earlier boot were dropped.
    EarlierBoot,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Corrupt {
                path,
                why,
                moved_to: Some(aside),
                untrusted,
            } => write!(
                f,
                "{} state {} ({why}) moved to {}; starting fresh",
                corrupt_or_untrusted(*untrusted),
                path.display(),
                aside.display()
            ),
            Note::Corrupt {
                path,
                why,
                untrusted,
                ..
            } => write!(
                f,
                "{} state {} ({why}) ignored; a real cycle moves it aside",
                corrupt_or_untrusted(*untrusted),
                path.display()
            ),
            Note::EarlierBoot => f.write_str("state from an earlier boot discarded"),
        }
    }
}

fn corrupt_or_untrusted(untrusted: bool) -> &'static str {
    if untrusted {
        "untrusted"
    } else {
        "corrupt"
    }
}

/// Names of quarantined state files start with this.
const QUARANTINE_PREFIX: &str = "state.json.corrupt-";

/// The quarantined state files in `dir`, with their modification times.
pub(crate) fn quarantined(dir: &StateDir) -> Vec<(PathBuf, Option<SystemTime>)> {
    let Ok(rd) = fs::read_dir(&dir.path) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(QUARANTINE_PREFIX))
        })
        .map(|e| (e.path(), e.metadata().and_then(|m| m.modified()).ok()))
        .collect()
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
                        format!("{QUARANTINE_PREFIX}{}-{}", unix_now(), std::process::id());
                    let aside = dir.file(&aside_name);
                    dir.dir()
                        .rename(STATE_FILE, &aside_name)
                        .with_context(|| format!("cannot move {what} {} aside", path.display()))?;
                    loaded.notes.push(Note::Corrupt {
                        path: path.clone(),
                        why,
                        moved_to: Some(aside.clone()),
                        untrusted: what == "untrusted",
                    });
                    loaded.quarantined = Some(aside);
                } else {
                    loaded.notes.push(Note::Corrupt {
                        path: path.clone(),
                        why,
                        moved_to: None,
                        untrusted: what == "untrusted",
                    });
                }
                loaded.state = State::default();
            }
        }
        if loaded.state.boot_id.as_deref() != boot_id {
            if !loaded.state.reap.is_empty() {
                loaded.notes.push(Note::EarlierBoot);
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
    pub(crate) fn save(&self, dir: &StateDir) -> Result<()> {
        let path = dir.file(STATE_FILE);
        let json = serde_json::to_vec_pretty(self)?;
        dir.dir()
            .write_atomic(STATE_FILE, &json, 0o600)
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
        let d = StateDir::create(&t.path().join("state")).unwrap();
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
                l.notes[0].to_string().starts_with("untrusted state")
                    && l.notes[0].to_string().contains("writable"),
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
        assert!(
            l.notes[0].to_string().contains("larger than"),
            "{:?}",
            l.notes
        );
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
        assert_eq!(l.notes, vec![Note::EarlierBoot]);
        assert_eq!(
            l.notes[0].to_string(),
            "state from an earlier boot discarded"
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
        let err = StateDir::create(&link).unwrap_err().to_string();
        assert!(err.contains("symlink") && err.contains("link"), "{err}");

        let open = t.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::create(&open).unwrap_err().to_string();
        assert!(err.contains("writable by group or others"), "{err}");

        assert!(StateDir::open(&t.path().join("missing")).unwrap().is_none());
    }

    #[test]
    fn a_dir_swapped_after_open_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("state");
        let d = StateDir::create(&path).unwrap();
        // Someone swaps the checked directory for a symlink to theirs.
        fs::rename(&path, t.path().join("moved")).unwrap();
        fs::create_dir(t.path().join("theirs")).unwrap();
        std::os::unix::fs::symlink(t.path().join("theirs"), &path).unwrap();
        State::default().save(&d).unwrap();
        let _lock = Lock::acquire(&d, Duration::ZERO).unwrap();
        assert!(t.path().join("moved").join(STATE_FILE).exists());
        assert_eq!(fs::read_dir(t.path().join("theirs")).unwrap().count(), 0);
    }

    use crate::core::process::{ProcKey, ProcessTable};

    use crate::core::process::bare_process as proc_at;

    fn k(pid: i32, start_time: u64) -> ProcKey {
        ProcKey { pid, start_time }
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

    #[test]
    fn queue_has_one_slot_and_is_apart_from_the_cycle_lock() {
        let (_t, d) = dir();
        let _cycle = Lock::acquire(&d, Duration::ZERO).unwrap();
        let slot = QueueSlot::try_take(&d).unwrap().expect("free slot");
        assert!(QueueSlot::try_take(&d).unwrap().is_none(), "slot taken");
        drop(slot);
        assert!(QueueSlot::try_take(&d).unwrap().is_some(), "slot freed");
    }
}
