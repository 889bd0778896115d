//! The fleet view with the real tools: `promtool` checks the alert rules and
//! a real `stray check --format prometheus` output, and a real
//! `prometheus-node-exporter` on a loopback port serves `stray.prom` from
//! its textfile directory. Each test is skipped (`common::skip`) when
//! the tool is not installed; `.ci/run` installs both.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/prometheus/stray-alerts.yml"
);
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/grafana/stray-dashboard.json"
);

/// Metrics that only exist once another part is wired in: the stalled
/// socket count comes from the `sockets` module.
const OPTIONAL: &[&str] = &[];

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn new_env() -> TestEnv {
    let mut env = TestEnv::new();
    let _ = env.agent_bin("p");
    env
}

/// Runs `stray check --format prometheus --textfile-dir DIR`; returns DIR.
fn textfile(env: &TestEnv) -> PathBuf {
    let dir = env.path("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let out = env
        .cmd()
        .args(["--format", "prometheus", "check", "--textfile-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("stray.prom").is_file());
    dir
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some(promtool) = find_tool(&["promtool"]) else {
        skip("promtool not installed (Debian package prometheus)");
        return;
    };
    let out = Command::new(promtool)
        .args(["check", "rules", RULES])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn promtool_accepts_real_check_metrics() {
    let Some(promtool) = find_tool(&["promtool"]) else {
        skip("promtool not installed (Debian package prometheus)");
        return;
    };
    let env = new_env();
    let dir = textfile(&env);
    let prom = std::fs::read(dir.join("stray.prom")).unwrap();
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&prom).unwrap();
    let out = child.wait_with_output().unwrap();
    // Any lint finding makes promtool print it and exit non-zero.
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bstray_[a-z_]+[a-z]").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn rules_and_dashboard_use_metrics_stray_emits() {
    let env = new_env();
    // Two PTY samples, so the growth rate is emitted too.
    let out = env.run(&["pty", "--warn", "100", "--crit", "100"]);
    assert!(out.status.success());
    let dir = textfile(&env);
    let emitted = metric_names(&std::fs::read_to_string(dir.join("stray.prom")).unwrap());
    let rules = std::fs::read_to_string(RULES).unwrap();
    let dashboard = std::fs::read_to_string(DASHBOARD).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(!doc["panels"].as_array().unwrap().is_empty());
    for (what, text) in [("rules", &rules), ("dashboard", &dashboard)] {
        let used = metric_names(text);
        assert!(used.len() >= 5, "{what}: {used:?}");
        for name in used {
            assert!(
                emitted.contains(&name) || OPTIONAL.contains(&name.as_str()),
                "{what} uses {name}, which stray check does not emit"
            );
        }
    }
}

/// A node_exporter we started, killed by pid on drop.
struct Exporter {
    proc: Proc,
    port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn start_exporter(bin: &Path, textfile_dir: &Path) -> Option<Exporter> {
    // The port is free when picked; another process could take it before the
    // exporter binds, so try a few.
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!(
                "--collector.textfile.directory={}",
                textfile_dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proc = Proc::from_child(child);
        let up = wait_until(Duration::from_secs(30), || {
            !proc.alive() || http_get(port, "/metrics").is_some()
        });
        if up && proc.alive() {
            return Some(Exporter { proc, port });
        }
    }
    None
}

#[test]
fn node_exporter_serves_stray_metrics_from_the_textfile() {
    let Some(bin) = find_tool(&["prometheus-node-exporter", "node_exporter"]) else {
        skip("node_exporter not installed (Debian package prometheus-node-exporter)");
        return;
    };
    let env = new_env();
    let dir = textfile(&env);
    let exporter = start_exporter(&bin, &dir).expect("node_exporter did not come up");
    let reply = http_get(exporter.port, "/metrics").expect("scrape");
    assert!(reply.starts_with("HTTP/1."), "{reply}");
    assert!(
        reply.contains(" 200 "),
        "{}",
        &reply[..reply.len().min(200)]
    );
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        body.lines().any(|l| l == "stray_up 1"),
        "stray_up not served"
    );
    for name in [
        "stray_pty_used",
        "stray_pty_max",
        "stray_pty_usage_percent",
        "stray_unkillable_agents",
        "stray_agent_rss_bytes_max",
        "stray_dead_tmux_sockets",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} not served"
        );
    }
    assert!(body.contains("stray_agents{class=\"orphan\"} 0"));
    assert!(body.contains("stray_check_status{check=\"pty\"}"));
    // The collector read the file without complaint.
    assert!(
        body.lines().any(|l| l == "node_textfile_scrape_error 0"),
        "textfile collector reported an error"
    );
    drop(exporter.proc);
}
