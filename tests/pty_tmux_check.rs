//! `stray pty`, `stray tmux`, `stray check` and `stray watch` against the
//! real thing: PTY masters opened by a helper process, a private tmux server
//! beside dead sockets bound and closed without unlink, fake agents under
//! unique names, and a `watch` loop stopped by SIGTERM. Everything is
//! created here and cleaned up by pid or path.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const HOLDER_ENV: &str = "STRAY_TEST_PTY_HOLDER";

/// Not a test on its own: the body of the helper process that holds PTY
/// masters, started by [`spawn_holder`] re-running this test binary.
#[test]
#[ignore]
fn pty_holder_helper() {
    let Ok(n) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let n: usize = n.parse().unwrap();
    let mut indexes = Vec::new();
    for _ in 0..n {
        // SAFETY: posix_openpt has no preconditions; the fds stay open until
        // this process exits.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
        assert!(fd >= 0);
        let mut idx: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes one c_uint through the pointer given.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGPTN, &mut idx) };
        assert_eq!(rc, 0);
        indexes.push(idx.to_string());
    }
    println!("READY {}", indexes.join(","));
    // Hold them until the parent closes stdin (or kills us).
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

/// A separate process holding `n` PTY masters; returns it and the pty
/// indexes it holds.
fn spawn_holder(n: usize) -> (Proc, Vec<u32>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "pty_holder_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut indexes = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest prints "test pty_holder_helper ... " before our output.
        if let Some(i) = line.find("READY ") {
            indexes = line[i + 6..]
                .split(',')
                .map(|x| x.trim().parse().unwrap())
                .collect();
            break;
        }
    }
    assert_eq!(indexes.len(), n, "helper did not report its ptys");
    (Proc::from_child(child), indexes)
}

fn pty_nr() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/pty/nr")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A test env with one registered agent name, so that no run ever uses the
/// default match rules (which would match real agents on this host).
fn new_env() -> TestEnv {
    let mut env = TestEnv::new();
    let _ = env.agent_bin("i");
    env
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn pty_names_the_holder_and_counts_its_masters() {
    const N: usize = 7;
    let env = new_env();
    // Other programs on the host open and close ptys too: retry until one
    // attempt sees exactly our N appear between two readings.
    let mut rose_by_n = false;
    let mut last = None;
    for _ in 0..5 {
        let before = pty_nr();
        let (holder, indexes) = spawn_holder(N);
        let (doc, out) = env.json(&["pty", "--warn", "100", "--crit", "100"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let used = doc["used"].as_u64().unwrap();
        let entry = doc["holders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["pid"] == holder.pid)
            .cloned()
            .unwrap_or_else(|| panic!("holder {} not listed: {doc}", holder.pid));
        assert_eq!(entry["masters"].as_u64(), Some(N as u64), "{entry}");
        let held: Vec<u32> = entry["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let mut want = indexes.clone();
        want.sort();
        assert_eq!(held, want);
        assert_eq!(entry["comm"], comm_of(holder.pid).unwrap());
        assert!(doc["highest_index"].as_u64().unwrap() >= *want.last().unwrap() as u64);
        // Most masters first.
        let masters: Vec<u64> = doc["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["masters"].as_u64().unwrap())
            .collect();
        assert!(masters.windows(2).all(|w| w[0] >= w[1]), "{masters:?}");
        last = Some((before, used));
        if used == before + N as u64 {
            rose_by_n = true;
            // The human table names it too.
            let out = env.run(&["pty", "--warn", "100", "--crit", "100"]);
            let text = stdout(&out);
            assert!(text.starts_with("PTY slots: "), "{text}");
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{N} "))
                        && l.contains(&format!(" {} ", holder.pid))),
                "{text}"
            );
            break;
        }
        drop(holder);
    }
    assert!(rose_by_n, "used never rose by exactly {N}: {last:?}");
}

#[test]
fn pty_exit_codes_follow_thresholds_and_samples_accumulate() {
    let env = new_env();
    let (doc, out) = env.json(&["pty", "--warn", "0", "--crit", "100"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(doc["status"], "warning");
    assert_eq!(doc["rate_per_hour"], serde_json::Value::Null);
    let (doc, out) = env.json(&["pty", "--warn", "0", "--crit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(doc["status"], "critical");
    // Config thresholds apply without flags.
    env.write_config("[pty]\nwarn = 0\ncrit = 0\n");
    assert_eq!(env.run(&["pty"]).status.code(), Some(2));
    env.write_config("");
    let (doc, out) = env.json(&["pty", "--warn", "100", "--crit", "100"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["status"], "ok");
    // Four runs so far: four samples, and a rate.
    assert_eq!(doc["samples"], 4, "{doc}");
    assert!(doc["rate_per_hour"].is_number(), "{doc}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.state_dir().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["pty_samples"].as_array().unwrap().len(), 4);
    // warn above crit is a usage error.
    let out = env.run(&["pty", "--warn", "80", "--crit", "50"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--warn"), "{}", stderr(&out));
    assert_eq!(env.run(&["pty", "--warn", "101"]).status.code(), Some(2));
}

/// A socket file nothing listens on: bound, then closed without unlink.
fn dead_socket(path: &Path) {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    assert!(path.exists());
}

fn socket_dir(env: &TestEnv) -> PathBuf {
    let d = env.tmux_tmpdir().join(format!("tmux-{}", nix_uid()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

#[test]
fn tmux_prune_removes_dead_sockets_and_spares_the_live_server() {
    let env = new_env();
    let tmux = Tmux::start(&env, "sleep 300");
    let dead = socket_dir(&env).join("stray-dead");
    dead_socket(&dead);

    let (doc, out) = env.json(&["tmux"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let servers = doc["servers"].as_array().unwrap();
    let find = |p: &Path| {
        servers
            .iter()
            .find(|s| s["socket"] == p.to_str().unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("{} not listed: {doc}", p.display()))
    };
    let live = find(&tmux.socket);
    assert_eq!(live["alive"], true);
    assert_eq!(live["pid"], tmux.server_pid);
    assert_eq!(live["sessions"], 1);
    assert_eq!(live["owner_uid"], nix_uid());
    let d = find(&dead);
    assert_eq!(d["alive"], false);
    assert_eq!(d["pid"], serde_json::Value::Null);
    assert_eq!(d["sessions"], serde_json::Value::Null);
    assert!(dead.exists(), "listing must not remove anything");
    let text = stdout(&env.run(&["tmux"]));
    assert!(text.contains("--prune"), "{text}");

    let (doc, out) = env.json(&["tmux", "--prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(doc["pruned"], serde_json::json!([dead.to_str().unwrap()]));
    assert!(!dead.exists());
    assert!(tmux.socket.exists(), "the live socket was removed");
    assert_eq!(
        tmux.display("#{pid}"),
        tmux.server_pid.to_string(),
        "tmux stopped answering"
    );
    // Nothing left to prune.
    let (doc, _) = env.json(&["tmux", "--prune"]);
    assert_eq!(doc["pruned"], serde_json::json!([]));
}

/// `STRAY STATUS - summary | perfdata` on the first line.
fn nagios_status(text: &str) -> String {
    let re = regex::Regex::new(
        r"^STRAY (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+ \| ([a-z_]+=[0-9.]+(%|B)?(;[0-9.]*)*)( [a-z_]+=[0-9.]+(%|B)?(;[0-9.]*)*)*$",
    )
    .unwrap();
    let first = text.lines().next().unwrap_or_default();
    let caps = re
        .captures(first)
        .unwrap_or_else(|| panic!("not a Nagios status line: {first:?}"));
    for line in text.lines().skip(1) {
        assert!(
            line.starts_with('[') || line.starts_with("    "),
            "detail line {line:?}"
        );
    }
    caps[1].to_string()
}

/// Parses the text exposition format: every sample belongs to a family
/// announced by HELP and TYPE; returns `(name{labels}, value)` pairs.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (\S+)$"#,
    )
    .unwrap();
    let mut helped = std::collections::HashSet::new();
    let mut typed = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(helped.insert(rest.split(' ').next().unwrap().to_string()));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut f = rest.split(' ');
            let name = f.next().unwrap().to_string();
            // Gauges, and the `_total` counters (deaths by class).
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            assert_eq!(f.next(), Some(kind), "{line}");
            assert!(typed.insert(name));
        } else {
            let c = sample
                .captures(line)
                .unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let name = &c[1];
            assert!(name.starts_with("stray_"), "{line}");
            assert!(helped.contains(name) && typed.contains(name), "{line}");
            let v: f64 = c[3].parse().unwrap();
            out.push((format!("{name}{}", c.get(2).map_or("", |m| m.as_str())), v));
        }
    }
    out
}

fn metric(samples: &[(String, f64)], key: &str) -> f64 {
    samples
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .1
}

fn check_item(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("check {name} missing: {doc}"))
}

#[test]
fn check_ok_in_every_format() {
    let mut env = TestEnv::new();
    let _ = env.agent_bin("c");
    env.write_config("[pty]\nwarn = 100\ncrit = 100\n");

    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(nagios_status(&stdout(&out)), "OK");
    let out = env.run(&["--format", "nagios", "check"]);
    assert_eq!(nagios_status(&stdout(&out)), "OK");

    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["status"], "ok");
    for name in [
        "pty",
        "pending",
        "unkillable",
        "defunct",
        "rss",
        "tmux",
        "state",
    ] {
        let c = check_item(&doc, name);
        assert_eq!(c["status"], "ok", "{c}");
        assert!(c["message"].is_string());
        assert!(c.get("value").is_some());
    }

    let prom_dir = env.path("textfile");
    std::fs::create_dir(&prom_dir).unwrap();
    let out = env
        .cmd()
        .args(["--format", "prometheus", "check", "--textfile-dir"])
        .arg(&prom_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let samples = parse_prometheus(&text);
    assert_eq!(metric(&samples, "stray_up"), 1.0);
    assert_eq!(metric(&samples, "stray_status"), 0.0);
    assert_eq!(metric(&samples, "stray_check_status{check=\"pty\"}"), 0.0);
    assert_eq!(metric(&samples, "stray_agents{class=\"orphan\"}"), 0.0);
    assert_eq!(metric(&samples, "stray_dead_tmux_sockets"), 0.0);
    assert!(metric(&samples, "stray_pty_max") > 0.0);
    let file = prom_dir.join("stray.prom");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let written = std::fs::read_to_string(&file).unwrap();
    // Same metrics; only the timestamp can differ between the two renders.
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("stray_last_check_timestamp_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&written), strip(&text));
    let leftovers: Vec<_> = std::fs::read_dir(&prom_dir).unwrap().flatten().collect();
    assert_eq!(leftovers.len(), 1, "temp files left behind");
}

#[test]
fn check_exit_codes_for_each_status() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("r");

    // WARNING: PTY usage at or above 0%.
    env.write_config("[pty]\nwarn = 0\ncrit = 100\n");
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(nagios_status(&stdout(&out)), "WARNING");

    // CRITICAL: both thresholds at 0.
    env.write_config("[pty]\nwarn = 0\ncrit = 0\n");
    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(doc["status"], "critical");
    assert_eq!(check_item(&doc, "pty")["status"], "critical");

    // UNKNOWN: bad arguments, or a config that cannot be read.
    let out = env.run(&["check", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(3));
    env.write_config("[pty]\nwarn = \"lots\"\n");
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("pty.warn"), "{}", stderr(&out));

    // RSS: a real agent above a tiny rss_warn → WARNING naming it.
    let agent = spawn_orphan(&env, &bin, &["300"]);
    // Right after exec the new image may not have touched a page yet: wait
    // until it has some resident memory, or a loaded machine reads 0 B.
    assert!(wait_until(Duration::from_secs(5), || rss_kib(agent.pid) > 1));
    env.write_config(&format!(
        "min_age = \"1h\"\nreaper_parents = [{:?}]\n[pty]\nwarn = 100\ncrit = 100\n\
         [check]\nrss_warn = \"1KiB\"\nrss_crit = \"1TiB\"\n",
        adopter_comm(&agent)
    ));
    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let rss = check_item(&doc, "rss");
    assert_eq!(rss["status"], "warning");
    assert!(rss["value"].as_f64().unwrap() > 1024.0);
    assert!(
        rss["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{} ({name})", agent.pid)),
        "{rss}"
    );
    // The young orphan is a pending victim.
    let pending = check_item(&doc, "pending");
    assert_eq!(pending["value"], 1.0, "{pending}");
    // rss_crit reached → CRITICAL.
    env.write_config(&format!(
        "min_age = \"1h\"\nreaper_parents = [{:?}]\n[pty]\nwarn = 100\ncrit = 100\n\
         [check]\nrss_warn = \"1KiB\"\nrss_crit = \"2KiB\"\n",
        adopter_comm(&agent)
    ));
    let out = env.run(&["--format", "prometheus", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let samples = parse_prometheus(&stdout(&out));
    assert_eq!(metric(&samples, "stray_check_status{check=\"rss\"}"), 2.0);
    assert_eq!(metric(&samples, "stray_agents{class=\"young\"}"), 1.0);
    assert_eq!(metric(&samples, "stray_pending_victims"), 1.0);
    assert!(metric(&samples, "stray_agent_rss_bytes_max") > 2048.0);
}

#[test]
fn check_reports_dead_tmux_sockets_and_defunct_agents() {
    let mut env = TestEnv::new();
    let (name, bin) = env.agent_bin("z");
    env.write_config("[pty]\nwarn = 100\ncrit = 100\n");
    let dead = socket_dir(&env).join("gone");
    dead_socket(&dead);
    // A defunct agent: our child that exits and is not waited for (the
    // parent is this test process, which is not reaping it yet).
    let mut child = Command::new(&bin)
        .arg("0")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    assert!(wait_until(Duration::from_secs(10), || stat_of(pid)
        .is_some_and(|s| s.1 == 'Z')));

    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let tm = check_item(&doc, "tmux");
    assert_eq!(tm["status"], "warning");
    assert_eq!(tm["value"], 1.0);
    let de = check_item(&doc, "defunct");
    assert_eq!(de["status"], "warning", "{de}");
    assert_eq!(de["value"], 1.0);
    let me = std::process::id();
    assert!(
        de["message"].as_str().unwrap().contains(&format!("{me} (")),
        "parent not named: {de}"
    );
    let text = stdout(&env.run(&["check"]));
    assert_eq!(nagios_status(&text), "WARNING");
    assert!(
        text.contains(&format!("pid {pid} ({name}) not reaped by parent {me}")),
        "{text}"
    );
    let _ = child.wait();
    assert!(dead.exists(), "check must not prune");
}

#[test]
fn check_reports_a_corrupt_state_and_a_long_held_lock() {
    let env = new_env();
    env.write_config("[pty]\nwarn = 100\ncrit = 100\n");
    let sd = env.state_dir();
    std::fs::create_dir(&sd).unwrap();
    std::fs::set_permissions(&sd, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(sd.join("state.json"), "{ truncated").unwrap();
    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let st = check_item(&doc, "state");
    assert_eq!(st["status"], "warning");
    assert!(st["message"].as_str().unwrap().contains("corrupt"), "{st}");
    // check only reads: the file stays where it is.
    assert!(sd.join("state.json").exists());

    // A pty run (which writes) moves it aside; check then reports the
    // quarantined file from the last day.
    let out = env.run(&["pty", "--warn", "100", "--crit", "100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (doc, _) = env.json(&["check"]);
    let st = check_item(&doc, "state");
    assert_eq!(st["status"], "warning");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("state.json.corrupt-"),
        "{st}"
    );

    // A lock held for an hour (by a process of ours, its mtime set back).
    let env = new_env();
    env.write_config("[pty]\nwarn = 100\ncrit = 100\n");
    let sd = env.state_dir();
    std::fs::create_dir(&sd).unwrap();
    std::fs::set_permissions(&sd, std::fs::Permissions::from_mode(0o700)).unwrap();
    let lock = sd.join("lock");
    // This test process holds the lock (flock locks belong to the open
    // file, so the stray child sees it as taken).
    let held = std::fs::File::create(&lock).unwrap();
    // SAFETY: flock on an fd we own; LOCK_NB never blocks.
    let rc = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&held),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    assert_eq!(rc, 0);
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let (doc, out) = env.json(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let st = check_item(&doc, "state");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("cycle lock held for 1h"),
        "{st}"
    );
    drop(held);
    let (doc, _) = env.json(&["check"]);
    assert_eq!(check_item(&doc, "state")["status"], "ok", "{doc}");
}

/// Reads a child's stdout lines on a thread.
#[test]
fn watch_reaps_samples_and_stops_cleanly_on_sigterm() {
    let mut env = TestEnv::new();
    let (_name, bin) = env.agent_bin("w");
    let orphan = spawn_orphan(&env, &bin, &["300"]);
    orphan_config(&env, &orphan, "0s", "60s", "");
    let mut child = env
        .cmd()
        .args(["--format", "json", "watch", "--interval", "300ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    let watch = Proc::from_child(child);
    let mut docs = Vec::new();
    while docs.len() < 3 {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line per cycle");
        docs.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    assert_eq!(docs[0]["cycle"], 1);
    assert_eq!(docs[2]["cycle"], 3);
    let first = &docs[0]["reap"]["actions"][0];
    assert_eq!(first["pid"], orphan.pid, "{}", docs[0]);
    assert_eq!(first["signal"], "SIGTERM");
    assert!(wait_until(Duration::from_secs(10), || !orphan.alive()));
    assert!(docs.iter().all(|d| d["pty"]["max"].as_u64() > Some(0)));

    watch.signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(30), || stat_of(watch.pid)
            .is_none_or(|s| s.1 == 'Z')),
        "watch did not stop on SIGTERM"
    );
    let mut watch = watch;
    assert_eq!(watch.wait_status(), Some(0));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.state_dir().join("state.json")).unwrap())
            .unwrap();
    assert!(
        state["pty_samples"].as_array().unwrap().len() >= 3,
        "{state}"
    );
    // The orphan died of the SIGTERM, so a later cycle dropped it from the
    // state; the audit log keeps the signal.
    assert_eq!(state["reap"], serde_json::json!([]), "{state}");
    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains(&format!("\"pid\":{}", orphan.pid)) && l.contains("SIGTERM")),
        "{audit}"
    );
}
