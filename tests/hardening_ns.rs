//! Hardening across namespaces, end to end: the built binary against real
//! network namespaces, a real second devpts instance, real tmux servers on
//! private sockets and real PTYs. Each test states the guarantee it proves;
//! each creates and cleans up only its own processes (by pid + start time),
//! namespaces (they die with their last process) and dirs.
//!
//! The tests need root (namespaces, mounts, another uid); elsewhere they
//! skip visibly, and a skip fails under CI=true.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const NOBODY: u32 = 65534;

fn actions(doc: &Value) -> Vec<Value> {
    doc["actions"].as_array().cloned().unwrap_or_default()
}

/// Python that renames itself (PR_SET_NAME) to `name`, so its comm is an
/// agent name no real program has.
fn py_named(name: &str) -> String {
    format!("import ctypes,socket,time,os\nctypes.CDLL(None).prctl(15, b'{name}', 0, 0, 0)\n")
}

fn comm_is(pid: i32, name: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
}

fn net_ns(pid: &str) -> (u64, u64) {
    let m = fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
    (m.dev(), m.ino())
}

/// A shared unix-socket daemon and its client, both in a network namespace
/// of their own (a container, a sandbox, `unshare -n`), the client in a live
/// tmux pane: the daemon serves a protected process, so it is protected and
/// nothing is sent; once the client has left it is an ordinary orphan and
/// is reaped (as root, stray enters the namespace to ask for the peers).
#[test]
fn daemon_in_another_netns_serving_a_pane_is_protected_until_its_client_leaves() {
    if !is_root() {
        skip("needs root for a network namespace and to enter it");
        return;
    }
    let mut env = TestEnv::new();
    let daemon_name = unique_name("ns");
    env.names.push(daemon_name.clone());
    let sock = env.path("daemon.sock");
    let daemon_py = format!(
        "{}s=socket.socket(socket.AF_UNIX); s.bind('{}'); s.listen(4)\n\
         conns=[]\n\
         while True:\n    c,_=s.accept(); conns.append(c)\n",
        py_named(&daemon_name),
        sock.display()
    );
    // `unshare -n` execs python3 in a new network namespace: same pid.
    let daemon = spawn_orphan(
        &env,
        Path::new("unshare"),
        &["-n", "python3", "-c", &daemon_py],
    );
    assert!(
        wait_until(Duration::from_secs(10), || sock.exists()
            && comm_is(daemon.pid, &daemon_name)),
        "daemon up"
    );
    assert_ne!(
        net_ns(&daemon.pid.to_string()),
        net_ns("self"),
        "the daemon must live in a network namespace of its own"
    );
    orphan_config(&env, &daemon, "0s", "60s", "");

    // The client enters the daemon's network namespace from a tmux pane.
    let connected = env.path("connected");
    let client_py = format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX); s.connect('{}')\nopen('{}','w').close()\ntime.sleep(300)\n",
        sock.display(),
        connected.display()
    );
    let tmux = Tmux::start(&env, "sleep 300");
    let client_pane = tmux.new_window(&format!(
        "nsenter --net=/proc/{}/ns/net python3 -c \"{client_py}\"",
        daemon.pid
    ));
    assert!(
        wait_until(Duration::from_secs(10), || connected.exists()),
        "client connected"
    );
    let client = Proc::from_pid(client_pane);
    assert_eq!(
        net_ns(&client.pid.to_string()),
        net_ns(&daemon.pid.to_string())
    );

    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, daemon.pid).expect("daemon listed");
    assert_eq!(e["class"], "protected", "{doc}");
    assert_eq!(e["protected_by"]["kind"], "serves", "{doc}");
    let (dry, _) = env.json(&["reap", "--dry-run"]);
    assert!(actions(&dry).is_empty(), "{dry}");
    let (doc, _) = env.json(&["reap"]);
    assert!(actions(&doc).is_empty(), "{doc}");
    assert!(
        daemon.alive(),
        "the daemon serving a live pane was signalled"
    );

    // The client leaves: the daemon is an ordinary orphan and is reaped.
    client.signal(libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(5), || !client.alive()));
    let mut doc = Value::Null;
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

/// `setpriv` prefix that runs a command as nobody:nogroup, no groups.
fn as_nobody(c: &Command) -> Command {
    let mut s = Command::new("setpriv");
    s.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    s.stdin(Stdio::null());
    s
}

/// Makes a TestEnv usable by nobody: the dir traversable, the config
/// readable, the state dirs owned by nobody.
fn share_with_nobody(env: &TestEnv) {
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(env.config_path(), fs::Permissions::from_mode(0o644)).unwrap();
    for d in [env.state_dir(), env.path("xdg-state")] {
        fs::create_dir_all(&d).unwrap();
        nix::unistd::chown(
            &d,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap();
    }
}

/// Where stray cannot enter a process's network namespace (not root: setns
/// needs CAP_SYS_ADMIN over it), its unix socket peers are unknown, so it is
/// protected: nobody's stray plans and sends nothing to nobody's orphan in a
/// private network namespace, while root's stray, which can look, reaps it
/// (its only connection is to itself).
#[test]
fn unenterable_netns_means_peers_unknown_and_protected() {
    if !is_root() {
        skip("needs root to create a network namespace for another uid");
        return;
    }
    let mut env = TestEnv::new();
    let name = unique_name("nn");
    env.names.push(name.clone());
    let py = format!(
        "{}a,b=socket.socketpair()\ntime.sleep(300)\n",
        py_named(&name)
    );
    let orphan = spawn_orphan(
        &env,
        Path::new("unshare"),
        &[
            "-n",
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            // The system python: a per-user shim (pyenv) is not nobody's.
            "/usr/bin/python3",
            "-c",
            &py,
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), || comm_is(orphan.pid, &name)),
        "orphan up"
    );
    assert_eq!(
        fs::metadata(format!("/proc/{}", orphan.pid)).unwrap().uid(),
        NOBODY
    );
    assert_ne!(net_ns(&orphan.pid.to_string()), net_ns("self"));
    orphan_config(&env, &orphan, "0s", "60s", "");
    share_with_nobody(&env);

    let run_nobody = |args: &[&str]| {
        let mut c = env.cmd();
        c.args(["--format", "json"]).args(args);
        let o = as_nobody(&c).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let scan = run_nobody(&["scan"]);
    let e = scan_entry(&scan, orphan.pid).expect("nobody sees its own process");
    assert_eq!(e["class"], "protected", "{scan}");
    assert_eq!(e["protected_by"]["kind"], "peers-unknown", "{scan}");
    let dry = run_nobody(&["reap", "--dry-run"]);
    assert!(actions(&dry).is_empty(), "{dry}");
    let doc = run_nobody(&["reap"]);
    assert!(actions(&doc).is_empty(), "{doc}");
    assert!(orphan.alive());

    // Root can enter the namespace: the socket's peer is the orphan itself,
    // so nothing protects it.
    let mut c = Command::new(env!("CARGO_BIN_EXE_stray"));
    c.arg("-c").arg(env.config_path());
    c.arg("--state-dir").arg(env.path("root-state"));
    for n in &env.names {
        c.arg("--name").arg(n);
    }
    env.isolate(&mut c);
    let (doc, _) = env.json(&["scan"]);
    assert_eq!(
        class_in_scan(&doc, orphan.pid).as_deref(),
        Some("orphan"),
        "{doc}"
    );
    let o = c.args(["--format", "json", "reap"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(actions(&doc).len(), 1, "{doc}");
    assert_eq!(doc["actions"][0]["pid"], orphan.pid, "{doc}");
    assert!(wait_until(Duration::from_secs(5), || !orphan.alive()));
}
