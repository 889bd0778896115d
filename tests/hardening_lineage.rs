//! Re-parented versus started by (issue 10, cases 4 and 6), with real
//! processes: PID 1 of an agent's own PID namespace adopts it; a child
//! subreaper that no list names adopts it after an earlier cycle saw its
//! first parent; a process named like a listed reaper parent starts an agent
//! on purpose and keeps living. Every process here is a copy of `/bin/sleep`
//! or `/bin/sh` under a unique name, cleaned up by pid and start time.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A copy of `/bin/sh` under a unique name (not an agent name).
fn shell_bin(env: &TestEnv, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/sh", &bin);
    (name, bin)
}

/// Starts `bin -c script args…` in a session of its own (no controlling
/// terminal), optionally as a child subreaper.
fn spawn_shell(env: &TestEnv, bin: &Path, script: &str, args: &[&Path], subreaper: bool) -> Proc {
    let mut c = Command::new(bin);
    c.arg("-c").arg(script).arg(bin).args(args);
    env.isolate(&mut c);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Kept across execve (prctl(2)).
            if subreaper && libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Proc::from_child(c.spawn().unwrap())
}

fn wait_descendant(root: i32, comm: &str) -> Proc {
    let mut found = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            found = find_descendant(root, comm);
            found.is_some()
        }),
        "{comm} never appeared under {root}"
    );
    Proc::from_pid(found.unwrap())
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn nspid(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Case 4. Inside a fresh PID namespace whose init is a shell that no list
/// names: agent A runs under a live parent (an earlier cycle sees it), which
/// then exits, so A is re-parented to the namespace's PID 1; agent B is
/// started by a shell that leads its own session and exits at once (the
/// first cycle already sees it adopted). Both are orphans and are reaped.
#[test]
fn agent_adopted_by_pid1_of_its_own_pid_namespace_is_an_orphan() {
    if !is_root() {
        skip("needs root for a PID namespace (unshare --pid)");
        return;
    }
    let mut env = TestEnv::new();
    let (name_a, bin_a) = env.agent_bin("pa");
    let (name_b, bin_b) = env.agent_bin("pb");
    let (init_name, init_bin) = shell_bin(&env, "pi");
    let go = env.path("go");
    // The namespace's init: starts both, then stays (and reaps what it adopts).
    let init_script = r#"
        a=$1 b=$2 go=$3
        sh -c '"$0" 300 </dev/null >/dev/null 2>&1 & while [ ! -e "$1" ]; do sleep 0.05; done' "$a" "$go" &
        setsid sh -c '"$0" 300 </dev/null >/dev/null 2>&1 &' "$b"
        while :; do sleep 1; done
    "#;
    let mut c = Command::new("unshare");
    // --kill-child: when unshare dies (our cleanup), the namespace's init is
    // killed, and with it every process of the namespace.
    c.args(["--pid", "--fork", "--kill-child"])
        .arg(&init_bin)
        .arg("-c")
        .arg(init_script)
        .arg(&init_bin)
        .arg(&bin_a)
        .arg(&bin_b)
        .arg(&go);
    env.isolate(&mut c);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    in_own_session(&mut c);
    let unshare = Proc::from_child(c.spawn().unwrap());
    let init = wait_descendant(unshare.pid, &init_name);
    assert_eq!(nspid(init.pid).last(), Some(&1), "not a namespace's init");
    let a = wait_descendant(init.pid, &name_a);
    let b = wait_descendant(init.pid, &name_b);
    assert!(
        wait_until(Duration::from_secs(5), || b.ppid() == Some(init.pid)),
        "b was not re-parented to the namespace's init"
    );
    assert_ne!(a.ppid(), Some(init.pid));
    // No list names the init, and it is not the host's PID 1.
    env.write_config("min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = []\n");

    let (doc, _) = env.json(&["scan"]);
    assert_eq!(
        class_in_scan(&doc, a.pid).as_deref(),
        Some("headless"),
        "{doc}"
    );
    let e = scan_entry(&doc, b.pid).expect("b listed");
    assert_eq!(e["class"], "orphan", "{doc}");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains(&init.pid.to_string()),
        "{e}"
    );
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(action_for(&doc, a.pid).is_none(), "{doc}");
    let act = action_for(&doc, b.pid).expect("b planned");
    assert_eq!(
        (act["signal"].as_str(), act["outcome"].as_str()),
        (Some("SIGTERM"), Some("signalled")),
        "{doc}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !b.alive()),
        "b survived"
    );

    // A's parent exits: the namespace's init adopts A.
    std::fs::write(&go, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || a.ppid() == Some(init.pid)),
        "a was not re-parented to the namespace's init"
    );
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let act = action_for(&doc, a.pid).expect("a planned");
    assert_eq!(act["class"], "orphan", "{doc}");
    assert_eq!(act["signal"], "SIGTERM", "{doc}");
    assert!(
        wait_until(Duration::from_secs(5), || !a.alive()),
        "a survived"
    );
    assert!(init.alive(), "the namespace's init must be untouched");
}

/// Case 6a. A child subreaper that no list names (any process that called
/// PR_SET_CHILD_SUBREAPER) adopts an agent whose first parent an earlier
/// cycle saw: the remembered parent proves the re-parenting, so it is an
/// orphan and reaped. Before, it was `headless` for good.
#[test]
fn agent_adopted_by_an_unlisted_subreaper_after_an_earlier_cycle_is_reaped() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("sa");
    let (_sub_name, sub_bin) = shell_bin(&env, "sr");
    let go = env.path("go");
    let script = r#"
        sh -c '"$0" 300 </dev/null >/dev/null 2>&1 & while [ ! -e "$1" ]; do sleep 0.05; done' "$1" "$2" &
        while :; do sleep 1; done
    "#;
    let sub = spawn_shell(&env, &sub_bin, script, &[&bin, &go], true);
    let agent = wait_descendant(sub.pid, &name);
    let first_parent = agent.ppid().expect("alive");
    assert_ne!(first_parent, sub.pid);
    env.write_config("min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = []\n");

    // A real cycle that signals nothing still records the parent.
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.state_dir().join("state.json")).unwrap())
            .unwrap();
    let seen = state["lineage"]
        .as_array()
        .expect("lineage in the state")
        .iter()
        .find(|s| s["pid"] == agent.pid)
        .cloned()
        .expect("agent remembered");
    assert_eq!(seen["parent"]["pid"], first_parent, "{state}");

    std::fs::write(&go, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || agent.ppid() == Some(sub.pid)),
        "the subreaper did not adopt the agent"
    );
    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, agent.pid).expect("listed");
    assert_eq!(e["class"], "orphan", "{doc}");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("was {first_parent}")),
        "{e}"
    );
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let act = action_for(&doc, agent.pid).expect("planned");
    assert_eq!(
        (act["signal"].as_str(), act["outcome"].as_str()),
        (Some("SIGTERM"), Some("signalled")),
        "{doc}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !agent.alive()),
        "agent survived"
    );
    assert!(sub.alive(), "the subreaper must be untouched");
}

/// Case 6b. A process named like a listed reaper parent (as `tini` is)
/// starts the agent as its own direct child and keeps living: the agent
/// was started, not orphaned. It is `headless`, and no cycle, first sight
/// or later, signals it. Before, it was an orphan and got SIGTERM.
#[test]
fn agent_started_by_a_listed_reaper_parent_is_never_signalled() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("ta");
    let (tini_name, tini_bin) = shell_bin(&env, "ti");
    let script = r#"
        "$1" 300 </dev/null >/dev/null 2>&1 &
        while :; do sleep 1; done
    "#;
    let tini = spawn_shell(&env, &tini_bin, script, &[&bin], false);
    let agent = wait_descendant(tini.pid, &name);
    assert_eq!(agent.ppid(), Some(tini.pid));
    env.write_config(&format!(
        "min_age = \"0s\"\ngrace = \"0s\"\nreaper_parents = [{tini_name:?}]\n"
    ));

    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, agent.pid).expect("listed");
    assert_eq!(e["class"], "headless", "{doc}");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("started by reaper parent"),
        "{e}"
    );
    // Grace 0s: were it an orphan, the second cycle would SIGKILL it.
    for _ in 0..2 {
        let (doc, out) = env.json(&["reap"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(action_for(&doc, agent.pid).is_none(), "{doc}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(agent.alive(), "an agent its parent started was signalled");
    assert!(!env.audit_path().exists(), "nothing may be audited");
}
