//! Diagnostics on stderr, with the verbosity chosen by `-v` / `-q`.
//!
//! Results go to stdout (one document with `--format json`); everything a
//! person should notice but a script should not parse goes through here.
//!
//! The lines fit their host: under systemd (stderr connected to the journal,
//! as `$JOURNAL_STREAM` says) each line starts with its sd-daemon priority
//! (`<3>` error, `<4>` warning, `<5>` notice, `<6>` info) so
//! journald files it at that level; on a terminal the `error:` tag is red
//! unless `$NO_COLOR` is set; anywhere else the lines are plain.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// 0 = quiet (errors only), 1 = normal, 2 = verbose (`-v`), 3+ = debug (`-vv`).
static LEVEL: AtomicU8 = AtomicU8::new(1);

pub(crate) fn set_level(verbose: u8, quiet: bool) {
    LEVEL.store(
        if quiet {
            0
        } else {
            1u8.saturating_add(verbose)
        },
        Ordering::Relaxed,
    );
}

fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// How serious a line is; the value is its syslog / sd-daemon priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Priority {
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

impl Priority {
    /// The lowest verbosity level at which lines of this priority appear.
    fn min_level(self) -> u8 {
        match self {
            Priority::Error => 0,
            Priority::Warning | Priority::Notice => 1,
            Priority::Info => 2,
        }
    }
}

/// Where stderr goes, decided once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sink {
    /// stderr is the journal: prefix `<N>`, never colour.
    pub journal: bool,
    /// stderr is a terminal and colour is allowed.
    pub colour: bool,
}

impl Sink {
    /// Decides from `$JOURNAL_STREAM`, `$NO_COLOR` and stderr itself.
    pub(crate) fn detect(journal_stream: Option<&str>, no_color: Option<&std::ffi::OsStr>) -> Sink {
        let journal = journal_matches(journal_stream, stderr_dev_ino());
        Sink {
            journal,
            colour: use_colour(std::io::stderr().is_terminal(), no_color, journal),
        }
    }
}

/// `$JOURNAL_STREAM` is `DEVICE:INODE` of the journal stream systemd gave
/// the service. It is inherited by children whose stderr went elsewhere, so
/// (as sd_journal_stream_fd(3) recommends) it counts only when it names the
/// file stderr really is. Without a stat of stderr, its presence decides.
pub(crate) fn journal_matches(var: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let Some(var) = var.filter(|v| !v.is_empty()) else {
        return false;
    };
    let parsed = var
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)));
    match (parsed, stderr) {
        (Some(named), Some(actual)) => named == actual,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Colour only on a terminal, never to the journal, and not when `NO_COLOR`
/// is set to anything non-empty (<https://no-color.org>).
pub(crate) fn use_colour(
    stderr_is_tty: bool,
    no_color: Option<&std::ffi::OsStr>,
    journal: bool,
) -> bool {
    stderr_is_tty && !journal && no_color.is_none_or(|v| v.is_empty())
}

fn stderr_dev_ino() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    // fstat of fd 2 itself (through a dup), not of a path that may resolve
    // elsewhere.
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let m = std::fs::File::from(fd).metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// One stderr line, as written (without the newline). Pure, for tests.
pub(crate) fn format_line(priority: Priority, text: &str, sink: Sink) -> String {
    let prefix = if sink.journal {
        format!("<{}>", priority as u8)
    } else {
        String::new()
    };
    let tag = match priority {
        Priority::Error if sink.colour => "\x1b[1;31merror:\x1b[0m ",
        Priority::Error => "error: ",
        _ => "",
    };
    // One line whatever the source wrote: a multi-line message would lose
    // its priority prefix on every line after the first.
    // Whatever a caller forgot to escape (a process name, a path), no
    // control or bidi character reaches the terminal or the journal.
    let text = crate::render::table::neutralise(text);
    let text: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("{prefix}stray: {tag}{}", text.join(" "))
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets where the lines go, once, before the first one (`lib::run` does, from
/// the environment it read). Until then lines are plain.
pub(crate) fn init(sink: Sink) {
    let _ = SINK.set(sink);
}

fn sink() -> Sink {
    *SINK.get_or_init(|| Sink {
        journal: false,
        colour: false,
    })
}

/// Writes `text` at `priority` if the verbosity allows it.
pub(crate) fn emit(priority: Priority, text: &str) {
    if level() >= priority.min_level() {
        eprintln!("{}", format_line(priority, text, sink()));
    }
}

/// An error that does not stop the command.
pub(crate) fn error(text: &str) {
    emit(Priority::Error, text);
}

/// Something the user should know (corrupt state moved aside, a bad entry).
pub(crate) fn warn(text: &str) {
    emit(Priority::Warning, text);
}

/// A normal but significant event (a signal sent).
pub(crate) fn notice(text: &str) {
    emit(Priority::Notice, text);
}

/// Detail for `-v`.
pub(crate) fn info(text: &str) {
    emit(Priority::Info, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    const PLAIN: Sink = Sink {
        journal: false,
        colour: false,
    };
    const JOURNAL: Sink = Sink {
        journal: true,
        colour: false,
    };

    #[test]
    fn journal_lines_carry_sd_daemon_priorities() {
        assert_eq!(
            format_line(Priority::Error, "bad", JOURNAL),
            "<3>stray: error: bad"
        );
        assert_eq!(
            format_line(Priority::Warning, "hmm", JOURNAL),
            "<4>stray: hmm"
        );
        assert_eq!(
            format_line(Priority::Notice, "sent SIGTERM", JOURNAL),
            "<5>stray: sent SIGTERM"
        );
        assert_eq!(format_line(Priority::Info, "x", JOURNAL), "<6>stray: x");
    }

    #[test]
    fn plain_lines_have_no_prefix_and_stay_one_line() {
        assert_eq!(
            format_line(Priority::Error, "a\n  b\n\n", PLAIN),
            "stray: error: a b"
        );
        assert_eq!(format_line(Priority::Info, "x", PLAIN), "stray: x");
        assert_eq!(
            format_line(Priority::Warning, "pid 7 (a\u{202e}b\x1b[2J)", PLAIN),
            "stray: pid 7 (a\\u{202e}b\\u{1b}[2J)"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None, false));
        assert!(!use_colour(false, None, false));
        assert!(!use_colour(true, Some(OsStr::new("1")), false));
        // NO_COLOR="" does not count (no-color.org).
        assert!(use_colour(true, Some(OsStr::new("")), false));
        assert!(!use_colour(true, None, true));
        let red = format_line(
            Priority::Error,
            "x",
            Sink {
                journal: false,
                colour: true,
            },
        );
        assert!(red.contains("\x1b[1;31m"), "{red:?}");
        // Only errors are coloured.
        assert_eq!(
            format_line(
                Priority::Warning,
                "x",
                Sink {
                    journal: false,
                    colour: true
                }
            ),
            "stray: x"
        );
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        assert!(!journal_matches(None, Some((1, 2))));
        assert!(!journal_matches(Some(""), Some((1, 2))));
        assert!(journal_matches(Some("1:2"), Some((1, 2))));
        // Inherited from a parent whose stderr was the journal, but ours is
        // a pipe now: no prefixes.
        assert!(!journal_matches(Some("1:2"), Some((1, 3))));
        assert!(!journal_matches(Some("garbage"), Some((1, 2))));
        assert!(journal_matches(Some("8:42"), None));
    }

    #[test]
    fn priorities_follow_verbosity() {
        assert_eq!(Priority::Error.min_level(), 0);
        assert_eq!(Priority::Warning.min_level(), 1);
        assert_eq!(Priority::Info.min_level(), 2);
    }
}
