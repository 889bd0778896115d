//! The real thing: the built binary against real tmux servers on private
//! sockets and real processes named uniquely per test. Every process and
//! server here is created by the test and cleaned up by pid or socket.

mod common;

use std::path::Path;
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
    // stray's own signals (the orphan's oom-score-adj raise is a line too).
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "reap")
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

#[test]
fn reparented_process_on_a_pane_tty_stays_protected() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("r");
    // The subshell starts the agent in the background and exits: the agent
    // is re-parented away from the pane but keeps the pane's terminal.
    let tmux = Tmux::start(
        &env,
        &format!("sh -c '({} 300 &); exec sleep 300'", bin.display()),
    );
    // Re-parented to PID 1 or a subreaper: found by its unique name.
    let agent = started(&name);
    assert_ne!(agent.ppid(), Some(tmux.server_pid));
    orphan_config(&env, &agent, "0s", "60s", "");

    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, agent.pid).expect("listed");
    assert_eq!(e["class"], "protected", "{doc}");
    assert_eq!(e["protected_by"]["kind"], "pane-tty");
    assert_eq!(e["protected_by"]["pid"], tmux.server_pid);
    let (doc, _) = env.json(&["reap"]);
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    assert!(agent.alive());
}

#[test]
fn headless_agent_under_a_live_script_is_reported_not_reaped() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("h");
    // The script (sh) is orphaned; the agent's parent, sh, is alive.
    let script = spawn_orphan(
        &env,
        Path::new("sh"),
        &["-c", &format!("{} 300; :", bin.display())],
    );
    // Wait for the exec: until then the child is still called `sh`.
    let agent = Proc::from_pid(find_descendant(script.pid, &name).expect("agent under the script"));
    orphan_config(&env, &script, "0s", "60s", "");
    let (doc, _) = env.json(&["scan"]);
    assert_eq!(
        class_in_scan(&doc, agent.pid).as_deref(),
        Some("headless"),
        "{doc}"
    );
    let (doc, _) = env.json(&["reap"]);
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    assert_eq!(doc["summary"]["classes"]["headless"], 1);
    assert!(agent.alive());
}

#[test]
fn term_ignoring_orphan_is_killed_only_after_grace() {
    let mut env = TestEnv::new();
    let name = unique_name("k");
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names.push(name.clone());
    let orphan = spawn_orphan(
        &env,
        &bin,
        &["-c", "trap '' TERM; while :; do sleep 1; done"],
    );
    wait_term_ignored(&orphan);
    orphan_config(&env, &orphan, "0s", "2s", "");

    let (doc, _) = env.json(&["reap"]);
    assert_eq!(doc["actions"][0]["signal"], "SIGTERM", "{doc}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(orphan.alive(), "TERM is ignored");
    // Within grace: waiting, no signal.
    let (doc, _) = env.json(&["reap", "--grace", "1h"]);
    assert_eq!(doc["actions"][0]["outcome"], "waiting", "{doc}");
    assert_eq!(doc["actions"][0]["signal"], serde_json::Value::Null);
    assert!(orphan.alive());
    // After grace: SIGKILL.
    std::thread::sleep(Duration::from_millis(2100));
    let (doc, _) = env.json(&["reap"]);
    assert_eq!(doc["actions"][0]["signal"], "SIGKILL", "{doc}");
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
    // Gone: dropped from the state, nothing more to do.
    let (doc, _) = env.json(&["reap"]);
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    let signals: Vec<String> = std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "reap")
        .map(|e| e["signal"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(signals, vec!["SIGTERM", "SIGKILL"]);
}

#[test]
fn reap_wait_runs_the_whole_escalation() {
    let mut env = TestEnv::new();
    let name = unique_name("w");
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names.push(name.clone());
    let stubborn = spawn_orphan(
        &env,
        &bin,
        &["-c", "trap '' TERM; while :; do sleep 1; done"],
    );
    wait_term_ignored(&stubborn);
    let (_n2, sleeper) = env.agent_bin("w");
    let polite = spawn_orphan(&env, &sleeper, &["300"]);
    orphan_config(&env, &stubborn, "0s", "1s", "");
    let (doc, out) = env.json(&["reap", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stubborn.alive() && !polite.alive(), "{doc}");
    // Every step of the escalation is reported, not only the last.
    let signals_of = |pid: i32| -> Vec<String> {
        doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["pid"] == pid)
            .map(|a| a["signal"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(signals_of(stubborn.pid), ["SIGTERM", "SIGKILL"], "{doc}");
    assert_eq!(signals_of(polite.pid), ["SIGTERM"], "{doc}");
}

#[test]
fn daemon_serving_a_pane_is_protected_until_its_client_leaves() {
    let mut env = TestEnv::new();
    let daemon_name = unique_name("s");
    env.names.push(daemon_name.clone());
    let sock = env.path("daemon.sock");
    // A "shared daemon": renames itself (PR_SET_NAME) to the agent name,
    // listens, and holds every accepted connection.
    let daemon_py = format!(
        "import ctypes,socket,time\n\
         ctypes.CDLL(None).prctl(15, b'{daemon_name}', 0, 0, 0)\n\
         s=socket.socket(socket.AF_UNIX); s.bind('{}'); s.listen(4)\n\
         conns=[]\n\
         while True:\n    c,_=s.accept(); conns.append(c)\n",
        sock.display()
    );
    let daemon = spawn_orphan(&env, Path::new("python3"), &["-c", &daemon_py]);
    assert!(
        wait_until(Duration::from_secs(10), || sock.exists()),
        "daemon socket"
    );
    assert!(wait_until(Duration::from_secs(5), || comm_is(
        daemon.pid,
        &daemon_name
    )));
    orphan_config(&env, &daemon, "0s", "60s", "");

    // A client in a tmux pane connects and stays.
    let client_py = format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX); s.connect('{}')\nopen('{}','w').close()\ntime.sleep(300)\n",
        sock.display(),
        env.path("connected").display()
    );
    let tmux = Tmux::start(&env, "sleep 300");
    let client_pane = tmux.new_window(&format!("python3 -c \"{client_py}\""));
    assert!(
        wait_until(Duration::from_secs(10), || env.path("connected").exists()),
        "client connected"
    );
    let client = Proc::from_pid(client_pane);

    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, daemon.pid).expect("daemon listed");
    assert_eq!(e["class"], "protected", "{doc}");
    assert_eq!(e["protected_by"]["kind"], "serves");
    let (doc, _) = env.json(&["reap"]);
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    assert!(daemon.alive());

    // The client leaves: the daemon is an ordinary orphan.
    reaped_once_its_client_leaves(&env, &client, &daemon);
}

#[test]
fn corrupt_state_is_moved_aside_and_the_cycle_goes_on() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("c");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    std::fs::create_dir(env.state_dir()).unwrap();
    std::fs::set_permissions(
        env.state_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(
        env.state_dir().join("state.json"),
        "{\"schema\": 1, \"reap\": [{\"pid\": ",
    )
    .unwrap();
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt state"), "{stderr}");
    assert_eq!(
        doc["actions"][0]["signal"], "SIGTERM",
        "a fresh start: {doc}"
    );
    let aside: Vec<_> = std::fs::read_dir(env.state_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    let fresh: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.state_dir().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(fresh["reap"][0]["pid"], orphan.pid);
}

#[test]
fn symlinked_state_dir_is_refused_and_nothing_is_sent() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("l");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let real = env.path("real-state");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, env.state_dir()).unwrap();
    let out = env.run(&["reap"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("symlink") && stderr.contains(&*env.state_dir().to_string_lossy()),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(orphan.alive());
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn concurrent_reaps_send_exactly_one_sigterm_each() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("x");
    let orphans: Vec<Proc> = (0..3).map(|_| spawn_orphan(&env, &bin, &["300"])).collect();
    orphan_config(&env, &orphans[0], "0s", "1h", "");
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.cmd()
                .args(["reap", "--lock-wait", "60s"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let events: Vec<serde_json::Value> = std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "reap")
        .collect();
    // One raise each, too, however many reaps raced.
    let raises = std::fs::read_to_string(env.audit_path())
        .unwrap()
        .matches("\"oom-score-adj\"")
        .count();
    assert_eq!(raises, 3);
    for o in &orphans {
        let terms = events
            .iter()
            .filter(|e| e["pid"] == o.pid && e["signal"] == "SIGTERM")
            .count();
        assert_eq!(terms, 1, "pid {}: {events:?}", o.pid);
    }
    assert_eq!(events.len(), 3);
}

#[test]
fn lock_busy_exits_75_and_names_the_holder() {
    let env = TestEnv::new();
    std::fs::create_dir(env.state_dir()).unwrap();
    std::fs::set_permissions(
        env.state_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(env.state_dir().join("lock"))
        .unwrap();
    use std::io::Write;
    writeln!(&lock, "4242").unwrap();
    // SAFETY: flock on a valid fd.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    let out = env.run(&["reap", "--lock-wait", "100ms"]);
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pid 4242"), "{stderr}");
}

/// Runs stray with a liveness bound: a hung child fails the test instead
/// of hanging the suite.
fn run_bounded(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let watchdog = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
            if stat_of(pid).is_none_or(|s| s.1 == 'Z') {
                return false;
            }
        }
        // SAFETY: kill on our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.join().unwrap(), "stray hung");
    out
}

#[test]
fn hung_or_missing_tmux_changes_no_verdict() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("t");
    let tmux = Tmux::start(&env, &format!("sh -c '{} 300; :'", bin.display()));
    let agent = Proc::from_pid(find_descendant(tmux.server_pid, &name).unwrap());
    let hung_dir = env.path("hung-bin");
    std::fs::create_dir(&hung_dir).unwrap();
    let fake = hung_dir.join("tmux");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    for path in [
        format!("{}:{path}", hung_dir.display()),
        "/nonexistent".to_string(),
    ] {
        let mut c = env.cmd();
        c.env("PATH", &path).args(["--format", "json", "scan"]);
        let out = run_bounded(c, Duration::from_secs(60));
        assert!(out.status.success());
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            class_in_scan(&doc, agent.pid).as_deref(),
            Some("protected"),
            "PATH={path}: {doc}"
        );
        let mut c = env.cmd();
        c.env("PATH", &path)
            .args(["--format", "json", "reap", "--dry-run"]);
        let out = run_bounded(c, Duration::from_secs(60));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    }
    assert!(agent.alive());
}

#[test]
fn explain_shows_the_chain_to_the_pane() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("e");
    let tmux = Tmux::start(&env, &format!("sh -c '{} 300; :'", bin.display()));
    let agent = find_descendant(tmux.server_pid, &name).unwrap();
    let out = env.run(&["explain", &agent.to_string()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(": protected"), "{text}");
    assert!(
        text.contains(&format!("{} (tmux: server)", tmux.server_pid)),
        "{text}"
    );
    assert!(text.contains("pane:     main:0.0"), "{text}");
    let (doc, _) = env.json(&["explain", &agent.to_string()]);
    assert_eq!(doc["process"]["class"], "protected");
    assert_eq!(doc["agent"], true);
    assert_eq!(doc["process"]["pane"], "main:0.0");
    // No such pid: exit 1.
    let out = env.run(&["explain", "999999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("999999999"));
}

#[test]
fn exe_env_and_cmdline_rules_match_without_names() {
    let mut env = TestEnv::new();
    // This test's own [match] rules, each specific to its temp dir or token.
    env.names.clear();
    // A number `sleep` accepts, unique to this test, for the cmdline rule.
    let token = format!("0.000{}{}", std::process::id(), unique_name("m").len());
    let versions = env.path("claude/versions");
    std::fs::create_dir_all(&versions).unwrap();
    let native = versions.join("2.1.233");
    copy_exe("/bin/sleep", &native);
    let plain = env.path("bin/plainsleep");
    copy_exe("/bin/sleep", &plain);
    let by_exe = spawn_orphan(&env, &native, &["300"]);
    let by_cmdline = spawn_orphan(&env, &plain, &["301", &token]);
    let by_env = {
        let mut c = std::process::Command::new("setsid");
        c.args([
            "sh",
            "-c",
            "\"$0\" 302 </dev/null >/dev/null 2>&1 & echo $!",
        ])
        .arg(&plain);
        env.isolate(&mut c);
        c.env("STRAY_TEST_MARK", &token);
        let out = c.output().unwrap();
        Proc::from_pid(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
    };
    let other = spawn_orphan(&env, &plain, &["303"]);
    // No --name: the [match] rules are in force, each specific to this test.
    env.write_config(&format!(
        "min_age = \"0s\"\nreaper_parents = [{:?}]\n[match]\nnames = []\nexe = [\"{}/*\"]\ncmdline = [\"{}\"]\nenv = [\"STRAY_TEST_MARK={token}\"]\n",
        adopter_comm(&by_exe),
        versions.display(),
        token.replace('.', "\\\\.")
    ));
    let (doc, _) = env.json(&["scan"]);
    let rule = |p: &Proc| scan_entry(&doc, p.pid).map(|e| e["rule"].as_str().unwrap().to_string());
    assert_eq!(
        rule(&by_exe),
        Some(format!("exe:{}/*", versions.display())),
        "{doc}"
    );
    assert_eq!(
        rule(&by_cmdline),
        Some(format!("cmdline:{}", token.replace('.', "\\.")))
    );
    assert_eq!(rule(&by_env), Some(format!("env:STRAY_TEST_MARK={token}")));
    assert_eq!(rule(&other), None);
    assert_eq!(scan_entry(&doc, by_exe.pid).unwrap()["comm"], "2.1.233");
    assert_eq!(doc["processes"].as_array().unwrap().len(), 3, "{doc}");
}

#[test]
fn reap_then_log_reads_it_back() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("g");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let out = env.run(&["reap"]);
    assert!(out.status.success());
    // The stderr line, for journald.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("SIGTERM pid {}", orphan.pid)),
        "{stderr}"
    );
    let (doc, _) = env.json(&["log", "--pid", &orphan.pid.to_string()]);
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "the raise and the signal: {doc}");
    assert_eq!(events[0]["event"], "oom-score-adj");
    assert_eq!(events[1]["event"], "reap");
    assert_eq!(events[1]["outcome"], "signalled");
    let (doc, _) = env.json(&["log", "--pid", "1"]);
    assert!(doc["events"].as_array().unwrap().is_empty());
    let out = env.run(&["log", "--since", "1h"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&orphan.pid.to_string()));
}

#[test]
fn young_orphans_wait_for_min_age() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("y");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "1h", "60s", "");
    let (doc, _) = env.json(&["scan"]);
    assert_eq!(class_in_scan(&doc, orphan.pid).as_deref(), Some("young"));
    let (doc, _) = env.json(&["reap"]);
    assert!(doc["actions"].as_array().unwrap().is_empty());
    let (doc, _) = env.json(&["reap", "--min-age", "0s"]);
    assert_eq!(doc["actions"][0]["signal"], "SIGTERM", "{doc}");
}

#[test]
fn errors_and_usage() {
    let env = TestEnv::new();
    env.write_config("[pty]\nwarn = 300\n");
    let out = env.run(&["scan"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.toml") && stderr.contains("pty.warn"),
        "{stderr}"
    );
    env.write_config("");
    assert_eq!(env.run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(env.run(&["reap", "--grace", "soon"]).status.code(), Some(2));
    assert_eq!(
        env.run(&["--format", "nagios", "scan"]).status.code(),
        Some(2)
    );
    let out = env
        .cmd()
        .args(["--name", "a-name-longer-than-15", "scan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn config_init_and_show() {
    let env = TestEnv::new();
    let dest = env.path("new/config.toml");
    env.run_ok(&["config", "init", dest.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        include_str!("../src/config.toml")
    );
    assert_eq!(
        env.run(&["config", "init", dest.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_stray"));
    env.isolate(&mut c);
    let out = c
        .env("STRAY_CONFIG", &dest)
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("min_age = \"1m\"") && shown.contains(dest.to_str().unwrap()),
        "{shown}"
    );
}

#[test]
fn kill_fallback_without_pidfds_signals_the_same_way() {
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("f");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let out = env
        .cmd()
        .env("STRAY_NO_PIDFD", "1")
        .args(["--format", "json", "reap"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["actions"][0]["pid"], orphan.pid, "{doc}");
    assert_eq!(doc["actions"][0]["outcome"], "signalled");
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
}
