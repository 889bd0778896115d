//! The incremental path against the full one: random process-table
//! histories (forks, exits, zombies, execs, re-parenting, session and tty
//! changes, panes opening and closing, pids reused with another start
//! time, the clock) run through both; whenever a tick is quiet, a full
//! cycle on the same table must give every agent the same verdict as the
//! last full cycle did, and plan nothing.

use proptest::prelude::*;

use super::*;
use crate::core::classify::{Classifier, Policy, ProtectedBy};
use crate::core::escalation::{plan, Entry};
use crate::core::lineage::Lineage;
use crate::core::process::Tty;

const TICKS: u64 = 100;
const SELF_PID: i32 = 500;
const COMMS: [&str; 6] = ["bash", "agent", "node", "tmux: server", "systemd", "screen"];

fn row(pid: i32, ppid: i32, comm: &str, tty: Option<u32>, start_secs: f64) -> Process {
    Process {
        pid,
        ppid,
        start_time: (start_secs * TICKS as f64) as u64,
        uid: 1000,
        state: 'S',
        pgid: pid,
        sid: pid,
        tty: tty.map(Tty::Pts),
        comm: comm.to_string(),
        rss_bytes: 1 << 20,
        kernel_thread: false,
        exe: None,
        cmdline: None,
        exe_id: None,
        live_thread: None,
    }
}

/// The system being modelled: what `/proc` and the servers' fds show.
#[derive(Debug, Clone)]
struct World {
    procs: Vec<Process>,
    /// Server pid → PTY masters it holds.
    panes: PidMap<Vec<u32>>,
    now: f64,
    next_pid: i32,
    free: Vec<i32>,
}

impl World {
    fn new() -> World {
        let mut procs = vec![
            row(1, 0, "init", None, 0.0),
            row(100, 1, "tmux: server", None, 10.0),
            row(101, 100, "bash", Some(1), 20.0),
            row(102, 101, "agent", Some(1), 30.0),
            row(200, 1, "systemd", None, 5.0),
            row(201, 200, "agent", None, 40.0),
            row(300, 1, "bash", Some(5), 50.0),
            row(SELF_PID, 300, "stray", Some(5), 60.0),
            row(301, 300, "agent", Some(5), 70.0),
        ];
        // A service's agent: in its parent's session, so started by it.
        procs[5].sid = 200;
        procs[5].pgid = 200;
        let mut panes = PidMap::default();
        panes.insert(100, vec![1, 2]);
        World {
            procs,
            panes,
            now: 1000.0,
            next_pid: 1000,
            free: Vec::new(),
        }
    }

    fn table(&self) -> ProcessTable {
        ProcessTable::new(self.procs.clone(), self.now, TICKS)
    }

    fn pick(&self, i: usize) -> Option<i32> {
        // Never PID 1 nor this process: neither exits under a running stray.
        let movable: Vec<i32> = self
            .procs
            .iter()
            .map(|p| p.pid)
            .filter(|&p| p != 1 && p != SELF_PID)
            .collect();
        (!movable.is_empty()).then(|| movable[i % movable.len()])
    }

    fn get_mut(&mut self, pid: i32) -> Option<&mut Process> {
        self.procs.iter_mut().find(|p| p.pid == pid)
    }

    fn apply(&mut self, op: &Op, seen: Option<&Seen>) {
        match *op {
            Op::Fork {
                parent,
                comm,
                tty,
                reuse,
            } => {
                let Some(ppid) = (parent == 0).then_some(1).or_else(|| self.pick(parent)) else {
                    return;
                };
                let Some(p) = self.procs.iter().find(|p| p.pid == ppid).cloned() else {
                    return;
                };
                if p.is_zombie() {
                    return;
                }
                let pid = match (reuse, self.free.pop()) {
                    (true, Some(pid)) => pid,
                    (_, other) => {
                        self.free.extend(other);
                        self.next_pid += 1;
                        self.next_pid
                    }
                };
                let mut child = row(pid, ppid, COMMS[comm % COMMS.len()], None, self.now);
                child.tty = match tty {
                    Some(0) => None,
                    Some(i) => Some(Tty::Pts(i)),
                    None => p.tty,
                };
                child.sid = p.sid;
                child.pgid = p.pgid;
                self.procs.push(child);
                self.procs.sort_by_key(|p| p.pid);
            }
            Op::Exit { who, zombie } => {
                let Some(pid) = self.pick(who) else { return };
                for c in self.procs.iter_mut().filter(|c| c.ppid == pid) {
                    c.ppid = 1;
                }
                self.panes.remove(&pid);
                if zombie {
                    if let Some(p) = self.get_mut(pid) {
                        p.state = 'Z';
                        p.tty = None;
                    }
                } else {
                    self.procs.retain(|p| p.pid != pid);
                    self.free.push(pid);
                }
            }
            Op::Exec { who, comm } => {
                let Some(pid) = self.pick(who) else { return };
                // An exec is seen between full cycles only in a process
                // that is watched or younger than min_age (module doc).
                if seen
                    .is_some_and(|s| !s.watched.contains_key(&pid) && !s.fresh.contains_key(&pid))
                {
                    return;
                }
                if let Some(p) = self.get_mut(pid).filter(|p| !p.is_zombie()) {
                    p.comm = COMMS[comm % COMMS.len()].to_string();
                }
            }
            Op::Setsid { who } => {
                let Some(pid) = self.pick(who) else { return };
                if in_tree(seen, pid) {
                    return;
                }
                if let Some(p) = self.get_mut(pid).filter(|p| !p.is_zombie()) {
                    p.sid = pid;
                    p.pgid = pid;
                    p.tty = None;
                }
            }
            Op::Tty { who, tty } => {
                let Some(pid) = self.pick(who) else { return };
                if in_tree(seen, pid) {
                    return;
                }
                if let Some(p) = self.get_mut(pid).filter(|p| !p.is_zombie()) {
                    p.tty = (tty > 0).then_some(Tty::Pts(tty));
                }
            }
            Op::Pane {
                server,
                index,
                open,
            } => self.pane(server, index, open),
            Op::ReapZombies => {
                let dead: Vec<i32> = self
                    .procs
                    .iter()
                    .filter(|p| p.is_zombie())
                    .map(|p| p.pid)
                    .collect();
                self.procs.retain(|p| !p.is_zombie());
                self.free.extend(dead);
            }
        }
    }

    /// A pane opening or closing on one of the tmux servers.
    fn pane(&mut self, server: usize, index: u32, open: bool) {
        let servers: Vec<i32> = self
            .procs
            .iter()
            .filter(|p| p.comm == "tmux: server" && !p.is_zombie())
            .map(|p| p.pid)
            .collect();
        if servers.is_empty() {
            return;
        }
        // The kernel hands out a PTY index only while it is free:
        // no master holds it and no process has it as terminal.
        let taken = self.panes.values().flatten().any(|&i| i == index)
            || self.procs.iter().any(|p| p.tty == Some(Tty::Pts(index)));
        let m = self
            .panes
            .entry(servers[server % servers.len()])
            .or_default();
        if !open {
            m.retain(|&i| i != index);
        } else if !taken {
            m.push(index);
        }
    }

    /// What the survey would gather: agents by name, panes of the
    /// processes that are multiplexer servers, the remembered parents.
    fn facts(&self, table: &ProcessTable, rules: &Rules, lineage: &Lineage) -> Facts {
        let mut f = Facts::default();
        for p in table.iter().filter(|p| p.pid > 1 && p.comm == "agent") {
            f.agents.insert(p.pid, "name:agent".into());
        }
        for p in table
            .iter()
            .filter(|p| is_multiplexer_server(p, &rules.multiplexers))
        {
            for &i in self.panes.get(&p.pid).into_iter().flatten() {
                f.pane_ttys.insert(i, p.pid);
            }
        }
        for p in table.iter() {
            if f.agents.contains_key(&p.pid) && p.tty.is_none() && p.ppid > 0 {
                if let Some(parent) = lineage.parent_of(p.key()) {
                    f.earlier_parent.insert(p.pid, parent);
                }
            }
        }
        f
    }

    /// What a tick's reads would learn, given what it knew.
    fn learn(&self, seen: &Seen) -> Learned {
        let by_pid = |pid: i32| self.procs.iter().find(|p| p.pid == pid);
        let mut l = Learned {
            now: self.now,
            ..Learned::default()
        };
        l.appeared = self
            .procs
            .iter()
            .filter(|p| seen.known.get(&p.pid) != Some(&p.start_time))
            .cloned()
            .collect();
        l.gone = seen
            .known
            .keys()
            .copied()
            .filter(|&pid| by_pid(pid).is_none())
            .collect();
        // A pidfd is readable once its process exited; none is held for a
        // process that was a zombie already.
        l.exited = seen
            .pollable_keys()
            .into_iter()
            .filter(|k| !by_pid(k.pid).is_some_and(|p| p.key() == *k && !p.is_zombie()))
            .collect();
        for pid in seen.to_reread() {
            l.reread.insert(pid, by_pid(pid).cloned());
        }
        l.agents = self
            .procs
            .iter()
            .filter(|p| p.pid > 1 && p.comm == "agent")
            .map(|p| p.pid)
            .collect();
        for pid in seen.servers() {
            l.masters
                .insert(pid, Ok(self.panes.get(&pid).cloned().unwrap_or_default()));
        }
        l
    }
}

/// Inside a multiplexer tree only exits are watched (module doc): a new
/// session or terminal there is not seen until the next full cycle. It
/// changes no class (the tree protects), but a process named like a
/// multiplexer (`screen`) that leaves its terminal would then protect under
/// its own pid (`protected_by`), which the model would show: it makes none.
fn in_tree(seen: Option<&Seen>, pid: i32) -> bool {
    seen.is_some_and(|s| s.exits.contains_key(&pid))
}

#[derive(Debug, Clone)]
enum Op {
    Fork {
        parent: usize,
        comm: usize,
        tty: Option<u32>,
        reuse: bool,
    },
    Exit {
        who: usize,
        zombie: bool,
    },
    Exec {
        who: usize,
        comm: usize,
    },
    Setsid {
        who: usize,
    },
    Tty {
        who: usize,
        tty: u32,
    },
    Pane {
        server: usize,
        index: u32,
        open: bool,
    },
    ReapZombies,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..64usize, 0..COMMS.len(), prop::option::of(0..6u32), any::<bool>())
            .prop_map(|(parent, comm, tty, reuse)| Op::Fork { parent, comm, tty, reuse }),
        3 => (0..64usize, any::<bool>()).prop_map(|(who, zombie)| Op::Exit { who, zombie }),
        2 => (0..64usize, 0..COMMS.len()).prop_map(|(who, comm)| Op::Exec { who, comm }),
        1 => (0..64usize).prop_map(|who| Op::Setsid { who }),
        1 => (0..64usize, 0..6u32).prop_map(|(who, tty)| Op::Tty { who, tty }),
        1 => (0..4usize, 0..6u32, any::<bool>())
            .prop_map(|(server, index, open)| Op::Pane { server, index, open }),
        1 => Just(Op::ReapZombies),
    ]
}

/// A step: some changes (often none: most ticks see nothing), then time.
fn step() -> impl Strategy<Value = (Vec<Op>, f64)> {
    (
        prop_oneof![3 => Just(Vec::new()), 2 => prop::collection::vec(op(), 1..4)],
        prop_oneof![Just(1.0), 0.1..45.0f64],
    )
}

type Shown = (i32, u64, Class, Policy, Option<ProtectedBy>, String);

/// A verdict without its reason text (a young agent's counts down).
fn shown(verdicts: &[Verdict]) -> Vec<Shown> {
    let mut v: Vec<Shown> = verdicts
        .iter()
        .map(|v| {
            (
                v.pid,
                v.start_time,
                v.class,
                v.policy,
                v.protected_by.clone(),
                v.rule.clone(),
            )
        })
        .collect();
    v.sort_by_key(|s| s.0);
    v
}

fn rules() -> Rules {
    // The config defaults, with this model's own pid for `stray`.
    let mut r = crate::core::classify::testkit::rules();
    r.self_pid = SELF_PID;
    r
}

/// One full cycle's decisions on the world: verdicts and plan.
fn full(
    world: &World,
    rules: &Rules,
    lineage: &Lineage,
    state: &[Entry],
) -> (ProcessTable, Facts, Vec<Verdict>, Vec<Entry>, bool) {
    let table = world.table();
    let facts = world.facts(&table, rules, lineage);
    let verdicts = Classifier::new(&table, &facts, rules).verdicts(false);
    let planned = plan(&verdicts, state, world.now, 60.0, |_| String::new());
    let acts = !planned.actions.is_empty();
    (table, facts, verdicts, planned.next, acts)
}

/// Runs a history; returns how many ticks were quiet.
fn run(history: &[(Vec<Op>, f64)], full_every: f64) -> Result<usize, TestCaseError> {
    let rules = rules();
    let mut world = World::new();
    let mut lineage = Lineage::default();
    let mut state: Vec<Entry> = Vec::new();
    let mut seen: Option<Seen> = None;
    let mut last: Vec<Shown> = Vec::new();
    let mut quiet = 0;
    for (ops, dt) in history {
        for op in ops {
            world.apply(op, seen.as_ref());
        }
        world.now += dt;
        let (table, facts, verdicts, next_state, acts) = full(&world, &rules, &lineage, &state);
        let tick = seen.as_ref().map(|s| decide(s, &world.learn(s), &rules));
        match tick {
            Some(Ok(next)) => {
                quiet += 1;
                prop_assert!(
                    !acts,
                    "a quiet tick where a full cycle plans {:?}",
                    verdicts
                );
                prop_assert!(state.is_empty());
                prop_assert_eq!(&shown(&verdicts), &last, "verdicts changed on a quiet tick");
                prop_assert_eq!(&next.classes, &summarize(&verdicts));
                seen = Some(next);
            }
            _ => {
                // The full cycle: what the real one records.
                lineage = lineage.remember(&table, facts.agents.keys().copied());
                state = next_state;
                let pending = (acts || !state.is_empty()).then(|| "work pending".to_string());
                seen = Some(after_full(
                    &table, &facts, &verdicts, &rules, pending, full_every,
                ));
                last = shown(&verdicts);
            }
        }
    }
    Ok(quiet)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn quiet_ticks_agree_with_full_cycles(history in prop::collection::vec(step(), 1..60)) {
        run(&history, 300.0)?;
    }

    #[test]
    fn full_every_zero_is_never_quiet(history in prop::collection::vec(step(), 1..20)) {
        prop_assert_eq!(run(&history, 0.0)?, 0);
    }
}

/// The property above would hold vacuously if no tick were ever quiet.
#[test]
fn an_idle_history_is_mostly_quiet() {
    let idle: Vec<(Vec<Op>, f64)> = (0..50).map(|_| (Vec::new(), 1.0)).collect();
    let quiet = run(&idle, 300.0).unwrap();
    assert_eq!(quiet, 49, "every tick after the first full cycle is quiet");
    // Unrelated processes coming and going keep it quiet.
    let busy: Vec<(Vec<Op>, f64)> = (0..50)
        .map(|i| {
            let ops = vec![Op::Fork {
                parent: 0,
                comm: 0,
                tty: Some(0),
                reuse: i % 3 == 0,
            }];
            (ops, 1.0)
        })
        .collect();
    assert!(run(&busy, 300.0).unwrap() >= 45);
}

#[test]
fn each_relevant_change_asks_for_a_full_cycle() {
    let rules = rules();
    let base = World::new();
    let table = base.table();
    let facts = base.facts(&table, &rules, &Lineage::default());
    let verdicts = Classifier::new(&table, &facts, &rules).verdicts(false);
    let seen = after_full(&table, &facts, &verdicts, &rules, None, 300.0);
    let tick = |w: &World| decide(&seen, &w.learn(&seen), &rules);
    let mut w = base.clone();
    w.now += 1.0;
    assert!(tick(&w).is_ok(), "nothing changed");
    let cases: Vec<(Op, &str)> = vec![
        (
            Op::Fork {
                parent: 0,
                comm: 1,
                tty: Some(0),
                reuse: false,
            },
            "new agent",
        ),
        (
            Op::Fork {
                parent: 0,
                comm: 3,
                tty: Some(0),
                reuse: false,
            },
            "new multiplexer server",
        ),
        (
            Op::Pane {
                server: 0,
                index: 1,
                open: false,
            },
            "panes",
        ),
    ];
    for (op, why) in cases {
        let mut w = base.clone();
        w.apply(&op, Some(&seen));
        w.now += 1.0;
        let e = tick(&w).expect_err(why);
        assert!(e.contains(why), "{e}");
    }
    // The agent's parent exits: the agent is re-parented.
    let mut w = base.clone();
    w.procs.retain(|p| p.pid != 101);
    w.procs
        .iter_mut()
        .filter(|p| p.ppid == 101)
        .for_each(|p| p.ppid = 1);
    w.now += 1.0;
    assert!(tick(&w).unwrap_err().contains("exited"));
    // The safety net.
    let mut w = base.clone();
    w.now += 300.0;
    assert_eq!(tick(&w).unwrap_err(), "full_every elapsed");
    // Work pending blocks every quiet tick.
    let blocked = after_full(
        &table,
        &facts,
        &verdicts,
        &rules,
        Some("work pending".into()),
        300.0,
    );
    assert!(decide(&blocked, &base.learn(&blocked), &rules).is_err());
}

/// A young agent comes of age at a known instant: the tick at or after it
/// is a full cycle (and only then may it be signalled).
#[test]
fn a_young_agent_coming_of_age_ends_quiet_ticks() {
    let rules = rules();
    let mut w = World::new();
    let mut orphan = row(900, 1, "agent", None, w.now - 10.0);
    orphan.sid = 7;
    w.procs.push(orphan);
    w.procs.sort_by_key(|p| p.pid);
    let table = w.table();
    let facts = w.facts(&table, &rules, &Lineage::default());
    let verdicts = Classifier::new(&table, &facts, &rules).verdicts(false);
    assert!(verdicts
        .iter()
        .any(|v| v.pid == 900 && v.class == Class::Young));
    let seen = after_full(&table, &facts, &verdicts, &rules, None, 300.0);
    w.now += 49.0;
    assert!(decide(&seen, &w.learn(&seen), &rules).is_ok());
    w.now += 1.0;
    assert_eq!(
        decide(&seen, &w.learn(&seen), &rules).unwrap_err(),
        "young agent 900 comes of age"
    );
}

/// The gap the module doc names: an exec that makes an old, unwatched
/// process an agent is not seen by a quiet tick (which signals nothing),
/// and is by the safety-net full cycle.
#[test]
fn an_old_process_execing_an_agent_waits_for_the_full_cycle() {
    let rules = rules();
    let mut w = World::new();
    let mut old = row(950, 1, "bash", None, 100.0);
    old.sid = 7;
    w.procs.push(old);
    w.procs.sort_by_key(|p| p.pid);
    let table = w.table();
    let facts = w.facts(&table, &rules, &Lineage::default());
    let verdicts = Classifier::new(&table, &facts, &rules).verdicts(false);
    let seen = after_full(&table, &facts, &verdicts, &rules, None, 60.0);
    w.get_mut(950).unwrap().comm = "agent".into();
    w.now += 1.0;
    assert!(decide(&seen, &w.learn(&seen), &rules).is_ok());
    w.now += 59.0;
    assert!(decide(&seen, &w.learn(&seen), &rules).is_err());
}
