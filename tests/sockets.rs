//! `stray sockets` against real loopback TCP: the server is this test
//! process, each client a separate process (`tests/helpers/sock_client.py`)
//! that reads normally, reads slowly, idles, or is frozen with SIGSTOP. Every run is narrowed to the test's own listening
//! port (`[sockets] ports`), so nothing else on the host is listed, judged
//! or destroyed. Clients are killed by pid (checked against their start
//! time) on drop.

#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The client process: a small python3 script (see its docstring).
fn client_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/sock_client.py")
}

/// # Safety
/// `fd` must be an open socket.
unsafe fn setopt(fd: i32, level: i32, opt: i32, value: libc::c_int) {
    // SAFETY: the caller guarantees `fd`; `value` lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// One connection: the client process and the server side in this process.
struct Conn {
    client: Proc,
    /// The server socket's endpoints, as `stray sockets` prints them.
    local: String,
    remote: String,
    /// Bytes the server has written so far.
    written: Arc<AtomicU64>,
    /// The error that ended the server's writes, if any.
    ended: mpsc::Receiver<std::io::Error>,
    stop: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `client` is killed by pid when the fields drop; that also ends a
        // write blocked on it.
    }
}

impl Conn {
    /// Starts a client process in `mode` against `listener`, accepts it, and
    /// (when `write`) keeps writing to it from a thread.
    fn start(listener: &TcpListener, mode: &str, write: bool) -> Conn {
        let addr = listener.local_addr().unwrap();
        let child = Command::new("python3")
            .arg(client_script())
            .args([mode, &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let client = Proc::from_child(child);
        let (stream, peer) = listener.accept().unwrap();
        // A small, fixed send buffer (no autotuning): a frozen peer fills it
        // quickly and the queue then stays put.
        // SAFETY: the descriptor is the open socket `stream` owns.
        unsafe { setopt(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 16384) };
        let local = stream.local_addr().unwrap().to_string();
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, ended) = mpsc::channel();
        {
            let (written, stop) = (written.clone(), stop.clone());
            let mut stream = stream;
            std::thread::spawn(move || {
                let chunk = vec![b'x'; 4096];
                while !stop.load(Ordering::SeqCst) {
                    if !write {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    match stream.write(&chunk) {
                        Ok(n) => {
                            written.fetch_add(n as u64, Ordering::SeqCst);
                        }
                        Err(e) => {
                            let _ = tx.send(e);
                            return;
                        }
                    }
                    // About 4 MB/s at most: plenty for the slow reader to
                    // fall behind, cheap for the normal one to keep up.
                    std::thread::sleep(Duration::from_millis(1));
                }
                drop(stream);
            });
        }
        Conn {
            client,
            local,
            remote: peer.to_string(),
            written,
            ended,
            stop,
        }
    }

    /// Freezes the client once data is flowing; returns when it is stopped.
    fn freeze(&self) {
        let w = &self.written;
        assert!(
            wait_until(Duration::from_secs(20), || w.load(Ordering::SeqCst) > 0),
            "nothing was written to the client"
        );
        self.client.signal(libc::SIGSTOP);
        assert!(
            wait_until(Duration::from_secs(10), || stat_of(self.client.pid)
                .is_some_and(|s| s.1 == 'T')),
            "client {} did not stop",
            self.client.pid
        );
    }

    fn entry<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        doc["sockets"]
            .as_array()?
            .iter()
            .find(|s| s["local"] == self.local.as_str() && s["remote"] == self.remote.as_str())
    }

    fn stalled(&self, doc: &Value) -> bool {
        self.entry(doc).is_some_and(|e| e["stalled"] == true)
    }
}

fn env_for(listener: &TcpListener) -> TestEnv {
    let env = TestEnv::new();
    let port = listener.local_addr().unwrap().port();
    env.write_config(&format!("[sockets]\nports = [{port}]\n"));
    env
}

fn sockets(env: &TestEnv, args: &[&str]) -> Value {
    let mut full = vec!["sockets"];
    full.extend_from_slice(args);
    let (doc, out) = env.json(&full);
    assert!(
        out.status.success(),
        "stray sockets failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["schema"], 1);
    doc
}

/// False (with the reason printed) where the kernel has no inet_diag
/// (some sandboxes): there is nothing to test there.
fn diag_available(env: &TestEnv) -> bool {
    let out = env.run(&["sockets", "--sample", "0s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("NETLINK_SOCK_DIAG") {
        skip(&format!("no inet_diag on this kernel: {err}"));
        return false;
    }
    true
}

/// Loopback IPv6, when this host has it.
fn listener_v6_or_v4() -> TcpListener {
    TcpListener::bind("[::1]:0").unwrap_or_else(|e| {
        eprintln!("no IPv6 loopback here ({e}); using IPv4");
        TcpListener::bind("127.0.0.1:0").unwrap()
    })
}

#[test]
fn frozen_client_is_flagged_and_live_ones_never() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let env = env_for(&listener);
    if !diag_available(&env) {
        return;
    }
    let normal = Conn::start(&listener, "read", true);
    let slow = Conn::start(&listener, "slow", true);
    let idle = Conn::start(&listener, "idle", false);
    let frozen = Conn::start(&listener, "read", true);
    frozen.freeze();
    let stopped_at = Instant::now();

    let live = [("normal", &normal), ("slow", &slow), ("idle", &idle)];
    let args = ["--stall", "2s", "--sample", "3s"];
    let mut runs = 0;
    let mut flagged_runs = 0;
    let mut slow_queued = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while flagged_runs < 3 {
        assert!(
            Instant::now() < deadline,
            "the frozen client was never flagged in {runs} runs"
        );
        let doc = sockets(&env, &args);
        runs += 1;
        for (name, c) in live {
            assert!(!c.stalled(&doc), "{name} client flagged stalled:\n{doc:#}");
        }
        slow_queued |= slow
            .entry(&doc)
            .is_some_and(|e| e["send_queue"].as_u64() > Some(0));
        if frozen.stalled(&doc) {
            if flagged_runs == 0 {
                eprintln!(
                    "frozen client flagged {:.1}s after SIGSTOP, run {runs} of `stray sockets {}`",
                    stopped_at.elapsed().as_secs_f64(),
                    args.join(" ")
                );
            }
            flagged_runs += 1;
            let e = frozen.entry(&doc).unwrap();
            assert_eq!(e["pid"], std::process::id(), "{e}");
            assert!(e["comm"].is_string(), "{e}");
            assert!(e["send_queue"].as_u64().unwrap() > 0, "{e}");
            assert!(e["stalled_secs"].as_u64().unwrap() >= 2, "{e}");
        }
    }
    // The slow reader really was slow (its queue stayed full) and still
    // never flagged; the idle one never queued anything.
    assert!(slow_queued, "the slow client never had queued data");
    assert!(
        slow.written.load(Ordering::SeqCst) < normal.written.load(Ordering::SeqCst),
        "the slow client kept up with the normal one"
    );
    assert_eq!(idle.written.load(Ordering::SeqCst), 0);
    eprintln!("{runs} runs x 3 live clients: 0 false positives");

    // The human table shows the stalled socket.
    let out = env
        .cmd()
        .args(["sockets", "--stall", "2s", "--sample", "3s"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let line = text
        .lines()
        .find(|l| l.starts_with(&frozen.local) && l.contains(&frozen.remote))
        .unwrap_or_else(|| panic!("frozen socket not in the table:\n{text}"));
    assert!(line.contains(" yes "), "{line}");
    assert!(text.lines().last().unwrap().contains("stalled"), "{text}");
}

#[test]
fn stored_samples_detect_a_stall_across_runs() {
    let listener = listener_v6_or_v4();
    let env = env_for(&listener);
    if !diag_available(&env) {
        return;
    }
    let frozen = Conn::start(&listener, "read", true);
    let live = Conn::start(&listener, "slow", true);
    frozen.freeze();
    // Wait for the frozen peer's window to close: the queue stops moving.
    let w = &frozen.written;
    let mut last = w.load(Ordering::SeqCst);
    assert!(wait_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(300));
        let now = w.load(Ordering::SeqCst);
        std::mem::replace(&mut last, now) == now
    }));

    let first = sockets(&env, &["--stall", "1s"]);
    assert_eq!(first["first_sample"], true, "{first:#}");
    assert!(!frozen.stalled(&first), "one sample must never decide");
    let state = std::fs::read_to_string(env.state_dir().join("state.json")).unwrap();
    assert!(
        state.contains(&frozen.remote),
        "sample not stored:\n{state}"
    );

    let mut doc = first;
    assert!(
        wait_until(Duration::from_secs(60), || {
            std::thread::sleep(Duration::from_millis(500));
            doc = sockets(&env, &["--stall", "1s"]);
            assert!(!live.stalled(&doc), "slow reader flagged:\n{doc:#}");
            frozen.stalled(&doc)
        }),
        "never flagged across runs:\n{doc:#}"
    );
    assert_eq!(doc["first_sample"], false);
    if frozen.local.starts_with('[') {
        assert!(frozen.remote.starts_with("[::1]:"), "{}", frozen.remote);
    }

    // `stray check` integration: the same stored sample, no sleeping.
    let settings = stray::Settings::new(
        stray::Config::load(&env.config_path()).unwrap(),
        env.state_dir(),
        "/proc".into(),
        stray::Format::Human,
    );
    let mut settings = settings;
    settings.config.stall = Duration::from_secs(1);
    let (n, message) = stray::check_summary(&settings).unwrap();
    assert_eq!(n, 1, "{message}");
    assert!(message.contains(&frozen.remote), "{message}");
}

#[test]
fn destroy_closes_the_stalled_socket_and_unblocks_the_writer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let env = env_for(&listener);
    if !diag_available(&env) {
        return;
    }
    let frozen = Conn::start(&listener, "read", true);
    let live = Conn::start(&listener, "read", true);
    frozen.freeze();

    let mut doc = Value::Null;
    let flagged = wait_until(Duration::from_secs(90), || {
        doc = sockets(&env, &["--stall", "1s", "--sample", "2s", "--destroy"]);
        assert!(!live.stalled(&doc), "live client flagged:\n{doc:#}");
        frozen.stalled(&doc)
    });
    assert!(flagged, "never flagged:\n{doc:#}");
    let e = frozen.entry(&doc).unwrap();
    match e["destroy"].as_str() {
        Some("destroyed") => {}
        Some(other @ ("unsupported" | "denied")) => {
            skip(&format!(
                "SOCK_DESTROY is {other} here (needs CONFIG_INET_DIAG_DESTROY and \
                 CAP_NET_ADMIN)"
            ));
            return;
        }
        other => panic!("unexpected destroy outcome {other:?}:\n{doc:#}"),
    }
    // The server's blocked write returns with an error.
    let err = frozen
        .ended
        .recv_timeout(Duration::from_secs(20))
        .expect("the blocked write never returned");
    assert_eq!(
        err.raw_os_error(),
        Some(libc::ECONNABORTED),
        "unexpected write error {err}"
    );
    assert!(
        live.ended.try_recv().is_err(),
        "the live connection was hit"
    );
    assert_eq!(doc["summary"]["destroyed"], 1, "{doc:#}");

    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{audit}");
    assert_eq!(lines[0]["event"], "socket-destroy");
    assert_eq!(lines[0]["class"], "stalled-socket");
    assert_eq!(lines[0]["outcome"], "destroyed");
    assert_eq!(lines[0]["signal"], Value::Null);
    assert_eq!(lines[0]["pid"], std::process::id());
    assert_eq!(
        lines[0]["cmdline"],
        format!("{} -> {}", frozen.local, frozen.remote)
    );
}

/// Not run by default: measures how long after SIGSTOP the stored-sample
/// mode (the cron / `stray check` path) flags a frozen client, with
/// `[sockets] stall` = `$STRAY_MEASURE_STALL` (default 30s) and one run per
/// second, while three live clients must never be flagged.
/// `cargo test --test sockets -- --ignored --nocapture measure`
#[test]
#[ignore]
fn measure_stall_detection() {
    let stall = std::env::var("STRAY_MEASURE_STALL").unwrap_or_else(|_| "30s".into());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let env = env_for(&listener);
    if !diag_available(&env) {
        return;
    }
    let port = listener.local_addr().unwrap().port();
    env.write_config(&format!(
        "[sockets]\nports = [{port}]\nstall = \"{stall}\"\n"
    ));
    let normal = Conn::start(&listener, "read", true);
    let slow = Conn::start(&listener, "slow", true);
    let idle = Conn::start(&listener, "idle", false);
    let frozen = Conn::start(&listener, "read", true);
    sockets(&env, &[]);
    frozen.freeze();
    let t0 = Instant::now();
    let mut runs = 0;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let doc = sockets(&env, &[]);
        runs += 1;
        for (name, c) in [("normal", &normal), ("slow", &slow), ("idle", &idle)] {
            assert!(!c.stalled(&doc), "{name} flagged:\n{doc:#}");
        }
        if frozen.stalled(&doc) {
            eprintln!(
                "stall = {stall}: frozen client flagged {:.1}s after SIGSTOP (run {runs}, one \
                 `stray sockets` per second); {runs} runs x 3 live clients, 0 false positives",
                t0.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "never flagged");
    }
}
