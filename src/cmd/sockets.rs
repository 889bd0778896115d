//! `stray sockets` (not built yet).

use std::io::Write;

use anyhow::{bail, Result};

use crate::exit::ExitCode;
use crate::Settings;

pub fn sockets(
    _s: &Settings,
    _a: &crate::cli::SocketsArgs,
    _out: &mut dyn Write,
) -> Result<ExitCode> {
    bail!("stray sockets is not implemented yet")
}
