//! NETLINK_SOCK_DIAG queries (Linux).
//!
//! One dump request answers for every socket on the host at once, so finding
//! the peer of a unix socket costs one round trip however many processes we
//! look at. [`dump`] is the shared request/response loop; [`unix_peers`] asks
//! for AF_UNIX sockets with `UDIAG_SHOW_PEER`.

use std::collections::HashMap;
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

/// Every connected AF_UNIX socket on the host: inode → peer inode.
///
/// Fails when the kernel lacks `unix_diag` (module not loaded, or a kernel
/// without CONFIG_UNIX_DIAG); callers must then treat peers as unknown.
pub(crate) fn unix_peers() -> io::Result<HashMap<u64, u64>> {
    // An interrupted dump is retried a few times, then reported.
    let mut attempt = 0;
    loop {
        match unix_peers_once() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && attempt < 3 => attempt += 1,
            other => return other,
        }
    }
}

fn unix_peers_once() -> io::Result<HashMap<u64, u64>> {
    let request = SockDiagMessage::UnixRequest(UnixRequest {
        state_flags: StateFlags::all(),
        inode: 0,
        show_flags: ShowFlags::PEER,
        cookie: [0xff; 8],
    });
    let mut peers = HashMap::new();
    for answer in dump(request)? {
        if let SockDiagMessage::UnixResponse(r) = answer {
            if let Some(peer) = r.peer() {
                if peer != 0 {
                    peers.insert(u64::from(r.header.inode), u64::from(peer));
                }
            }
        }
    }
    Ok(peers)
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
        assert_eq!(peers.get(&ia), Some(&ib));
        assert_eq!(peers.get(&ib), Some(&ia));
    }
}
