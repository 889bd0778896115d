//! `stray tmux` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn tmux(_s: &Settings, _a: &crate::cli::TmuxArgs, _out: &mut dyn Write) -> Result<ExitCode> {
    bail!("stray tmux is not implemented yet")
}
