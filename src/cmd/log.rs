//! `stray log`: the audit log, read back.

use std::io::Write;
use std::time::SystemTime;

use anyhow::Result;
use serde_json::json;

use crate::audit;
use crate::cli::LogArgs;
use crate::exit::ExitCode;
use crate::report::{self, Table};
use crate::{msg, Settings};

pub fn log(s: &Settings, args: &LogArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let path = audit::resolve_path(s.config.audit_log.as_deref());
    let (events, bad) = audit::read_all(&path)?;
    if bad > 0 {
        msg::warn(&format!(
            "{}: {} could not be parsed and skipped",
            path.display(),
            crate::health::plural(bad, "line")
        ));
    }
    // A --since older than the epoch (`300000000000y`) means everything.
    let since = args.since.map(|d| {
        SystemTime::now()
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let events = audit::filter(events, since, args.pid);
    if s.json() {
        crate::cmd::print_json(out, &json!({"schema": 1, "path": path, "events": events}))?;
        return Ok(ExitCode::OK);
    }
    if events.is_empty() {
        writeln!(out, "no audit events in {}", path.display())?;
        return Ok(ExitCode::OK);
    }
    let mut t = Table::new(&["TIME", "SIGNAL", "PID", "CLASS", "OUTCOME", "COMMAND"]);
    for e in &events {
        // The log is a file: whatever is in it is escaped like any other
        // untrusted text before it reaches a terminal.
        t.row(vec![
            report::escape(&e.ts),
            report::escape(e.signal.as_deref().unwrap_or("-")),
            e.pid.to_string(),
            report::escape(&e.class),
            report::escape(&e.outcome),
            report::clip(
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
