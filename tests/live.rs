//! The real thing: the built binary against real tmux servers on private
//! sockets and real processes named uniquely per test. Every process and
//! server here is created by the test and cleaned up by pid or socket.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn pane_grandchild_is_protected_and_orphan_is_reaped() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("a");
    // In a pane: shell → agent (a grandchild of the server).
    let tmux = Tmux::start(&env, &format!("sh -c '{} 300; :'", bin.display()));
    let in_pane = Proc::from_pid(find_descendant(tmux.server_pid, &name).expect("agent in pane"));
    // Outside: an orphan.
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");

    let (doc, out) = env.json(&["scan"]);
    assert!(out.status.success());
    assert_eq!(
        class_in_scan(&doc, in_pane.pid).as_deref(),
        Some("protected"),
        "{doc}"
    );
    assert_eq!(
        class_in_scan(&doc, orphan.pid).as_deref(),
        Some("orphan"),
        "{doc}"
    );
    let entry = scan_entry(&doc, in_pane.pid).unwrap();
    assert_eq!(entry["protected_by"]["kind"], "multiplexer-tree");
    assert_eq!(entry["protected_by"]["pid"], tmux.server_pid);

    let (doc, out) = env.json(&["reap"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{doc}");
    assert_eq!(actions[0]["pid"], orphan.pid);
    assert_eq!(actions[0]["signal"], "SIGTERM");
    assert_eq!(actions[0]["outcome"], "signalled");
    assert!(
        wait_until(Duration::from_secs(5), || !orphan.alive()),
        "orphan survived SIGTERM"
    );
    assert!(in_pane.alive(), "the pane's agent must live");

    // The audit log has the one signal.
    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["pid"], orphan.pid);
    assert_eq!(lines[0]["signal"], "SIGTERM");
    assert_eq!(lines[0]["class"], "orphan");
    assert_eq!(lines[0]["comm"], name);
}

#[test]
fn dry_run_sends_nothing_and_writes_nothing() {
    let mut env = TestEnv::new();
    let (_name, bin) = env.agent_bin("d");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let (doc, out) = env.json(&["reap", "--dry-run"]);
    assert!(out.status.success());
    assert_eq!(doc["dry_run"], true);
    let a = &doc["actions"][0];
    assert_eq!(a["pid"], orphan.pid);
    assert_eq!(a["signal"], "SIGTERM");
    assert_eq!(a["outcome"], "would-signal");
    std::thread::sleep(Duration::from_millis(200));
    assert!(orphan.alive());
    assert!(!env.state_dir().exists(), "dry run created the state dir");
    assert!(!env.audit_path().exists(), "dry run wrote the audit log");
}
