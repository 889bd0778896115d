//! Pure escalation planning: verdicts + previous state + now → [`Plan`].
//!
//! No I/O, no clock: [`execute`] sends through the [`Signaller`] it is
//! handed (`sys::signal` in production, [`RecordingSignaller`] in tests).
//! The plan says which signal each (pid, start time) gets
//! this cycle; [`settle`] folds the outcomes of executing it back into the
//! next state. A dry run renders the same plan without executing it, so
//! dry-run and real runs cannot drift apart.
//!
//! The escalation of SPEC.md, per key:
//! 1. reapable, not in state → SIGTERM;
//! 2. in state, SIGTERM ≥ grace ago, still reapable → SIGKILL;
//! 3. SIGKILL sent and still alive on a later cycle → `unkillable`;
//! 4. gone, no longer reapable, or another start time → dropped, no signal.

use serde::{Deserialize, Serialize};

use crate::core::classify::{Class, Verdict};
use crate::core::process::{ExeId, ProcKey};

/// One process under escalation, as kept in the state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub pid: i32,
    pub start_time: u64,
    pub comm: String,
    /// CLOCK_BOOTTIME seconds when SIGTERM was sent.
    pub term_at: f64,
    /// CLOCK_BOOTTIME seconds when SIGKILL was sent.
    #[serde(default)]
    pub kill_at: Option<f64>,
}

impl Entry {
    pub(crate) fn key(&self) -> ProcKey {
        ProcKey {
            pid: self.pid,
            start_time: self.start_time,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Signal {
    #[serde(rename = "SIGTERM")]
    Term,
    #[serde(rename = "SIGKILL")]
    Kill,
}

impl Signal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
        }
    }
}

/// What happened (or would happen) to one process this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Signalled,
    WouldSignal,
    Waiting,
    Gone,
    Denied,
    Unkillable,
    /// Not sent: the process is no longer what was classified (it exec'd,
    /// or no longer matches its rule) though pid and start time are the
    /// same.
    Changed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Signalled => "signalled",
            Outcome::WouldSignal => "would-signal",
            Outcome::Waiting => "waiting",
            Outcome::Gone => "gone",
            Outcome::Denied => "denied",
            Outcome::Unkillable => "unkillable",
            Outcome::Changed => "changed",
        }
    }
}

/// What the plan does to one process this cycle: exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Send this signal now.
    Send(Signal),
    /// SIGTERMed, inside grace: `grace_left` seconds to go.
    Wait { grace_left: f64 },
    /// SIGKILLed on an earlier cycle and still alive.
    Unkillable,
}

/// One planned step for one process.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub key: ProcKey,
    pub class: Class,
    pub rule: String,
    pub step: Step,
}

impl Action {
    /// The signal to send now, if any.
    pub fn signal(&self) -> Option<Signal> {
        match self.step {
            Step::Send(sig) => Some(sig),
            Step::Wait { .. } | Step::Unkillable => None,
        }
    }

    /// The outcome of a step that sends nothing (`Waiting`, `Unkillable`).
    pub(crate) fn pending(&self) -> Option<Outcome> {
        match self.step {
            Step::Send(_) => None,
            Step::Wait { .. } => Some(Outcome::Waiting),
            Step::Unkillable => Some(Outcome::Unkillable),
        }
    }

    /// Seconds left of grace, for a step that waits.
    pub(crate) fn grace_left(&self) -> Option<f64> {
        match self.step {
            Step::Wait { grace_left } => Some(grace_left),
            Step::Send(_) | Step::Unkillable => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// The state to keep if every signal is delivered; see [`settle`].
    pub next: Vec<Entry>,
}

/// Plans one cycle. `comm_of` names a pid for new entries.
pub fn plan(
    verdicts: &[Verdict],
    previous: &[Entry],
    now: f64,
    grace_secs: f64,
    comm_of: impl Fn(i32) -> String,
) -> Plan {
    let mut out = Plan::default();
    for v in verdicts.iter().filter(|v| v.reapable()) {
        let key = v.key();
        // Only an entry with the same (pid, start time) carries escalation:
        // a recycled pid starts over from SIGTERM.
        let entry = previous.iter().find(|e| e.key() == key);
        let action = |step| Action {
            key,
            class: v.class,
            rule: v.rule.clone(),
            step,
        };
        match entry {
            None => {
                out.actions.push(action(Step::Send(Signal::Term)));
                out.next.push(Entry {
                    pid: key.pid,
                    start_time: key.start_time,
                    comm: comm_of(key.pid),
                    term_at: now,
                    kill_at: None,
                });
            }
            Some(e) if e.kill_at.is_some() => {
                out.actions.push(action(Step::Unkillable));
                out.next.push(e.clone());
            }
            // `now < term_at` only if the state came from a clock we do not
            // trust (it is boot-relative, so only a forged file): wait a full
            // grace from now rather than kill early.
            Some(e) if now < e.term_at => {
                out.actions.push(action(Step::Wait {
                    grace_left: grace_secs,
                }));
                out.next.push(Entry {
                    term_at: now,
                    ..e.clone()
                });
            }
            Some(e) if now - e.term_at >= grace_secs => {
                out.actions.push(action(Step::Send(Signal::Kill)));
                out.next.push(Entry {
                    kill_at: Some(now),
                    ..e.clone()
                });
            }
            Some(e) => {
                out.actions.push(action(Step::Wait {
                    grace_left: grace_secs - (now - e.term_at),
                }));
                out.next.push(e.clone());
            }
        }
    }
    // Entries with no reapable verdict of the same key are dropped: gone,
    // re-classified, or the pid now belongs to another process.
    out
}

/// Folds delivery outcomes into the next state: a signal that found the
/// process gone or changed drops its entry (a changed process starts over
/// from the beginning, should it still be reapable next cycle); a denied
/// SIGTERM is not recorded (tried again next cycle); a denied SIGKILL keeps
/// the entry at the SIGTERM step.
pub(crate) fn settle(plan: &Plan, outcomes: &[(ProcKey, Outcome)]) -> Vec<Entry> {
    let mut next = plan.next.clone();
    for (key, outcome) in outcomes {
        let Some(action) = plan.actions.iter().find(|a| a.key == *key) else {
            continue;
        };
        match (action.signal(), outcome) {
            (Some(_), Outcome::Gone | Outcome::Changed) | (Some(Signal::Term), Outcome::Denied) => {
                next.retain(|e| e.key() != *key);
            }
            (Some(Signal::Kill), Outcome::Denied) => {
                if let Some(e) = next.iter_mut().find(|e| e.key() == *key) {
                    e.kill_at = None;
                }
            }
            _ => {}
        }
    }
    next
}

/// Carries out a plan: each planned signal goes through `signaller`, for
/// the process `expected_of` describes as classified (or, in a dry run, is
/// reported as `would-signal` and not sent); steps without a signal report
/// their pending outcome. Returns one outcome per action, in plan order.
pub(crate) fn execute(
    plan: &Plan,
    dry_run: bool,
    signaller: &mut dyn Signaller,
    expected_of: impl Fn(&Action) -> Expected,
) -> Vec<(ProcKey, Outcome)> {
    plan.actions
        .iter()
        .map(|a| {
            let outcome = match a.step {
                Step::Send(_) if dry_run => Outcome::WouldSignal,
                Step::Send(sig) => signaller.send(&expected_of(a), sig),
                Step::Wait { .. } => Outcome::Waiting,
                Step::Unkillable => Outcome::Unkillable,
            };
            (a.key, outcome)
        })
        .collect()
}

/// A match rule to test again right before the signal.
#[derive(Debug, Clone)]
pub enum Recheck {
    /// Nothing beyond comm and executable (a `name:` or `exe:` rule: the
    /// comm check and the executable's identity cover them).
    Nothing,
    /// A `cmdline` regex: the command line must still match it.
    Cmdline(regex::Regex),
    /// An `env` marker `KEY=VALUE`: the environment must still hold it.
    Env(String),
    /// A rule that names no configured rule (cannot happen with a state
    /// built by this version): it cannot be verified, so nothing is sent.
    Unknown(String),
}

/// The process a signal is meant for, as the scan saw it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub key: ProcKey,
    pub comm: String,
    /// The executable's identity at scan time; `None` when it could not be
    /// read, and then the process cannot be verified and is not signalled.
    pub exe: Option<ExeId>,
    pub rule: Recheck,
}

/// Sends signals; behind a trait so the executor can be tested with a fake.
pub trait Signaller {
    /// Signals the process `expected.key` if it still is the process the
    /// scan classified (see [`Expected`]).
    fn send(&mut self, expected: &Expected, signal: Signal) -> Outcome;
}

/// A recording fake for tests of the executor.
#[derive(Debug, Default)]
pub struct RecordingSignaller {
    pub calls: Vec<(ProcKey, Signal)>,
    /// Outcome per pid; `Signalled` when absent.
    pub outcomes: std::collections::HashMap<i32, Outcome>,
}

impl Signaller for RecordingSignaller {
    fn send(&mut self, expected: &Expected, signal: Signal) -> Outcome {
        self.calls.push((expected.key, signal));
        self.outcomes
            .get(&expected.key.pid)
            .copied()
            .unwrap_or(Outcome::Signalled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::testkit::*;
    use crate::core::classify::Classifier;

    const GRACE: f64 = 60.0;

    fn verdicts(b: &TableBuilder) -> Vec<Verdict> {
        let (t, f) = b.build();
        let r = rules();
        Classifier::new(&t, &f, &r).verdicts(false)
    }

    fn orphan_table() -> TableBuilder {
        let mut b = table();
        b.agent(200, 1, None);
        b
    }

    fn comm(_: i32) -> String {
        "claude".into()
    }

    fn signals(p: &Plan) -> Vec<(i32, Option<Signal>, Option<Outcome>)> {
        p.actions
            .iter()
            .map(|a| (a.key.pid, a.signal(), a.pending()))
            .collect()
    }

    #[test]
    fn term_then_wait_then_kill_then_unkillable() {
        let v = verdicts(&orphan_table());
        let p1 = plan(&v, &[], 1000.0, GRACE, comm);
        assert_eq!(signals(&p1), vec![(200, Some(Signal::Term), None)]);
        let s1 = settle(&p1, &[(p1.actions[0].key, Outcome::Signalled)]);
        assert_eq!(s1.len(), 1);

        let p2 = plan(&v, &s1, 1000.0 + GRACE - 1.0, GRACE, comm);
        assert_eq!(signals(&p2), vec![(200, None, Some(Outcome::Waiting))]);
        assert!((p2.actions[0].grace_left().unwrap() - 1.0).abs() < 1e-9);

        let p3 = plan(&v, &p2.next, 1000.0 + GRACE, GRACE, comm);
        assert_eq!(signals(&p3), vec![(200, Some(Signal::Kill), None)]);
        let s3 = settle(&p3, &[(p3.actions[0].key, Outcome::Signalled)]);

        let p4 = plan(&v, &s3, 1000.0 + GRACE + 60.0, GRACE, comm);
        assert_eq!(signals(&p4), vec![(200, None, Some(Outcome::Unkillable))]);
        // and keeps reporting it
        let p5 = plan(&v, &p4.next, 1000.0 + GRACE + 120.0, GRACE, comm);
        assert_eq!(signals(&p5), vec![(200, None, Some(Outcome::Unkillable))]);
    }

    #[test]
    fn recycled_pid_never_inherits_escalation() {
        let v = verdicts(&orphan_table());
        let old = Entry {
            pid: 200,
            start_time: v[0].start_time + 1,
            comm: "claude".into(),
            term_at: 0.0,
            kill_at: None,
        };
        // Long past grace, but a different start time: a fresh SIGTERM, never
        // the old entry's SIGKILL, and the old entry is dropped.
        let p = plan(&v, &[old], 10_000.0, GRACE, comm);
        assert_eq!(signals(&p), vec![(200, Some(Signal::Term), None)]);
        assert_eq!(p.next.len(), 1);
        assert_eq!(p.next[0].start_time, v[0].start_time);
        assert_eq!(p.next[0].term_at, 10_000.0);
    }

    #[test]
    fn reclassified_or_gone_is_dropped_without_signal() {
        let v = verdicts(&orphan_table());
        let p1 = plan(&v, &[], 1000.0, GRACE, comm);
        // Now it sits in a pane's tree.
        let mut b = table();
        b.tmux_server(100, &[]).agent(200, 100, None);
        let p2 = plan(&verdicts(&b), &p1.next, 2000.0, GRACE, comm);
        assert!(p2.actions.is_empty());
        assert!(p2.next.is_empty());
        // Gone entirely.
        let p3 = plan(&[], &p1.next, 2000.0, GRACE, comm);
        assert!(p3.actions.is_empty() && p3.next.is_empty());
    }

    #[test]
    fn settle_drops_gone_and_denied_term_keeps_denied_kill() {
        let v = verdicts(&orphan_table());
        let p1 = plan(&v, &[], 1000.0, GRACE, comm);
        assert!(settle(&p1, &[(p1.actions[0].key, Outcome::Gone)]).is_empty());
        assert!(settle(&p1, &[(p1.actions[0].key, Outcome::Denied)]).is_empty());
        let s1 = settle(&p1, &[(p1.actions[0].key, Outcome::Signalled)]);
        let p2 = plan(&v, &s1, 1000.0 + GRACE, GRACE, comm);
        let s2 = settle(&p2, &[(p2.actions[0].key, Outcome::Denied)]);
        assert_eq!(s2[0].kill_at, None);
        // retried as a KILL next cycle
        let p3 = plan(&v, &s2, 1000.0 + GRACE + 60.0, GRACE, comm);
        assert_eq!(p3.actions[0].signal(), Some(Signal::Kill));
    }

    #[test]
    fn term_at_in_the_future_restarts_grace() {
        let v = verdicts(&orphan_table());
        let forged = Entry {
            pid: 200,
            start_time: v[0].start_time,
            comm: "claude".into(),
            term_at: 1e12,
            kill_at: None,
        };
        let p = plan(&v, &[forged], 1000.0, GRACE, comm);
        assert_eq!(signals(&p), vec![(200, None, Some(Outcome::Waiting))]);
        assert_eq!(p.next[0].term_at, 1000.0);
    }

    #[test]
    fn only_reapable_classes_are_planned() {
        let mut b = table();
        b.tmux_server(100, &[3])
            .agent(101, 100, Some(crate::core::process::Tty::Pts(3)));
        b.proc_(60, 1, "bash").agent(102, 60, None);
        b.add(103, 1, "claude", None, 'S', 1.0);
        b.facts.agents.insert(103, "name:claude".into());
        b.add(104, 60, "claude", None, 'Z', 100.0);
        b.facts.agents.insert(104, "name:claude".into());
        let p = plan(&verdicts(&b), &[], 1000.0, GRACE, comm);
        assert!(p.actions.is_empty(), "{:?}", p.actions);
    }
}

#[cfg(test)]
mod properties {
    //! Random process forests: no protected process is ever planned for a
    //! signal, and a dry run plans exactly what a real run sends.

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::RecordingSignaller;
    use super::*;
    use crate::core::classify::testkit::{rules, NOW, TICKS};
    use crate::core::classify::{Classifier, Facts, Peers};
    use crate::core::process::{Process, ProcessTable, Tty};

    const COMMS: [&str; 7] = [
        "claude",
        "codex",
        "bash",
        "tmux: server",
        "SCREEN",
        "systemd",
        "node",
    ];

    #[derive(Debug, Clone)]
    struct Spec {
        parent: usize,
        comm: usize,
        tty: Option<u32>,
        zombie: bool,
        age: u32,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            0usize..64,
            0usize..COMMS.len(),
            prop::option::weighted(0.4, 0u32..6),
            prop::bool::weighted(0.05),
            0u32..7200,
        )
            .prop_map(|(parent, comm, tty, zombie, age)| Spec {
                parent,
                comm,
                tty,
                zombie,
                age,
            })
    }

    /// Builds a forest: process i+2 has a parent among the earlier ones, or
    /// PID 1, or (rarely) a pid that vanished.
    fn build(
        specs: &[Spec],
        panes: &[(u32, usize)],
        peers: &[(usize, usize)],
    ) -> (ProcessTable, Facts) {
        let mut procs = vec![Process {
            uid: 0,
            comm: "init".into(),
            ..crate::core::process::bare_process(1, 0, 0)
        }];
        let mut facts = Facts::default();
        for (i, s) in specs.iter().enumerate() {
            let pid = i as i32 + 2;
            let ppid = match s.parent % (i + 3) {
                0 => 1,
                x if x == i + 2 => 9999, // vanished mid-scan
                x => x as i32,
            };
            procs.push(Process {
                pid,
                ppid,
                start_time: ((NOW - s.age as f64) * TICKS as f64) as u64,
                uid: 1000,
                state: if s.zombie { 'Z' } else { 'S' },
                // One long-gone login session: what orphans carry.
                pgid: pid,
                sid: 7,
                tty: s.tty.map(Tty::Pts),
                comm: COMMS[s.comm].into(),
                rss_bytes: 1,
                kernel_thread: false,
                exe: None,
                cmdline: None,
                exe_id: None,
                live_thread: None,
            });
            if COMMS[s.comm] == "claude" || COMMS[s.comm] == "codex" {
                facts.agents.insert(pid, format!("name:{}", COMMS[s.comm]));
            }
        }
        for &(tty, server) in panes {
            facts
                .pane_ttys
                .insert(tty, server as i32 % (specs.len() as i32 + 2));
        }
        let mut by: HashMap<i32, Vec<i32>> = HashMap::new();
        for &(a, b) in peers {
            let (a, b) = (
                a as i32 % (specs.len() as i32 + 2),
                b as i32 % (specs.len() as i32 + 2),
            );
            by.entry(a).or_default().push(b);
        }
        facts.peers = by.into_iter().map(|(k, v)| (k, Peers::Known(v))).collect();
        (ProcessTable::new(procs, NOW, TICKS), facts)
    }

    /// An independent, naive oracle for "must never be signalled".
    fn must_not_signal(t: &ProcessTable, f: &Facts, pid: i32, min_age: f64) -> bool {
        let p = t.get(pid).unwrap();
        if p.pid <= 1 || p.is_zombie() || t.age_secs(p) < min_age {
            return true;
        }
        if let Some(Tty::Pts(n)) = p.tty {
            if f.pane_ttys.contains_key(&n) {
                return true;
            }
        }
        let mut cur = Some(p);
        let mut hops = 0;
        while let Some(q) = cur {
            let server = q.comm == "tmux: server" || (q.comm == "SCREEN" && q.tty.is_none());
            if server {
                return true;
            }
            if q.ppid <= 0 {
                break;
            }
            match t.get(q.ppid) {
                Some(parent) => cur = Some(parent),
                None => return true, // unknown ancestry
            }
            hops += 1;
            if hops > 1000 {
                break;
            }
        }
        false
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

        #[test]
        fn protected_processes_are_never_planned_for_a_signal(
            specs in prop::collection::vec(spec(), 1..40),
            panes in prop::collection::vec((0u32..6, 0usize..64), 0..4),
            peers in prop::collection::vec((0usize..64, 0usize..64), 0..6),
            term_ago in prop::collection::vec(0u32..200, 0..40),
        ) {
            let (t, f) = build(&specs, &panes, &peers);
            let r = rules();
            let c = Classifier::new(&t, &f, &r);
            let verdicts = c.verdicts(false);
            // Previous state: some of the same keys, TERMed a while ago.
            let previous: Vec<Entry> = verdicts.iter().zip(&term_ago).map(|(v, &ago)| Entry {
                pid: v.pid, start_time: v.start_time, comm: String::new(),
                term_at: NOW - ago as f64, kill_at: None,
            }).collect();
            let p = plan(&verdicts, &previous, NOW, 60.0, |_| "x".into());
            for a in p.actions.iter().filter(|a| a.signal().is_some()) {
                prop_assert!(!c.is_protected(a.key.pid), "protected {} planned", a.key.pid);
                prop_assert!(!must_not_signal(&t, &f, a.key.pid, r.min_age_secs), "oracle: {} planned", a.key.pid);
                prop_assert!(f.agents.contains_key(&a.key.pid));
            }
            // Served processes are protected only if a peer is.
            for v in &verdicts {
                if let Some(crate::core::classify::ProtectedBy::Serves { pid, .. }) = v.protected_by {
                    prop_assert!(c.is_protected(pid));
                }
            }

            // Dry run: the same (pid, signal) pairs, nothing sent.
            let mut dry = RecordingSignaller::default();
            let expected = |a: &Action| Expected {
                key: a.key,
                comm: "x".into(),
                exe: None,
                rule: Recheck::Nothing,
            };
            let dry_out = execute(&p, true, &mut dry, expected);
            let mut real = RecordingSignaller::default();
            let real_out = execute(&p, false, &mut real, expected);
            prop_assert!(dry.calls.is_empty());
            let planned: Vec<_> = p.actions.iter().filter_map(|a| a.signal().map(|s| (a.key, s))).collect();
            prop_assert_eq!(&real.calls, &planned);
            let would: Vec<_> = dry_out.iter().filter(|(_, o)| *o == Outcome::WouldSignal).map(|(k, _)| *k).collect();
            let sent: Vec<_> = real_out.iter().filter(|(_, o)| *o == Outcome::Signalled).map(|(k, _)| *k).collect();
            prop_assert_eq!(would, sent);
        }
    }
}
