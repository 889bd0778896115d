//! Half-open TCP connections: a server writing to a peer that stopped
//! acknowledging (killed tab, sleeping laptop, a tunnel that keeps its TCP leg
//! ESTABLISHED) blocks on a full window forever. From outside, through
//! NETLINK_SOCK_DIAG, such a socket has a non-empty send queue while the
//! peer's acknowledged byte count (`tcpi_bytes_acked`) stays flat.
//!
//! The decision ([`judge`]) is pure: the previous samples and the current
//! observations in, verdicts and the next samples out; no I/O, no clock.
//! The effects live elsewhere: the netlink dump and the owner lookup in
//! `sys::inet_diag`, the stored sample and the run in `cmd::sockets`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Samples kept in the state at most: a bound on `state.json`, however many
/// connections the host has. The ones closest to a stall are kept.
pub(crate) const MAX_SAMPLES: usize = 4096;

/// Offset of `tcpi_bytes_acked` (u64) in `struct tcp_info`
/// (include/uapi/linux/tcp.h): 8 one-byte fields, 24 `__u32` (rto …
/// total_retrans, 96 bytes), then `tcpi_pacing_rate` and
/// `tcpi_max_pacing_rate` (u64 each): 8 + 96 + 16 = 120. The field appeared
/// in Linux 4.1; shorter attributes (older kernels) do not carry it.
pub(crate) const TCPI_BYTES_ACKED_OFFSET: usize = 120;

/// Reads `tcpi_bytes_acked` from a raw `INET_DIAG_INFO` attribute, or `None`
/// when the attribute is too short to hold it. The kernel writes the struct
/// in host byte order.
pub(crate) fn bytes_acked(tcp_info: &[u8]) -> Option<u64> {
    let raw = tcp_info.get(TCPI_BYTES_ACKED_OFFSET..TCPI_BYTES_ACKED_OFFSET + 8)?;
    Some(u64::from_ne_bytes(raw.try_into().ok()?))
}

/// One ESTABLISHED TCP socket as the kernel reported it at one instant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Socket inode (0 for a connection still in a listener's accept queue).
    pub inode: u64,
    /// Owner uid of the socket.
    pub uid: u32,
    /// `idiag_wqueue`: bytes written and not yet acknowledged (what
    /// SIOCOUTQ returns for an ESTABLISHED socket).
    pub send_queue: u32,
    /// `tcpi_bytes_acked`; `None` when this kernel does not report it (then
    /// the socket is never judged stalled: unknown means leave it alone).
    pub bytes_acked: Option<u64>,
    /// Kernel socket cookie and bound interface: with the addresses they
    /// name exactly this socket to SOCK_DESTROY, never a successor.
    pub cookie: [u8; 8],
    pub interface: u32,
}

impl Observation {
    /// The state key: the 4-tuple is unique among live sockets, and the
    /// inode tells a new connection on a reused 4-tuple from the old one.
    fn key(&self) -> (String, String, u64) {
        (self.local.to_string(), self.remote.to_string(), self.inode)
    }
}

/// What one run remembers about a socket with queued data, for the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// `ADDR:PORT`, IPv6 as `[ADDR]:PORT`.
    pub local: String,
    pub remote: String,
    pub inode: u64,
    pub bytes_acked: u64,
    pub send_queue: u32,
    /// CLOCK_BOOTTIME seconds since which the queue has been non-empty and
    /// `bytes_acked` unchanged, as far as the samples can tell.
    pub flat_since: f64,
}

/// The sample kept in the state between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// CLOCK_BOOTTIME of the last sample; `None` before the first.
    #[serde(default)]
    pub at: Option<f64>,
    /// Sockets that had queued data then.
    #[serde(default)]
    pub samples: Vec<Sample>,
}

/// A socket with its verdict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judged {
    pub obs: Observation,
    /// How long the queue has been non-empty with nothing acknowledged
    /// (0 when the queue is empty or acks moved since the last sample).
    pub stalled_secs: f64,
    pub stalled: bool,
}

/// Compares the current observations with the previous samples (taken at
/// an earlier CLOCK_BOOTTIME) and decides which sockets are stalled.
///
/// A socket is stalled when its send queue is non-empty now, it was in the
/// previous sample with a non-empty queue and the same `bytes_acked` (so no
/// acknowledgement arrived in between: every ack advances `bytes_acked`),
/// and that has held for at least `stall`. The clock starts at the first
/// sample that saw the queue non-empty, not at the last ack: an idle
/// connection that just queued a write is not "stalled for hours".
///
/// Returns every observation judged (sorted: stalled first, longest flat
/// first, biggest queue first) and the samples to keep for the next run.
pub(crate) fn judge(
    prev: &[Sample],
    observed: &[Observation],
    now: f64,
    stall: Duration,
) -> (Vec<Judged>, Vec<Sample>) {
    let prev: HashMap<(&str, &str, u64), &Sample> = prev
        .iter()
        .map(|s| ((s.local.as_str(), s.remote.as_str(), s.inode), s))
        .collect();
    let mut judged = Vec::with_capacity(observed.len());
    let mut next = Vec::new();
    for o in observed {
        let (acked, queued) = match o.bytes_acked {
            Some(a) if o.send_queue > 0 => (a, true),
            _ => (0, false),
        };
        if !queued {
            judged.push(Judged {
                obs: o.clone(),
                stalled_secs: 0.0,
                stalled: false,
            });
            continue;
        }
        let (local, remote, inode) = o.key();
        let before = prev.get(&(local.as_str(), remote.as_str(), inode));
        let flat_since = match before {
            Some(p) if p.send_queue > 0 && p.bytes_acked == acked && p.flat_since <= now => {
                p.flat_since
            }
            _ => now,
        };
        let stalled_secs = now - flat_since;
        judged.push(Judged {
            obs: o.clone(),
            stalled_secs,
            // `flat_since < now`: two samples agree, however short `stall`.
            stalled: flat_since < now && stalled_secs >= stall.as_secs_f64(),
        });
        next.push(Sample {
            local,
            remote,
            inode,
            bytes_acked: acked,
            send_queue: o.send_queue,
            flat_since,
        });
    }
    judged.sort_by(|a, b| {
        b.stalled
            .cmp(&a.stalled)
            .then(b.stalled_secs.total_cmp(&a.stalled_secs))
            .then(b.obs.send_queue.cmp(&a.obs.send_queue))
            .then(a.obs.local.cmp(&b.obs.local))
            .then(a.obs.remote.cmp(&b.obs.remote))
    });
    if next.len() > MAX_SAMPLES {
        // Keep the sockets closest to a stall: they are the ones whose
        // history matters.
        next.sort_by(|a, b| a.flat_since.total_cmp(&b.flat_since));
        next.truncate(MAX_SAMPLES);
    }
    (judged, next)
}

/// Which sockets a run looks at: the caller's own (root: everyone's), and,
/// when `ports` is not empty, only those with one of them as local or remote
/// port.
pub(crate) fn in_scope(o: &Observation, my_uid: u32, ports: &[u16]) -> bool {
    (my_uid == 0 || o.uid == my_uid)
        && (ports.is_empty() || ports.contains(&o.local.port()) || ports.contains(&o.remote.port()))
}

/// What a SOCK_DESTROY attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DestroyOutcome {
    /// The kernel aborted the connection; the blocked writer gets an error.
    Destroyed,
    /// EPERM/EACCES: SOCK_DESTROY needs CAP_NET_ADMIN.
    Denied,
    /// EOPNOTSUPP: the kernel lacks CONFIG_INET_DIAG_DESTROY.
    Unsupported,
    /// ENOENT/ESTALE: the socket closed (or was replaced) meanwhile.
    Gone,
    /// Any other error.
    Failed,
}

impl DestroyOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DestroyOutcome::Destroyed => "destroyed",
            DestroyOutcome::Denied => "denied",
            DestroyOutcome::Unsupported => "unsupported",
            DestroyOutcome::Gone => "gone",
            DestroyOutcome::Failed => "failed",
        }
    }
}

/// The process holding a socket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Owner {
    pub pid: i32,
    pub start_time: u64,
    pub comm: String,
}

/// One run's result: every in-scope socket judged, owners of the ones with
/// queued data.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub stall: Duration,
    /// In-scope ESTABLISHED sockets, judged.
    pub judged: Vec<Judged>,
    /// Owners by inode, for the sockets with queued data.
    pub owners: HashMap<u64, Owner>,
    /// No earlier sample to compare with (first run, or state unusable).
    pub first_sample: bool,
    /// Things the user should know (state busy, state moved aside).
    pub notes: Vec<String>,
}

impl Report {
    /// The sockets worth listing: those with queued data.
    pub(crate) fn queued(&self) -> impl Iterator<Item = &Judged> {
        self.judged.iter().filter(|j| j.obs.send_queue > 0)
    }

    pub(crate) fn stalled(&self) -> impl Iterator<Item = &Judged> {
        self.judged.iter().filter(|j| j.stalled)
    }

    pub(crate) fn owner(&self, j: &Judged) -> Option<&Owner> {
        self.owners.get(&j.obs.inode).filter(|_| j.obs.inode != 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A loopback connection to port 8080 from `port` (also used by
    /// `cmd::sockets`'s tests).
    pub(crate) fn obs(port: u16, queue: u32, acked: u64) -> Observation {
        Observation {
            local: SocketAddr::from(([127, 0, 0, 1], 8080)),
            remote: SocketAddr::from(([127, 0, 0, 1], port)),
            inode: u64::from(port) + 1000,
            uid: 1000,
            send_queue: queue,
            bytes_acked: Some(acked),
            cookie: [0; 8],
            interface: 0,
        }
    }

    const STALL: Duration = Duration::from_secs(30);

    /// Feeds the same socket through runs at the given times; returns the
    /// verdict of each run.
    fn runs(steps: &[(f64, u32, u64)]) -> Vec<Judged> {
        let mut samples = Vec::new();
        let mut out = Vec::new();
        for &(t, queue, acked) in steps {
            let (j, next) = judge(&samples, &[obs(5000, queue, acked)], t, STALL);
            samples = next;
            out.push(j[0].clone());
        }
        out
    }

    #[test]
    fn frozen_peer_is_stalled_only_once_stall_elapsed() {
        let v = runs(&[
            (100.0, 65536, 1_000),
            (110.0, 65536, 1_000),
            (129.9, 65536, 1_000),
            (130.0, 65536, 1_000),
            (500.0, 65536, 1_000),
        ]);
        let stalled: Vec<bool> = v.iter().map(|j| j.stalled).collect();
        assert_eq!(stalled, [false, false, false, true, true]);
        assert_eq!(v[1].stalled_secs, 10.0);
        assert_eq!(v[4].stalled_secs, 400.0);
    }

    #[test]
    fn slow_but_alive_reader_is_never_stalled() {
        // Acks trickle in: a few bytes between every pair of samples, over
        // far longer than `stall`, with the queue always full.
        let steps: Vec<(f64, u32, u64)> = (0..100u32)
            .map(|i| (f64::from(i) * 20.0, 4_000_000, 1_000 + u64::from(i) * 7))
            .collect();
        assert!(runs(&steps)
            .iter()
            .all(|j| !j.stalled && j.stalled_secs == 0.0));
    }

    #[test]
    fn idle_connection_with_empty_queue_is_never_stalled() {
        let steps: Vec<(f64, u32, u64)> =
            (0..50u32).map(|i| (f64::from(i) * 60.0, 0, 42)).collect();
        assert!(runs(&steps).iter().all(|j| !j.stalled));
        // And an idle connection that just queued a write starts its clock
        // now, not at its last ack long ago.
        let v = runs(&[(0.0, 0, 42), (3600.0, 0, 42), (7200.0, 100, 42)]);
        assert!(!v[2].stalled);
        assert_eq!(v[2].stalled_secs, 0.0);
    }

    #[test]
    fn a_drained_queue_resets_the_clock() {
        let v = runs(&[
            (0.0, 100, 10),
            (20.0, 100, 10),
            (25.0, 0, 110),
            (40.0, 100, 110),
            (60.0, 100, 110),
        ]);
        assert!(v.iter().all(|j| !j.stalled));
        assert_eq!(v[4].stalled_secs, 20.0);
    }

    #[test]
    fn one_sample_never_decides_even_with_zero_stall() {
        let (j, _) = judge(&[], &[obs(1, 10, 1)], 100.0, Duration::ZERO);
        assert!(!j[0].stalled);
        let (_, s) = judge(&[], &[obs(1, 10, 1)], 100.0, Duration::ZERO);
        let (j, _) = judge(&s, &[obs(1, 10, 1)], 100.5, Duration::ZERO);
        assert!(j[0].stalled);
    }

    #[test]
    fn unknown_bytes_acked_is_never_stalled() {
        let mut o = obs(1, 10, 0);
        o.bytes_acked = None;
        let (_, s) = judge(&[], std::slice::from_ref(&o), 0.0, STALL);
        assert!(s.is_empty());
        let (j, _) = judge(&s, &[o], 1000.0, STALL);
        assert!(!j[0].stalled);
    }

    #[test]
    fn a_new_socket_on_the_same_tuple_starts_fresh() {
        let (_, s) = judge(&[], &[obs(1, 10, 5)], 0.0, STALL);
        let mut o = obs(1, 10, 5);
        o.inode += 1;
        let (j, _) = judge(&s, &[o], 100.0, STALL);
        assert!(!j[0].stalled);
        // A clock that went backwards (foreign state) is not trusted.
        let (j, _) = judge(&s, &[obs(1, 10, 5)], -5.0, STALL);
        assert!(!j[0].stalled);
    }

    #[test]
    fn samples_are_bounded_keeping_the_oldest() {
        let many: Vec<Observation> = (0..(MAX_SAMPLES as u16 + 10))
            .map(|p| obs(p, 10, 1))
            .collect();
        let (_, mut s) = judge(&[], &many, 0.0, STALL);
        assert_eq!(s.len(), MAX_SAMPLES);
        s[0].flat_since = -100.0;
        let oldest = s[0].clone();
        let (_, s2) = judge(&s, &many, 10.0, STALL);
        assert_eq!(s2.len(), MAX_SAMPLES);
        assert_eq!(s2[0], oldest);
    }

    #[test]
    fn verdicts_sort_stalled_first() {
        let (_, s) = judge(&[], &[obs(1, 10, 1), obs(2, 10, 1)], 0.0, STALL);
        let (j, _) = judge(
            &s,
            &[obs(1, 10, 2), obs(2, 10, 1), obs(3, 0, 0)],
            40.0,
            STALL,
        );
        assert_eq!(j[0].obs.remote.port(), 2);
        assert!(j[0].stalled && !j[1].stalled && !j[2].stalled);
    }

    #[test]
    fn scope_by_uid_and_port() {
        let o = obs(5000, 1, 1);
        assert!(in_scope(&o, 1000, &[]));
        assert!(!in_scope(&o, 1001, &[]));
        assert!(in_scope(&o, 0, &[]));
        assert!(in_scope(&o, 0, &[8080]));
        assert!(in_scope(&o, 0, &[5000]));
        assert!(!in_scope(&o, 0, &[22, 443]));
    }

    #[test]
    fn endpoints_print_as_the_spec_says() {
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:443");
        let v4: SocketAddr = "10.0.0.2:22".parse().unwrap();
        assert_eq!(v4.to_string(), "10.0.0.2:22");
    }

    #[test]
    fn bytes_acked_at_its_offset_or_none() {
        let mut info = vec![0u8; 232];
        info[TCPI_BYTES_ACKED_OFFSET..TCPI_BYTES_ACKED_OFFSET + 8]
            .copy_from_slice(&0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(bytes_acked(&info), Some(0x0102_0304_0506_0708));
        assert_eq!(bytes_acked(&info[..128]), Some(0x0102_0304_0506_0708));
        assert_eq!(bytes_acked(&info[..127]), None);
        assert_eq!(bytes_acked(&[]), None);
    }
}
