//! `stray watch` at a 100 ms interval for a minute (some 600 cycles) while
//! orphans keep appearing: it must keep reaping, and its open fds and memory
//! must stay flat (no per-cycle leak). As root it runs with the signal
//! tracer on: in a private mount namespace that mounts tracefs when the
//! host does not, so every SIGTERM the watch sends also passes through its
//! trace pipe.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const CHILD_ENV: &str = "STRAY_TEST_SOAK_NS";

#[test]
fn watch_under_churn_keeps_fds_and_memory_flat() {
    if !is_root() {
        soak(None);
        return;
    }
    if let Some(root) = tracefs_in_rerun_child(CHILD_ENV) {
        soak(Some(&root));
        return;
    }
    if let Some(root) = stray_tracefs_root() {
        soak(Some(&root));
        return;
    }
    rerun_in_mount_namespace("watch_under_churn_keeps_fds_and_memory_flat", CHILD_ENV);
}

/// The tracefs mount point, from `/proc/self/mounts`.
fn stray_tracefs_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "tracefs").then(|| PathBuf::from(f[1]))
    })
}

fn soak(tracefs: Option<&Path>) {
    let mut env = TestEnv::new();
    let (_name, bin) = env.agent_bin("q");
    // One orphan first, to learn who adopts orphans here.
    let first = spawn_orphan(&env, &bin, &["300"]);
    // min_age 2s: the harness sets each orphan up before watch may reap it.
    orphan_config(&env, &first, "2s", "1s", "");
    let mut child = env
        .cmd()
        .args(["watch", "--interval", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cycles = line_reader(child.stdout.take().unwrap());
    let mut watch = Proc::from_child(child);
    let wait_cycles = |n: usize| {
        for _ in 0..n {
            let l = cycles
                .recv_timeout(Duration::from_secs(30))
                .expect("a cycle line");
            assert!(l.contains(" cycle "), "{l}");
        }
    };
    wait_cycles(10);
    if let Some(root) = tracefs {
        let inst = root.join(format!("instances/stray-{}", watch.pid));
        assert!(
            inst.is_dir(),
            "the watch traces no signals: no {}",
            inst.display()
        );
    }
    let (fds0, rss0) = (quiet_fds(watch.pid), rss_kib(watch.pid));
    let fd_list0 = fd_targets(watch.pid);

    // A minute of churn: a new orphan every 200 ms, each reaped by watch.
    let start = Instant::now();
    let mut spawned = Vec::new();
    while start.elapsed() < Duration::from_secs(60) {
        spawned.push(spawn_orphan(&env, &bin, &["300"]));
        std::thread::sleep(Duration::from_millis(200));
        while cycles.try_recv().is_ok() {}
        // Keep the harness's own list short: drop what watch already reaped.
        spawned.retain(|p| p.alive());
    }
    assert!(
        wait_until(Duration::from_secs(20), || spawned
            .iter()
            .all(|p| !p.alive())),
        "watch left {} orphans running",
        spawned.iter().filter(|p| p.alive()).count()
    );
    // Between cycles watch holds its resting fds; a cycle in progress holds
    // a few more at once (the lock, the audit log, a /proc/PID/fd dir, a
    // netlink socket). On a loaded machine cycles can overrun the 100 ms
    // interval, so watch may never be seen at rest: allow one cycle's worth.
    // A leak of one fd per cycle, or per orphan, over this minute would be
    // hundreds.
    const ONE_CYCLE_OF_FDS: usize = 8;
    let fds1 = resting_fds_at_most(watch.pid, fds0, Duration::from_secs(10));
    let rss1 = rss_kib(watch.pid);
    assert!(
        fds1 <= fds0 + ONE_CYCLE_OF_FDS,
        "open fds grew from {fds0} {fd_list0:?} to {fds1} {:?}",
        fd_targets(watch.pid)
    );
    assert!(
        rss1 <= rss0 + 2048,
        "RSS grew from {rss0} KiB to {rss1} KiB"
    );

    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    let terms = audit.lines().filter(|l| l.contains("\"SIGTERM\"")).count();
    assert!(
        terms >= 20,
        "only {terms} orphans were reaped in a minute of churn"
    );

    watch.signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(30), || !watch.alive()),
        "watch did not stop on SIGTERM"
    );
    assert_eq!(watch.wait_status(), Some(0));
}
