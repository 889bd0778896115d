//! The pane-label cache: `scan` asks a tmux server for its panes only when
//! its cached answer is missing, stale, from another server (a recycled
//! pid) or lacks a pane started since; a corrupt cache is ignored and
//! replaced. Real private tmux servers; every tmux client `stray` starts is
//! counted exactly through a logging `tmux` wrapper first on its PATH.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A `tmux` that logs each invocation's arguments, then runs the real one.
struct Wrapper {
    dir: PathBuf,
    log: PathBuf,
}

impl Wrapper {
    fn new(env: &TestEnv) -> Option<Wrapper> {
        let real = which("tmux")?;
        let dir = env.path("wrap");
        std::fs::create_dir_all(&dir).unwrap();
        let log = env.path("tmux-calls.log");
        let script = dir.join("tmux");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(Wrapper { dir, log })
    }

    /// The `list-panes` calls logged so far, per socket path.
    fn calls(&self) -> HashMap<String, usize> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = HashMap::new();
        for line in text.lines() {
            let socket = line
                .strip_prefix("-S ")
                .and_then(|rest| rest.split(" list-panes").next())
                .unwrap_or(line);
            let socket = std::fs::canonicalize(socket).unwrap_or_else(|_| socket.into());
            *out.entry(socket.display().to_string()).or_default() += 1;
        }
        out
    }

    /// The `list-panes` calls for `t`'s socket.
    fn of(&self, t: &Tmux) -> usize {
        let socket = std::fs::canonicalize(&t.socket).unwrap();
        self.calls()
            .get(&socket.display().to_string())
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.calls().values().sum()
    }

    /// `stray --format json scan` with this wrapper first on PATH.
    fn scan(&self, env: &TestEnv) -> Value {
        let mut c = env.cmd();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.dir.clone()];
        dirs.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(dirs).unwrap());
        let out: Output = c.args(["--format", "json", "scan"]).output().unwrap();
        assert!(
            out.status.success(),
            "scan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Each pane's label as tmux itself prints it: pane pid → `display -p`.
fn tmux_labels(t: &Tmux) -> HashMap<i32, String> {
    let out = t
        .cmd()
        .args(["list-panes", "-a", "-F", "#{pane_pid} #{pane_id}"])
        .output()
        .unwrap();
    let mut labels = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (pid, id) = line.split_once(' ').unwrap();
        let out = t
            .cmd()
            .args([
                "display-message",
                "-p",
                "-t",
                id,
                "#{session_name}:#{window_index}.#{pane_index}",
            ])
            .output()
            .unwrap();
        labels.insert(
            pid.parse().unwrap(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        );
    }
    labels
}

/// A server whose every pane (the first and `extra` more windows) runs a
/// shell that runs an agent; returns (agent pid, pane pid) pairs.
fn server_with_agents(
    env: &TestEnv,
    bin: &Path,
    name: &str,
    extra: usize,
) -> (Tmux, Vec<(i32, i32)>) {
    let pane = format!("sh -c '{} 300; :'", bin.display());
    let t = Tmux::start(env, &pane);
    for _ in 0..extra {
        t.new_window(&pane);
    }
    assert!(
        wait_until(Duration::from_secs(10), || children_of(t.server_pid).len()
            > extra),
        "panes did not start"
    );
    let agents = children_of(t.server_pid)
        .into_iter()
        .map(|pane| (find_descendant(pane, name).expect("agent in pane"), pane))
        .collect();
    (t, agents)
}

/// Every agent's `pane` in `doc` is what tmux prints for its pane.
fn assert_labels(doc: &Value, t: &Tmux, agents: &[(i32, i32)]) {
    let labels = tmux_labels(t);
    for (agent, pane) in agents {
        let e = scan_entry(doc, *agent).unwrap_or_else(|| panic!("{agent} not in {doc}"));
        assert_eq!(e["class"], "protected", "{e}");
        assert_eq!(
            e["pane"].as_str(),
            Some(labels[pane].as_str()),
            "agent {agent} in pane {pane}: {e}"
        );
    }
}

fn cache_path(env: &TestEnv) -> PathBuf {
    env.state_dir().join("panes.json")
}

fn read_cache(env: &TestEnv) -> Value {
    serde_json::from_slice(&std::fs::read(cache_path(env)).unwrap()).unwrap()
}

fn write_cache(env: &TestEnv, v: &Value) {
    std::fs::write(cache_path(env), serde_json::to_vec(v).unwrap()).unwrap();
}

fn setup() -> Option<(TestEnv, String, PathBuf, Wrapper)> {
    let mut env = TestEnv::new();
    let Some(w) = Wrapper::new(&env) else {
        skip("tmux is not installed");
        return None;
    };
    let (name, bin) = env.agent_bin("pc");
    Some((env, name, bin, w))
}

#[test]
fn a_warm_cache_asks_no_server_and_labels_match_tmux() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (a, agents_a) = server_with_agents(&env, &bin, &name, 2);
    let (b, agents_b) = server_with_agents(&env, &bin, &name, 1);

    let doc = w.scan(&env);
    assert_labels(&doc, &a, &agents_a);
    assert_labels(&doc, &b, &agents_b);
    let calls = w.calls();
    assert_eq!(calls.len(), 2, "one query per server: {calls:?}");
    assert_eq!((w.of(&a), w.of(&b)), (1, 1), "{calls:?}");

    // Warm: no tmux client at all, and the same labels.
    let doc = w.scan(&env);
    assert_eq!(w.total(), 2, "a warm scan asked tmux: {:?}", w.calls());
    assert_labels(&doc, &a, &agents_a);
    assert_labels(&doc, &b, &agents_b);

    let cache = read_cache(&env);
    assert_eq!(cache["servers"].as_array().unwrap().len(), 2, "{cache}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::metadata(cache_path(&env)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_new_pane_asks_its_server_once_and_no_other() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (a, _) = server_with_agents(&env, &bin, &name, 1);
    let (b, agents_b) = server_with_agents(&env, &bin, &name, 0);
    w.scan(&env);
    assert_eq!(w.total(), 2);

    let pane = a.new_window(&format!("sh -c '{} 300; :'", bin.display()));
    let agent = find_descendant(pane, &name).expect("agent in the new pane");
    let doc = w.scan(&env);
    assert_eq!((w.of(&a), w.of(&b)), (2, 1), "{:?}", w.calls());
    let mut agents_a: Vec<(i32, i32)> = children_of(a.server_pid)
        .into_iter()
        .map(|p| (find_descendant(p, &name).unwrap(), p))
        .collect();
    agents_a.sort();
    assert!(agents_a.contains(&(agent, pane)));
    assert_labels(&doc, &a, &agents_a);
    assert_labels(&doc, &b, &agents_b);

    w.scan(&env);
    assert_eq!(w.total(), 3, "the new pane is cached now: {:?}", w.calls());
}

#[test]
fn a_restarted_server_never_inherits_the_old_labels() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (old, _) = server_with_agents(&env, &bin, &name, 0);
    let old_pid = old.server_pid;
    let old_start = stat_of(old_pid).unwrap().0;
    w.scan(&env);
    assert_eq!(w.total(), 1);
    drop(old);
    assert!(
        wait_until(Duration::from_secs(10), || !alive(old_pid, old_start)),
        "the old server did not exit"
    );

    // A new server: its answer is asked for, the dead server's is dropped.
    let (new, agents) = server_with_agents(&env, &bin, &name, 1);
    let doc = w.scan(&env);
    assert_eq!(w.total(), 2, "{:?}", w.calls());
    assert_labels(&doc, &new, &agents);
    let cache = read_cache(&env);
    let servers = cache["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{cache}");
    assert_eq!(servers[0]["pid"], new.server_pid);
    assert_ne!(servers[0]["pid"], old_pid);

    // The cache is what labels a warm scan: a label planted in the new
    // server's entry shows, without a question...
    let mut planted = cache.clone();
    for p in planted["servers"][0]["panes"].as_array_mut().unwrap() {
        p["target"] = "planted:7.7".into();
    }
    write_cache(&env, &planted);
    let doc = w.scan(&env);
    assert_eq!(w.total(), 2, "{:?}", w.calls());
    assert_eq!(
        scan_entry(&doc, agents[0].0).unwrap()["pane"],
        "planted:7.7"
    );
    // ...but not under another start time (what a recycled pid has): that
    // server is asked, and its own labels show.
    let start = planted["servers"][0]["start_time"].as_u64().unwrap();
    planted["servers"][0]["start_time"] = (start + 1).into();
    write_cache(&env, &planted);
    let doc = w.scan(&env);
    assert_eq!(w.total(), 3, "{:?}", w.calls());
    assert_labels(&doc, &new, &agents);
}

#[test]
fn a_corrupt_or_foreign_cache_is_ignored_and_replaced() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (t, agents) = server_with_agents(&env, &bin, &name, 1);
    w.scan(&env);
    let good = read_cache(&env);
    let mut other_boot = good.clone();
    other_boot["boot_id"] = "00000000-0000-0000-0000-000000000000".into();
    let mut bad_tty = good.clone();
    bad_tty["servers"][0]["panes"][0]["tty"] = "../../etc/passwd".into();
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xffnot json{{".to_vec()),
        (
            "truncated",
            serde_json::to_vec(&good).unwrap()[..20].to_vec(),
        ),
        ("another boot", serde_json::to_vec(&other_boot).unwrap()),
        ("an invalid pane", serde_json::to_vec(&bad_tty).unwrap()),
        ("oversized", huge.into_bytes()),
    ];
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        std::fs::write(cache_path(&env), &bytes).unwrap();
        let doc = w.scan(&env);
        assert_eq!(w.total(), 2 + i, "{what}: {:?}", w.calls());
        assert_labels(&doc, &t, &agents);
        let replaced = read_cache(&env);
        assert_eq!(
            replaced["servers"][0]["pid"], t.server_pid,
            "{what}: {replaced}"
        );
    }
    // Writable by others: not trusted, so not read either.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(cache_path(&env), std::fs::Permissions::from_mode(0o666)).unwrap();
    let before = w.total();
    let doc = w.scan(&env);
    assert_eq!(w.total(), before + 1, "{:?}", w.calls());
    assert_labels(&doc, &t, &agents);
    let mode = std::fs::metadata(cache_path(&env))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "replaced by a private file");
}

#[test]
fn a_cache_that_cannot_be_written_never_fails_scan() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (t, agents) = server_with_agents(&env, &bin, &name, 0);
    // The state dir path is a plain file: nothing can be kept there.
    std::fs::write(env.state_dir(), "not a dir").unwrap();
    for n in 1..=2 {
        let doc = w.scan(&env);
        assert_labels(&doc, &t, &agents);
        assert_eq!(w.total(), n, "each scan asks: {:?}", w.calls());
    }
}

#[test]
fn concurrent_scans_leave_one_valid_cache() {
    let Some((env, name, bin, w)) = setup() else {
        return;
    };
    let (t, agents) = server_with_agents(&env, &bin, &name, 2);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..6).map(|_| s.spawn(|| w.scan(&env))).collect();
        for r in runs {
            assert_labels(&r.join().unwrap(), &t, &agents);
        }
    });
    let cache = read_cache(&env);
    assert_eq!(cache["servers"][0]["pid"], t.server_pid, "{cache}");
    let leftovers: Vec<_> = std::fs::read_dir(env.state_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
