//! The reads of a quiet `watch` tick (Linux): one listing of `/proc` with
//! each entry's inode number, the pidfds of the watched processes polled
//! once, the stat of the few processes that decide a verdict (one `pread`
//! each, on a stat fd kept open) and of the new ones, and the multiplexer
//! servers' PTY masters. What to read comes from
//! [`Seen`]; what it means is decided by `core::incremental`, not here.
//!
//! New processes are told by the listing alone: a `/proc/PID` inode is made
//! when the process is first looked up and dropped when it is reaped, so a
//! pid that is another process since the last listing has another inode
//! number (an inode evicted under memory pressure also gets a new one: it
//! costs one stat read, which shows the same start time).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::dir::Dir;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::config::MatchRules;
use crate::core::incremental::{Learned, Seen, MAX_FRESH};
use crate::core::process::{PidMap, ProcKey, Process, ProcessTable};
use crate::sys::proc::{parse_pid, read_one, read_some, reread_stat, LiveSource, ProcSource};

/// `/proc` as listed: pid → inode number of `/proc/PID`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing(PidMap<u64>);

/// Lists `/proc`: one `getdents` pass, no file opened per process.
pub(crate) fn list(root: &Path) -> Result<Listing> {
    let mut dir = Dir::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot list {}", root.display()))?;
    let mut pids = PidMap::default();
    for entry in dir.iter() {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        if let Some(pid) = parse_pid(entry.file_name().to_bytes()) {
            pids.insert(pid, entry.ino());
        }
    }
    Ok(Listing(pids))
}

/// What a tick keeps between ticks: the last listing and a pidfd per
/// watched process.
pub(crate) struct Watcher {
    root: PathBuf,
    listed: Listing,
    pidfds: Vec<(ProcKey, OwnedFd)>,
    /// Watched processes no pidfd could be opened for (gone already, or a
    /// kernel without pidfds): every tick is then a full cycle.
    unwatched: Vec<ProcKey>,
    /// More processes to watch than [`MAX_PIDFDS`]: how many.
    too_many: Option<usize>,
    /// pid → (owner, fd of its `stat`) for the rows re-read each tick.
    stat_fds: PidMap<(u32, OwnedFd)>,
}

/// At most this many pidfds are held (agents, their ancestors and the
/// servers of their panes: a few dozen on a busy machine, some thousands
/// on the benchmark's forest), and never more than the fd limit leaves
/// room for (with [`FD_MARGIN`] to spare).
pub(crate) const MAX_PIDFDS: usize = 8192;
pub(crate) const FD_MARGIN: u64 = 256;

/// Room for `n` more fds: the soft limit raised toward the hard one when
/// needed (as a service should do itself); false when there is none.
fn fd_room(n: usize) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return false;
    }
    let need = n as u64 + FD_MARGIN * 4;
    if lim.rlim_cur >= need {
        return true;
    }
    if need > lim.rlim_max {
        return false;
    }
    lim.rlim_cur = need;
    // SAFETY: setrlimit reads one rlimit struct through a valid pointer;
    // only the soft limit is raised, within the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

impl Watcher {
    /// After a full cycle: `listed` was taken before it read its table.
    /// Each pidfd is opened first, then the start time checked through the
    /// pid, so it refers to the process the cycle saw.
    pub(crate) fn arm(root: &Path, seen: &Seen, listed: Listing) -> Watcher {
        let mut w = Watcher {
            root: root.to_path_buf(),
            listed,
            pidfds: Vec::new(),
            unwatched: Vec::new(),
            too_many: None,
            stat_fds: PidMap::default(),
        };
        let keys: Vec<ProcKey> = seen.pollable_keys();
        if keys.len() > MAX_PIDFDS || !fd_room(2 * keys.len() + MAX_FRESH) {
            // Not worth the fds: every tick is a full cycle.
            w.too_many = Some(keys.len());
            return w;
        }
        for key in keys {
            let fd = crate::sys::signal::pidfd::open(key.pid).ok();
            match (fd, read_one(root, key.pid)) {
                (Some(fd), Ok(Some(p))) if p.start_time == key.start_time => {
                    w.pidfds.push((key, fd))
                }
                _ => w.unwatched.push(key),
            }
        }
        w
    }

    /// One tick's reads. An error means "unknown": the caller runs the
    /// full cycle.
    pub(crate) fn learn(
        &mut self,
        seen: &Seen,
        matching: &MatchRules,
        my_uid: u32,
    ) -> Result<Learned> {
        if let Some(n) = self.too_many {
            anyhow::bail!("{n} processes to watch, more than {MAX_PIDFDS}");
        }
        let root = self.root.clone();
        let mut l = Learned {
            now: crate::sys::proc::now_boottime(),
            exited: self.exited()?,
            ..Learned::default()
        };
        // Before the listing: a process that exits in between is then gone
        // from the listing too.
        self.reread(seen, &mut l)?;
        let now = list(&root)?;
        let changed: Vec<i32> = now
            .0
            .iter()
            .filter(|(pid, ino)| {
                !seen.known.contains_key(pid) || self.listed.0.get(pid) != Some(ino)
            })
            .map(|(&pid, _)| pid)
            .collect();
        let rows = read_some(&root, &changed).context("cannot read the new processes")?;
        for (pid, row) in rows {
            let known = seen.known.get(&pid);
            match row {
                Some(p) if known != Some(&p.start_time) => l.appeared.push(p),
                Some(_) => {}
                None if known.is_some() => l.gone.push(pid),
                None => {}
            }
        }
        l.gone
            .extend(seen.known.keys().filter(|pid| !now.0.contains_key(pid)));
        self.listed = now;
        l.agents = agents_among(&root, seen, &l, matching, my_uid);
        let source = LiveSource::new(&root);
        for server in seen.servers() {
            let masters = match source.pty_masters(server) {
                Ok(m) => Ok(m),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            };
            l.masters.insert(server, masters);
        }
        Ok(l)
    }

    /// The rows of the watched and fresh processes: one `pread` each on a
    /// stat fd kept open since the first read (by pid, which also gives
    /// the owner); zombies and errors are read by pid again.
    fn reread(&mut self, seen: &Seen, l: &mut Learned) -> Result<()> {
        let pids = seen.to_reread();
        self.stat_fds
            .retain(|pid, _| pids.binary_search(pid).is_ok());
        let mut by_pid = Vec::new();
        let mut buf = Vec::new();
        for pid in pids {
            let Some((uid, fd)) = self.stat_fds.get(&pid) else {
                by_pid.push(pid);
                continue;
            };
            match reread_stat(fd, *uid, &mut buf) {
                Ok(Some(p)) if !p.is_zombie() => {
                    l.reread.insert(pid, Some(p));
                }
                _ => {
                    self.stat_fds.remove(&pid);
                    by_pid.push(pid);
                }
            }
        }
        let rows =
            read_some(&self.root, &by_pid).context("cannot re-read the watched processes")?;
        for (pid, row) in rows {
            if let Some(p) = row.as_ref().filter(|p| !p.is_zombie()) {
                // Opened after the read: if the pid is another process by
                // now, the next read shows another start time (a change).
                if let Ok(f) = std::fs::File::open(self.root.join(format!("{pid}/stat"))) {
                    self.stat_fds.insert(pid, (p.uid, f.into()));
                }
            }
            l.reread.insert(pid, row);
        }
        Ok(())
    }

    /// Watched processes that exited: their pidfd is readable. One `poll`,
    /// no wait.
    fn exited(&self) -> Result<Vec<ProcKey>> {
        let mut out = self.unwatched.clone();
        if self.pidfds.is_empty() {
            return Ok(out);
        }
        let mut fds: Vec<libc::pollfd> = self
            .pidfds
            .iter()
            .map(|(_, fd)| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs whose
        // fds stay open (owned by `self.pidfds`) for the call; timeout 0.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if r < 0 {
            return Err(std::io::Error::last_os_error())
                .context("cannot poll the watched processes' pidfds");
        }
        // Readable (exited), or an error on the fd: either way not quiet.
        for ((key, _), p) in self.pidfds.iter().zip(&fds) {
            if p.revents != 0 {
                out.push(*key);
            }
        }
        Ok(out)
    }
}

/// Which appeared or fresh processes the match rules make agents: the same
/// matching a full cycle does, on these few rows only.
fn agents_among(
    root: &Path,
    seen: &Seen,
    l: &Learned,
    matching: &MatchRules,
    my_uid: u32,
) -> crate::core::process::PidSet {
    let rows: Vec<Process> = l
        .appeared
        .iter()
        .cloned()
        .chain(
            l.reread
                .iter()
                .filter(|(pid, _)| seen.fresh.contains_key(pid))
                .filter_map(|(_, p)| p.clone()),
        )
        .collect();
    if rows.is_empty() {
        return Default::default();
    }
    let mut table = ProcessTable::new(rows, l.now, seen.ticks_per_sec);
    let source = LiveSource::for_table(root, &table);
    crate::sys::survey::find_agents(&mut table, matching, &source, my_uid)
        .into_keys()
        .collect()
}
