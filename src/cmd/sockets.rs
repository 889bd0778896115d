//! `stray sockets [--stall D] [--sample D] [--destroy]`: ESTABLISHED TCP
//! sockets whose peer stopped acknowledging, and (opt-in) SOCK_DESTROY for
//! them. The judging is in [`crate::core::sockets`]; this file runs it, destroys,
//! writes the audit log and renders.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::cli::SocketsArgs;
use crate::core::sockets::{DestroyOutcome, Report};
use crate::exit::ExitCode;
use crate::render::msg;
use crate::render::table::{self, Table};
use crate::Settings;

#[cfg(target_os = "linux")]
pub fn sockets(s: &Settings, a: &SocketsArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let stall = a.stall.unwrap_or(s.config.stall);
    let report = match a.sample {
        Some(gap) => crate::core::sockets::sampled_run(s, stall, gap)?,
        None => crate::core::sockets::stored_run(s, stall)?,
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
pub fn sockets(s: &Settings, a: &SocketsArgs, out: &mut dyn Write) -> Result<ExitCode> {
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
                let o = DestroyOutcome::from_errno(errno);
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
            ts: audit::now_rfc3339(),
            pid: owner.map_or(0, |o| o.pid),
            start_time: owner.map_or(0, |o| o.start_time),
            uid: j.obs.uid,
            comm: owner.map(|o| o.comm.clone()).unwrap_or_default(),
            cmdline: format!("{} -> {}", j.obs.local, j.obs.remote),
            class: "stalled-socket".to_string(),
            rule: format!(
                "no ack for {} (stall {})",
                table::age(j.stalled_secs),
                humantime::format_duration(report.stall)
            ),
            signal: None,
            outcome: outcome.as_str().to_string(),
        });
    }
    if outcomes.contains(&Some(DestroyOutcome::Denied)) {
        msg::warn("SOCK_DESTROY needs CAP_NET_ADMIN (run as root); denied sockets were left open");
    }
    for e in &events {
        msg::warn(&e.line());
    }
    let log = AuditLog::new(audit::resolve_path(s.config.audit_log.as_deref()));
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
