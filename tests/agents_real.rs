//! The real Claude Code CLI, offline: what its sessions leave behind, and
//! what the family rules (`stray::family`) make of it.
//!
//! Needs the CLI (it installs nothing itself): `STRAY_CLAUDE_CODE` names
//! the binary, e.g. after
//! `npm install --prefix DIR @anthropic-ai/claude-code@2.1.332`,
//! `STRAY_CLAUDE_CODE=DIR/node_modules/@anthropic-ai/claude-code-linux-x64/claude`.
//! Skips (visibly; a failure under CI=true) without it, python3, or a way
//! into a network namespace.
//!
//! Everything runs inside `unshare -n` (no network: loopback only) against
//! `tests/fixtures/agents/api_stub.py`, which answers the model call with a
//! Bash `tool_use` running `shell_probe.sh` (two background jobs). Two MCP
//! servers (`mcp_recorder.py`, one behind `sh -c`) ignore EOF and SIGTERM.
//! The driver (`run_agent.py`) records who survived; this test checks the
//! markers, runs the pure family decision on the real process table, and
//! kills the survivors by pid and start time. One test runs the session in
//! private PID and network namespaces too, so that a real `stray reap`
//! there (with the built-in markers) can reach nothing else.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stray::family::{self, Input, Outcome, ProcView, Rules};
use stray::ProcKey;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents")
}

/// The command prefix that enters a fresh network namespace, if any works.
fn netns_prefix() -> Option<Vec<&'static str>> {
    common::first_working_prefix(
        &[&["unshare", "-n", "--"], &["unshare", "-rn", "--"]],
        &["true"],
    )
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The recorded survivors and the run's unique token; on drop, kills them
/// (pid and start time must match) and then, a few times over, every
/// process whose environment carries `STRAY_PROBE_RUN=<token>` (a uuid
/// this run made up: a background daemon may have started more).
struct Survivors {
    listed: Vec<(i32, u64)>,
    token: String,
}

fn carrying_token(token: &str) -> Vec<(i32, u64)> {
    let needle = format!("STRAY_PROBE_RUN={token}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|e| e == needle.as_bytes()) {
            if let Some((start, _, _)) = common::stat_of(pid) {
                out.push((pid, start));
            }
        }
    }
    out
}

impl Drop for Survivors {
    fn drop(&mut self) {
        let kill = |pid: i32, start: u64| {
            if pid != std::process::id() as i32 && common::alive(pid, start) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        };
        for &(pid, start) in &self.listed {
            kill(pid, start);
        }
        if self.token.len() == 32 {
            for _ in 0..5 {
                let rest = carrying_token(&self.token);
                if rest.is_empty() {
                    break;
                }
                for (pid, start) in rest {
                    kill(pid, start);
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}

/// Runs one Claude Code session through the driver (`how`: `-p` or
/// `--bg`); returns its report.
fn run_claude(cli: &Path, mode: &str, how: &str, dir: &Path, netns: &[&str]) -> (Value, Survivors) {
    std::fs::create_dir_all(dir.join("home")).unwrap();
    // Onboarding done and the directory trusted (`--bg` insists).
    let trust = serde_json::json!({
        "hasCompletedOnboarding": true,
        "projects": {dir.to_string_lossy(): {"hasTrustDialogAccepted": true}},
    });
    std::fs::write(dir.join("home/.claude.json"), trust.to_string()).unwrap();
    std::fs::write(
        dir.join("mcp.json.tmpl"),
        r#"{"mcpServers": {
  "direct": {"command": "python3", "args": ["@FIX@/mcp_recorder.py", "@OUT@", "direct"]},
  "wrapped": {"command": "sh", "args": ["-c", "python3 @FIX@/mcp_recorder.py @OUT@ wrapped; true"]}
}}"#,
    )
    .unwrap();
    let shell = format!(
        "ANTHROPIC_BASE_URL=http://127.0.0.1:@PORT@ exec '{}' {how} 'run the probe' \
         --mcp-config @OUT@/mcp.json --strict-mcp-config --allowedTools Bash \
         --model claude-sonnet-4-5",
        cli.display()
    );
    let out = Command::new(netns[0])
        .args(&netns[1..])
        .arg("python3")
        .arg(fixtures().join("run_agent.py"))
        .args(["claude", mode])
        .arg(dir)
        .args(["--", "sh", "-c", &shell])
        .env("HOME", dir.join("home"))
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("RUN_TIMEOUT", "120")
        // Keep the survivors: this test judges them, then kills them.
        .env("RUN_FLAGS", "keep")
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("CLAUDECODE")
        .env_remove("CLAUDE_CODE_SESSION_ID")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap_or_else(|e| {
            panic!(
                "{}: no report ({e}); driver stderr: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        }))
        .unwrap();
    let survivors = Survivors {
        listed: report["survivors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["pid"].as_i64().unwrap() as i32,
                    s["start_time"].as_u64().unwrap(),
                )
            })
            .collect(),
        token: report["token"].as_str().unwrap_or("").to_string(),
    };
    (report, survivors)
}

fn env_of(v: &Value) -> &serde_json::Map<String, Value> {
    v.as_object().unwrap()
}

fn s<'a>(m: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn is_uuid(v: &str) -> bool {
    v.len() == 36 && v.chars().filter(|&c| c == '-').count() == 4
}

/// The whole process table as the family rules see it, read from /proc:
/// every environment (filtered to the marker names), tty = live when set.
fn table(rules: &Rules) -> Vec<ProcView> {
    let names = rules.env_names();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if f.len() < 20 || f[0] == "Z" {
            continue;
        }
        let ppid: i32 = f[1].parse().unwrap_or(0);
        let tty: i64 = f[4].parse().unwrap_or(0);
        let start: u64 = f[19].parse().unwrap_or(0);
        let mut v = ProcView::new(pid, start, ppid, comm);
        v.agent = comm == "claude" || comm == "claude.exe";
        v.live_tty = tty != 0;
        v.args = std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        v.env = std::fs::read(format!("/proc/{pid}/environ"))
            .ok()
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter_map(|e| {
                        let e = String::from_utf8_lossy(e);
                        let (k, val) = e.split_once('=')?;
                        names.contains(k).then(|| (k.to_string(), val.to_string()))
                    })
                    .collect()
            });
        out.push(v);
    }
    // Re-parented means: to PID 1 or a default subreaper name.
    let comms: std::collections::HashMap<i32, String> =
        out.iter().map(|v| (v.key.pid, v.comm.clone())).collect();
    for v in &mut out {
        v.reaper_parent = v.ppid == 1
            || comms
                .get(&v.ppid)
                .is_some_and(|c| ["systemd", "init", "tini", "dumb-init"].contains(&c.as_str()));
    }
    out
}

fn prerequisites() -> Option<(PathBuf, Vec<&'static str>)> {
    let Some(cli) = std::env::var_os("STRAY_CLAUDE_CODE").map(PathBuf::from) else {
        common::skip("STRAY_CLAUDE_CODE is not set (path to the Claude Code binary)");
        return None;
    };
    if !cli.is_file() {
        common::skip(&format!(
            "STRAY_CLAUDE_CODE={} is not a file",
            cli.display()
        ));
        return None;
    }
    if !have("python3") {
        common::skip("python3 not found (the stub and the MCP recorder need it)");
        return None;
    }
    let Some(netns) = netns_prefix() else {
        common::skip("cannot enter a network namespace (unshare -n / -rn)");
        return None;
    };
    Some((cli, netns))
}

/// The pid of the MCP server the driver's report tags `tag`.
fn mcp_pid(report: &Value, tag: &str) -> i32 {
    report["mcp"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["tag"] == tag))
        .and_then(|m| m["pid"].as_i64())
        .unwrap_or_else(|| panic!("no {tag} MCP server in the report: {report:#}")) as i32
}

/// After `kill -9` of `claude -p`: the markers on MCP servers and shell
/// jobs are the SPEC's, and every survivor is a leftover of its dead
/// session, with the whole dead subtree in one decision.
#[test]
fn claude_code_kill9_survivors_are_leftovers() {
    let Some((cli, netns)) = prerequisites() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("stray-claude-")
        .tempdir()
        .unwrap();
    let (report, survivors) = run_claude(&cli, "kill9", "-p", dir.path(), &netns);
    let agent_pid = report["agent_proc"]["pid"].as_i64().unwrap();

    // Claude's own environment holds none of its markers.
    let own = env_of(&report["agent_proc"]["environ"]);
    for k in [
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDECODE",
        "CLAUDE_PID",
        "CLAUDE_CODE_MESSAGING_SOCKET",
    ] {
        assert!(!own.contains_key(k), "claude's own environ has {k}");
    }

    // MCP servers: session uuid, CLAUDECODE=1, AI_AGENT, socket naming claude.
    let mcp = report["mcp"].as_array().unwrap();
    assert_eq!(mcp.len(), 2, "two MCP servers recorded: {mcp:?}");
    let session = s(env_of(&mcp[0]["env"]), "CLAUDE_CODE_SESSION_ID").to_string();
    assert!(is_uuid(&session), "session id {session:?}");
    for m in mcp {
        let e = env_of(&m["env"]);
        assert_eq!(s(e, "CLAUDE_CODE_SESSION_ID"), session);
        assert_eq!(s(e, "CLAUDECODE"), "1");
        assert!(s(e, "AI_AGENT").starts_with("claude-code_"), "{e:?}");
        let sock = s(e, "CLAUDE_CODE_MESSAGING_SOCKET");
        assert_eq!(family::pid_in_value(sock), Some(agent_pid as i32), "{sock}");
        assert!(
            !e.contains_key("CLAUDE_PID"),
            "MCP servers get no CLAUDE_PID"
        );
        // They keep claude's session (no setsid).
        assert_eq!(m["sid"], report["agent_proc"]["stat"]["sid"]);
    }

    // The shell tool's process: CLAUDE_PID, same session uuid, own session.
    let shells = report["shell_env"].as_array().unwrap();
    assert_eq!(shells.len(), 1, "the probe ran once");
    let sh = env_of(&shells[0]);
    assert_eq!(s(sh, "CLAUDE_PID"), agent_pid.to_string());
    assert_eq!(s(sh, "CLAUDE_CODE_SESSION_ID"), session);
    assert!(s(sh, "AI_AGENT").ends_with("_agent"), "{sh:?}");
    let stat = report["shell_stat"][0].as_str().unwrap().to_string();
    let f: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(f[5], f[4], "the shell runs in a session of its own: {stat}");

    // Survivors: the MCP server behind `sh -c` and both background jobs
    // (claude signals only its direct children).
    let pids: BTreeSet<i32> = survivors.listed.iter().map(|s| s.0).collect();
    let job = |name: &str| -> i32 {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    for j in ["job-setsid.pid", "job-nohup.pid"] {
        assert!(pids.contains(&job(j)), "{j} survived: {pids:?}");
    }
    assert!(pids.contains(&mcp_pid(&report, "wrapped")));

    // The family rules on the real table: every survivor is a leftover
    // (their claude is gone), and none of the others of this run is.
    let rules = Rules::default();
    let input = Input {
        procs: table(&rules),
        ..Input::default()
    };
    let d = family::decide(&input, &rules);
    for &(pid, start) in &survivors.listed {
        let key = ProcKey {
            pid,
            start_time: start,
        };
        let Some(v) = d.verdicts.iter().find(|v| v.key == key) else {
            continue; // exited meanwhile
        };
        let comm = &input.procs.iter().find(|p| p.key == key).unwrap().comm;
        // A survivor still under another survivor is "below a leftover";
        // one on a terminal (none here: no tty) would be kept.
        assert_eq!(
            v.outcome,
            Outcome::Leftover,
            "survivor {pid} ({comm}): {}",
            v.reason
        );
    }
    planned_by_the_cli(dir.path(), &survivors);
}

/// The same survivors through the real `stray` CLI: `reap --dry-run` with
/// the built-in markers plans every live survivor as a `leftover`. Only a
/// dry run here, in this PID namespace: a real cycle with the built-in
/// markers could also take another dead Claude Code session's leftovers on
/// this machine (`claude_code_kill9_survivors_are_reaped_for_real` reaps
/// in a namespace of its own).
fn planned_by_the_cli(dir: &Path, survivors: &Survivors) {
    let live: Vec<(i32, u64)> = survivors
        .listed
        .iter()
        .copied()
        .filter(|&(pid, start)| common::alive(pid, start))
        .collect();
    let ours: BTreeSet<i32> = live.iter().map(|s| s.0).collect();
    // Whatever adopted the survivors is a reaper parent here.
    let mut adopters: BTreeSet<String> = BTreeSet::new();
    for &(pid, _) in &live {
        if let Some((_, _, ppid)) = common::stat_of(pid) {
            if !ours.contains(&ppid) {
                if let Some(c) = common::comm_of(ppid) {
                    adopters.insert(c);
                }
            }
        }
    }
    let cfg = dir.join("stray.toml");
    std::fs::write(
        &cfg,
        format!(
            "min_age = \"0s\"\nreaper_parents = {:?}\n[match]\nnames = [{:?}]\nexe = []\n",
            adopters
                .iter()
                .chain(["systemd", "init"].map(String::from).iter())
                .collect::<Vec<_>>(),
            common::unique_name("nc")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stray"))
        .arg("-c")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.join("stray-state"))
        .args(["--format", "json", "reap", "--dry-run"])
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env_remove("STRAY_CONFIG")
        .env_remove("STRAY_STATE_DIR")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stray reap --dry-run: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    for &(pid, start) in &live {
        if !common::alive(pid, start) {
            continue;
        }
        let action = common::action_for(&doc, pid)
            .unwrap_or_else(|| panic!("survivor {pid} not planned by the CLI: {doc}"));
        assert_eq!(action["class"], "leftover", "{action}");
        assert_eq!(action["outcome"], "would-signal", "{action}");
    }
}

/// After a normal end of `claude -p`, the same markers tie the survivors
/// to a session that is gone.
#[test]
fn claude_code_normal_exit_survivors_are_leftovers() {
    let Some((cli, netns)) = prerequisites() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("stray-claude-")
        .tempdir()
        .unwrap();
    let (report, survivors) = run_claude(&cli, "normal", "-p", dir.path(), &netns);
    assert_eq!(report["agent_proc"]["returncode"], 0, "{report:#}");
    assert!(
        !survivors.listed.is_empty(),
        "the stubborn wrapped MCP server and the jobs survive a normal end"
    );
    let rules = Rules::default();
    let input = Input {
        procs: table(&rules),
        ..Input::default()
    };
    let d = family::decide(&input, &rules);
    for &(pid, start) in &survivors.listed {
        let key = ProcKey {
            pid,
            start_time: start,
        };
        if let Some(v) = d.verdicts.iter().find(|v| v.key == key) {
            assert_eq!(v.outcome, Outcome::Leftover, "{pid}: {}", v.reason);
        }
    }
}

/// The prefix that enters fresh PID and network namespaces with their own
/// `/proc`, if any works: a `stray` run inside sees only what the session
/// there started, so a real reap with the built-in markers cannot reach any
/// other process on this machine.
fn pid_and_netns_prefix() -> Option<Vec<&'static str>> {
    common::first_working_prefix(
        &[
            &["unshare", "-npf", "--mount-proc", "--"],
            &["unshare", "-rnpf", "--mount-proc", "--"],
        ],
        &["sh", "-c", "test $$ = 1"],
    )
}

/// After `kill -9` of `claude -p`, a real `stray reap --wait` with the
/// built-in markers takes every survivor (the MCP server behind `sh -c`
/// ignores SIGTERM: SIGKILL after the grace) and signals nothing else. All
/// of it runs in private PID and network namespaces: the namespace's PID 1
/// (a shell) adopts the survivors, and everything left in the namespace
/// dies with it.
#[test]
fn claude_code_kill9_survivors_are_reaped_for_real() {
    let Some((cli, _)) = prerequisites() else {
        return;
    };
    let Some(ns) = pid_and_netns_prefix() else {
        common::skip("cannot enter PID and network namespaces (unshare -npf / -rnpf)");
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("stray-claude-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stray.toml"),
        format!(
            // A real reap: its audit lines go to this test's own log, not
            // the user's.
            "min_age = \"0s\"\ngrace = \"2s\"\naudit_log = {:?}\n[match]\nnames = [{:?}]\nexe = []\n",
            d.join("audit.jsonl"),
            common::unique_name("nc")
        ),
    )
    .unwrap();
    // PID 1 of the namespace: runs the session (the driver's arguments),
    // then the reap, then lists who is left.
    let script = format!(
        "\"$@\"; '{stray}' -c '{d}/stray.toml' --state-dir '{d}/stray-state' --format json \
         reap --wait > '{d}/reap.json' 2> '{d}/reap.err'; ps -eo pid= > '{d}/after.txt'",
        stray = env!("CARGO_BIN_EXE_stray"),
        d = d.display()
    );
    let mut prefix = ns.clone();
    prefix.extend(["sh", "-c", &script, "sh"]);
    let (report, mut survivors) = run_claude(&cli, "kill9", "-p", d, &prefix);
    // Namespace pids: meaningless outside it (the token still finds them).
    let listed = std::mem::take(&mut survivors.listed);
    let ours: BTreeSet<i32> = listed.iter().map(|s| s.0).collect();
    assert!(
        !ours.is_empty(),
        "the wrapped MCP server and the jobs survive: {report:#}"
    );
    let reap: Value = serde_json::from_slice(&std::fs::read(d.join("reap.json")).unwrap())
        .unwrap_or_else(|e| {
            panic!(
                "reap.json: {e}: {}",
                std::fs::read_to_string(d.join("reap.err")).unwrap_or_default()
            )
        });
    let actions = reap["actions"].as_array().unwrap();
    let taken = common::action_pids(&reap);
    assert_eq!(taken, ours, "exactly the survivors are taken: {reap:#}");
    for a in actions {
        assert_eq!(a["class"], "leftover", "{a}");
        assert_eq!(a["rule"], "family", "{a}");
        assert_eq!(a["outcome"], "signalled", "{a}");
    }
    // The wrapped MCP server ignores SIGTERM: the escalation ends it.
    let wrapped = mcp_pid(&report, "wrapped");
    assert!(
        actions
            .iter()
            .any(|a| a["pid"] == wrapped && a["signal"] == "SIGKILL"),
        "the TERM-ignoring server {wrapped} got SIGKILL after the grace: {reap:#}"
    );
    let after: BTreeSet<i32> = std::fs::read_to_string(d.join("after.txt"))
        .unwrap()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let left: Vec<&i32> = ours.intersection(&after).collect();
    assert!(
        left.is_empty(),
        "survivors still running after the reap: {left:?}; {reap:#}"
    );
    // The audit lines went to the test's own log.
    let audit = common::audit_events_in(&d.join("audit.jsonl"), "reap");
    for pid in &ours {
        assert!(
            audit.iter().any(|l| l["pid"] == *pid),
            "no audit line for {pid} in the test's log: {audit:#?}"
        );
    }
}

/// `claude --bg`: the command exits at once and leaves a deliberate
/// background session (`daemon run` → `bg-pty-host` → `bg-spare`, with the
/// session's MCP servers on the pty). None of it is a leftover, though the
/// daemon is re-parented, has no tty and outlives the command.
#[test]
fn claude_code_background_session_is_never_a_leftover() {
    let Some((cli, netns)) = prerequisites() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("stray-claude-")
        .tempdir()
        .unwrap();
    let (report, survivors) = run_claude(&cli, "normal", "--bg", dir.path(), &netns);
    let out = std::fs::read_to_string(dir.path().join("agent.stdout")).unwrap();
    assert!(out.contains("backgrounded"), "claude --bg said: {out}");
    // The MCP servers of the background session started (it claimed a
    // spare and ran its turn).
    let ok = common::wait_until(std::time::Duration::from_secs(30), || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("mcp-direct-"))
    });
    assert!(
        ok,
        "the background session started its MCP servers: {report:#}"
    );

    let rules = Rules::default();
    let input = Input {
        procs: table(&rules),
        ..Input::default()
    };
    let ours: Vec<&ProcView> = input
        .procs
        .iter()
        .filter(|p| {
            carrying_token(&survivors.token)
                .iter()
                .any(|t| t.0 == p.key.pid)
        })
        .collect();
    let role = |p: &ProcView| family::background_role(&p.args);
    let daemon = ours
        .iter()
        .find(|p| role(p) == Some(family::BackgroundRole::Daemon))
        .unwrap_or_else(|| panic!("no `claude daemon run` among {:#?}", ours));
    assert!(
        daemon.reaper_parent,
        "the daemon is re-parented: {daemon:?}"
    );
    assert!(!daemon.live_tty);
    assert!(ours
        .iter()
        .any(|p| role(p) == Some(family::BackgroundRole::PtyHost)));
    assert!(ours
        .iter()
        .any(|p| role(p) == Some(family::BackgroundRole::Spare)));
    let d = family::decide(&input, &rules);
    for p in &ours {
        let v = d.verdicts.iter().find(|v| v.key == p.key).unwrap();
        assert_ne!(
            v.outcome,
            Outcome::Leftover,
            "{} {:?}: {}",
            p.key.pid,
            p.args,
            v.reason
        );
        // Kept for being the background session, not by luck of shape.
        if role(p).is_some() {
            assert!(
                v.reason.contains("Claude Code background session"),
                "{} {:?}: {}",
                p.key.pid,
                p.args,
                v.reason
            );
        }
    }
    drop(survivors);
}
