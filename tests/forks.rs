//! Fork count: a scan starts no child process except at most one bounded
//! tmux query per live tmux server (none once the pane cache is warm), and
//! `reap --dry-run` starts none, however many agents and panes there are.
//! Counted with strace on the real binary, against private tmux servers
//! holding fake agents. And per-process reads: a would-be leftover's fd
//! table is listed once per cycle.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// What strace saw one `stray` run start.
#[derive(Debug, Default)]
struct Spawns {
    /// clone/clone3 without CLONE_THREAD, fork, vfork.
    processes: usize,
    /// Threads (clone/clone3 with CLONE_THREAD): allowed, counted for the
    /// report only.
    threads: usize,
    /// The programs the children ran (last successful execve of each).
    programs: Vec<String>,
}

/// `None` (with the reason printed) where strace is missing or ptrace is
/// not permitted (containers without CAP_SYS_PTRACE, Yama scope 3).
fn strace_usable() -> Option<()> {
    let ok = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip("strace is not installed or ptrace is not permitted here");
        return None;
    }
    Some(())
}

/// Runs `cmd` (the isolated stray command) under `strace -f -ff`, one trace
/// file per task, and counts what it started.
fn traced(env: &TestEnv, args: &[&str]) -> (Spawns, std::process::Output) {
    let dir = env.path("strace");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out_prefix = dir.join("t");
    let strace = [
        "strace",
        "-f",
        "-ff",
        "-qq",
        "-s",
        "256",
        "-e",
        "trace=execve,clone,clone3,fork,vfork",
        "-o",
        out_prefix.to_str().unwrap(),
    ];
    let out = wrapped(&strace, env.cmd().args(args)).output().unwrap();
    (count(&dir), out)
}

fn count(dir: &Path) -> Spawns {
    let mut s = Spawns::default();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut last_exec = None;
        for line in text.lines() {
            let call = line.split('(').next().unwrap_or("");
            let returned_pid = line
                .rsplit_once(" = ")
                .is_some_and(|(_, r)| r.trim().parse::<i64>().is_ok_and(|n| n > 0));
            match call {
                "clone" | "clone3" if returned_pid => {
                    if line.contains("CLONE_THREAD") {
                        s.threads += 1;
                    } else {
                        s.processes += 1;
                    }
                }
                "fork" | "vfork" if returned_pid => s.processes += 1,
                "execve" if line.ends_with("= 0") => {
                    last_exec = line.split('"').nth(1).map(str::to_string);
                }
                _ => {}
            }
        }
        if let Some(program) = last_exec {
            s.programs.push(program);
        }
    }
    // The first program is stray itself, started by strace.
    if !s.programs.is_empty() {
        s.programs.remove(0);
    }
    s
}

#[test]
fn scan_starts_at_most_one_tmux_query_per_server_and_reap_none() {
    if strace_usable().is_none() {
        return;
    }
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("f");
    // Two private servers, each with agents in several panes, deep enough
    // that a per-pane or per-ancestor query would show up many times over.
    let pane = format!("sh -c 'sh -c \"{} 300; :\"; :'", bin.display());
    let servers = [Tmux::start(&env, &pane), Tmux::start(&env, &pane)];
    for t in &servers {
        for _ in 0..3 {
            t.new_window(&pane);
        }
    }
    let mut agents = Vec::new();
    for t in &servers {
        assert!(
            wait_until(std::time::Duration::from_secs(10), || {
                children_of(t.server_pid).len() >= 4
            }),
            "panes did not start"
        );
        for pane_pid in children_of(t.server_pid) {
            agents.push(Proc::from_pid(
                find_descendant(pane_pid, &name).expect("agent in pane"),
            ));
        }
    }
    assert_eq!(agents.len(), 8);
    // And a candidate outside tmux, so reap has someone to look at closely.
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");

    let (spawns, out) = traced(&env, &["--format", "json", "scan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for a in &agents {
        let entry = scan_entry(&doc, a.pid).expect("agent scanned");
        assert_eq!(entry["class"], "protected", "{entry}");
        // The labels prove the queries ran.
        assert!(entry["pane"].is_string(), "no pane label: {entry}");
    }
    assert_eq!(class_in_scan(&doc, orphan.pid).as_deref(), Some("orphan"));
    assert!(
        spawns.processes <= servers.len(),
        "scan started {} processes for {} tmux servers: {spawns:?}",
        spawns.processes,
        servers.len()
    );
    assert!(
        spawns.programs.iter().all(|p| p.ends_with("/tmux")),
        "scan ran something other than tmux: {spawns:?}"
    );
    eprintln!("scan: {spawns:?}");

    // The answers are kept (the pane cache): a second scan right after
    // starts no process at all, and labels every agent the same.
    let (again, out) = traced(&env, &["--format", "json", "scan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warm: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for a in &agents {
        assert_eq!(
            scan_entry(&warm, a.pid).unwrap()["pane"],
            scan_entry(&doc, a.pid).unwrap()["pane"]
        );
    }
    assert_eq!(
        again.processes, 0,
        "a warm scan started processes: {again:?}"
    );
    assert!(again.programs.is_empty(), "{again:?}");

    let (spawns, out) = traced(&env, &["--format", "json", "reap", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["actions"][0]["pid"], orphan.pid, "{doc}");
    assert_eq!(
        spawns.processes, 0,
        "reap --dry-run started processes: {spawns:?}"
    );
    assert!(spawns.programs.is_empty(), "{spawns:?}");
    assert!(orphan.alive());
}

#[test]
fn the_counter_sees_forks_and_threads() {
    // The parser itself, on a command known to fork: `sh -c 'true; true'`
    // forks once per non-final command.
    if strace_usable().is_none() {
        return;
    }
    let env = TestEnv::new();
    let dir = env.path("strace");
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("strace")
        .args(["-f", "-ff", "-qq", "-s", "256"])
        .args(["-e", "trace=execve,clone,clone3,fork,vfork"])
        .arg("-o")
        .arg(dir.join("t"))
        .args(["sh", "-c", "/bin/true; /bin/true; /bin/true"])
        .status()
        .unwrap();
    assert!(status.success());
    let s = count(&dir);
    assert!(s.processes >= 2, "{s:?}");
    assert!(s.programs.iter().all(|p| p == "/bin/true"), "{s:?}");
}

/// A would-be leftover is asked several questions about its fds (terminal
/// masters, sockets, pipes): one cycle lists its fd table once.
#[test]
fn a_would_be_leftovers_fd_table_is_listed_once_per_cycle() {
    if strace_usable().is_none() {
        return;
    }
    let env = TestEnv::new();
    let name = unique_name("fl");
    let bin = env.path(&name);
    copy_exe("/bin/sleep", &bin);
    let marker = format!("STRAYT{}_SESS", unique_name("m").to_uppercase());
    // A dead session's job: its session marker names a session no live
    // process carries.
    let session = format!(
        "{marker}=5f0c1d2e-0000-4000-8000-{:012x}",
        std::process::id()
    );
    let job = spawn_orphan(
        &env,
        Path::new("env"),
        &[&session, bin.to_str().unwrap(), "300"],
    );
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        comm_is(job.pid, &name)
    }));
    orphan_config(
        &env,
        &job,
        "0s",
        "60s",
        &format!("[family]\nenv = [\"{marker}\"]\n"),
    );

    let trace = env.path("openat.trace");
    let mut stray = env.cmd();
    stray.args(["--format", "json", "reap", "--dry-run"]);
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=openat",
        "-o",
        trace.to_str().unwrap(),
    ];
    let out = output_ok(&mut wrapped(&strace, &stray));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let action =
        action_for(&doc, job.pid).unwrap_or_else(|| panic!("the job is not planned: {doc}"));
    assert_eq!(action["class"], "leftover", "{action}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let fd_dir = format!("\"/proc/{}/fd\"", job.pid);
    let listings = text.lines().filter(|l| l.contains(&fd_dir)).count();
    assert_eq!(listings, 1, "{fd_dir} opened {listings} times:\n{text}");
    assert!(job.alive());
}
