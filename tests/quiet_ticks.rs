//! `watch`'s quiet ticks on real processes, in a private PID namespace so
//! nothing else comes or goes: with the safety-net full cycle an hour away
//! (`[watch] full_every = "1h"`), only a tick that notices the change can
//! start the cycle that acts. So an orphan that appears between full
//! cycles being reaped, and an agent re-parented between them being
//! reclassified and reaped, show the incremental path sees both.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;

/// Reads tick lines until `n` quiet ticks in a row (the last line then is
/// the last of them), or panics after `timeout` saying what it saw.
fn quiet_run(lines: &Receiver<String>, n: usize, timeout: Duration) -> serde_json::Value {
    let end = Instant::now() + timeout;
    let (mut run, mut seen) = (0, Vec::new());
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Ok(l) = lines.recv_timeout(left) else {
            break;
        };
        let t: serde_json::Value = serde_json::from_str(&l).expect("a JSON line per tick");
        run = if t["quiet"] == true { run + 1 } else { 0 };
        if run >= n {
            return t;
        }
        seen.push(t);
    }
    panic!("no {n} quiet ticks in a row within {timeout:?}: {seen:?}");
}

/// PID 1 of a private PID namespace (with its own `/proc`): nothing of
/// other tests or of the machine comes or goes there, so only what the
/// script does can start a full cycle. The script runs `watch` (stdout:
/// its JSON lines; stderr, with `-v`, why each full cycle ran, into
/// `watch.err`), then sets up `$SETUP`, waits for a line on stdin, does
/// `$CHANGE`, and waits for another line before stopping watch.
struct Namespace {
    proc_: Proc,
    stdin: std::process::ChildStdin,
    lines: Receiver<String>,
    err: std::path::PathBuf,
}

const SCRIPT: &str = r#"
"$STRAY" -c "$CONF" --state-dir "$STATE" --name "$NAME" --format json -v \
    watch --interval 100ms 2>"$ERR" &
W=$!
eval "$SETUP"
read -r go
eval "$CHANGE"
read -r stop
kill -TERM "$W"
wait "$W"
"#;

fn namespace(
    env: &TestEnv,
    name: &str,
    bin: &std::path::Path,
    setup: &str,
    change: &str,
) -> Option<Namespace> {
    if !is_root() {
        skip("a private PID namespace needs root");
        return None;
    }
    env.write_config("min_age = \"1s\"\ngrace = \"1s\"\n[watch]\nfull_every = \"1h\"\n");
    let err = env.path("watch.err");
    let mut c = Command::new("unshare");
    c.args(["--pid", "--kill-child", "--mount-proc", "sh", "-c", SCRIPT])
        .env("STRAY", env!("CARGO_BIN_EXE_stray"))
        .env("CONF", env.config_path())
        .env("STATE", env.state_dir())
        .env("NAME", name)
        .env("AGENT", bin)
        .env("ERR", &err)
        .env("SETUP", setup)
        .env("CHANGE", change);
    env.isolate(&mut c);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    Some(Namespace {
        proc_: Proc::from_child(child),
        stdin,
        lines,
        err,
    })
}

impl Namespace {
    fn say(&mut self) {
        use std::io::Write;
        self.stdin.write_all(b"go\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Reads ticks until one signals `comm`; panics after `timeout`.
    fn signalled(&self, comm: &str, timeout: Duration) -> serde_json::Value {
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let Ok(l) = self.lines.recv_timeout(left) else {
                break;
            };
            let t: serde_json::Value = serde_json::from_str(&l).unwrap();
            let acts = t["reap"]["actions"].as_array().cloned().unwrap_or_default();
            if let Some(a) = acts
                .iter()
                .find(|a| a["comm"] == comm && a["signal"] == "SIGTERM")
            {
                return a.clone();
            }
        }
        panic!(
            "{comm} was not signalled within {timeout:?}; watch said: {}",
            std::fs::read_to_string(&self.err).unwrap_or_default()
        );
    }

    fn stop(mut self) {
        self.say();
        assert!(
            wait_until(Duration::from_secs(30), || !self.proc_.alive()),
            "the namespace did not stop"
        );
        assert_eq!(self.proc_.wait_status(), Some(0));
    }
}

#[test]
fn an_orphan_appearing_between_full_cycles_is_reaped() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("qo");
    // The namespace's PID 1 (the script's shell) adopts the orphan.
    let orphan = r#"setsid sh -c '"$0" 300 </dev/null >/dev/null 2>&1 &' "$AGENT""#;
    let Some(mut ns) = namespace(&env, &name, &bin, "", orphan) else {
        return;
    };
    // Nothing there yet: after the first full cycle every tick is quiet.
    let last = quiet_run(&ns.lines, 10, Duration::from_secs(30));
    assert_eq!(last["reap"]["classes"]["orphan"], 0, "{last}");
    ns.say();
    let a = ns.signalled(&name, Duration::from_secs(20));
    assert_eq!(a["class"], "orphan", "{a}");
    let err = std::fs::read_to_string(&ns.err).unwrap();
    assert!(
        err.contains(&format!("full cycle: new agent {}", a["pid"])),
        "a quiet tick found the new agent: {err}"
    );
    assert!(!err.contains("full_every elapsed"), "{err}");
    quiet_run(&ns.lines, 5, Duration::from_secs(20));
    ns.stop();
}

#[test]
fn an_agent_reparented_between_full_cycles_is_reclassified() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("qr");
    // An agent whose parent (a shell) is alive: headless, reported, never
    // signalled. Then the parent dies and the kernel re-parents the agent
    // to the namespace's PID 1.
    let setup = r#"sh -c '"$0" 300 </dev/null >/dev/null 2>&1 & wait' "$AGENT" & P=$!"#;
    let Some(mut ns) = namespace(&env, &name, &bin, setup, r#"kill -KILL "$P""#) else {
        return;
    };
    let last = quiet_run(&ns.lines, 10, Duration::from_secs(30));
    assert_eq!(last["reap"]["classes"]["headless"], 1, "{last}");
    ns.say();
    let a = ns.signalled(&name, Duration::from_secs(20));
    assert_eq!(a["class"], "orphan", "{a}");
    let err = std::fs::read_to_string(&ns.err).unwrap();
    assert!(err.contains("exited") || err.contains("changed"), "{err}");
    assert!(!err.contains("full_every elapsed"), "{err}");
    ns.stop();
}
