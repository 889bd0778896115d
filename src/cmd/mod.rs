//! One module per subcommand. Each takes `&Settings` and a writer for
//! stdout, and returns the exit code; errors bubble up to `lib::run`, which
//! prints them once.

pub mod check;
pub mod config;
pub mod doctor;
pub mod hooks;
pub mod log;
pub mod pty;
pub mod reap;
pub mod scan;
pub mod sockets;
pub mod tmux;
pub mod tree;
pub mod watch;

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

/// `stray completions SHELL`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "stray", out);
    Ok(())
}

/// Writes one JSON document followed by a newline, through a buffer: stdout
/// is line-buffered, and a pretty document has a line per field.
pub fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}
