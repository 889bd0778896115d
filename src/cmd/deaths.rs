//! Deaths and memory inside a cycle (SPEC "Deaths", "Memory"): the OOM
//! kills the kernel log reported since the last cycle, the fatal signals
//! `watch`'s tracer saw, and `oom_score_adj` raises for strays.
//! Orchestration only: `sys::{kmsg, tracefs, oomadj}` read and write,
//! `core::{deaths, memory}` decide, `store::audit` records.
//!
//! Missing privilege is said once per process (a `watch` runs many cycles)
//! and never fails a cycle.

use std::collections::{HashMap, HashSet};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::core::classify::Verdict;
use crate::core::deaths::{self, DeathEvent, LastKnown};
use crate::core::memory::{self, AdjCandidate, Raise};
use crate::core::process::{ProcKey, ProcessTable};
use crate::render::msg;
use crate::store::audit::{AuditLog, Event};
use crate::store::state::State;
use crate::sys::kmsg;
use crate::sys::oomadj::{self, RaiseOutcome};
use crate::sys::psi::{self, PsiTrigger, Wake};
use crate::sys::tracefs::{self, Tracer};
use crate::Settings;

/// Whether the reason `/dev/kmsg` cannot be read was said already.
static KMSG_SAID: AtomicBool = AtomicBool::new(false);

/// The most `(pid, start time)` raises remembered (so each is audited
/// once); only live processes are kept, so this bounds a pathological host.
pub(crate) const RAISED_MAX: usize = 8192;

/// OOM kills since the state's kernel-log position, recorded when their
/// victim was watched at the last cycle (the state's last-known table) or
/// its comm is one of the agent names; the position moves on. `Err`: why
/// the kernel log cannot be read (no privilege): nothing recorded.
pub(crate) fn oom_kills(
    state: &mut State,
    boot_id: Option<&str>,
    agent_names: &[String],
) -> Result<Vec<Event>, String> {
    let Some(boot_id) = boot_id else {
        return Err("the boot id is unknown".to_string());
    };
    let unread = |why: String| {
        format!(
            "OOM kills are not recorded: {}: {why}; run as root or with CAP_SYSLOG (see `stray doctor`)",
            kmsg::DEV_KMSG
        )
    };
    let mut reader = kmsg::KmsgReader::open(Path::new(kmsg::DEV_KMSG))
        .map_err(|e| unread(kmsg::why_unreadable(&e)))?;
    let read = kmsg::read_oom_kills(
        &mut reader,
        state.kmsg.as_ref(),
        boot_id,
        kmsg::Limits::default(),
    )
    .map_err(|e| unread(e.to_string()))?;
    if read.lost > 0 {
        msg::warn(&format!(
            "{}: {} kernel log records were overwritten before they were read; an OOM kill among them is not recorded",
            kmsg::DEV_KMSG,
            read.lost
        ));
    }
    state.kmsg = Some(read.pos);
    let table = state.last_known();
    let matches = |comm: &str| agent_names.iter().any(|n| n == comm);
    let now_wall = SystemTime::now();
    let now_boot = kmsg::now_monotonic_usec();
    Ok(read
        .kills
        .iter()
        .filter_map(|k| {
            let ts = deaths::rfc3339(deaths::wall_time(k.ts_usec, now_wall, now_boot));
            deaths::decide_oom(k, &table, &matches, &ts)
        })
        .map(death_event)
        .collect())
}

/// Says once per process why OOM kills are not recorded (a `watch` runs
/// many cycles).
pub(crate) fn kmsg_unreadable(why: &str) {
    say_once(&KMSG_SAID, why);
}

/// A death as an audit line.
pub(crate) fn death_event(d: DeathEvent) -> Event {
    Event {
        event: match d.event {
            deaths::EventKind::OomKill => "oom-kill",
            deaths::EventKind::Killed => "killed",
            deaths::EventKind::OomScoreAdj => "oom-score-adj",
        }
        .to_string(),
        ts: d.ts,
        pid: d.pid,
        start_time: d.start_time,
        uid: d.uid,
        comm: d.comm,
        class: d.class,
        signal: d.signal,
        sender_pid: d.sender_pid,
        sender_comm: d.sender_comm,
        rss_bytes: d.rss_bytes,
        memcg: d.memcg,
        ..Event::default()
    }
}

pub(crate) fn say_once(flag: &AtomicBool, text: &str) {
    if !flag.swap(true, Ordering::SeqCst) {
        msg::notice(text);
    }
}

/// Raises the strays' `oom_score_adj` to `target` (or, `dry_run`, says it
/// would); returns the report lines and the audit lines (once per
/// (pid, start time), remembered in `raised`).
pub(crate) fn raise_strays(
    proc_root: &Path,
    table: &ProcessTable,
    verdicts: &[Verdict],
    target: i32,
    raised: &mut Vec<ProcKey>,
    dry_run: bool,
) -> (Vec<Raise>, Vec<Event>) {
    let cands: Vec<AdjCandidate> = verdicts
        .iter()
        .filter_map(|v| {
            let kind = memory::verdict_stray_kind(v)?;
            Some(AdjCandidate {
                key: v.key(),
                kind: Some(kind),
                current: oomadj::current(proc_root, v.pid).ok(),
            })
        })
        .collect();
    let planned = memory::plan_raises(&cands, target);
    let audited: HashSet<ProcKey> = raised.iter().copied().collect();
    let mut lines = Vec::new();
    let mut events = Vec::new();
    // By pid: a search of every verdict per stray grows with the square of
    // the table.
    let verdict_of: HashMap<i32, &Verdict> = verdicts.iter().map(|v| (v.pid, v)).collect();
    let current_of: HashMap<ProcKey, Option<i32>> =
        cands.iter().map(|c| (c.key, c.current)).collect();
    for key in planned {
        let (Some(p), Some(&v)) = (table.get(key.pid), verdict_of.get(&key.pid)) else {
            continue;
        };
        let current = current_of.get(&key).copied().flatten();
        let line = |from: Option<i32>, to: i32, outcome: &str| Raise {
            pid: key.pid,
            start_time: key.start_time,
            comm: p.comm.clone(),
            class: v.class,
            from,
            to,
            outcome: outcome.to_string(),
        };
        let to = target.min(memory::OOM_SCORE_ADJ_MAX);
        if dry_run {
            lines.push(line(current, to, "would-raise"));
            continue;
        }
        match oomadj::raise(proc_root, key, target) {
            RaiseOutcome::Raised { from, to } => {
                lines.push(line(Some(from), to, "raised"));
                if memory::needs_audit(key, &audited) {
                    events.push(Event {
                        event: "oom-score-adj".into(),
                        ts: crate::store::audit::now_rfc3339(),
                        pid: key.pid,
                        start_time: Some(key.start_time),
                        uid: Some(p.uid),
                        comm: p.comm.clone(),
                        cmdline: p.command(),
                        class: Some(v.class.to_string()),
                        rule: v.rule.clone(),
                        from: Some(from),
                        to: Some(to),
                        ..Event::default()
                    });
                    raised.push(key);
                }
            }
            RaiseOutcome::AlreadyHigh(_) | RaiseOutcome::Gone => {}
            RaiseOutcome::Failed(why) => lines.push(line(current, to, &format!("failed: {why}"))),
        }
    }
    // Only live processes are remembered.
    raised.retain(|k| {
        table
            .get(k.pid)
            .is_some_and(|p| p.start_time == k.start_time)
    });
    raised.sort_unstable();
    raised.dedup();
    raised.truncate(RAISED_MAX);
    (lines, events)
}

// ---------------------------------------------------------------------------
// `watch`: signals and memory pressure between cycles

/// Why [`Senses::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The memory-pressure trigger fired: run a cycle now.
    Pressure,
    /// Trace events wait: [`Senses::drain`] them.
    Signals,
    /// The timeout, or a signal to this process.
    Nothing,
}

/// What `watch` keeps open between cycles: the signal tracer (root, where
/// tracefs is mounted) and the memory-pressure trigger. Dropping it closes
/// both and removes the tracefs instance.
pub(crate) struct Senses {
    tracer: Option<Tracer>,
    pressure: Option<PsiTrigger>,
    /// Our own comm: a signal whose sender has it is a stray process's
    /// (this watch, a `stray reap` from cron), already audited as `reap`.
    own_comm: String,
}

/// The most bytes of trace events read per wake-up.
const TRACE_READ_MAX: usize = 1 << 20;

impl Senses {
    pub(crate) fn open(s: &Settings) -> Senses {
        Senses {
            tracer: open_tracer(),
            pressure: open_pressure(s),
            own_comm: std::fs::read_to_string("/proc/self/comm")
                .map(|c| c.trim_end().to_string())
                .unwrap_or_else(|_| "stray".into()),
        }
    }

    /// Waits up to `timeout` for pressure or trace events.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Woke {
        let trig = self.pressure.as_ref().map(|p| p.fd());
        let extra: Vec<BorrowedFd<'_>> = self.tracer.iter().filter_map(|t| t.fd()).collect();
        match psi::wait(trig, &extra, timeout) {
            Ok(Wake::Pressure) => Woke::Pressure,
            Ok(Wake::Ready(_)) => Woke::Signals,
            Ok(Wake::Timeout | Wake::Interrupted) => Woke::Nothing,
            Err(e) => {
                msg::warn(&format!(
                    "memory pressure is no longer watched: {e}; cycles run every interval"
                ));
                self.pressure = None;
                Woke::Nothing
            }
        }
    }

    /// Records the fatal signals the tracer saw to watched processes.
    /// Closes the trigger and the tracer (its instance is removed).
    pub(crate) fn close(self) {
        drop(self);
    }

    pub(crate) fn drain(&mut self, s: &Settings, last_known: &LastKnown, log: &AuditLog) {
        let Some(t) = self.tracer.as_mut() else {
            return;
        };
        let read = match t.read_events(TRACE_READ_MAX) {
            Ok(r) => r,
            Err(e) => {
                msg::warn(&format!("signals are no longer traced: {e}"));
                self.tracer = None;
                return;
            }
        };
        if read.lost > 0 {
            msg::warn(&format!(
                "{} signal events were lost (the trace buffer overflowed)",
                read.lost
            ));
        }
        let own = [std::process::id() as i32];
        let known = with_late_multiplexers(s, last_known, &read.events);
        let last_known = known.as_ref().unwrap_or(last_known);
        let now_wall = SystemTime::now();
        let now_boot = kmsg::now_monotonic_usec();
        // The trace's comm cache can lose a short-lived sender's name
        // (`<...>`): ask /proc while the sender may still be there.
        let mut read_events = read.events;
        for ev in read_events.iter_mut().filter(|ev| ev.sender_comm.is_none()) {
            ev.sender_comm =
                std::fs::read_to_string(s.proc_root.join(format!("{}/comm", ev.sender_tid)))
                    .ok()
                    .map(|c| c.trim_end_matches('\n').to_string());
        }
        let events: Vec<Event> = read_events
            .iter()
            .filter(|ev| ev.sender_comm.as_deref() != Some(self.own_comm.as_str()))
            .filter_map(|ev| {
                let ts = deaths::rfc3339(deaths::wall_time(ev.ts_usec, now_wall, now_boot));
                deaths::decide_signal(ev, last_known, &own, &ts).ok()
            })
            .map(unseen_unknown)
            .map(crate::cmd::deaths::death_event)
            .collect();
        for e in &events {
            msg::notice(&e.line());
        }
        if let Err(e) = log.append(&events) {
            msg::error(&format!("{e:#}"));
        }
    }
}

/// `last_known` plus the multiplexer processes that signals reached but no
/// cycle has seen yet (a tmux client attached and killed between two
/// cycles): their class follows from their comm alone. Start time and uid
/// come from `/proc` while the process is still there; a SIGKILLed one is
/// often reaped before the events are read, and is recorded without them
/// ([`UNSEEN`] marks it). `None` when there is none to add.
fn with_late_multiplexers(
    s: &Settings,
    last_known: &LastKnown,
    events: &[deaths::SignalEvent],
) -> Option<LastKnown> {
    let late: Vec<&deaths::SignalEvent> = events
        .iter()
        .filter(|ev| !last_known.contains_key(&ev.target_pid))
        .filter(|ev| deaths::is_multiplexer_process(&ev.target_comm, &s.config.multiplexers))
        .collect();
    if late.is_empty() {
        return None;
    }
    let mut known = last_known.clone();
    for ev in late {
        let seen = match crate::sys::proc::read_one(&s.proc_root, ev.target_pid) {
            Ok(Some(p)) if p.comm == ev.target_comm => {
                deaths::watched(&p, deaths::MULTIPLEXER_CLASS)
            }
            _ => deaths::Watched {
                key: crate::core::process::ProcKey {
                    pid: ev.target_pid,
                    start_time: UNSEEN,
                },
                uid: 0,
                comm: ev.target_comm.clone(),
                class: deaths::MULTIPLEXER_CLASS.to_string(),
            },
        };
        known.insert(ev.target_pid, seen);
    }
    Some(known)
}

/// The start time of a process recorded without ever being read (no
/// process but the kernel's first starts at tick 0 of the boot).
const UNSEEN: u64 = 0;

/// A death of a process never read from `/proc`: start time and uid unknown.
fn unseen_unknown(mut d: DeathEvent) -> DeathEvent {
    if d.start_time == Some(UNSEEN) {
        d.start_time = None;
        d.uid = None;
    }
    d
}

fn open_tracer() -> Option<Tracer> {
    if !nix::unistd::geteuid().is_root() {
        msg::info("not root: signals from other processes are not traced (see `stray doctor`)");
        return None;
    }
    let Some(root) = tracefs::find_root() else {
        msg::notice(
            "tracefs is not mounted: signals from other processes are not recorded (see `stray doctor`)",
        );
        return None;
    };
    match Tracer::start(&root) {
        Ok(t) => {
            msg::info(&format!(
                "tracing fatal signals in {}",
                t.instance().display()
            ));
            Some(t)
        }
        Err(e) => {
            msg::warn(&format!(
                "signals from other processes are not recorded: {e}"
            ));
            None
        }
    }
}

fn open_pressure(s: &Settings) -> Option<PsiTrigger> {
    let trigger = s.config.memory.pressure?;
    match PsiTrigger::register(Path::new(psi::PROC_PRESSURE_MEMORY), &trigger) {
        Ok(t) => {
            if t.used != trigger {
                msg::info(&format!(
                    "memory pressure: the kernel takes only 2s windows from us (no CAP_SYS_RESOURCE); watching {:?}",
                    t.used.kernel_string()
                ));
            }
            Some(t)
        }
        Err(e) => {
            msg::notice(&format!(
                "memory pressure is not watched ({e}): cycles run every interval"
            ));
            None
        }
    }
}
