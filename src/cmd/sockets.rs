//! `stray sockets [--stall D] [--sample D] [--destroy]`: ESTABLISHED TCP
//! sockets whose peer stopped acknowledging, and (opt-in) SOCK_DESTROY for
//! them. The judging is in [`crate::core::sockets`]; this file runs it, destroys,
//! writes the audit log and renders.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

#[cfg(target_os = "linux")]
use crate::core::sockets::{in_scope, judge, Judged, Observation, Stored};
use crate::core::sockets::{DestroyOutcome, Report};
use crate::exit::ExitCode;
use crate::render::msg;
use crate::render::table::{self, Table};
use crate::settings::Sockets;
use crate::Settings;
#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
pub(crate) fn sockets(s: &Settings, a: &Sockets, out: &mut dyn Write) -> Result<ExitCode> {
    let stall = a.stall.unwrap_or(s.config.stall);
    let report = match a.sample {
        Some(gap) => sampled_run(s, stall, gap)?,
        None => stored_run(s, stall)?,
    };
    for n in &report.notes {
        msg::warn(n);
    }
    let destroyed = if a.destroy {
        Some(destroy_stalled(s, &report))
    } else {
        None
    };
    render(s, &report, destroyed.as_deref(), out)?;
    Ok(ExitCode::OK)
}

/// macOS: no sock_diag. Say so on stderr and report nothing, so shared
/// health-check scripts keep working.
#[cfg(not(target_os = "linux"))]
pub(crate) fn sockets(s: &Settings, a: &Sockets, out: &mut dyn Write) -> Result<ExitCode> {
    msg::warn("stray sockets is Linux-only (it needs NETLINK_SOCK_DIAG); nothing to report here");
    let report = Report {
        stall: a.stall.unwrap_or(s.config.stall),
        ..Report::default()
    };
    render(s, &report, None, out)?;
    Ok(ExitCode::OK)
}

/// Destroys every stalled socket in `report`; returns, by position in
/// `report.judged`, what each attempt came to. Stops at the first
/// "unsupported" answer: the kernel cannot do it for any socket.
#[cfg(target_os = "linux")]
fn destroy_stalled(s: &Settings, report: &Report) -> Vec<Option<DestroyOutcome>> {
    use crate::store::audit::{self, AuditLog, Event};

    let mut outcomes = vec![None; report.judged.len()];
    let mut events = Vec::new();
    let mut unsupported = false;
    for (i, j) in report.judged.iter().enumerate().filter(|(_, j)| j.stalled) {
        if unsupported {
            outcomes[i] = Some(DestroyOutcome::Unsupported);
            continue;
        }
        let outcome = match crate::sys::inet_diag::destroy(&j.obs) {
            Ok(errno) => {
                let o = crate::sys::inet_diag::destroy_outcome(errno);
                if o == DestroyOutcome::Failed {
                    msg::error(&format!(
                        "SOCK_DESTROY {} -> {}: {}",
                        j.obs.local,
                        j.obs.remote,
                        std::io::Error::from_raw_os_error(errno)
                    ));
                }
                o
            }
            Err(e) => {
                msg::error(&format!(
                    "SOCK_DESTROY {} -> {}: {e}",
                    j.obs.local, j.obs.remote
                ));
                DestroyOutcome::Failed
            }
        };
        if outcome == DestroyOutcome::Unsupported {
            unsupported = true;
            msg::warn(
                "SOCK_DESTROY is not supported by this kernel (needs CONFIG_INET_DIAG_DESTROY); \
                 no socket was closed",
            );
        }
        outcomes[i] = Some(outcome);
        let owner = report.owner(j);
        events.push(Event {
            event: audit::EVENT_SOCKET_DESTROY.into(),
            ts: audit::now_rfc3339(),
            pid: owner.map_or(0, |o| o.pid),
            start_time: owner.map(|o| o.start_time),
            uid: Some(j.obs.uid),
            comm: owner.map(|o| o.comm.clone()).unwrap_or_default(),
            cmdline: format!("{} -> {}", j.obs.local, j.obs.remote),
            class: Some("stalled-socket".to_string()),
            rule: format!(
                "no ack for {} (stall {})",
                table::age(j.stalled_secs),
                humantime::format_duration(report.stall)
            ),
            signal: None,
            outcome: outcome.as_str().to_string(),
            ..Event::default()
        });
    }
    if outcomes.contains(&Some(DestroyOutcome::Denied)) {
        msg::warn("SOCK_DESTROY needs CAP_NET_ADMIN (run as root); denied sockets were left open");
    }
    for e in &events {
        msg::warn(&e.line());
    }
    let log = AuditLog::new(s.audit_log.clone());
    if let Err(e) = log.append(&events) {
        msg::error(&format!("audit log not written: {e:#}"));
    }
    outcomes
}

fn render(
    s: &Settings,
    r: &Report,
    destroyed: Option<&[Option<DestroyOutcome>]>,
    out: &mut dyn Write,
) -> Result<()> {
    let destroy_of = |i: usize| destroyed.and_then(|d| d.get(i).copied().flatten());
    // Listed: sockets with queued data (the only ones that can stall).
    let listed: Vec<usize> = (0..r.judged.len())
        .filter(|&i| r.judged[i].obs.send_queue > 0)
        .collect();
    let stalled = r.stalled().count();
    let count =
        |o: DestroyOutcome| destroyed.map_or(0, |d| d.iter().filter(|x| **x == Some(o)).count());
    if s.json() {
        let sockets: Vec<serde_json::Value> = listed
            .iter()
            .map(|&i| {
                let j = &r.judged[i];
                let owner = r.owner(j);
                json!({
                    "local": j.obs.local.to_string(),
                    "remote": j.obs.remote.to_string(),
                    "pid": owner.map(|o| o.pid),
                    "comm": owner.map(|o| o.comm.clone()),
                    "uid": j.obs.uid,
                    "inode": j.obs.inode,
                    "send_queue": j.obs.send_queue,
                    "bytes_acked": j.obs.bytes_acked,
                    "stalled_secs": j.stalled_secs.max(0.0).floor() as u64,
                    "stalled": j.stalled,
                    "destroy": destroy_of(i).map(DestroyOutcome::as_str),
                })
            })
            .collect();
        let mut summary = json!({
            "established": r.judged.len(),
            "queued": listed.len(),
            "stalled": stalled,
        });
        if destroyed.is_some() {
            summary["destroyed"] = json!(count(DestroyOutcome::Destroyed));
        }
        return crate::cmd::print_json(
            out,
            &json!({
                "schema": 1,
                "stall_secs": r.stall.as_secs_f64(),
                "first_sample": r.first_sample,
                "sockets": sockets,
                "summary": summary,
                "notes": r.notes,
            }),
        );
    }
    if !listed.is_empty() {
        let mut header = vec![
            "LOCAL", "REMOTE", "SEND-Q", "NO-ACK", "STALLED", "PID", "COMM",
        ];
        if destroyed.is_some() {
            header.push("DESTROY");
        }
        let mut t = Table::new(&header);
        for &i in &listed {
            let j = &r.judged[i];
            let owner = r.owner(j);
            let mut row = vec![
                j.obs.local.to_string(),
                j.obs.remote.to_string(),
                table::size(u64::from(j.obs.send_queue)),
                table::age(j.stalled_secs),
                if j.stalled { "yes" } else { "no" }.to_string(),
                owner.map_or("-".to_string(), |o| o.pid.to_string()),
                owner.map_or("-".to_string(), |o| table::clip(&o.comm, 16)),
            ];
            if destroyed.is_some() {
                row.push(
                    destroy_of(i)
                        .map_or("-", DestroyOutcome::as_str)
                        .to_string(),
                );
            }
            t.row(row);
        }
        out.write_all(t.render().as_bytes())?;
    }
    let mut line = format!(
        "{} established TCP socket{} in scope, {} with queued data, {} stalled (no ack for >= {})",
        r.judged.len(),
        if r.judged.len() == 1 { "" } else { "s" },
        listed.len(),
        stalled,
        humantime::format_duration(r.stall)
    );
    if destroyed.is_some() {
        line.push_str(&format!(", {} destroyed", count(DestroyOutcome::Destroyed)));
    }
    if r.first_sample {
        line.push_str("; first sample stored, stalls show from the next run (or use --sample)");
    }
    writeln!(out, "{line}")?;
    Ok(())
}

/// How long a run waits for the state lock before it judges against the
/// stored sample without storing a new one.
#[cfg(target_os = "linux")]
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// The in-scope ESTABLISHED TCP sockets right now, and the CLOCK_BOOTTIME
/// of the dump.
#[cfg(target_os = "linux")]
fn observe(s: &Settings) -> anyhow::Result<(Vec<Observation>, f64)> {
    use anyhow::Context;
    let my_uid = nix::unistd::geteuid().as_raw();
    let now = crate::sys::proc::now_boottime();
    let all = crate::sys::inet_diag::established_tcp()
        .context("cannot list TCP sockets through NETLINK_SOCK_DIAG")?;
    let observed = all
        .into_iter()
        .filter(|o| in_scope(o, my_uid, &s.config.ports))
        .collect();
    Ok((observed, now))
}

/// Judges against the sample stored in the state and stores the new one
/// (under the state lock). If the lock stays busy (a long `reap --wait`),
/// judges against the stored sample anyway and stores nothing.
#[cfg(target_os = "linux")]
fn stored_run(s: &Settings, stall: Duration) -> anyhow::Result<Report> {
    use crate::store::state::{Lock, State, StateDir};
    let boot_id = crate::sys::proc::current_boot_id();
    let dir = StateDir::create(&s.state_dir)?;
    let mut notes = Vec::new();
    let lock = match Lock::acquire(&dir, LOCK_WAIT) {
        Ok(l) => Some(l),
        Err(e) if e.downcast_ref::<crate::store::state::Busy>().is_some() => {
            notes.push(format!("{e}; this sample is not stored"));
            None
        }
        Err(e) => return Err(e),
    };
    let loaded = State::load(&dir, boot_id.as_deref(), lock.is_some())?;
    notes.extend(loaded.notes.iter().map(ToString::to_string));
    let mut state = loaded.state;
    let (observed, now) = observe(s)?;
    // A stored sample from the future (clock reset without a new boot id)
    // is no sample at all.
    let first_sample = state.sockets.at.is_none_or(|at| at > now);
    let (judged, next) = judge(&state.sockets.samples, &observed, now, stall);
    if lock.is_some() {
        state.sockets = Stored {
            at: Some(now),
            samples: next,
        };
        state.save(&dir)?;
    }
    drop(lock);
    Ok(with_owners(s, stall, judged, first_sample, notes))
}

/// Takes two samples `gap` apart inside this run; the state is not used.
#[cfg(target_os = "linux")]
fn sampled_run(s: &Settings, stall: Duration, gap: Duration) -> anyhow::Result<Report> {
    let (first, t0) = observe(s)?;
    let (_, samples) = judge(&[], &first, t0, stall);
    std::thread::sleep(gap);
    let (second, t1) = observe(s)?;
    let (judged, _) = judge(&samples, &second, t1, stall);
    Ok(with_owners(s, stall, judged, false, Vec::new()))
}

#[cfg(target_os = "linux")]
fn with_owners(
    s: &Settings,
    stall: Duration,
    judged: Vec<Judged>,
    first_sample: bool,
    notes: Vec<String>,
) -> Report {
    let wanted: std::collections::HashSet<u64> = judged
        .iter()
        .filter(|j| j.obs.send_queue > 0 && j.obs.inode != 0)
        .map(|j| j.obs.inode)
        .collect();
    let my_uid = nix::unistd::geteuid().as_raw();
    let owners = crate::sys::inet_diag::owners(&s.proc_root, &wanted, my_uid);
    Report {
        stall,
        judged,
        owners,
        first_sample,
        notes,
    }
}

/// For `stray check`: the number of stalled sockets and a one-line message,
/// judged against the stored sample (no sleeping); stores the new sample so
/// that periodic checks alone detect stalls.
#[cfg(target_os = "linux")]
pub fn check_summary(s: &Settings) -> anyhow::Result<(usize, String)> {
    let report = stored_run(s, s.config.stall)?;
    Ok((report.stalled().count(), summary_line(&report)))
}

/// For `stray check` on macOS: nothing to report.
#[cfg(not(target_os = "linux"))]
pub fn check_summary(_s: &Settings) -> anyhow::Result<(usize, String)> {
    Ok((0, "TCP stall detection is Linux-only".to_string()))
}

/// One line for `stray check`.
#[cfg(target_os = "linux")]
fn summary_line(report: &Report) -> String {
    let stalled: Vec<&Judged> = report.stalled().collect();
    if stalled.is_empty() {
        let queued = report.queued().count();
        return format!(
            "no stalled TCP sockets ({} established, {} with queued data{})",
            report.judged.len(),
            queued,
            if report.first_sample {
                "; first sample stored"
            } else {
                ""
            }
        );
    }
    let first = stalled[0];
    let who = match report.owner(first) {
        Some(o) => format!(" ({} {})", table::clip(&o.comm, 16), o.pid),
        None => String::new(),
    };
    format!(
        "{} stalled TCP socket{} (no ack for >= {}); longest: {} -> {}{}, {} queued for {}",
        stalled.len(),
        if stalled.len() == 1 { "" } else { "s" },
        humantime::format_duration(report.stall),
        first.obs.local,
        first.obs.remote,
        who,
        table::size(u64::from(first.obs.send_queue)),
        table::age(first.stalled_secs)
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::core::sockets::tests::obs;
    use crate::core::sockets::Owner;

    const STALL: Duration = Duration::from_secs(30);

    #[test]
    fn summary_lines() {
        let (_, s) = judge(&[], &[obs(1, 2048, 1), obs(2, 0, 0)], 0.0, STALL);
        let (j, _) = judge(&s, &[obs(1, 2048, 1), obs(2, 0, 0)], 45.0, STALL);
        let mut r = Report {
            stall: STALL,
            judged: j,
            ..Report::default()
        };
        r.owners.insert(
            1001,
            Owner {
                pid: 77,
                start_time: 1,
                comm: "tt\x1byd".into(),
            },
        );
        assert_eq!(
            summary_line(&r),
            "1 stalled TCP socket (no ack for >= 30s); longest: 127.0.0.1:8080 -> \
             127.0.0.1:1 (tt\\u{1b}yd 77), 2K queued for 45s"
        );
        r.judged.retain(|j| !j.stalled);
        r.first_sample = true;
        assert_eq!(
            summary_line(&r),
            "no stalled TCP sockets (1 established, 0 with queued data; first sample stored)"
        );
    }
}
