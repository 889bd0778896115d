//! `stray watch --interval D`: a reap cycle and a PTY sample every D, in the
//! foreground (systemd `Type=simple`, launchd, containers).
//!
//! Cycles run one after another on this thread, so they never overlap; each
//! holds the cycle lock only while it runs, so `stray reap` or `stray check`
//! from cron can interleave. SIGTERM and SIGINT only set a flag: the cycle
//! in flight finishes and writes its state, then the loop exits 0. SIGHUP
//! (what daemon users send after editing a config) re-reads the config the
//! same way the command started (`-c`, `$STRAY_CONFIG`, …, then `--name`)
//! and runs a cycle with it at once; a config that does not load is
//! reported and the previous one kept, so a typo never stops the watchdog.
//! Sleeps are sliced so a signal is noticed within a tenth of a second.
//! Between full cycles a tick may be quiet (`cmd::quiet`): it reads only
//! what can change a verdict and runs the full cycle when anything did, and
//! at least every `[watch] full_every`. Kept from one tick to the next: the
//! cycle counter, the config, and what the last full cycle saw (a pidfd per
//! watched process, replaced at each full cycle), so memory and open fds
//! stay flat.
//!
//! Output: one line per cycle; with `--format json`, one compact JSON
//! document per cycle (JSON lines), since a run has no single document.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

#[cfg(target_os = "linux")]
use crate::cmd::deaths::{Senses, Woke};
use crate::cmd::reap::{cycle, CycleOptions, CycleReport};
use crate::config::Config;
use crate::core::classify::Class;
use crate::core::deaths::LastKnown;
use crate::core::escalation::Signaller;
use crate::core::health::Status;
use crate::core::pty::{self, PtySample};
use crate::exit::ExitCode;
use crate::settings::Watch;
use crate::store::audit::AuditLog;
use crate::store::state::{Lock, StateDir};
use crate::{render::msg, Settings, UsageError};

/// Elsewhere there is no tracer and no PSI: the loop only sleeps.
#[cfg(not(target_os = "linux"))]
mod senses {
    use std::time::Duration;

    use crate::core::deaths::LastKnown;
    use crate::store::audit::AuditLog;

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Woke {
        Pressure,
        Signals,
        Nothing,
    }

    pub(crate) struct Senses;

    impl Senses {
        pub(crate) fn open(_: &crate::Settings) -> Senses {
            Senses
        }
        pub(crate) fn wait(&mut self, timeout: Duration) -> Woke {
            std::thread::sleep(timeout);
            Woke::Nothing
        }
        pub(crate) fn drain(&mut self, _: &crate::Settings, _: &LastKnown, _: &AuditLog) {}
        pub(crate) fn close(self) {}
    }
}
#[cfg(not(target_os = "linux"))]
use senses::{Senses, Woke};

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_reload_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RELOAD.store(true, Ordering::SeqCst);
}

fn install_handlers() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let handlers = [
        (
            Signal::SIGTERM,
            on_stop_signal as extern "C" fn(libc::c_int),
        ),
        (Signal::SIGINT, on_stop_signal),
        (Signal::SIGHUP, on_reload_signal),
    ];
    for (sig, handler) in handlers {
        let action = SigAction::new(
            SigHandler::Handler(handler),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: each handler only stores to an AtomicBool, which is
        // async-signal-safe; no previous handler is relied upon.
        unsafe { sigaction(sig, &action) }
            .map_err(|e| anyhow::anyhow!("cannot install a {sig} handler: {e}"))?;
    }
    Ok(())
}

/// SIGHUP: the config as the command would load it now, or the reason it
/// cannot be used (then the running one stays).
fn reload_settings(s: &mut Settings, reload: &dyn Fn() -> Result<Config>) {
    let from = |c: &Config| {
        c.source
            .as_ref()
            .map_or("built-in defaults".to_string(), |p| p.display().to_string())
    };
    match reload() {
        Ok(config) => {
            msg::notice(&format!(
                "SIGHUP: reloaded the config from {}",
                from(&config)
            ));
            // The audit log may be configured: resolved again with it.
            s.audit_log = s
                .env
                .audit_log(config.audit_log.as_deref(), crate::settings::euid());
            s.config = config;
        }
        Err(e) => msg::error(&format!(
            "SIGHUP: config not reloaded, keeping the previous one ({}): {e:#}",
            from(&s.config)
        )),
    }
}

/// What one cycle did, for the per-cycle line.
#[derive(Debug, Default)]
pub(crate) struct CycleLine {
    pub n: u64,
    pub ts: String,
    pub reap: Option<CycleReport>,
    pub pty: Option<(u64, u64, f64, Status)>,
    pub notes: Vec<String>,
    /// Memory pressure started this cycle.
    pub pressure: bool,
    /// A quiet tick: no full cycle ran (see `cmd::quiet`).
    pub quiet: bool,
}

pub(crate) fn watch(
    s: &Settings,
    args: &Watch,
    reload: &dyn Fn() -> Result<Config>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if args.interval.is_zero() {
        return Err(UsageError("--interval must be more than 0".into()).into());
    }
    install_handlers()?;
    let mut s = s.clone();
    let dir = StateDir::create(&s.state_dir)?;
    let mut signaller = crate::sys::signal::live(&s.proc_root, s.pidfd);
    let lock_wait = args.interval.min(Duration::from_secs(10));
    msg::info(&format!(
        "watching every {}; SIGHUP reloads the config; SIGTERM or SIGINT stops after the current cycle",
        humantime::format_duration(args.interval)
    ));
    // Opened once for the whole run; dropped (tracefs instance removed)
    // when the loop ends, SIGTERM included.
    let mut senses = Senses::open(&s);
    let log = AuditLog::new(s.audit_log.clone());
    let mut last_known = LastKnown::new();
    let mut pressure = false;
    let mut n = 0u64;
    let mut quiet = crate::cmd::quiet::QuietTicks::default();
    while !STOP.load(Ordering::SeqCst) {
        if RELOAD.swap(false, Ordering::SeqCst) {
            reload_settings(&mut s, reload);
            quiet.reset();
        }
        n += 1;
        let started = Instant::now();
        let opts = CycleOptions {
            dry_run: false,
            pressure: std::mem::take(&mut pressure),
            quiet_ticks: true,
        };
        // Memory pressure always gets a full cycle: it is what may signal.
        let quiet_classes = if opts.pressure { None } else { quiet.tick(&s) };
        let mut line = match quiet_classes {
            Some(classes) => quiet_line(&s, &dir, lock_wait, n, classes),
            None => {
                quiet.before_full(&s);
                let line = run_cycle(&s, &dir, &opts, signaller.as_mut(), lock_wait, n);
                quiet.after_full(&s, line.reap.as_ref());
                line
            }
        };
        if let Some(r) = line.reap.as_mut() {
            last_known = std::mem::take(&mut r.last_known);
        }
        for note in &line.notes {
            msg::warn(note);
        }
        let text = if s.json() {
            format!("{}\n", serde_json::to_string(&to_json(&line))?)
        } else {
            render_line(&line)
        };
        out.write_all(text.as_bytes())?;
        out.flush()?;
        // A reload cuts the wait short: the new config acts at once; so
        // does memory pressure. Signals traced meanwhile are recorded, also
        // when the cycle overran the interval (then the trigger and the
        // pipe are still looked at once: a loaded host must not starve them).
        loop {
            let left = args.interval.saturating_sub(started.elapsed());
            let woke = senses.wait(left.min(Duration::from_millis(100)));
            // Every time, not only when poll says so: whether poll wakes for
            // a single trace event depends on the kernel.
            senses.drain(&s, &last_known, &log);
            if woke == Woke::Pressure {
                pressure = true;
                break;
            }
            if STOP.load(Ordering::SeqCst)
                || RELOAD.load(Ordering::SeqCst)
                || started.elapsed() >= args.interval
            {
                break;
            }
        }
    }
    senses.drain(&s, &last_known, &log);
    senses.close();
    msg::info(&format!(
        "stopped after {}",
        crate::core::health::plural(n as usize, "cycle")
    ));
    Ok(ExitCode::OK)
}

/// One cycle under the lock: reap, then a PTY sample into the same state.
fn run_cycle(
    s: &Settings,
    dir: &StateDir,
    opts: &CycleOptions,
    signaller: &mut dyn Signaller,
    lock_wait: Duration,
    n: u64,
) -> CycleLine {
    let mut line = CycleLine {
        n,
        ts: crate::store::audit::now_rfc3339(),
        pressure: opts.pressure,
        ..CycleLine::default()
    };
    let _lock = match Lock::acquire(dir, lock_wait) {
        Ok(l) => l,
        Err(e) => {
            line.notes.push(format!("cycle skipped: {e:#}"));
            return line;
        }
    };
    match cycle(s, Some(dir), opts, signaller) {
        Ok(r) => line.reap = Some(r),
        Err(e) => line.notes.push(format!("reap: {e:#}")),
    }
    match sample(s, dir, true) {
        Ok(p) => line.pty = Some(p),
        Err(e) => line.notes.push(format!("pty: {e:#}")),
    }
    line
}

/// A quiet tick (`cmd::quiet`): the last full cycle's classes, still
/// true, and a PTY sample (the count only) under the lock.
fn quiet_line(
    s: &Settings,
    dir: &StateDir,
    lock_wait: Duration,
    n: u64,
    classes: Vec<(Class, usize)>,
) -> CycleLine {
    let mut line = CycleLine {
        n,
        ts: crate::store::audit::now_rfc3339(),
        reap: Some(CycleReport {
            classes,
            ..CycleReport::default()
        }),
        quiet: true,
        ..CycleLine::default()
    };
    match Lock::acquire(dir, lock_wait) {
        Ok(_lock) => match sample(s, dir, false) {
            Ok(p) => line.pty = Some(p),
            Err(e) => line.notes.push(format!("pty: {e:#}")),
        },
        Err(e) => line.notes.push(format!("pty sample skipped: {e:#}")),
    }
    line
}

/// A PTY sample into the state. `holders`: also scan every process's fds
/// for the highest index held (a full cycle's cost; quiet ticks skip it).
pub(crate) fn sample(
    s: &Settings,
    dir: &StateDir,
    holders: bool,
) -> Result<(u64, u64, f64, Status)> {
    let counts = crate::sys::pty::counts(&s.proc_root)?;
    let highest = holders
        .then(|| crate::sys::pty::holders(&s.proc_root).ok())
        .flatten()
        .and_then(|h| h.highest_index());
    crate::cmd::pty::record_into(
        dir,
        PtySample {
            t: crate::sys::proc::now_boottime(),
            used: counts.used,
            highest,
        },
    )?;
    let pct = counts.percent();
    Ok((
        counts.used,
        counts.max,
        pct,
        pty::status(pct, s.config.pty_warn, s.config.pty_crit),
    ))
}

/// `2026-01-01T00:00:00Z cycle 3: reap: 1 signalled; 4 agents; pty 12/4096 (0.3%) ok`
pub(crate) fn render_line(l: &CycleLine) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &l.reap {
        let counts: Vec<String> = crate::cmd::reap::outcome_counts(r)
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(o, n)| format!("{n} {}", o.as_str()))
            .collect();
        let total: usize = r.classes.iter().map(|(_, n)| n).sum();
        parts.push(format!(
            "reap: {}; {}",
            if counts.is_empty() {
                "nothing to do".to_string()
            } else {
                counts.join(", ")
            },
            crate::core::health::plural(total, crate::core::classify::counted_noun(&r.classes))
        ));
    }
    if let Some((used, max, pct, st)) = l.pty {
        parts.push(format!("pty {used}/{max} ({pct:.1}%) {st}"));
    }
    if parts.is_empty() {
        parts.push("nothing done".into());
    }
    let why = if l.pressure {
        format!(" ({})", crate::cmd::reap::PRESSURE_TRIGGER)
    } else {
        String::new()
    };
    let mut out = format!("{} cycle {}{why}: {}", l.ts, l.n, parts.join("; "));
    if !l.notes.is_empty() {
        out.push_str(&format!(
            " ({} on stderr)",
            crate::core::health::plural(l.notes.len(), "note")
        ));
    }
    out.push('\n');
    out
}

pub(crate) fn to_json(l: &CycleLine) -> serde_json::Value {
    json!({
        "schema": 1,
        "ts": l.ts,
        "cycle": l.n,
        "trigger": l.pressure.then_some(crate::cmd::reap::PRESSURE_TRIGGER),
        "reap": l.reap.as_ref().map(|r| {
            let summary: serde_json::Map<String, serde_json::Value> = crate::cmd::reap::outcome_counts(r)
                .into_iter()
                .map(|(o, n)| (o.as_str().to_string(), json!(n)))
                .collect();
            let classes: serde_json::Map<String, serde_json::Value> = r
                .classes
                .iter()
                .map(|(c, n)| (c.to_string(), json!(n)))
                .collect();
            json!({"actions": r.actions, "summary": summary, "classes": classes})
        }),
        "pty": l.pty.map(|(used, max, pct, st)| json!({
            "used": used, "max": max, "percent": (pct * 100.0).round() / 100.0, "status": st,
        })),
        "notes": l.notes,
        "quiet": l.quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_snapshot() {
        let l = CycleLine {
            n: 3,
            ts: "2026-01-01T00:00:00Z".into(),
            reap: Some(CycleReport::default()),
            pty: Some((12, 4096, 0.29, Status::Ok)),
            notes: vec![],
            pressure: false,
            quiet: false,
        };
        assert_eq!(
            render_line(&l),
            "2026-01-01T00:00:00Z cycle 3: reap: nothing to do; 0 agents; pty 12/4096 (0.3%) ok\n"
        );
        let v = to_json(&l);
        assert_eq!(v["cycle"], 3);
        assert_eq!(v["pty"]["status"], "ok");
        let skipped = CycleLine {
            n: 4,
            ts: "t".into(),
            notes: vec!["cycle skipped: busy".into()],
            ..CycleLine::default()
        };
        assert_eq!(
            render_line(&skipped),
            "t cycle 4: nothing done (1 note on stderr)\n"
        );
        assert_eq!(to_json(&skipped)["reap"], serde_json::Value::Null);
    }
}
