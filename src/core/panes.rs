//! Pane labels for display (`session:window.pane` beside an agent in
//! `scan` and `explain`): which tmux servers must be asked, and which pane
//! a process sits in, from earlier answers kept per server.
//!
//! Pure: the process table, the kept answers and the clock (the table's
//! `now_boot`) arrive as data; asking tmux and keeping the answers on disk
//! are the callers' business. Protection never reads anything here: a
//! label that is wrong, stale or missing changes no verdict and no signal.

use std::time::Duration;

use crate::core::process::{Process, ProcessTable, Tty};

/// How long a server's answer labels its panes without asking again: a
/// session renamed or a window moved shows at most this late.
pub(crate) const LABEL_TTL: Duration = Duration::from_secs(10);

/// At most this many servers and panes per server are kept: the kept
/// answers are read on every `scan`, so they stay small.
pub(crate) const MAX_SERVERS: usize = 256;
pub(crate) const MAX_PANES: usize = 2048;
/// Longest `session:window.pane` kept (tmux allows long session names; a
/// label that long is cut, not refused).
pub(crate) const MAX_TARGET: usize = 256;

/// One pane, as its server described it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Pane {
    /// The pane's first process (`#{pane_pid}`), a child of the server.
    pub pid: i32,
    /// That process's start time, from the table read before the server
    /// was asked; `None` for a pane the table did not show as the server's
    /// child (started meanwhile, or a server in another pid namespace):
    /// such a pane is found by its terminal only.
    pub start_time: Option<u64>,
    /// `/dev/pts/N`
    pub tty: String,
    /// `session:window.pane`
    pub target: String,
}

/// What one tmux server said about its panes, and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ServerPanes {
    /// The server: a recycled pid has another start time, so it never
    /// inherits these labels.
    pub pid: i32,
    pub start_time: u64,
    /// The table's clock (in start-time ticks) when the table that preceded
    /// the question was read: a pane whose first process started before
    /// this was in the answer, if it was a pane at all.
    pub asked_at: u64,
    pub panes: Vec<Pane>,
}

/// Where a process sits, per one server's answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Place<'a> {
    /// In this pane.
    Pane(&'a Pane),
    /// Not in any pane the answer knows, and not in one started since:
    /// under the server some other way (a popup, `run-shell`), or on a
    /// terminal the answer does not name. Asking again would not help.
    Elsewhere,
    /// Under a child of the server that started after the answer: maybe a
    /// new pane. Only asking the server tells.
    New,
}

/// The table's clock in start-time ticks.
pub(crate) fn now_ticks(table: &ProcessTable) -> u64 {
    (table.now_boot.max(0.0) * table.ticks_per_sec as f64) as u64
}

impl ServerPanes {
    /// A fresh answer from `server`: `(pane pid, target, tty)` per pane.
    /// Each pane whose first process the table shows as the server's child
    /// gets that process's start time.
    pub(crate) fn answered(
        table: &ProcessTable,
        server: &Process,
        panes: impl IntoIterator<Item = (i32, String, String)>,
    ) -> ServerPanes {
        let panes = panes
            .into_iter()
            .take(MAX_PANES)
            .map(|(pid, target, tty)| Pane {
                pid,
                start_time: table
                    .get(pid)
                    .filter(|p| p.ppid == server.pid)
                    .map(|p| p.start_time),
                tty,
                target: clip(target),
            })
            .collect();
        ServerPanes {
            pid: server.pid,
            start_time: server.start_time,
            asked_at: now_ticks(table),
            panes,
        }
    }

    /// Is this answer from `server` (same pid and start time), of this
    /// boot's clock, and younger than `ttl` at the table's `now`?
    pub(crate) fn fresh_for(&self, table: &ProcessTable, server: &Process, ttl: Duration) -> bool {
        let now = now_ticks(table);
        let ttl = (ttl.as_secs_f64() * table.ticks_per_sec as f64) as u64;
        self.pid == server.pid
            && self.start_time == server.start_time
            && now >= self.asked_at
            && now - self.asked_at <= ttl
    }

    /// Where `p` sits: in the pane whose first process is its nearest
    /// ancestor (or itself) under the server, else in the pane on its
    /// terminal. A pane counts only while its first process is the one the
    /// answer named (same pid, same start time, still the server's child):
    /// a closed pane's pid or terminal, reused by a new pane, never carries
    /// the old label. A pane whose first process is unknown (`start_time`
    /// `None`) is found by its terminal alone.
    pub(crate) fn place<'a>(&'a self, table: &ProcessTable, p: &Process) -> Place<'a> {
        let root = pane_root(table, p, self.pid);
        if let Some(root) = root {
            if let Some(pane) = self
                .panes
                .iter()
                .find(|x| x.pid == root.pid && x.start_time == Some(root.start_time))
            {
                return Place::Pane(pane);
            }
        }
        if let Some(Tty::Pts(n)) = p.tty {
            let tty = format!("/dev/pts/{n}");
            let live = |x: &Pane| match x.start_time {
                None => true,
                Some(s) => table
                    .get(x.pid)
                    .is_some_and(|q| q.start_time == s && q.ppid == self.pid),
            };
            if let Some(pane) = self.panes.iter().find(|x| x.tty == tty && live(x)) {
                return Place::Pane(pane);
            }
        }
        match root {
            Some(root) if root.start_time >= self.asked_at => Place::New,
            _ => Place::Elsewhere,
        }
    }
}

/// The server's child that `p` descends from (or is), when the table shows
/// the whole chain.
fn pane_root<'t>(table: &'t ProcessTable, p: &'t Process, server: i32) -> Option<&'t Process> {
    let mut cur = p;
    for _ in 0..=table.len() {
        if cur.ppid == server {
            return Some(cur);
        }
        if cur.ppid <= 0 || cur.ppid == cur.pid {
            return None;
        }
        cur = table.get(cur.ppid)?;
    }
    None
}

/// Must `server` be asked, to label `shown` (the processes it protects
/// that are shown)? Yes without a fresh answer from it, or when one of
/// them sits under a child of the server started since that answer.
pub(crate) fn must_ask(
    kept: Option<&ServerPanes>,
    table: &ProcessTable,
    server: &Process,
    shown: &[&Process],
    ttl: Duration,
) -> bool {
    match kept {
        Some(k) if k.fresh_for(table, server, ttl) => {
            shown.iter().any(|p| k.place(table, p) == Place::New)
        }
        _ => true,
    }
}

/// Cuts a label to [`MAX_TARGET`] bytes on a character boundary.
fn clip(mut s: String) -> String {
    if s.len() > MAX_TARGET {
        let mut at = MAX_TARGET;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::testkit::{table, TableBuilder, NOW, TICKS};

    const SERVER: i32 = 100;

    /// A tmux server with one pane (first process 200, a shell, then the
    /// agent 202 on pts/3), all started an hour ago.
    fn forest() -> TableBuilder {
        let mut b = table();
        b.add(SERVER, 1, "tmux: server", None, 'S', 3600.0)
            .add(200, SERVER, "bash", Some(Tty::Pts(3)), 'S', 3600.0)
            .add(201, 200, "sh", Some(Tty::Pts(3)), 'S', 3600.0)
            .add(202, 201, "claude", Some(Tty::Pts(3)), 'S', 3600.0);
        b
    }

    fn ticks(age: f64) -> u64 {
        ((NOW - age) * TICKS as f64) as u64
    }

    /// What the server said `asked_ago` seconds before NOW.
    fn kept(t: &ProcessTable, asked_ago: f64, panes: &[(i32, &str, &str)]) -> ServerPanes {
        let server = t.get(SERVER).unwrap();
        ServerPanes {
            pid: SERVER,
            start_time: server.start_time,
            asked_at: ticks(asked_ago),
            panes: panes
                .iter()
                .map(|&(pid, target, tty)| Pane {
                    pid,
                    start_time: t.get(pid).map(|p| p.start_time),
                    tty: tty.into(),
                    target: target.into(),
                })
                .collect(),
        }
    }

    fn label<'a>(k: &'a ServerPanes, t: &ProcessTable, pid: i32) -> Option<&'a str> {
        match k.place(t, t.get(pid).unwrap()) {
            Place::Pane(p) => Some(p.target.as_str()),
            _ => None,
        }
    }

    fn ask(k: Option<&ServerPanes>, t: &ProcessTable, pids: &[i32]) -> bool {
        let shown: Vec<&Process> = pids.iter().map(|&p| t.get(p).unwrap()).collect();
        must_ask(k, t, t.get(SERVER).unwrap(), &shown, LABEL_TTL)
    }

    #[test]
    fn a_fresh_answer_labels_the_agent_by_its_pane_and_needs_no_question() {
        let (t, _) = forest().build();
        let fresh = ServerPanes::answered(
            &t,
            t.get(SERVER).unwrap(),
            [(200, "main:0.0".to_string(), "/dev/pts/3".to_string())],
        );
        assert_eq!(fresh.asked_at, ticks(0.0));
        assert_eq!(fresh.panes[0].start_time, Some(ticks(3600.0)));
        assert_eq!(label(&fresh, &t, 202), Some("main:0.0"));
        assert!(!ask(Some(&fresh), &t, &[202]));
        assert!(ask(None, &t, &[202]), "nothing kept: ask");
    }

    #[test]
    fn a_pane_started_after_the_answer_is_asked_for_an_old_non_pane_is_not() {
        let mut b = forest();
        // A popup (a child of the server that is no pane) from before the
        // answer, and a new window since.
        b.add(300, SERVER, "sh", Some(Tty::Pts(8)), 'S', 60.0)
            .add(301, 300, "claude", Some(Tty::Pts(8)), 'S', 60.0)
            .add(400, SERVER, "bash", Some(Tty::Pts(9)), 'S', 1.0)
            .add(401, 400, "claude", Some(Tty::Pts(9)), 'S', 1.0);
        let (t, _) = b.build();
        let k = kept(&t, 2.0, &[(200, "main:0.0", "/dev/pts/3")]);
        assert_eq!(k.place(&t, t.get(301).unwrap()), Place::Elsewhere);
        assert_eq!(k.place(&t, t.get(401).unwrap()), Place::New);
        assert!(!ask(Some(&k), &t, &[202, 301]));
        assert!(ask(Some(&k), &t, &[202, 401]));
    }

    #[test]
    fn a_restarted_server_or_an_old_answer_is_asked_again() {
        let (t, _) = forest().build();
        let mut k = kept(&t, 1.0, &[(200, "main:0.0", "/dev/pts/3")]);
        assert!(!ask(Some(&k), &t, &[202]));
        // Same pid, another start time: another server.
        k.start_time += 1;
        assert!(ask(Some(&k), &t, &[202]));
        k.start_time -= 1;
        // Older than the TTL, or from the future (another clock): stale.
        k.asked_at = ticks(LABEL_TTL.as_secs_f64() + 1.0);
        assert!(ask(Some(&k), &t, &[202]));
        k.asked_at = ticks(-1.0);
        assert!(ask(Some(&k), &t, &[202]));
    }

    #[test]
    fn a_reused_pane_pid_or_terminal_never_carries_the_old_label() {
        let (t, _) = forest().build();
        let mut k = kept(&t, 1.0, &[(200, "old:3.0", "/dev/pts/3")]);
        // The pane's first process is another one now (same pid, newer).
        k.panes[0].start_time = Some(ticks(7200.0));
        assert_eq!(label(&k, &t, 202), None);
        // Its terminal neither: the pane it belonged to is gone.
        let mut b = forest();
        b.add(500, 1, "claude", Some(Tty::Pts(3)), 'S', 10.0);
        let (t2, _) = b.build();
        assert_eq!(label(&k, &t2, 500), None);
    }

    #[test]
    fn a_process_re_parented_away_is_found_by_its_pane_terminal() {
        let mut b = forest();
        b.add(600, 1, "claude", Some(Tty::Pts(3)), 'S', 10.0).add(
            601,
            1,
            "claude",
            Some(Tty::Pts(5)),
            'S',
            10.0,
        );
        let (t, _) = b.build();
        let k = kept(&t, 1.0, &[(200, "main:0.0", "/dev/pts/3")]);
        assert_eq!(label(&k, &t, 600), Some("main:0.0"));
        // On a terminal the answer does not name, and under no child of
        // the server: asking again would not tell more.
        assert_eq!(k.place(&t, t.get(601).unwrap()), Place::Elsewhere);
        assert!(!ask(Some(&k), &t, &[600, 601]));
    }

    #[test]
    fn a_pane_whose_first_process_is_unknown_is_found_by_terminal_only() {
        let (t, _) = forest().build();
        // A server in another pid namespace names pids the table does not
        // show as its children.
        let answer = ServerPanes::answered(
            &t,
            t.get(SERVER).unwrap(),
            [(201, "ns:0.0".to_string(), "/dev/pts/3".to_string())],
        );
        assert_eq!(answer.panes[0].start_time, None);
        assert_eq!(label(&answer, &t, 202), Some("ns:0.0"));
        let mut b = forest();
        b.add(700, 1, "claude", Some(Tty::Pts(4)), 'S', 10.0);
        let (t2, _) = b.build();
        assert_eq!(label(&answer, &t2, 700), None);
    }

    #[test]
    fn long_labels_are_cut_on_a_character_boundary() {
        let (t, _) = forest().build();
        let long = "é".repeat(MAX_TARGET);
        let a = ServerPanes::answered(
            &t,
            t.get(SERVER).unwrap(),
            [(200, long, "/dev/pts/3".into())],
        );
        assert!(a.panes[0].target.len() <= MAX_TARGET);
        assert!(a.panes[0].target.chars().all(|c| c == 'é'));
    }
}
