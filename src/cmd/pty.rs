//! `stray pty` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn pty(_s: &Settings, _a: &crate::cli::PtyArgs, _out: &mut dyn Write) -> Result<ExitCode> {
    bail!("stray pty is not implemented yet")
}
