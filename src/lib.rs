//! `stray`: a process janitor and watchdog for hosts full of AI coding agents.
//!
//! Theory of operation: every command reads the process table once
//! ([`proc`]), gathers the few extra facts it needs ([`survey`]), and hands
//! them to pure code that decides ([`classify`], [`reap`]); only then do
//! effects happen ([`signal`], [`state`], [`audit`]). [`run`] turns flags and
//! the config file into [`Settings`] and dispatches to one function per
//! subcommand in [`cmd`].

pub mod audit;
pub mod bounded;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod deaths;
pub mod exit;
pub mod family;
pub mod gen;
pub mod health;
#[cfg(target_os = "linux")]
pub mod kmsg;
pub mod memory;
pub mod msg;
#[cfg(target_os = "linux")]
pub mod oomadj;
pub mod proc;
#[cfg(target_os = "linux")]
pub mod psi;
pub mod pty;
pub mod reap;
pub mod report;
pub mod safefs;
pub mod signal;
pub mod sockets;
pub mod state;
pub mod survey;
pub mod tmux;
#[cfg(target_os = "linux")]
pub mod tracefs;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command, Format};
use crate::config::{Config, MatchRules};
use crate::exit::ExitCode;

/// Flags and config file, merged and resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub state_dir: PathBuf,
    pub format: Format,
    /// The procfs root (always `/proc` outside unit tests).
    pub proc_root: PathBuf,
}

impl Settings {
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// Parses `args`, runs the command, prints any error once, and returns the
/// exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    // `stray --generate DIR`: the packagers' generator (man pages and
    // completion files), kept out of clap so it appears in neither.
    if args.get(1).is_some_and(|a| a == "--generate") {
        return gen::main(&args[2..]);
    }
    let is_check = subcommand_of(&args).is_some_and(|c| c == "check");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::OK
                }
                _ if is_check => {
                    let first = e.to_string();
                    let first = first.lines().next().unwrap_or("usage error");
                    check_unknown(&args, first.trim_start_matches("error: "));
                    ExitCode::UNKNOWN
                }
                _ => ExitCode::USAGE,
            };
            let _ = e.print();
            return code;
        }
    };
    msg::set_level(cli.verbose, cli.quiet);
    let check = matches!(cli.command, Command::Check(_));
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(busy) = e.downcast_ref::<state::Busy>() {
                msg::error(&busy.to_string());
                return ExitCode::LOCK_BUSY;
            }
            if is_broken_pipe(&e) {
                return ExitCode::OK;
            }
            if check {
                // A monitoring system reads stdout: say UNKNOWN there too.
                check_unknown(&args, &format!("{e:#}"));
            }
            if let Some(usage) = e.downcast_ref::<UsageError>() {
                msg::error(&usage.0);
                return if check {
                    ExitCode::UNKNOWN
                } else {
                    ExitCode::USAGE
                };
            }
            msg::error(&format!("{e:#}"));
            if check {
                ExitCode::UNKNOWN
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The subcommand named in `args`: the first word that is not an option or
/// the value of a global option (so `--name check scan` is a `scan`).
fn subcommand_of(args: &[OsString]) -> Option<&OsString> {
    const TAKES_VALUE: [&str; 5] = ["-c", "--config", "--state-dir", "--format", "--name"];
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        let text = w.to_string_lossy();
        if TAKES_VALUE.contains(&text.as_ref()) {
            words.next();
        } else if !text.starts_with('-') {
            return Some(w);
        }
    }
    None
}

/// What `check` prints on stdout when it cannot run at all, in the format
/// asked for (read from the raw arguments: parsing may have failed).
fn check_unknown(args: &[OsString], message: &str) {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let format = words
        .iter()
        .position(|w| w == "--format")
        .and_then(|i| words.get(i + 1).cloned())
        .or_else(|| {
            words
                .iter()
                .find_map(|w| w.strip_prefix("--format=").map(str::to_string))
        })
        .unwrap_or_default();
    let message = report::neutralise(&message.replace('\n', " "));
    match format.as_str() {
        "json" => println!(
            "{}",
            serde_json::json!({"schema": 1, "status": "unknown", "checks": [
                {"name": "stray", "status": "unknown", "value": null, "message": message}]})
        ),
        "prometheus" => println!(
            "# HELP stray_up Whether stray check could run (1) or not (0).\n# TYPE stray_up gauge\nstray_up 0"
        ),
        _ => println!("STRAY UNKNOWN - {message}"),
    }
}

/// A usage error found after parsing (exit 2, or 3 for `check`).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn settings(cli: &Cli) -> Result<Settings> {
    Ok(Settings {
        config: load_config(cli.config.as_deref(), &cli.names)?,
        state_dir: state::resolve_dir(cli.state_dir.as_deref()),
        format: cli.format,
        proc_root: PathBuf::from("/proc"),
    })
}

/// The config file found by the lookup order, with `--name` applied: what
/// every command starts from, and what `watch` re-reads on SIGHUP.
pub fn load_config(explicit: Option<&std::path::Path>, names: &[String]) -> Result<Config> {
    let mut config = Config::discover(explicit)?;
    if !names.is_empty() {
        for n in names {
            if n.is_empty() || n.len() > 15 {
                return Err(UsageError(format!(
                    "--name {n:?} can never equal a kernel comm (1 to 15 bytes)"
                ))
                .into());
            }
        }
        config.matching = MatchRules::names_only(names.to_vec());
    }
    Ok(config)
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Command::Completions(a) = &cli.command {
        cmd::completions(a.shell, &mut out)?;
        return Ok(ExitCode::OK);
    }
    let is_check = matches!(cli.command, Command::Check(_));
    if !is_check && matches!(cli.format, Format::Nagios | Format::Prometheus) {
        return Err(
            UsageError("--format nagios|prometheus is only for `stray check`".into()).into(),
        );
    }
    if let Command::Doctor = cli.command {
        // Before the config is loaded: a bad config is one of its findings.
        let code = cmd::doctor::doctor(&cmd::doctor::Inputs::from_cli(&cli), &mut out)?;
        out.flush()?;
        return Ok(code);
    }
    let s = settings(&cli)?;
    let reload = || load_config(cli.config.as_deref(), &cli.names);
    let code = match &cli.command {
        Command::Scan(a) => cmd::scan::scan(&s, a, &mut out)?,
        Command::Explain(a) => cmd::scan::explain(&s, a.pid, &mut out)?,
        Command::Reap(a) => cmd::reap::reap(&s, a, &mut out)?,
        Command::Log(a) => cmd::log::log(&s, a, &mut out)?,
        Command::Config(a) => cmd::config::config(&s, a, &mut out)?,
        Command::Pty(a) => cmd::pty::pty(&s, a, &mut out)?,
        Command::Tmux(a) => cmd::tmux::tmux(&s, a, &mut out)?,
        Command::Check(a) => cmd::check::check(&s, a, &mut out)?,
        Command::Sockets(a) => cmd::sockets::sockets(&s, a, &mut out)?,
        Command::Watch(a) => cmd::watch::watch(&s, a, &reload, &mut out)?,
        Command::Doctor | Command::Completions(_) => unreachable!("handled above"),
    };
    out.flush()?;
    Ok(code)
}
