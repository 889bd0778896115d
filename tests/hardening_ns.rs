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
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Python that renames itself (PR_SET_NAME) to `name`, so its comm is an
/// agent name no real program has.
fn py_named(name: &str) -> String {
    format!("import ctypes,socket,time,os\nctypes.CDLL(None).prctl(15, b'{name}', 0, 0, 0)\n")
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
    reaped_once_its_client_leaves(&env, &client, &daemon);
}

/// A daemon that accepted its client in the host's network namespace and
/// then moved to a namespace of its own (as a sandbox set up after the
/// sockets were open does) holds sockets its new namespace does not list:
/// they are looked up elsewhere, so it is still seen serving the pane, and
/// is reaped once the client has left.
#[test]
fn daemon_holding_sockets_from_another_netns_is_still_seen_serving() {
    if !is_root() {
        skip("needs root to move a process to a new network namespace");
        return;
    }
    let mut env = TestEnv::new();
    let daemon_name = unique_name("nx");
    env.names.push(daemon_name.clone());
    let sock = env.path("daemon.sock");
    let moved = env.path("moved");
    let daemon_py = format!(
        "{}s=socket.socket(socket.AF_UNIX); s.bind('{}'); s.listen(4)\n\
         c,_=s.accept()\n\
         assert ctypes.CDLL(None).unshare(0x40000000) == 0\n\
         open('{}','w').close()\n\
         time.sleep(300)\n",
        py_named(&daemon_name),
        sock.display(),
        moved.display()
    );
    let daemon = spawn_orphan(&env, Path::new("python3"), &["-c", &daemon_py]);
    assert!(
        wait_until(Duration::from_secs(10), || sock.exists()
            && comm_is(daemon.pid, &daemon_name)),
        "daemon up"
    );
    orphan_config(&env, &daemon, "0s", "60s", "");
    let client_py = format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX); s.connect('{}')\ntime.sleep(300)\n",
        sock.display()
    );
    let tmux = Tmux::start(&env, "sleep 300");
    let client = Proc::from_pid(tmux.new_window(&format!("python3 -c \"{client_py}\"")));
    assert!(
        wait_until(Duration::from_secs(10), || moved.exists()),
        "daemon accepted and moved"
    );
    assert_ne!(net_ns(&daemon.pid.to_string()), net_ns("self"));

    let (doc, _) = env.json(&["scan"]);
    let e = scan_entry(&doc, daemon.pid).expect("daemon listed");
    assert_eq!(e["class"], "protected", "{doc}");
    assert_eq!(e["protected_by"]["kind"], "serves", "{doc}");
    let (doc, _) = env.json(&["reap"]);
    assert!(actions(&doc).is_empty(), "{doc}");
    assert!(daemon.alive());

    reaped_once_its_client_leaves(&env, &client, &daemon);
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

    let scan = json_as_nobody(&env, &["scan"]);
    let e = scan_entry(&scan, orphan.pid).expect("nobody sees its own process");
    assert_eq!(e["class"], "protected", "{scan}");
    assert_eq!(e["protected_by"]["kind"], "peers-unknown", "{scan}");
    let dry = json_as_nobody(&env, &["reap", "--dry-run"]);
    assert!(actions(&dry).is_empty(), "{dry}");
    let doc = json_as_nobody(&env, &["reap"]);
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

/// A tmux server started inside a private mount namespace with a devpts of
/// its own; killed (by socket, then by pid + start time) on drop, with the
/// process that holds the namespace's spare PTYs.
struct ContainerTmux {
    name: String,
    env_tmpdir: std::path::PathBuf,
    server: Option<Proc>,
    _holder: Proc,
}

impl ContainerTmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.name);
        c.env("TMUX_TMPDIR", &self.env_tmpdir)
            .env_remove("TMUX")
            .stdin(Stdio::null());
        c
    }

    fn display(&self, format: &str) -> String {
        let out = self
            .cmd()
            .args(["display-message", "-p", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Starts a tmux server in a new mount namespace whose `/dev/pts` is a
    /// new devpts instance (as a container's is), its first pane on
    /// `pts/index` of that instance (the lower numbers held by a helper)
    /// running `command`. `bind_ptmx`: `/dev/ptmx` is that devpts's own
    /// `ptmx` (as docker and podman set it up); otherwise it stays the
    /// host's devtmpfs node, which opens a PTY in whatever devpts is at
    /// `/dev/pts`.
    fn start(env: &TestEnv, index: u32, bind_ptmx: bool, command: &str) -> ContainerTmux {
        let name = unique_name("ct");
        let holder_py = "import pty,subprocess,sys,time\n\
             held=[pty.openpty() for _ in range(int(sys.argv[1]))]\n\
             subprocess.run(['tmux','-L',sys.argv[2],'-f','/dev/null','new-session','-d',\
             '-s','main','-x','100','-y','30',sys.argv[3]],check=True)\n\
             print('ready',flush=True)\ntime.sleep(300)\n";
        let script = format!(
            "mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts || exit 1\n\
             {}exec python3 -c \"$0\" \"$@\"",
            if bind_ptmx {
                "mount --bind /dev/pts/ptmx /dev/ptmx || exit 1\n"
            } else {
                ""
            }
        );
        let mut c = Command::new("unshare");
        c.args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            holder_py,
        ])
        .arg(index.to_string())
        .arg(&name)
        .arg(command);
        env.isolate(&mut c);
        let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let holder = Proc::from_child(child);
        let lines = line_reader(out);
        let ready = lines.recv_timeout(Duration::from_secs(20));
        let mut t = ContainerTmux {
            name,
            env_tmpdir: env.tmux_tmpdir(),
            server: None,
            _holder: holder,
        };
        assert_eq!(
            ready.as_deref(),
            Ok("ready"),
            "container tmux did not start"
        );
        let pid: i32 = t.display("#{pid}").parse().expect("server pid");
        t.server = Some(Proc::from_pid(pid));
        t
    }

    fn server_pid(&self) -> i32 {
        self.server.as_ref().map_or(0, |p| p.pid)
    }
}

impl Drop for ContainerTmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        // `server` is then SIGKILLed by pid + start time if still there.
    }
}

/// The device number of `/dev/pts/N` as `pid` sees it (its mount namespace).
fn devpts_of(pid: i32, index: u32) -> u64 {
    fs::metadata(format!("/proc/{pid}/root/dev/pts/{index}"))
        .unwrap()
        .dev()
}

/// An agent on a plain host terminal (master held by a non-multiplexer)
/// whose pts number is also a pane of a container's tmux (the container has
/// its own devpts): it is `unmanaged`, not a pane. An agent re-parented away
/// from the container's pane but still on its terminal stays protected.
/// Both with the container's `/dev/ptmx` bound to its devpts (the master
/// tells its instance) and left as the host's node (the pane's processes
/// tell it).
#[test]
fn same_pts_number_in_a_containers_devpts_is_not_a_pane() {
    if !is_root() {
        skip("needs root to mount a devpts instance in a mount namespace");
        return;
    }
    for bind_ptmx in [true, false] {
        same_pts_number_case(bind_ptmx);
    }
}

fn same_pts_number_case(bind_ptmx: bool) {
    let mut env = TestEnv::new();
    let (host_name, host_bin) = env.agent_bin("h");
    let (inner_name, inner_bin) = env.agent_bin("i");
    // The host terminal: its master held by python (not a multiplexer), the
    // agent in a session of its own with it as controlling terminal.
    let holder_py = "import fcntl,os,pty,subprocess,sys,termios,time\n\
         m,s=pty.openpty()\n\
         def ctty(): fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n\
         p=subprocess.Popen([sys.argv[1],'300'],stdin=s,stdout=s,stderr=s,\
         start_new_session=True,preexec_fn=ctty)\n\
         print(os.ttyname(s).rsplit('/',1)[1], p.pid, flush=True)\ntime.sleep(300)\n";
    let mut c = Command::new("python3");
    c.args(["-c", holder_py]).arg(&host_bin);
    env.isolate(&mut c);
    let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    let _host_holder = Proc::from_child(child);
    let line = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("host pty");
    let (index, agent_pid) = line.split_once(' ').expect("index and pid");
    let index: u32 = index.parse().unwrap();
    let host_agent = Proc::from_pid(agent_pid.parse().unwrap());
    assert!(wait_until(Duration::from_secs(5), || comm_is(
        host_agent.pid,
        &host_name
    )));

    let tmux = ContainerTmux::start(
        &env,
        index,
        bind_ptmx,
        &format!("sh -c '({} 300 &); exec sleep 300'", inner_bin.display()),
    );
    assert_eq!(tmux.display("#{pane_tty}"), format!("/dev/pts/{index}"));
    let mut inner = None;
    assert!(wait_until(Duration::from_secs(10), || {
        inner = fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            comm_is(pid, &inner_name).then_some(pid)
        });
        inner.is_some()
    }));
    let inner = Proc::from_pid(inner.unwrap());
    // Same number, two devpts instances.
    assert_ne!(
        devpts_of(host_agent.pid, index),
        devpts_of(tmux.server_pid(), index)
    );
    let tty_nr = |pid: i32| {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(4).unwrap().to_string()
    };
    assert_eq!(tty_nr(host_agent.pid), tty_nr(inner.pid));

    env.write_config("min_age = \"0s\"\n[policy]\nunmanaged = \"reap\"\n");
    let (doc, _) = env.json(&["scan"]);
    let host = scan_entry(&doc, host_agent.pid).expect("host agent listed");
    assert_eq!(host["class"], "unmanaged", "bind_ptmx={bind_ptmx}: {doc}");
    assert!(host["protected_by"].is_null(), "{doc}");
    // Nor is it labelled with the container's pane of the same number.
    assert!(host["pane"].is_null(), "{doc}");
    let e = scan_entry(&doc, inner.pid).expect("container agent listed");
    assert_eq!(e["class"], "protected", "bind_ptmx={bind_ptmx}: {doc}");
    assert_eq!(e["protected_by"]["kind"], "pane-tty", "{doc}");
    assert_eq!(e["protected_by"]["pid"], tmux.server_pid(), "{doc}");
    assert_eq!(e["pane"], "main:0.0", "{doc}");
    // With unmanaged agents reaped, the plan is the host agent alone.
    let (dry, _) = env.json(&["reap", "--dry-run"]);
    let planned: Vec<Value> = actions(&dry).iter().map(|a| a["pid"].clone()).collect();
    assert_eq!(planned, vec![Value::from(host_agent.pid)], "{dry}");
    assert!(host_agent.alive() && inner.alive());
}
