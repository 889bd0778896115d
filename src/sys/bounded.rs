//! Child processes with a deadline: a hung `tmux` or `systemctl` must never
//! hang `stray`. Stdout is drained on a thread (a large answer cannot block
//! the child) and nothing, not even that thread, is waited for past the
//! deadline.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child under way; several can run side by side.
pub(crate) struct Bounded {
    child: Child,
    started: Instant,
    /// The whole stdout, once the child closed it.
    output: mpsc::Receiver<String>,
}

impl Bounded {
    /// Starts `cmd` with no stdin, stdout captured and stderr discarded.
    pub(crate) fn spawn(cmd: &mut Command) -> Option<Bounded> {
        let mut child = cmd
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
        Some(Bounded {
            child,
            started,
            output,
        })
    }

    /// Waits until `timeout` after the start (no polling interval: it
    /// returns as soon as the child closes stdout and exits). `(success,
    /// stdout)`, or `None` on timeout (the child is killed and reaped).
    pub(crate) fn finish(mut self, timeout: Duration) -> Option<(bool, String)> {
        let deadline = self.started + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let answer = self.output.recv_timeout(left()).ok();
        // Stdout closed: the child is exiting. Wait for its status, still
        // bounded (a child could close stdout and hang).
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return answer.map(|out| (status.success(), out)),
                Ok(None) if answer.is_some() && !left().is_zero() => {
                    std::thread::sleep(Duration::from_micros(100))
                }
                _ => {
                    // After a kill the pipe closes (unless a grandchild holds
                    // it; the reader thread is not waited for).
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_exit_status() {
        let out = Bounded::spawn(Command::new("sh").args(["-c", "echo hi; exit 3"]))
            .unwrap()
            .finish(Duration::from_secs(10));
        assert_eq!(out, Some((false, "hi\n".to_string())));
    }

    #[test]
    fn a_hung_child_is_killed_at_the_deadline() {
        let b = Bounded::spawn(Command::new("sleep").arg("600")).unwrap();
        let pid = b.child.id();
        assert_eq!(b.finish(Duration::from_millis(100)), None);
        // Killed and reaped: the pid is gone (or reused, never ours).
        assert!(std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| !s.contains("(sleep)")));
    }
}
