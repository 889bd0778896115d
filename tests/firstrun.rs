//! First-run experience against the real binary: `stray doctor` passing and
//! failing for the right reasons, stderr that fits the journal, and
//! `scan --tree` showing a real tmux server → shell → agent chain.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::*;

fn check<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {doc}"))
}

fn doctor(env: &TestEnv, tweak: impl FnOnce(&mut Command)) -> (serde_json::Value, i32) {
    let mut c = env.cmd();
    c.args(["--format", "json", "doctor"]);
    tweak(&mut c);
    let out = c.output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().unwrap())
}

/// A directory holding a `systemctl` stand-in that reports stray.timer as
/// enabled (the real one would report on this machine's real units, which a
/// test must not depend on or change), ahead of the real PATH.
fn fake_systemctl(env: &TestEnv) -> std::ffi::OsString {
    let dir = env.path("fakebin");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("systemctl");
    std::fs::write(
        &script,
        "#!/bin/sh\nfor a; do [ \"$a\" = stray.timer ] && { echo enabled; exit 0; }; done\necho disabled\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = dir.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

fn private_state_dir(env: &TestEnv) {
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn doctor_passes_on_a_complete_install() {
    let env = TestEnv::new();
    private_state_dir(&env);
    let path = fake_systemctl(&env);
    let (doc, code) = doctor(&env, |c| {
        c.env("PATH", &path);
    });
    let failed: Vec<&serde_json::Value> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] != true)
        .collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}");
    assert_eq!(code, 0);
    assert_eq!(doc["ok"], true);
    assert!(check(&doc, "schedule")["message"]
        .as_str()
        .unwrap()
        .contains("stray.timer"));
    assert!(check(&doc, "config")["message"]
        .as_str()
        .unwrap()
        .contains("config.toml is valid"));

    // Human output: one line per check, and the summary.
    let out = env.cmd().arg("doctor").env("PATH", &path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok    state-dir"), "{text}");
    assert!(text.trim_end().ends_with("checks: all ok"), "{text}");
}

#[test]
fn doctor_fails_on_a_group_writable_state_dir() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let (doc, code) = doctor(&env, |_| {});
    assert_eq!(code, 1);
    let c = check(&doc, "state-dir");
    assert_eq!(c["ok"], false, "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("writable by group or others"),
        "{c}"
    );
    assert_eq!(
        c["fix"].as_str().unwrap(),
        format!("chmod 700 {}", env.state_dir().display())
    );
    // Doctor changes nothing.
    assert_eq!(
        std::fs::metadata(env.state_dir()).unwrap().mode() & 0o777,
        0o770
    );
    // Human output carries the fix line.
    let out = env.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  state-dir"), "{text}");
    assert!(text.contains("fix: chmod 700"), "{text}");
}

#[test]
fn doctor_fails_on_an_invalid_config_and_still_runs_the_rest() {
    let env = TestEnv::new();
    private_state_dir(&env);
    env.write_config("grace = \"soon\"\n");
    let (doc, code) = doctor(&env, |_| {});
    assert_eq!(code, 1);
    let c = check(&doc, "config");
    assert_eq!(c["ok"], false);
    let msg = c["message"].as_str().unwrap();
    assert!(msg.contains("grace"), "names the key: {msg}");
    assert!(
        msg.contains(&env.config_path().display().to_string()),
        "names the file: {msg}"
    );
    assert!(c["fix"].as_str().unwrap().contains("stray config init"));
    // The other checks still ran.
    assert_eq!(check(&doc, "state-dir")["ok"], true);
    assert_eq!(check(&doc, "proc")["ok"], true);
}

#[test]
fn doctor_fails_without_tmux_on_path() {
    let env = TestEnv::new();
    private_state_dir(&env);
    let empty = env.path("emptybin");
    std::fs::create_dir_all(&empty).unwrap();
    let (doc, code) = doctor(&env, |c| {
        c.env("PATH", &empty);
    });
    assert_eq!(code, 1);
    let c = check(&doc, "tmux");
    assert_eq!(c["ok"], false);
    assert_eq!(c["message"], "tmux not found on PATH");
    assert!(c["fix"].as_str().unwrap().contains("install tmux"));
    // With tmux reachable the same check passes.
    let (doc, _) = doctor(&env, |_| {});
    assert_eq!(check(&doc, "tmux")["ok"], true, "{doc}");
}

/// `(st_dev, st_ino)` as `JOURNAL_STREAM` spells them.
fn dev_ino(path: &Path) -> String {
    let m = std::fs::metadata(path).unwrap();
    format!("{}:{}", m.dev(), m.ino())
}

#[test]
fn stderr_carries_priorities_only_when_it_is_the_journal() {
    let env = TestEnv::new();
    let run = |journal: Option<&str>, err: &Path| {
        let f = std::fs::File::create(err).unwrap();
        let mut c = env.cmd();
        c.args(["explain", "2147483647"]).stderr(f);
        if let Some(j) = journal {
            c.env("JOURNAL_STREAM", j);
        }
        let status = c.status().unwrap();
        assert_eq!(status.code(), Some(1));
        std::fs::read_to_string(err).unwrap()
    };
    let err = env.path("stderr.txt");
    std::fs::write(&err, "").unwrap();
    // stderr is the file JOURNAL_STREAM names: sd-daemon prefix.
    let text = run(Some(&dev_ino(&err)), &err);
    assert_eq!(text, "<3>stray: error: no such process: 2147483647\n");
    // Not set: plain, and no colour (stderr is not a terminal).
    let text = run(None, &err);
    assert_eq!(text, "stray: error: no such process: 2147483647\n");
    // Inherited from a journal-connected parent but stderr is elsewhere.
    let text = run(Some("1:1"), &err);
    assert_eq!(text, "stray: error: no such process: 2147483647\n");
}

#[test]
fn scan_tree_shows_the_tmux_chain() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("t");
    let tmux = Tmux::start(&env, &format!("sh -c '{} 300; :'", bin.display()));
    let agent = Proc::from_pid(find_descendant(tmux.server_pid, &name).expect("agent in pane"));
    let shell = agent.ppid().unwrap();
    let out = env.run(&["scan", "--tree"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
    };
    let server_line = find(&format!("{} tmux: server", tmux.server_pid));
    let shell_line = find(&format!("{shell} sh"));
    let agent_line = find(&format!("{} ", agent.pid));
    assert!(
        server_line < shell_line && shell_line < agent_line,
        "order server → shell → agent:\n{text}"
    );
    // Each level is indented deeper than its parent.
    let indent = |i: usize| lines[i].find(|c: char| c.is_ascii_digit()).unwrap();
    assert!(indent(server_line) < indent(shell_line), "{text}");
    assert!(indent(shell_line) < indent(agent_line), "{text}");
    assert!(lines[agent_line].contains("protected"), "{text}");
    // No colour when stdout is not a terminal.
    assert!(!text.contains('\x1b'), "{text:?}");
}

/// Quotes one argument for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn scan_tree_colours_only_on_a_terminal_without_no_color() {
    if Command::new("script").arg("--version").output().is_err() {
        skip("script(1) from util-linux not installed");
        return;
    }
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("c");
    let tmux = Tmux::start(&env, &format!("sh -c '{} 300; :'", bin.display()));
    let _agent = Proc::from_pid(find_descendant(tmux.server_pid, &name).expect("agent in pane"));
    // The same command line env.cmd() would run, under a real pty.
    let cmd = env.cmd();
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| sh_quote(&a.to_string_lossy()))
        .chain(["scan".into(), "--tree".into()])
        .collect();
    let run = |no_color: bool| {
        let mut c = Command::new("script");
        c.args(["-qec", &line.join(" "), "/dev/null"]);
        env.isolate(&mut c);
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run(false);
    assert!(
        coloured.contains("\x1b[32mprotected\x1b[0m"),
        "on a terminal the class is coloured: {coloured:?}"
    );
    let plain = run(true);
    assert!(plain.contains("protected"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
}
