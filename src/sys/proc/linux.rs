//! Linux process table from procfs, in one pass.
//!
//! For each `/proc/PID` this reads the directory's owner (one `fstatat`) and
//! the `stat` file (one `openat` + `read`) into a reused buffer, relative to
//! an open `/proc`, without building paths; nothing else, except for a
//! zombie, whose `task/` dir is read to tell an exited thread-group leader
//! with live threads from a real zombie. Command lines, executables and fds
//! are read later, through [`LiveSource`], only for the few processes that
//! need them. A process that exits mid-read is
//! skipped; any other read error is recorded as a problem so that callers can
//! refuse to signal on an inconsistent table.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::SysconfVar;

use super::{split_nul, ProcSource};
use crate::core::process::{ExeId, PidMap, Process, ProcessTable, Tty};

/// `PF_KTHREAD` from `include/linux/sched.h`.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Seconds since boot, on the clock that keeps counting through suspend and
/// never jumps with the wall clock.
pub(crate) fn now_boottime() -> f64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME) {
        Ok(ts) => ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9,
        Err(_) => 0.0,
    }
}

/// The kernel's random id for this boot, used to discard state written
/// before a reboot (pids and start times restart from scratch).
pub fn current_boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// The outcome of one pass over a procfs root.
pub struct TableRead {
    pub table: ProcessTable,
    /// Errors other than "the process exited": each names the file.
    pub problems: Vec<String>,
    /// Processes of other users that could not be read (hidepid, EACCES).
    pub hidden: usize,
}

/// Reads every process under `root` (normally `/proc`).
pub fn read_table(root: &Path) -> io::Result<TableRead> {
    let now_boot = now_boottime();
    let ticks = sysconf(SysconfVar::CLK_TCK, 100);
    let page = sysconf(SysconfVar::PAGE_SIZE, 4096);
    let me = nix::unistd::geteuid().as_raw();

    let dir = open_dir(root)?;
    let entries = fs::read_dir(root).map_err(|e| with_path(e, root))?;
    let mut procs = Vec::with_capacity(1024);
    let mut problems = Vec::new();
    let mut hidden = 0;
    let mut buf = vec![0; STAT_BUF];

    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, root))?;
        let name = entry.file_name();
        let Some(pid) = parse_pid(name.as_bytes()) else {
            continue;
        };
        match read_stat(&dir, name.as_bytes(), &mut buf, page) {
            Ok(Some(p)) => procs.push(p),
            Ok(None) => {}
            Err(StatError::Denied { uid, .. }) if uid != me => hidden += 1,
            Err(e) => problems.push(e.describe(root, pid)),
        }
    }
    Ok(TableRead {
        table: ProcessTable::new(procs, now_boot, ticks),
        problems,
        hidden,
    })
}

/// Reads one process's stat again, for the start-time check right before a
/// signal. `None` when the process is gone.
pub(crate) fn read_one(root: &Path, pid: i32) -> io::Result<Option<Process>> {
    let dir = open_dir(root)?;
    let mut buf = vec![0; STAT_BUF];
    let mut name = [0u8; 32];
    let name = pid_path(&mut name, pid, "");
    read_stat(&dir, name, &mut buf, sysconf(SysconfVar::PAGE_SIZE, 4096)).map_err(|e| {
        let what = e.describe(root, pid);
        match e {
            StatError::Dir(e) | StatError::Stat(e) | StatError::Denied { err: e, .. } => {
                io::Error::new(e.kind(), what)
            }
            StatError::Parse(_) => io::Error::other(what),
        }
    })
}

/// Reads several processes' stat again through one open procfs root (for
/// `watch`'s quiet ticks): `None` for each one gone. Errors name the pid.
pub(crate) fn read_some(root: &Path, pids: &[i32]) -> io::Result<Vec<(i32, Option<Process>)>> {
    let dir = open_dir(root)?;
    let mut buf = vec![0; STAT_BUF];
    let page = sysconf(SysconfVar::PAGE_SIZE, 4096);
    let mut out = Vec::with_capacity(pids.len());
    for &pid in pids {
        let mut name = [0u8; 32];
        let name = pid_path(&mut name, pid, "");
        let row = read_stat(&dir, name, &mut buf, page).map_err(|e| {
            let what = e.describe(root, pid);
            match e {
                StatError::Dir(e) | StatError::Stat(e) | StatError::Denied { err: e, .. } => {
                    io::Error::new(e.kind(), what)
                }
                StatError::Parse(_) => io::Error::other(what),
            }
        })?;
        out.push((pid, row));
    }
    Ok(out)
}

/// Reads a process's stat again through an fd kept open on it (one
/// `pread`, no path walked): `None` once the process is gone (the fd stays
/// bound to the process it was opened on, so a reused pid reads as gone).
/// `uid` is the owner read when the fd was opened. A zombie leader is
/// returned as is: the caller reads it again by pid for its live threads.
pub(crate) fn reread_stat(
    fd: &OwnedFd,
    uid: u32,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Process>> {
    use std::os::fd::AsRawFd;
    if buf.len() < STAT_BUF {
        buf.resize(STAT_BUF, 0);
    }
    let n = loop {
        // SAFETY: buf is a valid writable buffer of buf.len() bytes and fd
        // an open fd owned by the caller, for the duration of the call.
        let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return if vanished(&e) { Ok(None) } else { Err(e) };
    };
    if n == 0 {
        return Ok(None);
    }
    if n == buf.len() {
        return Err(io::Error::other("stat record longer than the buffer"));
    }
    let page = sysconf(SysconfVar::PAGE_SIZE, 4096);
    parse_stat(&buf[..n])
        .map(|s| Some(process_from_stat(s, uid, page)))
        .map_err(io::Error::other)
}

/// A positive `sysconf` value, else `default`. (Not procfs's helpers: they
/// initialise rustix's auxv reader, which crashes under valgrind.)
fn sysconf(var: SysconfVar, default: u64) -> u64 {
    match nix::unistd::sysconf(var) {
        Ok(Some(v)) if v > 0 => v as u64,
        _ => default,
    }
}

/// Room for any `/proc/PID/stat` line (about 300 bytes with a 15-byte comm).
const STAT_BUF: usize = 1024;

/// Opens a procfs root for `*at` calls.
fn open_dir(root: &Path) -> io::Result<OwnedFd> {
    openat(
        AT_FDCWD,
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| with_path(e.into(), root))
}

/// A `/proc` entry name that is a pid: ASCII digits only.
/// A `/proc` entry or fd name as a number; `None` for anything else.
pub(crate) fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// `PID` + `suffix` into `buf`, without allocating or formatting machinery
/// (this runs twice per process).
fn pid_path<'a>(buf: &'a mut [u8; 32], pid: i32, suffix: &str) -> &'a [u8] {
    let mut digits = [0u8; 10];
    let mut n = pid.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    if pid < 0 {
        buf[0] = b'-';
        len = 1;
    }
    for &b in digits[i..].iter().chain(suffix.as_bytes()) {
        // 11 bytes of i32 plus the longest suffix used here fit in 32.
        if len < buf.len() {
            buf[len] = b;
            len += 1;
        }
    }
    &buf[..len]
}

/// `a` + `b` into `buf`, if it fits.
fn join<'a>(buf: &'a mut [u8; 32], a: &[u8], b: &[u8]) -> Option<&'a [u8]> {
    let len = a.len() + b.len();
    if len > buf.len() {
        return None;
    }
    buf[..a.len()].copy_from_slice(a);
    buf[a.len()..len].copy_from_slice(b);
    Some(&buf[..len])
}

/// Why one process could not be read.
#[derive(Debug)]
enum StatError {
    /// `/proc/PID` itself could not be examined.
    Dir(io::Error),
    /// `/proc/PID/stat` could not be opened for lack of permission; `uid`
    /// owns the process (hidepid, or another user's process under an LSM).
    Denied { err: io::Error, uid: u32 },
    /// `/proc/PID/stat` could not be read.
    Stat(io::Error),
    /// `/proc/PID/stat` did not parse.
    Parse(String),
}

impl StatError {
    /// One line naming the file, as every error in `stray` does.
    fn describe(&self, root: &Path, pid: i32) -> String {
        let dir = root.join(pid.to_string());
        match self {
            StatError::Dir(e) => format!("{}: {e}", dir.display()),
            StatError::Stat(e) | StatError::Denied { err: e, .. } => {
                format!("{}: {e}", dir.join("stat").display())
            }
            StatError::Parse(e) => format!("{}: cannot parse: {e}", dir.join("stat").display()),
        }
    }
}

/// Reads one process with four system calls and no allocation: `fstatat`
/// of `PID` for the owner, `openat(PID/stat)`, one `read`, `close` — all
/// relative to the open procfs root, so no path is built or walked from `/`.
/// The owner must come from the directory: the files under it can keep the
/// owner the process had when they were first looked up (seen after a
/// `setuid`). `Ok(None)`: the process exited while we looked.
fn read_stat(
    dir: &OwnedFd,
    name: &[u8],
    buf: &mut Vec<u8>,
    page: u64,
) -> Result<Option<Process>, StatError> {
    let uid = match fstatat(dir, name, AtFlags::empty()) {
        Ok(st) => st.st_uid,
        Err(e) => {
            let e = io::Error::from(e);
            return if vanished(&e) {
                Ok(None)
            } else {
                Err(StatError::Dir(e))
            };
        }
    };
    let mut path = [0u8; 32];
    let Some(path) = join(&mut path, name, b"/stat") else {
        return Err(StatError::Dir(io::Error::other("name too long")));
    };
    let fd = match openat(dir, path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            let e = io::Error::from(e);
            return match e.kind() {
                _ if vanished(&e) => Ok(None),
                io::ErrorKind::PermissionDenied => Err(StatError::Denied { err: e, uid }),
                _ => Err(StatError::Stat(e)),
            };
        }
    };
    let len = match read_all(&fd, buf) {
        Ok(len) => len,
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(StatError::Denied { err: e, uid })
        }
        Err(e) => return Err(StatError::Stat(e)),
    };
    let mut p = parse_stat(&buf[..len])
        .map(|s| process_from_stat(s, uid, page))
        .map_err(StatError::Parse)?;
    if p.is_zombie() && !p.kernel_thread {
        adopt_live_thread(dir, name, &mut p, buf, page);
    }
    Ok(Some(p))
}

/// A zombie thread-group leader whose other threads still run (it called
/// `pthread_exit`) is a running process, not a defunct one: takes state and
/// RSS from a live thread (the leader's `stat` says Z and RSS 0, having no
/// memory map of its own) and remembers that thread for reading the rest.
/// Costs a directory read only for zombies. Anything unreadable leaves the
/// process a zombie, which is never signalled.
fn adopt_live_thread(dir: &OwnedFd, name: &[u8], p: &mut Process, buf: &mut Vec<u8>, page: u64) {
    let mut path = [0u8; 32];
    let Some(task) = join(&mut path, name, b"/task") else {
        return;
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(mut tasks) = nix::dir::Dir::openat(dir, task, flags, Mode::empty()) else {
        return;
    };
    let tids: Vec<i32> = tasks
        .iter()
        .flatten()
        .filter_map(|e| parse_pid(e.file_name().to_bytes()))
        .filter(|&tid| tid != p.pid)
        .collect();
    for tid in tids {
        let mut rel = [0u8; 32];
        let rel = pid_path(&mut rel, tid, "/stat");
        let Ok(fd) = openat(
            tasks.as_fd(),
            rel,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(len) = read_all(&fd, buf) else {
            continue;
        };
        let Ok(thread) = parse_stat(&buf[..len]) else {
            continue;
        };
        if !matches!(thread.state, 'Z' | 'X' | 'x') {
            p.state = thread.state;
            p.rss_bytes = thread.rss.saturating_mul(page);
            p.live_thread = Some(tid);
            return;
        }
    }
}

/// Reads a whole small procfs file into `buf` (kept zero-filled to its
/// length, so nothing is cleared per read), returning the length read.
/// procfs hands out a record in one `read` when the buffer is large enough,
/// so a short read that ends the line is the end of the file; anything else
/// reads on until EOF.
fn read_all(fd: &OwnedFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() < STAT_BUF {
        buf.resize(STAT_BUF, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match nix::unistd::read(fd, &mut buf[len..]) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let short = len + n < buf.len();
        len += n;
        if n == 0 || (short && buf[..len].ends_with(b"\n")) {
            return Ok(len);
        }
    }
}

/// The fields of `/proc/PID/stat` that `stray` uses.
#[derive(Debug, Clone, PartialEq)]
struct StatFields {
    pid: i32,
    comm: String,
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
    tty_nr: i32,
    flags: u32,
    starttime: u64,
    rss: u64,
}

/// The start time (field 22) of a `/proc/PID/stat` text, for callers
/// that re-check one process's identity.
pub(crate) fn stat_start_time(bytes: &[u8]) -> Option<u64> {
    parse_stat(bytes).ok().map(|s| s.starttime)
}

/// Parses `/proc/PID/stat`. The comm sits between the first `(` and the
/// *last* `)`, since it may itself hold spaces, parentheses and newlines;
/// it is decoded lossily. The numbered fields follow, separated by single
/// spaces.
fn parse_stat(bytes: &[u8]) -> Result<StatFields, String> {
    let line = bytes.trim_ascii();
    let open = memchr::memchr(b'(', line).ok_or("no '('")?;
    let close = memchr::memrchr(b')', line).ok_or("no ')'")?;
    if open == 0 || close < open || line.get(close + 1) != Some(&b' ') {
        return Err("malformed comm".into());
    }
    let pid = field(&line[..open - 1], "pid")?;
    let comm = String::from_utf8_lossy(&line[open + 1..close]).into_owned();
    // Fields 3 (state) to 24 (rss): f[N - 3] is field N.
    let rest = &line[close + 2..];
    // (Fields are a few bytes each: a plain loop beats a memchr per field.)
    let mut f: [&[u8]; 22] = [&[]; 22];
    let mut n = 0;
    let mut start = 0;
    for (i, &b) in rest.iter().enumerate() {
        if b == b' ' {
            f[n] = &rest[start..i];
            n += 1;
            start = i + 1;
            if n == f.len() {
                break;
            }
        }
    }
    if n == f.len() - 1 {
        f[n] = &rest[start..];
        n += 1;
    }
    if n < f.len() {
        return Err("too few fields".into());
    }
    let state = match f[0] {
        [b, ..] if b.is_ascii() => *b as char,
        _ => return Err("bad state".into()),
    };
    let ppid = field(f[1], "ppid")?;
    let pgrp = field(f[2], "pgrp")?;
    let session = field(f[3], "session")?;
    let tty_nr = field(f[4], "tty_nr")?;
    let flags = field(f[6], "flags")?;
    let starttime = field(f[19], "starttime")?;
    let rss = field(f[21], "rss")?;
    Ok(StatFields {
        pid,
        comm,
        state,
        ppid,
        pgrp,
        session,
        tty_nr,
        flags,
        starttime,
        rss,
    })
}

/// A decimal field, as `str::parse` would read it (an optional sign, then
/// digits only), without the UTF-8 check and generic machinery.
fn field<T: Decimal>(bytes: &[u8], name: &str) -> Result<T, String> {
    T::parse_decimal(bytes).ok_or_else(|| format!("bad {name}"))
}

trait Decimal: Sized {
    fn parse_decimal(bytes: &[u8]) -> Option<Self>;
}

macro_rules! decimal {
    ($($t:ty),*) => {$(
        impl Decimal for $t {
            fn parse_decimal(bytes: &[u8]) -> Option<Self> {
                let (neg, digits) = match bytes {
                    [b'-', rest @ ..] => (true, rest),
                    [b'+', rest @ ..] => (false, rest),
                    _ => (false, bytes),
                };
                // `str::parse` takes no `-` at all for unsigned types.
                if digits.is_empty() || (neg && <$t>::MIN == 0) {
                    return None;
                }
                let mut v: $t = 0;
                for &b in digits {
                    if !b.is_ascii_digit() {
                        return None;
                    }
                    let d = (b - b'0') as $t;
                    v = v.checked_mul(10)?;
                    v = if neg { v.checked_sub(d)? } else { v.checked_add(d)? };
                }
                Some(v)
            }
        }
    )*};
}
decimal!(i32, u32, u64);

fn process_from_stat(stat: StatFields, uid: u32, page: u64) -> Process {
    // The bits as the kernel encodes them; the decoding is unit-tested.
    let tty = Tty::from_dev(u64::from(stat.tty_nr as u32));
    Process {
        pid: stat.pid,
        ppid: stat.ppid,
        start_time: stat.starttime,
        uid,
        state: stat.state,
        pgid: stat.pgrp,
        sid: stat.session,
        tty,
        // PF_KTHREAD alone: inside a PID namespace pid 2 is an ordinary process.
        kernel_thread: stat.flags & PF_KTHREAD != 0,
        comm: stat.comm,
        rss_bytes: stat.rss.saturating_mul(page),
        exe: None,
        cmdline: None,
        exe_id: None,
        live_thread: None,
    }
}

/// ENOENT and ESRCH both mean the process exited while we looked.
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Reads per-process details from a procfs root on demand.
#[derive(Debug, Clone)]
pub(crate) struct LiveSource {
    pub root: PathBuf,
    /// Exited leaders with live threads: pid → the thread whose `task/TID/`
    /// files stand in for the leader's (see [`Process::live_thread`]).
    threads: PidMap<i32>,
    /// fd tables already read, for a source that serves one survey.
    fd_memo: Option<std::cell::RefCell<std::collections::HashMap<i32, FdLinks>>>,
}

impl LiveSource {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        LiveSource {
            root: root.into(),
            threads: PidMap::default(),
            fd_memo: None,
        }
    }

    /// A source for one survey of `table`, reading each exited leader with
    /// live threads through its live thread. It keeps each fd table it
    /// reads until [`ProcSource::forget_fd_tables`]: the several questions
    /// about one would-be leftover share one read, while holders looked up
    /// after a dump are read again. It must not outlive the survey, and a
    /// check right before a signal needs a source of its own.
    pub(crate) fn for_table(root: impl Into<PathBuf>, table: &ProcessTable) -> Self {
        let mut s = LiveSource::new(root);
        s.fd_memo = Some(Default::default());
        for p in table.iter() {
            if let Some(tid) = p.live_thread {
                s.threads.insert(p.pid, tid);
            }
        }
        s
    }

    /// A source for one process as just read (see [`read_one`]).
    pub(crate) fn for_process(root: impl Into<PathBuf>, p: &Process) -> Self {
        let mut s = LiveSource::new(root);
        if let Some(tid) = p.live_thread {
            s.threads.insert(p.pid, tid);
        }
        s
    }

    /// `PID` or, for an exited leader, `PID/task/TID`.
    fn process_dir(&self, pid: i32) -> String {
        match self.threads.get(&pid) {
            Some(tid) => format!("{pid}/task/{tid}"),
            None => pid.to_string(),
        }
    }

    fn file(&self, pid: i32, name: &str) -> PathBuf {
        let mut p = self.root.join(self.process_dir(pid));
        p.push(name);
        p
    }

    /// Calls `f` with `ROOT/PID/NAME`, built on the stack when it fits.
    fn with_file<R>(&self, pid: i32, name: &str, f: impl FnOnce(&Path) -> R) -> R {
        if self.threads.contains_key(&pid) {
            return f(&self.file(pid, name));
        }
        let mut buf = [0u8; 256];
        let mut cur = io::Cursor::new(&mut buf[..]);
        let root = self.root.as_os_str().as_bytes();
        let fits = cur.write_all(root).is_ok() && write!(cur, "/{pid}/{name}").is_ok();
        if !fits {
            return f(&self.file(pid, name));
        }
        let len = cur.position() as usize;
        f(Path::new(std::ffi::OsStr::from_bytes(&buf[..len])))
    }

    /// Calls `f(fd_number, link_target)` for every fd of `pid`, from the
    /// survey's memo when this source has one ([`LiveSource::for_table`]).
    fn each_fd(&self, pid: i32, mut f: impl FnMut(&str, &Path)) -> io::Result<()> {
        for (fd, target) in self.fd_links(pid)?.iter() {
            f(fd, target);
        }
        Ok(())
    }

    /// `pid`'s fds and their link targets, read once per survey: the PTY,
    /// socket, pipe and held-file questions about one process all read the
    /// same table (a would-be leftover is asked all four). Errors are not
    /// kept: each caller sees its own.
    fn fd_links(&self, pid: i32) -> io::Result<FdLinks> {
        let Some(memo) = &self.fd_memo else {
            return self.read_fd_links(pid);
        };
        if let Some(links) = memo.borrow().get(&pid) {
            return Ok(links.clone());
        }
        let links = self.read_fd_links(pid)?;
        memo.borrow_mut().insert(pid, links.clone());
        Ok(links)
    }

    /// Reads `pid`'s fd table. Each link is read relative to the open `fd`
    /// directory: no path walk per fd (`/proc/PID/fd/N` costs four lookups,
    /// each revalidating the task). The directory is listed with raw
    /// `getdents64`: `opendir` would add an `fstat`, two `fcntl`s and an
    /// `lseek` per process.
    fn read_fd_links(&self, pid: i32) -> io::Result<FdLinks> {
        let dir = self.file(pid, "fd");
        let fd = openat(
            AT_FDCWD,
            &dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| with_path(io::Error::from(e), &dir))?;
        let names = list_names(&fd).map_err(|e| with_path(e, &dir))?;
        let mut links = Vec::with_capacity(names.len());
        for name in names {
            match nix::fcntl::readlinkat(&fd, name.as_c_str()) {
                Ok(target) => {
                    if let Ok(n) = name.into_string() {
                        links.push((n, PathBuf::from(target)));
                    }
                }
                // An fd closed between readdir and readlink is simply skipped.
                Err(nix::errno::Errno::ENOENT) => {}
                // Anything else (a denied link) leaves the list incomplete:
                // the caller must not take it for the whole table.
                Err(e) => {
                    let path = dir.join(name.to_string_lossy().as_ref());
                    return Err(with_path(io::Error::from(e), &path));
                }
            }
        }
        Ok(links.into())
    }
}

/// One process's fds: (fd number, link target).
type FdLinks = std::rc::Rc<[(String, PathBuf)]>;

/// The entry names of an open directory, but `.` and `..`, read with
/// `getdents64` until it returns nothing.
fn list_names(dir: &OwnedFd) -> io::Result<Vec<std::ffi::CString>> {
    use std::os::fd::AsRawFd;
    // u64 words: the kernel aligns each record to 8 bytes.
    let mut words = [0u64; 1024];
    let mut names = Vec::new();
    loop {
        // SAFETY: a buffer of exactly the length given, written by the
        // kernel only; the fd is open for the whole call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                words.as_mut_ptr(),
                std::mem::size_of_val(&words),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(names);
        }
        // SAFETY: the first `n` bytes were just written by the kernel.
        let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), n as usize) };
        parse_dirents(bytes, &mut names)?;
    }
}

/// Appends the names in a `getdents64` buffer (`struct linux_dirent64`:
/// inode u64, offset i64, record length u16, type u8, NUL-ended name),
/// but `.` and `..`. A malformed record fails the listing.
fn parse_dirents(bytes: &[u8], names: &mut Vec<std::ffi::CString>) -> io::Result<()> {
    const NAME_AT: usize = 19;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed getdents64 record");
    let mut at = 0;
    while at < bytes.len() {
        let len = bytes
            .get(at + 16..at + 18)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]) as usize)
            .ok_or_else(bad)?;
        let record = bytes
            .get(at..at + len)
            .filter(|_| len > NAME_AT)
            .ok_or_else(bad)?;
        let name = std::ffi::CStr::from_bytes_until_nul(&record[NAME_AT..]).map_err(|_| bad())?;
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
        at += len;
    }
    Ok(())
}

impl ProcSource for LiveSource {
    fn forget_fd_tables(&self, keep: &[i32]) {
        if let Some(memo) = &self.fd_memo {
            memo.borrow_mut().retain(|pid, _| keep.contains(pid));
        }
    }

    fn exe(&self, pid: i32) -> io::Result<String> {
        // Called for every in-scope process under the default `[match] exe`
        // rule: build the path on the stack.
        self.with_file(pid, "exe", |p| fs::read_link(p)).map(|p| {
            match p.into_os_string().into_string() {
                Ok(s) => s,
                Err(raw) => raw.to_string_lossy().into_owned(),
            }
        })
    }

    fn exe_id(&self, pid: i32) -> io::Result<ExeId> {
        // `stat` follows the magic link to the file being run, even a
        // deleted or replaced one.
        use std::os::unix::fs::MetadataExt;
        self.with_file(pid, "exe", |p| fs::metadata(p))
            .map(|m| ExeId {
                dev: m.dev(),
                ino: m.ino(),
            })
    }

    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>> {
        self.with_file(pid, "cmdline", read_whole)
            .map(|b| split_nul(&b))
    }

    fn environ(&self, pid: i32) -> io::Result<Vec<String>> {
        self.with_file(pid, "environ", read_whole)
            .map(|b| split_nul(&b))
    }

    fn environ_named(
        &self,
        pid: i32,
        names: &std::collections::BTreeSet<String>,
    ) -> io::Result<Vec<(String, String)>> {
        // Read for every would-be leftover: one buffer for all of them, and
        // only the named entries decoded.
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        self.with_file(pid, "environ", |path| {
            BUF.with_borrow_mut(|buf| {
                let read = read_into(path, buf).map(|len| super::named_entries(&buf[..len], names));
                // `watch` lives long: a huge environment is not kept.
                if buf.len() > 256 * 1024 {
                    *buf = Vec::new();
                }
                read
            })
        })
    }

    fn pty_masters(&self, pid: i32) -> io::Result<Vec<u32>> {
        let mut master_fds = Vec::new();
        self.each_fd(pid, |fd, target| {
            if is_ptmx_link(target.as_os_str().as_bytes()) {
                master_fds.push(fd.to_string());
            }
        })?;
        let mut indexes = Vec::with_capacity(master_fds.len());
        for fd in master_fds {
            let path = self.file(pid, &format!("fdinfo/{fd}"));
            match read_whole(&path) {
                Ok(info) => match parse_tty_index(&String::from_utf8_lossy(&info)) {
                    Some(i) => indexes.push(i),
                    // A master whose pane we cannot name: unknown, so the
                    // caller must treat every terminal as possibly a pane.
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: no tty-index (kernel too old?)", path.display()),
                        ))
                    }
                },
                Err(e) if vanished(&e) => {}
                Err(e) => return Err(with_path(e, &path)),
            }
        }
        Ok(indexes)
    }

    fn unix_sockets_among(&self, pid: i32, inodes: &[u64]) -> io::Result<Vec<u64>> {
        let mut fds = Vec::new();
        self.each_fd(pid, |fd, target| {
            if let Some(inode) = parse_socket_link(target) {
                if inodes.contains(&inode) {
                    fds.push((fd.to_string(), inode));
                }
            }
        })?;
        let mut unix = Vec::new();
        for (fd, inode) in fds {
            let path = self.file(pid, &format!("fd/{fd}"));
            // sockfs names the protocol: `UNIX`, `UNIX-STREAM`, `TCP`, ...
            match socket_protocol(&path) {
                Ok(name) if name.starts_with(b"UNIX") => unix.push(inode),
                Ok(_) => {}
                // Closed since: no longer anyone's peer.
                Err(e) if vanished(&e) => {}
                Err(e) => return Err(with_path(e, &path)),
            }
        }
        Ok(unix)
    }

    fn pty_master_devpts(&self, pid: i32, index: u32) -> io::Result<Vec<Option<u64>>> {
        let mut master_fds = Vec::new();
        self.each_fd(pid, |fd, target| {
            if is_ptmx_link(target.as_os_str().as_bytes()) {
                master_fds.push(fd.to_string());
            }
        })?;
        let mut out = Vec::new();
        for fd in master_fds {
            let info = match read_whole(&self.file(pid, &format!("fdinfo/{fd}"))) {
                Ok(info) => String::from_utf8_lossy(&info).into_owned(),
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            };
            if parse_tty_index(&info) == Some(index) {
                // Opened through a devpts `ptmx` node (`/dev/pts/ptmx`, or
                // `/dev/ptmx` linked or bound to it, as containers do), the
                // master's own inode lives in that devpts instance. Through
                // the devtmpfs `/dev/ptmx`, the instance was the `pts`
                // beside it at open time, which cannot be known now.
                out.push(devpts_of(&self.file(pid, &format!("fd/{fd}"))));
            }
        }
        Ok(out)
    }

    fn tty_devpts(&self, pid: i32, tty: Tty) -> io::Result<Option<u64>> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if !matches!(tty, Tty::Pts(_)) {
            return Ok(None);
        }
        let mut candidates = Vec::new();
        self.each_fd(pid, |fd, target| {
            // Sockets, pipes and anonymous inodes are never terminals.
            if target.as_os_str().as_bytes().starts_with(b"/") {
                candidates.push(fd.to_string());
            }
        })?;
        let mut instances = Vec::new();
        for fd in candidates {
            let path = self.file(pid, &format!("fd/{fd}"));
            let Ok(m) = fs::metadata(&path) else { continue };
            let (major, minor) = dev_major_minor(m.rdev());
            if m.file_type().is_char_device() && Tty::from_major_minor(major, minor) == tty {
                match devpts_of(&path) {
                    Some(dev) if !instances.contains(&dev) => instances.push(dev),
                    Some(_) => {}
                    // A pts node outside devpts: cannot be told apart.
                    None => return Ok(None),
                }
            }
        }
        Ok(match instances[..] {
            [one] => Some(one),
            _ => None,
        })
    }

    fn socket_inodes(&self, pid: i32) -> io::Result<Vec<u64>> {
        let mut inodes = Vec::new();
        self.each_fd(pid, |_, target| {
            if let Some(inode) = parse_socket_link(target) {
                inodes.push(inode);
            }
        })?;
        Ok(inodes)
    }

    fn open_paths(&self, pid: i32) -> io::Result<Vec<String>> {
        let mut paths = Vec::new();
        self.each_fd(pid, |_, target| {
            let bytes = target.as_os_str().as_bytes();
            if bytes.first() == Some(&b'/') {
                paths.push(String::from_utf8_lossy(bytes).into_owned());
            }
        })?;
        Ok(paths)
    }

    fn pipe_ends(&self, pid: i32) -> io::Result<Vec<super::PipeEnd>> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        // Anonymous pipes by their pipefs inode; anything with a path may be
        // a named FIFO, told by a `stat` through the fd (even `/dev/null`:
        // the path is in the holder's mount namespace, where a FIFO may be
        // mounted there).
        let mut fds = Vec::new();
        self.each_fd(pid, |fd, target| {
            let anonymous = parse_pipe_link(target);
            if anonymous.is_some() || target.as_os_str().as_bytes().starts_with(b"/") {
                fds.push((fd.to_string(), anonymous));
            }
        })?;
        let mut ends = Vec::with_capacity(fds.len());
        for (fd, anonymous) in fds {
            let link = self.file(pid, &format!("fd/{fd}"));
            let (dev, inode) = match anonymous {
                Some(inode) => (0, inode),
                None => match fs::metadata(&link) {
                    Ok(m) if m.file_type().is_fifo() => (m.dev(), m.ino()),
                    Ok(_) => continue,
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(with_path(e, &link)),
                },
            };
            // The link's own mode is the open mode: l-wx for a write end,
            // lrwx for a FIFO opened both ways (both ends).
            let mode = match fs::symlink_metadata(&link) {
                Ok(m) => m.permissions().mode(),
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            };
            let end = |write| super::PipeEnd { dev, inode, write };
            if mode & 0o200 != 0 {
                ends.push(end(true));
            }
            if mode & 0o400 != 0 && (dev != 0 || mode & 0o200 == 0) {
                ends.push(end(false));
            }
        }
        Ok(ends)
    }

    fn nspid(&self, pid: i32) -> io::Result<Vec<i32>> {
        let bytes = self.with_file(pid, "status", read_whole)?;
        super::parse_nspid(&String::from_utf8_lossy(&bytes)).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no NSpid line", self.file(pid, "status").display()),
            )
        })
    }

    fn cgroup(&self, pid: i32) -> io::Result<String> {
        let bytes = self.with_file(pid, "cgroup", read_whole)?;
        super::parse_cgroup_v2(&String::from_utf8_lossy(&bytes)).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no cgroup v2 line", self.file(pid, "cgroup").display()),
            )
        })
    }

    fn cgroup_procs(&self, path: &str) -> io::Result<Vec<i32>> {
        // Only under the cgroup2 mount; a path with `..` is not a cgroup.
        if path.split('/').any(|c| c == "..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad cgroup path",
            ));
        }
        let file = Path::new(CGROUP2_ROOT)
            .join(path.trim_start_matches('/'))
            .join("cgroup.procs");
        let text = fs::read_to_string(&file).map_err(|e| with_path(e, &file))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }
}

/// Where the unified cgroup hierarchy is mounted.
const CGROUP2_ROOT: &str = "/sys/fs/cgroup";
/// The `system.sockprotoname` attribute of a socket (`path` followed).
fn socket_protocol(path: &Path) -> io::Result<Vec<u8>> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let mut buf = [0u8; 64];
    // SAFETY: a NUL-terminated path and name, and a buffer of the size given.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"system.sockprotoname".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf[..n as usize].to_vec())
}

/// The devpts instance `path` (followed) lives in: the device number of its
/// devpts mount, `None` when it is on another filesystem or unreadable.
fn devpts_of(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let fs = nix::sys::statfs::statfs(path).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::DEVPTS_SUPER_MAGIC {
        return None;
    }
    fs::metadata(path).ok().map(|m| m.dev())
}

/// glibc's `major` and `minor` of a `st_rdev`.
fn dev_major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev & 0x0000_0000_000f_ff00) >> 8) | ((dev & 0xffff_f000_0000_0000) >> 32);
    let minor = (dev & 0xff) | ((dev & 0x0000_0fff_fff0_0000) >> 12);
    (major as u32, minor as u32)
}

/// Reads a procfs file whole ([`read_into`]).
fn read_whole(path: &Path) -> io::Result<Vec<u8>> {
    // Most are small (`cmdline`, `status`, `fdinfo`): start at a page.
    let mut buf = vec![0; 4096];
    let len = read_into(path, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

/// Reads a procfs file whole into `buf` with few syscalls: no size query
/// (`fs::read` probes with `statx` and `lseek`, useless on procfs, where
/// every size is 0), large reads until end of file (a short read is not
/// taken for the end; an interrupted read is retried). `buf` (16 KiB when
/// empty) is grown as needed, never shrunk or cleared: the caller uses the
/// first `len` bytes returned.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut f = fs::File::open(path)?;
    if buf.is_empty() {
        buf.resize(16 * 1024, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match io::Read::read(&mut f, &mut buf[len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(len);
        }
        len += n;
    }
}

/// An fd link to the PTY multiplexer: the master side of a terminal.
pub(crate) fn is_ptmx_link(target: &[u8]) -> bool {
    target == b"/dev/ptmx" || target == b"/dev/pts/ptmx"
}

/// `tty-index:\t7` in `/proc/PID/fdinfo/FD` of a PTY master (Linux ≥ 4.x).
pub(crate) fn parse_tty_index(fdinfo: &str) -> Option<u32> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("tty-index:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `socket:[12345]` → 12345.
pub(crate) fn parse_socket_link(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The inode of a `pipe:[INODE]` fd link (an anonymous pipe). A named FIFO
/// links to its path instead and is not followed: its readers and writers
/// are the processes that opened that path.
pub(crate) fn parse_pipe_link(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("pipe:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn raw_listing_agrees_with_read_dir_over_many_buffers() {
        let t = tempfile::tempdir().unwrap();
        // About 160 KiB of records: many `getdents64` calls of 8 KiB.
        for i in 0..3000 {
            fs::write(t.path().join(format!("entry-with-a-long-name-{i:05}")), b"").unwrap();
        }
        let dir = open_dir(t.path()).unwrap();
        let mut raw: Vec<String> = list_names(&dir)
            .unwrap()
            .into_iter()
            .map(|n| n.into_string().unwrap())
            .collect();
        let mut std_names: Vec<String> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        raw.sort();
        std_names.sort();
        assert_eq!(raw.len(), 3000);
        assert_eq!(raw, std_names);
    }

    #[test]
    fn malformed_dirent_records_fail_the_listing() {
        fn record(name: &[u8], len: u16) -> Vec<u8> {
            let mut r = vec![0u8; 19];
            r[16..18].copy_from_slice(&len.to_ne_bytes());
            r.extend_from_slice(name);
            r.resize(len.max(19) as usize, 0);
            r
        }
        let mut names = Vec::new();
        let good = [record(b".\0", 24), record(b"..\0", 24), record(b"7\0", 24)].concat();
        parse_dirents(&good, &mut names).unwrap();
        assert_eq!(names, vec![std::ffi::CString::new("7").unwrap()]);
        for bad in [
            record(b"7\0", 0),                   // no progress
            record(b"7\0", 19),                  // no room for a name
            record(b"7777", 24)[..23].to_vec(),  // cut short
            record(b"77777", 24)[..24].to_vec(), // no NUL in the record
            vec![0u8; 17],                       // no length
        ] {
            let mut names = Vec::new();
            let e = parse_dirents(&bad, &mut names).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
    }

    #[test]
    fn a_survey_source_keeps_each_fd_table_until_told_to_forget() {
        use std::os::fd::AsRawFd;
        let me = std::process::id() as i32;
        let table = read_table(Path::new("/proc")).unwrap().table;
        let survey = LiveSource::for_table("/proc", &table);
        let before = survey.open_paths(me).unwrap();
        let marker = tempfile::NamedTempFile::new().unwrap();
        let opened = fs::File::open(marker.path()).unwrap();
        let path = marker.path().to_string_lossy().into_owned();
        // The survey keeps its snapshot; a fresh source sees the new fd.
        assert_eq!(survey.open_paths(me).unwrap(), before);
        assert!(!before.contains(&path));
        let fresh = LiveSource::new("/proc").open_paths(me).unwrap();
        assert!(
            fresh.contains(&path),
            "{fresh:?} lacks fd {}",
            opened.as_raw_fd()
        );
        // Kept through a forget that keeps it; read again after one that
        // does not (holders looked up after a dump).
        survey.forget_fd_tables(&[me]);
        assert_eq!(survey.open_paths(me).unwrap(), before);
        survey.forget_fd_tables(&[]);
        assert!(survey.open_paths(me).unwrap().contains(&path));
    }

    #[test]
    fn dev_numbers_split_as_glibc_does() {
        for (major, minor) in [(136, 3), (136, 300), (137, 255), (4, 1), (4095, 1 << 19)] {
            assert_eq!(dev_major_minor(libc::makedev(major, minor)), (major, minor));
        }
    }

    /// A PTY of our own: the slave's devpts instance is that of
    /// `/dev/pts`; the master's is known only when opened through a devpts
    /// `ptmx` node.
    #[test]
    fn devpts_instances_of_our_own_pty() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let src = LiveSource::new("/proc");
        let me = std::process::id() as i32;
        let open_pty = |ptmx: &str| -> Option<(fs::File, fs::File, u32)> {
            let master = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(ptmx)
                .ok()?;
            let info =
                fs::read_to_string(format!("/proc/self/fdinfo/{}", master.as_raw_fd())).ok()?;
            let index = parse_tty_index(&info)?;
            // SAFETY: a valid PTY master fd.
            assert_eq!(unsafe { libc::unlockpt(master.as_raw_fd()) }, 0);
            let dir = Path::new(ptmx).parent()?;
            let dir = if dir.ends_with("pts") {
                dir.to_path_buf()
            } else {
                dir.join("pts")
            };
            let slave = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(dir.join(index.to_string()))
                .ok()?;
            Some((master, slave, index))
        };
        let Some((_m, slave, index)) = open_pty("/dev/ptmx") else {
            eprintln!("skipped: no PTY available here");
            return;
        };
        let pts_dev = slave.metadata().unwrap().dev();
        assert_eq!(src.tty_devpts(me, Tty::Pts(index)).unwrap(), Some(pts_dev));
        assert_eq!(
            src.tty_devpts(me, Tty::Other { major: 4, minor: 1 })
                .unwrap(),
            None
        );
        let masters = src.pty_master_devpts(me, index).unwrap();
        assert_eq!(masters.len(), 1);
        if let Some(dev) = masters[0] {
            assert_eq!(dev, pts_dev, "/dev/ptmx is devpts's own ptmx here");
        }
        // Through devpts's own ptmx (root only: it is mode 000 by default).
        if let Some((_m2, slave2, index2)) = open_pty("/dev/pts/ptmx") {
            let dev = slave2.metadata().unwrap().dev();
            assert_eq!(src.pty_master_devpts(me, index2).unwrap(), vec![Some(dev)]);
        }
    }

    #[test]
    fn parses_fdinfo_and_socket_links() {
        let info = "pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t3\ntty-index:\t12\n";
        assert_eq!(parse_tty_index(info), Some(12));
        assert_eq!(parse_tty_index("pos:\t0\n"), None);
        assert_eq!(
            parse_socket_link(Path::new("socket:[998877]")),
            Some(998877)
        );
        assert_eq!(parse_socket_link(Path::new("pipe:[1]")), None);
        assert_eq!(parse_socket_link(Path::new("/dev/null")), None);
    }

    #[test]
    fn reads_the_live_table_with_ourselves_in_it() {
        let read = read_table(Path::new("/proc")).unwrap();
        let me = std::process::id() as i32;
        let p = read.table.get(me).expect("own pid in table");
        assert_eq!(p.uid, nix::unistd::geteuid().as_raw());
        assert!(!p.kernel_thread);
        assert!(read.table.age_secs(p) >= 0.0);
        let one = read_one(Path::new("/proc"), me).unwrap().unwrap();
        assert_eq!(one.start_time, p.start_time);
    }

    #[test]
    fn threads_are_not_processes() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let read = read_table(Path::new("/proc")).unwrap();
        assert!(read.table.get(std::process::id() as i32).is_some());
        assert!(
            read.table.get(tid).is_none(),
            "thread {tid} listed as a process"
        );
        done_tx.send(()).unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn parser_agrees_with_procfs_on_every_live_process() {
        use procfs::FromRead;
        let mut seen = 0;
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = parse_pid(entry.file_name().as_bytes()) else {
                continue;
            };
            let Ok(bytes) = fs::read(entry.path().join("stat")) else {
                continue;
            };
            let theirs = procfs::process::Stat::from_read(&bytes[..]).unwrap();
            let ours = parse_stat(&bytes).unwrap();
            assert_eq!(ours.pid, pid);
            assert_eq!(
                (ours.pid, &ours.comm, ours.state, ours.ppid),
                (theirs.pid, &theirs.comm, theirs.state, theirs.ppid)
            );
            assert_eq!((ours.pgrp, ours.session), (theirs.pgrp, theirs.session));
            assert_eq!(
                (ours.tty_nr, ours.flags, ours.starttime, ours.rss),
                (theirs.tty_nr, theirs.flags, theirs.starttime, theirs.rss)
            );
            let (major, minor) = theirs.tty_nr();
            let tty = process_from_stat(ours, 0, 4096).tty;
            if theirs.tty_nr == 0 {
                assert_eq!(tty, None);
            } else {
                assert_eq!(tty, Some(Tty::from_major_minor(major as u32, minor as u32)));
            }
            seen += 1;
        }
        assert!(seen > 1);
    }

    #[test]
    fn owner_is_the_owner_of_the_directory() {
        use std::os::unix::fs::MetadataExt;
        let read = read_table(Path::new("/proc")).unwrap();
        let mut checked = 0;
        for p in read.table.iter() {
            let Ok(m) = fs::metadata(format!("/proc/{}", p.pid)) else {
                continue;
            };
            if m.uid() != p.uid {
                // A process may change its uid between the two looks: look
                // again, the other way round.
                let Ok(Some(again)) = read_one(Path::new("/proc"), p.pid) else {
                    continue;
                };
                let m = fs::metadata(format!("/proc/{}", p.pid)).unwrap();
                assert_eq!(m.uid(), again.uid, "pid {}", p.pid);
            }
            checked += 1;
        }
        assert!(checked > 1);
    }

    #[test]
    fn reads_a_fake_root_and_reports_bad_files() {
        let t = tempfile::tempdir().unwrap();
        let good = "77 (ok) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 555 1000 3 \
                    18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        fs::create_dir_all(t.path().join("77")).unwrap();
        fs::write(t.path().join("77/stat"), good).unwrap();
        fs::create_dir_all(t.path().join("78")).unwrap();
        fs::write(t.path().join("78/stat"), "78 (trunc) S 1\n").unwrap();
        fs::create_dir_all(t.path().join("79")).unwrap(); // exited: no stat
        fs::create_dir_all(t.path().join("self")).unwrap();
        let read = read_table(t.path()).unwrap();
        assert_eq!(read.table.len(), 1);
        let p = read.table.get(77).unwrap();
        assert_eq!(
            (p.comm.as_str(), p.start_time, p.rss_bytes),
            ("ok", 555, 3 * procfs::page_size())
        );
        assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
        assert!(
            read.problems[0].contains("78/stat: cannot parse"),
            "{:?}",
            read.problems
        );
        assert_eq!(read_one(t.path(), 79).unwrap(), None);
        assert!(read_one(t.path(), 78).is_err());
        assert_eq!(read_one(t.path(), 77).unwrap().unwrap().start_time, 555);
    }

    #[test]
    fn an_exited_leader_with_a_live_thread_is_read_through_it() {
        let t = tempfile::tempdir().unwrap();
        let stat = |pid: i32, state: char, rss: u64| {
            format!(
                "{pid} (lead) {state} 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 2 0 555 1000 {rss} \
                 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            )
        };
        let put = |rel: &str, text: &str| {
            let path = t.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        // 77: its leader exited (Z, no memory), thread 79 runs.
        put("77/stat", &stat(77, 'Z', 0));
        put("77/cmdline", "");
        put("77/task/77/stat", &stat(77, 'Z', 0));
        put("77/task/78/stat", &stat(78, 'X', 0));
        put("77/task/79/stat", &stat(79, 'R', 5));
        put("77/task/79/cmdline", "lead\0--mark\0");
        // 88: a zombie whose threads are all gone is a zombie.
        put("88/stat", &stat(88, 'Z', 0));
        put("88/task/88/stat", &stat(88, 'Z', 0));
        // 99: a zombie whose task dir cannot be read stays one.
        put("99/stat", &stat(99, 'Z', 0));

        let read = read_table(t.path()).unwrap();
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        let p = read.table.get(77).unwrap();
        assert_eq!((p.state, p.live_thread, p.start_time), ('R', Some(79), 555));
        assert_eq!(p.rss_bytes, 5 * procfs::page_size());
        assert!(read.table.get(88).unwrap().is_zombie());
        assert!(read.table.get(99).unwrap().is_zombie());
        assert_eq!(read.table.get(99).unwrap().live_thread, None);
        // The other files of 77 come from the live thread.
        let source = LiveSource::for_table(t.path(), &read.table);
        assert_eq!(source.cmdline(77).unwrap(), vec!["lead", "--mark"]);
        assert!(LiveSource::new(t.path()).cmdline(77).unwrap().is_empty());
        // read_one (the check before a signal) agrees.
        let one = read_one(t.path(), 77).unwrap().unwrap();
        assert_eq!((one.state, one.live_thread), ('R', Some(79)));
        let source = LiveSource::for_process(t.path(), &one);
        assert_eq!(source.cmdline(77).unwrap(), vec!["lead", "--mark"]);
    }

    #[test]
    fn a_long_stat_line_is_read_whole() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("5")).unwrap();
        // Longer than one read buffer, and without a final newline.
        let pad = " 0".repeat(STAT_BUF);
        let line = format!("5 (x) R 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 1 2{pad}");
        fs::write(t.path().join("5/stat"), line).unwrap();
        let p = read_one(t.path(), 5).unwrap().unwrap();
        assert_eq!((p.state, p.start_time), ('R', 9));
    }

    proptest::proptest! {
        #[test]
        fn decimal_parsing_agrees_with_str_parse(s in "[-+]?[0-9]{0,21}|[-+0-9a ]{0,6}") {
            let b = s.as_bytes();
            proptest::prop_assert_eq!(i32::parse_decimal(b), s.parse::<i32>().ok());
            proptest::prop_assert_eq!(u32::parse_decimal(b), s.parse::<u32>().ok());
            proptest::prop_assert_eq!(u64::parse_decimal(b), s.parse::<u64>().ok());
        }

        #[test]
        fn pid_paths_are_decimal(pid in proptest::prelude::any::<i32>()) {
            let mut buf = [0u8; 32];
            let got = pid_path(&mut buf, pid, "/stat").to_vec();
            proptest::prop_assert_eq!(got, format!("{pid}/stat").into_bytes());
        }
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "1",
            "(x) S",
            "1 (x)S 1",
            "1 (x) S",
            "x (y) S 1 2 3",
            "1 (x) \u{e9} 1",
        ] {
            assert!(parse_stat(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_comm_is_parsed_exactly() {
        // The comm field may contain spaces, parentheses and newlines; the
        // parser must split on the last ')'.
        for comm in ["foo) Z ", "foo)\nZ\n", "a b (c)"] {
            let line = format!(
                "4242 ({comm}) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 1000 10 \
                 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            );
            let stat = parse_stat(line.as_bytes()).unwrap();
            let p = process_from_stat(stat, 1000, 4096);
            assert_eq!(p.comm, comm);
            assert_eq!(p.ppid, 1);
            assert_eq!(p.state, 'S');
            assert_eq!(p.start_time, 777);
            assert_eq!(p.rss_bytes, 40960);
        }
    }
}
