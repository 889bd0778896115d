//! The TOML configuration: parsing and validation.
//!
//! The file is deserialized into `Raw*` types that mirror it one to one
//! (`deny_unknown_fields` everywhere), then validated into [`Config`], whose
//! fields are typed (durations, compiled globs and regexes). Every error names
//! the file and the key. Where the file is looked up is `settings`' job:
//! this module reads no environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::core::classify::Rules;
use crate::core::classify::{Policies, Policy};
use crate::core::family::{self, Marker};

/// The commented template written by `stray config init`; also the source of
/// truth for the defaults (a unit test parses it and compares).
pub(crate) const TEMPLATE: &str = include_str!("config.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    min_age: Option<String>,
    grace: Option<String>,
    reaper_parents: Option<Vec<String>>,
    audit_log: Option<PathBuf>,
    #[serde(rename = "match", default)]
    match_: RawMatch,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    protect: RawProtect,
    #[serde(default)]
    pty: RawPty,
    #[serde(default)]
    check: RawCheck,
    #[serde(default)]
    sockets: RawSockets,
    #[serde(default)]
    family: RawFamily,
    #[serde(default)]
    memory: RawMemory,
    #[serde(default)]
    watch: RawWatch,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    oom_score_adj: Option<i64>,
    pressure: Option<String>,
    pressure_min_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamily {
    env: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    full_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    names: Option<Vec<String>>,
    exe: Option<Vec<String>>,
    cmdline: Option<Vec<String>>,
    env: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    orphan: Option<Policy>,
    unmanaged: Option<Policy>,
    headless: Option<Policy>,
    defunct: Option<Policy>,
    leftover: Option<Policy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtect {
    multiplexers: Option<Vec<String>>,
    names: Option<Vec<String>>,
    pids: Option<Vec<i32>>,
    env: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPty {
    warn: Option<i64>,
    crit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    rss_warn: Option<String>,
    rss_crit: Option<String>,
    family_rss_warn: Option<String>,
    family_rss_crit: Option<String>,
    family_processes_warn: Option<u64>,
    family_processes_crit: Option<u64>,
    oom_window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSockets {
    stall: Option<String>,
    ports: Option<Vec<i64>>,
}

/// Agent match rules, compiled.
#[derive(Debug, Clone)]
pub struct MatchRules {
    pub names: Vec<String>,
    pub exe: Vec<glob::Pattern>,
    pub cmdline: Vec<regex::Regex>,
    /// `(KEY, VALUE)` pairs; an entry matches when `KEY=VALUE` is in the
    /// environment exactly.
    pub env: Vec<(String, String)>,
}

impl MatchRules {
    /// Exact comm names only: what `--name` turns the rules into, so a test
    /// run can never match a real agent by path, command line or environment.
    pub(crate) fn names_only(names: Vec<String>) -> Self {
        MatchRules {
            names,
            exe: Vec::new(),
            cmdline: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A `[protect] env` keep marker: `(NAME, Some(VALUE))`, or any value.
pub type KeepMarker = (String, Option<String>);

/// `[family] env` (built-in defaults when unset) and `[protect] env`
/// (default `STRAY_KEEP=1`), parsed; errors name the file and key.
fn markers(
    family_env: Option<Vec<String>>,
    protect_env: Option<Vec<String>>,
    file: &str,
) -> Result<(Vec<Marker>, Vec<KeepMarker>)> {
    let markers = match family_env {
        Some(entries) => family::markers_from_config(&entries),
        None => Ok(family::default_markers()),
    }
    .map_err(|e| anyhow!("{file}: key `family.env`: {e}"))?;
    let keep =
        family::keep_from_config(&protect_env.unwrap_or_else(|| vec!["STRAY_KEEP=1".to_string()]))
            .map_err(|e| anyhow!("{file}: key `protect.env`: {e}"))?;
    Ok((markers, keep))
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from; `None` for built-in defaults.
    pub source: Option<PathBuf>,
    pub min_age: Duration,
    pub grace: Duration,
    pub reaper_parents: Vec<String>,
    pub audit_log: Option<PathBuf>,
    pub matching: MatchRules,
    pub policy: Policies,
    pub multiplexers: Vec<String>,
    pub protect_names: Vec<String>,
    pub protect_pids: Vec<i32>,
    pub pty_warn: u8,
    pub pty_crit: u8,
    pub rss_warn: u64,
    pub rss_crit: u64,
    /// `[check]` thresholds of the largest agent family.
    pub family_rss_warn: u64,
    pub family_rss_crit: u64,
    pub family_processes_warn: u64,
    pub family_processes_crit: u64,
    pub stall: Duration,
    pub ports: Vec<u16>,
    /// `[family] env`: the lineage markers (built-in defaults when unset).
    pub family_markers: Vec<Marker>,
    /// `[protect] env`: keep markers, `(NAME, Some(VALUE))` or any value.
    pub keep_env: Vec<KeepMarker>,
    /// `watch`: a full cycle at least this often; ticks in between re-read
    /// only what changed. Zero: every tick is a full cycle.
    pub full_every: Duration,
    pub memory: Memory,
    /// `[check] oom_window`: how long an OOM kill of a watched process
    /// keeps `check` at WARNING.
    pub oom_window: Duration,
}

/// `[memory]`, validated.
#[derive(Debug, Clone)]
pub struct Memory {
    /// What strays' `oom_score_adj` is raised to; 0: left alone.
    pub oom_score_adj: i32,
    /// The PSI trigger `watch` registers; `None`: `pressure = "off"`.
    pub pressure: Option<crate::core::memory::PressureTrigger>,
    /// `pressure` as written (for `config show`).
    pub pressure_text: String,
    /// `min_age` in a cycle that memory pressure started.
    pub pressure_min_age: Duration,
}

/// `[memory]`: every error names the key and the file.
fn memory_settings(m: RawMemory, file: &str) -> Result<Memory> {
    let oom_score_adj = crate::core::memory::check_oom_score_adj(m.oom_score_adj.unwrap_or(1000))
        .map_err(|e| anyhow!("{file}: key `memory.oom_score_adj`: {e}"))?;
    let pressure_text = m.pressure.unwrap_or_else(|| "some 10% 1s".to_string());
    let pressure = match pressure_text.trim() {
        "off" | "" => None,
        text => Some(
            crate::core::memory::PressureTrigger::parse(text)
                .map_err(|e| anyhow!("{file}: key `memory.pressure`: {e} (or \"off\")"))?,
        ),
    };
    let age = m.pressure_min_age.unwrap_or_else(|| "10s".to_string());
    let pressure_min_age = humantime::parse_duration(&age).map_err(|e| {
        anyhow!("{file}: key `memory.pressure_min_age`: invalid duration {age:?}: {e}")
    })?;
    Ok(Memory {
        oom_score_adj,
        pressure,
        pressure_text,
        pressure_min_age,
    })
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default(), Path::new("<defaults>"))
            .expect("built-in defaults are valid")
    }
}

impl Config {
    /// The slice of the configuration that classification needs; `self_pid`
    /// is this `stray` (never touched, nor its ancestors).
    pub(crate) fn rules(&self, self_pid: i32) -> Rules {
        Rules {
            min_age_secs: self.min_age.as_secs_f64(),
            reaper_parents: self.reaper_parents.clone(),
            multiplexers: self.multiplexers.iter().map(|m| m.to_lowercase()).collect(),
            protect_names: self.protect_names.clone(),
            protect_pids: self.protect_pids.clone(),
            policy: self.policy,
            self_pid,
        }
    }

    /// What `--name` does to the family markers: every built-in marker
    /// goes (a test's own markers stay), so a test run can never tie a real
    /// session's processes to anything.
    pub(crate) fn without_builtin_markers(&mut self) {
        let builtin: Vec<String> = family::default_markers()
            .into_iter()
            .map(|m| m.name)
            .collect();
        self.family_markers.retain(|m| !builtin.contains(&m.name));
    }

    /// The slice of the configuration the family rules need.
    pub(crate) fn family_rules(&self) -> family::Rules {
        family::Rules {
            markers: self.family_markers.clone(),
            keep: self.keep_env.clone(),
            ..family::Rules::default()
        }
    }

    /// Parses TOML text; `origin` names the file in every error.
    pub fn parse(text: &str, origin: &Path) -> Result<Config> {
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner
                .span()
                .map(|s| {
                    format!(
                        " (line {})",
                        text[..s.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_default();
            let msg = inner.message().trim().to_string();
            if key.is_empty() || key == "." {
                anyhow!("{}{line}: {msg}", origin.display())
            } else {
                anyhow!("{}{line}: key `{key}`: {msg}", origin.display())
            }
        })?;
        let mut cfg = Config::from_raw(raw, origin)?;
        cfg.source = Some(origin.to_path_buf());
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = read_text(path)?;
        Config::parse(&text, path)
    }

    fn from_raw(raw: RawConfig, origin: &Path) -> Result<Config> {
        let file = origin.display();
        let dur = |key: &str, v: Option<String>, default: &str| -> Result<Duration> {
            let s = v.unwrap_or_else(|| default.to_string());
            humantime::parse_duration(&s)
                .map_err(|e| anyhow!("{file}: key `{key}`: invalid duration {s:?}: {e}"))
        };
        let size = |key: &str, v: Option<String>, default: &str| -> Result<u64> {
            let s = v.unwrap_or_else(|| default.to_string());
            parse_size(&s).map_err(|e| anyhow!("{file}: key `{key}`: {e}"))
        };
        let names = |v: Option<Vec<String>>, d: &[&str]| -> Vec<String> {
            v.unwrap_or_else(|| d.iter().map(|s| s.to_string()).collect())
        };

        let matching = match_rules(raw.match_, &file.to_string())?;
        let memory = memory_settings(raw.memory, &file.to_string())?;

        let p = raw.policy;
        let defunct = p.defunct.unwrap_or(Policy::Report);
        if defunct == Policy::Reap {
            bail!("{file}: key `policy.defunct`: zombies cannot be signalled; use \"report\" or \"ignore\"");
        }
        let policy = Policies {
            orphan: p.orphan.unwrap_or(Policy::Reap),
            unmanaged: p.unmanaged.unwrap_or(Policy::Report),
            headless: p.headless.unwrap_or(Policy::Report),
            defunct,
            leftover: p.leftover.unwrap_or(Policy::Reap),
        };

        let percent = |key: &str, v: Option<i64>, d: u8| -> Result<u8> {
            match v {
                None => Ok(d),
                Some(x) if (0..=100).contains(&x) => Ok(x as u8),
                Some(x) => bail!("{file}: key `{key}`: {x} is not a percentage (0 to 100)"),
            }
        };
        let pty_warn = percent("pty.warn", raw.pty.warn, 75)?;
        let pty_crit = percent("pty.crit", raw.pty.crit, 90)?;
        if pty_warn > pty_crit {
            bail!("{file}: key `pty.warn`: warn ({pty_warn}) is above crit ({pty_crit})");
        }
        let rss_warn = size("check.rss_warn", raw.check.rss_warn, "4GiB")?;
        let rss_crit = size("check.rss_crit", raw.check.rss_crit, "8GiB")?;
        if rss_warn > rss_crit {
            bail!("{file}: key `check.rss_warn`: rss_warn is above rss_crit");
        }
        let family_rss_warn = size("check.family_rss_warn", raw.check.family_rss_warn, "8GiB")?;
        let family_rss_crit = size("check.family_rss_crit", raw.check.family_rss_crit, "16GiB")?;
        if family_rss_warn > family_rss_crit {
            bail!("{file}: key `check.family_rss_warn`: family_rss_warn is above family_rss_crit");
        }
        let family_processes_warn = raw.check.family_processes_warn.unwrap_or(200);
        let family_processes_crit = raw.check.family_processes_crit.unwrap_or(1000);
        if family_processes_warn > family_processes_crit {
            bail!(
                "{file}: key `check.family_processes_warn`: family_processes_warn is above family_processes_crit"
            );
        }
        let protect_pids = raw.protect.pids.unwrap_or_default();
        if let Some(bad) = protect_pids.iter().find(|&&p| p <= 0) {
            bail!("{file}: key `protect.pids`: {bad} is not a process id (1 or more)");
        }
        if let Some(a) = raw.audit_log.as_deref().filter(|a| !a.is_absolute()) {
            bail!(
                "{file}: key `audit_log`: {:?} is relative; give an absolute path (a relative one would depend on the working directory)",
                a.display().to_string()
            );
        }
        let ports = raw
            .sockets
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                u16::try_from(p).ok().filter(|&p| p != 0).ok_or_else(|| {
                    anyhow!("{file}: key `sockets.ports`: {p} is not a port (1 to 65535)")
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let (family_markers, keep_env) =
            markers(raw.family.env, raw.protect.env, &file.to_string())?;

        Ok(Config {
            source: None,
            min_age: dur("min_age", raw.min_age, "60s")?,
            grace: dur("grace", raw.grace, "60s")?,
            reaper_parents: names(
                raw.reaper_parents,
                &["systemd", "init", "tini", "dumb-init"],
            ),
            audit_log: raw.audit_log,
            matching,
            policy,
            multiplexers: names(raw.protect.multiplexers, &["tmux", "screen", "zellij"]),
            protect_names: raw.protect.names.unwrap_or_default(),
            protect_pids,
            pty_warn,
            pty_crit,
            rss_warn,
            rss_crit,
            family_rss_warn,
            family_rss_crit,
            family_processes_warn,
            family_processes_crit,
            stall: dur("sockets.stall", raw.sockets.stall, "30s")?,
            ports,
            family_markers,
            keep_env,
            memory,
            oom_window: dur("check.oom_window", raw.check.oom_window, "1h")?,
            full_every: dur("watch.full_every", raw.watch.full_every, "1m")?,
        })
    }

    /// The effective configuration as TOML, for `stray config show`.
    pub(crate) fn to_toml(&self) -> String {
        let q = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let globs: Vec<String> = self
            .matching
            .exe
            .iter()
            .map(|g| g.as_str().to_string())
            .collect();
        let regexes: Vec<String> = self
            .matching
            .cmdline
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        let env: Vec<String> = self
            .matching
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let pids: Vec<String> = self.protect_pids.iter().map(|p| p.to_string()).collect();
        let ports: Vec<String> = self.ports.iter().map(|p| p.to_string()).collect();
        let keep: Vec<String> = self
            .keep_env
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        let markers: Vec<String> = self.family_markers.iter().map(Marker::entry).collect();
        let mut s = String::new();
        s += &format!(
            "# source: {}\n",
            self.source
                .as_ref()
                .map_or("built-in defaults".to_string(), |p| p.display().to_string())
        );
        s += &format!(
            "min_age = {}\n",
            toml_str(&humantime::format_duration(self.min_age).to_string())
        );
        s += &format!(
            "grace = {}\n",
            toml_str(&humantime::format_duration(self.grace).to_string())
        );
        s += &format!("reaper_parents = {}\n", q(&self.reaper_parents));
        if let Some(a) = &self.audit_log {
            s += &format!("audit_log = {}\n", toml_str(&a.display().to_string()));
        }
        s += "\n[match]\n";
        s += &format!(
            "names = {}\nexe = {}\ncmdline = {}\nenv = {}\n",
            q(&self.matching.names),
            q(&globs),
            q(&regexes),
            q(&env)
        );
        s += "\n[policy]\n";
        s += &format!(
            "orphan = \"{}\"\nleftover = \"{}\"\nunmanaged = \"{}\"\nheadless = \"{}\"\ndefunct = \"{}\"\n",
            self.policy.orphan,
            self.policy.leftover,
            self.policy.unmanaged,
            self.policy.headless,
            self.policy.defunct
        );
        s += "\n[protect]\n";
        s += &format!(
            "multiplexers = {}\nnames = {}\npids = [{}]\nenv = {}\n",
            q(&self.multiplexers),
            q(&self.protect_names),
            pids.join(", "),
            q(&keep)
        );
        s += &format!("\n[family]\nenv = {}\n", q(&markers));
        s += &format!(
            "\n[pty]\nwarn = {}\ncrit = {}\n",
            self.pty_warn, self.pty_crit
        );
        s += &format!(
            "\n[memory]\noom_score_adj = {}\npressure = {}\npressure_min_age = {}\n",
            self.memory.oom_score_adj,
            toml_str(&self.memory.pressure_text),
            toml_str(&humantime::format_duration(self.memory.pressure_min_age).to_string())
        );
        s += &format!(
            "\n[check]\nrss_warn = {}\nrss_crit = {}\nfamily_rss_warn = {}\nfamily_rss_crit = {}\nfamily_processes_warn = {}\nfamily_processes_crit = {}\noom_window = {}\n",
            toml_str(&format_size(self.rss_warn)),
            toml_str(&format_size(self.rss_crit)),
            toml_str(&format_size(self.family_rss_warn)),
            toml_str(&format_size(self.family_rss_crit)),
            self.family_processes_warn,
            self.family_processes_crit,
            toml_str(&humantime::format_duration(self.oom_window).to_string())
        );
        s += &format!(
            "\n[sockets]\nstall = {}\nports = [{}]\n",
            toml_str(&humantime::format_duration(self.stall).to_string()),
            ports.join(", ")
        );
        s += &format!(
            "\n[watch]\nfull_every = {}\n",
            toml_str(&humantime::format_duration(self.full_every).to_string())
        );
        s
    }
}

/// A config file larger than this is refused: the real one is a few KiB.
pub(crate) const MAX_BYTES: u64 = 1 << 20;

/// Reads a config file without trusting what the path names: opened
/// `O_NONBLOCK` (a FIFO cannot hang the open), refused unless it is a
/// regular file (a FIFO, a device such as `/dev/zero`, a socket), and read
/// to at most [`MAX_BYTES`]. Symlinks are followed: a config linked into
/// place is normal. Every error is one line naming the file.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let shown = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("cannot read config {shown}"))?;
    let meta = f
        .metadata()
        .with_context(|| format!("cannot read config {shown}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        bail!("config {shown} is {what}, not a regular file");
    }
    if meta.len() > MAX_BYTES {
        bail!(
            "config {shown} is {} bytes, more than the {MAX_BYTES} allowed",
            meta.len()
        );
    }
    let mut bytes = Vec::new();
    // The file may grow between the stat and the read: read one byte more
    // than allowed to notice.
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read config {shown}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        bail!("config {shown} is larger than the {MAX_BYTES} bytes allowed");
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "config {shown} is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// `[match]`, compiled; `file` names the config in every error.
fn match_rules(m: RawMatch, file: &str) -> Result<MatchRules> {
    let names = |v: Option<Vec<String>>, d: &[&str]| -> Vec<String> {
        v.unwrap_or_else(|| d.iter().map(|s| s.to_string()).collect())
    };
    let exe = names(m.exe, &["*/claude/versions/*"])
        .iter()
        .map(|g| {
            glob::Pattern::new(g)
                .map_err(|e| anyhow!("{file}: key `match.exe`: invalid glob {g:?}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let cmdline = m
        .cmdline
        .unwrap_or_default()
        .iter()
        .map(|r| {
            regex::Regex::new(r).map_err(|e| {
                anyhow!(
                    "{file}: key `match.cmdline`: invalid regex {r:?}: {}",
                    one_line(&e.to_string())
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let env = m
        .env
        .unwrap_or_default()
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("{file}: key `match.env`: {kv:?} is not KEY=VALUE"),
        })
        .collect::<Result<Vec<_>>>()?;
    let match_names = names(m.names, &["claude", "claude-code", "codex"]);
    for n in &match_names {
        if n.is_empty() || n.len() > 15 {
            bail!("{file}: key `match.names`: {n:?} can never equal a kernel comm (1 to 15 bytes)");
        }
    }
    Ok(MatchRules {
        names: match_names,
        exe,
        cmdline,
        env,
    })
}

/// Multi-line library messages (regex errors draw a caret) on one line.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Parses sizes such as `4GiB`, `512M`, `1.5 GB`, `1048576`.
pub(crate) fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("invalid size {s:?} (expected e.g. \"4GiB\")"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => bail!("invalid size {s:?}: unknown unit {unit:?}"),
    };
    let v = n * mult as f64;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        bail!("invalid size {s:?}: out of range");
    }
    Ok(v as u64)
}

/// Binary units, at most one decimal: `4GiB`, `1.5MiB`, `512B`.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 || (v - v.round()).abs() < 0.05 {
        format!("{}{}", v.round() as u64, UNITS[i])
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/etc/stray/test.toml"))
    }

    #[test]
    fn template_parses_to_the_defaults() {
        let from_template = parse(TEMPLATE).unwrap();
        let defaults = Config::default();
        assert_eq!(
            from_template.to_toml().lines().skip(1).collect::<Vec<_>>(),
            defaults.to_toml().lines().skip(1).collect::<Vec<_>>()
        );
        assert_eq!(defaults.min_age, Duration::from_secs(60));
        assert_eq!(defaults.policy.orphan, Policy::Reap);
        assert_eq!(defaults.policy.unmanaged, Policy::Report);
        assert_eq!(defaults.rss_crit, 8 << 30);
        assert_eq!(defaults.full_every, Duration::from_secs(60));
        let off = parse("[watch]\nfull_every = \"0s\"\n").unwrap();
        assert_eq!(parse(&off.to_toml()).unwrap().full_every, Duration::ZERO);
    }

    #[test]
    fn family_markers_keep_markers_and_the_leftover_policy() {
        let d = Config::default();
        assert_eq!(d.policy.leftover, Policy::Reap);
        assert_eq!(d.family_markers, family::default_markers());
        assert_eq!(d.keep_env, vec![("STRAY_KEEP".into(), Some("1".into()))]);
        let c = parse(
            "[policy]\nleftover = \"report\"\n[protect]\nenv = [\"KEEPME\"]\n[family]\nenv = [\"MY_SESS\", \"MY_PID=<pid>\", \"MY=1\"]\n",
        )
        .unwrap();
        assert_eq!(c.policy.leftover, Policy::Report);
        assert_eq!(c.keep_env, vec![("KEEPME".into(), None)]);
        let entries: Vec<String> = c.family_markers.iter().map(Marker::entry).collect();
        assert_eq!(entries, ["MY_SESS", "MY_PID=<pid>", "MY=1"]);
        let again = parse(&c.to_toml()).unwrap();
        assert_eq!(again.family_markers, c.family_markers);
        assert_eq!(again.keep_env, c.keep_env);
        let e = parse("[family]\nenv = [\"A B\"]").unwrap_err().to_string();
        assert!(e.contains("family.env"), "{e}");
        let e = parse("[protect]\nenv = [\"=1\"]").unwrap_err().to_string();
        assert!(e.contains("protect.env"), "{e}");
    }

    #[test]
    fn name_flag_drops_only_the_builtin_markers() {
        let mut c = parse("[family]\nenv = [\"CLAUDE_PID=<pid>\", \"TEST_SESS\"]\n").unwrap();
        c.without_builtin_markers();
        let names: Vec<&str> = c.family_markers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["TEST_SESS"]);
        let mut d = Config::default();
        d.without_builtin_markers();
        assert!(d.family_markers.is_empty());
    }

    #[test]
    fn shown_config_parses_back() {
        let cfg =
            parse("min_age = \"5m\"\n[match]\nnames = [\"x\\\"y\"]\nenv = [\"A=1\"]\n").unwrap();
        let again = parse(&cfg.to_toml()).unwrap();
        assert_eq!(again.min_age, Duration::from_secs(300));
        assert_eq!(again.matching.names, vec!["x\"y".to_string()]);
        assert_eq!(again.matching.env, vec![("A".into(), "1".into())]);
    }

    #[test]
    fn errors_name_file_and_key() {
        let cases = [
            ("bogus = 1", "bogus"),
            ("[pty]\nwarn = 120", "pty.warn"),
            ("[pty]\nwarn = \"x\"", "pty.warn"),
            ("[pty]\nwarn = 95\ncrit = 90", "pty.warn"),
            ("min_age = \"soon\"", "min_age"),
            ("[policy]\norphan = \"kill\"", "policy.orphan"),
            ("[policy]\ndefunct = \"reap\"", "policy.defunct"),
            ("[match]\nexe = [\"[\"]", "match.exe"),
            ("[match]\ncmdline = [\"(\"]", "match.cmdline"),
            ("[match]\nenv = [\"NOEQUALS\"]", "match.env"),
            (
                "[match]\nnames = [\"a-name-longer-than-15\"]",
                "match.names",
            ),
            ("[check]\nrss_warn = \"lots\"", "check.rss_warn"),
            ("[sockets]\nports = [70000]", "sockets.ports"),
            ("[watch]\nfull_every = \"often\"", "watch.full_every"),
            ("[watch]\nfull_every = 60", "watch.full_every"),
            ("[watch]\nfull = \"1m\"", "full"),
            ("[protect]\npids = [-1]", "protect.pids"),
            ("[protect]\npids = [5, 0]", "protect.pids"),
            ("audit_log = \"audit.jsonl\"", "audit_log"),
            ("audit_log = \"\"", "audit_log"),
            ("[sockets]\nstal = \"1s\"", "stal"),
            ("min_age = ", ""),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("/etc/stray/test.toml"), "{text:?}: {err}");
            assert!(err.contains(key), "{text:?} should name {key:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512_000_000);
        assert_eq!(parse_size("1.5 KiB").unwrap(), 1536);
        assert_eq!(parse_size("42").unwrap(), 42);
        assert!(parse_size("").is_err());
        assert!(parse_size("1 parsec").is_err());
        assert_eq!(format_size(4 << 30), "4GiB");
        assert_eq!(format_size(1536), "1.5KiB");
        assert_eq!(format_size(10), "10B");
    }

    #[test]
    fn only_a_bounded_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(MAX_BYTES as usize + 1)).unwrap();
        let fine = dir.path().join("fine.toml");
        std::fs::write(&fine, format!("{}\nmin_age = \"5s\"\n", "#".repeat(1000))).unwrap();
        for (path, why) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a device"),
            (dir.path(), "a directory"),
            (big.as_path(), "allowed"),
        ] {
            let err = format!("{:#}", Config::load(path).unwrap_err());
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(why), "{path:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        assert_eq!(Config::load(&fine).unwrap().min_age, Duration::from_secs(5));
    }

    #[test]
    fn explicit_config_must_exist() {
        let err = Config::load(Path::new("/nonexistent/stray.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/stray.toml"));
    }
}
