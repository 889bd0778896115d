//! Hardening through the library: races forced at the exact point between
//! classification and signal (a wrapping `Signaller` makes the process exit
//! or exec right before the real signaller runs), the executor's `denied`
//! path, fake `/proc` trees, the clock the plan runs on, and property tests
//! over the config and state parsers.

mod common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use stray::Config;
use stray::Expected;
use stray::LiveSignaller;
use stray::Policy;
use stray::ProcKey;
use stray::Settings;
use stray::{cycle, CycleOptions};
use stray::{plan, Outcome, Signal};
use stray::{Class, Verdict};
use stray::{RecordingSignaller, Signaller};
use stray::{State, StateDir};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(case)
}

/// A copy of a fixture under `dir`, owned by whoever runs the test: the
/// reader takes a process's uid from its directory's owner, and a non-root
/// run only considers its own processes.
fn fixture_in(dir: &Path, case: &str) -> PathBuf {
    let dest = dir.join(format!("proc-{case}"));
    copy_tree(&fixture(case), &dest);
    dest
}

/// Settings for a cycle against `proc_root` with agent `name`, reaper parent
/// `adopter`, min_age 0, the given grace, and an audit log under `dir`.
fn settings(dir: &Path, proc_root: &Path, name: &str, adopter: &str, grace: &str) -> Settings {
    let text = format!(
        "min_age = \"0s\"\ngrace = \"{grace}\"\nreaper_parents = [{adopter:?}]\n\
         audit_log = {:?}\n[match]\nnames = [{name:?}]\nexe = []\n",
        dir.join("audit.jsonl").display().to_string()
    );
    Settings::new(
        Config::parse(&text, Path::new("test.toml")).unwrap(),
        dir.join("state"),
        proc_root.to_path_buf(),
        stray::Format::Json,
    )
}

fn state_dir(s: &Settings) -> StateDir {
    StateDir::create(&s.state_dir).unwrap()
}

/// The audit log's `reap` lines: stray's own signals (the `oom-score-adj`
/// line of each orphan's raise is not what these tests are about).
fn audit(dir: &Path) -> Vec<serde_json::Value> {
    common::audit_events_in(&dir.join("audit.jsonl"), "reap")
}

fn opts() -> CycleOptions {
    CycleOptions {
        dry_run: false,
        ..CycleOptions::default()
    }
}

/// Runs `before` on the process right before handing the signal to the
/// real, pidfd-based signaller: the race, forced to happen every time.
struct RaceSignaller<F: FnMut(ProcKey)> {
    before: F,
    inner: LiveSignaller,
    calls: Vec<(ProcKey, Signal, Outcome)>,
}

impl<F: FnMut(ProcKey)> Signaller for RaceSignaller<F> {
    fn send(&mut self, expected: &Expected, signal: Signal) -> Outcome {
        (self.before)(expected.key);
        let o = self.inner.send(expected, signal);
        self.calls.push((expected.key, signal, o));
        o
    }
}

/// The candidate exits (and may even be reaped) between the scan and the
/// signal: the outcome is `gone`, recorded as such, the cycle succeeds and
/// the entry is not kept.
#[test]
fn candidate_that_exits_before_the_signal_is_gone() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("x");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    let s = settings(
        env.dir.path(),
        Path::new("/proc"),
        &name,
        &adopter_comm(&orphan),
        "60s",
    );
    let dir = state_dir(&s);
    let (pid, st) = (orphan.pid, orphan.start_time);
    let mut sig = RaceSignaller {
        before: |_key: ProcKey| {
            // SAFETY: kill has no memory-safety preconditions; pid is our own
            // child's, verified alive with its start time just before.
            if alive(pid, st) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            assert!(wait_until(Duration::from_secs(10), || !alive(pid, st)));
        },
        inner: LiveSignaller::new("/proc", true),
        calls: Vec::new(),
    };
    let report = cycle(&s, Some(&dir), &opts(), &mut sig).expect("no error exit");
    assert_eq!(sig.calls.len(), 1);
    assert_eq!(
        sig.calls[0].0,
        ProcKey {
            pid,
            start_time: st
        }
    );
    assert_eq!(sig.calls[0].2, Outcome::Gone);
    assert_eq!(report.actions[0].outcome, Outcome::Gone);
    let state = State::load(&dir, stray::current_boot_id().as_deref(), false).unwrap();
    assert!(state.state.reap.is_empty(), "{:?}", state.state.reap);
    let lines = audit(env.dir.path());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "gone");
    assert_eq!(lines[0]["signal"], "SIGTERM");
}

/// The candidate execs into another program between classification and the
/// signal: same pid, same start time, different comm. It must not be
/// signalled (the signaller checks comm and start time through the pidfd):
/// outcome `changed`.
#[test]
fn candidate_that_execs_before_the_signal_is_not_signalled() {
    let mut env = TestEnv::new();
    let name = unique_name("v");
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names.push(name.clone());
    let orphan = spawn_orphan(
        &env,
        &bin,
        &[
            "-c",
            "trap 'exec /bin/sleep 300' USR1; while :; do sleep 0.05; done",
        ],
    );
    let s = settings(
        env.dir.path(),
        Path::new("/proc"),
        &name,
        &adopter_comm(&orphan),
        "60s",
    );
    let dir = state_dir(&s);
    let (pid, st) = (orphan.pid, orphan.start_time);
    let mut sig = RaceSignaller {
        before: |_key: ProcKey| {
            orphan.signal(libc::SIGUSR1);
            assert!(
                wait_until(Duration::from_secs(10), || comm_of(pid).as_deref()
                    == Some("sleep")),
                "did not exec"
            );
        },
        inner: LiveSignaller::new("/proc", true),
        calls: Vec::new(),
    };
    let report = cycle(&s, Some(&dir), &opts(), &mut sig).expect("no error exit");
    assert_eq!(sig.calls.len(), 1);
    assert_eq!(
        sig.calls[0].2,
        Outcome::Changed,
        "the exec'd program was signalled"
    );
    assert_eq!(report.actions[0].outcome, Outcome::Changed);
    // Same pid and start time: only the comm check stood in the way.
    assert!(alive(pid, st));
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(pid, st), "exec'd process died: it got the signal");
    assert_eq!(comm_of(pid).as_deref(), Some("sleep"));
}

/// EPERM from the signaller is the outcome `denied`: reported, written to
/// the audit log, not an error. A denied SIGTERM is not recorded (retried
/// next cycle); a denied SIGKILL falls back to the SIGTERM step.
#[test]
fn denied_signals_are_reported_not_errors() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("n");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    let s = settings(
        env.dir.path(),
        Path::new("/proc"),
        &name,
        &adopter_comm(&orphan),
        "0s",
    );
    let dir = state_dir(&s);
    let mut sig = RecordingSignaller {
        outcomes: HashMap::from([(orphan.pid, Outcome::Denied)]),
        ..Default::default()
    };
    let r = cycle(&s, Some(&dir), &opts(), &mut sig).unwrap();
    assert_eq!(r.actions.len(), 1);
    assert_eq!(r.actions[0].signal, Some(Signal::Term));
    assert_eq!(r.actions[0].outcome, Outcome::Denied);
    let boot = stray::current_boot_id();
    assert!(State::load(&dir, boot.as_deref(), false)
        .unwrap()
        .state
        .reap
        .is_empty());
    // A second cycle tries SIGTERM again (not SIGKILL: nothing was delivered).
    sig.outcomes.clear();
    let r = cycle(&s, Some(&dir), &opts(), &mut sig).unwrap();
    assert_eq!(r.actions[0].signal, Some(Signal::Term));
    // Grace 0: SIGKILL next, denied, kept at the SIGTERM step.
    sig.outcomes.insert(orphan.pid, Outcome::Denied);
    let r = cycle(&s, Some(&dir), &opts(), &mut sig).unwrap();
    assert_eq!(r.actions[0].signal, Some(Signal::Kill));
    assert_eq!(r.actions[0].outcome, Outcome::Denied);
    let st = State::load(&dir, boot.as_deref(), false).unwrap().state;
    assert_eq!(st.reap.len(), 1);
    assert_eq!(st.reap[0].kill_at, None);
    let outcomes: Vec<_> = audit(env.dir.path())
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["signal"].as_str().unwrap(),
                l["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec!["SIGTERM denied", "SIGTERM signalled", "SIGKILL denied"]
    );
    // The fake never signals: the real process is untouched.
    assert!(orphan.alive());
}

// ---------------------------------------------------------------------------
// Fake /proc trees.

#[test]
fn proc_reader_skips_vanished_and_non_pid_entries() {
    let read = stray::read_table(&fixture("ok")).unwrap();
    let pids: Vec<i32> = read.table.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![1, 200], "300 has no stat: it exited mid-read");
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let p = read.table.get(200).unwrap();
    assert_eq!(
        (p.comm.as_str(), p.ppid, p.start_time),
        ("fixagent", 1, 100)
    );
}

#[test]
fn proc_reader_keeps_hostile_comm_exact() {
    let read = stray::read_table(&fixture("hostile")).unwrap();
    let p = read.table.get(400).unwrap();
    assert_eq!(p.comm, "x) Z 1 (y\nz");
    assert_eq!((p.state, p.ppid, p.start_time), ('S', 1, 100));
    assert!(read.problems.is_empty());
}

/// An unparsable or unreadable stat file is a problem that names the file;
/// a reap cycle over such a table signals nothing at all. Control: the same
/// tree without it yields a SIGTERM for the fake orphan.
#[test]
fn inconsistent_proc_tables_signal_nothing() {
    let t = tempfile::tempdir().unwrap();
    // Built at run time: git cannot hold a directory named `stat`.
    let unreadable = t.path().join("unreadable");
    copy_tree(&fixture("ok"), &unreadable);
    let ok_root = fixture_in(t.path(), "ok");
    fs::create_dir_all(unreadable.join("500/stat")).unwrap();

    let ok = settings(t.path(), &ok_root, "fixagent", "init", "60s");
    let dir = state_dir(&ok);
    let mut sig = RecordingSignaller::default();
    let r = cycle(&ok, Some(&dir), &opts(), &mut sig).unwrap();
    assert_eq!(
        sig.calls,
        vec![(
            ProcKey {
                pid: 200,
                start_time: 100
            },
            Signal::Term
        )]
    );
    assert_eq!(r.actions.len(), 1);

    let garbage = fixture_in(t.path(), "garbage");
    let truncated = fixture_in(t.path(), "truncated");
    for root in [garbage, truncated, unreadable] {
        let read = stray::read_table(&root).unwrap();
        assert_eq!(read.problems.len(), 1, "{root:?}: {:?}", read.problems);
        assert!(read.problems[0].contains("500/stat"), "{:?}", read.problems);
        let u = tempfile::tempdir().unwrap();
        let s = settings(u.path(), &root, "fixagent", "init", "60s");
        let dir = state_dir(&s);
        let mut sig = RecordingSignaller::default();
        let err = cycle(&s, Some(&dir), &opts(), &mut sig).unwrap_err();
        assert!(format!("{err:#}").contains("no signal sent"), "{err:#}");
        assert!(sig.calls.is_empty(), "{root:?}: {:?}", sig.calls);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Time: the plan sees only the boot clock.

fn orphan_verdict(pid: i32, start_time: u64) -> Verdict {
    Verdict {
        pid,
        start_time,
        class: Class::Orphan,
        policy: Policy::Reap,
        reason: String::new(),
        protected_by: None,
        rule: "name:x".into(),
        young_of: None,
    }
}

fn entry(term_at: f64) -> stray::Entry {
    stray::Entry {
        pid: 7,
        start_time: 70,
        comm: "x".into(),
        term_at,
        kill_at: None,
    }
}

/// The table's clock is CLOCK_BOOTTIME (seconds since boot, like
/// /proc/uptime), not the wall clock, so setting the date cannot move it.
#[test]
fn the_cycle_clock_is_boot_relative() {
    let read = stray::read_table(Path::new("/proc")).unwrap();
    let uptime: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now = read.table.now_boot;
    assert!(
        (now - uptime).abs() < 30.0,
        "now_boot {now} vs uptime {uptime}"
    );
    assert!(now < 1e9, "looks like wall-clock time: {now}");
}

/// SIGKILL comes exactly when grace has elapsed on the boot clock: not a
/// moment before, and (even from a term_at in the future) not never.
#[test]
fn grace_is_exact_on_the_boot_clock_and_never_forever() {
    let v = [orphan_verdict(7, 70)];
    let name = |_: i32| "x".to_string();
    let sig = |p: &stray::Plan| p.actions[0].signal();
    assert_eq!(sig(&plan(&v, &[entry(100.0)], 159.999, 60.0, name)), None);
    assert_eq!(
        sig(&plan(&v, &[entry(100.0)], 160.0, 60.0, name)),
        Some(Signal::Kill)
    );
    // A term_at ahead of now (a forged file, or a value from another
    // clock): wait one full grace from now, then kill.
    let p = plan(&v, &[entry(1e12)], 500.0, 60.0, name);
    assert_eq!(sig(&p), None);
    assert_eq!(p.next[0].term_at, 500.0);
    assert_eq!(sig(&plan(&v, &p.next, 559.0, 60.0, name)), None);
    assert_eq!(
        sig(&plan(&v, &p.next, 560.0, 60.0, name)),
        Some(Signal::Kill)
    );
}

// ---------------------------------------------------------------------------
// Fuzzing the parsers.

fn boot() -> String {
    stray::current_boot_id().unwrap_or_default()
}

/// A state that is valid and would make the fixture orphan (200, start 100)
/// due for SIGKILL.
fn kill_state() -> Vec<u8> {
    format!(
        "{{\"schema\":1,\"boot_id\":\"{}\",\"reap\":[{{\"pid\":200,\"start_time\":100,\"comm\":\"fixagent\",\"term_at\":1.0,\"kill_at\":null}}]}}",
        boot()
    )
    .into_bytes()
}

fn mutated_state() -> impl Strategy<Value = Vec<u8>> {
    let base = kill_state();
    let len = base.len();
    (
        0..=len,
        proptest::collection::vec((0..len, any::<u8>()), 0..4),
    )
        .prop_map(move |(cut, flips)| {
            let mut b = base.clone();
            for (i, v) in flips {
                b[i] = v;
            }
            b.truncate(cut);
            b
        })
}

fn toml_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "(min_age|grace|audit_log|reaper_parents|names|exe|cmdline|env|orphan|unmanaged|headless|multiplexers|pids|warn|crit|rss_warn|rss_crit|stall|ports|bogus) = (\"[ -~]{0,12}\"|-?[0-9]{1,22}|\\[(\"[a-z*/]{0,5}\", ?|[0-9]{1,6}, ?){0,3}\\]|true|1e999|\"\\\\u0000\")",
        "\\[(match|policy|protect|pty|check|sockets|bogus)\\]",
        "[ -~\n]{0,30}",
    ];
    proptest::collection::vec(line, 0..8).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Arbitrary text never panics the config parser; errors name the file.
    #[test]
    fn config_parser_never_panics(text in toml_like()) {
        if let Err(e) = Config::parse(&text, Path::new("fuzz.toml")) {
            prop_assert!(format!("{e:#}").contains("fuzz.toml"), "{e:#}");
        }
    }

    #[test]
    fn config_parser_never_panics_on_any_string(text in ".{0,200}") {
        let _ = Config::parse(&text, Path::new("fuzz.toml"));
    }

    /// Arbitrary bytes as state.json: no panic; either a valid state or
    /// moved aside byte for byte and replaced by an empty one.
    #[test]
    fn state_loader_quarantines_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::create(&t.path().join("s")).unwrap();
        fs::write(d.file("state.json"), &bytes).unwrap();
        let l = State::load(&d, Some("b"), true).unwrap();
        match serde_json::from_slice::<State>(&bytes) {
            Ok(s) if s.schema == 1 => prop_assert!(l.quarantined.is_none()),
            _ => {
                prop_assert!(l.state.reap.is_empty());
                let aside = l.quarantined.expect("moved aside");
                prop_assert_eq!(fs::read(&aside).unwrap(), bytes);
            }
        }
    }
}

/// Control for the property below: the intact file does escalate.
#[test]
fn intact_state_does_escalate() {
    let t = tempfile::tempdir().unwrap();
    let s = settings(
        t.path(),
        &fixture_in(t.path(), "ok"),
        "fixagent",
        "init",
        "60s",
    );
    let dir = state_dir(&s);
    fs::write(dir.file("state.json"), kill_state()).unwrap();
    fs::set_permissions(dir.file("state.json"), fs::Permissions::from_mode(0o600)).unwrap();
    let mut sig = RecordingSignaller::default();
    cycle(&s, Some(&dir), &opts(), &mut sig).unwrap();
    assert_eq!(
        sig.calls,
        vec![(
            ProcKey {
                pid: 200,
                start_time: 100
            },
            Signal::Kill
        )]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Garbage never turns into a signal: a mutated or truncated state file
    /// over the fixture table leads to SIGKILL only if what is left is still
    /// a valid state naming that exact process; anything else starts over
    /// with SIGTERM (or nothing).
    #[test]
    fn corrupt_state_never_escalates(bytes in mutated_state()) {
        let t = tempfile::tempdir().unwrap();
        let s = settings(t.path(), &fixture_in(t.path(), "ok"), "fixagent", "init", "60s");
        let dir = state_dir(&s);
        fs::write(dir.file("state.json"), &bytes).unwrap();
        fs::set_permissions(dir.file("state.json"), fs::Permissions::from_mode(0o600)).unwrap();
        let mut sig = RecordingSignaller::default();
        cycle(&s, Some(&dir), &opts(), &mut sig).unwrap();
        let valid = serde_json::from_slice::<State>(&bytes).is_ok_and(|st| {
            st.schema == 1
                && st.boot_id.as_deref() == Some(boot().as_str())
                && st.reap.iter().any(|e| e.pid == 200 && e.start_time == 100 && e.kill_at.is_none())
        });
        for (key, signal) in &sig.calls {
            prop_assert_eq!(*key, ProcKey { pid: 200, start_time: 100 });
            if *signal == Signal::Kill {
                prop_assert!(valid, "SIGKILL from {:?}", String::from_utf8_lossy(&bytes));
            }
        }
    }
}

/// One process of a generated family world: parent (index into earlier
/// processes, or none: PID 1), agent or not, a session marker value, a pid
/// marker (index of a process it names), the keep marker.
type FamProc = (Option<usize>, bool, Option<u8>, Option<usize>, bool);

/// Writes a fake /proc for `procs` (pids 100, 101, …; PID 1 is `init`):
/// `stat`, `cmdline` and `environ`, start times increasing with the pid.
fn family_proc_root(dir: &Path, procs: &[FamProc]) -> PathBuf {
    let root = dir.join("proc");
    let write = |pid: i32, comm: &str, ppid: i32, start: u64, env: &str| {
        let d = root.join(pid.to_string());
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("stat"),
            format!(
                "{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            ),
        )
        .unwrap();
        fs::write(d.join("cmdline"), format!("{comm}\0")).unwrap();
        fs::write(d.join("environ"), env).unwrap();
    };
    write(1, "init", 0, 1, "");
    for (i, (parent, agent, sess, pid_marker, keep)) in procs.iter().enumerate() {
        let pid = 100 + i as i32;
        let ppid = parent.filter(|&p| p < i).map_or(1, |p| 100 + p as i32);
        let mut env = String::new();
        if let Some(s) = sess {
            env += &format!("PROPSESS=session-{s}\0");
        }
        if let Some(n) = pid_marker {
            env += &format!("PROPPID={}\0", 100 + *n as i32);
        }
        if *keep {
            env += "STRAY_KEEP=1\0";
        }
        let comm = if *agent { "propagent" } else { "propchild" };
        write(pid, comm, ppid, 10 + i as u64 * 10, &env);
    }
    root
}

/// "Session alive" from the generated world alone: the process descends
/// from an agent, its pid marker names an agent no younger than it, or its
/// session value is carried by an agent or an agent's descendant.
fn family_session_alive(procs: &[FamProc]) -> Vec<bool> {
    let n = procs.len();
    let parent = |i: usize| procs[i].0.filter(|&p| p < i);
    let below_agent: Vec<bool> = (0..n)
        .map(|i| {
            let mut cur = parent(i);
            while let Some(p) = cur {
                if procs[p].1 {
                    return true;
                }
                cur = parent(p);
            }
            false
        })
        .collect();
    let live_sessions: Vec<u8> = (0..n)
        .filter(|&i| procs[i].1 || below_agent[i])
        .filter_map(|i| procs[i].2)
        .collect();
    (0..n)
        .map(|i| {
            below_agent[i]
                || procs[i].3.is_some_and(|m| m < n && procs[m].1 && m <= i)
                || procs[i].2.is_some_and(|s| live_sessions.contains(&s))
        })
        .collect()
}

fn fam_proc() -> impl Strategy<Value = FamProc> {
    (
        proptest::option::weighted(0.6, 0usize..12),
        proptest::bool::weighted(0.25),
        proptest::option::weighted(0.6, 0u8..3),
        proptest::option::weighted(0.4, 0usize..12),
        proptest::bool::weighted(0.1),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Agent families through a whole (dry) cycle on a generated /proc: no
    /// process whose session is alive is ever planned, nor one carrying
    /// the keep marker; and every non-agent planned is a leftover.
    #[test]
    fn no_process_whose_session_is_alive_is_ever_planned(
        procs in proptest::collection::vec(fam_proc(), 1..12),
    ) {
        let t = tempfile::tempdir().unwrap();
        let root = family_proc_root(t.path(), &procs);
        let text = format!(
            "min_age = \"0s\"\nreaper_parents = [\"init\"]\naudit_log = {:?}\n\
             [match]\nnames = [\"propagent\"]\nexe = []\n\
             [family]\nenv = [\"PROPSESS\", \"PROPPID=<pid>\"]\n",
            t.path().join("audit.jsonl").display().to_string()
        );
        let s = Settings::new(
            Config::parse(&text, Path::new("test.toml")).unwrap(),
            t.path().join("state"),
            root,
            stray::Format::Json,
        );
        let dir = state_dir(&s);
        let mut sig = RecordingSignaller::default();
        let r = cycle(&s, Some(&dir), &CycleOptions { dry_run: true, ..CycleOptions::default() }, &mut sig).unwrap();
        prop_assert!(sig.calls.is_empty());
        let alive = family_session_alive(&procs);
        for a in &r.actions {
            let i = (a.pid - 100) as usize;
            if a.pid < 100 || procs[i].1 {
                continue; // PID 1 never; agents follow the agent rules
            }
            prop_assert_eq!(a.class, Class::Leftover, "pid {}", a.pid);
            prop_assert!(!alive[i], "pid {} planned with a live session: {:?}", a.pid, procs);
            prop_assert!(!procs[i].4, "pid {} planned despite STRAY_KEEP=1", a.pid);
        }
    }
}

/// The property above is not vacuous: the same world-builder yields a
/// planned leftover when no live session has its value, and none when an
/// agent's child carries it.
#[test]
fn generated_family_worlds_plan_leftovers() {
    let run = |procs: &[FamProc]| -> Vec<(i32, Class)> {
        let t = tempfile::tempdir().unwrap();
        let root = family_proc_root(t.path(), procs);
        let text = "min_age = \"0s\"\nreaper_parents = [\"init\"]\n[match]\nnames = [\"propagent\"]\nexe = []\n\
                    [family]\nenv = [\"PROPSESS\", \"PROPPID=<pid>\"]\n";
        let mut s = Settings::new(
            Config::parse(text, Path::new("test.toml")).unwrap(),
            t.path().join("state"),
            root,
            stray::Format::Json,
        );
        s.audit_log = t.path().join("audit.jsonl");
        let mut sig = RecordingSignaller::default();
        let r = cycle(
            &s,
            None,
            &CycleOptions {
                dry_run: true,
                ..CycleOptions::default()
            },
            &mut sig,
        )
        .unwrap();
        r.actions.iter().map(|a| (a.pid, a.class)).collect()
    };
    let dead = [(None, false, Some(1), None, false)];
    assert_eq!(run(&dead), vec![(100, Class::Leftover)]);
    let live = [
        (None, false, Some(1), None, false),
        (None, true, None, None, false),
        (Some(1), false, Some(1), None, false),
    ];
    assert!(
        run(&live).iter().all(|(pid, _)| *pid == 101),
        "{:?}",
        run(&live)
    );
}
