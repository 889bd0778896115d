//! NETLINK_SOCK_DIAG queries (Linux).
//!
//! One dump request answers for every socket on the host at once, so finding
//! the peer of a unix socket costs one round trip however many processes we
//! look at. [`dump`] is the shared request/response loop; [`unix_peers`] asks
//! for AF_UNIX sockets with `UDIAG_SHOW_PEER`.
//!
//! A dump lists only the sockets of the network namespace the netlink socket
//! was made in. [`unix_peers_in`] makes it inside another process's network
//! namespace, from a short-lived thread (`setns(CLONE_NEWNET)` moves only the
//! calling thread), so a daemon in a container or under `unshare -n` is seen
//! with its clients instead of as "nothing connected".

use std::collections::{HashMap, HashSet};
use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::unix::{ShowFlags, StateFlags, UnixRequest};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

/// The kernel answers a dump at once; this only bounds a wedged socket.
const RECV_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn set_recv_timeout(socket: &Socket, timeout: std::time::Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a valid fd, a pointer to a live timeval and its exact size.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends one dump request and collects every answer until `NLMSG_DONE`.
pub(crate) fn dump(request: SockDiagMessage) -> io::Result<Vec<SockDiagMessage>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    set_recv_timeout(&socket, RECV_TIMEOUT)?;

    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut packet = NetlinkMessage::new(header, request.into());
    packet.finalize();
    let mut out = vec![0; packet.buffer_len()];
    packet.serialize(&mut out[..]);
    socket.send(&out[..], 0)?;

    let mut answers = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: netlink socket closed before the dump ended",
            ));
        }
        let mut offset = 0;
        while offset < size {
            let message = <NetlinkMessage<SockDiagMessage>>::deserialize(&buf[offset..size])
                .map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}"))
                })?;
            let len = message.header.length as usize;
            // The socket table changed while the kernel walked it: the dump
            // may miss sockets, so it must not be taken as complete.
            if message.header.flags & NLM_F_DUMP_INTR != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "sock_diag: dump interrupted by concurrent changes",
                ));
            }
            match message.payload {
                NetlinkPayload::Done(_) => return Ok(answers),
                NetlinkPayload::Error(e) => {
                    let err = e.to_io();
                    return Err(io::Error::new(err.kind(), format!("sock_diag: {err}")));
                }
                NetlinkPayload::InnerMessage(m) => answers.push(m),
                NetlinkPayload::Noop | NetlinkPayload::Overrun(_) => {}
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

/// The AF_UNIX sockets of one network namespace.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnixSockets {
    /// Every connected socket: inode → peer inode.
    pub peers: HashMap<u64, u64>,
    /// Every socket listed, connected or not.
    pub all: HashSet<u64>,
}

/// Every AF_UNIX socket of this thread's network namespace, with its peer.
///
/// Fails when the kernel lacks `unix_diag` (module not loaded, or a kernel
/// without CONFIG_UNIX_DIAG); callers must then treat peers as unknown.
pub(crate) fn unix_peers() -> io::Result<UnixSockets> {
    // An interrupted dump is retried a few times, then reported.
    let mut attempt = 0;
    loop {
        match unix_peers_once() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && attempt < 3 => attempt += 1,
            other => return other,
        }
    }
}

fn unix_peers_once() -> io::Result<UnixSockets> {
    let request = SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: StateFlags::all(),
        inode: 0,
        show_flags: ShowFlags::PEER,
        cookie: [0xff; 8],
    });
    let mut sockets = UnixSockets::default();
    for answer in dump(request)? {
        if let SockDiagMessage::UnixResponse(r) = answer {
            let inode = u64::from(r.header.inode);
            sockets.all.insert(inode);
            if let Some(peer) = r.peer() {
                if peer != 0 {
                    sockets.peers.insert(inode, u64::from(peer));
                }
            }
        }
    }
    Ok(sockets)
}

/// The connected AF_UNIX sockets of this thread's network namespace with
/// their peers, and the names sockets are bound to (an accepted socket
/// carries its listener's name): what tells a display server's client.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamedSockets {
    pub peers: HashMap<u64, u64>,
    /// inode → path, or abstract name without its leading NUL.
    pub names: HashMap<u64, String>,
}

pub(crate) fn unix_names() -> io::Result<NamedSockets> {
    use netlink_packet_sock_diag::unix::nlas::UnixDiagName;
    let request = SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: StateFlags::all(),
        inode: 0,
        show_flags: ShowFlags::PEER | ShowFlags::NAME,
        cookie: [0xff; 8],
    });
    let mut out = NamedSockets::default();
    for answer in dump(request)? {
        if let SockDiagMessage::UnixResponse(r) = answer {
            let inode = u64::from(r.header.inode);
            if let Some(peer) = r.peer().filter(|p| *p != 0) {
                out.peers.insert(inode, u64::from(peer));
            }
            let name = match r.name() {
                Some(UnixDiagName::Pathname(p)) => Some(p.to_string_lossy().into_owned()),
                Some(UnixDiagName::Abstract(a)) => Some(String::from_utf8_lossy(a).into_owned()),
                None => None,
            };
            if let Some(name) = name {
                out.names.insert(inode, name);
            }
        }
    }
    Ok(out)
}

/// A network namespace's identity: device and inode of its nsfs file
/// (`/proc/PID/ns/net`), equal for two processes exactly when they share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NetNs {
    pub dev: u64,
    pub ino: u64,
}

impl NetNs {
    fn of_metadata(m: &std::fs::Metadata) -> NetNs {
        use std::os::unix::fs::MetadataExt;
        NetNs {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// The network namespace `ns_file` (`/proc/PID/ns/net`) names.
pub(crate) fn net_namespace(ns_file: &std::path::Path) -> io::Result<NetNs> {
    std::fs::metadata(ns_file).map(|m| NetNs::of_metadata(&m))
}

/// The network namespace this thread works in (where [`unix_peers`] looks).
pub(crate) fn own_net_namespace() -> io::Result<NetNs> {
    net_namespace(std::path::Path::new("/proc/thread-self/ns/net"))
}

/// [`unix_peers`] as seen from inside the network namespace `ns_file`
/// (`/proc/PID/ns/net`) names, which must still be `expected` once opened
/// (the pid may have been reused since it was looked at). Needs
/// CAP_SYS_ADMIN over that namespace: without it the error is returned and
/// the caller must treat the peers as unknown.
pub(crate) fn unix_peers_in(ns_file: &std::path::Path, expected: NetNs) -> io::Result<UnixSockets> {
    use std::os::fd::AsRawFd;
    let ns = std::fs::File::open(ns_file)?;
    if NetNs::of_metadata(&ns.metadata()?) != expected {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}: the process changed namespace or exited",
                ns_file.display()
            ),
        ));
    }
    // The thread enters the namespace, makes and drains its netlink socket
    // there, and ends: no other thread of ours ever changes namespace.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: a valid namespace fd; CLONE_NEWNET changes only
                // this thread's network namespace.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    let e = io::Error::last_os_error();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot enter {}: {e}", ns_file.display()),
                    ));
                }
                unix_peers()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("sock_diag thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::UnixStream;

    fn inode_of(fd: &impl std::os::fd::AsRawFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino()
    }

    #[test]
    fn a_socket_pair_sees_each_other() {
        let (a, b) = UnixStream::pair().unwrap();
        let peers = match unix_peers() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipped: unix_diag unavailable here: {e}");
                return;
            }
        };
        let (ia, ib) = (inode_of(&a), inode_of(&b));
        assert_eq!(peers.peers.get(&ia), Some(&ib));
        assert_eq!(peers.peers.get(&ib), Some(&ia));
        // A listening socket is listed, with no peer.
        let dir = tempfile::tempdir().unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        let peers = unix_peers().unwrap();
        assert!(peers.all.contains(&inode_of(&listener)));
        assert!(!peers.peers.contains_key(&inode_of(&listener)));
    }

    #[test]
    fn entering_our_own_namespace_sees_the_same_sockets() {
        let (a, b) = UnixStream::pair().unwrap();
        let own = own_net_namespace().unwrap();
        let ns_file = std::path::Path::new("/proc/self/ns/net");
        assert_eq!(net_namespace(ns_file).unwrap(), own);
        match unix_peers_in(ns_file, own) {
            Ok(peers) => assert_eq!(peers.peers.get(&inode_of(&a)), Some(&inode_of(&b))),
            // Not root: setns is refused, and the error says where.
            Err(e) => assert!(e.to_string().contains("/proc/self/ns/net"), "{e}"),
        }
        // Another namespace than the one expected is refused before setns.
        let other = NetNs {
            dev: own.dev,
            ino: own.ino.wrapping_add(1),
        };
        assert!(unix_peers_in(ns_file, other).is_err());
    }
}
