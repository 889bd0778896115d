//! tmux: finding a server's socket from the process table, and bounded
//! queries for display metadata.
//!
//! Protection never depends on anything here (it comes from the process
//! table): tmux is only asked for session and pane names, at most once per
//! live server, and every query has a timeout so that a hung server cannot
//! hang `stray`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::sys::bounded::Bounded;

/// Default bound on any tmux query.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Listening unix sockets with a filesystem path: inode → path, for the
/// whole host at once.
///
/// On the live `/proc` the paths come from NETLINK_SOCK_DIAG
/// (`UDIAG_SHOW_NAME`), which hands over each path's exact bytes: a path may
/// hold a newline, which `/proc/net/unix` prints raw, so a line-by-line read
/// of that file cuts the path (and its owner and pane names are lost).
/// `/proc/net/unix` is the fallback (no `unix_diag` in the kernel, or a
/// procfs root other than `/proc` in tests), read record by record.
pub(crate) fn listening_unix_paths(proc_root: &Path) -> HashMap<u64, PathBuf> {
    #[cfg(target_os = "linux")]
    if proc_root == Path::new("/proc") {
        if let Ok(m) = diag_listening_paths() {
            return m;
        }
    }
    match std::fs::read(proc_root.join("net/unix")) {
        Ok(bytes) => parse_proc_net_unix(&bytes),
        Err(_) => HashMap::new(),
    }
}

/// Listening AF_UNIX sockets bound to a path, from one sock_diag dump.
#[cfg(target_os = "linux")]
fn diag_listening_paths() -> std::io::Result<HashMap<u64, PathBuf>> {
    use netlink_packet_sock_diag::unix::{nlas::UnixDiagName, ShowFlags, StateFlags, UnixRequest};
    use netlink_packet_sock_diag::SockDiagMessage;
    use std::os::unix::ffi::OsStrExt;
    let request = SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: StateFlags::LISTEN,
        inode: 0,
        show_flags: ShowFlags::NAME,
        cookie: [0xff; 8],
    });
    let mut out = HashMap::new();
    for answer in crate::sys::unix_diag::dump(request)? {
        if let SockDiagMessage::UnixResponse(r) = answer {
            if let Some(UnixDiagName::Pathname(p)) = r.name() {
                if !p.as_bytes().is_empty() {
                    out.insert(u64::from(r.header.inode), PathBuf::from(p));
                }
            }
        }
    }
    Ok(out)
}

/// Parses `/proc/net/unix`. Each record is
/// `%pK: %08X %08X %08X %04X %02X %5lu[ PATH]\n`; the path is printed raw
/// and may itself hold newlines (and any number of spaces), so a record
/// runs until the next line that has the fixed header shape, and the path
/// is everything after the one space that follows the inode.
pub(crate) fn parse_proc_net_unix(bytes: &[u8]) -> HashMap<u64, PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // Every record ends with a newline; the file's last one is not part of
    // any path.
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut records: Vec<Vec<u8>> = Vec::new();
    for line in bytes.split(|&b| b == b'\n').skip(1) {
        if record_header(line).is_some() {
            records.push(line.to_vec());
        } else if let Some(last) = records.last_mut() {
            last.push(b'\n');
            last.extend_from_slice(line);
        }
    }
    let mut out = HashMap::new();
    for r in &records {
        let Some((flags, inode, path_at)) = record_header(r) else {
            continue;
        };
        // Flags 00010000 = __SO_ACCEPTCON: a listening socket.
        let Some(path) = path_at.map(|at| &r[at..]) else {
            continue;
        };
        if flags & 0x10000 == 0 || path.is_empty() || path[0] == b'@' {
            continue;
        }
        out.insert(inode, PathBuf::from(std::ffi::OsStr::from_bytes(path)));
    }
    out
}

/// `(flags, inode, where the path starts)` when `line` starts with a
/// `/proc/net/unix` record header: `HEX: ` then RefCount, Protocol, Flags,
/// Type and St in fixed-width hex, then the inode.
fn record_header(line: &[u8]) -> Option<(u32, u64, Option<usize>)> {
    let hex = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|t| u32::from_str_radix(t, 16).ok())
    };
    let colon = line.iter().take(20).position(|&b| b == b':')?;
    hex(&line[..colon])?;
    let mut at = colon + 1;
    let mut fields = [0u32; 5];
    for (i, width) in [8usize, 8, 8, 4, 2].into_iter().enumerate() {
        if line.get(at) != Some(&b' ') {
            return None;
        }
        fields[i] = hex(line.get(at + 1..at + 1 + width)?)?;
        at += 1 + width;
    }
    // The inode: ` %5lu`, right-aligned in at least 5 columns.
    if line.get(at) != Some(&b' ') {
        return None;
    }
    while line.get(at) == Some(&b' ') {
        at += 1;
    }
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    let inode: u64 = std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()?;
    at += digits;
    match line.get(at) {
        None => Some((fields[2], inode, None)),
        Some(b' ') => Some((fields[2], inode, Some(at + 1))),
        Some(_) => None,
    }
}

/// One pane, as `tmux list-panes -a` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pane {
    pub pid: i32,
    /// `session:window.pane`
    pub target: String,
    /// e.g. `/dev/pts/3`
    pub tty: String,
}

/// Runs `tmux -S socket ARGS` with a timeout; `None` on timeout, a missing
/// binary or a failure (see [`Query::start`] for who the client runs as).
pub(crate) fn query(socket: &Path, args: &[&str], timeout: Duration) -> Option<String> {
    Query::start(socket, args)?.finish(timeout)
}

/// The `PATH` a client started as another user gets (its environment is
/// cleared), as the settings read it; set once by `lib::run`.
static CLIENT_PATH: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();

/// Records the `PATH` for clients run as a socket's owner (see [`Query::start`]).
pub(crate) fn set_client_path(path: Option<std::ffi::OsString>) {
    let _ = CLIENT_PATH.set(path);
}

/// A tmux query under way: several can run at once, so that asking N
/// servers costs about one round trip, not N.
pub(crate) struct Query(Bounded);

impl Query {
    /// Starts `tmux -S socket ARGS`.
    ///
    /// A tmux client obeys its server (it runs the shell or lock command the
    /// server names), so a client started by root against a socket another
    /// user controls could run that user's code as root. As root, the client
    /// therefore runs as the socket's owner, with a cleared environment; a
    /// symlinked socket path is not queried at all.
    pub(crate) fn start(socket: &Path, args: &[&str]) -> Option<Query> {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::process::CommandExt;

        let meta = std::fs::symlink_metadata(socket).ok()?;
        if meta.file_type().is_symlink() {
            return None;
        }
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(socket).args(args);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 && meta.uid() != 0 {
            // std drops supplementary groups (setgroups(0)) when root sets a uid.
            cmd.uid(meta.uid()).gid(meta.gid()).env_clear();
            if let Some(path) = CLIENT_PATH.get().cloned().flatten() {
                cmd.env("PATH", path);
            }
        }
        Bounded::spawn(&mut cmd).map(Query)
    }

    /// The answer, or `None` on timeout (the client is killed) or failure.
    pub(crate) fn finish(self, timeout: Duration) -> Option<String> {
        match self.0.finish(timeout)? {
            (true, out) => Some(out),
            (false, _) => None,
        }
    }
}

/// The `list-panes` arguments that [`parse_panes`] reads.
pub(crate) const LIST_PANES: [&str; 4] = [
    "list-panes",
    "-a",
    "-F",
    "#{pane_pid}\t#{session_name}:#{window_index}.#{pane_index}\t#{pane_tty}",
];

/// Parses the output of [`LIST_PANES`].
pub(crate) fn parse_panes(out: &str) -> Vec<Pane> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some(Pane {
                pid: f.next()?.parse().ok()?,
                target: f.next()?.to_string(),
                tty: f.next()?.to_string(),
            })
        })
        .collect()
}

/// One tmux socket, alive or dead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SocketInfo {
    pub socket: PathBuf,
    /// Found in a `tmux-UID` dir under `$TMUX_TMPDIR` (not only through a
    /// live server's listening socket).
    #[serde(skip)]
    pub in_tmpdir: bool,
    /// Owner of the socket file (`null` for a live server's socket whose
    /// file is gone or unreadable).
    pub owner_uid: Option<u32>,
    pub alive: bool,
    /// The server process listening on it, when seen in the process table.
    pub pid: Option<i32>,
    /// Sessions, from one bounded query (`null` when not asked or no answer).
    pub sessions: Option<u32>,
}

/// Liveness of a socket path, without asking tmux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Something listens: the path is in `/proc/net/unix` or a connect
    /// succeeded (or would block on a full backlog).
    Alive,
    /// Nothing listens: connect was refused.
    Dead,
    /// Could not tell (permissions, path too long): treat as alive.
    Unknown,
}

/// Connects to a unix socket without blocking: refused means dead.
pub(crate) fn probe_connect(path: &Path) -> Probe {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: an all-zero sockaddr_un is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Probe::Unknown;
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain socket(2); the fd is owned below and closed on drop.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if raw < 0 {
        return Probe::Unknown;
    }
    // SAFETY: raw is a fresh fd that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on an fd we own; sets O_NONBLOCK and O_CLOEXEC bits.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: addr is a valid sockaddr_un of the length passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Probe::Alive;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ECONNREFUSED) => Probe::Dead,
        // A full backlog: someone listens.
        Some(libc::EAGAIN) | Some(libc::EINPROGRESS) => Probe::Alive,
        // The file vanished: nothing to prune either way.
        Some(libc::ENOENT) => Probe::Dead,
        _ => Probe::Unknown,
    }
}

/// Alive if the path (or its canonical form) is listening, else by connect.
pub(crate) fn probe(path: &Path, listening: &HashSet<PathBuf>) -> Probe {
    if listening.contains(path) {
        return Probe::Alive;
    }
    if let Ok(c) = std::fs::canonicalize(path) {
        if listening.contains(&c) {
            return Probe::Alive;
        }
    }
    probe_connect(path)
}

/// Socket files in `tmpdir/tmux-UID/` dirs: only `uid`'s dir, or every
/// user's when `all`. Symlinks are not followed.
pub(crate) fn dir_sockets(tmpdir: &Path, uid: u32, all: bool) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut dirs = Vec::new();
    if all {
        if let Ok(rd) = std::fs::read_dir(tmpdir) {
            for e in rd.flatten() {
                let n = e.file_name();
                let is_tmux_dir = n.to_str().is_some_and(|n| {
                    n.strip_prefix("tmux-")
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                });
                if is_tmux_dir && e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path());
                }
            }
        }
    } else {
        dirs.push(tmpdir.join(format!("tmux-{uid}")));
    }
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if let Ok(m) = std::fs::symlink_metadata(e.path()) {
                if m.file_type().is_socket() {
                    out.push((e.path(), m.uid()));
                }
            }
        }
    }
    out.sort();
    out
}

/// tmux servers in the process table and the paths they listen on (which
/// finds `-S` sockets anywhere). Needs the servers' fds: as non-root only
/// one's own.
pub(crate) fn server_sockets(
    table: &crate::core::process::ProcessTable,
    source: &dyn crate::sys::proc::ProcSource,
    listening: &HashMap<u64, PathBuf>,
) -> Vec<(i32, PathBuf)> {
    let tmux = ["tmux".to_string()];
    let mut out = Vec::new();
    for p in table
        .iter()
        .filter(|p| crate::core::classify::is_multiplexer_server(p, &tmux))
    {
        if let Ok(inodes) = source.socket_inodes(p.pid) {
            for i in inodes {
                if let Some(path) = listening.get(&i) {
                    out.push((p.pid, path.clone()));
                }
            }
        }
    }
    out
}

/// Sessions on the server at `socket`: one bounded `list-sessions`.
pub(crate) fn session_count(socket: &Path, timeout: Duration) -> Option<u32> {
    query(socket, &["list-sessions", "-F", "#{session_id}"], timeout)
        .map(|s| s.lines().filter(|l| !l.trim().is_empty()).count() as u32)
}

/// Every tmux socket: those in the `tmux-UID` dirs (every user's when
/// `all`) and those live servers listen on. With `sessions`, asks each live
/// server in those dirs that we may talk to (ours, or any as root, as its
/// owner) for its session count, once, with [`QUERY_TIMEOUT`].
pub(crate) fn discover(
    proc_root: &Path,
    table: &crate::core::process::ProcessTable,
    tmpdir: &Path,
    my_uid: u32,
    sessions: bool,
) -> Vec<SocketInfo> {
    let listening = listening_unix_paths(proc_root);
    let listening_paths: HashSet<PathBuf> = listening.values().cloned().collect();
    let servers = server_sockets(
        table,
        &crate::sys::proc::LiveSource::new(proc_root),
        &listening,
    );
    let mut out: Vec<SocketInfo> = Vec::new();
    for (path, owner) in dir_sockets(tmpdir, my_uid, my_uid == 0) {
        let alive = probe(&path, &listening_paths) != Probe::Dead;
        out.push(SocketInfo {
            socket: path,
            in_tmpdir: true,
            owner_uid: Some(owner),
            alive,
            pid: None,
            sessions: None,
        });
    }
    for (pid, path) in servers {
        let canon = std::fs::canonicalize(&path).ok();
        let existing = out.iter_mut().find(|s| {
            s.socket == path || std::fs::canonicalize(&s.socket).ok() == canon && canon.is_some()
        });
        match existing {
            Some(s) => {
                s.pid = Some(pid);
                s.alive = true;
            }
            None => {
                use std::os::unix::fs::MetadataExt;
                let owner = std::fs::symlink_metadata(&path).ok().map(|m| m.uid());
                out.push(SocketInfo {
                    socket: path,
                    in_tmpdir: false,
                    owner_uid: owner,
                    alive: true,
                    pid: Some(pid),
                    sessions: None,
                });
            }
        }
    }
    // Only servers in the socket dirs are asked: a `-S` server elsewhere is
    // listed with its pid but left alone (it may be anyone's, anywhere).
    if sessions {
        for s in out.iter_mut().filter(|s| s.alive && s.in_tmpdir) {
            if my_uid == 0 || s.owner_uid == Some(my_uid) {
                s.sessions = session_count(&s.socket, QUERY_TIMEOUT);
            }
        }
    }
    out.sort_by(|a, b| a.socket.cmp(&b.socket));
    out
}

/// Removes the dead sockets the caller owns (root: any). Each one is probed
/// again right before removal, so a server that started meanwhile keeps its
/// socket. Returns the removed paths and one error line per failure.
pub(crate) fn prune(
    sockets: &[SocketInfo],
    proc_root: &Path,
    my_uid: u32,
) -> (Vec<PathBuf>, Vec<String>) {
    let listening: HashSet<PathBuf> = listening_unix_paths(proc_root).into_values().collect();
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for s in sockets.iter().filter(|s| !s.alive && s.pid.is_none()) {
        let Some(owner) = s.owner_uid else { continue };
        if my_uid != 0 && owner != my_uid {
            continue;
        }
        if probe(&s.socket, &listening) != Probe::Dead {
            continue;
        }
        match remove_dead_socket(&s.socket, owner) {
            Ok(true) => removed.push(s.socket.clone()),
            Ok(false) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!("cannot remove {}: {e}", s.socket.display())),
        }
    }
    (removed, errors)
}

/// Unlinks `path` if it still is a socket owned by `owner`, checking and
/// unlinking relative to its opened directory: the directory's owner could
/// otherwise swap it for a symlink between the check and the unlink, and
/// root would remove a file of that name elsewhere. `Ok(false)`: left alone.
fn remove_dead_socket(path: &Path, owner: u32) -> std::io::Result<bool> {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::{fstatat, SFlag};

    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return Ok(false);
    };
    let dir = crate::sys::safefs::Dir::open(parent)?;
    let dir_owner = dir.stat()?.st_uid;
    if dir_owner != owner && dir_owner != 0 {
        return Ok(false);
    }
    let st = fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    let is_socket = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK;
    if !is_socket || st.st_uid != owner {
        return Ok(false);
    }
    dir.remove(name)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_socket_answers_none_quickly() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            query(&t.path().join("nope"), &LIST_PANES, QUERY_TIMEOUT),
            None
        );
    }

    #[test]
    fn parses_proc_net_unix() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("net")).unwrap();
        std::fs::write(
            t.path().join("net/unix"),
            "Num       RefCount Protocol Flags    Type St Inode Path\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 12345 /tmp/tmux-1000/default\n\
             0000000000000000: 00000002 00000000 00000000 0001 03 12346 /tmp/tmux-1000/default\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 12347 @abstract\n",
        )
        .unwrap();
        let m = listening_unix_paths(t.path());
        assert_eq!(m.len(), 1);
        assert_eq!(m[&12345], PathBuf::from("/tmp/tmux-1000/default"));
    }

    #[test]
    fn proc_net_unix_paths_keep_newlines_and_spaces() {
        use std::os::unix::ffi::OsStrExt;
        let text = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
             ffff8881: 00000002 00000000 00010000 0001 01 12345 /tmp/a\nb/two  spaces\n\
             ffff8882: 00000002 00000000 00000000 0001 03 12346\n\
             ffff8883: 00000002 00000000 00010000 0001 01    17 /tmp/\xff\n\
             ffff8884: 00000002 00000000 00010000 0001 01 999999 /tmp/x\n";
        let m = parse_proc_net_unix(text);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[&12345], PathBuf::from("/tmp/a\nb/two  spaces"));
        assert_eq!(m[&17].as_os_str().as_bytes(), b"/tmp/\xff");
        assert_eq!(m[&999999], PathBuf::from("/tmp/x"));
    }

    #[test]
    fn live_listening_paths_keep_a_newline() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("a\nb");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd()))
            .unwrap()
            .ino();
        let m = listening_unix_paths(Path::new("/proc"));
        assert_eq!(m.get(&inode), Some(&path), "{:?}", m.get(&inode));
        // The fallback reads the kernel's own /proc/net/unix the same way.
        let m = parse_proc_net_unix(&std::fs::read("/proc/net/unix").unwrap());
        assert_eq!(m.get(&inode), Some(&path), "{:?}", m.get(&inode));
        drop(l);
    }

    #[test]
    fn probe_tells_live_from_dead_sockets() {
        let t = tempfile::tempdir().unwrap();
        let live = t.path().join("live");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        assert_eq!(probe_connect(&live), Probe::Alive);
        let dead = t.path().join("dead");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        assert!(dead.exists());
        assert_eq!(probe_connect(&dead), Probe::Dead);
        assert_eq!(probe(&dead, &HashSet::new()), Probe::Dead);
        let set: HashSet<PathBuf> = [dead.clone()].into_iter().collect();
        assert_eq!(probe(&dead, &set), Probe::Alive);
        assert_eq!(
            probe_connect(&t.path().join("x".repeat(200))),
            Probe::Unknown
        );
    }

    #[test]
    fn prune_removes_only_dead_sockets_of_the_owner() {
        let t = tempfile::tempdir().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let dir = t.path().join(format!("tmux-{uid}"));
        std::fs::create_dir(&dir).unwrap();
        let live = dir.join("live");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        let dead = dir.join("dead");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        std::fs::write(dir.join("plain-file"), "x").unwrap();
        let found = dir_sockets(t.path(), uid, false);
        assert_eq!(found, vec![(dead.clone(), uid), (live.clone(), uid)]);
        let infos: Vec<SocketInfo> = found
            .iter()
            .map(|(p, o)| SocketInfo {
                in_tmpdir: true,
                socket: p.clone(),
                owner_uid: Some(*o),
                // Claim both dead: prune must re-probe and spare the live one.
                alive: false,
                pid: None,
                sessions: None,
            })
            .collect();
        let (removed, errors) = prune(&infos, Path::new("/proc"), uid);
        assert_eq!(removed, vec![dead.clone()]);
        assert!(errors.is_empty());
        assert!(!dead.exists());
        assert!(live.exists());
        // Someone else's dead socket is left alone by a non-root caller.
        let theirs = dir.join("theirs");
        drop(std::os::unix::net::UnixListener::bind(&theirs).unwrap());
        let info = SocketInfo {
            in_tmpdir: true,
            socket: theirs.clone(),
            owner_uid: Some(uid),
            alive: false,
            pid: None,
            sessions: None,
        };
        let (removed, _) = prune(&[info], Path::new("/proc"), uid + 4242);
        assert!(theirs.exists());
        assert!(removed.is_empty());
    }
}
