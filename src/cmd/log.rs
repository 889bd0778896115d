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
            table::escape(&e.ts),
            table::escape(e.signal.as_deref().unwrap_or("-")),
            e.pid.to_string(),
            table::escape(&e.class),
            table::escape(&e.outcome),
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
