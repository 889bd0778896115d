//! Shared harness for tests that run the real binary against real processes.
//!
//! Everything a test creates is its own: a temp dir holding the config, the
//! state dir, the audit log, copies of `/bin/sleep` under unique names (so the
//! kernel `comm` is a name no real program has), and tmux servers on private
//! sockets under that dir. Cleanup is by pid (checked against the start time)
//! and by socket path — never by name pattern.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The one way a test skips: it says so on the real stderr (not the captured
/// one, so `cargo test` shows it even when the test passes), and under
/// `CI=true` a skip is a failure, so CI proves every test ran.
#[track_caller]
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("test skipped under CI=true (a skip is a failure in CI): {why}");
    }
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// True when the tests run as root (many real-kernel tests need it).
pub fn is_root() -> bool {
    nix_uid() == 0
}

/// A unique kernel-comm-sized name: `st` + tag + pid + counter, ≤ 15 bytes.
pub fn unique_name(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let s = format!("st{tag}{:x}{n:x}", std::process::id());
    s.chars().take(15).collect()
}

/// A private world for one test.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// Agent names passed with `--name` on every run (never empty unless a
    /// test clears it to exercise its own, test-specific `[match]` rules).
    pub names: Vec<String>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("stray-test-")
            .tempdir()
            .unwrap();
        for d in ["bin", "xdg-config", "xdg-state", "tmux"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        // tmux refuses a socket dir that others can write; tempdir is 0700.
        // One unique name from the start: a run can never fall back to the
        // default rules (`claude`, `codex`) and touch a real session.
        let env = TestEnv {
            dir,
            names: vec![unique_name("n")],
        };
        env.write_config("");
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("config.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    pub fn audit_path(&self) -> PathBuf {
        self.path("xdg-state/stray/audit.jsonl")
    }

    /// Every line of the audit log, parsed (none when there is no log); a
    /// line that is not JSON fails the test.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        audit_file(&self.audit_path())
    }

    /// This test's audit lines of one kind (`reap`: stray's own signals,
    /// `killed`, `oom-score-adj`, …).
    pub fn audit_events(&self, event: &str) -> Vec<serde_json::Value> {
        audit_events_in(&self.audit_path(), event)
    }

    /// This test's audit lines of one kind about `pid`.
    pub fn audit_events_for(&self, event: &str, pid: i32) -> Vec<serde_json::Value> {
        self.audit_events(event)
            .into_iter()
            .filter(|l| l["pid"] == pid)
            .collect()
    }

    /// `TMUX_TMPDIR` for this test's tmux servers and for stray.
    pub fn tmux_tmpdir(&self) -> PathBuf {
        self.path("tmux")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// A fresh agent name, registered for `--name`, and a copy of
    /// `/bin/sleep` under it: processes started from it have that comm.
    pub fn agent_bin(&mut self, tag: &str) -> (String, PathBuf) {
        let name = unique_name(tag);
        let bin = self.path(&format!("bin/{name}"));
        copy_exe("/bin/sleep", &bin);
        self.names.push(name.clone());
        (name, bin)
    }

    /// The stray binary with this test's isolation applied (config, state
    /// dir, audit log, tmux dir, agent names). Add the subcommand and run.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stray"));
        c.arg("-c").arg(self.config_path());
        c.arg("--state-dir").arg(self.state_dir());
        for n in &self.names {
            c.arg("--name").arg(n);
        }
        self.isolate(&mut c);
        c
    }

    /// Environment isolation for any command the test runs.
    pub fn isolate(&self, c: &mut Command) {
        c.env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("TMUX_TMPDIR", self.tmux_tmpdir())
            .env_remove("STRAY_CONFIG")
            .env_remove("STRAY_STATE_DIR")
            .env_remove("TMUX")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null());
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// [`TestEnv::run`], asserting that stray succeeded ([`output_ok`]).
    pub fn run_ok(&self, args: &[&str]) -> Output {
        output_ok(self.cmd().args(args))
    }

    /// Runs with `--format json` and parses stdout (asserting one document).
    pub fn json(&self, args: &[&str]) -> (serde_json::Value, Output) {
        let out = self
            .cmd()
            .arg("--format")
            .arg("json")
            .args(args)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }
}

/// The entry for `pid` in a `scan --format json` document.
pub fn scan_entry(doc: &serde_json::Value, pid: i32) -> Option<serde_json::Value> {
    doc["processes"]
        .as_array()?
        .iter()
        .find(|p| p["pid"] == pid)
        .cloned()
}

/// The daemon's last client exits: the daemon becomes an ordinary orphan,
/// one real `reap` signals it and nothing else, and it dies.
pub fn reaped_once_its_client_leaves(env: &TestEnv, client: &Proc, daemon: &Proc) {
    client.signal(libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(5), || !client.alive()));
    let mut doc = serde_json::Value::Null;
    assert!(
        wait_until(Duration::from_secs(5), || {
            doc = env.json(&["scan"]).0;
            class_in_scan(&doc, daemon.pid).as_deref() == Some("orphan")
        }),
        "{doc}"
    );
    let (doc, _) = env.json(&["reap"]);
    assert_eq!(actions(&doc).len(), 1, "{doc}");
    assert_eq!(doc["actions"][0]["pid"], daemon.pid, "{doc}");
    assert_eq!(doc["actions"][0]["outcome"], "signalled", "{doc}");
    assert!(wait_until(Duration::from_secs(5), || !daemon.alive()));
}

/// The first of `candidates` (a program and its arguments, such as an
/// `unshare` prefix) under which `probe` runs and succeeds here: which
/// namespaces this machine lets a test enter, and how.
pub fn first_working_prefix(
    candidates: &[&[&'static str]],
    probe: &[&str],
) -> Option<Vec<&'static str>> {
    candidates.iter().map(|c| c.to_vec()).find(|c| {
        Command::new(c[0])
            .args(&c[1..])
            .args(probe)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Every line of an audit log, parsed (none when there is no file).
pub fn audit_file(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The lines of one kind in an audit log.
pub fn audit_events_in(path: &Path, event: &str) -> Vec<serde_json::Value> {
    audit_file(path)
        .into_iter()
        .filter(|l| l["event"] == event)
        .collect()
}

/// The actions of a `reap --format json` report. A document without an
/// `actions` array is no such report: a "not planned" check must not pass
/// on it.
pub fn actions(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    match doc["actions"].as_array() {
        Some(a) => a.clone(),
        None => panic!("not a reap report (no actions array): {doc}"),
    }
}

/// The action for `pid` in a `reap --format json` report.
pub fn action_for(doc: &serde_json::Value, pid: i32) -> Option<serde_json::Value> {
    actions(doc).into_iter().find(|a| a["pid"] == pid)
}

/// The pids a `reap --format json` report acts on (or would).
pub fn action_pids(doc: &serde_json::Value) -> std::collections::BTreeSet<i32> {
    actions(doc)
        .iter()
        .filter_map(|a| a["pid"].as_i64())
        .map(|p| p as i32)
        .collect()
}

pub fn class_in_scan(doc: &serde_json::Value, pid: i32) -> Option<String> {
    scan_entry(doc, pid).and_then(|p| p["class"].as_str().map(str::to_string))
}

/// `(start_time, state, ppid)` of a live pid, from `/proc/PID/stat`.
pub fn stat_of(pid: i32) -> Option<(u64, char, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f[19].parse().ok()?,
        f[0].chars().next()?,
        f[1].parse().ok()?,
    ))
}

/// Alive and not a zombie, with the same start time.
pub fn alive(pid: i32, start_time: u64) -> bool {
    matches!(stat_of(pid), Some((st, state, _)) if st == start_time && state != 'Z')
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A process this test started; SIGKILLed on drop if it is still the same
/// process (pid and start time), so a recycled pid is never touched.
pub struct Proc {
    pub pid: i32,
    pub start_time: u64,
    child: Option<Child>,
}

impl Proc {
    pub fn from_child(child: Child) -> Proc {
        let pid = child.id() as i32;
        let start_time = wait_stat(pid).0;
        Proc {
            pid,
            start_time,
            child: Some(child),
        }
    }

    pub fn from_pid(pid: i32) -> Proc {
        let start_time = wait_stat(pid).0;
        Proc {
            pid,
            start_time,
            child: None,
        }
    }

    pub fn alive(&self) -> bool {
        alive(self.pid, self.start_time)
    }

    pub fn ppid(&self) -> Option<i32> {
        stat_of(self.pid).map(|s| s.2)
    }

    pub fn signal(&self, sig: i32) {
        if self.alive() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Reaps our own child if it exited (other processes are reaped by
    /// whoever adopted them).
    pub fn reap_child(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.try_wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

fn wait_stat(pid: i32) -> (u64, char, i32) {
    let mut last = None;
    wait_until(Duration::from_secs(5), || {
        last = stat_of(pid);
        last.is_some()
    });
    last.unwrap_or_else(|| panic!("pid {pid} never appeared"))
}

/// Starts `bin args…` as an orphan: in a new session (no controlling tty),
/// through a shell that exits at once, so it is re-parented to PID 1 or the
/// nearest subreaper. Returns once the re-parenting happened.
pub fn spawn_orphan(env: &TestEnv, bin: &Path, args: &[&str]) -> Proc {
    let mut c = Command::new("setsid");
    c.arg("sh")
        .arg("-c")
        .arg("\"$0\" \"$@\" </dev/null >/dev/null 2>&1 & echo $!")
        .arg(bin)
        .args(args);
    env.isolate(&mut c);
    let out = c.stdout(Stdio::piped()).output().unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("orphan pid");
    let p = Proc::from_pid(pid);
    // Until the background child execs, it is still a copy of the shell.
    if bin != Path::new("sh") {
        let shell = std::fs::canonicalize("/bin/sh").ok();
        assert!(
            wait_until(Duration::from_secs(5), || {
                std::fs::read_link(format!("/proc/{pid}/exe")).ok() != shell
            }),
            "{} never exec'd",
            bin.display()
        );
    }
    let me = std::process::id() as i32;
    assert!(
        wait_until(Duration::from_secs(5), || p
            .ppid()
            .is_none_or(|pp| pp != me)), // gone already (a running watch) counts
        "orphan {pid} was not re-parented"
    );
    p
}

/// Runs `c` to the end and asserts that it succeeded (its stderr in the
/// message).
pub fn output_ok(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pid`'s comm, as the kernel has it (`None` once it is gone).
pub fn comm_of(pid: i32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/comm"))
        .ok()
        .map(|b| String::from_utf8_lossy(b.strip_suffix(b"\n").unwrap_or(&b)).into_owned())
}

/// `/proc/PID/oom_score_adj` of a process of ours.
pub fn adj(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Sets `/proc/PID/oom_score_adj` of a process of ours.
pub fn set_adj(pid: i32, v: i32) {
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), v.to_string()).unwrap();
}

/// Whether `pid` runs now under the comm `name`.
pub fn comm_is(pid: i32, name: &str) -> bool {
    comm_of(pid).is_some_and(|c| c == name)
}

/// Pids whose comm is exactly `comm` (unique names: only ours).
pub fn pids_with_comm(comm: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if comm_is(pid, comm) {
            out.push(pid);
        }
    }
    out
}

/// The (first) process named `comm` once it runs; panics after 10 s.
pub fn started(comm: &str) -> Proc {
    let mut found = None;
    wait_until(Duration::from_secs(10), || {
        found = pids_with_comm(comm).first().copied();
        found.is_some()
    });
    Proc::from_pid(found.unwrap_or_else(|| panic!("{comm} never started")))
}

/// The comm of the process that adopts orphans here (PID 1, or a subreaper
/// such as `systemd --user`): tests add it to `reaper_parents` so the
/// orphan rule holds wherever they run.
pub fn adopter_comm(orphan: &Proc) -> String {
    comm_of(orphan.ppid().expect("orphan alive")).unwrap_or_default()
}

/// A config that makes `orphan`'s adopter a reaper parent and sets min_age
/// and grace, plus any extra TOML.
pub fn orphan_config(env: &TestEnv, orphan: &Proc, min_age: &str, grace: &str, extra: &str) {
    let adopter = adopter_comm(orphan);
    env.write_config(&format!(
        "min_age = \"{min_age}\"\ngrace = \"{grace}\"\nreaper_parents = [{:?}]\n{extra}",
        adopter
    ));
}

/// A tmux server on a private socket under the test's `TMUX_TMPDIR`,
/// killed (by socket, then by pid) on drop.
pub struct Tmux {
    pub name: String,
    pub socket: PathBuf,
    tmpdir: PathBuf,
    pub server_pid: i32,
    server_start: u64,
}

impl Tmux {
    /// Starts a server with one detached session running `command`.
    pub fn start(env: &TestEnv, command: &str) -> Tmux {
        let name = unique_name("tm");
        let tmpdir = env.tmux_tmpdir();
        let uid = nix_uid();
        let socket = tmpdir.join(format!("tmux-{uid}")).join(&name);
        let mut t = Tmux {
            name,
            socket,
            tmpdir,
            server_pid: 0,
            server_start: 0,
        };
        output_ok(t.cmd().args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "100",
            "-y",
            "30",
            command,
        ]));
        let pid = t.display("#{pid}");
        t.server_pid = pid.trim().parse().expect("server pid");
        t.server_start = wait_stat(t.server_pid).0;
        t
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.name);
        c.env("TMUX_TMPDIR", &self.tmpdir)
            .env_remove("TMUX")
            .stdin(Stdio::null());
        c
    }

    pub fn display(&self, format: &str) -> String {
        let out = self
            .cmd()
            .args(["display-message", "-p", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Opens a new window running `command`; returns the pane's first pid.
    pub fn new_window(&self, command: &str) -> i32 {
        let out =
            output_ok(
                self.cmd()
                    .args(["new-window", "-d", "-P", "-F", "#{pane_pid}", command]),
            );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// The pid of the first process in session main's first pane.
    pub fn first_pane_pid(&self) -> i32 {
        self.display("#{pane_pid}").parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        if alive(self.server_pid, self.server_start) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(self.server_pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

pub fn nix_uid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Children pids of `pid`, from `/proc/PID/task/*/children`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// Finds a descendant of `root` whose comm is `comm`, waiting up to 5 s.
pub fn find_descendant(root: i32, comm: &str) -> Option<i32> {
    let mut found = None;
    wait_until(Duration::from_secs(5), || {
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            if comm_is(p, comm) {
                found = Some(p);
                return true;
            }
            stack.extend(children_of(p));
        }
        false
    });
    found
}

/// Waits until `p` ignores SIGTERM (its `trap '' TERM` ran): a TERM sent
/// earlier would kill it and the test would race its own setup.
pub fn wait_term_ignored(p: &Proc) {
    let ignores = || {
        std::fs::read_to_string(format!("/proc/{}/status", p.pid))
            .ok()
            .and_then(|s| {
                let mask = s
                    .lines()
                    .find_map(|l| l.strip_prefix("SigIgn:"))?
                    .trim()
                    .to_string();
                u64::from_str_radix(&mask, 16).ok()
            })
            .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
    };
    // Generous: 50 of these start at once on a loaded 2-core machine.
    assert!(
        wait_until(Duration::from_secs(60), ignores),
        "pid {} never ignored SIGTERM",
        p.pid
    );
}

impl Proc {
    /// Waits for our own child to exit; its exit code (`None` when killed
    /// by a signal, or when this is not our child).
    pub fn wait_status(&mut self) -> Option<i32> {
        self.child.as_mut()?.wait().ok()?.code()
    }
}

/// Open fds of `pid` (0 when it is gone).
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// What each open fd of `pid` points at, for failure messages.
pub fn fd_targets(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .filter_map(Result::ok)
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map_or_else(|e| e.to_string(), |t| t.display().to_string());
            format!("{}->{}", e.file_name().to_string_lossy(), target)
        })
        .collect();
    v.sort();
    v
}

/// Resident memory of `pid` in KiB (0 when it is gone).
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The fewest fds `pid` had over a second: a `watch` cycle opens fds while
/// it runs (and on a loaded machine may run longer than its interval), so
/// only the quiet moments between cycles are comparable.
pub fn quiet_fds(pid: i32) -> usize {
    (0..100)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            fd_count(pid)
        })
        .min()
        .unwrap_or(0)
}

/// The smallest fd count of `pid` seen within `window`, returning as soon
/// as it is at most `target`.
pub fn resting_fds_at_most(pid: i32, target: usize, window: Duration) -> usize {
    let start = Instant::now();
    let mut least = usize::MAX;
    while start.elapsed() < window {
        least = least.min(fd_count(pid));
        if least <= target {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    least
}

/// The lines a child prints, on a channel (read on a thread, so a test can
/// wait for them with a timeout).
pub fn line_reader(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// In the re-run child of [`rerun_in_mount_namespace`] (`child_env` set):
/// mounts tracefs under the dir `child_env` names, in that private mount
/// namespace, and returns its root. Elsewhere `None`.
pub fn tracefs_in_rerun_child(child_env: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(child_env)?;
    let root = PathBuf::from(dir).join("tracefs");
    std::fs::create_dir_all(&root).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tracefs", "nodev"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "mount -t tracefs in the private namespace");
    Some(root)
}

/// Runs the test `name` of this test binary again, alone, inside a private
/// mount namespace (`unshare -m`), with `child_env` set to a fresh scratch
/// dir: how a test mounts (or unmounts) tracefs without touching the host's
/// mounts. Asserts that the child ran exactly that one test and passed; a
/// skip in the child is a skip here. Skips where `unshare` is missing.
pub fn rerun_in_mount_namespace(name: &str, child_env: &str) {
    if Command::new("unshare").arg("--version").output().is_err() {
        skip("unshare(1) is missing: no private mount namespace to re-run in");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("stray-test-ns-")
        .tempdir()
        .unwrap();
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(child_env, dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the run in a private mount namespace failed:\n{text}"
    );
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
    // A skip in the child is this test's skip (the child's stderr is
    // captured here, so it would otherwise be lost).
    if let Some(line) = text.lines().find(|l| l.starts_with("SKIPPED ")) {
        skip(&format!("in the private mount namespace: {line}"));
    }
}

/// The uid and gid of `nobody`/`nogroup` on Debian.
pub const NOBODY: u32 = 65534;

/// `c` run through `prefix` (a program and its arguments, e.g. `setpriv
/// …`, `unshare …`), with `c`'s environment changes, stdin from /dev/null.
pub fn wrapped(prefix: &[&str], c: &Command) -> Command {
    let mut s = Command::new(prefix[0]);
    s.args(&prefix[1..]).arg(c.get_program()).args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    s.stdin(Stdio::null());
    s
}

/// `setpriv` prefix that runs a command as nobody:nogroup, no groups.
pub fn as_nobody(c: &Command) -> Command {
    wrapped(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
        ],
        c,
    )
}

/// Runs `stray --format json ARGS` as nobody (see [`share_with_nobody`]),
/// asserts it succeeded, and parses its output.
pub fn json_as_nobody(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut c = env.cmd();
    c.args(["--format", "json"]).args(args);
    let o = output_ok(&mut as_nobody(&c));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Starts `bin 300` as nobody, detached (`setsid … &`): an orphan of
/// nobody's, once its parent shell has exited.
pub fn spawn_orphan_as_nobody(env: &TestEnv, bin: &Path) -> Proc {
    let mut c = Command::new("setsid");
    c.arg("sh")
        .arg("-c")
        .arg("\"$0\" \"$@\" </dev/null >/dev/null 2>&1 & echo $!")
        .arg(bin)
        .arg("300");
    env.isolate(&mut c);
    let out = as_nobody(&c).stdout(Stdio::piped()).output().unwrap();
    let pid: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("orphan pid");
    let p = Proc::from_pid(pid);
    assert!(wait_until(Duration::from_secs(5), || p
        .ppid()
        .is_some_and(|pp| pp != std::process::id() as i32)));
    p
}

/// Makes a TestEnv usable by nobody: the dir traversable, the config
/// readable, the state dirs owned by nobody.
pub fn share_with_nobody(env: &TestEnv) {
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir.path(), Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(env.config_path(), Permissions::from_mode(0o644)).unwrap();
    for d in [env.state_dir(), env.path("xdg-state")] {
        std::fs::create_dir_all(&d).unwrap();
        nix::unistd::chown(
            &d,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap();
    }
}

/// Copies an executable with `cp`, so the file is never open for writing
/// in this (multi-threaded) process: a child another test forks at that
/// moment would inherit the write fd until its exec, and running the copy
/// then fails with ETXTBSY ("Text file busy").
pub fn copy_exe(src: impl AsRef<Path>, dst: impl AsRef<Path>) {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let status = Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dst)
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cp {} {}: {e}", src.display(), dst.display()));
    assert!(
        status.success(),
        "cp {} {}: {status}",
        src.display(),
        dst.display()
    );
}

/// Starts `c` in a session of its own, with no controlling terminal, as a
/// headless agent or a `setsid` job runs.
pub fn in_own_session(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    c
}
