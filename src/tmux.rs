//! tmux: finding a server's socket from the process table, and bounded
//! queries for display metadata.
//!
//! Protection never depends on anything here (it comes from the process
//! table): tmux is only asked for session and pane names, at most once per
//! live server, and every query has a timeout so that a hung server cannot
//! hang `stray`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Default bound on any tmux query.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Listening unix sockets with a filesystem path: inode → path, from
/// `/proc/net/unix` (one read for the whole host).
pub fn listening_unix_paths(proc_root: &Path) -> HashMap<u64, PathBuf> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(proc_root.join("net/unix")) else {
        return out;
    };
    for line in text.lines().skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        // Flags 00010000 = __SO_ACCEPTCON: a listening socket.
        let listening = u32::from_str_radix(f[3], 16)
            .map(|x| x & 0x10000 != 0)
            .unwrap_or(false);
        if !listening || f[7].starts_with('@') {
            continue;
        }
        if let Ok(inode) = f[6].parse() {
            out.insert(inode, PathBuf::from(f[7..].join(" ")));
        }
    }
    out
}

/// One pane, as `tmux list-panes -a` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub pid: i32,
    /// `session:window.pane`
    pub target: String,
    /// e.g. `/dev/pts/3`
    pub tty: String,
}

/// Runs `tmux -S socket ARGS` with a timeout; `None` on timeout, a missing
/// binary or a failure.
pub fn query(socket: &Path, args: &[&str], timeout: Duration) -> Option<String> {
    Query::start(socket, args)?.finish(timeout)
}

/// A tmux query under way: several can run at once, so that asking N
/// servers costs about one round trip, not N.
pub struct Query {
    child: Child,
    started: Instant,
    /// The whole stdout, once the client closed it.
    output: mpsc::Receiver<String>,
}

impl Query {
    /// Starts `tmux -S socket ARGS`. Stdout is drained on a thread so that a
    /// large answer cannot block the child.
    pub fn start(socket: &Path, args: &[&str]) -> Option<Query> {
        let mut child = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        let Some(mut stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        Some(Query {
            child,
            started,
            output,
        })
    }

    /// Waits for the answer until `timeout` after the start (no polling
    /// interval: it returns as soon as the client exits). `None` on timeout
    /// (the client is killed and reaped) or failure.
    pub fn finish(mut self, timeout: Duration) -> Option<String> {
        let deadline = self.started + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let answer = self.output.recv_timeout(left()).ok();
        // Stdout closed: the client is exiting. Wait for its status, still
        // bounded (a client could close stdout and hang).
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if answer.is_some() && !left().is_zero() => {
                    std::thread::sleep(Duration::from_micros(100))
                }
                _ => {
                    // After a kill the pipe closes (unless a grandchild holds
                    // it; the reader thread is not waited for).
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        if !status?.success() {
            return None;
        }
        answer
    }
}

/// The `list-panes` arguments that [`parse_panes`] reads.
pub const LIST_PANES: [&str; 4] = [
    "list-panes",
    "-a",
    "-F",
    "#{pane_pid}\t#{session_name}:#{window_index}.#{pane_index}\t#{pane_tty}",
];

/// Panes of the server listening on `socket`.
pub fn list_panes(socket: &Path, timeout: Duration) -> Option<Vec<Pane>> {
    query(socket, &LIST_PANES, timeout).map(|out| parse_panes(&out))
}

/// Parses the output of [`LIST_PANES`].
pub fn parse_panes(out: &str) -> Vec<Pane> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some(Pane {
                pid: f.next()?.parse().ok()?,
                target: f.next()?.to_string(),
                tty: f.next()?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_socket_answers_none_quickly() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(list_panes(&t.path().join("nope"), QUERY_TIMEOUT), None);
    }

    #[test]
    fn parses_proc_net_unix() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("net")).unwrap();
        std::fs::write(
            t.path().join("net/unix"),
            "Num       RefCount Protocol Flags    Type St Inode Path\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 12345 /tmp/tmux-1000/default\n\
             0000000000000000: 00000002 00000000 00000000 0001 03 12346 /tmp/tmux-1000/default\n\
             0000000000000000: 00000002 00000000 00010000 0001 01 12347 @abstract\n",
        )
        .unwrap();
        let m = listening_unix_paths(t.path());
        assert_eq!(m.len(), 1);
        assert_eq!(m[&12345], PathBuf::from("/tmp/tmux-1000/default"));
    }
}
