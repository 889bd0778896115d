//! `stray log`: the audit log, read back and filtered; it never writes it.

use std::io::Write;
use std::time::SystemTime;

use anyhow::Result;
use serde_json::json;

use crate::exit::ExitCode;
use crate::render::table::{self, Table};
use crate::settings::Log;
use crate::store::audit;
use crate::{render::msg, Settings};

pub(crate) fn log(s: &Settings, args: &Log, out: &mut dyn Write) -> Result<ExitCode> {
    let path = s.audit_log.clone();
    let (events, bad) = audit::read_all(&path)?;
    if bad > 0 {
        msg::warn(&format!(
            "{}: {} could not be parsed and skipped",
            path.display(),
            crate::core::health::plural(bad, "line")
        ));
    }
    // A --since older than the epoch (`300000000000y`) means everything.
    let since = args.since.map(|d| {
        SystemTime::now()
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let mut events = audit::filter(events, since, args.pid);
    if args.deaths {
        events.retain(audit::Event::is_death);
    }
    if s.json() {
        crate::cmd::print_json(out, &json!({"schema": 1, "path": path, "events": events}))?;
        return Ok(ExitCode::OK);
    }
    if events.is_empty() {
        writeln!(out, "no audit events in {}", path.display())?;
        return Ok(ExitCode::OK);
    }
    let mut t = Table::new(&[
        "TIME", "EVENT", "SIGNAL", "PID", "CLASS", "OUTCOME", "COMMAND",
    ]);
    for e in &events {
        // The log is a file: whatever is in it is escaped like any other
        // untrusted text before it reaches a terminal.
        t.row(vec![
            table::escape(&e.ts),
            table::escape(&e.event),
            table::escape(e.signal.as_deref().unwrap_or("-")),
            e.pid.to_string(),
            table::escape(e.class_or_unknown()),
            outcome(e),
            table::clip(
                if e.cmdline.is_empty() {
                    &e.comm
                } else {
                    &e.cmdline
                },
                60,
            ),
        ]);
    }
    write!(out, "{}", t.render())?;
    Ok(ExitCode::OK)
}

/// What became of it: stray's outcome, or who killed it and how.
fn outcome(e: &audit::Event) -> String {
    let detail = e.detail();
    let detail = detail.trim_start_matches([',', ' ']);
    match (e.outcome.is_empty(), detail.is_empty()) {
        (false, true) => table::escape(&e.outcome),
        (false, false) => format!("{} ({detail})", table::escape(&e.outcome)),
        (true, false) => detail.to_string(),
        (true, true) => "-".to_string(),
    }
}
