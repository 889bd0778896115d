//! `stray pty`: PTY-slot usage against thresholds, the processes holding
//! PTY masters (most first), and churn from the samples kept in the state.
//!
//! Each run records one sample under the cycle lock; when another cycle
//! holds the lock the sample is skipped (and said so), never waited for.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::core::health::Status;
use crate::core::pty::{self, Counts, HolderScan, PtySample};
use crate::exit::ExitCode;
use crate::render::table::{self, Table};
use crate::settings::Pty;
use crate::store::state::{Lock, State, StateDir};
use crate::{render::msg, Settings, UsageError};

/// How many holders the human table shows (JSON lists every one).
const TOP: usize = 10;

/// Everything `stray pty` reports.
#[derive(Debug, Clone)]
pub(crate) struct PtyReport {
    pub counts: Counts,
    pub percent: f64,
    pub status: Status,
    pub warn: u8,
    pub crit: u8,
    pub scan: HolderScan,
    pub rate_per_hour: Option<f64>,
    pub exhaustion_eta_secs: Option<f64>,
    /// Samples the churn figures are based on.
    pub samples: usize,
    pub notes: Vec<String>,
}

/// Resolves `--warn`/`--crit` against the config; warn above crit is a
/// usage error.
pub(crate) fn thresholds(s: &Settings, warn: Option<u8>, crit: Option<u8>) -> Result<(u8, u8)> {
    let warn = warn.unwrap_or(s.config.pty_warn);
    let crit = crit.unwrap_or(s.config.pty_crit);
    if warn > crit {
        return Err(
            UsageError(format!("--warn ({warn}) must not be above --crit ({crit})")).into(),
        );
    }
    Ok((warn, crit))
}

/// Reads the counters and holders; records a sample in the state when
/// `record` is set (skipped, with a note, when the lock is busy or the state
/// dir is unusable), otherwise only reads earlier samples.
pub(crate) fn gather(s: &Settings, warn: u8, crit: u8, record: bool) -> Result<PtyReport> {
    let counts = crate::sys::pty::counts(&s.proc_root)?;
    let scan = crate::sys::pty::holders(&s.proc_root)?;
    let now = crate::sys::proc::now_boottime();
    let sample = PtySample {
        t: now,
        used: counts.used,
        highest: scan.highest_index(),
    };
    let mut notes = Vec::new();
    if let Some(why) = &scan.unsupported {
        notes.push(why.clone());
    }
    if scan.unreadable > 0 {
        notes.push(format!(
            "the fds of {} could not be read (other users'); run as root to see every holder",
            crate::core::health::plural(scan.unreadable as usize, "process")
        ));
    }
    let samples = if record {
        match record_sample(s, sample) {
            Ok(v) => v,
            Err(why) => {
                notes.push(format!("sample not recorded: {why}"));
                let mut v = earlier_samples(s);
                pty::record(&mut v, sample);
                v
            }
        }
    } else {
        let mut v = earlier_samples(s);
        pty::record(&mut v, sample);
        v
    };
    let rate = pty::rate_per_hour(&samples);
    let percent = counts.percent();
    Ok(PtyReport {
        counts,
        percent,
        status: pty::status(percent, warn, crit),
        warn,
        crit,
        scan,
        rate_per_hour: rate,
        exhaustion_eta_secs: pty::exhaustion_eta_secs(counts.used, counts.max, rate),
        samples: samples.len(),
        notes,
    })
}

/// Appends `sample` to the state under the lock; returns the history.
fn record_sample(s: &Settings, sample: PtySample) -> std::result::Result<Vec<PtySample>, String> {
    let dir = StateDir::create(&s.state_dir).map_err(|e| format!("{e:#}"))?;
    let _lock = Lock::acquire(&dir, Duration::from_millis(500)).map_err(|e| format!("{e:#}"))?;
    record_into(&dir, sample).map_err(|e| format!("{e:#}"))
}

/// Adds one sample to the state in `dir` and saves it; the caller holds the
/// cycle lock. Returns the samples kept.
pub(crate) fn record_into(dir: &StateDir, sample: PtySample) -> Result<Vec<PtySample>> {
    let boot_id = crate::sys::proc::current_boot_id();
    let loaded = State::load(dir, boot_id.as_deref(), true)?;
    for n in &loaded.notes {
        msg::warn(&n.to_string());
    }
    let mut state = loaded.state;
    pty::record(&mut state.pty_samples, sample);
    state.save(dir)?;
    Ok(state.pty_samples)
}

/// Samples from the state, read-only (none when there is no usable state).
pub(crate) fn earlier_samples(s: &Settings) -> Vec<PtySample> {
    let Ok(Some(dir)) = StateDir::open(&s.state_dir) else {
        return Vec::new();
    };
    let boot_id = crate::sys::proc::current_boot_id();
    State::load(&dir, boot_id.as_deref(), false)
        .map(|l| l.state.pty_samples)
        .unwrap_or_default()
}

pub(crate) fn pty(s: &Settings, args: &Pty, out: &mut dyn Write) -> Result<ExitCode> {
    let (warn, crit) = thresholds(s, args.warn, args.crit)?;
    let r = gather(s, warn, crit, true)?;
    for n in &r.notes {
        msg::warn(n);
    }
    if s.json() {
        crate::cmd::print_json(out, &to_json(&r))?;
    } else {
        out.write_all(render_human(&r).as_bytes())?;
    }
    Ok(match r.status {
        Status::Ok => ExitCode::OK,
        Status::Warning => ExitCode::WARNING,
        _ => ExitCode::CRITICAL,
    })
}

pub(crate) fn to_json(r: &PtyReport) -> serde_json::Value {
    json!({
        "schema": 1,
        "used": r.counts.used,
        "max": r.counts.max,
        "reserve": r.counts.reserve,
        "percent": round2(r.percent),
        "status": r.status,
        "warn": r.warn,
        "crit": r.crit,
        "holders": r.scan.holders,
        "unreadable_processes": r.scan.unreadable,
        "highest_index": r.scan.highest_index(),
        "rate_per_hour": r.rate_per_hour.map(round2),
        "exhaustion_eta_secs": r.exhaustion_eta_secs.map(f64::round),
        "samples": r.samples,
        "notes": r.notes,
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The human report: one status line, a churn line, the top holders.
pub(crate) fn render_human(r: &PtyReport) -> String {
    let mut out = format!(
        "PTY slots: {} of {} in use ({:.1}%){}: {} (warn at {}%, crit at {}%)\n",
        r.counts.used,
        r.counts.max,
        r.percent,
        r.counts
            .reserve
            .map(|v| format!(", reserve {v}"))
            .unwrap_or_default(),
        r.status,
        r.warn,
        r.crit
    );
    out.push_str(&match (r.rate_per_hour, r.exhaustion_eta_secs) {
        (None, _) => format!(
            "churn: not enough samples yet ({} of 2)\n",
            r.samples.min(1)
        ),
        (Some(rate), None) => {
            format!(
                "churn: {rate:+.1}/h over {}; not rising\n",
                crate::core::health::plural(r.samples, "sample")
            )
        }
        (Some(rate), Some(eta)) => format!(
            "churn: {rate:+.1}/h over {}; pool exhausted in ~{} at this rate\n",
            crate::core::health::plural(r.samples, "sample"),
            table::age(eta)
        ),
    });
    if r.scan.holders.is_empty() {
        if r.scan.unsupported.is_none() {
            out.push_str("no readable process holds a PTY master\n");
        }
        return out;
    }
    let mut t = Table::new(&["MASTERS", "PID", "COMM", "COMMAND"]);
    for h in r.scan.holders.iter().take(TOP) {
        t.row(vec![
            h.masters.to_string(),
            h.pid.to_string(),
            table::clip(&h.comm, 16),
            table::clip(&h.cmdline, 60),
        ]);
    }
    out.push_str(&t.render());
    let total: u32 = r.scan.holders.iter().map(|h| h.masters).sum();
    let more = r.scan.holders.len().saturating_sub(TOP);
    out.push_str(&format!(
        "{}, {}{}\n",
        crate::core::health::plural(r.scan.holders.len(), "holder"),
        crate::core::health::plural(total as usize, "master"),
        if more > 0 {
            format!("; {more} more not shown (--format json lists all)")
        } else {
            String::new()
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pty::Holder;

    fn report(holders: usize) -> PtyReport {
        PtyReport {
            counts: Counts {
                used: 600,
                max: 1000,
                reserve: Some(100),
            },
            percent: 60.0,
            status: Status::Ok,
            warn: 75,
            crit: 90,
            scan: HolderScan {
                holders: (0..holders)
                    .map(|i| Holder {
                        pid: 100 + i as i32,
                        comm: if i == 0 {
                            "evil\x1b[2J".into()
                        } else {
                            "tmux: server".into()
                        },
                        masters: 500 - i as u32,
                        indexes: vec![i as u32],
                        cmdline: "x".into(),
                    })
                    .collect(),
                ..HolderScan::default()
            },
            rate_per_hour: Some(40.0),
            exhaustion_eta_secs: Some(36_000.0),
            samples: 5,
            notes: vec![],
        }
    }

    #[test]
    fn human_snapshot_shows_the_top_and_escapes() {
        let text = render_human(&report(12));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "PTY slots: 600 of 1000 in use (60.0%), reserve 100: ok (warn at 75%, crit at 90%)"
        );
        assert_eq!(
            lines[1],
            "churn: +40.0/h over 5 samples; pool exhausted in ~10h00m at this rate"
        );
        assert_eq!(lines[2], "MASTERS  PID  COMM           COMMAND");
        assert_eq!(lines[3], "500      100  evil\\u{1b}[2J  x");
        assert_eq!(lines.len(), 3 + TOP + 1);
        assert!(lines.last().unwrap().starts_with("12 holders, "), "{text}");
        assert!(lines.last().unwrap().contains("2 more not shown"));
    }

    #[test]
    fn json_lists_every_holder() {
        let v = to_json(&report(12));
        assert_eq!(v["holders"].as_array().unwrap().len(), 12);
        assert_eq!(v["holders"][0]["masters"], 500);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["rate_per_hour"], 40.0);
        assert_eq!(v["exhaustion_eta_secs"], 36_000.0);
        assert_eq!(v["highest_index"], 11);
    }
}
