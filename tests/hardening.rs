//! Hardening, end to end: the built binary against real processes, real
//! files, a real PID namespace, a real full disk and real privilege
//! boundaries. Each test states the guarantee it proves; each creates and
//! cleans up only its own processes (by pid + start time), mounts and dirs.
//!
//! Tests that need root (namespaces, mounts, another uid) print a reason and
//! return early elsewhere.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `env.cmd()` with another state dir.
fn cmd_with_state(env: &TestEnv, state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stray"));
    c.arg("-c").arg(env.config_path());
    c.arg("--state-dir").arg(state);
    for n in &env.names {
        c.arg("--name").arg(n);
    }
    env.isolate(&mut c);
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

/// Writes a state file into a fresh 0700 state dir.
fn write_state(dir: &Path, boot: &str, entries: &[(i32, u64, &str, f64, Option<f64>)]) {
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    let reap: Vec<Value> = entries
        .iter()
        .map(|(pid, st, comm, term_at, kill_at)| {
            serde_json::json!({"pid": pid, "start_time": st, "comm": comm,
                               "term_at": term_at, "kill_at": kill_at})
        })
        .collect();
    let doc = serde_json::json!({"schema": 1, "boot_id": boot, "reap": reap});
    fs::write(dir.join("state.json"), doc.to_string()).unwrap();
    // Whatever the umask: a state file others can write is not trusted.
    fs::set_permissions(dir.join("state.json"), fs::Permissions::from_mode(0o600)).unwrap();
}

/// A copy of /bin/bash under a fresh agent name that ignores SIGTERM:
/// `NAME -c 'trap "" TERM; while :; do sleep 1; done'` has comm NAME, and
/// only SIGKILL ends it. Its `sleep` children are not agents.
fn stubborn_bin(env: &mut TestEnv, tag: &str) -> (String, PathBuf) {
    let name = unique_name(tag);
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/bash", &bin);
    env.names.push(name.clone());
    (name, bin)
}

const STUBBORN: &str = "trap '' TERM; while :; do sleep 1; done";

// ---------------------------------------------------------------------------
// PID reuse, for real.

/// Runs inside `unshare --pid --fork --mount-proc`: this script is PID 1 of
/// a new PID namespace. It starts an agent, records its (pid, start time)
/// in state.json as SIGTERMed long ago (so the entry is due for SIGKILL),
/// kills and reaps it, forces the kernel to hand the same pid to a new
/// process through ns_last_pid, then runs one real `stray reap`.
const PID_REUSE_SCRIPT: &str = r#"
set -u
stray=$1 old_bin=$2 new_bin=$3 state=$4 conf=$5 name=$6 new_comm=$7 out=$8
comm() { cat /proc/$1/comm 2>/dev/null; }
starttime() { sed 's/.*) //' /proc/$1/stat | cut -d' ' -f20; }
# Away from pid 2, which the reader takes for kthreadd.
echo 99 > /proc/sys/kernel/ns_last_pid
setsid "$old_bin" 300 </dev/null >/dev/null 2>&1 &
old=$!
for i in $(seq 500); do [ "$(comm $old)" = "$name" ] && break; sleep 0.01; done
old_st=$(starttime $old)
kill -KILL $old; wait $old 2>/dev/null
boot=$(cat /proc/sys/kernel/random/boot_id)
mkdir -p -m 700 "$state"
printf '{"schema":1,"boot_id":"%s","reap":[{"pid":%d,"start_time":%s,"comm":"%s","term_at":1.0,"kill_at":null}]}' \
  "$boot" "$old" "$old_st" "$name" > "$state/state.json"
chmod 600 "$state/state.json"
# Let at least one clock tick pass so the new start time differs.
sleep 0.1
echo $((old - 1)) > /proc/sys/kernel/ns_last_pid
setsid "$new_bin" 300 </dev/null >/dev/null 2>&1 &
new=$!
for i in $(seq 500); do [ "$(comm $new)" = "$new_comm" ] && break; sleep 0.01; done
new_st=$(starttime $new)
echo "old=$old old_start=$old_st new=$new new_start=$new_st" > "$out/ids"
"$stray" -c "$conf" --state-dir "$state" --name "$name" --format json reap \
  > "$out/reap.json" 2> "$out/reap.err"
echo $? > "$out/reap.rc"
sleep 0.3
if kill -0 $new 2>/dev/null && [ "$(comm $new)" = "$new_comm" ]; then
  echo alive > "$out/after"
  kill -KILL $new
fi
wait $new
echo $? > "$out/status"
"#;

fn parse_ids(s: &str) -> std::collections::HashMap<String, u64> {
    s.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// Runs the PID-reuse scenario; the new process is an agent (`agent`) or
/// not. Returns (ids, reap json, exit status of the new process, alive
/// after the reap), or None when skipped.
fn pid_reuse(
    agent: bool,
    no_pidfd: bool,
) -> Option<(std::collections::HashMap<String, u64>, Value, i32, bool)> {
    if !is_root() {
        skip("PID reuse test needs root (unshare --pid, ns_last_pid)");
        return None;
    }
    let mut env = TestEnv::new();
    let (name, old_bin) = env.agent_bin("r");
    let (new_bin, new_comm) = if agent {
        (old_bin.clone(), name.clone())
    } else {
        let other = unique_name("o");
        let p = env.path(&format!("bin/{other}"));
        copy_exe("/bin/sleep", &p);
        (p, other)
    };
    // The processes are the namespace init's own children (`setsid cmd &`):
    // started by PID 1, not re-parented, so `headless`. Reaping headless
    // agents keeps this about pid reuse, whatever the class.
    env.write_config("min_age = \"0s\"\ngrace = \"60s\"\n[policy]\nheadless = \"reap\"\n");
    let out = env.path("ns-out");
    fs::create_dir(&out).unwrap();
    let mut c = Command::new("unshare");
    c.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "bash",
        "-c",
        PID_REUSE_SCRIPT,
        "ns",
    ])
    .arg(env!("CARGO_BIN_EXE_stray"))
    .arg(&old_bin)
    .arg(&new_bin)
    .arg(env.state_dir())
    .arg(env.config_path())
    .arg(&name)
    .arg(&new_comm)
    .arg(&out);
    env.isolate(&mut c);
    if no_pidfd {
        // The kill(2) fallback of kernels without pidfds.
        c.env("STRAY_NO_PIDFD", "1");
    }
    let o = c.output().unwrap();
    let ids = fs::read_to_string(out.join("ids")).unwrap_or_default();
    if !o.status.success() && ids.is_empty() {
        skip(&format!("unshare failed: {}", stderr(&o)));
        return None;
    }
    let ids = parse_ids(&ids);
    assert_eq!(
        ids["old"], ids["new"],
        "the kernel did not hand out the same pid"
    );
    assert_ne!(ids["old_start"], ids["new_start"]);
    let rc = fs::read_to_string(out.join("reap.rc")).unwrap();
    assert_eq!(
        rc.trim(),
        "0",
        "{}",
        fs::read_to_string(out.join("reap.err")).unwrap()
    );
    let doc: Value = serde_json::from_slice(&fs::read(out.join("reap.json")).unwrap()).unwrap();
    let status: i32 = fs::read_to_string(out.join("status"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = out.join("after").exists();
    // Whatever happened, the old entry is gone from the state.
    let state: Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("state.json")).unwrap()).unwrap();
    assert!(
        state["reap"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["start_time"] != ids["old_start"]),
        "{state}"
    );
    Some((ids, doc, status, alive))
}

/// The recycled pid is an agent too: it gets a fresh SIGTERM as a new key
/// (exit status 128+15), never the old entry's SIGKILL (128+9).
#[test]
fn pid_reuse_in_a_pid_namespace_gets_a_fresh_term_never_the_old_kill() {
    let Some((ids, doc, status, alive)) = pid_reuse(true, false) else {
        return;
    };
    let a = action_for(&doc, ids["new"] as i32)
        .unwrap_or_else(|| panic!("new process not planned: {ids:?} {doc}"));
    assert_eq!(a["signal"], "SIGTERM", "{doc}");
    assert_eq!(a["outcome"], "signalled", "{doc}");
    assert_eq!(a["start_time"], ids["new_start"]);
    assert_eq!(actions(&doc).len(), 1, "{doc}");
    assert!(!alive);
    assert_eq!(status, 128 + libc::SIGTERM, "killed by the wrong signal");
}

/// The same through the `kill(2)` fallback used where pidfds are missing.
#[test]
fn pid_reuse_without_pidfds_gets_a_fresh_term_too() {
    let Some((ids, doc, status, _)) = pid_reuse(true, true) else {
        return;
    };
    let a = action_for(&doc, ids["new"] as i32).expect("planned");
    assert_eq!(
        (a["signal"].as_str(), a["outcome"].as_str()),
        (Some("SIGTERM"), Some("signalled"))
    );
    assert_eq!(a["start_time"], ids["new_start"]);
    assert_eq!(status, 128 + libc::SIGTERM, "killed by the wrong signal");
}

/// The recycled pid is not an agent: nothing at all is sent to it.
#[test]
fn pid_reuse_by_a_non_agent_gets_nothing() {
    let Some((_ids, doc, status, alive)) = pid_reuse(false, false) else {
        return;
    };
    assert!(actions(&doc).is_empty(), "{doc}");
    assert!(alive, "the new process must be untouched by stray");
    assert_eq!(status, 128 + libc::SIGKILL, "only our cleanup SIGKILL");
}

// ---------------------------------------------------------------------------
// Races.

/// An orphan that ignores SIGTERM is SIGTERMed, then moves onto a live tmux
/// pane's terminal before the next cycle (it takes the pane's tty as its
/// controlling terminal). The next cycle, past grace, must drop its entry
/// and send no SIGKILL.
#[test]
fn orphan_that_joins_a_pane_between_cycles_is_dropped_not_killed() {
    let mut env = TestEnv::new();
    let name = unique_name("j");
    env.names.push(name.clone());
    // The pane's own process gives up its controlling tty (TIOCNOTTY) so the
    // terminal is free to become someone else's; it ignores the SIGHUP that
    // comes with that and keeps the pane open.
    let pane_cmd = "python3 -c 'import signal,fcntl,termios,time; \
        signal.signal(signal.SIGHUP, signal.SIG_IGN); \
        fcntl.ioctl(0, termios.TIOCNOTTY); time.sleep(600)'";
    let tmux = Tmux::start(&env, pane_cmd);
    let pane_tty = tmux.display("#{pane_tty}");
    assert!(pane_tty.starts_with("/dev/pts/"), "{pane_tty}");
    let pane_pid = tmux.first_pane_pid();
    assert!(
        wait_until(Duration::from_secs(10), || tty_nr(pane_pid) == Some(0)),
        "pane process did not release its tty"
    );
    // The agent: no tty, ignores TERM; on SIGUSR1 it starts a session of
    // its own and opens the pane's terminal, which becomes its controlling
    // tty. (Until then it keeps the session of the shell that started it and
    // exited: that is what shows it was re-parented.)
    let agent_py = format!(
        "import ctypes,os,signal,time\n\
         signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
         fds = []\n\
         signal.signal(signal.SIGUSR1, lambda *a: (os.setsid(), fds.append(os.open('{pane_tty}', os.O_RDWR))))\n\
         ctypes.CDLL(None).prctl(15, b'{name}', 0, 0, 0)  # ready: handlers are in place\n\
         while True: time.sleep(0.05)\n"
    );
    let orphan = spawn_orphan(&env, Path::new("/usr/bin/python3"), &["-c", &agent_py]);
    assert!(wait_until(Duration::from_secs(10), || comm_of(orphan.pid)
        .as_deref()
        == Some(&name)));
    orphan_config(&env, &orphan, "0s", "0s", "");

    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = action_for(&doc, orphan.pid).expect("planned");
    assert_eq!(a["signal"], "SIGTERM", "{doc}");

    orphan.signal(libc::SIGUSR1);
    assert!(
        wait_until(Duration::from_secs(10), || tty_nr(orphan.pid)
            .is_some_and(|t| t != 0)),
        "agent did not take the pane's tty"
    );
    let (scan, _) = env.json(&["scan"]);
    assert_eq!(
        class_in_scan(&scan, orphan.pid).as_deref(),
        Some("protected"),
        "{scan}"
    );
    // Grace is 0s: were it still an orphan, this cycle would SIGKILL it.
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(action_for(&doc, orphan.pid).is_none(), "{doc}");
    let state: Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["reap"], serde_json::json!([]), "entry not dropped");
    std::thread::sleep(Duration::from_millis(200));
    assert!(orphan.alive(), "a process in a pane was killed");
    let signals: Vec<Value> = env
        .audit_events_for("reap", orphan.pid)
        .into_iter()
        .map(|l| l["signal"].clone())
        .collect();
    assert_eq!(signals, vec![Value::from("SIGTERM")]);
}

fn report_head(s: &str) -> String {
    s.chars().take(600).collect()
}

fn tty_nr(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split_whitespace().nth(4)?.parse().ok()
}

// ---------------------------------------------------------------------------
// Hostile names and command lines.

/// Human output: no byte below 0x20 except '\n', no DEL, no C1 controls.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        assert!(
            b == b'\n' || (b >= 0x20 && b != 0x7f),
            "{what}: raw control byte {b:#x} at {i}: {:?}",
            String::from_utf8_lossy(&bytes[i.saturating_sub(60)..(i + 60).min(bytes.len())])
        );
    }
    let s = String::from_utf8_lossy(bytes);
    assert!(
        !s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "{what}: C1 control in output"
    );
}

#[test]
fn hostile_names_and_command_lines_are_escaped_for_people_and_exact_in_json() {
    let mut env = TestEnv::new();
    // comm: an escape sequence that clears the screen, then a newline.
    let name: String = format!("\x1b[2J\n{}", unique_name("h"))
        .chars()
        .take(15)
        .collect();
    let bin = env.path(&format!("bin/{name}"));
    copy_exe("/bin/sleep", &bin);
    env.names.push(name.clone());
    // argv[0]: OSC title injection, BEL, CR/LF, invalid UTF-8, a C1 CSI,
    // then 100 000 bytes.
    let mut argv0: Vec<u8> = b"\x1b]0;pwned\x07\r\nFAKE LINE\xff\xfe\xc2\x9b31m".to_vec();
    argv0.extend(std::iter::repeat_n(b'A', 100_000));
    // (Built in the child: one argument may not exceed 128 KiB.)
    let py = "import os,sys\nos.execv(sys.argv[1], [bytes.fromhex(sys.argv[2]) + b'A' * 100000, b'300'])\n";
    let hex: String = argv0[..argv0.len() - 100_000]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let orphan = spawn_orphan(
        &env,
        Path::new("/usr/bin/python3"),
        &["-c", py, bin.to_str().unwrap(), &hex],
    );
    assert!(wait_until(Duration::from_secs(10), || comm_of(orphan.pid)
        .as_deref()
        == Some(&name)));
    orphan_config(&env, &orphan, "0s", "60s", "");
    let want_cmdline = format!("{} 300", String::from_utf8_lossy(&argv0));

    // JSON: exact.
    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, orphan.pid).expect("in scan");
    assert_eq!(e["comm"], name.as_str());
    assert_eq!(e["cmdline"], want_cmdline.as_str());
    assert_eq!(e["class"], "orphan");
    let (doc, _) = env.json(&["reap", "--dry-run"]);
    assert_eq!(action_for(&doc, orphan.pid).unwrap()["comm"], name.as_str());

    // People: escaped, and the table rows stay short.
    let pid = orphan.pid.to_string();
    for args in [
        vec!["scan"],
        vec!["scan", "--tree"],
        vec!["scan", "--all"],
        vec!["explain", &pid],
        vec!["reap", "--dry-run"],
    ] {
        let o = env.run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_terminal_safe(&format!("{args:?} stdout"), &o.stdout);
        assert_terminal_safe(&format!("{args:?} stderr"), &o.stderr);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("\\u{1b}"), "{args:?}: {}", report_head(&text));
        assert!(!text.lines().any(|l| l.starts_with("FAKE LINE")));
        if args[0] != "explain" {
            assert!(
                text.lines().all(|l| l.chars().count() < 400),
                "{args:?}: a line is not clipped"
            );
        }
    }
    // A real cycle: the stderr event line and `stray log` are safe too, the
    // audit record exact.
    let o = env.run(&["reap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_terminal_safe("reap stdout", &o.stdout);
    assert_terminal_safe("reap stderr", &o.stderr);
    let audit = env.audit_events("reap");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["comm"], name.as_str());
    assert_eq!(audit[0]["cmdline"], want_cmdline.as_str());
    let o = env.run(&["log"]);
    assert!(o.status.success());
    assert_terminal_safe("log stdout", &o.stdout);
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
}

// ---------------------------------------------------------------------------
// Files.

fn orphan_env(tag: &str) -> (TestEnv, Proc) {
    let mut env = TestEnv::new();
    let (_name, bin) = env.agent_bin(tag);
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    (env, orphan)
}

/// A state.json that is a symlink is never read or written through: it is
/// moved aside as foreign, its target keeps its content, and the cycle
/// starts fresh with a real 0600 file.
#[test]
fn symlinked_state_file_is_moved_aside_never_followed() {
    let (env, orphan) = orphan_env("l");
    let dir = env.state_dir();
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let target = env.path("precious");
    // Valid state naming the orphan as SIGTERMed long ago: followed, it
    // would turn into a SIGKILL.
    let st = orphan.start_time;
    let forged = format!(
        "{{\"schema\":1,\"boot_id\":\"{}\",\"reap\":[{{\"pid\":{},\"start_time\":{st},\"comm\":\"x\",\"term_at\":1.0}}]}}",
        boot_id(),
        orphan.pid
    );
    fs::write(&target, &forged).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("state.json")).unwrap();

    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(action_for(&doc, orphan.pid).unwrap()["signal"], "SIGTERM");
    assert_eq!(fs::read_to_string(&target).unwrap(), forged);
    let meta = fs::symlink_metadata(dir.join("state.json")).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.mode() & 0o777, 0o600);
    let aside: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].file_type().unwrap().is_symlink());
}

/// A FIFO planted as state.json (or as the lock file) cannot hang a cycle.
#[test]
fn fifo_state_file_does_not_hang_and_is_moved_aside() {
    let (env, orphan) = orphan_env("f");
    let dir = env.state_dir();
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let st = Command::new("mkfifo")
        .arg(dir.join("state.json"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = env
        .cmd()
        .args(["--format", "json", "reap"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("reap hung on a FIFO state file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(action_for(&doc, orphan.pid).unwrap()["signal"], "SIGTERM");
}

/// Refused outright, nothing sent, nothing written: a state dir that is a
/// symlink, one owned by another user, a lock file that is a symlink.
#[test]
fn unsafe_state_dirs_and_lock_files_are_refused_before_any_signal() {
    let (env, orphan) = orphan_env("u");
    let real = env.path("real-state");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, env.state_dir()).unwrap();
    let o = env.run(&["reap"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("symlink"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&real).unwrap().count(), 0);
    fs::remove_file(env.state_dir()).unwrap();

    fs::create_dir(env.state_dir()).unwrap();
    fs::set_permissions(env.state_dir(), fs::Permissions::from_mode(0o700)).unwrap();
    let elsewhere = env.path("elsewhere-lock");
    fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.state_dir().join("lock")).unwrap();
    let o = env.run(&["reap"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("lock"), "{}", stderr(&o));
    assert_eq!(fs::read(&elsewhere).unwrap(), b"");
    fs::remove_file(env.state_dir().join("lock")).unwrap();

    if is_root() {
        nix::unistd::chown(
            &env.state_dir(),
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            None,
        )
        .unwrap();
        let o = env.run(&["reap"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("owned by uid 65534"), "{}", stderr(&o));
        assert_eq!(fs::read_dir(env.state_dir()).unwrap().count(), 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(orphan.alive(), "signalled despite a refused state dir");
    assert!(!env.audit_path().exists());
}

/// The audit log is never written through a symlink, is 0600 in a 0700
/// dir, and one owned by someone else is refused — before any signal.
#[test]
fn audit_log_symlink_or_foreign_owner_stops_the_cycle_before_signalling() {
    let (env, orphan) = orphan_env("a");
    let audit_dir = env.audit_path().parent().unwrap().to_path_buf();
    fs::create_dir_all(&audit_dir).unwrap();
    fs::set_permissions(&audit_dir, fs::Permissions::from_mode(0o700)).unwrap();
    let target = env.path("not-the-log");
    fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, env.audit_path()).unwrap();
    let o = env.run(&["reap"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("audit log"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no signal sent"), "{}", stderr(&o));
    assert_eq!(fs::read(&target).unwrap(), b"");
    std::thread::sleep(Duration::from_millis(200));
    assert!(orphan.alive());
    fs::remove_file(env.audit_path()).unwrap();

    if is_root() {
        fs::write(env.audit_path(), "").unwrap();
        nix::unistd::chown(
            &env.audit_path(),
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            None,
        )
        .unwrap();
        let o = env.run(&["reap"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("owned by uid 65534"), "{}", stderr(&o));
        std::thread::sleep(Duration::from_millis(200));
        assert!(orphan.alive());
        fs::remove_file(env.audit_path()).unwrap();
    }

    // With a sane log: signalled and recorded, modes tight.
    let o = env.run(&["reap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
    assert_eq!(
        fs::metadata(env.audit_path()).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::metadata(&audit_dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(fs::metadata(env.state_dir()).unwrap().mode() & 0o777, 0o700);
    for f in ["state.json", "lock"] {
        assert_eq!(
            fs::metadata(env.state_dir().join(f)).unwrap().mode() & 0o777,
            0o600,
            "{f}"
        );
    }
}

/// A small tmpfs, mounted for one test and unmounted on drop.
struct SmallFs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount() -> Option<SmallFs> {
        if !is_root() {
            skip("full-disk test needs root to mount a tmpfs");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        fs::create_dir(&path).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(&path)
            .output()
            .unwrap();
        if !o.status.success() {
            skip(&format!("cannot mount tmpfs: {}", stderr(&o)));
            return None;
        }
        Some(SmallFs { path, _dir: dir })
    }

    /// Fills it up until the kernel says ENOSPC.
    fn fill(&self) {
        use std::io::Write;
        let mut f = fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
    }

    fn free(&self) {
        fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// State dir on a full disk: the write-ahead state fails, so the cycle
/// reports the error (naming the state file), exits 1 and sends nothing.
#[test]
fn full_disk_under_the_state_dir_sends_nothing() {
    let Some(small) = SmallFs::mount() else {
        return;
    };
    let (env, orphan) = orphan_env("s");
    let state = small.path.join("state");
    small.fill();
    let o = cmd_with_state(&env, &state)
        .args(["--format", "json", "reap"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("state.json") && err.contains("no signal sent"),
        "{err}"
    );
    assert!(err.contains("No space left"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(orphan.alive(), "signalled without a recorded state");
    assert!(env.audit_events("reap").is_empty());
    // Control: with room, the same cycle acts.
    small.free();
    let o = cmd_with_state(&env, &state)
        .args(["reap"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
}

/// Audit log on a full disk: space for the audit lines is reserved before
/// any signal, so the cycle stops there, unsent and with no state written.
#[test]
fn full_disk_under_the_audit_log_sends_nothing() {
    let Some(small) = SmallFs::mount() else {
        return;
    };
    let (env, orphan) = orphan_env("b");
    let log = small.path.join("log/audit.jsonl");
    let cfg = fs::read_to_string(env.config_path()).unwrap();
    env.write_config(&format!(
        "audit_log = {:?}\n{cfg}",
        log.display().to_string()
    ));
    small.fill();
    let o = env.run(&["reap"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("audit.jsonl") && err.contains("no signal sent"),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(orphan.alive(), "signalled without room to record it");
    assert!(!env.state_dir().join("state.json").exists());
    small.free();
    let o = env.run(&["reap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
    assert_eq!(audit_events_in(&log, "reap").len(), 1);
}

// ---------------------------------------------------------------------------
// Time.

/// State written in another boot is discarded: an entry due for SIGKILL
/// (same pid and start time, SIGTERMed "long ago") yields only a fresh
/// SIGTERM. Control: the same file with this boot's id yields SIGKILL.
#[test]
fn state_from_an_earlier_boot_is_discarded_end_to_end() {
    for (boot, want) in [
        (
            "00000000-0000-0000-0000-000000000000".to_string(),
            "SIGTERM",
        ),
        (boot_id(), "SIGKILL"),
    ] {
        let (env, orphan) = orphan_env("t");
        write_state(
            &env.state_dir(),
            &boot,
            &[(orphan.pid, orphan.start_time, "x", 1.0, None)],
        );
        let (doc, out) = env.json(&["reap"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let a = action_for(&doc, orphan.pid).unwrap();
        assert_eq!(a["signal"], want, "boot {boot}: {doc}");
        if want == "SIGTERM" {
            assert!(stderr(&out).contains("earlier boot"), "{}", stderr(&out));
        }
    }
}

/// A term_at that is in the future on the boot clock (a forged file, or
/// the value of some other clock) neither fires SIGKILL early nor delays it
/// forever: the grace restarts from now, and the next cycle past it kills.
#[test]
fn term_at_in_the_future_restarts_grace_once() {
    let mut env = TestEnv::new();
    let (_name, bin) = stubborn_bin(&mut env, "g");
    let orphan = spawn_orphan(&env, &bin, &["-c", STUBBORN]);
    wait_term_ignored(&orphan);
    orphan_config(&env, &orphan, "0s", "0s", "");
    write_state(
        &env.state_dir(),
        &boot_id(),
        &[(orphan.pid, orphan.start_time, "x", 1e12, None)],
    );
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = action_for(&doc, orphan.pid).unwrap();
    assert_eq!(a["signal"], Value::Null, "{doc}");
    assert_eq!(a["outcome"], "waiting");
    let state: Value =
        serde_json::from_slice(&fs::read(env.state_dir().join("state.json")).unwrap()).unwrap();
    assert!(state["reap"][0]["term_at"].as_f64().unwrap() < 1e11);
    let (doc, _) = env.json(&["reap"]);
    assert_eq!(action_for(&doc, orphan.pid).unwrap()["signal"], "SIGKILL");
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
}

// ---------------------------------------------------------------------------
// Privilege.

/// Makes a TestEnv usable by nobody here: the dir traversable, `bin/`
/// (0755) and, with `state_too`, the state dir and XDG state dir (0700)
/// owned by nobody. (`common::share_with_nobody` leaves `bin/` alone and
/// makes the config readable instead.)
fn give_dirs_to_nobody(env: &TestEnv, state_too: bool) {
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut dirs = vec![env.path("bin")];
    if state_too {
        dirs.extend([env.state_dir(), env.path("xdg-state")]);
    }
    for d in dirs {
        fs::create_dir_all(&d).unwrap();
        let mode = if d.ends_with("bin") { 0o755 } else { 0o700 };
        fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
        nix::unistd::chown(
            &d,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap();
    }
}

/// As non-root, other users' processes are never candidates: a root-owned
/// orphan agent is not even listed, while nobody's own orphan is reaped.
/// As root, both are candidates under the same rules.
#[test]
fn non_root_never_touches_other_users_processes() {
    if !is_root() {
        skip("needs root to create processes of two users");
        return;
    }
    let mut env = TestEnv::new();
    let (_n, bin) = env.agent_bin("p");
    give_dirs_to_nobody(&env, true);
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let roots = spawn_orphan(&env, &bin, &["300"]);
    let nobodys = spawn_orphan_as_nobody(&env, &bin);
    assert_eq!(
        fs::metadata(format!("/proc/{}", nobodys.pid))
            .unwrap()
            .uid(),
        NOBODY
    );
    orphan_config(&env, &roots, "0s", "60s", "");
    fs::set_permissions(env.config_path(), fs::Permissions::from_mode(0o644)).unwrap();

    let scan = json_as_nobody(&env, &["scan"]);
    assert!(scan_entry(&scan, roots.pid).is_none(), "{scan}");
    assert_eq!(class_in_scan(&scan, nobodys.pid).as_deref(), Some("orphan"));
    let dry = json_as_nobody(&env, &["reap", "--dry-run"]);
    assert!(action_for(&dry, roots.pid).is_none(), "{dry}");
    assert!(action_for(&dry, nobodys.pid).is_some(), "{dry}");

    // Root's view, same rules: both are candidates.
    let o = cmd_with_state(&env, &env.path("root-state"))
        .args(["--format", "json", "reap", "--dry-run"])
        .output()
        .unwrap();
    let dry: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(action_for(&dry, roots.pid).is_some(), "{dry}");
    assert!(action_for(&dry, nobodys.pid).is_some(), "{dry}");

    // A real cycle as nobody signals only nobody's process.
    let doc = json_as_nobody(&env, &["reap"]);
    assert_eq!(actions(&doc).len(), 1, "{doc}");
    assert_eq!(
        action_for(&doc, nobodys.pid).unwrap()["outcome"],
        "signalled"
    );
    assert!(wait_until(Duration::from_secs(5), || !nobodys.alive()));
    std::thread::sleep(Duration::from_millis(200));
    assert!(roots.alive(), "nobody's stray touched root's process");
}

/// As root, another user's process is signalled only under the rules: the
/// user's orphan yes; the user's headless agent (parent alive) never.
#[test]
fn root_signals_a_users_process_only_under_the_rules() {
    if !is_root() {
        skip("needs root");
        return;
    }
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("q");
    give_dirs_to_nobody(&env, false);
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let orphan = spawn_orphan_as_nobody(&env, &bin);
    // Headless: nobody's shell stays its parent.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("\"$0\" 300 & wait")
        .arg(&bin)
        .stdout(Stdio::null());
    let parent = Proc::from_child(as_nobody(&c).spawn().unwrap());
    let headless = Proc::from_pid(find_descendant(parent.pid, &name).expect("headless agent"));
    orphan_config(&env, &orphan, "0s", "60s", "");
    let (doc, out) = env.json(&["reap"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(action_for(&doc, orphan.pid).unwrap()["signal"], "SIGTERM");
    assert!(action_for(&doc, headless.pid).is_none(), "{doc}");
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
    assert!(headless.alive());
    let audit = env.audit_events("reap");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["uid"], NOBODY);
}

/// A real EPERM: the live signaller, running as nobody, asked to signal a
/// root process, reports `denied` and sends nothing (nobody may not even
/// read a root process's executable, so it cannot verify it either).
/// The outer test re-runs this test binary as nobody for the inner part.
#[test]
fn real_eperm_is_reported_as_denied() {
    if let Ok(spec) = std::env::var("STRAY_TEST_EPERM") {
        // Inner part, as nobody.
        let f: Vec<&str> = spec.split(':').collect();
        let expected = stray::Expected {
            key: stray::ProcKey {
                pid: f[0].parse().unwrap(),
                start_time: f[1].parse().unwrap(),
            },
            comm: f[2].to_string(),
            exe: Some(stray::ExeId {
                dev: f[3].parse().unwrap(),
                ino: f[4].parse().unwrap(),
            }),
            rule: stray::Recheck::Nothing,
        };
        use stray::Signaller;
        let mut s = stray::LiveSignaller::new("/proc", true);
        let outcome = s.send(&expected, stray::Signal::Kill);
        println!("OUTCOME={outcome:?}");
        assert_eq!(outcome, stray::Outcome::Denied);
        return;
    }
    if !is_root() {
        skip("needs root to run a part as nobody");
        return;
    }
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("e");
    let victim = spawn_orphan(&env, &bin, &["300"]);
    let exe = fs::metadata(format!("/proc/{}/exe", victim.pid)).unwrap();
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "real_eperm_is_reported_as_denied", "--nocapture"])
        .env(
            "STRAY_TEST_EPERM",
            format!(
                "{}:{}:{name}:{}:{}",
                victim.pid,
                victim.start_time,
                exe.dev(),
                exe.ino()
            ),
        );
    let o = as_nobody(&c).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() && text.contains("Permission denied") {
        skip("test binary not executable by nobody");
        return;
    }
    assert!(o.status.success(), "{text}\n{}", stderr(&o));
    assert!(text.contains("OUTCOME=Denied"), "{text}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(victim.alive());
}

// ---------------------------------------------------------------------------
// Load.

/// 20 concurrent `reap` runs against 50 TERM-ignoring orphans, twice (the
/// second round after grace): every orphan gets exactly one SIGTERM and
/// exactly one SIGKILL, nothing else is signalled, every run exits 0 or 75,
/// and all orphans are dead at the end.
#[test]
fn concurrent_reaps_signal_each_orphan_exactly_once_per_step() {
    let mut env = TestEnv::new();
    let (_name, bin) = stubborn_bin(&mut env, "z");
    let orphans: Vec<Proc> = (0..50)
        .map(|_| spawn_orphan(&env, &bin, &["-c", STUBBORN]))
        .collect();
    orphans.iter().for_each(wait_term_ignored);
    orphan_config(&env, &orphans[0], "0s", "2s", "");
    let round = |env: &TestEnv| {
        let children: Vec<_> = (0..20)
            .map(|_| {
                env.cmd()
                    .args(["-q", "reap", "--lock-wait", "120s"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            let code = o.status.code();
            assert!(
                matches!(code, Some(0) | Some(75)),
                "reap exited {code:?}: {}",
                stderr(&o)
            );
        }
    };
    round(&env);
    let termed = Instant::now();
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(termed.elapsed()));
    round(&env);
    // Stragglers (a run in round 1 may have seen some inside grace) get their
    // SIGKILL from single follow-up cycles.
    let deadline = Instant::now() + Duration::from_secs(60);
    while orphans.iter().any(Proc::alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let o = env.run(&["-q", "reap"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for p in &orphans {
        assert!(!p.alive(), "pid {} survived", p.pid);
    }
    let lines = env.audit_events("reap");
    let ours: std::collections::HashSet<i32> = orphans.iter().map(|p| p.pid).collect();
    for l in &lines {
        assert!(
            ours.contains(&(l["pid"].as_i64().unwrap() as i32)),
            "signalled a process that is not ours: {l}"
        );
    }
    for p in &orphans {
        let count = |sig: &str| {
            lines
                .iter()
                .filter(|l| l["pid"] == p.pid && l["signal"] == sig && l["outcome"] == "signalled")
                .count()
        };
        assert_eq!(count("SIGTERM"), 1, "pid {}", p.pid);
        assert_eq!(count("SIGKILL"), 1, "pid {}", p.pid);
    }
    eprintln!(
        "load: {} orphans, {} audit lines, 2 rounds of 20 concurrent runs",
        orphans.len(),
        lines.len()
    );
}
