//! Flags, config file and environment, resolved once into [`Settings`] and
//! one plain options value per subcommand ([`Task`]).
//!
//! This is the only module that reads the environment ([`Env::read`]) and
//! the only one that sees clap's argument types: every command below it
//! takes `&Settings` and its own options, so a flag, a config key and an
//! environment variable that mean the same thing are merged here, once
//! (`reap --min-age` over `min_age`, `--state-dir` over `$STRAY_STATE_DIR`).
//! It decides lookup orders; it does not run commands or print.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::cli::{self, Cli, Command};
use crate::config::{Config, MatchRules};
use crate::UsageError;

/// The output format. `nagios` and `prometheus` are only meaningful for
/// `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Nagios,
    Prometheus,
}

impl From<cli::ArgFormat> for Format {
    fn from(f: cli::ArgFormat) -> Format {
        match f {
            cli::ArgFormat::Human => Format::Human,
            cli::ArgFormat::Json => Format::Json,
            cli::ArgFormat::Nagios => Format::Nagios,
            cli::ArgFormat::Prometheus => Format::Prometheus,
        }
    }
}

/// The environment variables stray honours, read once at start-up. Empty
/// values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub stray_config: Option<PathBuf>,
    pub stray_state_dir: Option<PathBuf>,
    /// `STRAY_NO_PIDFD`: signal with kill(2) after the identity check (a
    /// switch for tests of the fallback path).
    pub no_pidfd: bool,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub tmux_tmpdir: Option<PathBuf>,
    /// `NO_COLOR` as set (an empty value does not count: no-color.org).
    pub no_color: Option<OsString>,
    /// `JOURNAL_STREAM` as systemd set it (`DEVICE:INODE`).
    pub journal_stream: Option<String>,
    /// `PATH`, handed on to children that run with a cleared environment.
    pub path: Option<OsString>,
}

impl Env {
    /// Reads the process environment.
    pub(crate) fn read() -> Env {
        let os = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let path = |k: &str| os(k).map(PathBuf::from);
        Env {
            stray_config: path("STRAY_CONFIG"),
            stray_state_dir: path("STRAY_STATE_DIR"),
            no_pidfd: os("STRAY_NO_PIDFD").is_some(),
            xdg_config_home: path("XDG_CONFIG_HOME"),
            xdg_runtime_dir: path("XDG_RUNTIME_DIR"),
            xdg_state_home: path("XDG_STATE_HOME"),
            home: path("HOME"),
            tmux_tmpdir: path("TMUX_TMPDIR"),
            no_color: std::env::var_os("NO_COLOR"),
            journal_stream: os("JOURNAL_STREAM").map(|v| v.to_string_lossy().into_owned()),
            path: os("PATH"),
        }
    }

    /// `--state-dir`, else `$STRAY_STATE_DIR`, else `$XDG_RUNTIME_DIR/stray`,
    /// else `/run/stray` for root, else `/tmp/stray-$UID`.
    pub(crate) fn state_dir(&self, explicit: Option<&Path>, euid: u32) -> PathBuf {
        if let Some(p) = explicit.or(self.stray_state_dir.as_deref()) {
            return p.to_path_buf();
        }
        if let Some(p) = &self.xdg_runtime_dir {
            return p.join("stray");
        }
        if euid == 0 {
            PathBuf::from("/run/stray")
        } else {
            PathBuf::from(format!("/tmp/stray-{euid}"))
        }
    }

    /// `audit_log` from the config, else `$XDG_STATE_HOME/stray/audit.jsonl`,
    /// else `/var/log/stray/audit.jsonl` for root, else
    /// `~/.local/state/stray/audit.jsonl`.
    pub(crate) fn audit_log(&self, configured: Option<&Path>, euid: u32) -> PathBuf {
        if let Some(p) = configured {
            return p.to_path_buf();
        }
        if let Some(x) = &self.xdg_state_home {
            return x.join("stray").join("audit.jsonl");
        }
        if euid == 0 {
            return PathBuf::from("/var/log/stray/audit.jsonl");
        }
        self.home
            .clone()
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".local/state/stray/audit.jsonl")
    }

    /// The config file to read: `--config`, else `$STRAY_CONFIG`, else the
    /// first of the user file and `/etc/stray/config.toml` that exists;
    /// `None`: the built-in defaults.
    pub(crate) fn config_file(&self, explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit.or(self.stray_config.as_deref()) {
            return Some(p.to_path_buf());
        }
        [
            self.user_config_file(),
            Some(PathBuf::from("/etc/stray/config.toml")),
        ]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
    }

    /// `$XDG_CONFIG_HOME/stray/config.toml`, else `~/.config/stray/config.toml`.
    pub(crate) fn user_config_file(&self) -> Option<PathBuf> {
        let base = self
            .xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))?;
        Some(base.join("stray").join("config.toml"))
    }

    /// Where tmux puts its `tmux-UID` socket dirs: `$TMUX_TMPDIR`, else `/tmp`.
    pub(crate) fn tmux_tmpdir(&self) -> PathBuf {
        self.tmux_tmpdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/tmp"))
    }
}

/// Flags and config file, merged and resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub state_dir: PathBuf,
    /// The audit log file (config, else the environment's default).
    pub audit_log: PathBuf,
    pub format: Format,
    /// The procfs root (always `/proc` outside tests).
    pub proc_root: PathBuf,
    /// Signal through pidfds when the kernel has them (not `STRAY_NO_PIDFD`).
    pub pidfd: bool,
    pub env: Env,
}

impl Settings {
    /// Settings from a config alone, with an empty environment: for tests
    /// that drive one command through the library.
    pub fn new(config: Config, state_dir: PathBuf, proc_root: PathBuf, format: Format) -> Settings {
        let env = Env::default();
        let audit_log = env.audit_log(config.audit_log.as_deref(), euid());
        Settings {
            config,
            state_dir,
            audit_log,
            format,
            proc_root,
            pidfd: true,
            env,
        }
    }

    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// The effective uid (for the defaults that differ for root).
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// What `stray doctor` looks at: resolved like [`Settings`] but without
/// loading the config (a bad config is one of its findings).
#[derive(Debug, Clone)]
pub(crate) struct DoctorInputs {
    pub explicit_config: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub proc_root: PathBuf,
    pub root: bool,
    pub json: bool,
    pub env: Env,
}

/// One subcommand with its options resolved: plain values, no clap types.
#[derive(Debug, Clone)]
pub(crate) enum Task {
    Scan(Scan),
    Explain { pid: i32 },
    Reap(Reap),
    Log(Log),
    Pty(Pty),
    Tmux(Tmux),
    Check(Check),
    Sockets(Sockets),
    Watch(Watch),
    Config(ConfigTask),
    Doctor,
    Completions(clap_complete::Shell),
    Hooks(HookTarget),
}

/// Where `stray hooks` puts its snippet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookTarget {
    Tmux,
    Claude,
}

/// What a hook's reap is: this binary, with the global options given here
/// (`-c`, `--state-dir`, `--name`) and paths made absolute (a hook runs in
/// another directory).
#[derive(Debug, Clone)]
pub(crate) struct HookInvocation {
    pub exe: String,
    pub globals: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan {
    pub all: bool,
    pub tree: bool,
}

/// `reap`'s own options; `--min-age` and `--grace` are folded into the
/// config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reap {
    pub dry_run: bool,
    pub wait: bool,
    pub lock_wait: Duration,
    /// `--coalesce DELAY`: one queued cycle covers a burst of calls.
    pub coalesce: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Log {
    pub since: Option<Duration>,
    pub pid: Option<i32>,
    pub deaths: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Pty {
    pub warn: Option<u8>,
    pub crit: Option<u8>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tmux {
    pub prune: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub textfile_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    pub interval: Duration,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sockets {
    pub stall: Option<Duration>,
    pub sample: Option<Duration>,
    pub destroy: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ConfigTask {
    Show,
    Init { path: Option<PathBuf>, force: bool },
}

impl Task {
    fn from_cli(command: &Command) -> Task {
        match command.clone() {
            Command::Scan(a) => Task::Scan(Scan {
                all: a.all,
                tree: a.tree,
            }),
            Command::Explain(a) => Task::Explain { pid: a.pid },
            Command::Reap(a) => Task::Reap(Reap {
                dry_run: a.dry_run,
                wait: a.wait,
                lock_wait: a.lock_wait,
                coalesce: a.coalesce,
            }),
            Command::Log(a) => Task::Log(Log {
                since: a.since,
                pid: a.pid,
                deaths: a.deaths,
            }),
            Command::Pty(a) => Task::Pty(Pty {
                warn: a.warn,
                crit: a.crit,
            }),
            Command::Tmux(a) => Task::Tmux(Tmux { prune: a.prune }),
            Command::Check(a) => Task::Check(Check {
                textfile_dir: a.textfile_dir,
            }),
            Command::Sockets(a) => Task::Sockets(Sockets {
                stall: a.stall,
                sample: a.sample,
                destroy: a.destroy,
            }),
            Command::Watch(a) => Task::Watch(Watch {
                interval: a.interval,
            }),
            Command::Config(a) => Task::Config(match a.action {
                cli::ConfigAction::Show => ConfigTask::Show,
                cli::ConfigAction::Init { path, force } => ConfigTask::Init { path, force },
            }),
            Command::Doctor => Task::Doctor,
            Command::Completions(a) => Task::Completions(a.shell),
            Command::Hooks(a) => Task::Hooks(match a.target {
                cli::HookTarget::Tmux => HookTarget::Tmux,
                cli::HookTarget::Claude => HookTarget::Claude,
            }),
        }
    }
}

/// The parsed flags and the environment, before the config is read: what
/// `lib::run` dispatches on.
pub(crate) struct Resolver {
    cli: Cli,
    env: Env,
}

impl Resolver {
    pub(crate) fn new(cli: Cli, env: Env) -> Resolver {
        Resolver { cli, env }
    }

    pub(crate) fn format(&self) -> Format {
        self.cli.format.into()
    }

    pub(crate) fn task(&self) -> Task {
        Task::from_cli(&self.cli.command)
    }

    /// This binary and the global options a hook's reap must repeat.
    pub(crate) fn hook_invocation(&self) -> HookInvocation {
        let abs = |p: &Path| -> String {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let mut globals = Vec::new();
        if let Some(c) = &self.cli.config {
            globals.extend(["-c".to_string(), abs(c)]);
        }
        if let Some(d) = &self.cli.state_dir {
            globals.extend(["--state-dir".to_string(), abs(d)]);
        }
        for n in &self.cli.names {
            globals.extend(["--name".to_string(), n.clone()]);
        }
        let exe = std::env::current_exe()
            .ok()
            .map_or_else(|| "stray".to_string(), |p| p.display().to_string());
        HookInvocation { exe, globals }
    }

    /// For `doctor`, which must not load the config.
    pub(crate) fn doctor_inputs(&self) -> DoctorInputs {
        DoctorInputs {
            explicit_config: self.cli.config.clone(),
            state_dir: self.env.state_dir(self.cli.state_dir.as_deref(), euid()),
            proc_root: PathBuf::from("/proc"),
            root: euid() == 0,
            json: self.format() == Format::Json,
            env: self.env.clone(),
        }
    }

    /// The config file found by the lookup order, with `--name` applied:
    /// what every command starts from, and what `watch` re-reads on SIGHUP.
    pub(crate) fn config(&self) -> Result<Config> {
        let (cli, env) = (&self.cli, &self.env);
        let mut config = match env.config_file(cli.config.as_deref()) {
            Some(path) => Config::load(&path)?,
            None => Config::default(),
        };
        if !cli.names.is_empty() {
            for n in &cli.names {
                if n.is_empty() || n.len() > 15 {
                    return Err(UsageError(format!(
                        "--name {n:?} can never equal a kernel comm (1 to 15 bytes)"
                    ))
                    .into());
                }
            }
            config.matching = MatchRules::names_only(cli.names.clone());
            config.without_builtin_markers();
        }
        Ok(config)
    }

    /// Loads the config and applies the flags over it.
    pub(crate) fn settings(&self) -> Result<Settings> {
        let mut config = self.config()?;
        let (cli, env) = (&self.cli, self.env.clone());
        if let Command::Reap(a) = &cli.command {
            config.min_age = a.min_age.unwrap_or(config.min_age);
            config.grace = a.grace.unwrap_or(config.grace);
        }
        Ok(Settings {
            state_dir: env.state_dir(cli.state_dir.as_deref(), euid()),
            audit_log: env.audit_log(config.audit_log.as_deref(), euid()),
            format: cli.format.into(),
            proc_root: PathBuf::from("/proc"),
            pidfd: !env.no_pidfd,
            config,
            env,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_orders() {
        let env = Env {
            stray_state_dir: Some("/s".into()),
            xdg_runtime_dir: Some("/run/user/7".into()),
            home: Some("/home/u".into()),
            ..Env::default()
        };
        assert_eq!(env.state_dir(Some(Path::new("/x")), 7), Path::new("/x"));
        assert_eq!(env.state_dir(None, 7), Path::new("/s"));
        let env = Env {
            stray_state_dir: None,
            ..env
        };
        assert_eq!(env.state_dir(None, 7), Path::new("/run/user/7/stray"));
        let bare = Env::default();
        assert_eq!(bare.state_dir(None, 0), Path::new("/run/stray"));
        assert_eq!(bare.state_dir(None, 7), Path::new("/tmp/stray-7"));
        assert_eq!(
            env.audit_log(None, 7),
            Path::new("/home/u/.local/state/stray/audit.jsonl")
        );
        assert_eq!(
            bare.audit_log(None, 0),
            Path::new("/var/log/stray/audit.jsonl")
        );
        assert_eq!(
            env.user_config_file().unwrap(),
            Path::new("/home/u/.config/stray/config.toml")
        );
        assert_eq!(bare.tmux_tmpdir(), Path::new("/tmp"));
        // An explicit config is returned even when missing: loading it fails
        // loudly instead of falling back to the defaults.
        let missing = Path::new("/nonexistent/stray.toml");
        assert_eq!(bare.config_file(Some(missing)).as_deref(), Some(missing));
        let from_env = Env {
            stray_config: Some(missing.into()),
            ..Env::default()
        };
        assert_eq!(from_env.config_file(None).as_deref(), Some(missing));
    }
}
