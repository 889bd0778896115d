//! `stray`: a process janitor and watchdog for hosts full of AI coding agents.
//!
//! [`run`] is the whole program: parse the flags, resolve them with the
//! config file and the environment into `Settings` (`settings`), run one
//! subcommand (`cmd`), map the result to an exit code. Below `cmd` the tree
//! is layered (ARCHITECTURE.md): `sys` touches the machine, `store` keeps
//! what outlives a run, `render` turns data into text, and `core` decides,
//! purely. The items re-exported here are the surface the integration tests
//! drive (and, until a command uses it, the deaths and memory groundwork);
//! nothing else is public.

// Dead code is judged by the Linux build, where every feature exists. On
// macOS the shared model of the Linux-only features (sock_diag judging, PTY
// holders) compiles but is partly unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

mod cli;
mod cmd;
mod config;
mod configdoc;
mod core;
mod exit;
mod generate;
mod render;
mod settings;
mod store;
mod sys;

// The library surface. Every module is private, so rustc reports whatever
// nothing uses; these are what the binary (`run`) and the integration tests
// in tests/ drive: one reap cycle against a fake /proc or a recording
// signaller, the socket check, the state file, the /proc reader.
pub use crate::cmd::hooks::tmux_snippet;
pub use crate::cmd::reap::{cycle, CycleOptions};
pub use crate::cmd::sockets::check_summary;
pub use crate::config::Config;
pub use crate::core::classify::{Class, Policy, Verdict};
pub use crate::core::escalation::{
    plan, Entry, Expected, Outcome, Plan, Recheck, RecordingSignaller, Signal, Signaller,
};
pub use crate::core::process::{ExeId, ProcKey};
// The groundwork for deaths and memory (issue 13) is not wired into a
// command yet: tests/deaths.rs and tests/memory.rs drive these modules
// whole, the pure halves in core and the kernel readers in sys.
pub use crate::core::{deaths, family, memory};
pub use crate::exit::ExitCode;
pub use crate::settings::{Format, Settings};
pub use crate::store::state::{State, StateDir};
pub use crate::sys::proc::{current_boot_id, read_table};
pub use crate::sys::signal::LiveSignaller;
#[cfg(target_os = "linux")]
pub use crate::sys::{kmsg, oomadj, psi, tracefs};

use std::ffi::OsString;
use std::io::Write;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::render::msg;
use crate::settings::{Env, Resolver, Task};
use crate::store::state;

/// Parses `args`, runs the command, prints any error once, and returns the
/// exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let env = Env::read();
    msg::init(msg::Sink::detect(
        env.journal_stream.as_deref(),
        env.no_color.as_deref(),
    ));
    sys::tmux::set_client_path(env.path.clone());
    // `stray --generate DIR`: the packagers' generator (man pages and
    // completion files), kept out of clap so it appears in neither.
    if args.get(1).is_some_and(|a| a == "--generate") {
        return generate::main(&args[2..]);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // Only here: building clap's definition again costs startup time.
            let is_check = subcommand_of(&args).is_some_and(|c| c == "check");
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
    match dispatch(Resolver::new(cli, env)) {
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
    // The global options that take a value, from clap's own definition.
    let takes_value: Vec<String> = Cli::command()
        .get_arguments()
        .filter(|a| a.is_global_set() && a.get_action().takes_values())
        .flat_map(|a| {
            let long = a.get_long().map(|l| format!("--{l}"));
            let short = a.get_short().map(|c| format!("-{c}"));
            long.into_iter().chain(short)
        })
        .collect();
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        let text = w.to_string_lossy();
        if takes_value.iter().any(|t| *t == text) {
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
    let message = render::table::neutralise(&message.replace('\n', " "));
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

fn dispatch(resolver: Resolver) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let task = resolver.task();
    if let Task::Completions(shell) = task {
        generate::completions(shell, &mut out)?;
        return Ok(ExitCode::OK);
    }
    let is_check = matches!(task, Task::Check(_));
    if !is_check && matches!(resolver.format(), Format::Nagios | Format::Prometheus) {
        return Err(
            UsageError("--format nagios|prometheus is only for `stray check`".into()).into(),
        );
    }
    if let Task::Hooks(target) = task {
        // Needs no config: it only prints a snippet that forwards the flags.
        cmd::hooks::hooks(
            &resolver.hook_invocation(),
            target,
            resolver.format(),
            &mut out,
        )?;
        out.flush()?;
        return Ok(ExitCode::OK);
    }
    if let Task::Doctor = task {
        // Before the config is loaded: a bad config is one of its findings.
        let code = cmd::doctor::doctor(&resolver.doctor_inputs(), &mut out)?;
        out.flush()?;
        return Ok(code);
    }
    let s = resolver.settings()?;
    let code = match task {
        Task::Scan(a) => cmd::scan::scan(&s, &a, &mut out)?,
        Task::Explain { pid } => cmd::scan::explain(&s, pid, &mut out)?,
        Task::Reap(a) => cmd::reap::reap(&s, &a, &mut out)?,
        Task::Log(a) => cmd::log::log(&s, &a, &mut out)?,
        Task::Config(a) => cmd::config::config(&s, &a, &mut out)?,
        Task::Pty(a) => cmd::pty::pty(&s, &a, &mut out)?,
        Task::Tmux(a) => cmd::tmux::tmux(&s, &a, &mut out)?,
        Task::Check(a) => cmd::check::check(&s, &a, &mut out)?,
        Task::Sockets(a) => cmd::sockets::sockets(&s, &a, &mut out)?,
        Task::Watch(a) => cmd::watch::watch(&s, &a, &|| resolver.config(), &mut out)?,
        Task::Doctor | Task::Completions(_) | Task::Hooks(_) => unreachable!("handled above"),
    };
    out.flush()?;
    Ok(code)
}
