//! `stray reap`: one escalation cycle (or, with `--wait`, the whole
//! escalation in one invocation).
//!
//! Order of a real cycle: lock → load state → survey → plan (pure) → write
//! the planned state *before* signalling (so no signal is ever sent that the
//! state cannot record) → signal → settle outcomes → write state → audit.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;

use crate::core::classify::{summarize, Class};
use crate::core::deaths::LastKnown;
use crate::core::escalation::Signaller;
use crate::core::escalation::{plan, settle, Outcome, Plan, Signal};
use crate::core::memory::Raise;
use crate::core::process::{ProcKey, ProcessTable};
use crate::exit::ExitCode;
use crate::render::table::{self, Table};
use crate::settings::Reap;
use crate::store::audit::{self, AuditLog, Event};
use crate::store::state::{Lock, QueueSlot, State, StateDir};
use crate::sys::survey::expected;
use crate::{render::msg, Settings};

/// One line of a reap report.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub pid: i32,
    pub start_time: u64,
    pub comm: String,
    pub cmdline: String,
    pub uid: u32,
    pub class: Class,
    pub rule: String,
    pub signal: Option<Signal>,
    pub outcome: Outcome,
    /// Kernel state letter at scan time (D for an unkillable in disk sleep).
    pub state: String,
    /// Seconds left before SIGKILL, for `waiting`.
    pub grace_left_secs: Option<u64>,
}

/// The result of one cycle.
#[derive(Debug, Default)]
pub struct CycleReport {
    pub dry_run: bool,
    pub actions: Vec<ActionReport>,
    pub classes: Vec<(Class, usize)>,
    pub notes: Vec<String>,
    /// `oom_score_adj` raises (planned, in a dry run).
    pub oom_score_adj: Vec<Raise>,
    /// Deaths recorded this cycle (`oom-kill` lines).
    pub deaths: usize,
    /// Who a death would be recorded for, as this cycle saw them (`watch`
    /// judges traced signals by it).
    pub last_known: LastKnown,
    /// What this cycle saw, for `watch`'s quiet ticks until the next one.
    pub(crate) seen: Option<Box<crate::core::incremental::Seen>>,
}

/// Knobs of one cycle.
#[derive(Debug, Clone, Default)]
pub struct CycleOptions {
    pub dry_run: bool,
    /// Memory pressure started this cycle (`watch`): `[memory]
    /// pressure_min_age` replaces `min_age`, grace is not waited out, and
    /// the audit lines say so.
    pub pressure: bool,
    /// Keep what this cycle saw for quiet ticks (`watch`; a one-shot `reap`
    /// has no next tick).
    pub quiet_ticks: bool,
}

/// What the audit lines of a pressure cycle give as its `trigger`.
pub(crate) const PRESSURE_TRIGGER: &str = "memory pressure";

/// The settings of a cycle that memory pressure started.
fn under_pressure(s: &Settings) -> Settings {
    let mut s = s.clone();
    s.config.min_age = s.config.memory.pressure_min_age;
    s.config.grace = Duration::ZERO;
    s
}

/// The survey a cycle acts on: refused whole when the table could not be
/// read consistently. Records each agent's parent (every real cycle does,
/// also one that signals nothing: a later cycle tells re-parented agents by
/// it) and says once why ancestry is hidden, when it is.
fn consistent_survey(
    s: &Settings,
    state: &mut State,
    notes: &mut Vec<String>,
) -> Result<crate::sys::survey::Survey> {
    let sv = crate::sys::survey::survey_for_cycle(&s.config, &s.proc_root, &state.lineage)?;
    if !sv.problems.is_empty() {
        bail!(
            "the process table could not be read consistently ({}{}); no signal sent this cycle",
            sv.problems[0],
            if sv.problems.len() > 1 {
                format!(", and {} more", sv.problems.len() - 1)
            } else {
                String::new()
            }
        );
    }
    // Every real cycle records each agent's parent, and each live agent's
    // descendants (remembered descent), also one that signals nothing: a
    // later cycle tells re-parented agents, and a dead agent's unmarked
    // MCP servers, by it.
    let agents = sv.facts.agents.keys().map(|&pid| (pid, None));
    let members = sv
        .family
        .next_remembered
        .iter()
        .flat_map(|(agent, members)| members.iter().map(move |m| (m.pid, Some(*agent))));
    state.lineage = state
        .lineage
        .remember_family(&sv.table, agents.chain(members));
    if let Some(why) = &sv.facts.hidden_ancestry {
        // One message for the cycle, not one "vanished" per process.
        let note = crate::sys::survey::hidden_ancestry_note(why);
        msg::warn(&note);
        notes.push(note);
    }
    Ok(sv)
}

/// Runs one cycle. The caller holds the lock (or runs dry, without one).
pub fn cycle(
    s: &Settings,
    dir: Option<&StateDir>,
    opts: &CycleOptions,
    signaller: &mut dyn Signaller,
) -> Result<CycleReport> {
    let pressured;
    let s = if opts.pressure {
        pressured = under_pressure(s);
        &pressured
    } else {
        s
    };
    let trigger = opts.pressure.then_some(PRESSURE_TRIGGER);
    let boot_id = crate::sys::proc::current_boot_id();
    let loaded = match dir {
        Some(d) => State::load(d, boot_id.as_deref(), !opts.dry_run)?,
        None => Default::default(),
    };
    let mut notes: Vec<String> = loaded.notes.iter().map(ToString::to_string).collect();
    for n in &notes {
        msg::warn(n);
    }
    let mut state = loaded.state;
    let real = !opts.dry_run && dir.is_some();
    let kmsg_before = state.kmsg.clone();
    // Judged by who the last cycle saw, before this survey replaces them.
    let mut recorded = if real {
        oom_kills(s, &mut state, boot_id.as_deref())
    } else {
        Vec::new()
    };

    let sv = consistent_survey(s, &mut state, &mut notes)?;
    let comm_of = |pid: i32| {
        sv.table
            .get(pid)
            .map(|p| p.comm.clone())
            .unwrap_or_default()
    };
    let planned = plan(
        &sv.verdicts,
        &state.reap,
        sv.table.now_boot,
        s.config.grace.as_secs_f64(),
        comm_of,
    );

    let deaths = recorded.len();
    let raises = raise_strays(s, &mut state, &sv, !real, &mut recorded);
    let last_known = {
        let members: Vec<i32> = sv.facts.family.keys().copied().collect();
        crate::core::deaths::last_known(&sv.table, &sv.verdicts, &members, &s.config.multiplexers)
    };
    if real {
        state.set_last_known(&last_known);
    }
    let mut actions = planned_lines(&planned, &sv.table);
    let log = AuditLog::new(s.audit_log.clone());
    let sends = actions.iter().any(|a| a.signal.is_some());
    if let (true, true, Some(d)) = (real, sends, dir) {
        write_ahead(&log, &actions, trigger, &mut state, &planned, d)?;
    }

    // Same order as `actions`: one outcome per reported line.
    let expected_of = |a: &crate::core::escalation::Action| {
        expected(&sv.table, a.key, &a.rule, &s.config.matching)
    };
    let outcomes = crate::core::escalation::execute(&planned, !real, signaller, expected_of);
    for (a, (_, outcome)) in actions.iter_mut().zip(&outcomes) {
        a.outcome = *outcome;
    }

    if let (true, Some(d)) = (real, dir) {
        state.reap = settle(&planned, &outcomes);
        if let Err(e) = record(&log, &recorded) {
            // Read again next cycle rather than lost.
            state.kmsg = kmsg_before;
            notes.push(format!("audit log not written: {e:#}"));
        }
        // If this fails, the write-ahead state still holds every entry
        // signalled now; the audit lines are written before reporting it.
        let saved = state.save(d);
        if let Err(e) = audit(&log, &actions, trigger) {
            notes.push(format!("audit log not written: {e:#}"));
        }
        saved?;
    }
    let seen = opts.quiet_ticks.then(|| {
        Box::new(crate::core::incremental::after_full(
            &sv.table,
            &sv.facts,
            &sv.verdicts,
            &s.config.rules(std::process::id() as i32),
            quiet_ticks_blocked(real, &actions, &state, &notes),
            s.config.full_every.as_secs_f64(),
        ))
    });
    Ok(CycleReport {
        dry_run: !real,
        actions,
        classes: summarize(&sv.verdicts),
        notes,
        oom_score_adj: raises,
        deaths,
        last_known,
        seen,
    })
}

/// Why `watch` may not skip the next full cycles: this cycle acted or
/// left escalation pending (grace runs on the clock), or had something to
/// say; each is looked at again by the next full cycle.
fn quiet_ticks_blocked(
    real: bool,
    actions: &[ActionReport],
    state: &State,
    notes: &[String],
) -> Option<String> {
    if !real {
        Some("a dry run".to_string())
    } else if !actions.is_empty() {
        Some(format!(
            "{} acted on",
            crate::core::health::plural(actions.len(), "process")
        ))
    } else if !state.reap.is_empty() {
        Some("escalation pending".to_string())
    } else {
        notes.first().map(|n| format!("a note: {n}"))
    }
}

/// The report lines of a plan, before anything is sent: a signal shows as
/// `would-signal`, a step without one as its pending outcome.
fn planned_lines(planned: &Plan, table: &ProcessTable) -> Vec<ActionReport> {
    planned
        .actions
        .iter()
        .map(|a| {
            let p = table.get(a.key.pid);
            ActionReport {
                pid: a.key.pid,
                start_time: a.key.start_time,
                comm: p.map(|p| p.comm.clone()).unwrap_or_default(),
                cmdline: p.map(|p| p.command()).unwrap_or_default(),
                uid: p.map_or(0, |p| p.uid),
                class: a.class,
                rule: a.rule.clone(),
                signal: a.signal(),
                outcome: a.pending().unwrap_or(Outcome::WouldSignal),
                state: p.map(|p| p.state.to_string()).unwrap_or_default(),
                grace_left_secs: a.grace_left().map(|g| g.ceil().max(0.0) as u64),
            }
        })
        .collect()
}

/// Nothing is sent that cannot be recorded. First the audit log: it must
/// open, be ours, and have room for every line this cycle can write (space
/// reserved up front where the filesystem allows). Then write-ahead the
/// planned state. If either fails (full disk, read-only fs, a planted
/// symlink) the cycle stops here, unsent.
fn write_ahead(
    log: &AuditLog,
    actions: &[ActionReport],
    trigger: Option<&str>,
    state: &mut State,
    planned: &Plan,
    dir: &StateDir,
) -> Result<()> {
    let worst: Vec<Event> = actions
        .iter()
        .map(|a| event(a, &"x".repeat(OUTCOME_MAX), trigger))
        .collect();
    let need = AuditLog::lines(&worst)?.len() as u64;
    log.prepare(need).context("no signal sent this cycle")?;
    state.reap = planned.next.clone();
    state.save(dir).context("no signal sent this cycle")
}

/// Records what was sent (and what proved unkillable): a line on stderr
/// each, then the audit log.
fn audit(log: &AuditLog, actions: &[ActionReport], trigger: Option<&str>) -> Result<()> {
    let events: Vec<Event> = actions
        .iter()
        .filter(|a| a.signal.is_some() || a.outcome == Outcome::Unkillable)
        .map(|a| event(a, &outcome_text(a), trigger))
        .collect();
    for e in &events {
        msg::notice(&e.line());
    }
    log.append(&events).inspect_err(|e| {
        // The signals are out; say loudly that the record is missing.
        msg::error(&format!("{e:#}"));
    })
}

/// Longer than any outcome text an audit line can carry.
const OUTCOME_MAX: usize = 40;

fn outcome_text(a: &ActionReport) -> String {
    if a.outcome == Outcome::Unkillable {
        format!(
            "unkillable (state {})",
            crate::render::table::escape(&a.state)
        )
    } else {
        a.outcome.as_str().to_string()
    }
}

fn event(a: &ActionReport, outcome: &str, trigger: Option<&str>) -> Event {
    Event {
        event: audit::EVENT_REAP.to_string(),
        ts: audit::now_rfc3339(),
        pid: a.pid,
        start_time: Some(a.start_time),
        uid: Some(a.uid),
        comm: a.comm.clone(),
        cmdline: a.cmdline.clone(),
        class: Some(a.class.to_string()),
        rule: a.rule.clone(),
        signal: a.signal.map(|s| s.as_str().to_string()),
        outcome: outcome.to_string(),
        trigger: trigger.map(str::to_string),
        ..Event::default()
    }
}

/// Records deaths and raises: a line on stderr each, then the audit log.
fn record(log: &AuditLog, events: &[Event]) -> Result<()> {
    for e in events {
        msg::notice(&e.line());
    }
    log.append(events)
}

/// OOM kills since the last cycle (Linux: the kernel log).
fn oom_kills(s: &Settings, state: &mut State, boot_id: Option<&str>) -> Vec<Event> {
    #[cfg(target_os = "linux")]
    return crate::cmd::deaths::oom_kills(state, boot_id, &s.config.matching.names).unwrap_or_else(
        |why| {
            crate::cmd::deaths::kmsg_unreadable(&why);
            Vec::new()
        },
    );
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (s, state, boot_id);
        Vec::new()
    }
}

/// Raises the strays' `oom_score_adj` (Linux); the audit lines join
/// `recorded`.
fn raise_strays(
    s: &Settings,
    state: &mut State,
    sv: &crate::sys::survey::Survey,
    dry_run: bool,
    recorded: &mut Vec<Event>,
) -> Vec<Raise> {
    #[cfg(target_os = "linux")]
    {
        let (lines, events) = crate::cmd::deaths::raise_strays(
            &s.proc_root,
            &sv.table,
            &sv.verdicts,
            s.config.memory.oom_score_adj,
            &mut state.oom_raised,
            dry_run,
        );
        recorded.extend(events);
        lines
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (s, state, sv, dry_run, recorded);
        Vec::new()
    }
}

pub(crate) fn reap(s: &Settings, args: &Reap, out: &mut dyn Write) -> Result<ExitCode> {
    let opts = CycleOptions {
        dry_run: args.dry_run,
        ..CycleOptions::default()
    };
    let mut signaller = crate::sys::signal::live(&s.proc_root, s.pidfd);
    let report = if args.dry_run {
        // Read the state if there is one, but create nothing and lock nothing.
        let dir = StateDir::open(&s.state_dir)?;
        cycle(s, dir.as_ref(), &opts, signaller.as_mut())?
    } else {
        let dir = StateDir::create(&s.state_dir)?;
        let _lock = match args.coalesce {
            None => Lock::acquire(&dir, args.lock_wait)?,
            Some(delay) => match coalesced_lock(&dir, delay, args.lock_wait)? {
                Some(lock) => lock,
                None => {
                    let note = "coalesced: another `reap --coalesce` is waiting and its cycle \
                                starts after this call, so it covers this one";
                    msg::info(note);
                    if s.json() {
                        let report = CycleReport {
                            notes: vec![note.to_string()],
                            ..Default::default()
                        };
                        render(s, &report, out)?;
                    } else {
                        writeln!(out, "reap: {note}")?;
                    }
                    return Ok(ExitCode::OK);
                }
            },
        };
        if args.wait {
            wait_cycle(s, &dir, &opts, signaller.as_mut())?
        } else {
            cycle(s, Some(&dir), &opts, signaller.as_mut())?
        }
    };
    render(s, &report, out)?;
    Ok(ExitCode::OK)
}

/// `--coalesce DELAY`: the cycle lock for the one caller that takes the
/// queue slot (after DELAY, so a burst of hooks gathers behind it), or
/// `None` when another caller already holds the slot and will cover this one.
/// The slot is given up only once the cycle lock is held, and before the
/// process table is read: see [`QueueSlot`].
fn coalesced_lock(dir: &StateDir, delay: Duration, lock_wait: Duration) -> Result<Option<Lock>> {
    let Some(slot) = QueueSlot::try_take(dir)? else {
        return Ok(None);
    };
    std::thread::sleep(delay);
    let lock = Lock::acquire(dir, lock_wait)?;
    drop(slot);
    Ok(Some(lock))
}

/// `--wait`: TERM, wait up to grace for the victims to exit, KILL the rest,
/// wait briefly, then report what survived as unkillable. All under one lock.
fn wait_cycle(
    s: &Settings,
    dir: &StateDir,
    opts: &CycleOptions,
    signaller: &mut dyn Signaller,
) -> Result<CycleReport> {
    let first = cycle(s, Some(dir), opts, signaller)?;
    let mut all = first.actions.clone();
    let mut notes = first.notes.clone();
    let mut raises = first.oom_score_adj.clone();
    let mut deaths = first.deaths;
    let pending = |r: &CycleReport| -> Vec<ProcKey> {
        r.actions
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Signalled | Outcome::Waiting))
            .map(|a| ProcKey {
                pid: a.pid,
                start_time: a.start_time,
            })
            .collect()
    };
    let mut report = first;
    for phase_wait in [s.config.grace, Duration::from_secs(5)] {
        let keys = pending(&report);
        if keys.is_empty() {
            break;
        }
        wait_gone(s, &keys, phase_wait);
        report = cycle(s, Some(dir), opts, signaller)?;
        all.extend(report.actions.iter().cloned());
        notes.extend(report.notes.iter().cloned());
        raises.extend(report.oom_score_adj.iter().cloned());
        deaths += report.deaths;
    }
    Ok(CycleReport {
        dry_run: false,
        actions: escalation_steps(all),
        classes: report.classes,
        notes,
        oom_score_adj: raises,
        deaths,
        last_known: report.last_known,
        seen: None,
    })
}

/// The lines a `--wait` run reports, in order: every signal sent (SIGTERM,
/// then SIGKILL: the whole escalation, not only its end), and each
/// process's last line when it is not a signal (`unkillable`, `denied`);
/// `waiting` lines between the steps are dropped.
fn escalation_steps(all: Vec<ActionReport>) -> Vec<ActionReport> {
    let same = |a: &ActionReport, b: &ActionReport| a.pid == b.pid && a.start_time == b.start_time;
    let mut steps: Vec<ActionReport> = Vec::new();
    for (i, a) in all.iter().enumerate() {
        let last_of_its_process = !all[i + 1..].iter().any(|b| same(a, b));
        if a.signal.is_some() || last_of_its_process {
            steps.push(a.clone());
        }
    }
    steps
}

/// Polls until none of `keys` is alive (zombies count as gone) or `limit`.
fn wait_gone(s: &Settings, keys: &[ProcKey], limit: Duration) {
    let start = Instant::now();
    loop {
        let alive = keys.iter().any(|k| {
            matches!(crate::sys::proc::read_one(&s.proc_root, k.pid), Ok(Some(p)) if p.start_time == k.start_time && !p.is_zombie())
        });
        if !alive {
            return;
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            return;
        }
        std::thread::sleep((limit - elapsed).min(Duration::from_millis(50)));
    }
}

/// `oom_score_adj of pid 42 (claude) orphan: 0 -> 1000 (would-raise)`
pub(crate) fn raise_line(r: &Raise) -> String {
    format!(
        "oom_score_adj of pid {} ({}) {}: {} -> {} ({})",
        r.pid,
        table::escape(&r.comm),
        r.class,
        r.from.map_or("?".to_string(), |v| v.to_string()),
        r.to,
        table::escape(&r.outcome)
    )
}

/// How many actions ended in each outcome, in a fixed order.
pub(crate) fn outcome_counts(report: &CycleReport) -> Vec<(Outcome, usize)> {
    [
        Outcome::Signalled,
        Outcome::WouldSignal,
        Outcome::Waiting,
        Outcome::Gone,
        Outcome::Denied,
        Outcome::Changed,
        Outcome::Unkillable,
    ]
    .into_iter()
    .map(|o| (o, report.actions.iter().filter(|a| a.outcome == o).count()))
    .collect()
}

pub(crate) fn render(s: &Settings, report: &CycleReport, out: &mut dyn Write) -> Result<()> {
    // One write for a report of many lines, not one per line (stdout is
    // line-buffered).
    let mut out = std::io::BufWriter::new(out);
    render_to(s, report, &mut out)?;
    out.flush()?;
    Ok(())
}

fn render_to(s: &Settings, report: &CycleReport, out: &mut dyn Write) -> Result<()> {
    if s.json() {
        let mut summary = serde_json::Map::new();
        for (o, n) in outcome_counts(report) {
            summary.insert(o.as_str().to_string(), json!(n));
        }
        let classes: serde_json::Map<String, serde_json::Value> = report
            .classes
            .iter()
            .map(|(c, n)| (c.to_string(), json!(n)))
            .collect();
        summary.insert("classes".into(), json!(classes));
        return crate::cmd::print_json(
            out,
            &json!({"schema": 1, "dry_run": report.dry_run, "actions": report.actions,
                    "oom_score_adj": report.oom_score_adj,
                    "summary": summary, "notes": report.notes}),
        );
    }
    if !report.actions.is_empty() {
        let mut t = Table::new(&["SIGNAL", "PID", "CLASS", "COMMAND", "OUTCOME"]);
        for a in &report.actions {
            let outcome = match (a.outcome, a.grace_left_secs) {
                (Outcome::Waiting, Some(left)) => format!("waiting ({left}s of grace left)"),
                (Outcome::Unkillable, _) => format!("unkillable (state {})", a.state),
                (o, _) => o.as_str().to_string(),
            };
            t.row(vec![
                a.signal.map_or("-".to_string(), |s| s.as_str().to_string()),
                a.pid.to_string(),
                a.class.to_string(),
                table::clip(&a.cmdline, 48),
                outcome,
            ]);
        }
        write!(out, "{}", t.render())?;
    }
    for r in &report.oom_score_adj {
        writeln!(out, "{}", raise_line(r))?;
    }
    let counts: Vec<String> = outcome_counts(report)
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect();
    let classes: Vec<String> = report
        .classes
        .iter()
        .filter(|&&(_, n)| n > 0)
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    let total: usize = report.classes.iter().map(|(_, n)| n).sum();
    writeln!(
        out,
        "{}{}; {}{}",
        if report.dry_run {
            "dry run: "
        } else {
            "reap: "
        },
        if counts.is_empty() {
            "nothing to do".to_string()
        } else {
            counts.join(", ")
        },
        crate::core::health::plural(total, crate::core::classify::counted_noun(&report.classes)),
        if classes.is_empty() {
            String::new()
        } else {
            format!(": {}", classes.join(", "))
        }
    )?;
    if report.dry_run
        && report
            .actions
            .iter()
            .any(|a| a.outcome == Outcome::WouldSignal)
    {
        writeln!(out, "(nothing was sent; run without --dry-run to act)")?;
    }
    Ok(())
}
