//! Identity hardening, end to end: the built binary against real processes.
//!
//! - A process that execs another file between the scan and the signal,
//!   with the same comm and start time, is not signalled (`changed`),
//!   through a pidfd and through the `kill(2)` fallback. The race is forced
//!   with `strace` holding `stray` inside the syscall that comes between the
//!   scan and the identity check.
//! - A state file that is not ours (another owner, writable by others) is
//!   moved aside, never trusted into a SIGKILL.
//! - A thread-group leader that called `pthread_exit` while a thread runs
//!   is a running process: classified and reaped as one.
//!
//! Each test creates and cleans up only its own processes (by pid + start
//! time) and files.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

fn exe_of(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Bit `sig` of a `/proc/PID/status` signal mask line (`SigCgt:` …).
fn status_mask_has(pid: i32, line: &str, sig: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let mask = s
                .lines()
                .find_map(|l| l.strip_prefix(line))?
                .trim()
                .to_string();
            u64::from_str_radix(&mask, 16).ok()
        })
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

// ---------------------------------------------------------------------------
// Case 2: exec between the scan and the signal, with the same comm.

/// What the agent turns into on SIGUSR1.
#[derive(Clone, Copy, PartialEq)]
enum Becomes {
    /// `exec OTHER 300`, OTHER a copy of `/bin/sleep` under the same name
    /// in another directory: another file, another command line.
    AnotherFile,
    /// `exec -c SELF -c LOOP`: the same file under a command line without
    /// the marker and with an empty environment.
    Itself,
}

/// An agent that, on SIGUSR1, execs something else with the same comm and
/// start time: a copy of `/bin/bash` under the name NAME, run as
/// `NAME -c SCRIPT MARKER` with `STRAY_TEST_MARK=MARKER` in its
/// environment.
struct Shapeshifter {
    name: String,
    /// The executable after the exec.
    target: PathBuf,
    proc_: Proc,
}

fn shapeshifter(env: &mut TestEnv, marker: &str, into: Becomes) -> Shapeshifter {
    let name = unique_name("x");
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    let (target, exec) = match into {
        Becomes::AnotherFile => {
            fs::create_dir_all(env.path("bin2")).unwrap();
            let target = env.path(&format!("bin2/{name}"));
            copy_exe("/bin/sleep", &target);
            let exec = format!("exec {} 300", target.display());
            (target, exec)
        }
        Becomes::Itself => {
            let exec = format!("exec -c {} -c \"while :; do sleep 1; done\"", bin.display());
            (bin.clone(), exec)
        }
    };
    let script = format!("trap '{exec}' USR1; while :; do sleep 0.05; done");
    let mark = format!("STRAY_TEST_MARK={marker}");
    let bin_arg = bin.to_str().unwrap();
    // The marker is in the environment and the last argument ($0 of the
    // script): there before the exec, gone after it.
    let proc_ = spawn_orphan(
        env,
        Path::new("/usr/bin/env"),
        &[&mark, bin_arg, "-c", &script, marker],
    );
    assert!(
        wait_until(Duration::from_secs(10), || comm_of(proc_.pid).as_deref()
            == Some(name.as_str())
            && status_mask_has(proc_.pid, "SigCgt:", libc::SIGUSR1)),
        "trap never set"
    );
    Shapeshifter {
        name,
        target,
        proc_,
    }
}

/// `env.cmd()` under `strace`, which holds every call of `syscall` for 3 s
/// on entry.
fn under_strace(env: &TestEnv, syscall: &str, extra_env: &[(&str, &str)]) -> Command {
    let inner = env.cmd();
    let mut c = Command::new("strace");
    c.args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={syscall}"))
        .arg("-e")
        .arg(format!("inject={syscall}:delay_enter=3000000"))
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.envs(extra_env.iter().copied());
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// True while some thread of `pid` or of its descendants sits in syscall
/// number `nr` (`/proc/TID/syscall` names it while strace holds the entry).
fn in_syscall(root: i32, nr: i64) -> bool {
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) {
            for t in rd.flatten() {
                let now = fs::read_to_string(t.path().join("syscall")).unwrap_or_default();
                if now.split_whitespace().next() == Some(&nr.to_string()) {
                    return true;
                }
            }
        }
        stack.extend(children_of(pid));
    }
    false
}

/// One real `reap` cycle, held by strace in `syscall` (number `nr`), which
/// comes after the scan and before the identity check; while it is held,
/// the agent execs. Returns the reap's output.
fn reap_with_exec_in_between(
    env: &TestEnv,
    agent: &Shapeshifter,
    syscall: &str,
    nr: i64,
    extra_env: &[(&str, &str)],
    json: bool,
) -> Output {
    let mut c = under_strace(env, syscall, extra_env);
    if json {
        c.args(["--format", "json"]);
    }
    let child = c.arg("reap").spawn().expect("strace runs");
    let tracer = child.id() as i32;
    let held = wait_until(Duration::from_secs(60), || in_syscall(tracer, nr));
    if held {
        agent.proc_.signal(libc::SIGUSR1);
        assert!(
            wait_until(Duration::from_secs(2), || exe_of(agent.proc_.pid)
                .as_deref()
                == Some(agent.target.as_path())),
            "agent never exec'd"
        );
    }
    let out = child.wait_with_output().unwrap();
    assert!(held, "stray never reached {syscall}: {}", stderr(&out));
    out
}

/// Asserts the agent was not signalled: it is alive a while later, the same
/// process, still running the exec'd file under the same comm.
fn assert_untouched(agent: &Shapeshifter) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(agent.proc_.alive(), "the exec'd process got the signal");
    assert_eq!(
        exe_of(agent.proc_.pid).as_deref(),
        Some(agent.target.as_path())
    );
    assert_eq!(
        comm_of(agent.proc_.pid).as_deref(),
        Some(agent.name.as_str())
    );
}

fn assert_changed_in_audit(env: &TestEnv, agent: &Shapeshifter) {
    let mine = env.audit_events_for("reap", agent.proc_.pid);
    assert_eq!(mine.len(), 1, "{:?}", env.audit_events("reap"));
    assert_eq!(mine[0]["outcome"], "changed");
    assert_eq!(mine[0]["signal"], "SIGTERM");
    assert_eq!(mine[0]["start_time"], agent.proc_.start_time);
}

/// An agent matched by a `cmdline` rule (a unique marker in its argv)
/// execs a same-named binary without the marker while `stray` is held in
/// `pidfd_open`: it no longer matches, so it gets nothing; outcome
/// `changed` in the JSON report and the audit log, and no state entry.
#[test]
fn cmdline_agent_that_execs_before_the_signal_is_not_signalled() {
    rule_agent_exec_race(Rule::Cmdline, Becomes::AnotherFile, PIDFD);
}

/// The same through the `kill(2)` fallback.
#[test]
fn cmdline_agent_that_execs_before_the_signal_is_not_signalled_without_pidfds() {
    rule_agent_exec_race(Rule::Cmdline, Becomes::AnotherFile, KILL);
}

/// The same file exec'd again under a command line without the marker:
/// the executable is unchanged, only the rule itself, matched again,
/// stops the signal.
#[test]
fn cmdline_agent_that_re_execs_itself_without_the_marker_is_not_signalled() {
    rule_agent_exec_race(Rule::Cmdline, Becomes::Itself, PIDFD);
}

/// An `env` rule: the same file exec'd again with an empty environment.
#[test]
fn env_agent_that_re_execs_itself_without_the_marker_is_not_signalled() {
    rule_agent_exec_race(Rule::Env, Becomes::Itself, PIDFD);
}

#[test]
fn env_agent_that_re_execs_itself_without_the_marker_is_not_signalled_without_pidfds() {
    rule_agent_exec_race(Rule::Env, Becomes::Itself, KILL);
}

#[derive(Clone, Copy)]
enum Rule {
    Cmdline,
    Env,
}

/// Where strace holds the reap: `pidfd_open` on the pidfd path; on the
/// `kill(2)` fallback `fallocate` (the audit log's reservation, after the
/// scan and before the identity check).
type SignalPath = (&'static str, i64, &'static [(&'static str, &'static str)]);
const PIDFD: SignalPath = ("pidfd_open", libc::SYS_pidfd_open, &[]);
const KILL: SignalPath = ("fallocate", libc::SYS_fallocate, &[("STRAY_NO_PIDFD", "1")]);

fn rule_agent_exec_race(rule: Rule, into: Becomes, (syscall, nr, extra_env): SignalPath) {
    let mut env = TestEnv::new();
    let marker = unique_name("mk");
    let agent = shapeshifter(&mut env, &marker, into);
    // Only this test's own rule: no --name, no default names or exe globs.
    env.names.clear();
    let (key, rule_name) = match rule {
        Rule::Cmdline => ("cmdline", format!("cmdline:{marker}")),
        Rule::Env => ("env", format!("env:STRAY_TEST_MARK={marker}")),
    };
    let value = rule_name.split_once(':').unwrap().1;
    orphan_config(
        &env,
        &agent.proc_,
        "0s",
        "60s",
        &format!("[match]\nnames = []\nexe = []\n{key} = [\"{value}\"]\n"),
    );
    let out = reap_with_exec_in_between(&env, &agent, syscall, nr, extra_env, true);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = action_for(&doc, agent.proc_.pid).expect("the agent was planned");
    assert_eq!(a["signal"], "SIGTERM");
    assert_eq!(a["outcome"], "changed", "{doc}");
    assert_eq!(a["rule"], rule_name);
    assert_eq!(doc["summary"]["changed"], 1);
    assert_untouched(&agent);
    assert_changed_in_audit(&env, &agent);
    let state: Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["reap"], serde_json::json!([]), "{state}");
}

/// An agent matched by name execs another file under the same name while
/// `stray` is held in `pidfd_open`: comm, start time and rule still agree,
/// but it runs another file, so it is not the process classified. Nothing
/// is sent; `changed` in the human report, on stderr and in the audit log.
#[test]
fn named_agent_that_execs_another_file_before_the_signal_is_not_signalled() {
    named_agent_exec_race(PIDFD);
}

#[test]
fn named_agent_that_execs_another_file_before_the_signal_is_not_signalled_without_pidfds() {
    named_agent_exec_race(KILL);
}

fn named_agent_exec_race((syscall, nr, extra_env): SignalPath) {
    let mut env = TestEnv::new();
    let agent = shapeshifter(&mut env, "-", Becomes::AnotherFile);
    env.names = vec![agent.name.clone()];
    orphan_config(&env, &agent.proc_, "0s", "60s", "");
    let out = reap_with_exec_in_between(&env, &agent, syscall, nr, extra_env, false);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&agent.proc_.pid.to_string()))
        .unwrap_or_else(|| panic!("no row for the agent:\n{text}"));
    assert!(
        row.starts_with("SIGTERM") && row.trim_end().ends_with("changed"),
        "{text}"
    );
    assert!(text.contains("reap: 1 changed"), "{text}");
    assert!(
        stderr(&out).contains("changed"),
        "no event line: {}",
        stderr(&out)
    );
    assert_untouched(&agent);
    assert_changed_in_audit(&env, &agent);
    // Control: the next cycle classifies what runs now (the same name, so
    // still an agent) from scratch and signals it.
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = action_for(&doc, agent.proc_.pid).unwrap();
    assert_eq!(
        (&a["signal"], &a["outcome"]),
        (&"SIGTERM".into(), &"signalled".into())
    );
    assert!(wait_until(Duration::from_secs(10), || !agent.proc_.alive()));
}

// ---------------------------------------------------------------------------
// Case 3: a state file that is not ours.

/// A valid state file claiming that `orphan` got SIGTERM long ago (trusted,
/// it turns into a SIGKILL on the first cycle), made untrusted by `spoil`;
/// then one real cycle. The file must be moved aside unread, with one
/// message, and the orphan must get a fresh SIGTERM.
fn forged_state_is_not_trusted(spoil: impl FnOnce(&Path), why: &str) {
    let mut env = TestEnv::new();
    let (_name, bin) = env.agent_bin("s");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let dir = env.state_dir();
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let forged = format!(
        "{{\"schema\":1,\"boot_id\":\"{}\",\"reap\":[{{\"pid\":{},\"start_time\":{},\"comm\":\"x\",\"term_at\":1.0}}]}}",
        boot_id(),
        orphan.pid,
        orphan.start_time
    );
    let file = dir.join("state.json");
    fs::write(&file, &forged).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    spoil(&file);

    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = action_for(&doc, orphan.pid).expect("the orphan was planned");
    assert_eq!(a["signal"], "SIGTERM", "trusted the forged state: {doc}");
    assert_eq!(a["outcome"], "signalled");
    let err = stderr(&out);
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("state.json")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].contains("untrusted state")
            && notes[0].contains(why)
            && notes[0].contains("moved to"),
        "{err}"
    );
    // Moved aside byte for byte; a fresh file of ours in its place.
    let aside: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(fs::read_to_string(&aside[0]).unwrap(), forged);
    let meta = fs::symlink_metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (nix_uid(), 0o600));
    let state: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_ne!(state["reap"][0]["term_at"], 1.0, "{state}");
}

/// A state file owned by another user (root's state dir, file chowned to
/// nobody): moved aside, the orphan gets SIGTERM, not SIGKILL.
#[test]
fn state_file_of_another_owner_is_moved_aside_not_trusted() {
    if !is_root() {
        skip("needs root to give a file to nobody");
        return;
    }
    forged_state_is_not_trusted(
        |f| std::os::unix::fs::chown(f, Some(NOBODY), None).unwrap(),
        &format!("owned by uid {NOBODY}"),
    );
}

/// A state file of ours that anyone may write (0666): moved aside.
#[test]
fn world_writable_state_file_is_moved_aside_not_trusted() {
    forged_state_is_not_trusted(
        |f| fs::set_permissions(f, fs::Permissions::from_mode(0o666)).unwrap(),
        "writable by group or others (mode 666)",
    );
}

/// A state file of ours that its group may write (0620): moved aside.
#[test]
fn group_writable_state_file_is_moved_aside_not_trusted() {
    forged_state_is_not_trusted(
        |f| fs::set_permissions(f, fs::Permissions::from_mode(0o620)).unwrap(),
        "writable by group or others (mode 620)",
    );
}

// ---------------------------------------------------------------------------
// Case 5: a thread-group leader that called pthread_exit.

/// Its main thread calls `pthread_exit` once a worker thread runs; the
/// worker waits in `pause()` (a spinning worker changes nothing that stray
/// reads, and would only burn a shared CI core). The leader is then a
/// zombie with no memory map of its own; the process is alive.
const LEADER_EXITS: &str = r#"
#include <pthread.h>
#include <string.h>
#include <unistd.h>
static char touched[8 << 20];
static void *worker(void *arg) {
    (void)arg;
    for (;;) pause();
    return 0;
}
int main(void) {
    pthread_t t;
    memset(touched, 1, sizeof touched); /* 8 MiB resident */
    if (pthread_create(&t, 0, worker, 0) != 0) return 1;
    pthread_exit(0);
}
"#;

/// Compiles [`LEADER_EXITS`] with `cc` into the test's bin dir under a
/// fresh unique name (its comm). `None` when there is no C compiler.
fn leader_exits_bin(env: &TestEnv) -> Option<(String, PathBuf)> {
    let name = unique_name("z");
    let src = env.path("leader_exits.c");
    fs::write(&src, LEADER_EXITS).unwrap();
    let bin = env.path(&format!("bin/{name}"));
    let out = Command::new("cc")
        .args(["-O", "-pthread", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((name, bin))
}

/// The leader's stat state, and whether a thread other than the leader is
/// alive (running, sleeping: anything but Z and X).
fn leader_and_threads(pid: i32) -> (Option<char>, bool) {
    let leader = stat_of(pid).map(|s| s.1);
    let live_thread = fs::read_dir(format!("/proc/{pid}/task"))
        .map(|rd| {
            rd.flatten().any(|t| {
                let tid = t.file_name().to_string_lossy().to_string();
                tid != pid.to_string()
                    && fs::read_to_string(t.path().join("stat")).is_ok_and(|s| {
                        let state = s.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
                        !matches!(state, Some('Z' | 'X') | None)
                    })
            })
        })
        .unwrap_or(false);
    (leader, live_thread)
}

/// Kills the process by pid on drop, if it still has the same start time
/// (`Proc` spares zombies, and this one looks like one).
struct KillOnDrop(i32, u64);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if stat_of(self.0).is_some_and(|s| s.0 == self.1) {
            // SAFETY: kill has no memory-safety preconditions; the pid is
            // our test process's (same start time).
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// Starts the pthread_exit program as an orphan and waits until its leader
/// is a zombie with a live worker. `extra_args` go on its command line.
fn start_leader_exits(
    env: &mut TestEnv,
    extra_args: &[&str],
) -> Option<(String, Proc, KillOnDrop)> {
    let Some((name, bin)) = leader_exits_bin(env) else {
        skip("no C compiler (cc) to build the pthread_exit program");
        return None;
    };
    let proc_ = spawn_orphan(env, &bin, extra_args);
    let guard = KillOnDrop(proc_.pid, proc_.start_time);
    assert!(
        wait_until(Duration::from_secs(10), || leader_and_threads(proc_.pid)
            == (Some('Z'), true)),
        "leader never exited with its worker alive: {:?}",
        leader_and_threads(proc_.pid)
    );
    assert_eq!(comm_of(proc_.pid).as_deref(), Some(name.as_str()));
    Some((name, proc_, guard))
}

/// Scans, then reaps: the process is an orphan with its real RSS (not
/// `defunct` with RSS 0), gets SIGTERM, and dies with all its threads.
fn exited_leader_is_reaped(env: &TestEnv, orphan: &Proc, rule: &str) {
    let (doc, out) = env.json(&["scan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = scan_entry(&doc, orphan.pid).unwrap_or_else(|| panic!("not an agent: {doc}"));
    assert_eq!(p["class"], "orphan", "{p}");
    assert_ne!(p["state"], "Z", "{p}");
    assert!(p["rss_bytes"].as_u64().unwrap() >= 8 << 20, "{p}");
    assert_eq!(p["rule"], rule, "{p}");

    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = action_for(&doc, orphan.pid).unwrap_or_else(|| panic!("not planned: {doc}"));
    assert_eq!(
        (&a["signal"], &a["outcome"]),
        (&"SIGTERM".into(), &"signalled".into()),
        "{doc}"
    );
    // Dead: gone, or at most a zombie with no live thread left.
    assert!(
        wait_until(Duration::from_secs(10), || {
            stat_of(orphan.pid).is_none_or(|s| s.0 != orphan.start_time)
                || !leader_and_threads(orphan.pid).1
        }),
        "still running after SIGTERM"
    );
}

/// Matched by name (its comm).
#[test]
fn exited_leader_with_a_live_thread_is_an_orphan_and_is_reaped() {
    let mut env = TestEnv::new();
    let Some((name, orphan, _guard)) = start_leader_exits(&mut env, &[]) else {
        return;
    };
    env.names = vec![name.clone()];
    orphan_config(&env, &orphan, "0s", "60s", "");
    exited_leader_is_reaped(&env, &orphan, &format!("name:{name}"));
}

/// Matched by a `cmdline` rule: the command line, empty at
/// `/proc/PID/cmdline`, is read through the live thread, at the scan and
/// again in the check before the signal.
#[test]
fn exited_leader_with_a_live_thread_matches_cmdline_rules_through_the_thread() {
    let mut env = TestEnv::new();
    let marker = unique_name("zm");
    let Some((_name, orphan, _guard)) = start_leader_exits(&mut env, &[&marker]) else {
        return;
    };
    assert_eq!(
        fs::read(format!("/proc/{}/cmdline", orphan.pid)).unwrap(),
        b""
    );
    env.names.clear();
    orphan_config(
        &env,
        &orphan,
        "0s",
        "60s",
        &format!("[match]\nnames = []\nexe = []\ncmdline = [\"{marker}\"]\n"),
    );
    exited_leader_is_reaped(&env, &orphan, &format!("cmdline:{marker}"));
}
