//! TCP sockets through NETLINK_SOCK_DIAG (Linux): one dump per address
//! family lists every ESTABLISHED TCP socket on the host with its write
//! queue and `tcp_info`; SOCK_DESTROY aborts one of them (what `ss -K`
//! does); and the owner of a socket inode is found in `/proc/PID/fd`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::{SockDiagDestroy, SockDiagMessage, AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use super::proc::{LiveSource, ProcSource};
use super::unix_diag::dump;
use crate::core::sockets::{bytes_acked, DestroyOutcome, Observation, Owner};

/// Every ESTABLISHED TCP socket on the host (IPv4 and IPv6), with
/// `tcp_info` (for `tcpi_bytes_acked`).
pub(crate) fn established_tcp() -> io::Result<Vec<Observation>> {
    let mut out = Vec::new();
    for (family, id) in [
        (AF_INET, SocketId::new_v4()),
        (AF_INET6, SocketId::new_v6()),
    ] {
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::ESTABLISHED,
            socket_id: id,
        });
        for answer in dump(request)? {
            let SockDiagMessage::InetResponse(r) = answer else {
                continue;
            };
            let id = &r.header.socket_id;
            let info = r.nlas.iter().find_map(|n| match n {
                Nla::TcpInfo(bytes) => Some(bytes.as_slice()),
                _ => None,
            });
            out.push(Observation {
                local: std::net::SocketAddr::new(id.source_address, id.source_port),
                remote: std::net::SocketAddr::new(id.destination_address, id.destination_port),
                inode: u64::from(r.header.inode),
                uid: r.header.uid,
                send_queue: r.header.send_queue,
                bytes_acked: info.and_then(bytes_acked),
                cookie: id.cookie,
                interface: id.interface_id,
            });
        }
    }
    Ok(out)
}

/// Asks the kernel to abort the connection `o` names (addresses, ports,
/// interface and cookie, so a socket that replaced it is never hit).
/// Returns 0 when it was destroyed, else the errno the kernel answered.
pub(crate) fn destroy(o: &Observation) -> io::Result<i32> {
    let family = if o.local.is_ipv4() { AF_INET } else { AF_INET6 };
    let request = SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::all(),
        socket_id: SocketId {
            source_port: o.local.port(),
            destination_port: o.remote.port(),
            source_address: o.local.ip(),
            destination_address: o.remote.ip(),
            interface_id: o.interface,
            cookie: o.cookie,
        },
    });
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, SockDiagDestroy::new(request).into());
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    socket.send(&buf[..], 0)?;

    let mut buf = vec![0u8; 8192];
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: no answer to SOCK_DESTROY",
            ));
        }
        let message = <NetlinkMessage<SockDiagMessage>>::deserialize(&buf[..size])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}")))?;
        if let NetlinkPayload::Error(e) = message.payload {
            // An ACK is an error message with code 0.
            return Ok(e.raw_code().abs());
        }
    }
}

/// Finds the processes holding the `wanted` socket inodes, reading
/// `/proc/PID/fd` only until every inode has an owner. Non-root callers
/// (`my_uid` ≠ 0) look only at their own processes.
pub(crate) fn owners(root: &Path, wanted: &HashSet<u64>, my_uid: u32) -> HashMap<u64, Owner> {
    let mut found: HashMap<u64, Owner> = HashMap::new();
    if wanted.is_empty() {
        return found;
    }
    let Ok(rd) = fs::read_dir(root) else {
        return found;
    };
    let source = LiveSource::new(root);
    let mut pids: Vec<i32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        if found.len() == wanted.len() {
            break;
        }
        if my_uid != 0 {
            match fs::metadata(root.join(pid.to_string())) {
                Ok(m) if m.uid() == my_uid => {}
                _ => continue,
            }
        }
        // Unreadable (another user's, or exited): not ours to name.
        let Ok(inodes) = source.socket_inodes(pid) else {
            continue;
        };
        let hits: Vec<u64> = inodes
            .into_iter()
            .filter(|i| wanted.contains(i) && !found.contains_key(i))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let Ok(Some(p)) = super::proc::read_one(root, pid) else {
            continue;
        };
        for i in hits {
            found.insert(
                i,
                Owner {
                    pid,
                    start_time: p.start_time,
                    comm: p.comm.clone(),
                },
            );
        }
    }
    found
}

/// Maps the netlink answer to `destroy` (0 or an errno) to an outcome.
pub(crate) fn destroy_outcome(errno: i32) -> DestroyOutcome {
    match errno {
        0 => DestroyOutcome::Destroyed,
        libc::EPERM | libc::EACCES => DestroyOutcome::Denied,
        libc::EOPNOTSUPP => DestroyOutcome::Unsupported,
        libc::ENOENT | libc::ESTALE => DestroyOutcome::Gone,
        _ => DestroyOutcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    fn inode_of(fd: &impl std::os::fd::AsRawFd) -> u64 {
        fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino()
    }

    #[test]
    fn sees_a_loopback_pair_with_its_queue_and_owner() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write_all(b"hello").unwrap();
        let all = match established_tcp() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("skipped: inet_diag unavailable here: {e}");
                return;
            }
        };
        let server = all
            .iter()
            .find(|o| o.inode == inode_of(&s))
            .expect("server side listed");
        assert_eq!(server.local, l.local_addr().unwrap());
        assert_eq!(server.remote, c.local_addr().unwrap());
        let client = all.iter().find(|o| o.inode == inode_of(&c)).unwrap();
        // Loopback acks at once; bytes_acked counts the SYN's sequence
        // number too on some kernels, so only check it moved.
        assert!(client.bytes_acked.is_some_and(|a| a >= 1), "{client:?}");
        let wanted: HashSet<u64> = [inode_of(&s), inode_of(&c)].into();
        let me = nix::unistd::geteuid().as_raw();
        let found = owners(Path::new("/proc"), &wanted, me);
        assert_eq!(found.len(), 2);
        assert!(found.values().all(|o| o.pid == std::process::id() as i32));
    }

    #[test]
    fn destroy_outcomes_from_errno() {
        assert_eq!(destroy_outcome(0), DestroyOutcome::Destroyed);
        assert_eq!(destroy_outcome(libc::EPERM), DestroyOutcome::Denied);
        assert_eq!(
            destroy_outcome(libc::EOPNOTSUPP),
            DestroyOutcome::Unsupported
        );
        assert_eq!(destroy_outcome(libc::ENOENT), DestroyOutcome::Gone);
        assert_eq!(destroy_outcome(libc::EIO), DestroyOutcome::Failed);
    }
}
