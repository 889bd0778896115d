//! Linux process table from procfs, in one pass.
//!
//! For each `/proc/PID` this reads the directory's owner (one `stat`) and the
//! `stat` file (one open + read) into a reused buffer; nothing else. Command
//! lines, executables and fds are read later, through [`LiveSource`], only for
//! the few processes that need them. A process that exits mid-read is
//! skipped; any other read error is recorded as a problem so that callers can
//! refuse to signal on an inconsistent table.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use procfs::process::Stat;
use procfs::FromRead;

use super::{split_nul, ProcSource, Process, ProcessTable, Tty};

/// `PF_KTHREAD` from `include/linux/sched.h`.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Seconds since boot, on the clock that keeps counting through suspend and
/// never jumps with the wall clock.
pub fn now_boottime() -> f64 {
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
    let ticks = procfs::ticks_per_second();
    let page = procfs::page_size();
    let me = nix::unistd::geteuid().as_raw();

    let entries = fs::read_dir(root).map_err(|e| with_path(e, root))?;
    let mut procs = Vec::with_capacity(1024);
    let mut problems = Vec::new();
    let mut hidden = 0;
    let mut buf = Vec::with_capacity(512);
    let mut path = PathBuf::from(root);

    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, root))?;
        let name = entry.file_name();
        if name.to_str().and_then(|s| s.parse::<i32>().ok()).is_none() {
            continue;
        };
        path.push(&name);
        let uid = match fs::metadata(&path) {
            Ok(m) => m.uid(),
            Err(e) if vanished(&e) => {
                path.pop();
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                path.pop();
                continue;
            }
        };
        path.push("stat");
        let read = fs::File::open(&path).and_then(|mut f| {
            buf.clear();
            f.read_to_end(&mut buf)
        });
        match read {
            Ok(_) => match Stat::from_read(&buf[..]) {
                Ok(stat) => procs.push(process_from_stat(stat, uid, page)),
                Err(e) => problems.push(format!("{}: cannot parse: {e}", path.display())),
            },
            Err(e) if vanished(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && uid != me => hidden += 1,
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
        path.pop();
        path.pop();
    }
    Ok(TableRead {
        table: ProcessTable::new(procs, now_boot, ticks),
        problems,
        hidden,
    })
}

fn process_from_stat(stat: Stat, uid: u32, page: u64) -> Process {
    let (major, minor) = stat.tty_nr();
    let tty = if stat.tty_nr == 0 {
        None
    } else {
        Some(Tty::from_major_minor(major as u32, minor as u32))
    };
    Process {
        pid: stat.pid,
        ppid: stat.ppid,
        start_time: stat.starttime,
        uid,
        state: stat.state,
        tty,
        // PF_KTHREAD alone: inside a PID namespace pid 2 is an ordinary process.
        kernel_thread: stat.flags & PF_KTHREAD != 0,
        comm: stat.comm,
        rss_bytes: stat.rss.saturating_mul(page),
        exe: None,
        cmdline: None,
    }
}

/// Reads one process's stat again, for the start-time check right before a
/// signal. `None` when the process is gone.
pub fn read_one(root: &Path, pid: i32) -> io::Result<Option<Process>> {
    let dir = root.join(pid.to_string());
    let uid = match fs::metadata(&dir) {
        Ok(m) => m.uid(),
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(with_path(e, &dir)),
    };
    let path = dir.join("stat");
    match fs::read(&path) {
        Ok(bytes) => Stat::from_read(&bytes[..])
            .map(|s| Some(process_from_stat(s, uid, procfs::page_size())))
            .map_err(|e| io::Error::other(format!("{}: cannot parse: {e}", path.display()))),
        Err(e) if vanished(&e) => Ok(None),
        Err(e) => Err(with_path(e, &path)),
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
pub struct LiveSource {
    pub root: PathBuf,
}

impl LiveSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LiveSource { root: root.into() }
    }

    fn file(&self, pid: i32, name: &str) -> PathBuf {
        let mut p = self.root.join(pid.to_string());
        p.push(name);
        p
    }

    /// Calls `f(fd_number, link_target)` for every fd of `pid`.
    fn each_fd(&self, pid: i32, mut f: impl FnMut(&str, &Path)) -> io::Result<()> {
        let dir = self.file(pid, "fd");
        let rd = fs::read_dir(&dir).map_err(|e| with_path(e, &dir))?;
        for entry in rd.flatten() {
            // An fd closed between readdir and readlink is simply skipped.
            if let Ok(target) = fs::read_link(entry.path()) {
                if let Some(fd) = entry.file_name().to_str() {
                    f(fd, &target);
                }
            }
        }
        Ok(())
    }
}

impl ProcSource for LiveSource {
    fn exe(&self, pid: i32) -> io::Result<String> {
        fs::read_link(self.file(pid, "exe")).map(|p| p.to_string_lossy().into_owned())
    }

    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>> {
        fs::read(self.file(pid, "cmdline")).map(|b| split_nul(&b))
    }

    fn environ(&self, pid: i32) -> io::Result<Vec<String>> {
        fs::read(self.file(pid, "environ")).map(|b| split_nul(&b))
    }

    fn pty_masters(&self, pid: i32) -> io::Result<Vec<u32>> {
        let mut master_fds = Vec::new();
        self.each_fd(pid, |fd, target| {
            if target == Path::new("/dev/ptmx") || target == Path::new("/dev/pts/ptmx") {
                master_fds.push(fd.to_string());
            }
        })?;
        let mut indexes = Vec::with_capacity(master_fds.len());
        for fd in master_fds {
            let path = self.file(pid, &format!("fdinfo/{fd}"));
            match fs::read_to_string(&path) {
                Ok(info) => match parse_tty_index(&info) {
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

    fn socket_inodes(&self, pid: i32) -> io::Result<Vec<u64>> {
        let mut inodes = Vec::new();
        self.each_fd(pid, |_, target| {
            if let Some(inode) = parse_socket_link(target) {
                inodes.push(inode);
            }
        })?;
        Ok(inodes)
    }
}

/// `tty-index:\t7` in `/proc/PID/fdinfo/FD` of a PTY master (Linux ≥ 4.x).
pub fn parse_tty_index(fdinfo: &str) -> Option<u32> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("tty-index:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hostile_comm_is_parsed_exactly() {
        // The comm field may contain spaces, parentheses and newlines; the
        // parser must split on the last ')'.
        for comm in ["foo) Z ", "foo)\nZ\n", "a b (c)"] {
            let line = format!(
                "4242 ({comm}) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 1000 10 \
                 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            );
            let stat = Stat::from_read(line.as_bytes()).unwrap();
            let p = process_from_stat(stat, 1000, 4096);
            assert_eq!(p.comm, comm);
            assert_eq!(p.ppid, 1);
            assert_eq!(p.state, 'S');
            assert_eq!(p.start_time, 777);
            assert_eq!(p.rss_bytes, 40960);
        }
    }
}
