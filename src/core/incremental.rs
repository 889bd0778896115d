//! Pure: may a `watch` tick skip the full cycle? From what the last full
//! cycle saw ([`Seen`]) and what the tick learnt since ([`Learned`]: new
//! and vanished pids, pidfd exits, fresh rows of the few processes that
//! decide a verdict, the multiplexers' PTY masters), [`decide`] says
//! "quiet" only when a full cycle now would give every agent the same
//! verdict and plan nothing; anything else, or anything unknown, asks for
//! the full cycle, which alone signals.
//!
//! What decides an agent's verdict, and how a tick learns of a change:
//! - its own row and every ancestor's (parent, comm, tty, session, group,
//!   zombie, uid): re-read each tick; a parent changes only when it exits,
//!   which its pidfd reports. Inside a multiplexer tree (an agent in a pane
//!   and the processes up to the server) the tree protects whatever the
//!   rows say, so there only exits are watched;
//! - which processes are agents or multiplexer servers: every new process
//!   is read and matched, and a process started less than `min_age` ago is
//!   re-read each tick, so a fork that execs an agent a moment later is
//!   seen (an agent younger than that is only `young` anyway);
//! - which PTYs are panes: each server's masters, re-read each tick;
//! - the clock: a young agent comes of age at a known instant, and the
//!   safety-net full cycle is due every `full_every`.
//!
//! Not seen between full cycles (caught by the next one, never a reason to
//! signal, since a quiet tick signals nothing): an exec that turns a
//! process started long ago and neither an agent nor an agent's ancestor
//! into an agent; socket peers of young agents; a cgroup move; inside a
//! multiplexer tree, an exec or a new session (the process stays protected;
//! an agent exec'ing into something else is counted until then).
//!
//! Must not read the system, the clock or the config file: everything
//! arrives as data.

use crate::core::classify::{
    is_multiplexer_server, named_like_multiplexer_server, summarize, Class, Facts, Rules, Verdict,
};
use crate::core::process::{PidMap, PidSet, ProcKey, Process, ProcessTable, Tty};

/// Beyond this many young processes to re-read each tick, ticks are full
/// cycles: following them would cost as much.
pub(crate) const MAX_FRESH: usize = 512;

/// What the last full cycle saw, kept up to date by quiet ticks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    /// Every process known to exist: pid → start time.
    pub known: PidMap<u64>,
    /// Rows that decide a verdict: agents, their ancestors, multiplexer
    /// servers, and this process's own ancestry.
    pub watched: PidMap<Process>,
    /// Processes inside a multiplexer tree on the way from an agent to its
    /// server (the server included): only their exit can change a verdict
    /// (the tree protects whatever their rows say), so only their pidfds
    /// are watched, and their rows are not re-read.
    pub exits: PidMap<Process>,
    /// Processes younger than `min_age` that are neither agents nor
    /// multiplexer servers yet: an exec may still make them one.
    pub fresh: PidMap<Process>,
    /// Each multiplexer server's PTY master indexes, sorted.
    pub masters: PidMap<Vec<u32>>,
    /// CLOCK_BOOTTIME seconds at which quiet ticks end: the safety-net full
    /// cycle, or the first young agent coming of age.
    pub due: f64,
    /// Which of the two `due` is.
    pub due_why: String,
    /// Why no tick may be quiet until the next full cycle (work pending, a
    /// note, an unreadable server), if so.
    pub blocked: Option<String>,
    /// Agents per class, for the per-tick line.
    pub classes: Vec<(Class, usize)>,
    pub ticks_per_sec: u64,
    pub fresh_secs: f64,
}

/// What a tick learnt since the last look.
#[derive(Debug, Clone, Default)]
pub(crate) struct Learned {
    /// CLOCK_BOOTTIME seconds of this tick.
    pub now: f64,
    /// Processes not known before: a new pid, or a known pid now another
    /// process (another start time).
    pub appeared: Vec<Process>,
    /// Known pids no longer listed.
    pub gone: Vec<i32>,
    /// Watched processes whose pidfd says they exited (or could not be
    /// watched at all).
    pub exited: Vec<ProcKey>,
    /// The current row of each watched and fresh pid (`None`: gone).
    pub reread: PidMap<Option<Process>>,
    /// Which of the appeared and re-read processes the match rules make
    /// agents.
    pub agents: PidSet,
    /// Each server's PTY masters now, or why they could not be read.
    pub masters: PidMap<Result<Vec<u32>, String>>,
}

/// The fields of a row that any verdict reads; the rest (state letter
/// other than zombie, RSS) change all the time and decide nothing here.
fn same(a: &Process, b: &Process) -> bool {
    a.pid == b.pid
        && a.start_time == b.start_time
        && a.ppid == b.ppid
        && a.comm == b.comm
        && a.tty == b.tty
        && a.sid == b.sid
        && a.pgid == b.pgid
        && a.uid == b.uid
        && a.is_zombie() == b.is_zombie()
        && a.kernel_thread == b.kernel_thread
}

fn started_secs(p: &Process, ticks_per_sec: u64) -> f64 {
    p.start_time as f64 / ticks_per_sec.max(1) as f64
}

/// The pids whose rows a verdict reads (`.0`): agents outside multiplexer
/// trees and their ancestors, and the multiplexer servers holding the
/// master of an agent's terminal (another server cannot come to hold one:
/// a PTY index in use is not handed out again in its devpts instance).
/// And (`.1`) the processes from an agent inside a tree up to its server,
/// whose exits alone matter.
fn watched_pids(table: &ProcessTable, facts: &Facts, rules: &Rules) -> (PidSet, PidSet) {
    let (mut rows, mut exits) = (PidSet::default(), PidSet::default());
    for &agent in facts.agents.keys() {
        let Some(Tty::Pts(index)) = table.get(agent).and_then(|p| p.tty) else {
            continue;
        };
        rows.extend(facts.pane_ttys.get(&index));
        for (server, _) in facts.pane_devpts.get(&index).into_iter().flatten() {
            rows.insert(*server);
        }
    }
    rows.retain(|pid| table.get(*pid).is_some());
    for &agent in facts.agents.keys() {
        let chain = ancestry(table, agent);
        let server = chain.iter().position(|&pid| {
            table
                .get(pid)
                .is_some_and(|p| is_multiplexer_server(p, &rules.multiplexers))
        });
        match server {
            Some(i) => exits.extend(&chain[..=i]),
            None => rows.extend(chain),
        }
    }
    exits.retain(|pid| !rows.contains(pid));
    // A process named like a multiplexer that is no server now (a `screen`
    // on a terminal) becomes one by losing its terminal, and then protects
    // what is on its masters: its row is watched, so that change runs the
    // full cycle. There are few of them.
    for p in table
        .iter()
        .filter(|p| named_like_multiplexer_server(p, &rules.multiplexers))
    {
        if !exits.contains(&p.pid) {
            rows.insert(p.pid);
        }
    }
    (rows, exits)
}

/// `pid` and its ancestors.
fn ancestry(table: &ProcessTable, pid: i32) -> Vec<i32> {
    let mut chain = Vec::new();
    let mut cur = pid;
    while let Some(p) = table.get(cur) {
        if chain.contains(&cur) || chain.len() > table.len() {
            break;
        }
        chain.push(cur);
        cur = p.ppid;
    }
    chain
}

/// What the full cycle that read `table` leaves for the next ticks.
/// `pending` says why ticks may not be quiet (the plan acts, escalation
/// entries wait, the cycle had notes); `full_every_secs` of 0 makes every
/// tick a full cycle.
pub(crate) fn after_full(
    table: &ProcessTable,
    facts: &Facts,
    verdicts: &[Verdict],
    rules: &Rules,
    pending: Option<String>,
    full_every_secs: f64,
) -> Seen {
    let now = table.now_boot;
    let ticks = table.ticks_per_sec;
    let (mut watched_set, mut exits) = watched_pids(table, facts, rules);
    watched_set.extend(ancestry(table, rules.self_pid));
    exits.retain(|pid| !watched_set.contains(pid));
    let (mut due, mut due_why) = (now + full_every_secs, "full_every elapsed".to_string());
    for v in verdicts.iter().filter(|v| v.class == Class::Young) {
        if let Some(p) = table.get(v.pid) {
            let of_age = started_secs(p, ticks) + rules.min_age_secs;
            if of_age < due {
                (due, due_why) = (of_age, format!("young agent {} comes of age", p.pid));
            }
        }
    }
    let blocked = pending
        .or_else(|| (full_every_secs <= 0.0).then(|| "every tick is a full cycle".to_string()))
        .or_else(|| {
            facts
                .unreadable_servers
                .first()
                .map(|(pid, e)| format!("cannot read the fds of multiplexer server {pid}: {e}"))
        })
        .or_else(|| facts.hidden_ancestry.clone());
    let mut masters: PidMap<Vec<u32>> = watched_set
        .iter()
        .filter(|&&pid| {
            table
                .get(pid)
                .is_some_and(|p| is_multiplexer_server(p, &rules.multiplexers))
        })
        .map(|&pid| (pid, Vec::new()))
        .collect();
    // Every master a watched server holds (an index two servers hold, in
    // two devpts instances, may be listed under the other: then the
    // re-read differs and every tick is full, which is safe).
    for (&index, &server) in &facts.pane_ttys {
        if let Some(m) = masters.get_mut(&server) {
            m.push(index);
        }
    }
    for m in masters.values_mut() {
        m.sort_unstable();
        m.dedup();
    }
    let fresh = table
        .iter()
        .filter(|p| !watched_set.contains(&p.pid) && !exits.contains(&p.pid) && !p.kernel_thread)
        .filter(|p| now - started_secs(p, ticks) < rules.min_age_secs)
        .map(|p| (p.pid, p.clone()))
        .collect();
    Seen {
        known: table.iter().map(|p| (p.pid, p.start_time)).collect(),
        watched: watched_set
            .iter()
            .filter_map(|&pid| table.get(pid).map(|p| (pid, p.clone())))
            .collect(),
        exits: exits
            .iter()
            .filter_map(|&pid| table.get(pid).map(|p| (pid, p.clone())))
            .collect(),
        fresh,
        masters,
        due,
        due_why,
        blocked,
        classes: summarize(verdicts),
        ticks_per_sec: ticks,
        fresh_secs: rules.min_age_secs,
    }
}

impl Seen {
    /// The pids a tick re-reads: watched and fresh.
    pub(crate) fn to_reread(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .watched
            .keys()
            .chain(self.fresh.keys())
            .copied()
            .collect();
        pids.sort_unstable();
        pids
    }

    /// The processes a tick watches with a pidfd.
    pub(crate) fn watched_keys(&self) -> Vec<ProcKey> {
        let mut keys: Vec<ProcKey> = self
            .watched
            .values()
            .chain(self.exits.values())
            .map(Process::key)
            .collect();
        keys.sort_unstable_by_key(|k| k.pid);
        keys
    }

    /// The watched processes whose pidfd can still tell of an exit: not
    /// those that were zombies already (their pidfd is readable for good;
    /// their reaping shows as gone from the listing and the re-read).
    pub(crate) fn pollable_keys(&self) -> Vec<ProcKey> {
        self.watched_keys()
            .into_iter()
            .filter(|k| {
                !self
                    .watched
                    .get(&k.pid)
                    .or(self.exits.get(&k.pid))
                    .is_some_and(Process::is_zombie)
            })
            .collect()
    }

    /// The multiplexer servers whose masters a tick re-reads.
    pub(crate) fn servers(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.masters.keys().copied().collect();
        pids.sort_unstable();
        pids
    }
}

/// A quiet tick: the updated [`Seen`]. A full cycle is needed: why.
pub(crate) fn decide(seen: &Seen, learned: &Learned, rules: &Rules) -> Result<Seen, String> {
    if let Some(why) = &seen.blocked {
        return Err(why.clone());
    }
    if learned.now >= seen.due {
        return Err(seen.due_why.clone());
    }
    if let Some(k) = learned.exited.first() {
        return Err(format!("watched process {} exited", k.pid));
    }
    for (pid, before) in &seen.watched {
        match learned.reread.get(pid) {
            Some(Some(now)) if same(before, now) => {}
            Some(Some(_)) => return Err(format!("watched process {pid} changed")),
            Some(None) => return Err(format!("watched process {pid} is gone")),
            None => return Err(format!("watched process {pid} was not read")),
        }
    }
    for (server, before) in &seen.masters {
        match learned.masters.get(server) {
            Some(Ok(now)) if sorted(now) == *before => {}
            Some(Ok(_)) => return Err(format!("the panes of multiplexer server {server} changed")),
            Some(Err(e)) => return Err(format!("multiplexer server {server}: {e}")),
            None => return Err(format!("multiplexer server {server} was not read")),
        }
    }
    let mut next = seen.clone();
    for &pid in &learned.gone {
        if seen.watched.contains_key(&pid) || seen.exits.contains_key(&pid) {
            return Err(format!("watched process {pid} is gone"));
        }
        next.known.remove(&pid);
        next.fresh.remove(&pid);
    }
    for p in &learned.appeared {
        if seen.watched.contains_key(&p.pid) || seen.exits.contains_key(&p.pid) {
            return Err(format!("watched pid {} is another process", p.pid));
        }
        next.fresh.remove(&p.pid);
        next.known.insert(p.pid, p.start_time);
        note_fresh(&mut next, p, None, learned, rules)?;
    }
    for (pid, before) in &seen.fresh {
        if learned.appeared.iter().any(|p| p.pid == *pid) {
            continue;
        }
        if learned.gone.contains(pid) {
            continue;
        }
        match learned.reread.get(pid) {
            Some(Some(now)) if now.start_time == before.start_time => {
                next.fresh.remove(pid);
                note_fresh(&mut next, now, Some(before), learned, rules)?;
            }
            // Exited but still listed, or another process without showing
            // as appeared: not followed, so not known.
            Some(_) => return Err(format!("new process {pid} could not be followed")),
            None => return Err(format!("new process {pid} was not read")),
        }
    }
    if next.fresh.len() > MAX_FRESH {
        return Err(format!(
            "more than {MAX_FRESH} processes younger than min_age to follow"
        ));
    }
    Ok(next)
}

/// A new process (`before`: none) or a fresh one re-read: an agent, or a
/// multiplexer server it was not before, needs the full cycle; else it is
/// followed while younger than `min_age`.
fn note_fresh(
    next: &mut Seen,
    p: &Process,
    before: Option<&Process>,
    learned: &Learned,
    rules: &Rules,
) -> Result<(), String> {
    if learned.agents.contains(&p.pid) {
        return Err(format!("new agent {} ({})", p.pid, p.comm));
    }
    let server = |q: &Process| is_multiplexer_server(q, &rules.multiplexers);
    if server(p) && !before.is_some_and(server) {
        return Err(format!("new multiplexer server {} ({})", p.pid, p.comm));
    }
    let young = learned.now - started_secs(p, next.ticks_per_sec) < next.fresh_secs;
    if young && !p.kernel_thread {
        next.fresh.insert(p.pid, p.clone());
    }
    Ok(())
}

fn sorted(v: &[u32]) -> Vec<u32> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
