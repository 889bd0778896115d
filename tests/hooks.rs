//! `stray hooks tmux`: the printed snippet, sourced into a real tmux server
//! on a private socket, reaps a closed session's orphan within seconds with
//! no timer running; a burst of closes runs one cycle; odd paths survive the
//! two levels of quoting (tmux, then the shell).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{wait_until, Proc, TestEnv, Tmux};

fn have_tmux() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The comm of the process that adopts the orphans of `tmux`'s panes: the
/// tmux server daemonized, so its own parent is that adopter.
fn adopter_of(tmux: &Tmux) -> String {
    let ppid = common::stat_of(tmux.server_pid).expect("server alive").2;
    common::comm_of(ppid).unwrap_or_default()
}

/// A config for hooked reaps: no min_age (the orphans are seconds old), the
/// adopter as a reaper parent, the audit log in the test's dir (the hook runs
/// in the tmux server's environment, not the test's).
fn hook_config(env: &TestEnv, tmux: &Tmux) {
    env.write_config(&format!(
        "min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = [{:?}]\naudit_log = {:?}\n",
        adopter_of(tmux),
        env.audit_path().display().to_string()
    ));
}

/// `stray hooks tmux` as this test runs stray (its binary, config, state
/// dir and names), sourced into `tmux`.
fn install_hooks(env: &TestEnv, tmux: &Tmux, snippet: &str) {
    let file = env.path("hooks.tmux.conf");
    std::fs::write(&file, snippet).unwrap();
    let out = tmux.cmd().arg("source-file").arg(&file).output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "source-file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn printed_snippet(env: &TestEnv) -> String {
    let out = env.run_ok(&["hooks", "tmux"]);
    String::from_utf8(out.stdout).unwrap()
}

/// A pane command: a shell that starts `agent` in the background with
/// `nohup` (like a job a shell tool leaves behind: it ignores SIGHUP, nothing
/// else), appends its pid to `pidfile`, and then becomes a `sleep`. When
/// the pane closes the shell dies, the kernel takes the terminal from its
/// session, and the agent is left with the dead shell's session and no
/// terminal under its adopter: an orphan.
fn pane_command(agent: &Path, pidfile: &Path) -> String {
    format!(
        "sh -c 'nohup {} 1000 </dev/null >/dev/null 2>&1 & echo $! >> {}; exec sleep 1000'",
        agent.display(),
        pidfile.display()
    )
}

/// The agents' pids from `pidfile`, once there are `n`, each past its exec
/// (its comm is `name`, not `nohup`).
fn agents_from(pidfile: &Path, n: usize, name: &str) -> Vec<Proc> {
    let mut pids: Vec<i32> = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            pids = std::fs::read_to_string(pidfile)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            pids.len() >= n
        }),
        "{n} agents never started"
    );
    pids.into_iter()
        .map(|pid| {
            assert!(
                wait_until(Duration::from_secs(5), || common::comm_is(pid, name)),
                "agent {pid} never exec'd"
            );
            Proc::from_pid(pid)
        })
        .collect()
}

#[test]
fn killing_a_session_reaps_its_orphan_without_a_timer() {
    if !have_tmux() {
        common::skip("tmux not installed");
        return;
    }
    let mut env = TestEnv::new();
    let (name, agent) = env.agent_bin("hk");
    let tmux = Tmux::start(&env, "sleep 1000");
    hook_config(&env, &tmux);
    install_hooks(&env, &tmux, &printed_snippet(&env));

    let pidfile = env.path("agents");
    common::output_ok(
        tmux.cmd()
            .args(["new-session", "-d", "-s", "work"])
            .arg(pane_command(&agent, &pidfile)),
    );
    let orphan_to_be = agents_from(&pidfile, 1, &name).remove(0);
    let (scan, _) = env.json(&["scan"]);
    assert_eq!(
        common::class_in_scan(&scan, orphan_to_be.pid).as_deref(),
        Some("protected"),
        "inside a live session it is protected: {scan}"
    );

    let out = tmux
        .cmd()
        .args(["kill-session", "-t", "work"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        wait_until(Duration::from_secs(10), || !orphan_to_be.alive()),
        "the orphan of the killed session was not reaped; audit: {:?}",
        env.audit_lines()
    );
    // And it was stray, through the hook (nothing else runs stray here). The
    // audit line is written just after the signal: wait for it.
    let by_stray = || {
        env.audit_lines().into_iter().any(|l| {
            l["pid"] == orphan_to_be.pid && l["signal"] == "SIGTERM" && l["outcome"] == "signalled"
        })
    };
    assert!(
        wait_until(Duration::from_secs(10), by_stray),
        "no SIGTERM in the audit log: {:?}",
        env.audit_lines()
    );
}

/// Counts files in `dir` whose names start with `prefix`.
fn count(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

/// Holds the cycle lock of a state dir, as a running cycle would (the file
/// is only kept open: the lock lives as long as it does).
struct HeldLock(#[allow(dead_code)] std::fs::File);

impl HeldLock {
    fn take(state_dir: &Path) -> HeldLock {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(state_dir.join("lock"))
            .unwrap();
        // SAFETY: flock on an fd we own; no memory is involved.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, 0, "cannot take the cycle lock");
        HeldLock(f)
    }
}

#[test]
fn a_burst_of_closes_runs_one_cycle_that_covers_them_all() {
    if !have_tmux() {
        common::skip("tmux not installed");
        return;
    }
    const PANES: usize = 20;
    let mut env = TestEnv::new();
    let (name, agent) = env.agent_bin("hb");
    let tmux = Tmux::start(&env, "sleep 1000");
    hook_config(&env, &tmux);
    // The state dir and its lock file exist after one (empty) cycle.
    env.run_ok(&["reap"]);

    // Each hooked run goes through a wrapper that records, per run, that it
    // started, what stray printed, and then its exit code.
    let runs = env.path("runs");
    std::fs::create_dir(&runs).unwrap();
    let wrapper = env.path("bin/stray-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n: > {runs}/start.$$\n{stray} --format json \"$@\" > {runs}/out.$$ 2>&1\n\
             echo $? > {runs}/tmprc.$$ && mv {runs}/tmprc.$$ {runs}/rc.$$\n",
            runs = runs.display(),
            stray = env!("CARGO_BIN_EXE_stray"),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let snippet = printed_snippet(&env);
    assert!(snippet.contains(env!("CARGO_BIN_EXE_stray")));
    let snippet = snippet.replace(env!("CARGO_BIN_EXE_stray"), &wrapper.display().to_string());
    install_hooks(&env, &tmux, &snippet);

    // PANES windows in the long-lived session, so that no session closes:
    // each close fires exactly pane-exited and window-unlinked.
    let pidfile = env.path("agents");
    let panes: Vec<Proc> = (0..PANES)
        .map(|_| Proc::from_pid(tmux.new_window(&pane_command(&agent, &pidfile))))
        .collect();
    let agents = agents_from(&pidfile, PANES, &name);

    // A cycle is running (the test holds its lock) while every pane closes.
    let held = HeldLock::take(&env.state_dir());
    for p in &panes {
        p.signal(libc::SIGTERM);
    }
    let fired = 2 * PANES;
    assert!(
        wait_until(Duration::from_secs(30), || count(&runs, "start.") >= fired),
        "only {} of {fired} hooks ran",
        count(&runs, "start.")
    );
    // All but one return at once: the one holding the queue slot covers them.
    assert!(
        wait_until(Duration::from_secs(30), || count(&runs, "rc.") == fired - 1),
        "{} of {fired} hooked runs finished while a cycle held the lock; want {}",
        count(&runs, "rc."),
        fired - 1
    );
    for a in &agents {
        assert!(
            a.alive(),
            "agent {} signalled while the lock was held",
            a.pid
        );
        assert!(
            wait_until(Duration::from_secs(5), || a.ppid()
                == Some(common::stat_of(tmux.server_pid).unwrap().2)),
            "agent {} was not re-parented",
            a.pid
        );
    }
    drop(held);
    assert!(
        wait_until(Duration::from_secs(30), || count(&runs, "rc.") == fired),
        "the queued run never finished"
    );
    assert_eq!(count(&runs, "start."), fired, "a hook fired late");

    // Exactly one run signalled; every other one said it was covered.
    let mut cycles = Vec::new();
    for entry in std::fs::read_dir(&runs).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file.strip_prefix("rc.") else {
            continue;
        };
        let rc = std::fs::read_to_string(entry.path()).unwrap();
        let out = std::fs::read_to_string(runs.join(format!("out.{pid}"))).unwrap();
        assert_eq!(rc.trim(), "0", "run {pid} failed: {out}");
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("run {pid}: {e}: {out}"));
        let coalesced = doc["notes"].as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n.as_str().is_some_and(|n| n.starts_with("coalesced")))
        });
        if !coalesced {
            cycles.push(doc);
        }
    }
    assert_eq!(cycles.len(), 1, "cycles run: {cycles:#?}");
    let signalled: Vec<i64> = cycles[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["signal"] == "SIGTERM" && a["outcome"] == "signalled")
        .map(|a| a["pid"].as_i64().unwrap())
        .collect();
    for a in &agents {
        assert!(
            signalled.contains(&(a.pid as i64)),
            "the one cycle did not cover agent {}: {signalled:?}",
            a.pid
        );
    }
    for a in &agents {
        assert!(wait_until(Duration::from_secs(10), || !a.alive()));
    }
}

#[test]
fn odd_paths_survive_tmux_and_shell_quoting() {
    if !have_tmux() {
        common::skip("tmux not installed");
        return;
    }
    let env = TestEnv::new();
    let tmux = Tmux::start(&env, "sleep 1000");
    // A fake stray in a directory whose name has every character that tmux
    // or the shell would otherwise interpret.
    let dir: PathBuf = env.path("we ird'$HOME#{pane_id}\"\\;x");
    std::fs::create_dir(&dir).unwrap();
    let fake = dir.join("stray");
    let record = env.path("argv");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\"; done > {}.tmp && mv {0}.tmp {0}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = dir.join("state dir");
    let globals = vec!["--state-dir".to_string(), state.display().to_string()];
    let snippet = stray::tmux_snippet(&fake.display().to_string(), &globals);
    install_hooks(&env, &tmux, &snippet);

    let pane = tmux.new_window("sleep 1000");
    Proc::from_pid(pane).signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(10), || record.exists()),
        "the hook never ran the fake stray"
    );
    let argv = std::fs::read_to_string(&record).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(argv[0], fake.display().to_string());
    assert_eq!(argv[1..3], ["--state-dir", &state.display().to_string()]);
    assert_eq!(
        argv[3..],
        ["-q", "reap", "--coalesce", "500ms", "--lock-wait", "2m"]
    );
}

#[test]
fn claude_hook_returns_at_once_and_reaps_once_claude_has_exited() {
    let mut env = TestEnv::new();
    let (name, agent) = env.agent_bin("hc");
    // Who adopts orphans here: learnt from a throwaway orphan (the config
    // must be right before the hook's reap starts, which is before the
    // orphan of this test exists).
    let adopter = {
        let probe = common::spawn_orphan(&env, Path::new("/bin/sleep"), &["1000"]);
        common::adopter_comm(&probe)
    };
    env.write_config(&format!(
        "min_age = \"0s\"\ngrace = \"60s\"\nreaper_parents = [{adopter:?}]\naudit_log = {:?}\n",
        env.audit_path().display().to_string()
    ));
    let out = env.run_ok(&["hooks", "claude"]);
    let settings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hook = &settings["hooks"]["SessionEnd"][0]["hooks"][0];
    assert_eq!(hook["type"], "command");
    let command = hook["command"].as_str().unwrap().to_string();

    // A stand-in for `claude`, leading its own session as a terminal's shell
    // would, and its child (an MCP server, say) in that session. Once
    // `claude` exits, the child carries a session that is neither its own nor
    // its adopter's: an orphan.
    let pidfile = env.path("agents");
    let mut c = std::process::Command::new("setsid");
    c.arg("sh").arg("-c").arg(format!(
        "nohup {} 1000 </dev/null >/dev/null 2>&1 & echo $! >> {}; exec sleep 1000",
        agent.display(),
        pidfile.display()
    ));
    env.isolate(&mut c);
    let claude = Proc::from_child(c.spawn().unwrap());
    let orphan_to_be = agents_from(&pidfile, 1, &name).remove(0);

    // Claude Code runs the hook through a shell while it is still alive and
    // waits for it; the hook must return at once, pipes closed, and leave
    // the reap waiting in the background.
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(&command);
    env.isolate(&mut sh);
    let done = sh.output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(orphan_to_be.alive() && orphan_to_be.ppid() == Some(claude.pid));
    // The reap is waiting in the background (it holds the queue slot) and
    // reads the table only after its delay, by which time `claude` is gone.
    assert!(
        wait_until(Duration::from_secs(10), || flock_held(
            &env.state_dir().join("queue.lock")
        )),
        "no reap is waiting after the hook returned"
    );

    // `claude` exits; its child is now an orphan, and the waiting reap takes it.
    claude.signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(15), || !orphan_to_be.alive()),
        "the orphan was not reaped after `claude` exited; audit: {:?}",
        env.audit_lines()
    );
    assert!(
        wait_until(Duration::from_secs(10), || env.audit_lines().iter().any(
            |l| {
                l["pid"] == orphan_to_be.pid
                    && l["signal"] == "SIGTERM"
                    && l["outcome"] == "signalled"
            }
        )),
        "no SIGTERM in the audit log: {:?}",
        env.audit_lines()
    );
}

/// Whether some process holds a flock on `path`, read from `/proc/locks`
/// without touching the lock (a probe that took it would make the waiting
/// reap think it was covered).
fn flock_held(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let inode = format!(":{}", meta.ino());
    std::fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("FLOCK"))
        .any(|l| {
            l.split_whitespace()
                .nth(5)
                .is_some_and(|f| f.ends_with(&inode))
        })
}
