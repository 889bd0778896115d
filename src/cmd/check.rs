//! `stray check`: one health check for monitoring systems.
//!
//! [`gather`] reads everything (PTY counters, one survey, the state, tmux
//! sockets) into plain [`Gathered`] data; `core::check::build` turns that
//! into checks, perfdata and metrics; `render::health` renders them as
//! Nagios, JSON or Prometheus text. Nothing here signals or prunes; the
//! writes are `--textfile-dir DIR/stray.prom`, the `stray sockets` sample
//! in the state (so that periodic checks detect stalled sockets by
//! themselves), and the OOM kills the kernel log reports since the last
//! cycle (audit lines and the kernel-log position in the state), like any
//! cycle.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::core::check::{
    agent_facts, build, refresh_status_metrics, DeathFacts, DeathRecord, FamilyFacts, FamilyLimits,
    Gathered, Limits, Named, PtyFacts, StateFacts, TmuxFacts,
};
use crate::core::health::{Item, Status};
use crate::core::pty;
use crate::exit::ExitCode;
use crate::render::health;
use crate::settings::{Check, Format};
use crate::store::state::{self, Lock, Note, State, StateDir};
use crate::sys::safefs;
use crate::Settings;

/// A corrupt state moved aside this recently is a warning.
const CORRUPT_RECENT: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn check(s: &Settings, args: &Check, out: &mut dyn Write) -> Result<ExitCode> {
    let g = gather(s);
    let mut report = build(&g);
    // Written before anything is printed, so a failure shows in the status
    // that is printed (as UNKNOWN) rather than contradicting it.
    if let Some(dir) = &args.textfile_dir {
        let path = dir.join("stray.prom");
        if let Err(e) = write_textfile(dir, health::prometheus(&report).as_bytes()) {
            let why = format!("cannot write {}: {e}", path.display());
            crate::render::msg::error(&why);
            report
                .items
                .push(Item::new("textfile", Status::Unknown, None, why));
            refresh_status_metrics(&mut report);
        }
    }
    match s.format {
        Format::Json => crate::cmd::print_json(out, &health::json(&report))?,
        Format::Prometheus => out.write_all(health::prometheus(&report).as_bytes())?,
        Format::Human | Format::Nagios => out.write_all(health::nagios(&report).as_bytes())?,
    }
    out.flush()?;
    Ok(ExitCode(report.status().code()))
}

/// Reads everything the checks need. Failures become `Err(message)` in
/// the data (an UNKNOWN check), never an early return.
pub(crate) fn gather(s: &Settings) -> Gathered {
    // First, so the records it adds count below.
    let unread = record_oom_kills(s);
    let me = nix::unistd::geteuid().as_raw();
    let boot_id = crate::sys::proc::current_boot_id();
    let state_dir = StateDir::open(&s.state_dir);
    let loaded_state: Option<State> = match &state_dir {
        Ok(Some(d)) => State::load(d, boot_id.as_deref(), false)
            .ok()
            .map(|l| l.state),
        _ => None,
    };
    // One pass over /proc serves the agent checks and tmux discovery.
    let memory = loaded_state
        .as_ref()
        .map(|st| st.lineage.clone())
        .unwrap_or_default();
    let sv = crate::sys::survey::survey(&s.config, &s.proc_root, false, &memory)
        .map_err(|e| format!("{e:#}"));
    Gathered {
        pty: gather_pty(s, loaded_state.as_ref()),
        agents: sv.as_ref().map_err(Clone::clone).map(|sv| {
            let escalation = loaded_state.as_ref().map(|st| st.reap.as_slice());
            let families: Vec<(i32, u64, u64)> = sv
                .family
                .footprints
                .iter()
                .map(|(k, fp)| (k.pid, fp.processes, fp.rss_bytes))
                .collect();
            let family = FamilyFacts::new(
                &sv.table,
                &families,
                &FamilyLimits {
                    processes_warn: s.config.family_processes_warn,
                    processes_crit: s.config.family_processes_crit,
                    rss_warn: s.config.family_rss_warn,
                    rss_crit: s.config.family_rss_crit,
                },
            );
            let mut facts = agent_facts(
                &sv.table,
                &sv.verdicts,
                escalation.unwrap_or_default(),
                &Limits {
                    rss_warn: s.config.rss_warn,
                    rss_crit: s.config.rss_crit,
                    grace_secs: s.config.grace.as_secs_f64(),
                },
            );
            facts.family = Some(family);
            facts
        }),
        state: gather_state(&s.state_dir, &state_dir),
        tmux: {
            let all = match &sv {
                Ok(sv) => crate::sys::tmux::discover(
                    &s.proc_root,
                    &sv.table,
                    &s.env.tmux_tmpdir(),
                    me,
                    false,
                ),
                Err(_) => Vec::new(),
            };
            TmuxFacts {
                total: all.len(),
                dead: all
                    .into_iter()
                    .filter(|x| !x.alive)
                    .map(|x| x.socket)
                    .collect(),
            }
        },
        // Judged against the previous stored sample (no sleeping); this also
        // stores a new one, so a periodic check detects stalls by itself.
        stalled_sockets: Some(
            crate::cmd::sockets::check_summary(s)
                .map(|(n, _)| n as u64)
                .map_err(|e| format!("{e:#}")),
        ),
        now_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        deaths: gather_deaths(s, unread),
    }
}

/// How long `check` waits for a running cycle before it leaves the kernel
/// log to that cycle.
const OOM_LOCK_WAIT: Duration = Duration::from_secs(1);

/// Reads the OOM kills since the last cycle into the audit log, as a cycle
/// does, when a state dir exists and its lock is free (a running cycle
/// reads them itself). Returns why the kernel log cannot be read, if so.
fn record_oom_kills(s: &Settings) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let dir = StateDir::open(&s.state_dir).ok().flatten()?;
        let _lock = Lock::acquire(&dir, OOM_LOCK_WAIT).ok()?;
        let boot_id = crate::sys::proc::current_boot_id();
        let loaded = State::load(&dir, boot_id.as_deref(), false).ok()?;
        if !loaded.notes.is_empty() {
            // A state that is not usable is the next cycle's to set aside.
            return None;
        }
        let mut st = loaded.state;
        let events = match crate::cmd::deaths::oom_kills(
            &mut st,
            boot_id.as_deref(),
            &s.config.matching.names,
        ) {
            Ok(e) => e,
            Err(why) => return Some(why),
        };
        for e in &events {
            crate::render::msg::notice(&e.line());
        }
        let log = crate::store::audit::AuditLog::new(s.audit_log.clone());
        if let Err(e) = log.append(&events) {
            crate::render::msg::error(&format!("{e:#}"));
            return None;
        }
        if let Err(e) = st.save(&dir) {
            crate::render::msg::error(&format!("{e:#}"));
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = s;
        None
    }
}

/// The deaths in the audit log.
fn gather_deaths(s: &Settings, unread: Option<String>) -> std::result::Result<DeathFacts, String> {
    let (events, _) = crate::store::audit::read_all(&s.audit_log).map_err(|e| format!("{e:#}"))?;
    let records = events
        .iter()
        .filter(|e| e.is_death())
        .map(|e| DeathRecord {
            oom: e.event == crate::store::audit::EVENT_OOM_KILL,
            victim: Named {
                pid: e.pid,
                comm: e.comm.clone(),
            },
            class: e.class_or_unknown().to_string(),
            at_unix: humantime::parse_rfc3339_weak(&e.ts)
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64()),
        })
        .collect();
    Ok(DeathFacts {
        records,
        oom_window_secs: s.config.oom_window.as_secs_f64(),
        unread,
    })
}

fn gather_pty(s: &Settings, state: Option<&State>) -> std::result::Result<PtyFacts, String> {
    let counts = crate::sys::pty::counts(&s.proc_root).map_err(|e| e.to_string())?;
    let (warn, crit) = (s.config.pty_warn, s.config.pty_crit);
    let mut samples = state.map(|st| st.pty_samples.clone()).unwrap_or_default();
    pty::record(
        &mut samples,
        pty::PtySample {
            t: crate::sys::proc::now_boottime(),
            used: counts.used,
            highest: None,
        },
    );
    let rate = pty::rate_per_hour(&samples);
    let top_holder = if pty::status(counts.percent(), warn, crit) != Status::Ok {
        crate::sys::pty::holders(&s.proc_root)
            .ok()
            .and_then(|h| h.holders.into_iter().next())
            .map(|h| (h.pid, h.comm, h.masters))
    } else {
        None
    };
    Ok(PtyFacts {
        counts,
        warn,
        crit,
        rate_per_hour: rate,
        exhaustion_eta_secs: pty::exhaustion_eta_secs(counts.used, counts.max, rate),
        top_holder,
    })
}

fn gather_state(path: &Path, opened: &Result<Option<StateDir>>) -> StateFacts {
    let mut f = StateFacts {
        dir: path.to_path_buf(),
        ..StateFacts::default()
    };
    let dir = match opened {
        Err(e) => {
            f.unusable = Some(format!("{e:#}"));
            return f;
        }
        Ok(None) => return f,
        Ok(Some(d)) => d,
    };
    f.exists = true;
    let boot_id = crate::sys::proc::current_boot_id();
    if let Ok(l) = State::load(dir, boot_id.as_deref(), false) {
        f.corrupt_now = l
            .notes
            .iter()
            .find(|n| matches!(n, Note::Corrupt { .. }))
            .map(ToString::to_string);
    }
    let now = SystemTime::now();
    let age = |t: Option<SystemTime>| t.and_then(|t| now.duration_since(t).ok());
    f.corrupt_recent = state::quarantined(dir)
        .into_iter()
        .filter(|(_, mtime)| age(*mtime).is_some_and(|a| a <= CORRUPT_RECENT))
        .map(|(path, _)| path)
        .collect();
    f.corrupt_recent.sort();
    f.lock_held = Lock::probe(dir).map(|held| {
        (
            age(held.since).map_or(0.0, |d| d.as_secs_f64()),
            held.holder,
        )
    });
    f
}

/// `DIR/stray.prom` for the node_exporter textfile collector, replaced
/// atomically (the temp name starts with a dot: the collector reads only
/// `*.prom`). Mode 0644: the exporter usually runs as another user. The
/// directory is the user's choice: a symlink to it is followed.
fn write_textfile(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = safefs::Dir::open(&std::fs::canonicalize(dir)?)?;
    dir.write_atomic("stray.prom", bytes, 0o644)
}
