//! `stray doctor` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn doctor(_s: &Settings, _out: &mut dyn Write) -> Result<ExitCode> {
    bail!("stray doctor is not implemented yet")
}
