//! Deaths groundwork against the real kernel: OOM kills read back from
//! `/dev/kmsg` exactly once, and signals traced through a tracefs instance
//! of our own (SPEC "Deaths").

#![cfg(target_os = "linux")]

mod common;
#[path = "support/kernel.rs"]
mod kernel;

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{is_root, rerun_in_mount_namespace, skip, tracefs_in_rerun_child, TestEnv};
use kernel::{compile_helper, copy_as, MemCgroup};
use stray::deaths::{self, Dropped, EventKind, LastKnown, Watched};
use stray::kmsg::{self, KmsgReader, Limits};
use stray::ProcKey;

fn boot_id() -> String {
    stray::current_boot_id().expect("boot id")
}

fn big() -> Limits {
    Limits {
        max_records: 1_000_000,
        max_bytes: 256 << 20,
    }
}

fn start_time(pid: i32) -> u64 {
    common::stat_of(pid).expect("stat").0
}

fn watched(pid: i32, start_time: u64, comm: &str, class: &str) -> Watched {
    Watched {
        key: ProcKey { pid, start_time },
        uid: 0,
        comm: comm.into(),
        class: class.into(),
    }
}

/// Runs `bin hog` in `cg` until the kernel kills it; returns its pid.
fn oom_killed(cg: &MemCgroup, bin: &Path) -> i32 {
    let mut child = cg.spawn(Command::new(bin).arg("hog").stdout(Stdio::null()));
    let pid = child.id() as i32;
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{} was not OOM-killed: {status:?}",
        bin.display()
    );
    pid
}

#[test]
fn real_oom_kill_is_read_exactly_once() {
    if !is_root() {
        skip("needs root: memory cgroups and /dev/kmsg");
        return;
    }
    let env = TestEnv::new();
    let helper = compile_helper(env.dir.path());
    let (watched_comm, watched_bin) = copy_as(env.dir.path(), &helper, "oomw");
    let (other_comm, other_bin) = copy_as(env.dir.path(), &helper, "oomu");
    let Some(cg) = MemCgroup::new("oom", 32 << 20) else {
        skip("no memory cgroup (v1 or v2) on this kernel");
        return;
    };
    let boot = boot_id();

    // The position before the test, as the last cycle would have saved it.
    let mut reader = match KmsgReader::open(Path::new(kmsg::DEV_KMSG)) {
        Ok(r) => r,
        Err(e) => {
            skip(&format!("{}: {}", kmsg::DEV_KMSG, kmsg::why_unreadable(&e)));
            return;
        }
    };
    let before = kmsg::read_oom_kills(&mut reader, None, &boot, big()).unwrap();
    assert!(before.pos.last_seq.is_some(), "the kernel log is empty");

    let watched_pid = oom_killed(&cg, &watched_bin);
    let other_pid = oom_killed(&cg, &other_bin);

    // A new cycle: a fresh reader (rewinds and skips what was seen).
    let mut fresh = KmsgReader::open(Path::new(kmsg::DEV_KMSG)).unwrap();
    let read = kmsg::read_oom_kills(&mut fresh, Some(&before.pos), &boot, big()).unwrap();
    let ours = |kills: &[deaths::OomKill], pid: i32| {
        kills
            .iter()
            .filter(|k| k.pid == pid)
            .cloned()
            .collect::<Vec<_>>()
    };
    let w = ours(&read.kills, watched_pid);
    assert_eq!(w.len(), 1, "one kill of {watched_pid}: {:?}", read.kills);
    let w = &w[0];
    assert_eq!(w.comm, watched_comm);
    assert_eq!(w.memcg.as_deref(), Some(cg.memcg.as_str()));
    assert_eq!(w.uid, Some(0));
    // printk's clock is the monotonic one the wall-time conversion uses.
    let now = kmsg::now_monotonic_usec();
    assert!(
        w.ts_usec <= now && now - w.ts_usec < 60_000_000,
        "{} vs {now}",
        w.ts_usec
    );
    assert!(
        w.rss_bytes.is_some_and(|r| r > 16 << 20 && r < 64 << 20),
        "rss {:?} for a 32 MiB limit",
        w.rss_bytes
    );
    let o = ours(&read.kills, other_pid);
    assert_eq!(o.len(), 1, "{:?}", read.kills);
    assert_eq!(o[0].comm, other_comm);
    assert!(read.pos.last_seq > before.pos.last_seq);
    assert_eq!(read.pos.boot_id, boot);

    // Only the watched one is recorded (the other was not watched and
    // matches no rule).
    let mut table = LastKnown::new();
    table.insert(
        watched_pid,
        watched(watched_pid, 4242, &watched_comm, "orphan"),
    );
    let rules = |_: &str| false;
    let ts = deaths::rfc3339(std::time::SystemTime::now());
    let events: Vec<_> = read
        .kills
        .iter()
        .filter(|k| k.pid == watched_pid || k.pid == other_pid)
        .filter_map(|k| deaths::decide_oom(k, &table, &rules, &ts))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, EventKind::OomKill);
    assert_eq!(events[0].pid, watched_pid);
    assert_eq!(events[0].comm, watched_comm);
    assert_eq!(events[0].class.as_deref(), Some("orphan"));
    assert_eq!(events[0].memcg.as_deref(), Some(cg.memcg.as_str()));

    // A second read from the saved position finds neither again: with the
    // reader kept open (watch), and with a fresh one (reap, check).
    for r in [
        &mut fresh,
        &mut KmsgReader::open(Path::new(kmsg::DEV_KMSG)).unwrap(),
    ] {
        let again = kmsg::read_oom_kills(r, Some(&read.pos), &boot, big()).unwrap();
        assert!(
            ours(&again.kills, watched_pid).is_empty(),
            "{:?}",
            again.kills
        );
        assert!(
            ours(&again.kills, other_pid).is_empty(),
            "{:?}",
            again.kills
        );
        assert!(again.pos.last_seq >= read.pos.last_seq);
    }
    // A position of another boot reads the whole log again: both are there.
    let other_boot = KmsgPos_of("00000000-0000-0000-0000-000000000000", read.pos.last_seq);
    let all = kmsg::read_oom_kills(&mut reader, Some(&other_boot), &boot, big()).unwrap();
    assert_eq!(ours(&all.kills, watched_pid).len(), 1);
}

#[allow(non_snake_case)]
fn KmsgPos_of(boot: &str, last_seq: Option<u64>) -> kmsg::KmsgPos {
    kmsg::KmsgPos {
        boot_id: boot.into(),
        last_seq,
    }
}

#[test]
fn kmsg_reads_are_bounded_and_resume_where_they_stopped() {
    if !is_root() {
        skip("needs root (or CAP_SYSLOG) for /dev/kmsg");
        return;
    }
    let dev = Path::new(kmsg::DEV_KMSG);
    let three = Limits {
        max_records: 3,
        max_bytes: 1 << 20,
    };
    let mut r = KmsgReader::open(dev).unwrap();
    let a = r.read_after(None, three).unwrap();
    assert_eq!(a.records.len(), 3);
    assert!(a.truncated);
    assert!(a.records.windows(2).all(|w| w[0].seq < w[1].seq));
    let last = a.records[2].seq;
    // Continuing on the same fd and from a fresh fd give the same records.
    let b = r.read_after(Some(last), three).unwrap();
    let c = KmsgReader::open(dev)
        .unwrap()
        .read_after(Some(last), three)
        .unwrap();
    assert_eq!(b.records.len(), 3);
    assert!(b.records[0].seq > last);
    assert_eq!(b.records[0].seq == last + 1, b.lost == 0);
    assert_eq!(
        b.records.iter().map(|x| x.seq).collect::<Vec<_>>(),
        c.records.iter().map(|x| x.seq).collect::<Vec<_>>()
    );
    // A byte bound: one record, then stop.
    let one = KmsgReader::open(dev)
        .unwrap()
        .read_after(
            None,
            Limits {
                max_records: 1000,
                max_bytes: 1,
            },
        )
        .unwrap();
    assert_eq!(one.records.len(), 1);
    assert!(one.truncated);
    // To the end: returns (never blocks), not truncated, and a read after
    // the end finds nothing.
    let t = Instant::now();
    let all = KmsgReader::open(dev)
        .unwrap()
        .read_after(None, big())
        .unwrap();
    assert!(!all.truncated);
    assert!(t.elapsed() < Duration::from_secs(10));
    let end = all.max_seq.unwrap();
    let mut r = KmsgReader::open(dev).unwrap();
    let after_end = r.read_after(Some(end), big()).unwrap();
    assert!(after_end.records.iter().all(|x| x.seq > end));
    // A saved number beyond this log (a foreign state) restarts at its end.
    let future = KmsgPos_of(&boot_id(), Some(end + 1_000_000_000));
    let read = kmsg::read_oom_kills(&mut r, Some(&future), &boot_id(), big()).unwrap();
    assert!(read.kills.is_empty());
    assert!(read.pos.last_seq.unwrap() >= end && read.pos.last_seq.unwrap() < end + 1_000_000);
}

// ---------------------------------------------------------------------------
// tracefs

const CHILD_ENV: &str = "STRAY_TEST_TRACEFS_CHILD";

/// The signals test runs where tracefs is mounted. If it is not (as on
/// machines that mount neither tracefs nor debugfs), the test re-runs
/// itself in a private mount namespace (`unshare -m`) that mounts tracefs,
/// since the tracer reads in-process.
#[test]
fn signals_are_traced_with_their_sender() {
    if !is_root() {
        skip("needs root: tracefs");
        return;
    }
    if let Some(root) = tracefs_in_rerun_child(CHILD_ENV) {
        scenario(&root);
        return;
    }
    if let Some(root) = stray::tracefs::find_root() {
        scenario(&root);
        return;
    }
    rerun_in_mount_namespace("signals_are_traced_with_their_sender", CHILD_ENV);
}

fn spawn_target(bin: &Path) -> std::process::Child {
    let mut c = Command::new(bin)
        .arg("target")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    c
}

fn send(bin: &Path, pid: i32, sigs: &[i32]) -> i32 {
    let mut c = Command::new(bin);
    c.arg("send").arg(pid.to_string());
    for s in sigs {
        c.arg(s.to_string());
    }
    let mut child = c.stdin(Stdio::null()).spawn().unwrap();
    let sender = child.id() as i32;
    assert!(child.wait().unwrap().success());
    sender
}

fn scenario(root: &Path) {
    let env = TestEnv::new();
    let helper = compile_helper(env.dir.path());
    let (target_comm, target_bin) = copy_as(env.dir.path(), &helper, "sigt");
    let (other_comm, other_bin) = copy_as(env.dir.path(), &helper, "sigo");
    let (sender_comm, sender_bin) = copy_as(env.dir.path(), &helper, "sigs");
    let (closer_comm, closer_bin) = copy_as(env.dir.path(), &helper, "sigc");
    let (hung_comm, hung_bin) = copy_as(env.dir.path(), &helper, "sigh");
    let instances = root.join("instances");

    // A tracer killed by SIGKILL leaves its instance behind: make one for a
    // pid that is gone, and one for a pid that lives (not ours to remove).
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = instances.join(format!("stray-{dead_pid}"));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("events/signal/signal_generate/enable"), "1").unwrap();
    let mut live = spawn_target(&other_bin);
    let live_inst = instances.join(format!("stray-{}", live.id()));
    std::fs::create_dir(&live_inst).unwrap();

    let mut tracer = stray::tracefs::Tracer::start(root).unwrap();
    assert!(!stale.exists(), "a stale instance was not removed");
    assert!(
        live_inst.exists(),
        "an instance whose pid lives was removed"
    );
    std::fs::remove_dir(&live_inst).unwrap();
    let _ = live.kill();
    let _ = live.wait();
    let inst = tracer.instance().to_path_buf();
    assert_eq!(
        inst,
        instances.join(format!("stray-{}", std::process::id()))
    );
    assert!(inst.is_dir());

    let mut target = spawn_target(&target_bin);
    let target_pid = target.id() as i32;
    let target_start = start_time(target_pid);
    let mut other = spawn_target(&other_bin);
    let other_pid = other.id() as i32;

    // The web terminal's part: SIGHUP, then SIGKILL, to the watched target,
    // sent while we sleep in poll(2) on the pipe (watch polls it together
    // with its timer): the first event must wake us.
    let sender_thread = {
        let bin = sender_bin.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            send(&bin, target_pid, &[libc::SIGHUP, libc::SIGKILL])
        })
    };
    let t = Instant::now();
    let woke = stray::psi::wait(None, &[tracer.fd().unwrap()], Duration::from_secs(10)).unwrap();
    assert_eq!(
        woke,
        stray::psi::Wake::Ready(0),
        "trace_pipe did not wake poll()"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "poll woke late: {:?}",
        t.elapsed()
    );
    let sender = sender_thread.join().unwrap();
    assert_eq!(target.wait().unwrap().signal(), Some(libc::SIGKILL));
    // And a SIGTERM to an unrelated process.
    let sender2 = send(&sender_bin, other_pid, &[libc::SIGTERM]);
    assert_eq!(other.wait().unwrap().signal(), Some(libc::SIGTERM));

    // A terminal hang-up: the closer of a pty master is the sender of the
    // kernel's SIGHUP to the session on it.
    let mut closer = Command::new(&closer_bin)
        .arg("hangup")
        .arg(&hung_bin)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let closer_pid = closer.id() as i32;
    let mut line = String::new();
    std::io::BufReader::new(closer.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hung_pid: i32 = line.trim().parse().unwrap();
    let hung = common::Proc::from_pid(hung_pid);
    assert!(closer.wait().unwrap().success());

    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let read = tracer.read_events(1 << 20).unwrap();
        events.extend(read.events);
        let seen = |pid: i32, sig: i32| events.iter().any(|e| e.target_pid == pid && e.sig == sig);
        if seen(target_pid, libc::SIGHUP)
            && seen(target_pid, libc::SIGKILL)
            && seen(other_pid, libc::SIGTERM)
            && seen(hung_pid, libc::SIGHUP)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let raw_to = |pid: i32| {
        events
            .iter()
            .filter(|e| e.target_pid == pid)
            .collect::<Vec<_>>()
    };
    let to_target = raw_to(target_pid);
    assert_eq!(to_target.len(), 2, "{events:?}");
    for (e, sig) in to_target.iter().zip([libc::SIGHUP, libc::SIGKILL]) {
        assert_eq!(e.sig, sig);
        assert_eq!(e.sender_tid, sender);
        assert_eq!(e.sender_tgid, Some(sender));
        assert_eq!(e.sender_comm.as_deref(), Some(sender_comm.as_str()));
        assert_eq!(e.target_comm, target_comm);
        // On CLOCK_MONOTONIC, so it converts to wall time like kmsg's.
        let now = kmsg::now_monotonic_usec();
        assert!(
            e.ts_usec <= now && now - e.ts_usec < 30_000_000,
            "{} vs {now}",
            e.ts_usec
        );
    }
    assert_eq!(raw_to(other_pid).len(), 1, "{events:?}");
    assert_eq!(raw_to(other_pid)[0].sender_tgid, Some(sender2));

    // Decisions over the last-known table: the target was a watched tmux
    // client; the other process was not watched.
    let mut table: LastKnown = HashMap::new();
    table.insert(
        target_pid,
        watched(target_pid, target_start, &target_comm, "protected"),
    );
    table.insert(
        hung_pid,
        watched(hung_pid, hung.start_time, &hung_comm, "unmanaged"),
    );
    let own = [std::process::id() as i32];
    let mut recorded = Vec::new();
    let mut hangups = Vec::new();
    for e in &events {
        if e.target_pid == hung_pid {
            hangups.push((e.clone(), deaths::decide_signal(e, &table, &own, "T")));
            continue;
        }
        match deaths::decide_signal(e, &table, &own, "T") {
            Ok(d) => recorded.push(d),
            Err(why) if e.target_pid == other_pid => assert_eq!(why, Dropped::NotWatched),
            Err(_) => {}
        }
    }
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0].signal.as_deref(), Some("SIGHUP"));
    assert_eq!(recorded[1].signal.as_deref(), Some("SIGKILL"));
    for d in &recorded {
        assert_eq!(d.event, EventKind::Killed);
        assert_eq!((d.pid, d.start_time), (target_pid, Some(target_start)));
        assert_eq!(d.comm, target_comm);
        assert_eq!(d.sender_pid, Some(sender));
        assert_eq!(d.sender_comm.as_deref(), Some(sender_comm.as_str()));
    }
    let _ = other_comm;
    // The hang-up: SI_KERNEL, sent in the closer's context, recorded with
    // the closer as the sender.
    assert_eq!(hangups.len(), 1, "{hangups:?}");
    let (e, d) = &hangups[0];
    assert_eq!((e.sig, e.code), (libc::SIGHUP, 0x80), "{e:?}");
    let d = d
        .as_ref()
        .unwrap_or_else(|why| panic!("{why:?}: {e:?} (table {table:?})"));
    assert_eq!(d.sender_pid, Some(closer_pid));
    assert_eq!(d.sender_comm.as_deref(), Some(closer_comm.as_str()));
    assert_eq!(d.comm, hung_comm);
    hung.signal(libc::SIGKILL);

    drop(tracer);
    assert!(!inst.exists(), "the instance outlived its tracer");
}
