//! Deaths through the binary (SPEC "Deaths"): a real OOM kill recorded once
//! by `reap`, shown by `log --deaths`, `explain` and `check`; a real signal
//! from a "web terminal" to a real `tmux attach` client recorded by
//! `stray watch` with its sender; and watch's tracefs instance removed on
//! SIGTERM and cleaned up after a SIGKILL.

#![cfg(target_os = "linux")]

mod common;
#[path = "support/kernel.rs"]
mod kernel;

use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{
    is_root, line_reader, rerun_in_mount_namespace, skip, tracefs_in_rerun_child, TestEnv,
};
use kernel::{compile_helper, copy_as, MemCgroup};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `bin hogwait` in `cg` and waits for its "ready".
fn spawn_hog(cg: &MemCgroup, bin: &Path) -> Child {
    let mut c = cg.spawn(Command::new(bin).arg("hogwait").stdout(Stdio::piped()));
    let mut line = String::new();
    std::io::BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    c
}

/// Lets the hog allocate until the kernel kills it.
fn oom(mut hog: Child) -> i32 {
    let pid = hog.id() as i32;
    // SAFETY: kill has no memory-safety preconditions; pid is our child,
    // not yet waited for, so it cannot have been recycled.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    let status = hog.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "not OOM-killed");
    pid
}

#[test]
fn a_real_oom_kill_is_recorded_once_and_reported() {
    if !is_root() {
        skip("needs root: memory cgroups and /dev/kmsg");
        return;
    }
    let mut env = TestEnv::new();
    let helper = compile_helper(env.dir.path());
    // The agent: its comm is one of this test's --name rules.
    let (agent_comm, agent_bin) = copy_as(env.dir.path(), &helper, "oa");
    env.names.push(agent_comm.clone());
    // Not an agent, not a multiplexer: its death is nobody's business.
    let (other_comm, other_bin) = copy_as(env.dir.path(), &helper, "ou");
    let Some(cg) = MemCgroup::new("oomcli", 32 << 20) else {
        skip("no memory cgroup (v1 or v2) on this kernel");
        return;
    };
    env.write_config("[check]\noom_window = \"1h\"\n");

    let agent = spawn_hog(&cg, &agent_bin);
    let other = spawn_hog(&cg, &other_bin);
    // A cycle sees both (the agent as a headless agent: its parent, this
    // test, is alive); nothing is signalled.
    let first = ok(&env.run(&["reap"]));
    assert!(
        env.audit_lines().iter().all(|e| e["event"] != "reap"),
        "a headless agent was signalled:\n{first}"
    );
    let agent_pid = oom(agent);
    let other_pid = oom(other);

    ok(&env.run(&["reap"]));
    let kills = env.audit_events_for("oom-kill", agent_pid);
    assert_eq!(kills.len(), 1, "{:#?}", env.audit_lines());
    let k = &kills[0];
    assert_eq!(k["comm"], agent_comm.as_str());
    assert_eq!(k["memcg"], cg.memcg.as_str());
    assert_eq!(k["class"], "headless", "the class the last cycle knew");
    assert_eq!(k["signal"], "SIGKILL");
    assert_eq!(k["uid"], 0);
    assert!(k["start_time"].is_u64(), "{k}");
    let rss = k["rss_bytes"].as_u64().expect("rss_bytes");
    assert!(
        rss > 8 << 20 && rss < 64 << 20,
        "rss {rss} for a 32 MiB limit"
    );
    assert!(k["sender_pid"].is_null() && k["sender_comm"].is_null());
    assert!(
        env.audit_events_for("oom-kill", other_pid).is_empty(),
        "an unwatched process ({other_comm}) was recorded"
    );

    // A second cycle, and a check cycle, read on from where it stopped.
    ok(&env.run(&["reap"]));
    let (doc, out) = env.json(&["check"]);
    assert_eq!(env.audit_events_for("oom-kill", agent_pid).len(), 1);
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "oom_kills")
        .cloned()
        .unwrap_or_else(|| panic!("no oom_kills check: {doc}"));
    assert_eq!(check["status"], "warning", "{check}");
    assert!(
        check["message"].as_str().unwrap().contains(&agent_comm),
        "{check}"
    );
    assert_eq!(out.status.code(), Some(1), "check exits WARNING");
    let prom = env.run(&["check", "--format", "prometheus"]);
    assert_eq!(prom.status.code(), Some(1), "WARNING in any format");
    let prom = String::from_utf8_lossy(&prom.stdout).into_owned();
    assert!(
        prom.contains("# TYPE stray_oom_kills_total counter"),
        "{prom}"
    );
    assert!(
        prom.contains("stray_oom_kills_total{class=\"headless\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("stray_deaths_total{class=\"headless\"} 1"),
        "{prom}"
    );

    // Read back: the deaths view, JSON and human, and explain of the pid.
    let (doc, _) = env.json(&["log", "--deaths"]);
    let evs = doc["events"].as_array().unwrap();
    assert!(evs
        .iter()
        .all(|e| e["event"] == "oom-kill" || e["event"] == "killed"));
    assert!(evs.iter().any(|e| e["pid"] == agent_pid), "{doc}");
    let human = ok(&env.run(&["log", "--deaths"]));
    let row = human
        .lines()
        .find(|l| l.contains(&agent_pid.to_string()))
        .unwrap_or_else(|| panic!("no row for {agent_pid}:\n{human}"));
    assert!(
        row.contains("oom-kill") && row.contains(&agent_comm),
        "{row}"
    );
    let out = env.run(&["explain", &agent_pid.to_string()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("oom-kill") && text.contains(&cg.memcg),
        "explain of a gone pid shows its death:\n{text}"
    );
}

#[test]
fn audit_lines_without_event_still_read_as_reap() {
    let env = TestEnv::new();
    let path = env.audit_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old = r#"{"ts":"2026-01-01T00:00:00Z","pid":4242,"start_time":7,"uid":0,"comm":"claude","cmdline":"claude","class":"orphan","rule":"name:claude","signal":"SIGTERM","outcome":"signalled"}"#;
    let death = r#"{"event":"killed","ts":"2026-01-01T00:00:01Z","pid":4343,"start_time":8,"uid":0,"comm":"tmux: client","class":"multiplexer","signal":"SIGHUP","sender_pid":99,"sender_comm":"ttyd","rss_bytes":null,"memcg":null}"#;
    std::fs::write(&path, format!("{old}\n{death}\n")).unwrap();
    let (doc, out) = env.json(&["log", "--since", "300000000000y"]);
    assert!(out.status.success());
    let evs = doc["events"].as_array().unwrap();
    assert_eq!(evs.len(), 2, "{doc}");
    assert_eq!(evs[0]["event"], "reap");
    assert_eq!(evs[1]["event"], "killed");
    assert_eq!(evs[1]["sender_comm"], "ttyd");
    let (doc, _) = env.json(&["log", "--since", "300000000000y", "--deaths"]);
    let evs = doc["events"].as_array().unwrap();
    assert_eq!(evs.len(), 1, "{doc}");
    assert_eq!(evs[0]["pid"], 4343);
    let human = ok(&env.run(&["log", "--since", "300000000000y"]));
    assert!(human.contains("ttyd") && human.contains("4343"), "{human}");
}

// ---------------------------------------------------------------------------
// Signals, through `stray watch` and tracefs

const CHILD_ENV: &str = "STRAY_TEST_DEATHS_CLI_NS";

/// Runs `name` again inside a private mount namespace that mounts tracefs
/// (this machine does not mount it; the instance it creates is
/// kernel-wide all the same). Returns the tracefs root when already in
/// one, `None` after the re-run (whose result it asserts).
fn in_tracefs_namespace(name: &str) -> Option<PathBuf> {
    if let Some(root) = tracefs_in_rerun_child(CHILD_ENV) {
        return Some(root);
    }
    rerun_in_mount_namespace(name, CHILD_ENV);
    None
}

struct Watch {
    child: Child,
    lines: Receiver<String>,
    errs: Receiver<String>,
}

impl Watch {
    fn start(env: &TestEnv, interval: &str) -> Watch {
        let mut child = env
            .cmd()
            .args(["watch", "--interval", interval])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = common::line_reader(child.stdout.take().unwrap());
        let errs = line_reader(child.stderr.take().unwrap());
        Watch { child, lines, errs }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for `n` cycle lines printed from now on (lines printed before
    /// are dropped: at a short interval they pile up unread).
    fn cycles(&self, n: usize, within: Duration) {
        while self.lines.try_recv().is_ok() {}
        let deadline = Instant::now() + within;
        let mut seen = 0;
        while seen < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(" cycle ") => seen += 1,
                Ok(_) => {}
                Err(_) => panic!("watch ran {seen} of {n} cycles in {within:?}"),
            }
        }
    }

    fn stderr_so_far(&self) -> String {
        self.errs.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn stop(mut self, sig: i32) -> std::process::ExitStatus {
        // SAFETY: our own child, not yet waited for.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        self.child.wait().unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn instance(root: &Path, pid: i32) -> PathBuf {
    root.join("instances").join(format!("stray-{pid}"))
}

#[test]
fn watch_records_who_killed_a_tmux_client() {
    if !is_root() {
        skip("needs root: tracefs");
        return;
    }
    let Some(root) = in_tracefs_namespace("watch_records_who_killed_a_tmux_client") else {
        return;
    };
    // An interval no cycle fits in: a loaded host, where each cycle overruns
    // its interval. Trace events must not wait for a quiet moment.
    // "1h": no cycle between the attach and the kill; a tmux client is
    // known by its comm alone.
    for interval in ["10ms", "1h"] {
        let (env, watch) = web_terminal_kills_a_tmux_client(&root, interval);
        let pid = watch.pid();
        assert_eq!(watch.stop(libc::SIGTERM).code(), Some(0));
        assert!(
            !instance(&root, pid).exists(),
            "instance left after SIGTERM"
        );
        drop(env);
    }
    let (env, watch) = web_terminal_kills_a_tmux_client(&root, "1s");
    instance_cleanup(&root, &env, watch);
}

/// The scenario: a real `tmux attach` under a web terminal's pty, killed by
/// it while `stray watch --interval INTERVAL` runs; returns the env and the
/// running watch.
fn web_terminal_kills_a_tmux_client(root: &Path, interval: &str) -> (TestEnv, Watch) {
    let root = root.to_path_buf();
    let mut env = TestEnv::new();
    let helper = compile_helper(env.dir.path());
    let (term_comm, term_bin) = copy_as(env.dir.path(), &helper, "wt");
    let (_, sender_bin) = copy_as(env.dir.path(), &helper, "ws");
    let (other_comm, other_bin) = copy_as(env.dir.path(), &helper, "wo");
    let (_, sleeper) = env.agent_bin("wa");
    let tmux = common::Tmux::start(&env, &format!("{} 300", sleeper.display()));

    let watch = Watch::start(&env, interval);
    watch.cycles(1, Duration::from_secs(30));
    assert!(
        instance(&root, watch.pid()).is_dir(),
        "no tracefs instance for the watch; stderr:\n{}",
        watch.stderr_so_far()
    );

    // The web terminal: a real `tmux attach` on a pty it holds.
    let mut attach = Command::new(&term_bin);
    attach
        .arg("webterm")
        .arg("tmux")
        .arg("-L")
        .arg(&tmux.name)
        .arg("attach")
        .arg("-t")
        .arg("main");
    env.isolate(&mut attach);
    let mut term = attach
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let term_pid = term.id() as i32;
    let mut out = std::io::BufReader::new(term.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let client_pid: i32 = line.trim().parse().expect("client pid");
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            common::comm_is(client_pid, "tmux: client")
        }),
        "tmux attach never became a client"
    );
    // A cycle sees the client, except at an interval of an hour: then it
    // is known by its comm when the signal arrives.
    let cycling = interval != "1h";
    if cycling {
        watch.cycles(2, Duration::from_secs(30));
    }

    // An unrelated process signalled by another: not recorded.
    let mut other = Command::new(&other_bin)
        .arg("target")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let other_pid = other.id() as i32;
    let mut l = String::new();
    std::io::BufReader::new(other.stdout.as_mut().unwrap())
        .read_line(&mut l)
        .unwrap();
    if cycling {
        watch.cycles(1, Duration::from_secs(30));
    }
    let st = Command::new(&sender_bin)
        .args(["send", &other_pid.to_string(), &libc::SIGTERM.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(other.wait().unwrap().signal(), Some(libc::SIGTERM));

    // The WebSocket closes: SIGHUP, then SIGKILL, to the client.
    let client_comm = common::comm_of(client_pid);
    assert!(
        client_comm.as_deref() == Some("tmux: client"),
        "the client {client_pid} is gone before the web terminal closed: {client_comm:?}"
    );
    term.stdin.as_mut().unwrap().write_all(b"close\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "done 0 0\n", "the web terminal's kill(2) calls");

    let found = common::wait_until(Duration::from_secs(20), || {
        !env.audit_events_for("killed", client_pid).is_empty()
    });
    assert!(
        found,
        "no killed event for the client {client_pid}; audit {:#?}\nstderr:\n{}",
        env.audit_lines(),
        watch.stderr_so_far()
    );
    // Both signals land in the same second; let the watch drain them.
    std::thread::sleep(Duration::from_millis(500));
    let kills = env.audit_events_for("killed", client_pid);
    let hup = kills
        .iter()
        .find(|e| e["signal"] == "SIGHUP")
        .unwrap_or_else(|| panic!("no SIGHUP: {kills:#?}"));
    assert_eq!(hup["sender_pid"], term_pid, "{hup}");
    assert_eq!(hup["sender_comm"], term_comm.as_str(), "{hup}");
    assert_eq!(hup["comm"], "tmux: client");
    assert_eq!(hup["class"], "multiplexer");
    assert!(kills.iter().all(|e| e["sender_pid"] != client_pid));
    assert!(kills.len() <= 2, "at most one line per signal: {kills:#?}");
    // The web terminal closes down only now.
    drop(term.stdin.take());
    let _ = term.wait();
    assert!(
        env.audit_lines().iter().all(|e| e["pid"] != other_pid),
        "{other_comm} ({other_pid}) was recorded"
    );
    let human = ok(&env.run(&["log", "--deaths"]));
    assert!(
        human.contains(&term_comm) && human.contains(&client_pid.to_string()),
        "{human}"
    );

    drop(tmux);
    (env, watch)
}

/// SIGTERM removes the watch's instance; SIGKILL cannot, and the next start
/// removes it.
fn instance_cleanup(root: &Path, env: &TestEnv, watch: Watch) {
    let pid = watch.pid();
    let st = watch.stop(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(!instance(root, pid).exists(), "instance left after SIGTERM");

    let killed = Watch::start(env, "1s");
    killed.cycles(1, Duration::from_secs(30));
    let stale = instance(root, killed.pid());
    assert!(stale.is_dir());
    let st = killed.stop(libc::SIGKILL);
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    assert!(stale.is_dir(), "a SIGKILLed watch cannot clean up");
    let next = Watch::start(env, "1s");
    next.cycles(1, Duration::from_secs(30));
    assert!(
        !stale.exists(),
        "the next start did not remove {}",
        stale.display()
    );
    let pid = next.pid();
    assert_eq!(next.stop(libc::SIGTERM).code(), Some(0));
    assert!(!instance(root, pid).exists());
}

const NO_TRACEFS_ENV: &str = "STRAY_TEST_DEATHS_CLI_NO_TRACEFS";

/// Unmounts every tracefs of this (private) mount namespace, stacked
/// mounts included.
fn unmount_every_tracefs() {
    for _ in 0..16 {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"tracefs")).then(|| f[1])
            })
            .collect();
        if points.is_empty() {
            return;
        }
        for p in points {
            let _ = Command::new("umount").arg(p).status();
        }
    }
}

#[test]
fn watch_without_tracefs_says_so_once_and_runs() {
    if !is_root() {
        skip("needs root: tracefs is only tried as root");
        return;
    }
    if stray::tracefs::find_root().is_some() {
        // Shown in a private mount namespace without it.
        if std::env::var_os(NO_TRACEFS_ENV).is_none() {
            rerun_in_mount_namespace(
                "watch_without_tracefs_says_so_once_and_runs",
                NO_TRACEFS_ENV,
            );
            return;
        }
        unmount_every_tracefs();
        if stray::tracefs::find_root().is_some() {
            skip("tracefs stays mounted even in a private mount namespace");
            return;
        }
    }
    let env = TestEnv::new();
    let watch = Watch::start(&env, "200ms");
    watch.cycles(4, Duration::from_secs(30));
    let err = watch.stderr_so_far();
    assert_eq!(
        err.matches("tracefs").count(),
        1,
        "tracefs is missing: said once, not per cycle:\n{err}"
    );
    assert_eq!(watch.stop(libc::SIGTERM).code(), Some(0));
    // doctor says how to get it, without failing over an optional feature.
    let (doc, _) = env.json(&["doctor"]);
    let c = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "signals")
        .cloned()
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(c["ok"], true, "{c}");
    assert!(
        c["fix"].as_str().unwrap().contains("mount -t tracefs"),
        "{c}"
    );
    let kmsg = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "oom-kills")
        .cloned()
        .unwrap();
    assert_eq!(kmsg["ok"], true, "{kmsg}");
}
