//! Command-line flags (clap derive). Only `settings` reads these types: it
//! merges them with the config file and the environment into `Settings`
//! and one plain options value per subcommand. Definitions only: no
//! defaults resolved, no I/O.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Reap orphaned AI-agent processes, protect live multiplexer sessions,
/// and watch the PTY pool.
#[derive(Debug, Parser)]
#[command(name = "stray", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Config file (default: $STRAY_CONFIG, $XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml)
    #[arg(short = 'c', long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// State directory (default: $STRAY_STATE_DIR, $XDG_RUNTIME_DIR/stray, /run/stray as root, /tmp/stray-$UID)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = ArgFormat::Human)]
    pub format: ArgFormat,

    /// More detail on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Treat processes whose kernel comm is exactly NAME as agents, replacing
    /// every [match] rule (names, exe, cmdline, env). Repeatable.
    #[arg(long = "name", global = true, value_name = "NAME")]
    pub names: Vec<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// `--format`. `nagios` and `prometheus` are only meaningful for `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArgFormat {
    Human,
    Json,
    Nagios,
    Prometheus,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Command {
    /// Classify agent processes; sends no signal
    Scan(ScanArgs),
    /// Explain why a process has its class
    Explain(ExplainArgs),
    /// Run one escalation cycle: SIGTERM orphans, SIGKILL them after grace
    Reap(ReapArgs),
    /// Show the audit log: stray's signals, deaths it witnessed (OOM kills,
    /// signals from other processes), oom_score_adj raises
    Log(LogArgs),
    /// PTY-slot usage, the processes holding PTY masters, and churn
    Pty(PtyArgs),
    /// tmux servers and sockets, alive or dead
    Tmux(TmuxArgs),
    /// Health check for monitoring (Nagios, JSON, Prometheus)
    Check(CheckArgs),
    /// TCP connections whose peer stopped acknowledging data
    Sockets(SocketsArgs),
    /// Reap and sample every interval in the foreground until SIGTERM/SIGINT
    ///
    /// SIGTERM or SIGINT lets the cycle in flight finish and write its
    /// state, then watch exits 0. SIGHUP re-reads the config the way the
    /// command found it at start (-c, $STRAY_CONFIG, $XDG_CONFIG_HOME,
    /// /etc/stray; --name still applies) and runs a cycle with it at once; a
    /// config that does not load is reported on stderr and the previous one
    /// is kept, so watch never stops on a typo.
    ///
    /// Between full cycles a tick reads only what can change a verdict (new
    /// processes, the agents and their ancestors through pidfds, the panes
    /// of the multiplexer servers they run in) and runs the full cycle at
    /// once when any of it changed; a quiet tick signals nothing. A full
    /// cycle runs at least every `[watch] full_every` (default 1m; "0s":
    /// every tick).
    Watch(WatchArgs),
    /// Show the effective configuration or write a commented template
    Config(ConfigArgs),
    /// Check this installation and say how to fix what is missing
    Doctor,
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print a snippet that reaps the moment a tmux pane or session, or a
    /// Claude Code session, closes; edits no file
    ///
    /// The snippet runs stray -q reap --coalesce DELAY in the background:
    /// a burst of closes runs one or two cycles, and the last close is still
    /// covered. The global options given here (-c, --state-dir, --name) are
    /// passed on, with absolute paths. The reap applies min_age: a process
    /// that started less than min_age before the close is left to the timer
    /// or stray watch, which also sends the SIGKILL after grace; keep one
    /// of them on.
    Hooks(HooksArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ScanArgs {
    /// Classify every process, not only agents
    #[arg(long)]
    pub all: bool,
    /// Show agents in their process trees
    #[arg(long)]
    pub tree: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ExplainArgs {
    /// Process id
    pub pid: i32,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ReapArgs {
    /// Decide and report, but send nothing and write no state
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Run the whole escalation now: TERM, wait up to grace, KILL, verify
    #[arg(long)]
    pub wait: bool,
    /// Override min_age
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_age: Option<Duration>,
    /// Override grace
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// How long to wait for another cycle's lock before exiting 75
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub lock_wait: Duration,
    /// For hooks that fire in bursts: wait DELAY, then run one cycle that
    /// covers every --coalesce call made meanwhile; a call made while another
    /// is waiting exits 0 at once (see stray hooks)
    #[arg(long, value_name = "DELAY", value_parser = parse_duration, conflicts_with_all = ["dry_run", "wait"])]
    pub coalesce: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LogArgs {
    /// Only events newer than this (e.g. 1h, 2d)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only events for this pid
    #[arg(long)]
    pub pid: Option<i32>,
    /// Only deaths: OOM kills and signals from other processes
    #[arg(long)]
    pub deaths: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PtyArgs {
    /// Warning threshold, percent of max (default: [pty] warn)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub warn: Option<u8>,
    /// Critical threshold, percent of max (default: [pty] crit)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub crit: Option<u8>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TmuxArgs {
    /// Remove dead sockets owned by the caller (root: any)
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CheckArgs {
    /// Write DIR/stray.prom atomically (node_exporter textfile collector)
    #[arg(long, value_name = "DIR")]
    pub textfile_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SocketsArgs {
    /// How long the peer must acknowledge nothing (default: [sockets] stall)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub stall: Option<Duration>,
    /// Take two samples this far apart inside this run (at most 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_sample_gap)]
    pub sample: Option<Duration>,
    /// Close stalled sockets with SOCK_DESTROY (needs CAP_NET_ADMIN)
    #[arg(long)]
    pub destroy: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct WatchArgs {
    /// Time between cycles
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub interval: Duration,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ConfigAction {
    /// Print the effective configuration and where it came from
    Show,
    /// Write a commented template (to PATH, or the user config path; - for stdout)
    Init {
        /// Destination; default $XDG_CONFIG_HOME/stray/config.toml (root: /etc/stray/config.toml)
        path: Option<PathBuf>,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CompletionsArgs {
    /// Shell to generate completions for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct HooksArgs {
    /// Where the hook goes: tmux (lines for ~/.tmux.conf) or claude (JSON
    /// for ~/.claude/settings.json)
    pub(crate) target: HookTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HookTarget {
    Tmux,
    Claude,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// `sockets --sample`: the run sleeps this long, so a typo such as `30y`
/// is refused rather than hanging the command.
pub fn parse_sample_gap(s: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(3600);
    let d = parse_duration(s)?;
    if d > MAX {
        return Err(format!("{s:?} is longer than the 1h allowed"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
