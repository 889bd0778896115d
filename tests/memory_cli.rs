//! Memory through the binary (SPEC "Memory"): strays get `oom_score_adj`
//! 1000 from a cycle, audited once, planned by a dry run; nobody else is
//! touched; and `stray watch` runs a cycle at once under real memory
//! pressure, with `pressure_min_age` and without waiting out `grace`.

#![cfg(target_os = "linux")]

mod common;
#[path = "support/kernel.rs"]
mod kernel;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{adj, is_root, set_adj, skip, Proc, TestEnv};
use kernel::{compile_helper, copy_as, MemCgroup};

#[test]
fn strays_die_first_and_nobody_else_is_touched() {
    if !is_root() {
        skip("needs root: lowering oom_score_adj to set up start values");
        return;
    }
    let mut env = TestEnv::new();
    let (_, bin) = env.agent_bin("ma");
    // A young orphan (min_age 1h): raised although it is not signalled yet.
    let orphan = common::spawn_orphan(&env, &bin, &["300"]);
    common::orphan_config(&env, &orphan, "1h", "60s", "");
    // A headless agent: no tty, its parent (this test) alive.
    let headless = Proc::from_child(
        Command::new("setsid")
            .arg(&bin)
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // A protected agent in a tmux pane.
    let tmux = common::Tmux::start(&env, &format!("{} 300", bin.display()));
    let pane = tmux.first_pane_pid();
    // An orphan that is no agent.
    let (_, plain) = copy_as(env.dir.path(), std::path::Path::new("/bin/sleep"), "mn");
    let stranger = common::spawn_orphan(&env, &plain, &["300"]);
    for p in [orphan.pid, headless.pid, pane, stranger.pid] {
        set_adj(p, 0);
    }

    // The dry run plans the raise and does nothing.
    let (doc, out) = env.json(&["reap", "--dry-run"]);
    assert!(out.status.success());
    let planned = doc["oom_score_adj"]
        .as_array()
        .unwrap_or_else(|| panic!("no oom_score_adj list: {doc}"));
    assert_eq!(planned.len(), 1, "{doc}");
    assert_eq!(planned[0]["pid"], orphan.pid);
    assert_eq!(planned[0]["from"], 0);
    assert_eq!(planned[0]["to"], 1000);
    assert_eq!(planned[0]["outcome"], "would-raise");
    assert_eq!(adj(orphan.pid), 0, "a dry run wrote oom_score_adj");
    assert!(env.audit_lines().is_empty());
    let human = String::from_utf8_lossy(&env.run(&["reap", "--dry-run"]).stdout).into_owned();
    assert!(human.contains("oom_score_adj"), "{human}");

    let out = env.run(&["reap"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(adj(orphan.pid), 1000);
    assert!(orphan.alive(), "a young orphan was signalled");
    assert_eq!(adj(headless.pid), 0, "headless touched");
    assert_eq!(adj(pane), 0, "protected touched");
    assert_eq!(adj(stranger.pid), 0, "a non-agent touched");
    let evs = env.audit_events_for("oom-score-adj", orphan.pid);
    assert_eq!(evs.len(), 1, "{:#?}", env.audit_lines());
    assert_eq!(evs[0]["from"], 0);
    assert_eq!(evs[0]["to"], 1000);
    assert_eq!(evs[0]["start_time"], orphan.start_time);
    assert_eq!(evs[0]["class"], "young");
    assert_eq!(env.audit_lines().len(), 1, "{:#?}", env.audit_lines());

    // Already at 1000: not raised, not audited again.
    assert!(env.run(&["reap"]).status.success());
    assert_eq!(env.audit_events_for("oom-score-adj", orphan.pid).len(), 1);
    // Never lowered: a value above the target stays (target 500 here).
    common::orphan_config(
        &env,
        &orphan,
        "1h",
        "60s",
        "[memory]\noom_score_adj = 500\n",
    );
    assert!(env.run(&["reap"]).status.success());
    assert_eq!(adj(orphan.pid), 1000);
    // 0 turns it off.
    set_adj(orphan.pid, 0);
    common::orphan_config(&env, &orphan, "1h", "60s", "[memory]\noom_score_adj = 0\n");
    assert!(env.run(&["reap"]).status.success());
    assert_eq!(adj(orphan.pid), 0);
    drop(tmux);
}

#[test]
fn memory_config_errors_name_key_and_file() {
    let env = TestEnv::new();
    for (text, key) in [
        ("[memory]\noom_score_adj = 1001\n", "oom_score_adj"),
        ("[memory]\noom_score_adj = -1\n", "oom_score_adj"),
        ("[memory]\npressure = \"some 10%\"\n", "pressure"),
        (
            "[memory]\npressure_min_age = \"soon\"\n",
            "pressure_min_age",
        ),
        ("[check]\noom_window = \"x\"\n", "oom_window"),
        ("[memory]\nbogus = 1\n", "bogus"),
    ] {
        env.write_config(text);
        let out = env.run(&["config", "show"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} was accepted");
        assert!(err.contains(key), "{text}: {err}");
        assert!(
            err.contains(&env.config_path().display().to_string()),
            "{text}: {err}"
        );
    }
    env.write_config(
        "[memory]\noom_score_adj = 900\npressure = \"full 20% 2s\"\npressure_min_age = \"5s\"\n[check]\noom_window = \"2h\"\n",
    );
    let out = env.run(&["config", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for want in [
        "oom_score_adj = 900",
        "full 20% 2s",
        "5s",
        "oom_window",
        "2h",
    ] {
        assert!(text.contains(want), "config show lacks {want}:\n{text}");
    }
}

#[test]
fn watch_runs_a_cycle_at_once_under_real_memory_pressure() {
    if !is_root() {
        skip("needs root: memory cgroups");
        return;
    }
    if !std::path::Path::new("/proc/pressure/memory").exists() {
        skip("no /proc/pressure/memory: kernel without PSI");
        return;
    }
    let mut env = TestEnv::new();
    let helper = compile_helper(env.dir.path());
    let (_, thrasher) = copy_as(env.dir.path(), &helper, "mt");
    let (_, bin) = env.agent_bin("mp");
    // An orphan that ignores SIGTERM: only SIGKILL ends it.
    let mut c = Command::new("setsid");
    c.arg("sh")
        .arg("-c")
        .arg("trap '' TERM; \"$0\" 300 </dev/null >/dev/null 2>&1 & echo $!")
        .arg(&bin);
    env.isolate(&mut c);
    let out = c.stdout(Stdio::piped()).output().unwrap();
    let orphan = Proc::from_pid(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap());
    common::wait_term_ignored(&orphan);
    common::wait_until(Duration::from_secs(5), || {
        orphan
            .ppid()
            .is_some_and(|p| p != std::process::id() as i32)
    });
    // Interval and min_age 1h, grace 1h: only pressure can make a second
    // cycle, signal this orphan, and kill it.
    common::orphan_config(
        &env,
        &orphan,
        "1h",
        "1h",
        "[memory]\npressure = \"some 5% 1s\"\npressure_min_age = \"0s\"\n",
    );
    let Some(cg) = MemCgroup::new("mpsi", 64 << 20) else {
        skip("no memory cgroup");
        return;
    };
    let mut watch = env
        .cmd()
        .args(["watch", "--interval", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = common::line_reader(watch.stdout.take().unwrap());
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("cycle 1");
    assert!(first.contains("cycle 1"), "{first}");
    assert!(orphan.alive());

    let file = env.dir.path().join("thrash.bin");
    let mut thrash = cg.spawn_thrasher(&thrasher, &file, 96);
    let started = Instant::now();
    let mut pressure_lines = Vec::new();
    while orphan.alive() && started.elapsed() < Duration::from_secs(90) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            if line.contains("cycle ") {
                pressure_lines.push(line);
            }
        }
    }
    let _ = thrash.kill();
    let _ = thrash.wait();
    // SAFETY: our own child.
    unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) };
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        !orphan.alive(),
        "no pressure cycle killed the orphan; cycles: {pressure_lines:#?}"
    );
    assert!(
        pressure_lines.iter().any(|l| l.contains("memory pressure")),
        "{pressure_lines:#?}"
    );
    let evs = env.audit_events_for("reap", orphan.pid);
    let term = evs
        .iter()
        .find(|e| e["signal"] == "SIGTERM")
        .unwrap_or_else(|| panic!("{evs:#?}"));
    let kill = evs
        .iter()
        .find(|e| e["signal"] == "SIGKILL")
        .unwrap_or_else(|| panic!("no SIGKILL before grace: {evs:#?}"));
    for e in [term, kill] {
        assert_eq!(e["trigger"], "memory pressure", "{e}");
    }
}
