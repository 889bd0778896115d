//! One module per subcommand. Each takes `&Settings`, its own options (a
//! `settings::Task` value, never a clap type) and a writer for stdout, and
//! returns the exit code; errors bubble up to `lib::run`, which prints them
//! once. Orchestration only: decisions live in `core`, system calls in
//! `sys`, files in `store`, text in `render`.

pub(crate) mod check;
pub(crate) mod config;
// The kernel log, oom_score_adj, tracefs and PSI are Linux's.
#[cfg(target_os = "linux")]
pub(crate) mod deaths;
pub(crate) mod doctor;
pub(crate) mod hooks;
pub(crate) mod log;
pub(crate) mod pty;
pub(crate) mod quiet;
pub(crate) mod reap;
pub(crate) mod scan;
pub(crate) mod sockets;
pub(crate) mod tmux;
pub(crate) mod watch;

use std::io::Write;

use anyhow::Result;

/// Writes one JSON document followed by a newline, through a buffer: stdout
/// is line-buffered, and a pretty document has a line per field.
pub(crate) fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}
