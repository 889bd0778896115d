//! Hardening against bad input and hostile output, end to end: the built
//! binary fed config paths that are not files, durations and numbers that
//! overflow, process names that carry bidi controls, a textfile dir that is
//! missing, a SIGHUP, a `hidepid=2` /proc and a tmux socket path with a
//! newline. Each test creates and cleans up only its own processes (by pid
//! and start time), files, mounts and tmux servers (by socket path).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `c` with a deadline; a run that outlives it is killed (by its own
/// pid) and reported as `None`.
fn run_bounded(mut c: Command, limit: Duration) -> Option<Output> {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Some(out.unwrap()),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the pid is
            // our own child, not yet reaped (the waiter thread holds it).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv_timeout(Duration::from_secs(5));
            None
        }
    }
}

// ---------------------------------------------------------------- case 7

/// SECURITY: a config path that names a FIFO, a device or a huge file is
/// refused at once with one line naming it; nothing hangs or eats memory.
#[test]
fn config_that_is_not_a_small_regular_file_is_refused_at_once() {
    let env = TestEnv::new();
    let fifo = env.path("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let huge = env.path("huge.toml");
    std::fs::write(&huge, "#".repeat((1 << 20) + 1)).unwrap();
    for (path, why) in [
        (fifo.as_path(), "FIFO"),
        (Path::new("/dev/zero"), "device"),
        (huge.as_path(), "allowed"),
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stray"));
        c.arg("-c")
            .arg(path)
            .arg("--state-dir")
            .arg(env.state_dir());
        c.arg("--name").arg(&env.names[0]).arg("scan");
        env.isolate(&mut c);
        let out = run_bounded(c, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("-c {} hung", path.display()));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            path.display(),
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(why), "{}: {err}", path.display());
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
}

// ---------------------------------------------------------------- case 8

const HOSTILE_DURATIONS: &[&str] = &[
    "300000000000y",
    "584542046090y",
    "18446744073709551615s",
    "18446744073709551616s",
    "99999999999999999999999999y",
    "18446744073709551615000ms",
    "1e400s",
    "-1s",
    "",
    " ",
    "0",
    "1 y 2 y 3 y 300000000000y",
    "\u{202e}5s",
];

/// SECURITY: no duration a user types on the command line panics (exit
/// 101): each is used, or refused with a message and exit 2.
#[test]
fn hostile_cli_durations_never_panic() {
    let env = TestEnv::new();
    let flags: &[&[&str]] = &[
        &["log", "--since"],
        &["reap", "--dry-run", "--min-age"],
        &["reap", "--dry-run", "--grace"],
        &["reap", "--lock-wait"],
        &["sockets", "--stall"],
        &["sockets", "--sample"],
    ];
    for flag in flags {
        for v in HOSTILE_DURATIONS {
            let mut c = env.cmd();
            c.args(*flag).arg(v);
            let out = run_bounded(c, Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{flag:?} {v:?} hung"));
            let code = out.status.code();
            assert!(
                matches!(code, Some(0) | Some(2)),
                "{flag:?} {v:?}: exit {code:?}: {}",
                stderr(&out)
            );
            if code == Some(2) {
                assert!(
                    !stderr(&out).trim().is_empty(),
                    "{flag:?} {v:?}: no message"
                );
            }
            assert!(!stderr(&out).contains("panicked"), "{flag:?} {v:?}");
        }
    }
    // The reported case: a --since before the epoch means "everything".
    let out = env.run(&["log", "--since", "300000000000y"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// SECURITY: `watch --interval` with a huge value runs (one cycle), does not
/// panic, and stops cleanly on SIGTERM.
#[test]
fn watch_with_a_huge_interval_runs_and_stops() {
    let env = TestEnv::new();
    for v in ["300000000000y", "18446744073709551615s"] {
        let mut child = env
            .cmd()
            .args(["watch", "--interval", v])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = line_reader(child.stdout.take().unwrap());
        let first = lines.recv_timeout(Duration::from_secs(30));
        assert!(first.is_ok(), "--interval {v}: no first cycle");
        // SAFETY: kill has no memory-safety preconditions; our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "--interval {v}");
    }
    let out = env.run(&["watch", "--interval", "99999999999999999999999y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// SECURITY: hostile config values (durations, sizes, pids, paths) are
/// refused with one line naming the key and the file, never a panic and
/// never silently accepted.
#[test]
fn hostile_config_values_are_refused_naming_key_and_file() {
    let env = TestEnv::new();
    let cases: &[(&str, &str)] = &[
        ("min_age = \"99999999999999999999999y\"", "min_age"),
        ("grace = \"-1s\"", "grace"),
        ("[sockets]\nstall = \"1e400s\"", "sockets.stall"),
        (
            "[check]\nrss_warn = \"99999999999999999999TiB\"",
            "check.rss_warn",
        ),
        ("[check]\nrss_crit = \"NaN\"", "check.rss_crit"),
        ("[pty]\nwarn = 9223372036854775807", "pty.warn"),
        ("[pty]\ncrit = -1", "pty.crit"),
        ("[protect]\npids = [-1]", "protect.pids"),
        ("[protect]\npids = [0]", "protect.pids"),
        ("[protect]\npids = [99999999999]", "protect.pids"),
        ("[sockets]\nports = [-1]", "sockets.ports"),
        ("audit_log = \"relative/audit.jsonl\"", "audit_log"),
    ];
    for (text, key) in cases {
        env.write_config(text);
        for cmd in [&["scan"][..], &["check"][..]] {
            let out = env.run(cmd);
            let err = stderr(&out);
            let want = if cmd[0] == "check" { 3 } else { 1 };
            assert_eq!(out.status.code(), Some(want), "{text:?} {cmd:?}: {err}");
            assert!(err.contains(key), "{text:?} should name {key}: {err}");
            assert!(
                err.contains(&env.config_path().display().to_string()),
                "{text:?} should name the file: {err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        }
    }
    // Huge but well-formed durations are accepted and do not panic later.
    env.write_config("min_age = \"300000000000y\"\ngrace = \"300000000000y\"\n[sockets]\nstall = \"300000000000y\"\n");
    for cmd in [
        &["scan"][..],
        &["reap"][..],
        &["check"][..],
        &["config", "show"][..],
    ] {
        let out = env.run(cmd);
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{cmd:?}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{cmd:?}");
    }
}

// ---------------------------------------------------------------- case 9

/// A textfile dir that is missing makes `check` UNKNOWN, and says why on
/// stderr and on stdout in the format asked for.
#[test]
fn check_says_why_when_the_textfile_cannot_be_written() {
    let env = TestEnv::new();
    let missing = env.path("no-such-dir");
    let target = missing.join("stray.prom").display().to_string();
    for format in ["nagios", "json", "prometheus"] {
        let out = env
            .cmd()
            .args(["--format", format, "check", "--textfile-dir"])
            .arg(&missing)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{format}");
        assert!(
            stderr(&out).contains(&target),
            "{format}: stderr {}",
            stderr(&out)
        );
        let text = stdout(&out);
        match format {
            "nagios" => {
                assert!(text.starts_with("STRAY UNKNOWN - "), "{text}");
                assert!(text.lines().next().unwrap().contains(&target), "{text}");
            }
            "json" => {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["status"], "unknown", "{v}");
                let tf = v["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == "textfile")
                    .unwrap_or_else(|| panic!("no textfile check: {v}"));
                assert_eq!(tf["status"], "unknown");
                assert!(tf["message"].as_str().unwrap().contains(&target));
            }
            _ => {
                assert!(
                    text.lines().any(
                        |l| l.starts_with("# stray: textfile unknown: ") && l.contains(&target)
                    ),
                    "{text}"
                );
                assert!(text.contains("\nstray_status 3\n"), "{text}");
                assert!(
                    text.contains("stray_check_status{check=\"textfile\"} 3\n"),
                    "{text}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- case 12

/// SECURITY: a process whose name carries U+202E (right-to-left override)
/// is shown escaped in every human output and on stderr: scan, explain,
/// reap (stdout and its stderr notice), log and check. JSON carries the
/// exact name (JSON is for programs, which need the real value).
#[test]
fn bidi_controls_in_names_are_escaped_everywhere() {
    let mut env = TestEnv::new();
    let name: String = format!("r\u{202e}{}", unique_name("b"))
        .chars()
        .take(11)
        .collect();
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names = vec![name.clone()];
    // The command line carries the other bidi controls too.
    // (Its only child is a `sleep 1`, gone a second after the shell.)
    let script = ": \u{2066}\u{200f}; while :; do sleep 1; done";
    let victim = spawn_orphan(&env, &bin, &["-c", script]);
    orphan_config(&env, &victim, "0s", "60s", "");
    let pid = victim.pid.to_string();

    let bidi = |c: char| matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let assert_clean = |what: &str, o: &Output| {
        for (stream, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
            assert!(
                !text.chars().any(bidi),
                "{what} {stream} carries a raw bidi control: {text:?}"
            );
        }
    };
    let (doc, _) = env.json(&["scan"]);
    assert_eq!(scan_entry(&doc, victim.pid).unwrap()["comm"], name.as_str());

    let scan = env.run(&["scan"]);
    assert_clean("scan", &scan);
    assert!(stdout(&scan).contains("\\u{202e}"), "{}", stdout(&scan));
    let explain = env.run(&["explain", &pid]);
    assert_clean("explain", &explain);
    assert!(
        stdout(&explain).contains("\\u{202e}"),
        "{}",
        stdout(&explain)
    );
    assert!(
        stdout(&explain).contains("\\u{2066}"),
        "{}",
        stdout(&explain)
    );
    let check = env.run(&["check"]);
    assert_clean("check", &check);
    assert!(stdout(&check).contains("\\u{202e}"), "{}", stdout(&check));
    let reap = env.run(&["reap"]);
    assert_clean("reap", &reap);
    assert!(stderr(&reap).contains("\\u{202e}"), "{}", stderr(&reap));
    assert!(wait_until(Duration::from_secs(10), || !victim.alive()));
    let log = env.run(&["log"]);
    assert_clean("log", &log);
    assert!(stdout(&log).contains("\\u{202e}"), "{}", stdout(&log));
}

// ---------------------------------------------------------------- case 14

/// One agent is "1 agent", in scan's and reap's summaries.
#[test]
fn one_agent_is_singular_in_summaries() {
    let mut env = TestEnv::new();
    let (_, bin) = env.agent_bin("p");
    let agent = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &agent, "1h", "60s", "");
    let scan = stdout(&env.run(&["scan"]));
    assert!(
        scan.lines().last().unwrap().starts_with("1 agent: "),
        "{scan}"
    );
    let reap = stdout(&env.run(&["reap", "--dry-run"]));
    assert!(reap.contains("; 1 agent: 1 young"), "{reap}");
    assert!(!reap.contains("1 agents") && !scan.contains("1 agents"));
}

/// `explain` of a process that is not an agent never claims a reap policy.
#[test]
fn explain_of_a_non_agent_has_no_reap_policy() {
    let env = TestEnv::new();
    // An orphan-shaped process that matches no rule.
    let other = unique_name("x");
    let bin = env.path(&format!("bin/{other}"));
    copy_exe("/bin/sleep", &bin);
    let p = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &p, "0s", "60s", "");
    let out = env.run(&["explain", &p.pid.to_string()]);
    let text = stdout(&out);
    let policy = text
        .lines()
        .find(|l| l.trim_start().starts_with("policy:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!policy.contains("reap"), "{policy}");
    assert!(policy.contains("not an agent"), "{policy}");
    let (doc, _) = env.json(&["explain", &p.pid.to_string()]);
    assert_eq!(doc["process"]["policy"], "ignore", "{doc}");
    assert_eq!(doc["reapable"], false, "{doc}");
}

/// `reap --wait` shows each step of the escalation, in order.
#[test]
fn reap_wait_prints_every_step_of_the_escalation() {
    let mut env = TestEnv::new();
    let name = unique_name("w");
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names.push(name);
    let stubborn = spawn_orphan(
        &env,
        &bin,
        &["-c", "trap '' TERM; while :; do sleep 1; done"],
    );
    wait_term_ignored(&stubborn);
    orphan_config(&env, &stubborn, "0s", "1s", "");
    let out = env.run(&["reap", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let pid = stubborn.pid.to_string();
    let steps: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(pid.as_str()))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(steps, ["SIGTERM", "SIGKILL"], "{text}");
    assert!(!stubborn.alive());
}

// ---------------------------------------------------------------- case 10

/// `stray watch` on SIGHUP re-reads its config and goes on: a config that
/// does not load is reported and the old one kept (the watchdog keeps
/// running, nothing changes); a good one acts from the next cycle, at once.
#[test]
fn watch_reloads_its_config_on_sighup_and_keeps_the_old_one_when_bad() {
    let mut env = TestEnv::new();
    let (_, bin) = env.agent_bin("h");
    let agent = spawn_orphan(&env, &bin, &["300"]);
    // min_age 1h: the agent is young, watch leaves it alone.
    orphan_config(&env, &agent, "1h", "60s", "");
    let err_path = env.path("watch.stderr");
    let mut child = env
        .cmd()
        .args(["watch", "--interval", "300ms"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    let mut watch = Proc::from_child(child);
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("a first cycle");
    assert!(first.contains("nothing to do; 1 agent"), "{first}");
    let err_text = || std::fs::read_to_string(&err_path).unwrap_or_default();

    // A broken config: reported, the old one kept, watch still running.
    env.write_config("min_age = \"soon\"\n");
    watch.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || err_text()
            .contains("config not reloaded")),
        "stderr: {}",
        err_text()
    );
    let text = err_text();
    assert!(text.contains("min_age"), "names the key: {text}");
    assert!(
        text.contains(&env.config_path().display().to_string()),
        "{text}"
    );
    // Two more cycles under the old config: still alive, still young.
    for _ in 0..2 {
        let l = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("cycles go on");
        assert!(l.contains("nothing to do"), "{l}");
    }
    assert!(watch.alive(), "watch died on SIGHUP");
    assert!(agent.alive());

    // A good config with min_age 0s: the next cycle reaps the agent.
    orphan_config(&env, &agent, "0s", "60s", "");
    watch.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(20), || !agent.alive()),
        "the reloaded min_age never took effect; stderr: {}",
        err_text()
    );
    assert!(
        err_text().contains("SIGHUP: reloaded the config from"),
        "{}",
        err_text()
    );
    let signalled = (0..50)
        .map_while(|_| lines.recv_timeout(Duration::from_secs(10)).ok())
        .any(|l| l.contains("1 signalled"));
    assert!(signalled, "no cycle line reports the signal");

    watch.signal(libc::SIGTERM);
    assert_eq!(watch.wait_status(), Some(0), "stderr: {}", err_text());
}

// ---------------------------------------------------------------- case 13

/// A tmux server on a `-S` socket whose path holds a newline, killed (by
/// socket, then by pid and start time) on drop.
struct OddTmux {
    socket: std::path::PathBuf,
    pid: i32,
    start: u64,
}

impl OddTmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S")
            .arg(&self.socket)
            .env_remove("TMUX")
            .stdin(Stdio::null());
        c
    }
}

impl Drop for OddTmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        if self.pid > 0 && alive(self.pid, self.start) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A tmux socket path with a newline is kept whole: `stray tmux` shows the
/// real path and its owner, and `scan` names the pane of the agent in it.
#[test]
fn tmux_socket_path_with_a_newline_keeps_its_owner_and_panes() {
    let mut env = TestEnv::new();
    let (_, bin) = env.agent_bin("t");
    let dir = env.path("odd");
    std::fs::create_dir(&dir).unwrap();
    let mut tmux = OddTmux {
        socket: dir.join("sock\nwith newline"),
        pid: 0,
        start: 0,
    };
    let out = tmux
        .cmd()
        .args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "odd",
            "-x",
            "80",
            "-y",
            "20",
        ])
        .arg(format!("exec {} 300", bin.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "tmux: {}", stderr(&out));
    let pid = tmux
        .cmd()
        .args(["display-message", "-p", "#{pid}"])
        .output()
        .unwrap();
    tmux.pid = stdout(&pid).trim().parse().expect("server pid");
    tmux.start = stat_of(tmux.pid).expect("server alive").0;
    let pane_pid: i32 = stdout(
        &tmux
            .cmd()
            .args(["display-message", "-p", "#{pane_pid}"])
            .output()
            .unwrap(),
    )
    .trim()
    .parse()
    .unwrap();

    let (doc, _) = env.json(&["tmux"]);
    let want = tmux.socket.to_str().unwrap();
    let server = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pid"] == tmux.pid)
        .unwrap_or_else(|| panic!("server {} not listed: {doc}", tmux.pid));
    assert_eq!(server["socket"], want, "{doc}");
    assert_eq!(server["owner_uid"], nix_uid(), "{doc}");
    assert_eq!(server["alive"], true);
    let human = stdout(&env.run(&["tmux"]));
    assert!(human.contains("sock\\nwith newline"), "{human}");

    let (scan, _) = env.json(&["scan"]);
    let agent = scan_entry(&scan, pane_pid).unwrap_or_else(|| panic!("{scan}"));
    assert_eq!(agent["class"], "protected", "{agent}");
    assert_eq!(agent["pane"], "odd:0.0", "{agent}");
}

// ---------------------------------------------------------------- case 11

/// `c` run as nobody:nogroup (no groups) inside a private mount namespace
/// whose `/proc` is a fresh procfs mounted `hidepid=2`. The host's /proc is
/// untouched (the mount dies with the namespace).
fn as_nobody_under_hidepid(c: &Command) -> Command {
    wrapped(
        &[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            "mount -t proc -o hidepid=2 proc /proc && exec \"$@\"",
            "sh",
        ],
        &as_nobody(c),
    )
}

/// SECURITY: with `/proc` mounted `hidepid=2`, a non-root stray cannot see
/// PID 1 or any other user's process, so no orphan can be told from a live
/// session: it signals nothing, says why once per cycle (not "vanished"
/// per process), and `doctor` fails with the fix.
#[test]
fn hidepid_proc_is_explained_once_and_doctor_fails_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        skip("needs root (unshare -m, mount -t proc, setpriv to nobody)");
        return;
    }
    let mut env = TestEnv::new();
    let (_, bin) = env.agent_bin("d");
    // Let nobody reach the binary, the config, and its own state dirs.
    let chown = |p: &Path| {
        nix::unistd::chown(
            p,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap()
    };
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(env.dir.path(), 0o755);
    mode(&env.path("bin"), 0o755);
    mode(&bin, 0o755);
    for d in [env.state_dir(), env.path("xdg-state")] {
        std::fs::create_dir_all(&d).unwrap();
        mode(&d, 0o700);
        chown(&d);
    }
    // nobody's own orphan agent.
    let orphan = spawn_orphan_as_nobody(&env, &bin);
    orphan_config(&env, &orphan, "0s", "60s", "");
    mode(&env.config_path(), 0o644);

    let run = |args: &[&str]| -> Output {
        let mut c = env.cmd();
        c.args(args);
        as_nobody_under_hidepid(&c).output().unwrap()
    };
    // Control: with the host's /proc, nobody would reap its orphan.
    let dry = json_as_nobody(&env, &["reap", "--dry-run"]);
    assert!(action_for(&dry, orphan.pid).is_some(), "control: {dry}");

    // Under hidepid=2: a real cycle signals nothing and says why, once.
    let out = run(&["--format", "json", "reap"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    let why: Vec<&str> = err.lines().filter(|l| l.contains("hidepid")).collect();
    assert_eq!(why.len(), 1, "one message: {err}");
    assert!(why[0].contains("cannot tell orphans"), "{err}");
    assert!(why[0].contains("gid="), "names the fix: {err}");
    assert!(!err.contains("vanished"), "{err}");
    assert!(orphan.alive());
    // scan shows it protected, with the reason.
    let out = run(&["--format", "json", "scan"]);
    let scan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = scan_entry(&scan, orphan.pid).unwrap_or_else(|| panic!("{scan}"));
    assert_eq!(entry["class"], "protected", "{entry}");
    assert!(
        entry["reason"].as_str().unwrap().contains("hidden"),
        "{entry}"
    );

    // doctor fails, and says how to fix it.
    let out = run(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let proc_line = text
        .lines()
        .position(|l| l.contains("proc") && l.contains("hidepid"))
        .unwrap_or_else(|| panic!("no proc finding: {text}"));
    assert!(
        text.lines()
            .nth(proc_line)
            .unwrap()
            .to_lowercase()
            .contains("fail"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(proc_line + 1)
            .unwrap_or("")
            .contains("gid="),
        "{text}"
    );
}
