//! macOS process table through libproc (`proc_listallpids`, `proc_pidinfo`)
//! and `sysctl(KERN_PROCARGS2)`, all via `libc`.
//!
//! Start times and "now" are wall-clock microseconds / seconds since the Unix
//! epoch (macOS records a process's start as a `timeval`); a process's start
//! never changes, so (pid, start time) stays a stable key. Grace periods are
//! therefore measured on the wall clock here, unlike Linux's boot-time clock.
//!
//! Not read yet on macOS: which processes hold PTY masters, and the peers of
//! unix sockets ([`LiveSource::pty_masters`] reports "unsupported";
//! [`LiveSource::socket_inodes`] answers only for processes holding no
//! socket at all). The classifier treats both unknowns as "protect", so on
//! macOS an orphan is reaped only when it holds no socket.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{parse_procargs2, ProcSource};
use crate::core::process::{ExeId, Process, ProcessTable, Tty};

/// Start times are in microseconds.
const TICKS_PER_SEC: u64 = 1_000_000;

/// `p_stat` values (`sys/proc.h`).
const SIDL: u32 = 1;
const SRUN: u32 = 2;
const SSLEEP: u32 = 3;
const SSTOP: u32 = 4;
const SZOMB: u32 = 5;

/// `dev_t` of "no controlling terminal".
const NODEV: u32 = u32::MAX;
/// Major number of the pty slaves (`/dev/ttysNNN`).
const PTY_SLAVE_MAJOR: u32 = 16;

/// Seconds since the Unix epoch (see the module comment).
pub(crate) fn now_boottime() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `kern.bootsessionuuid`: changes at every boot.
pub fn current_boot_id() -> Option<String> {
    sysctl_string(c"kern.bootsessionuuid")
}

fn sysctl_string(name: &CStr) -> Option<String> {
    let mut buf = [0u8; 128];
    let mut len = buf.len();
    // SAFETY: `buf` is writable for `len` bytes; sysctlbyname writes at most
    // that many and updates `len`; no new value is passed.
    let r = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if r != 0 {
        return None;
    }
    let s = &buf[..len.min(buf.len())];
    let s = s.split(|&b| b == 0).next().unwrap_or(s);
    Some(String::from_utf8_lossy(s).trim().to_string())
}

pub struct TableRead {
    pub table: ProcessTable,
    /// Errors other than "the process exited": each names the pid.
    pub problems: Vec<String>,
    /// Processes that could not be read (permissions).
    pub hidden: usize,
}

/// Every pid on the system.
fn list_pids() -> io::Result<Vec<i32>> {
    // The count can grow between the sizing call and the listing: leave room.
    // SAFETY: a null buffer asks for the number of pids only.
    let n = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut pids = vec![0i32; n as usize + 256];
    let bytes = (pids.len() * std::mem::size_of::<i32>()) as libc::c_int;
    // SAFETY: `pids` is writable for `bytes` bytes.
    let n = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    pids.truncate(n as usize);
    Ok(pids)
}

/// One `proc_pidinfo` call into a zeroed `T`; `Ok(None)` when the process
/// is gone.
fn pidinfo<T>(pid: i32, flavor: libc::c_int) -> io::Result<Option<T>> {
    let mut info = MaybeUninit::<T>::zeroed();
    let size = std::mem::size_of::<T>() as libc::c_int;
    // SAFETY: `info` is writable for `size` bytes; proc_pidinfo writes at
    // most that many and returns how many it wrote.
    let n = unsafe { libc::proc_pidinfo(pid, flavor, 0, info.as_mut_ptr().cast(), size) };
    if n == size {
        // SAFETY: zero-initialised plain C data, fully written by the kernel.
        return Ok(Some(unsafe { info.assume_init() }));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(None),
        // A short answer with no error: treat as gone.
        Some(0) | None => Ok(None),
        _ => Err(err),
    }
}

fn c_chars(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn state_letter(status: u32) -> char {
    match status {
        SIDL | SRUN => 'R',
        SSLEEP => 'S',
        SSTOP => 'T',
        SZOMB => 'Z',
        _ => '?',
    }
}

/// `e_tdev` → terminal. macOS `dev_t`: 8-bit major, 24-bit minor.
fn tty_of(dev: u32) -> Option<Tty> {
    if dev == NODEV || dev == 0 {
        return None;
    }
    let (major, minor) = ((dev >> 24) & 0xff, dev & 0x00ff_ffff);
    Some(if major == PTY_SLAVE_MAJOR {
        Tty::Pts(minor)
    } else {
        Tty::Other { major, minor }
    })
}

/// Reads one process; `Ok(None)` when it is gone.
fn read_pid(pid: i32) -> io::Result<Option<Process>> {
    let Some(bsd) = pidinfo::<libc::proc_bsdinfo>(pid, libc::PROC_PIDTBSDINFO)? else {
        // Zombies have no full BSD info; the short form still has the state.
        return Ok(
            pidinfo::<libc::proc_bsdshortinfo>(pid, libc::PROC_PIDT_SHORTBSDINFO)?.map(|s| {
                Process {
                    pid,
                    ppid: s.pbsi_ppid as i32,
                    start_time: 0,
                    uid: s.pbsi_uid,
                    state: state_letter(s.pbsi_status),
                    pgid: s.pbsi_pgid as i32,
                    // libproc has no session id: unknown.
                    sid: 0,
                    tty: None,
                    comm: c_chars(&s.pbsi_comm),
                    rss_bytes: 0,
                    kernel_thread: pid == 0,
                    exe: None,
                    cmdline: None,
                    exe_id: None,
                    live_thread: None,
                }
            }),
        );
    };
    // Resident size needs task access (same user or root); 0 when denied.
    let rss = pidinfo::<libc::proc_taskinfo>(pid, libc::PROC_PIDTASKINFO)
        .ok()
        .flatten()
        .map_or(0, |t| t.pti_resident_size);
    Ok(Some(Process {
        pid,
        ppid: bsd.pbi_ppid as i32,
        start_time: bsd.pbi_start_tvsec * TICKS_PER_SEC + bsd.pbi_start_tvusec,
        uid: bsd.pbi_uid,
        state: state_letter(bsd.pbi_status),
        pgid: bsd.pbi_pgid as i32,
        // libproc has no session id; getsid(2) answers for any pid (-1,
        // i.e. unknown, when it cannot).
        // SAFETY: getsid has no memory-safety preconditions.
        sid: unsafe { libc::getsid(pid) }.max(0),
        tty: tty_of(bsd.e_tdev),
        comm: c_chars(&bsd.pbi_comm),
        rss_bytes: rss,
        // pid 0 is kernel_task: never a candidate.
        kernel_thread: pid == 0,
        exe: None,
        cmdline: None,
        exe_id: None,
        live_thread: None,
    }))
}

/// Reads every process. `_root` is the Linux procfs root; unused here.
pub fn read_table(_root: &Path) -> io::Result<TableRead> {
    let now = now_boottime();
    let mut procs = Vec::with_capacity(1024);
    let mut problems = Vec::new();
    let mut hidden = 0;
    for pid in list_pids()? {
        match read_pid(pid) {
            Ok(Some(p)) => procs.push(p),
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => hidden += 1,
            Err(e) => problems.push(format!("pid {pid}: {e}")),
        }
    }
    Ok(TableRead {
        table: ProcessTable::new(procs, now, TICKS_PER_SEC),
        problems,
        hidden,
    })
}

pub(crate) fn read_one(_root: &Path, pid: i32) -> io::Result<Option<Process>> {
    read_pid(pid)
}

#[derive(Debug, Clone)]
pub(crate) struct LiveSource {
    pub root: PathBuf,
}

impl LiveSource {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        LiveSource { root: root.into() }
    }

    /// The same as [`LiveSource::new`]: libproc answers for the process,
    /// whatever its threads do.
    pub fn for_table(root: impl Into<PathBuf>, _table: &ProcessTable) -> Self {
        LiveSource::new(root)
    }

    pub fn for_process(root: impl Into<PathBuf>, _p: &Process) -> Self {
        LiveSource::new(root)
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} are not read on macOS yet"),
    )
}

/// `KERN_PROCARGS2` of `pid`: argc, exec path, argv, environment.
fn procargs(pid: i32) -> io::Result<(Vec<String>, Vec<String>)> {
    let mut argmax: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>();
    let mut mib = [libc::CTL_KERN, libc::KERN_ARGMAX];
    // SAFETY: `argmax` is writable for `size` bytes; no new value is set.
    let r = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            2,
            (&mut argmax as *mut libc::c_int).cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if r != 0 || argmax <= 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; argmax as usize];
    let mut len = buf.len();
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
    // SAFETY: `buf` is writable for `len` bytes; sysctl updates `len` to the
    // bytes written; no new value is set.
    let r = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: the process is gone or a zombie.
        return Err(if e.raw_os_error() == Some(libc::EINVAL) {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("pid {pid} has no arguments"),
            )
        } else {
            e
        });
    }
    buf.truncate(len);
    parse_procargs2(&buf).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("pid {pid}: malformed KERN_PROCARGS2"),
        )
    })
}

/// The type (`PROX_FDTYPE_*`) of every open fd of `pid`.
fn fd_types(pid: i32) -> io::Result<Vec<u32>> {
    let entry = std::mem::size_of::<libc::proc_fdinfo>();
    // SAFETY: a null buffer asks for the size needed, in bytes.
    let need =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if need <= 0 {
        return Err(io::Error::last_os_error());
    }
    // Room for fds opened between the two calls.
    let mut fds: Vec<libc::proc_fdinfo> = Vec::with_capacity(need as usize / entry + 64);
    let bytes = (fds.capacity() * entry) as libc::c_int;
    // SAFETY: the vector's spare capacity is writable for `bytes` bytes;
    // proc_pidinfo returns how many bytes it wrote, all whole entries.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDLISTFDS,
            0,
            fds.as_mut_ptr().cast(),
            bytes,
        )
    };
    if n <= 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel initialised `n / entry` entries of plain C data.
    unsafe { fds.set_len((n as usize / entry).min(fds.capacity())) };
    Ok(fds.iter().map(|f| f.proc_fdtype).collect())
}

impl ProcSource for LiveSource {
    fn exe(&self, pid: i32) -> io::Result<String> {
        let mut buf = vec![0u8; libc::PROC_PIDPATHINFO_MAXSIZE as usize];
        // SAFETY: `buf` is writable for its length; proc_pidpath writes a
        // NUL-terminated path of at most that many bytes.
        let n = unsafe { libc::proc_pidpath(pid, buf.as_mut_ptr().cast(), buf.len() as u32) };
        if n <= 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
    fn exe_id(&self, pid: i32) -> io::Result<ExeId> {
        // No magic link here: the file now at the process's executable path.
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(self.exe(pid)?)?;
        Ok(ExeId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>> {
        procargs(pid).map(|(argv, _)| argv)
    }
    fn environ(&self, pid: i32) -> io::Result<Vec<String>> {
        procargs(pid).map(|(_, env)| env)
    }
    fn pty_masters(&self, _pid: i32) -> io::Result<Vec<u32>> {
        Err(unsupported("PTY master holders"))
    }
    fn nspid(&self, _pid: i32) -> io::Result<Vec<i32>> {
        Err(unsupported("PID namespaces"))
    }
    fn cgroup(&self, _pid: i32) -> io::Result<String> {
        Err(unsupported("cgroups"))
    }
    fn cgroup_procs(&self, _path: &str) -> io::Result<Vec<i32>> {
        Err(unsupported("cgroups"))
    }
    fn socket_inodes(&self, pid: i32) -> io::Result<Vec<u64>> {
        // Which peer a unix socket talks to is not read here yet. A process
        // holding no socket at all provably serves no one, so that much is
        // answered; any socket makes the answer unknown (and the classifier
        // protects).
        let types = fd_types(pid)?;
        if types.contains(&(libc::PROX_FDTYPE_SOCKET as u32)) {
            return Err(unsupported("socket peers"));
        }
        Ok(Vec::new())
    }
}
