//! `stray check` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn check(_s: &Settings, _a: &crate::cli::CheckArgs, _out: &mut dyn Write) -> Result<ExitCode> {
    bail!("stray check is not implemented yet")
}
