//! `stray watch` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn watch(_s: &Settings, _a: &crate::cli::WatchArgs, _out: &mut dyn Write) -> Result<ExitCode> {
    bail!("stray watch is not implemented yet")
}
