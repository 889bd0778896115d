//! Diagnostics on stderr, with the verbosity chosen by `-v` / `-q`.
//!
//! Results go to stdout (one document with `--format json`); everything a
//! person should notice but a script should not parse goes through here.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0 = quiet (errors only), 1 = normal, 2+ = verbose.
static LEVEL: AtomicU8 = AtomicU8::new(1);

pub fn set_level(verbose: u8, quiet: bool) {
    LEVEL.store(if quiet { 0 } else { 1 + verbose }, Ordering::Relaxed);
}

fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// An error that does not stop the command.
pub fn error(text: &str) {
    // One line, whatever the error's source wrote.
    let text: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!("stray: error: {}", text.join(" "));
}

/// Something the user should know (corrupt state moved aside, a signal sent).
pub fn warn(text: &str) {
    if level() >= 1 {
        eprintln!("stray: {text}");
    }
}

/// Detail for `-v`.
pub fn info(text: &str) {
    if level() >= 2 {
        eprintln!("stray: {text}");
    }
}
