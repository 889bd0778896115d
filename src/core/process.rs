//! The process model: what a command knows about each process, read once
//! per command by `sys::proc` and handed to the pure code as plain data.
//!
//! No I/O: nothing here reads `/proc` or the clock. A table carries the
//! instant it was read (`now_boot`), so ages are computed, not measured.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// A map keyed by pid with a cheap hash: pids are small integers handed out
/// by the kernel, so SipHash's flooding resistance buys nothing here and
/// costs a measurable share of a scan.
pub(crate) type PidMap<V> = HashMap<i32, V, BuildHasherDefault<PidHasher>>;

/// A set of pids with the same hash as [`PidMap`].
pub(crate) type PidSet = std::collections::HashSet<i32, BuildHasherDefault<PidHasher>>;

/// Multiplicative (Fibonacci) hashing of one integer key.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PidHasher(u64);

impl Hasher for PidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i32(&mut self, i: i32) {
        // The high bits of the product are the well-mixed ones; hashbrown
        // uses the top 7 bits as a tag and the low bits as the bucket.
        let h = u64::from(i as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A process identity that survives pid reuse: the kernel never hands the
/// same (pid, start time) pair to two processes within one boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcKey {
    pub pid: i32,
    /// Start time in clock ticks after boot (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
}

impl fmt::Display for ProcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (start {})", self.pid, self.start_time)
    }
}

/// A controlling terminal as the kernel reports it (`tty_nr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tty {
    /// `/dev/pts/N`: a pseudo-terminal whose master someone holds.
    Pts(u32),
    /// Any other terminal (virtual console, serial line, legacy pty).
    Other { major: u32, minor: u32 },
}

impl Tty {
    /// Decodes a `tty_nr` value; 0 means "no controlling terminal".
    pub(crate) fn from_dev(dev: u64) -> Option<Tty> {
        if dev == 0 {
            return None;
        }
        // Linux `new_encode_dev`: 12-bit major in bits 8..20, minor split
        // around it.
        let major = ((dev >> 8) & 0xfff) as u32;
        let minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32;
        Some(Tty::from_major_minor(major, minor))
    }

    pub(crate) fn from_major_minor(major: u32, minor: u32) -> Tty {
        // UNIX98 pty slaves: major 136 with a 20-bit minor on current kernels;
        // older kernels spread them over majors 136..=143, 256 minors each.
        match major {
            136 => Tty::Pts(minor),
            137..=143 if minor < 256 => Tty::Pts((major - 136) * 256 + minor),
            _ => Tty::Other { major, minor },
        }
    }
}

impl fmt::Display for Tty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tty::Pts(n) => write!(f, "pts/{n}"),
            Tty::Other { major: 4, minor } if *minor < 64 => write!(f, "tty{minor}"),
            Tty::Other { major, minor } => write!(f, "tty({major}:{minor})"),
        }
    }
}

/// One process, as read in the single pass over the process table.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub start_time: u64,
    /// Effective uid (owner of `/proc/PID`).
    pub uid: u32,
    /// Kernel state letter: R, S, D, Z, T, t, X, I, …
    pub state: char,
    /// Process group id; 0 when unknown (or outside this PID namespace).
    pub pgid: i32,
    /// Session id (the session leader's pid); 0 when unknown (or outside
    /// this PID namespace). Inherited at fork, changed only by `setsid`: it
    /// tells who can have started a process (see `classify`).
    pub sid: i32,
    pub tty: Option<Tty>,
    /// Kernel `comm` (at most 15 bytes).
    pub comm: String,
    pub rss_bytes: u64,
    pub kernel_thread: bool,
    /// Filled in only for processes that need it (matching, display).
    pub exe: Option<String>,
    /// Filled in only for processes that need it (matching, display).
    pub cmdline: Option<Vec<String>>,
    /// The executable's identity, filled in only for agents: a signal is
    /// sent only while it is unchanged (an exec in between changes it).
    pub exe_id: Option<ExeId>,
    /// A thread-group leader that exited (state Z) while other threads
    /// run is a running process: `state` and `rss_bytes` are then those of
    /// this live thread, and per-process files (`exe`, `cmdline`, `fd`, …),
    /// which the exited leader no longer has, are read through
    /// `task/TID/`.
    pub live_thread: Option<i32>,
}

/// Which file a process runs: device and inode of its executable (what
/// `stat` of `/proc/PID/exe` names), so a different file under the same
/// name or path is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExeId {
    pub dev: u64,
    pub ino: u64,
}

impl fmt::Display for ExeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dev {} inode {}", self.dev, self.ino)
    }
}

impl Process {
    pub(crate) fn key(&self) -> ProcKey {
        ProcKey {
            pid: self.pid,
            start_time: self.start_time,
        }
    }

    /// The command line joined by spaces, or `[comm]` when it is unknown or
    /// empty (kernel threads, zombies), as `ps` shows it.
    pub(crate) fn command(&self) -> String {
        match &self.cmdline {
            Some(args) if !args.is_empty() => args.join(" "),
            _ => format!("[{}]", self.comm),
        }
    }

    pub(crate) fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// The whole table, read at one instant (`now` seconds after boot).
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    /// Sorted by pid, unique: lookups are a binary search (no index to
    /// build, hash or keep in memory).
    procs: Vec<Process>,
    /// Seconds since boot (CLOCK_BOOTTIME) when the table was read.
    pub now_boot: f64,
    /// Clock ticks per second, to turn start times into ages.
    pub ticks_per_sec: u64,
}

impl ProcessTable {
    pub(crate) fn new(mut procs: Vec<Process>, now_boot: f64, ticks_per_sec: u64) -> Self {
        // Usually sorted already: /proc lists pids in order.
        if !procs.is_sorted_by_key(|p| p.pid) {
            procs.sort_by_key(|p| p.pid);
        }
        procs.dedup_by_key(|p| p.pid);
        ProcessTable {
            procs,
            now_boot,
            ticks_per_sec: ticks_per_sec.max(1),
        }
    }

    pub fn get(&self, pid: i32) -> Option<&Process> {
        let i = self.procs.binary_search_by_key(&pid, |p| p.pid).ok()?;
        Some(&self.procs[i])
    }

    pub(crate) fn get_mut(&mut self, pid: i32) -> Option<&mut Process> {
        let i = self.procs.binary_search_by_key(&pid, |p| p.pid).ok()?;
        Some(&mut self.procs[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.procs.iter()
    }

    /// Every process, mutably, in pid order (for filling in details; the
    /// pids must not change).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        self.procs.iter_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.procs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Pid → children pids, built once for tree walks.
    pub(crate) fn children(&self) -> HashMap<i32, Vec<i32>> {
        let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
        for p in &self.procs {
            map.entry(p.ppid).or_default().push(p.pid);
        }
        map
    }

    /// Seconds since the process started, never negative.
    pub(crate) fn age_secs(&self, p: &Process) -> f64 {
        (self.now_boot - p.start_time as f64 / self.ticks_per_sec as f64).max(0.0)
    }
}

/// A plain live process for tests: its own session and group, no tty,
/// uid 1000.
#[cfg(test)]
pub(crate) fn bare_process(pid: i32, ppid: i32, start_time: u64) -> Process {
    Process {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_decoding() {
        assert_eq!(Tty::from_dev(0), None);
        // pts/3: major 136, minor 3 → (136 << 8) | 3
        assert_eq!(Tty::from_dev((136 << 8) | 3), Some(Tty::Pts(3)));
        // pts/300 on a current kernel: minor 300 = 0x12c → low byte 0x2c,
        // high bits shifted by 12.
        let dev = (136u64 << 8) | 0x2c | (0x100 << 12);
        assert_eq!(Tty::from_dev(dev), Some(Tty::Pts(300)));
        assert_eq!(Tty::from_major_minor(137, 4), Tty::Pts(260));
        assert_eq!(Tty::from_dev((4 << 8) | 1).unwrap().to_string(), "tty1");
    }

    #[test]
    fn pid_maps_hash_apart_and_behave_as_maps() {
        let mut m: PidMap<i32> = PidMap::default();
        for pid in 1..5000 {
            m.insert(pid, -pid);
        }
        assert_eq!(m.len(), 4999);
        assert!((1..5000).all(|pid| m.get(&pid) == Some(&-pid)));
        assert_eq!(m.get(&0), None);
        let hash = |pid: i32| {
            let mut h = PidHasher::default();
            h.write_i32(pid);
            h.finish()
        };
        // Neighbouring pids differ in the top 7 bits (hashbrown's tag) and
        // in the low bits (its bucket index).
        assert_ne!(hash(100) >> 57, hash(101) >> 57);
        assert_ne!(hash(100) & 0xff, hash(101) & 0xff);
    }
}
