//! Agent families (SPEC "Agent families"): which processes an agent session
//! left behind, which of them are `leftover`s, and each agent's footprint.
//!
//! Pure: everything arrives as data ([`Input`]: a small view of each
//! process plus the facts other modules compute, and the remembered descent
//! from earlier cycles). No I/O, no clock, no environment reads. The reader
//! calls [`decide_round`], reads what it asks for
//! ([`Decision::env_wanted`], [`Decision::held_wanted`]), asks again, and
//! completes the last round with [`finish`] ([`decide`] is both in one);
//! [`Decision::next_remembered`] is what the state keeps.
//!
//! Lineage comes from three sources, in the SPEC's owner order:
//! 1. the ppid chain now;
//! 2. remembered descent (the only link for codex's MCP servers, which get
//!    an allow-listed environment without any marker);
//! 3. environment markers that name an agent's pid (`CLAUDE_PID`, the
//!    messaging-socket path, `OPENCODE_PID`), honoured only when that
//!    process started no later than the member.
//!
//! Markers come in three kinds (see [`MarkerKind`]). Only a marker whose
//! value names one session (a uuid, a pid) can tie a process to a session or
//! keep it alive; a marker that is the same in every session (`CLAUDECODE=1`,
//! `CODEX_CI=1`, `CODEX_VERSION`) only says "some agent's family".

use std::collections::{BTreeMap, BTreeSet};

use crate::core::process::{PidMap, ProcKey};

/// How a marker's value is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerKind {
    /// The value names one session (a uuid, a thread id): processes that
    /// share it belong to the same session. Config: `NAME`.
    Session,
    /// The value names the agent's pid: a decimal number, or a path whose
    /// file name is `<pid>` or `<pid>.<ext>` (`/tmp/cc-socks/3156.sock`).
    /// It ties a member to that process only while it is no younger than
    /// the member; its value is never compared with other processes' (pids
    /// are re-used). Config: `NAME=<pid>`.
    Pid,
    /// The same in every session: family evidence only, never a tie.
    /// Config: `NAME=VALUE` (that exact value) or `NAME=*` (any value).
    Constant(Option<String>),
}

/// One lineage marker from `[family] env` or the built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub name: String,
    pub kind: MarkerKind,
    /// Which agent sets it (`claude`, `codex`, …; `custom` for user ones):
    /// for `explain`, and for the ownerless hold (see [`decide`]).
    pub agent: String,
}

impl Marker {
    /// Parses one `[family] env` entry: `NAME`, `NAME=<pid>`, `NAME=*` or
    /// `NAME=VALUE`. The error names the entry.
    pub fn parse(entry: &str, agent: &str) -> Result<Marker, String> {
        let (name, kind) = match entry.split_once('=') {
            None => (entry, MarkerKind::Session),
            Some((n, "<pid>")) => (n, MarkerKind::Pid),
            Some((n, "*")) => (n, MarkerKind::Constant(None)),
            Some((n, v)) => (n, MarkerKind::Constant(Some(v.to_string()))),
        };
        if name.is_empty() || name.contains(['\0', ' ', '\t', '\n']) {
            return Err(format!(
                "[family] env entry {entry:?}: a marker is NAME, NAME=<pid>, NAME=* or NAME=VALUE"
            ));
        }
        Ok(Marker {
            name: name.to_string(),
            kind,
            agent: agent.to_string(),
        })
    }

    /// The `[family] env` entry that parses back to this marker.
    pub fn entry(&self) -> String {
        match &self.kind {
            MarkerKind::Session => self.name.clone(),
            MarkerKind::Pid => format!("{}=<pid>", self.name),
            MarkerKind::Constant(None) => format!("{}=*", self.name),
            MarkerKind::Constant(Some(v)) => format!("{}={v}", self.name),
        }
    }

    /// True when this marker can tie a process to one session.
    pub fn names_session(&self) -> bool {
        !matches!(self.kind, MarkerKind::Constant(_))
    }

    /// True when `value` (the variable is present) matches this marker.
    fn matches(&self, value: &str) -> bool {
        match &self.kind {
            MarkerKind::Constant(Some(v)) => v == value,
            MarkerKind::Constant(None) => true,
            // A session value must name something: `CLAUDE_CODE_LAUNCHED_BY_
            // SESSION_IDS=,` (seen on a background session's helpers) or an
            // empty value names nothing.
            MarkerKind::Session | MarkerKind::Pid => value.chars().any(|c| c.is_alphanumeric()),
        }
    }
}

/// The pid a `<pid>` marker value names: `3156`, or a path whose last
/// component is `3156` or `3156.sock`.
pub fn pid_in_value(value: &str) -> Option<i32> {
    let last = value.rsplit('/').next().unwrap_or(value);
    let stem = last.split_once('.').map_or(last, |(s, _)| s);
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse::<i32>().ok().filter(|p| *p > 0)
}

/// The built-in markers, verified against the real CLIs (docs/agents.md):
/// Claude Code 2.1.332, Codex 0.171.0, Gemini CLI 0.61.0, opencode 1.18.33.
pub fn default_markers() -> Vec<Marker> {
    const DEFAULTS: &[(&str, &str)] = &[
        // Claude Code: MCP servers and shell-tool processes.
        ("claude", "CLAUDE_CODE_SESSION_ID"),
        ("claude", "CLAUDE_CODE_MESSAGING_SOCKET=<pid>"),
        ("claude", "CLAUDE_PID=<pid>"),
        ("claude", "CLAUDECODE=1"),
        ("claude", "AI_AGENT=*"),
        // Codex: shell-tool processes only (its MCP servers carry nothing).
        ("codex", "CODEX_THREAD_ID"),
        ("codex", "CODEX_SESSION_ID"),
        ("codex", "CODEX_CI=1"),
        ("codex", "CODEX_VERSION=*"),
        ("codex", "CODEX_MANAGED_BY_NPM=1"),
        // Gemini CLI: one constant marker, nothing names a session.
        ("gemini", "GEMINI_CLI=1"),
        // opencode: MCP servers and shell-tool processes.
        ("opencode", "OPENCODE_PID=<pid>"),
        ("opencode", "OPENCODE=1"),
    ];
    DEFAULTS
        .iter()
        .map(|(agent, entry)| Marker::parse(entry, agent).expect("built-in marker parses"))
        .collect()
}

/// Markers from `[family] env` entries. An entry naming a built-in marker
/// keeps that marker's agent (for `explain` and the ownerless hold); any
/// other is `custom`. The error names the entry.
pub fn markers_from_config(entries: &[String]) -> Result<Vec<Marker>, String> {
    let defaults = default_markers();
    entries
        .iter()
        .map(|e| {
            let name = e.split_once('=').map_or(e.as_str(), |(n, _)| n);
            let agent = defaults
                .iter()
                .find(|m| m.name == name)
                .map_or("custom", |m| m.agent.as_str());
            Marker::parse(e, agent)
        })
        .collect()
}

/// Keep markers from `[protect] env` entries: `NAME=VALUE`, or `NAME` for
/// any value. The error names the entry.
pub fn keep_from_config(entries: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    entries
        .iter()
        .map(|e| {
            let (name, value) = match e.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (e.as_str(), None),
            };
            if name.is_empty() || name.contains(['\0', ' ', '\t', '\n']) {
                return Err(format!(
                    "[protect] env entry {e:?}: a keep marker is NAME=VALUE or NAME"
                ));
            }
            Ok((name.to_string(), value))
        })
        .collect()
}

/// True when a unix socket name (a path, or an abstract name without its
/// leading NUL) is a display server's: X11 (`/tmp/.X11-unix/X0`, also
/// abstract) or Wayland (`$XDG_RUNTIME_DIR/wayland-0`).
pub fn is_display_socket(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    let x11 = name.contains("/.X11-unix/X")
        && file.len() > 1
        && file[1..].bytes().all(|b| b.is_ascii_digit());
    let wayland = file
        .strip_prefix("wayland-")
        .is_some_and(|rest| !rest.is_empty() && !rest.ends_with(".lock"));
    x11 || wayland
}

/// Which part of a Claude Code background session a process is (SPEC: "an
/// agent's deliberate background session"), from its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundRole {
    /// `claude daemon run …`: the supervisor (ppid 1, no tty, own session).
    Daemon,
    /// `claude bg-pty-host` (`--bg-pty-host SOCK COLS ROWS -- …`): holds the
    /// master of the terminal a background session runs on.
    PtyHost,
    /// `claude bg-spare` (`--bg-spare CLAIM.sock`): a pre-started session
    /// that a `--bg` or "move to background" claims.
    Spare,
}

impl BackgroundRole {
    pub fn as_str(self) -> &'static str {
        match self {
            BackgroundRole::Daemon => "claude daemon run",
            BackgroundRole::PtyHost => "claude bg-pty-host",
            BackgroundRole::Spare => "claude bg-spare",
        }
    }
}

/// Recognises Claude Code's background-session processes by their argv.
/// Observed (2.1.332): `[…/claude.exe, daemon, run, --origin, transient,
/// --spawned-by, …]`, `[claude bg-pty-host, --bg-pty-host, SOCK, 200, 50,
/// --, …]`, `[claude bg-spare, --bg-spare, CLAIM.sock]`. The program must be
/// a claude binary (`claude`, `claude.exe`, a `…/claude/versions/X` path, or
/// an argv[0] retitled `claude …`), so an unrelated `daemon run` is not one.
pub fn background_role(args: &[String]) -> Option<BackgroundRole> {
    let argv0 = args.first()?;
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let claude = base == "claude"
        || base == "claude.exe"
        || argv0.starts_with("claude ")
        || argv0.contains("/claude/versions/");
    if !claude {
        return None;
    }
    if args.iter().any(|a| a == "--bg-pty-host") || argv0 == "claude bg-pty-host" {
        return Some(BackgroundRole::PtyHost);
    }
    if args.iter().any(|a| a == "--bg-spare") || argv0 == "claude bg-spare" {
        return Some(BackgroundRole::Spare);
    }
    if args.get(1).map(String::as_str) == Some("daemon")
        && args.get(2).map(String::as_str) == Some("run")
    {
        return Some(BackgroundRole::Daemon);
    }
    None
}

/// One process as the family rules see it. Facts that other modules decide
/// (protection, terminals, peers, display sockets) arrive as flags.
#[derive(Debug, Clone)]
pub struct ProcView {
    pub key: ProcKey,
    pub ppid: i32,
    pub comm: String,
    pub args: Vec<String>,
    /// Matches the `[match]` rules.
    pub agent: bool,
    /// Its controlling terminal is live (a pane, ssh, a terminal window).
    pub live_tty: bool,
    /// Holds the master of a terminal on which a live process runs
    /// (`script`, a web terminal, `bg-pty-host`).
    pub holds_live_terminal: bool,
    pub multiplexer_server: bool,
    /// Protected by the classify rules (multiplexer tree, pane tty, a
    /// `[protect]` rule, serving a protected process).
    pub protected: bool,
    /// Connected to an X11 or Wayland display server.
    pub display_client: bool,
    /// Serves a live process: a unix socket or pipe whose other end a live
    /// agent or a protected process holds, or an established TCP
    /// connection whose other end a live local process outside the dead
    /// family holds.
    pub serves_live: bool,
    /// Its parent is PID 1 of its namespace or a configured subreaper.
    pub reaper_parent: bool,
    pub rss_bytes: u64,
    /// The marker and keep variables found in its environment (only those:
    /// the reader filters), or `None` when it was not read.
    pub env: Option<Vec<(String, String)>>,
    /// It runs in another PID namespace than the table's (a container), or
    /// that could not be told: the pids its markers name are not this
    /// table's pids.
    pub foreign_pid_ns: bool,
}

impl ProcView {
    /// A process with no facts set: no terminal, not protected, not read.
    pub fn new(pid: i32, start_time: u64, ppid: i32, comm: &str) -> ProcView {
        ProcView {
            key: ProcKey { pid, start_time },
            ppid,
            comm: comm.to_string(),
            args: vec![comm.to_string()],
            agent: false,
            live_tty: false,
            holds_live_terminal: false,
            multiplexer_server: false,
            protected: false,
            display_client: false,
            serves_live: false,
            reaper_parent: false,
            rss_bytes: 0,
            env: None,
            foreign_pid_ns: false,
        }
    }
}

/// Everything [`decide`] needs.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub procs: Vec<ProcView>,
    /// From earlier cycles: agent → its descendants then.
    pub remembered: BTreeMap<ProcKey, BTreeSet<ProcKey>>,
    /// Session values that a live process is known to hold besides its
    /// environment: Claude Code's task-output directory (…/<session
    /// uuid>/…) that a background session keeps open for the jobs it
    /// adopted, codex's rollout file (rollout-…-<thread>.jsonl). Keyed by
    /// the holder; counts only while the holder is in the table.
    pub held_values: BTreeMap<ProcKey, BTreeSet<String>>,
    /// Holders asked for their open files that could not be read (a
    /// non-dumpable process of the caller's own user, say): while one
    /// lives, whether it holds a session is unknown, and a member that
    /// would be kept by it is not taken.
    pub held_unknown: BTreeSet<ProcKey>,
}

/// The configuration slice the family rules need.
#[derive(Debug, Clone)]
pub struct Rules {
    pub markers: Vec<Marker>,
    /// `[protect] env` entries, `NAME=VALUE` or `NAME` (any value).
    pub keep: Vec<(String, Option<String>)>,
    /// Bound on remembered descendants per agent (the state must stay small).
    pub remember_per_agent: usize,
    /// Bound on remembered agents.
    pub remember_agents: usize,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            markers: default_markers(),
            keep: vec![("STRAY_KEEP".into(), Some("1".into()))],
            remember_per_agent: 4096,
            remember_agents: 1024,
        }
    }
}

impl Rules {
    /// The variable names a reader must keep from an environment.
    pub fn env_names(&self) -> BTreeSet<&str> {
        self.markers
            .iter()
            .map(|m| m.name.as_str())
            .chain(self.keep.iter().map(|(n, _)| n.as_str()))
            .collect()
    }
}

/// How a process came to be in a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lineage {
    /// Descends now from this live agent.
    Descends(ProcKey),
    /// An earlier cycle saw it descend from this agent.
    Remembered(ProcKey),
    /// A marker names this pid; `live` is the process with that pid when it
    /// is in the table and started no later than the member (else the
    /// named agent is gone and the pid, if present, was reused).
    Named {
        marker: String,
        pid: i32,
        live: Option<ProcKey>,
    },
    /// A session marker names its session, no marker its agent's pid.
    Session { marker: String, value: String },
    /// Only markers every session sets tie it to some agent.
    MarkersOnly,
    /// Descends from this leftover.
    BelowLeftover(i32),
}

/// What [`decide`] says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not in any agent's family (or an agent itself: classify decides).
    NotFamily,
    /// In a family; its session is alive or a never-leftover rule holds.
    Kept,
    /// Left behind by a session that is gone: reap like an orphan.
    Leftover,
    /// Would need its environment, which was not read: never signalled.
    Undecided,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub key: ProcKey,
    pub outcome: Outcome,
    pub lineage: Option<Lineage>,
    /// One line for `explain`: why it was, or was not, taken.
    pub reason: String,
}

/// One agent's live family: its descendants plus the processes whose owner
/// it is (remembered descent, pid markers); the agent itself excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    pub processes: u64,
    pub rss_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// One per process of the input, in input order.
    pub verdicts: Vec<Verdict>,
    /// Per live agent.
    pub footprints: BTreeMap<ProcKey, Footprint>,
    /// Processes whose environment a decision needs and that were not read:
    /// the processes that can be leftovers (no live terminal, orphan-shaped
    /// or below a leftover), and, once a member's verdict compares session
    /// values, the live agents and their descendants (the values live
    /// sessions carry). The reader reads them and asks again until it is
    /// empty (three rounds at most: the would-be leftovers with their
    /// subtrees, then the live families, then what those changed).
    pub env_wanted: BTreeSet<ProcKey>,
    /// Live holders (agents, background-session processes) whose open
    /// files a decision needs ([`held_session_values`]) and that are not in
    /// `held_values` yet: asked only once a member's verdict compares
    /// session values.
    pub held_wanted: BTreeSet<ProcKey>,
    /// Of `env_wanted`, the members no live agent is above: a pid marker in
    /// their environment would name their owner, so the reader also looks
    /// at their PID namespace (`ProcView::foreign_pid_ns`). Below a live
    /// agent the owner is that agent, whatever the markers say.
    pub pid_ns_matters: BTreeSet<ProcKey>,
    /// What the state keeps for the next cycle.
    pub next_remembered: BTreeMap<ProcKey, BTreeSet<ProcKey>>,
    /// Agents in a deliberate background session (never orphans), with
    /// their role or that of the host above them.
    pub background_agents: BTreeMap<ProcKey, BackgroundRole>,
    /// Per process, in input order: the live agent that owns it (what
    /// [`finish`] counts the footprints by).
    owner_live: Vec<Option<ProcKey>>,
}

impl Decision {
    pub fn leftovers(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Leftover)
    }

    pub fn verdict(&self, pid: i32) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| v.key.pid == pid)
    }
}

/// Markers found in one environment, split by what they can do.
#[derive(Debug, Default)]
struct Found {
    /// (marker name, value) of session-naming markers (not pid markers).
    session: Vec<(String, String)>,
    /// (marker name, pid) of pid markers.
    pids: Vec<(String, i32)>,
    /// Agents whose constant markers it carries.
    constant: BTreeSet<String>,
    keep: Option<String>,
}

impl Found {
    fn any(&self) -> bool {
        !self.session.is_empty() || !self.pids.is_empty() || !self.constant.is_empty()
    }
}

fn scan_env(env: &[(String, String)], rules: &Rules) -> Found {
    let mut f = Found::default();
    for (name, value) in env {
        for (k, v) in &rules.keep {
            if k == name && v.as_deref().is_none_or(|v| v == value) {
                f.keep = Some(match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                });
            }
        }
        for m in rules.markers.iter().filter(|m| &m.name == name) {
            if !m.matches(value) {
                continue;
            }
            match m.kind {
                MarkerKind::Session => f.session.push((name.clone(), value.clone())),
                // Not a shared value: a pid is re-used, and a younger agent
                // with that pid must not keep the old session alive.
                MarkerKind::Pid => {
                    if let Some(pid) = pid_in_value(value) {
                        f.pids.push((name.clone(), pid));
                    }
                }
                MarkerKind::Constant(_) => {
                    f.constant.insert(m.agent.clone());
                }
            }
        }
    }
    f
}

/// Deepest ppid chain followed: a cycle or a corrupt table ends the walk.
const MAX_DEPTH: usize = 4096;

struct Table<'a> {
    procs: &'a [ProcView],
    by_pid: PidMap<usize>,
    children: PidMap<Vec<usize>>,
}

impl<'a> Table<'a> {
    fn new(procs: &'a [ProcView]) -> Table<'a> {
        let mut by_pid = PidMap::with_capacity_and_hasher(procs.len(), Default::default());
        let mut children: PidMap<Vec<usize>> = PidMap::default();
        for (i, p) in procs.iter().enumerate() {
            by_pid.insert(p.key.pid, i);
            if p.ppid != p.key.pid {
                children.entry(p.ppid).or_default().push(i);
            }
        }
        Table {
            procs,
            by_pid,
            children,
        }
    }

    fn get(&self, pid: i32) -> Option<usize> {
        self.by_pid.get(&pid).copied()
    }

    fn alive(&self, key: ProcKey) -> bool {
        self.get(key.pid)
            .is_some_and(|i| self.procs[i].key.start_time == key.start_time)
    }

    /// Every process reachable from a root (no parent in the table), each
    /// after its parent (breadth first).
    fn top_down(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.procs.len())
            .filter(|&i| {
                let p = &self.procs[i];
                p.ppid == p.key.pid || self.get(p.ppid).is_none()
            })
            .collect();
        let mut next = 0;
        while next < out.len() {
            let pid = self.procs[out[next]].key.pid;
            out.extend(self.children.get(&pid).into_iter().flatten().copied());
            next += 1;
        }
        out
    }

    /// Ancestors of `i`, nearest first (without `i`).
    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::from([i]);
        let mut cur = self.procs[i].ppid;
        while let Some(j) = self.get(cur) {
            if !seen.insert(j) || out.len() >= MAX_DEPTH {
                break;
            }
            out.push(j);
            cur = self.procs[j].ppid;
        }
        out
    }

    /// Descendants of `i` (without `i`).
    fn descendants(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::from([i]);
        let mut todo = vec![i];
        while let Some(j) = todo.pop() {
            for &c in self
                .children
                .get(&self.procs[j].key.pid)
                .into_iter()
                .flatten()
            {
                if seen.insert(c) {
                    out.push(c);
                    todo.push(c);
                }
            }
        }
        out
    }
}

/// Never-leftover rules that need no environment, in SPEC order.
fn structural_keep(
    p: &ProcView,
    hosted_by: Option<(i32, BackgroundRole)>,
    agent_below: Option<i32>,
) -> Option<String> {
    if p.multiplexer_server {
        return Some("a multiplexer server: never a leftover".into());
    }
    if let Some(agent) = agent_below {
        // Taking it would orphan a live agent (a nested agent started with
        // `nohup … &` from a dead session's shell): that agent is live work.
        return Some(format!(
            "an ancestor of live agent {agent}: never a leftover"
        ));
    }
    if p.protected {
        return Some("protected: never a leftover".into());
    }
    if p.live_tty {
        return Some("on a live terminal: never a leftover".into());
    }
    if p.holds_live_terminal {
        return Some("holds the master of a terminal a live process runs on".into());
    }
    if p.display_client {
        return Some("connected to a display server (a desktop program)".into());
    }
    if let Some(role) = background_role(&p.args) {
        return Some(format!(
            "{}: part of a deliberate Claude Code background session",
            role.as_str()
        ));
    }
    if let Some((pid, role)) = hosted_by {
        return Some(format!(
            "hosted by {} (pid {pid}): a Claude Code background session",
            role.as_str()
        ));
    }
    None
}

/// Decides every process's family outcome. Safety first: an environment
/// that was not read, or any doubt about the session, keeps the process.
///
/// One rule goes beyond the SPEC's letter, on the side of safety: a member
/// with no owner at all (no descent, no remembered descent, no pid marker)
/// whose markers are all constant is held while a live session of the same
/// agent shows that marker: a live Gemini CLI's `setsid nohup` job looks
/// exactly like a dead one's, and nothing names its session. The constant
/// marker still never ties it to that session nor keeps one alive.
pub fn decide(input: &Input, rules: &Rules) -> Decision {
    finish(input, rules, decide_round(input, rules))
}

/// One round of [`decide`] for a reader that reads what a round asks for
/// and asks again: the verdicts and what to read next, without the
/// footprints and the lineage to remember, which only the last round
/// needs ([`finish`] adds them).
pub fn decide_round(input: &Input, rules: &Rules) -> Decision {
    let t = Table::new(&input.procs);
    let found: Vec<Option<Found>> = input
        .procs
        .iter()
        .map(|p| p.env.as_deref().map(|e| scan_env(e, rules)))
        .collect();
    let tree = Tree::new(input, &t);
    let mut owners = Owners::new(input, &t, &tree, &found);
    let live = LiveValues::new(input, &t, &tree, &owners, &found);
    let judged = judge_all(input, &t, &tree, &mut owners, &found, &live);
    let (outcome, reason, mut env_wanted) = (judged.outcome, judged.reason, judged.env_wanted);
    let background_agents = input
        .procs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.agent)
        .filter_map(|(i, p)| {
            background_role(&p.args)
                .or(tree.hosted_by[i].map(|h| h.1))
                .map(|r| (p.key, r))
        })
        .collect();
    subtree_env_wanted(input, &t, &outcome, &found, &mut env_wanted);
    let pid_ns_matters = env_wanted
        .iter()
        .copied()
        .filter(|k| {
            t.get(k.pid)
                .is_some_and(|i| !input.procs[i].agent && tree.agent_above[i].is_none())
        })
        .collect();
    let verdicts = reason
        .into_iter()
        .enumerate()
        .map(|(i, reason)| Verdict {
            key: input.procs[i].key,
            outcome: outcome[i].clone(),
            lineage: owners.lineage[i].clone(),
            reason,
        })
        .collect();
    Decision {
        verdicts,
        footprints: BTreeMap::new(),
        env_wanted,
        held_wanted: judged.held_wanted,
        pid_ns_matters,
        next_remembered: BTreeMap::new(),
        background_agents,
        owner_live: owners.owner_live,
    }
}

/// [`decide_round`]'s decision on `input`, completed with the footprints
/// and the lineage to remember.
pub fn finish(input: &Input, rules: &Rules, mut d: Decision) -> Decision {
    let t = Table::new(&input.procs);
    let below: BTreeMap<usize, Vec<usize>> = input
        .procs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.agent)
        .map(|(i, _)| (i, t.descendants(i)))
        .collect();
    d.footprints = footprints(input, &t, &below, &d.owner_live);
    d.next_remembered = next_remembered(input, rules, &t, &below);
    d
}

/// Lineage 1, from the ppid chain: each process's depth, nearest live
/// agent ancestor, and nearest background host above (it hosts everything
/// below it, like a multiplexer server).
struct Tree {
    depth: Vec<usize>,
    agent_above: Vec<Option<usize>>,
    hosted_by: Vec<Option<(i32, BackgroundRole)>>,
    /// A live agent below each process (its pid), if any.
    agent_below: Vec<Option<i32>>,
}

impl Tree {
    fn new(input: &Input, t: &Table) -> Tree {
        let n = input.procs.len();
        let mut tree = Tree {
            depth: vec![usize::MAX; n],
            agent_above: vec![None; n],
            hosted_by: vec![None; n],
            agent_below: vec![None; n],
        };
        let roles: Vec<Option<BackgroundRole>> = input
            .procs
            .iter()
            .map(|p| background_role(&p.args))
            .collect();
        // Top-down from the roots, each process inherits from its parent:
        // one pass. Processes no root reaches (a ppid cycle in a torn read)
        // walk their own chain.
        for &i in &t.top_down() {
            let parent = t.get(input.procs[i].ppid).filter(|&j| j != i);
            match parent {
                Some(j) if tree.depth[j] != usize::MAX => {
                    tree.depth[i] = tree.depth[j] + 1;
                    tree.agent_above[i] = if input.procs[j].agent {
                        Some(j)
                    } else {
                        tree.agent_above[j]
                    };
                    tree.hosted_by[i] = roles[j]
                        .map(|r| (input.procs[j].key.pid, r))
                        .or(tree.hosted_by[j]);
                }
                _ => tree.depth[i] = 0,
            }
        }
        for i in 0..n {
            if tree.depth[i] == usize::MAX {
                let ancestors = t.ancestors(i);
                tree.depth[i] = ancestors.len();
                tree.agent_above[i] = ancestors.iter().copied().find(|&a| input.procs[a].agent);
                tree.hosted_by[i] = ancestors
                    .iter()
                    .find_map(|&a| roles[a].map(|r| (input.procs[a].key.pid, r)));
            }
        }
        // Up from every agent; a chain already marked is not walked again.
        for (i, p) in input.procs.iter().enumerate().filter(|(_, p)| p.agent) {
            let mut cur = input.procs[i].ppid;
            let mut hops = 0;
            while let Some(j) = t.get(cur).filter(|&j| j != i && hops < MAX_DEPTH) {
                if tree.agent_below[j].is_some() {
                    break;
                }
                tree.agent_below[j] = Some(p.key.pid);
                cur = input.procs[j].ppid;
                hops += 1;
            }
        }
        tree
    }
}

/// Owner and lineage per process (agents themselves are not members). The
/// lineage shown is the first source in SPEC order; the owner counts as
/// alive when any source names a live one (sources that disagree are a
/// doubt, and doubt keeps).
struct Owners {
    lineage: Vec<Option<Lineage>>,
    owner_live: Vec<Option<ProcKey>>,
    /// Descends from, or was seen under, a live agent: what carries a live
    /// session's values (read on every cycle, so the answer never depends
    /// on which other environments happened to be read).
    lineage_live: Vec<bool>,
}

impl Owners {
    fn new(input: &Input, t: &Table, tree: &Tree, found: &[Option<Found>]) -> Owners {
        let n = input.procs.len();
        // Lineage 2: remembered descent (prefer a live agent when several).
        let mut remembered_owner: BTreeMap<ProcKey, ProcKey> = BTreeMap::new();
        for (agent, members) in &input.remembered {
            for m in members {
                let replace = remembered_owner
                    .get(m)
                    .is_none_or(|old| !t.alive(*old) && t.alive(*agent));
                if replace {
                    remembered_owner.insert(*m, *agent);
                }
            }
        }
        let mut o = Owners {
            lineage: vec![None; n],
            owner_live: vec![None; n],
            lineage_live: vec![false; n],
        };
        for (i, p) in input.procs.iter().enumerate() {
            if p.agent {
                continue;
            }
            let mut first: Option<Lineage> = None;
            let mut live: Option<ProcKey> = None;
            if let Some(a) = tree.agent_above[i] {
                let k = input.procs[a].key;
                first = Some(Lineage::Descends(k));
                live = Some(k);
            }
            if let Some(a) = remembered_owner.get(&p.key) {
                first.get_or_insert(Lineage::Remembered(*a));
                live = live.or(t.alive(*a).then_some(*a));
            }
            o.lineage_live[i] = live.is_some();
            if let Some(f) = &found[i] {
                marker_lineage(input, t, p, f, &mut first, &mut live);
            }
            o.lineage[i] = first;
            o.owner_live[i] = live;
        }
        o
    }
}

/// Lineage 3, from the markers: a pid marker names the agent when that
/// process is at least as old as the member (a younger one reused the
/// pid); else a session marker, else constant markers only.
fn marker_lineage(
    input: &Input,
    t: &Table,
    p: &ProcView,
    f: &Found,
    first: &mut Option<Lineage>,
    live: &mut Option<ProcKey>,
) {
    // Another namespace's pid names nobody here (see `Member::judge`).
    let pids = if p.foreign_pid_ns {
        &[][..]
    } else {
        &f.pids[..]
    };
    for (marker, pid) in pids {
        let named = t
            .get(*pid)
            .map(|j| input.procs[j].key)
            .filter(|k| k.start_time <= p.key.start_time && k.pid != p.key.pid);
        *live = live.or(named);
        if first.is_none()
            || (named.is_some() && matches!(first, Some(Lineage::Named { live: None, .. })))
        {
            *first = Some(Lineage::Named {
                marker: marker.clone(),
                pid: *pid,
                live: named,
            });
        }
    }
    if first.is_none() {
        if let Some((marker, value)) = f.session.first() {
            *first = Some(Lineage::Session {
                marker: marker.clone(),
                value: value.clone(),
            });
        } else if f.any() {
            *first = Some(Lineage::MarkersOnly);
        }
    }
}

/// Session values that live sessions carry or hold: carried by a live
/// agent, by a process that descends (or descended) from one, or inside a
/// background host; held (open files) by any live process. A member tied
/// only by a pid marker does not carry: its session's other members name
/// the same pid, and reading it would mean reading every process.
struct LiveValues<'a> {
    values: BTreeSet<&'a str>,
    constant_agents: BTreeSet<&'a str>,
    /// A live background-session process whose open files are unknown.
    unknown_background: bool,
    /// A live agent (not a background session's) whose open files are
    /// unknown.
    unknown_agent: bool,
}

impl<'a> LiveValues<'a> {
    fn new(
        input: &'a Input,
        t: &Table,
        tree: &Tree,
        owners: &Owners,
        found: &'a [Option<Found>],
    ) -> LiveValues<'a> {
        let mut lv = LiveValues {
            values: BTreeSet::new(),
            constant_agents: BTreeSet::new(),
            unknown_background: false,
            unknown_agent: false,
        };
        for (i, p) in input.procs.iter().enumerate() {
            let background = tree.hosted_by[i].is_some() || background_role(&p.args).is_some();
            if input.held_unknown.contains(&p.key) {
                lv.unknown_background |= background;
                lv.unknown_agent |= p.agent && !background;
            }
            let live = owners.lineage_live[i] || p.agent || background;
            if let (true, Some(f)) = (live, &found[i]) {
                lv.values.extend(f.session.iter().map(|(_, v)| v.as_str()));
                lv.constant_agents
                    .extend(f.constant.iter().map(String::as_str));
            }
        }
        for (holder, values) in &input.held_values {
            if t.alive(*holder) {
                lv.values.extend(values.iter().map(String::as_str));
            }
        }
        lv
    }
}

/// What [`judge_all`] decided, and what it still needs read.
struct Judged {
    outcome: Vec<Outcome>,
    reason: Vec<String>,
    env_wanted: BTreeSet<ProcKey>,
    held_wanted: BTreeSet<ProcKey>,
}

/// Every process's outcome and reason, decided top-down so "descends from
/// another leftover" sees its parent; and the environments and held files
/// still needed.
fn judge_all(
    input: &Input,
    t: &Table,
    tree: &Tree,
    owners: &mut Owners,
    found: &[Option<Found>],
    live: &LiveValues<'_>,
) -> Judged {
    let n = input.procs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| tree.depth[i]);
    let mut outcome: Vec<Outcome> = vec![Outcome::NotFamily; n];
    let mut reason: Vec<String> = vec![String::new(); n];
    let mut env_wanted = BTreeSet::new();
    // Environments that matter only for the session values live sessions
    // carry: read once some member's verdict looks at those values (most
    // cycles have no such member, and agents are then never read).
    let mut live_wanted = BTreeSet::new();
    // Live processes that can hold a session's files open: background
    // sessions' processes, and agents. A member whose pid marker names its
    // gone agent needs only the first: its session's own agent is dead, and
    // a job adopted from it is held by the background session it moved to.
    // A member without one (codex's jobs) may be held by any live agent
    // (the codex that writes that thread's rollout file).
    let mut background_holders = BTreeSet::new();
    let mut agent_holders = BTreeSet::new();
    let mut consulted = false;
    let mut consulted_unnamed = false;
    for &i in &order {
        let p = &input.procs[i];
        let background = background_role(&p.args).or(tree.hosted_by[i].map(|h| h.1));
        if !input.held_values.contains_key(&p.key) {
            if background.is_some() {
                background_holders.insert(p.key);
            } else if p.agent {
                agent_holders.insert(p.key);
            }
        }
        if p.agent {
            if found[i].is_none() {
                // An agent started from another agent's shell carries that
                // session's values: it keeps them alive.
                live_wanted.insert(p.key);
            }
            reason[i] = match background {
                // The agent rules must not take it for an orphan either.
                Some(role) => format!(
                    "an agent in a Claude Code background session ({}): never an orphan",
                    role.as_str()
                ),
                None => "an agent: classified by the agent rules".into(),
            };
            continue;
        }
        let parent_leftover = t
            .get(p.ppid)
            .filter(|&j| outcome[j] == Outcome::Leftover)
            .map(|j| input.procs[j].key.pid);
        if owners.lineage[i].is_none() {
            if let Some(pid) = parent_leftover {
                owners.lineage[i] = Some(Lineage::BelowLeftover(pid));
            }
        }
        let orphan_shaped = p.reaper_parent || parent_leftover.is_some();
        let structural = structural_keep(p, tree.hosted_by[i], tree.agent_below[i]);
        // The environment matters only where a leftover is possible, and for
        // live families (their session values keep other members alive).
        let could_be_leftover = structural.is_none()
            && orphan_shaped
            && !matches!(owners.lineage[i], Some(Lineage::Descends(_)));
        let in_live_family = owners.lineage_live[i]
            || tree.hosted_by[i].is_some()
            || background_role(&p.args).is_some();
        if found[i].is_none() && could_be_leftover {
            env_wanted.insert(p.key);
        } else if found[i].is_none() && in_live_family {
            live_wanted.insert(p.key);
        }
        let member = Member {
            p,
            lineage: owners.lineage[i].as_ref(),
            owner_live: owners.owner_live[i],
            found: found[i].as_ref(),
            structural,
            could_be_leftover,
            orphan_shaped,
            parent_leftover,
        };
        if member.consults_live_values() {
            consulted = true;
            consulted_unnamed |= !matches!(member.lineage, Some(Lineage::Named { .. }));
        }
        (outcome[i], reason[i]) = member.judge(live);
    }
    let mut held_wanted = BTreeSet::new();
    if consulted {
        env_wanted.extend(live_wanted);
        held_wanted.extend(background_holders);
    }
    if consulted_unnamed {
        held_wanted.extend(agent_holders);
    }
    Judged {
        outcome,
        reason,
        env_wanted,
        held_wanted,
    }
}

/// The session values a path a live process holds open carries: every
/// uuid in it (8-4-4-4-12 hex digits, either case). Claude Code's
/// task-output directory (`…/<session uuid>/…`), which a background session
/// keeps open for the jobs it adopted, and codex's rollout file
/// (`rollout-<date>-<thread uuid>.jsonl`) both name their session so.
pub fn held_session_values(path: &str) -> BTreeSet<String> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    const LEN: usize = 36;
    let b = path.as_bytes();
    let is_uuid = |w: &[u8]| {
        let mut at = 0;
        GROUPS.iter().enumerate().all(|(g, &n)| {
            let ok = w[at..at + n].iter().all(u8::is_ascii_hexdigit)
                && (g == GROUPS.len() - 1 || w[at + n] == b'-');
            at += n + 1;
            ok
        })
    };
    // A uuid is not part of a longer run of hex digits (a dash may join
    // it to the rest of a name: `rollout-…-<uuid>.jsonl`).
    let bounded = |i: usize| {
        (i == 0 || !b[i - 1].is_ascii_hexdigit())
            && b.get(i + LEN).is_none_or(|c| !c.is_ascii_hexdigit())
    };
    (0..b.len().saturating_sub(LEN - 1))
        .filter(|&i| bounded(i) && is_uuid(&b[i..i + LEN]))
        .filter_map(|i| path.get(i..i + LEN))
        .map(str::to_string)
        .collect()
}

/// One non-agent process, with what [`judge_all`] learnt about it.
struct Member<'a> {
    p: &'a ProcView,
    lineage: Option<&'a Lineage>,
    owner_live: Option<ProcKey>,
    found: Option<&'a Found>,
    structural: Option<String>,
    could_be_leftover: bool,
    orphan_shaped: bool,
    parent_leftover: Option<i32>,
}

impl Member<'_> {
    /// True when [`Member::judge`] compares this member's markers with the
    /// live sessions' (session values, or the constant markers of the
    /// ownerless hold): the same path, up to those checks.
    fn consults_live_values(&self) -> bool {
        self.lineage.is_some()
            && self.owner_live.is_none()
            && self.structural.is_none()
            && self.found.is_some_and(|f| f.keep.is_none() && f.any())
    }

    fn judge(self, live: &LiveValues<'_>) -> (Outcome, String) {
        let Some(lin) = self.lineage else {
            return if self.found.is_none() && self.could_be_leftover {
                (
                    Outcome::Undecided,
                    "environment not read: markers unknown, not taken".into(),
                )
            } else if let Some(why) = self.structural {
                (
                    Outcome::NotFamily,
                    format!("not in any agent's family; {why}"),
                )
            } else {
                (Outcome::NotFamily, "not in any agent's family".into())
            };
        };
        if let Some(owner) = self.owner_live {
            return (Outcome::Kept, owner_reason(lin, owner));
        }
        if let Some(why) = self.structural {
            return (Outcome::Kept, why);
        }
        let Some(f) = self.found else {
            return (
                Outcome::Undecided,
                "environment not read: keep marker unknown, not taken".into(),
            );
        };
        if let Some(keep) = &f.keep {
            return (Outcome::Kept, format!("carries the keep marker {keep}"));
        }
        if let Some((name, value)) = f
            .session
            .iter()
            .find(|(_, v)| live.values.contains(v.as_str()))
        {
            return (
                Outcome::Kept,
                format!("a live session shares {name}={value}"),
            );
        }
        if self.p.foreign_pid_ns && !f.pids.is_empty() {
            return (
                Outcome::Undecided,
                "its pid marker names a pid in another PID namespace: whether that agent \
                 lives is unknown, not taken"
                    .into(),
            );
        }
        // The holders a verdict asks (see `judge_all`): background
        // sessions always, agents for a member no pid marker ties.
        let named = matches!(lin, Lineage::Named { .. });
        if !f.session.is_empty() && (live.unknown_background || (live.unknown_agent && !named)) {
            return (
                Outcome::Undecided,
                "a live agent's or background session's open files could not be read: \
                 whether it holds this session is unknown, not taken"
                    .into(),
            );
        }
        if self.p.serves_live {
            return (
                Outcome::Kept,
                "serves a live process (socket, pipe or TCP peer)".into(),
            );
        }
        if matches!(lin, Lineage::MarkersOnly) {
            if let Some(agent) = f
                .constant
                .iter()
                .find(|a| live.constant_agents.contains(a.as_str()))
            {
                return (
                    Outcome::Kept,
                    format!(
                        "only markers every {agent} session sets, and a live {agent} session shows them: \
                         cannot tell whose it is, not taken"
                    ),
                );
            }
        }
        if !self.orphan_shaped {
            return (
                Outcome::Kept,
                "its session is gone, but its parent lives and is not a reaper".into(),
            );
        }
        (Outcome::Leftover, self.leftover_reason(lin))
    }

    fn leftover_reason(&self, lin: &Lineage) -> String {
        let gone = match lin {
            Lineage::Remembered(a) => format!("agent {a} (remembered descent) is gone"),
            Lineage::Named { marker, pid, .. } => {
                format!("{marker} names pid {pid}, which is gone")
            }
            Lineage::Session { marker, value } => {
                format!("no live session has {marker}={value}")
            }
            Lineage::MarkersOnly => "no live session owns its markers".into(),
            Lineage::BelowLeftover(pid) => format!("descends from leftover {pid}"),
            Lineage::Descends(_) => "its agent is gone".into(),
        };
        let shape = match self.parent_leftover {
            Some(pid) if !self.p.reaper_parent => format!("below leftover {pid}"),
            _ => "re-parented to a reaper".into(),
        };
        format!("leftover: {gone}; {shape}")
    }
}

/// Why a member whose owner lives is kept.
fn owner_reason(lin: &Lineage, owner: ProcKey) -> String {
    match lin {
        Lineage::Descends(_) => format!("descends from live agent {}", owner.pid),
        Lineage::Remembered(a) if *a == owner => format!(
            "an earlier cycle saw it descend from agent {}, which lives",
            owner.pid
        ),
        Lineage::Named {
            marker,
            live: Some(k),
            ..
        } if *k == owner => format!("{marker} names pid {}, which lives", owner.pid),
        _ => format!(
            "another lineage source names live process {} as its agent",
            owner.pid
        ),
    }
}

/// Below a leftover or an undecided process, every environment counts:
/// asking for the whole subtree at once bounds the reader's rounds.
fn subtree_env_wanted(
    input: &Input,
    t: &Table,
    outcome: &[Outcome],
    found: &[Option<Found>],
    env_wanted: &mut BTreeSet<ProcKey>,
) {
    let open = |o: &Outcome| matches!(o, Outcome::Leftover | Outcome::Undecided);
    for (i, o) in outcome.iter().enumerate() {
        // Subtree roots only: a subtree below another is already covered.
        let parent_open = t
            .get(input.procs[i].ppid)
            .is_some_and(|j| open(&outcome[j]));
        if open(o) && !parent_open {
            for d in t.descendants(i) {
                if found[d].is_none() && !input.procs[d].agent {
                    env_wanted.insert(input.procs[d].key);
                }
            }
        }
    }
}

/// Footprint: each live agent's descendants plus the members it owns by
/// remembered descent or a pid marker.
/// `below`: each agent's descendants (by index).
fn footprints(
    input: &Input,
    t: &Table,
    below: &BTreeMap<usize, Vec<usize>>,
    owner_live: &[Option<ProcKey>],
) -> BTreeMap<ProcKey, Footprint> {
    let mut families: BTreeMap<ProcKey, BTreeSet<usize>> = BTreeMap::new();
    for (&i, desc) in below {
        families
            .entry(input.procs[i].key)
            .or_default()
            .extend(desc.iter().copied());
    }
    for (i, owner) in owner_live.iter().enumerate() {
        if let (Some(owner), false) = (owner, input.procs[i].agent) {
            if let Some(members) = families.get_mut(owner) {
                members.insert(i);
                members.extend(t.descendants(i));
            }
        }
    }
    families
        .iter()
        .map(|(agent, members)| {
            let members = members.iter().filter(|&&m| input.procs[m].key != *agent);
            let mut fp = Footprint::default();
            for &m in members {
                fp.processes += 1;
                fp.rss_bytes = fp.rss_bytes.saturating_add(input.procs[m].rss_bytes);
            }
            (*agent, fp)
        })
        .collect()
}

/// Live agents' descendants now, merged with what was remembered and is
/// still in the table. A dead agent's entry stays while any member lives
/// (that is when it is needed) and goes with its last member.
fn next_remembered(
    input: &Input,
    rules: &Rules,
    t: &Table,
    below: &BTreeMap<usize, Vec<usize>>,
) -> BTreeMap<ProcKey, BTreeSet<ProcKey>> {
    let mut next: BTreeMap<ProcKey, BTreeSet<ProcKey>> = BTreeMap::new();
    for (agent, members) in &input.remembered {
        let alive: BTreeSet<ProcKey> = members.iter().copied().filter(|m| t.alive(*m)).collect();
        if !alive.is_empty() {
            next.insert(*agent, alive);
        }
    }
    for (&i, desc) in below {
        let entry = next.entry(input.procs[i].key).or_default();
        entry.extend(desc.iter().map(|&d| input.procs[d].key));
    }
    // Bounds: keep the newest members (highest start time) per agent and
    // the newest agents.
    for members in next.values_mut() {
        while members.len() > rules.remember_per_agent {
            let oldest = members
                .iter()
                .min_by_key(|k| (k.start_time, k.pid))
                .copied();
            match oldest {
                Some(k) => members.remove(&k),
                None => break,
            };
        }
    }
    while next.len() > rules.remember_agents {
        let oldest = next.keys().min_by_key(|k| (k.start_time, k.pid)).copied();
        match oldest {
            Some(k) => next.remove(&k),
            None => break,
        };
    }
    next
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn display_sockets_are_x11_and_wayland_only() {
        for yes in [
            "/tmp/.X11-unix/X0",
            "/tmp/.X11-unix/X1024",
            "@/tmp/.X11-unix/X0",
            "/tmp/.X11-unix/X0".trim_start_matches('@'),
            "/run/user/1000/wayland-0",
            "wayland-1",
        ] {
            assert!(is_display_socket(yes), "{yes}");
        }
        for no in [
            "/tmp/.X11-unix/",
            "/tmp/.X11-unix/Xa",
            "/run/user/1000/wayland-0.lock",
            "/run/user/1000/bus",
            "/tmp/cc-socks/3156.sock",
            "",
        ] {
            assert!(!is_display_socket(no), "{no}");
        }
    }

    #[test]
    fn marker_entries_parse_back() {
        for m in default_markers() {
            assert_eq!(Marker::parse(&m.entry(), &m.agent).unwrap(), m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pid: i32, start_time: u64) -> ProcKey {
        ProcKey { pid, start_time }
    }

    /// A synthetic table: processes with their environment read (empty
    /// unless given), start time = 100 × pid unless set.
    #[derive(Default)]
    struct World {
        input: Input,
    }

    impl World {
        fn add(&mut self, pid: i32, ppid: i32, comm: &str) -> &mut ProcView {
            let mut v = ProcView::new(pid, 100 * pid as u64, ppid, comm);
            v.env = Some(Vec::new());
            v.reaper_parent = ppid == 1;
            self.input.procs.push(v);
            self.input.procs.last_mut().unwrap()
        }
        fn agent(&mut self, pid: i32, ppid: i32) -> &mut ProcView {
            let v = self.add(pid, ppid, "claude");
            v.agent = true;
            v
        }
        /// A Claude Code `bg-pty-host` (no rule makes it an agent).
        fn pty_host(&mut self, pid: i32, ppid: i32) -> &mut ProcView {
            let v = self.add(pid, ppid, "claude.exe");
            v.args = ["claude bg-pty-host", "--bg-pty-host", "/tmp/a.pty.sock"]
                .map(String::from)
                .to_vec();
            v
        }
        fn decide(&self) -> Decision {
            decide(&self.input, &Rules::default())
        }
    }

    fn env<K: AsRef<str>, V: AsRef<str>>(v: &mut ProcView, pairs: &[(K, V)]) {
        v.env = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
                .collect(),
        );
    }

    fn outcome(d: &Decision, pid: i32) -> Outcome {
        d.verdict(pid).unwrap().outcome.clone()
    }

    fn reason(d: &Decision, pid: i32) -> String {
        d.verdict(pid).unwrap().reason.clone()
    }

    const UUID_A: &str = "58989cbc-9e9f-48f8-80d3-c1c651b623af";
    const UUID_B: &str = "26f09ce0-714d-40fc-b0a6-6796ae603a2b";

    /// The environment Claude Code 2.1.332 gives a shell-tool process.
    fn claude_shell_env(claude_pid: i32, session: &str) -> Vec<(String, String)> {
        let sock = format!("/tmp/cc-socks/{claude_pid}.sock");
        let pid = claude_pid.to_string();
        [
            ("AI_AGENT", "claude-code_2-1-332_agent"),
            ("CLAUDECODE", "1"),
            ("CLAUDE_CODE_SESSION_ID", session),
            ("CLAUDE_CODE_MESSAGING_SOCKET", sock.as_str()),
            ("CLAUDE_PID", pid.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The environment Claude Code gives an MCP server: no CLAUDE_PID.
    fn claude_mcp_env(claude_pid: i32, session: &str) -> Vec<(String, String)> {
        let mut e = claude_shell_env(claude_pid, session);
        e.retain(|(k, _)| k != "CLAUDE_PID");
        e[0].1 = "claude-code_2-1-332_harness".into();
        e
    }

    #[test]
    fn marker_entries_parse_by_kind() {
        let m = Marker::parse("CLAUDE_CODE_SESSION_ID", "claude").unwrap();
        assert_eq!(m.kind, MarkerKind::Session);
        assert!(m.names_session());
        assert_eq!(
            Marker::parse("CLAUDE_PID=<pid>", "claude").unwrap().kind,
            MarkerKind::Pid
        );
        let c = Marker::parse("CODEX_VERSION=*", "codex").unwrap();
        assert_eq!(c.kind, MarkerKind::Constant(None));
        assert!(!c.names_session());
        assert_eq!(
            Marker::parse("CLAUDECODE=1", "claude").unwrap().kind,
            MarkerKind::Constant(Some("1".into()))
        );
        for bad in ["", "=1", "A B", "=<pid>"] {
            let e = Marker::parse(bad, "custom").unwrap_err();
            assert!(e.contains("[family] env entry"), "{e}");
        }
    }

    #[test]
    fn defaults_tell_session_markers_from_constant_ones() {
        let d = default_markers();
        let kind = |n: &str| d.iter().find(|m| m.name == n).unwrap().names_session();
        for session in [
            "CLAUDE_CODE_SESSION_ID",
            "CLAUDE_CODE_MESSAGING_SOCKET",
            "CLAUDE_PID",
            "CODEX_THREAD_ID",
            "CODEX_SESSION_ID",
            "OPENCODE_PID",
        ] {
            assert!(kind(session), "{session} names a session");
        }
        for constant in [
            "CLAUDECODE",
            "AI_AGENT",
            "CODEX_CI",
            "CODEX_VERSION",
            "CODEX_MANAGED_BY_NPM",
            "GEMINI_CLI",
            "OPENCODE",
        ] {
            assert!(!kind(constant), "{constant} is the same in every session");
        }
    }

    #[test]
    fn config_entries_keep_their_agent_and_name_bad_ones() {
        let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = markers_from_config(&e(&["CODEX_CI=1", "MY_SESSION", "MY_PID=<pid>"])).unwrap();
        assert_eq!(m[0].agent, "codex");
        assert_eq!(m[1].agent, "custom");
        assert_eq!(m[1].kind, MarkerKind::Session);
        assert_eq!(m[2].kind, MarkerKind::Pid);
        let err = markers_from_config(&e(&["OK", "BAD NAME"])).unwrap_err();
        assert!(err.contains("\"BAD NAME\""), "{err}");
        assert_eq!(
            keep_from_config(&e(&["STRAY_KEEP=1", "KEEPME"])).unwrap(),
            vec![
                ("STRAY_KEEP".into(), Some("1".into())),
                ("KEEPME".into(), None)
            ]
        );
        assert!(keep_from_config(&e(&["=1"]))
            .unwrap_err()
            .contains("[protect] env"));
        // A keep marker without a value keeps whatever its value.
        let mut w = World::default();
        env(w.add(40, 1, "node"), &[("CLAUDE_PID", "9"), ("KEEPME", "")]);
        let rules = Rules {
            keep: keep_from_config(&e(&["KEEPME"])).unwrap(),
            ..Rules::default()
        };
        assert_eq!(
            decide(&w.input, &rules).verdict(40).unwrap().outcome,
            Outcome::Kept
        );
    }

    #[test]
    fn pid_values_are_numbers_or_pid_named_files() {
        assert_eq!(pid_in_value("3156"), Some(3156));
        assert_eq!(pid_in_value("/tmp/cc-socks/3156.sock"), Some(3156));
        assert_eq!(pid_in_value("/tmp/x/3156"), Some(3156));
        for none in [
            "",
            "0",
            "-5",
            "abc",
            "/tmp/cc-socks/x1.sock",
            UUID_A,
            "/tmp/",
            "99999999999",
        ] {
            assert_eq!(pid_in_value(none), None, "{none:?}");
        }
    }

    #[test]
    fn background_roles_from_observed_argv() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let exe = "/home/u/node_modules/@anthropic-ai/claude-code/bin/claude.exe";
        assert_eq!(
            background_role(&v(&[exe, "daemon", "run", "--origin", "transient"])),
            Some(BackgroundRole::Daemon)
        );
        assert_eq!(
            background_role(&v(&[
                "/home/u/.local/share/claude/versions/2.1.332",
                "daemon",
                "run"
            ])),
            Some(BackgroundRole::Daemon)
        );
        assert_eq!(
            background_role(&v(&[
                "claude bg-pty-host",
                "--bg-pty-host",
                "/tmp/s.sock",
                "200"
            ])),
            Some(BackgroundRole::PtyHost)
        );
        assert_eq!(
            background_role(&v(&["claude bg-spare", "--bg-spare", "/tmp/c.claim.sock"])),
            Some(BackgroundRole::Spare)
        );
        // Not Claude's, or not a background session.
        assert_eq!(
            background_role(&v(&["/usr/bin/foo", "daemon", "run"])),
            None
        );
        assert_eq!(background_role(&v(&["claude", "-p", "daemon run"])), None);
        assert_eq!(background_role(&v(&["claude", "daemon", "status"])), None);
        assert_eq!(background_role(&[]), None);
    }

    #[test]
    fn live_agent_family_is_kept_whatever_its_shape() {
        let mut w = World::default();
        w.agent(10, 5);
        w.add(5, 1, "bash").live_tty = true;
        // MCP server child, wrapped grandchild.
        env(w.add(11, 10, "python3"), &claude_mcp_env(10, UUID_A));
        env(w.add(12, 10, "sh"), &claude_mcp_env(10, UUID_A));
        env(w.add(13, 12, "node"), &claude_mcp_env(10, UUID_A));
        // A `setsid nohup` job re-parented to init while claude lives.
        env(w.add(20, 1, "sleep"), &claude_shell_env(10, UUID_A));
        let d = w.decide();
        for pid in [11, 12, 13, 20] {
            assert_eq!(
                outcome(&d, pid),
                Outcome::Kept,
                "{pid}: {}",
                reason(&d, pid)
            );
        }
        assert!(reason(&d, 13).contains("descends from live agent 10"));
        assert!(
            reason(&d, 20).contains("names pid 10, which lives"),
            "{}",
            reason(&d, 20)
        );
        assert_eq!(d.leftovers().count(), 0);
    }

    #[test]
    fn claude_survivors_after_kill_are_leftovers() {
        // The shapes the real Claude Code left after `kill -9` (docs/agents.md):
        // the wrapped MCP server (its `sh` died) and two shell-tool jobs.
        let mut w = World::default();
        w.add(1, 0, "systemd");
        env(w.add(30, 1, "python3"), &claude_mcp_env(10, UUID_A));
        env(w.add(31, 1, "sleep"), &claude_shell_env(10, UUID_A));
        env(w.add(32, 1, "sleep"), &claude_shell_env(10, UUID_A));
        // A headless browser under the MCP server: no markers of its own.
        w.add(33, 30, "chrome");
        w.add(34, 33, "chrome");
        let d = w.decide();
        for pid in [30, 31, 32, 33, 34] {
            assert_eq!(
                outcome(&d, pid),
                Outcome::Leftover,
                "{pid}: {}",
                reason(&d, pid)
            );
        }
        assert!(reason(&d, 30).contains("CLAUDE_CODE_MESSAGING_SOCKET names pid 10, which is gone"));
        assert!(
            reason(&d, 34).contains("below leftover 33"),
            "{}",
            reason(&d, 34)
        );
        assert_eq!(outcome(&d, 1), Outcome::NotFamily);
    }

    #[test]
    fn a_pid_marker_naming_a_younger_process_ties_nothing() {
        let mut w = World::default();
        // pid 50 was claude once; now it is a younger agent (pid reused).
        env(w.add(40, 1, "sleep"), &claude_shell_env(50, UUID_A));
        w.agent(50, 1);
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Leftover, "{}", reason(&d, 40));
        assert!(matches!(
            d.verdict(40).unwrap().lineage,
            Some(Lineage::Named {
                pid: 50,
                live: None,
                ..
            })
        ));
        // The younger agent's footprint does not count it.
        assert_eq!(d.footprints[&key(50, 5000)].processes, 0);
        // Nor does its own shell job, which names pid 50 too, keep the old
        // one alive (pid values are never shared values).
        env(w.add(51, 50, "bash"), &claude_shell_env(50, UUID_B));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Leftover, "{}", reason(&d, 40));
    }

    #[test]
    fn a_pid_marker_naming_an_older_live_process_keeps_it() {
        // Even when that process is not matched as an agent (`claude.exe`
        // from the npm package): only the original can be older.
        let mut w = World::default();
        w.add(10, 1, "claude.exe");
        env(w.add(40, 1, "sleep"), &claude_shell_env(10, UUID_A));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Kept, "{}", reason(&d, 40));
    }

    #[test]
    fn codex_mcp_servers_are_tied_only_by_remembered_descent() {
        let codex = key(10, 1000);
        let mut w = World::default();
        // No markers at all (codex's allow-listed MCP environment).
        w.add(11, 1, "python3");
        w.add(12, 1, "python3");
        w.input
            .remembered
            .insert(codex, BTreeSet::from([key(11, 1100)]));
        let d = w.decide();
        assert_eq!(outcome(&d, 11), Outcome::Leftover, "{}", reason(&d, 11));
        assert!(reason(&d, 11).contains("remembered descent"));
        // Never seen under an agent, no marker: not anyone's family.
        assert_eq!(outcome(&d, 12), Outcome::NotFamily);
        // The dead codex's entry stays while its member lives.
        assert_eq!(d.next_remembered[&codex], BTreeSet::from([key(11, 1100)]));
    }

    #[test]
    fn remembered_descent_of_a_live_agent_keeps_a_reparented_job() {
        let mut w = World::default();
        w.agent(10, 1);
        w.add(11, 1, "node");
        w.input
            .remembered
            .insert(key(10, 1000), BTreeSet::from([key(11, 1100)]));
        let d = w.decide();
        assert_eq!(outcome(&d, 11), Outcome::Kept);
        assert!(
            reason(&d, 11).contains("earlier cycle"),
            "{}",
            reason(&d, 11)
        );
        assert_eq!(d.footprints[&key(10, 1000)].processes, 1);
    }

    #[test]
    fn remembered_member_with_a_new_start_time_is_another_process() {
        let mut w = World::default();
        w.add(11, 1, "python3").key.start_time = 7777;
        w.input
            .remembered
            .insert(key(10, 1000), BTreeSet::from([key(11, 1100)]));
        let d = w.decide();
        assert_eq!(outcome(&d, 11), Outcome::NotFamily);
        assert!(d.next_remembered.is_empty(), "a gone member is dropped");
    }

    fn codex_shell_env(thread: &str) -> Vec<(String, String)> {
        [
            ("CODEX_CI", "1"),
            ("CODEX_MANAGED_BY_NPM", "1"),
            ("CODEX_VERSION", "0.171.0"),
            ("CODEX_THREAD_ID", thread),
            ("CODEX_SESSION_ID", thread),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn constant_markers_never_keep_a_dead_session_alive() {
        let mut w = World::default();
        // A live codex, its shell running now: CODEX_CI=1, thread B.
        w.agent(10, 5).comm = "codex".into();
        env(w.add(11, 10, "bash"), &codex_shell_env(UUID_B));
        // A dead codex's `setsid nohup` job: same constants, thread A.
        env(w.add(40, 1, "node"), &codex_shell_env(UUID_A));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Leftover, "{}", reason(&d, 40));
        assert_eq!(outcome(&d, 11), Outcome::Kept);
    }

    #[test]
    fn a_shared_session_value_keeps_a_job_alive() {
        let mut w = World::default();
        w.agent(10, 5).comm = "codex".into();
        env(w.add(11, 10, "bash"), &codex_shell_env(UUID_A));
        // A job of the same thread, re-parented while codex lives.
        env(w.add(40, 1, "node"), &codex_shell_env(UUID_A));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Kept);
        assert!(
            reason(&d, 40).contains("shares CODEX_THREAD_ID"),
            "{}",
            reason(&d, 40)
        );
    }

    #[test]
    fn a_value_a_live_agent_holds_keeps_the_job_alive() {
        // codex keeps rollout-…-<thread>.jsonl open; the reader passes the
        // thread id as a held value.
        let mut w = World::default();
        w.agent(10, 5).comm = "codex".into();
        env(w.add(40, 1, "node"), &codex_shell_env(UUID_A));
        assert_eq!(outcome(&w.decide(), 40), Outcome::Leftover);
        w.input
            .held_values
            .insert(key(10, 1000), BTreeSet::from([UUID_A.to_string()]));
        assert_eq!(outcome(&w.decide(), 40), Outcome::Kept);
        // A holder that is gone (another start time) holds nothing.
        let held = w.input.held_values.remove(&key(10, 1000)).unwrap();
        w.input.held_values.insert(key(10, 999), held);
        assert_eq!(outcome(&w.decide(), 40), Outcome::Leftover);
    }

    #[test]
    fn session_values_in_held_paths() {
        let thread = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let codex =
            format!("/h/.codex/sessions/2026/12/03/rollout-2026-12-03T10-00-00-{thread}.jsonl");
        assert_eq!(
            held_session_values(&codex),
            BTreeSet::from([thread.to_string()])
        );
        let claude = format!("/tmp/claude-0/-work-proj/{UUID_A}/tasks/b1x9.output");
        assert_eq!(
            held_session_values(&claude),
            BTreeSet::from([UUID_A.to_string()])
        );
        for none in [
            "/usr/lib/libc.so.6",
            "/dev/null",
            // Not uuids: a hex run too long, a group too short.
            &format!("/x/a{UUID_A}"),
            "/x/0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5",
            "",
        ] {
            assert!(held_session_values(none).is_empty(), "{none}");
        }
        // Multibyte text around a uuid is no trouble.
        let odd = format!("/tmp/é{UUID_B}ü");
        assert_eq!(
            held_session_values(&odd),
            BTreeSet::from([UUID_B.to_string()])
        );
    }

    #[test]
    fn held_files_are_asked_for_only_when_a_verdict_compares_session_values() {
        let mut w = World::default();
        w.agent(10, 5).comm = "codex".into();
        w.add(40, 1, "sleep").env = Some(Vec::new());
        assert!(w.decide().held_wanted.is_empty(), "no member with markers");
        env(w.add(41, 1, "node"), &codex_shell_env(UUID_A));
        assert_eq!(w.decide().held_wanted, BTreeSet::from([key(10, 1000)]));
        // Asked once: a holder already read is not asked again.
        w.input.held_values.insert(key(10, 1000), BTreeSet::new());
        assert!(w.decide().held_wanted.is_empty());
    }

    #[test]
    fn a_pid_marker_from_another_pid_namespace_names_nobody_here() {
        let mut w = World::default();
        // Host pid 2 is some other process; the member's marker means pid 2
        // of its own namespace.
        w.add(2, 1, "kworker");
        let m = w.add(40, 1, "sleep");
        env(m, &[("OPENCODE_PID", "2"), ("OPENCODE", "1")]);
        m.foreign_pid_ns = true;
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Undecided, "{}", reason(&d, 40));
        assert!(
            reason(&d, 40).contains("another PID namespace"),
            "{}",
            reason(&d, 40)
        );
        assert!(
            !matches!(
                d.verdict(40).and_then(|v| v.lineage.clone()),
                Some(Lineage::Named { .. })
            ),
            "not tied to host pid 2"
        );
        // In the table's own namespace the same marker ties it to pid 2.
        w.input
            .procs
            .iter_mut()
            .find(|p| p.key.pid == 40)
            .unwrap()
            .foreign_pid_ns = false;
        let d = w.decide();
        assert!(
            matches!(
                d.verdict(40).and_then(|v| v.lineage.clone()),
                Some(Lineage::Named { pid: 2, .. })
            ),
            "{:?}",
            d.verdict(40)
        );
    }

    #[test]
    fn the_pid_namespace_matters_only_where_no_live_agent_is_above() {
        let mut w = World::default();
        w.agent(10, 5).env = None;
        w.add(40, 1, "sleep").env = None;
        w.add(41, 10, "node").env = None;
        // A dead session's member compares session values: the live
        // family's environments are wanted too.
        env(w.add(42, 1, "bash"), &claude_shell_env(60, UUID_A));
        let d = w.decide();
        for k in [key(10, 1000), key(40, 4000), key(41, 4100)] {
            assert!(
                d.env_wanted.contains(&k),
                "{k:?} not wanted: {:?}",
                d.env_wanted
            );
        }
        assert_eq!(d.pid_ns_matters, BTreeSet::from([key(40, 4000)]));
    }

    #[test]
    fn an_ancestor_of_a_live_agent_is_never_a_leftover() {
        // A dead session's shell (pid marker only, like opencode's) that
        // started a nested agent with `nohup … &`: taking the shell would
        // orphan a live agent.
        let mut w = World::default();
        env(
            w.add(40, 1, "sh"),
            &[("OPENCODE_PID", "60"), ("OPENCODE", "1")],
        );
        w.agent(41, 40);
        env(w.add(42, 41, "node"), &[("OPENCODE_PID", "41")]);
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Kept, "{}", reason(&d, 40));
        assert!(
            reason(&d, 40).contains("ancestor of live agent 41"),
            "{}",
            reason(&d, 40)
        );
        // Its sibling without an agent below is taken.
        env(
            w.add(43, 1, "sleep"),
            &[("OPENCODE_PID", "60"), ("OPENCODE", "1")],
        );
        assert_eq!(outcome(&w.decide(), 43), Outcome::Leftover);
    }

    #[test]
    fn a_holder_whose_open_files_are_unknown_keeps_what_it_may_hold() {
        let mut w = World::default();
        w.agent(10, 5).comm = "codex".into();
        env(w.add(41, 1, "node"), &codex_shell_env(UUID_B));
        w.input.held_values.insert(key(10, 1000), BTreeSet::new());
        assert_eq!(outcome(&w.decide(), 41), Outcome::Leftover);
        // The agent's fds could not be read: the codex job is not taken.
        w.input.held_unknown.insert(key(10, 1000));
        let d = w.decide();
        assert_eq!(outcome(&d, 41), Outcome::Undecided, "{}", reason(&d, 41));
        assert!(
            reason(&d, 41).contains("could not be read"),
            "{}",
            reason(&d, 41)
        );
        // A Claude job whose CLAUDE_PID names its gone TUI asks only
        // background sessions: an unknown agent does not hold it back...
        env(w.add(40, 1, "bash"), &claude_shell_env(60, UUID_A));
        assert_eq!(outcome(&w.decide(), 40), Outcome::Leftover);
        // ...an unknown background session does.
        w.pty_host(100, 1);
        w.input.held_values.insert(key(100, 10000), BTreeSet::new());
        w.input.held_unknown.insert(key(100, 10000));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Undecided, "{}", reason(&d, 40));
        // A holder that is gone (another start time) counts for nothing.
        w.input.held_unknown = BTreeSet::from([key(100, 9999), key(10, 999)]);
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Leftover, "{}", reason(&d, 40));
        assert_eq!(outcome(&d, 41), Outcome::Leftover, "{}", reason(&d, 41));
    }

    #[test]
    fn a_member_whose_pid_marker_names_its_gone_agent_asks_only_background_holders() {
        let mut w = World::default();
        w.agent(10, 5).comm = "codex".into();
        w.pty_host(100, 1);
        // Claude's adopted job: CLAUDE_PID names the exited TUI (pid 60).
        env(w.add(40, 1, "bash"), &claude_shell_env(60, UUID_A));
        let d = w.decide();
        assert_eq!(
            d.held_wanted,
            BTreeSet::from([key(100, 10000)]),
            "{:?}",
            d.held_wanted
        );
        // A codex job (no pid marker) may be held by any live agent.
        env(w.add(41, 1, "node"), &codex_shell_env(UUID_B));
        let d = w.decide();
        assert_eq!(
            d.held_wanted,
            BTreeSet::from([key(10, 1000), key(100, 10000)]),
            "{:?}",
            d.held_wanted
        );
    }

    #[test]
    fn never_leftover_rules() {
        type Case = (&'static str, fn(&mut ProcView), &'static str);
        let cases: [Case; 7] = [
            (
                "multiplexer",
                |v| v.multiplexer_server = true,
                "multiplexer server",
            ),
            ("protected", |v| v.protected = true, "protected"),
            ("live tty", |v| v.live_tty = true, "live terminal"),
            (
                "pty master",
                |v| v.holds_live_terminal = true,
                "master of a terminal",
            ),
            ("display", |v| v.display_client = true, "display server"),
            ("serves", |v| v.serves_live = true, "serves a live process"),
            (
                "keep marker",
                |v| {
                    v.env
                        .as_mut()
                        .unwrap()
                        .push(("STRAY_KEEP".into(), "1".into()))
                },
                "keep marker STRAY_KEEP=1",
            ),
        ];
        for (what, set, why) in cases {
            let mut w = World::default();
            let v = w.add(40, 1, "tmux: server");
            env(v, &claude_shell_env(10, UUID_A));
            set(v);
            // Its child would be below a leftover if 40 were one.
            env(w.add(41, 40, "node"), &claude_shell_env(10, UUID_A));
            let d = w.decide();
            assert_eq!(outcome(&d, 40), Outcome::Kept, "{what}: {}", reason(&d, 40));
            assert!(reason(&d, 40).contains(why), "{what}: {}", reason(&d, 40));
            assert_ne!(outcome(&d, 41), Outcome::Leftover, "{what}");
        }
    }

    #[test]
    fn keep_marker_needs_its_value() {
        let mut w = World::default();
        let v = w.add(40, 1, "node");
        env(v, &claude_shell_env(10, UUID_A));
        v.env
            .as_mut()
            .unwrap()
            .push(("STRAY_KEEP".into(), "0".into()));
        assert_eq!(outcome(&w.decide(), 40), Outcome::Leftover);
    }

    #[test]
    fn a_member_under_a_live_parent_is_not_orphan_shaped() {
        let mut w = World::default();
        w.add(5, 1, "bash").live_tty = true;
        env(w.add(40, 5, "node"), &claude_shell_env(10, UUID_A));
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Kept);
        assert!(
            reason(&d, 40).contains("parent lives"),
            "{}",
            reason(&d, 40)
        );
    }

    #[test]
    fn claude_background_session_is_never_a_leftover() {
        // The tree the real `claude --bg` started (docs/agents.md), with
        // the daemon matched as an agent (native installer) or not.
        for daemon_is_agent in [false, true] {
            let mut w = World::default();
            let s = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let d = w.add(100, 1, "claude.exe");
            d.args = s(&["/x/claude.exe", "daemon", "run", "--origin", "transient"]);
            d.agent = daemon_is_agent;
            w.pty_host(101, 100);
            let sp = w.add(102, 101, "claude.exe");
            sp.args = s(&["claude bg-spare", "--bg-spare", "/tmp/a.claim.sock"]);
            env(w.add(103, 102, "python3"), &claude_mcp_env(102, UUID_A));
            // The job adopted from the TUI that moved to the background:
            // ppid 1, CLAUDE_PID names the exited TUI (pid 60).
            env(w.add(110, 1, "bash"), &claude_shell_env(60, UUID_B));
            w.add(111, 110, "sleep");
            w.input
                .held_values
                .insert(key(102, 10200), BTreeSet::from([UUID_B.to_string()]));
            let dec = w.decide();
            for pid in [101, 102, 103, 110, 111] {
                assert_ne!(
                    outcome(&dec, pid),
                    Outcome::Leftover,
                    "{pid} (daemon agent: {daemon_is_agent}): {}",
                    reason(&dec, pid)
                );
            }
            assert!(reason(&dec, 110).contains("shares CLAUDE_CODE_SESSION_ID"));
            if !daemon_is_agent {
                assert!(
                    reason(&dec, 101).contains("claude bg-pty-host"),
                    "{}",
                    reason(&dec, 101)
                );
            }
        }
    }

    #[test]
    fn ownerless_constant_only_member_is_held_while_that_agent_runs() {
        let mut w = World::default();
        let gemini = [("GEMINI_CLI".to_string(), "1".to_string())];
        env(w.add(40, 1, "sleep"), &[("GEMINI_CLI", "1")]);
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Leftover, "{}", reason(&d, 40));
        assert!(reason(&d, 40).contains("no live session owns its markers"));
        // A live Gemini session (matched as an agent) shows the marker.
        let g = w.agent(10, 5);
        g.comm = "node".into();
        w.add(11, 10, "python3").env = Some(gemini.to_vec());
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Kept);
        assert!(
            reason(&d, 40).contains("cannot tell whose"),
            "{}",
            reason(&d, 40)
        );
    }

    #[test]
    fn unread_environments_are_asked_for_and_never_taken() {
        let mut w = World::default();
        w.agent(10, 5);
        w.add(11, 10, "python3").env = None; // live family
        w.add(40, 1, "node").env = None; // orphan-shaped
        w.add(41, 40, "chrome").env = None; // below it
        w.add(5, 1, "bash").live_tty = true;
        w.add(6, 5, "vim").env = None; // under a live shell: not needed
        let d = w.decide();
        assert_eq!(outcome(&d, 40), Outcome::Undecided);
        // First the would-be leftovers and what is below them; the live
        // family only once a verdict compares session values.
        assert_eq!(d.env_wanted, BTreeSet::from([key(40, 4000), key(41, 4100)]));
        assert_eq!(
            decide_round(&w.input, &Rules::default()).env_wanted,
            d.env_wanted
        );
        // Second round: 40 carries a dead session's markers.
        let claude = claude_shell_env(99, UUID_A);
        for v in &mut w.input.procs {
            if d.env_wanted.contains(&v.key) {
                v.env = Some(if v.key.pid == 40 {
                    claude.clone()
                } else {
                    Vec::new()
                });
            }
        }
        let d = w.decide();
        assert_eq!(d.env_wanted, BTreeSet::from([key(11, 1100)]));
        assert_eq!(outcome(&d, 40), Outcome::Leftover);
        // Third round: the live family carries another session.
        for v in &mut w.input.procs {
            if v.key.pid == 11 {
                v.env = Some(claude_shell_env(10, UUID_B));
            }
        }
        let d = w.decide();
        assert!(d.env_wanted.is_empty(), "{:?}", d.env_wanted);
        assert_eq!(outcome(&d, 40), Outcome::Leftover);
        assert_eq!(outcome(&d, 41), Outcome::Leftover);
    }

    #[test]
    fn footprint_counts_descendants_and_owned_members() {
        let mut w = World::default();
        w.agent(10, 5).rss_bytes = 1 << 30;
        w.add(11, 10, "node").rss_bytes = 100;
        w.add(12, 11, "chrome").rss_bytes = 200;
        let j = w.add(20, 1, "sleep");
        j.rss_bytes = 300;
        env(j, &claude_shell_env(10, UUID_A));
        w.add(21, 20, "sleep").rss_bytes = 400;
        w.agent(50, 5);
        let d = w.decide();
        assert_eq!(
            d.footprints[&key(10, 1000)],
            Footprint {
                processes: 4,
                rss_bytes: 1000
            }
        );
        assert_eq!(d.footprints[&key(50, 5000)], Footprint::default());
    }

    #[test]
    fn footprint_of_an_app_server_with_many_children() {
        let mut w = World::default();
        w.agent(10, 1).comm = "codex".into();
        for pid in 100..1115 {
            w.add(pid, 10, "node").rss_bytes = 72_000_000;
        }
        let d = w.decide();
        let fp = d.footprints[&key(10, 1000)];
        assert_eq!(fp.processes, 1015);
        assert_eq!(fp.rss_bytes, 1015 * 72_000_000);
        assert_eq!(d.leftovers().count(), 0);
    }

    #[test]
    fn next_remembered_records_live_descendants_within_bounds() {
        let mut w = World::default();
        w.agent(10, 5);
        w.add(11, 10, "a");
        w.add(12, 11, "b");
        w.add(13, 10, "c");
        let rules = Rules {
            remember_per_agent: 2,
            remember_agents: 1,
            ..Rules::default()
        };
        // An old entry of a dead agent with a live member, and an older one.
        w.add(40, 1, "x");
        w.input
            .remembered
            .insert(key(3, 1), BTreeSet::from([key(40, 4000)]));
        let d = decide(&w.input, &rules);
        // One agent kept: the newest (the live one); its two newest members.
        assert_eq!(d.next_remembered.len(), 1);
        assert_eq!(
            d.next_remembered[&key(10, 1000)],
            BTreeSet::from([key(12, 1200), key(13, 1300)])
        );
    }

    #[test]
    fn a_ppid_cycle_ends_the_walk() {
        let mut w = World::default();
        env(w.add(40, 41, "a"), &claude_shell_env(10, UUID_A));
        env(w.add(41, 40, "b"), &claude_shell_env(10, UUID_A));
        let d = w.decide();
        // Neither is orphan-shaped: nothing is taken.
        assert_eq!(d.leftovers().count(), 0);
    }

    #[test]
    fn agents_are_left_to_the_agent_rules() {
        let mut w = World::default();
        env(w.agent(10, 1), &claude_shell_env(99, UUID_A));
        let d = w.decide();
        assert_eq!(outcome(&d, 10), Outcome::NotFamily);
        assert!(reason(&d, 10).contains("an agent"));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        const UUIDS: [&str; 3] = [UUID_A, UUID_B, "01a23bda-f291-7011-8022-873c6723e900"];
        const CONSTANTS: [(&str, &str); 6] = [
            ("CLAUDECODE", "1"),
            ("AI_AGENT", "claude-code_2-1-332_agent"),
            ("CODEX_CI", "1"),
            ("CODEX_VERSION", "0.171.0"),
            ("GEMINI_CLI", "1"),
            ("OPENCODE", "1"),
        ];

        /// One random process: (parent choice, start, flags bitmask, env
        /// choice or None, marker pid, uuid index, background role).
        type Raw = (usize, u64, u16, Option<u8>, usize, usize, u8);
        /// (agent index, exact start time?, members (index, exact?)).
        type RawRemembered = (usize, bool, Vec<(usize, bool)>);

        fn world(raw: &[Raw], remembered: &[RawRemembered], held: &[(usize, usize)]) -> Input {
            let n = raw.len();
            let mut procs = vec![{
                let mut init = ProcView::new(1, 0, 0, "systemd");
                init.env = Some(Vec::new());
                init
            }];
            for (i, &(parent, start, flags, envc, mpid, u, role)) in raw.iter().enumerate() {
                let pid = i as i32 + 2;
                // A parent among the earlier processes or init; now and then a
                // later one (a child that outlived a re-used pid's order).
                let ppid = if parent % 4 == 0 {
                    1
                } else {
                    (parent % (n + 1)) as i32 + 1
                };
                let mut v = ProcView::new(pid, start, if ppid == pid { 1 } else { ppid }, "p");
                let bit = |b: u16| flags & (1 << b) != 0;
                v.reaper_parent = v.ppid == 1;
                v.agent = bit(0) && bit(1); // about 1 in 4
                v.live_tty = bit(2) && bit(3) && bit(4);
                v.protected = bit(5) && bit(6) && bit(7) && bit(8);
                v.multiplexer_server = bit(9) && bit(5) && bit(6) && bit(7);
                v.holds_live_terminal = bit(10) && bit(6) && bit(7) && bit(8);
                v.display_client = bit(11) && bit(5) && bit(7) && bit(8);
                v.serves_live = bit(12) && bit(13) && bit(3);
                v.rss_bytes = u64::from(flags);
                v.args = match role % 16 {
                    0 => vec!["claude bg-pty-host".into(), "--bg-pty-host".into()],
                    1 => vec!["claude.exe".into(), "daemon".into(), "run".into()],
                    _ => vec!["p".into()],
                };
                let named = (mpid % (n + 4)) as i32 + 1;
                let uuid = UUIDS[u % UUIDS.len()];
                v.env = envc.map(|c| {
                    let mut e: Vec<(String, String)> = Vec::new();
                    let mut push = |k: &str, val: String| e.push((k.to_string(), val));
                    if c & 1 != 0 {
                        push("CLAUDE_CODE_SESSION_ID", uuid.into());
                    }
                    if c & 2 != 0 {
                        push("CLAUDE_PID", named.to_string());
                    }
                    if c & 4 != 0 {
                        push(
                            "CLAUDE_CODE_MESSAGING_SOCKET",
                            format!("/tmp/cc-socks/{named}.sock"),
                        );
                    }
                    if c & 8 != 0 {
                        push("CODEX_THREAD_ID", uuid.into());
                    }
                    if c & 16 != 0 {
                        push("CODEX_CI", "1".into());
                    }
                    if c & 32 != 0 {
                        push("GEMINI_CLI", "1".into());
                    }
                    if c & 64 != 0 && c & 128 != 0 {
                        push("STRAY_KEEP", "1".into());
                    }
                    e
                });
                procs.push(v);
            }
            let key_of = |i: usize, exact: bool| {
                let p = &procs[i % procs.len()];
                ProcKey {
                    pid: p.key.pid,
                    start_time: if exact {
                        p.key.start_time
                    } else {
                        p.key.start_time + 1
                    },
                }
            };
            let mut input = Input {
                procs: procs.clone(),
                ..Input::default()
            };
            for (a, exact, members) in remembered {
                let agent = key_of(*a, *exact);
                let set = input.remembered.entry(agent).or_default();
                for (m, e) in members {
                    set.insert(key_of(*m, *e));
                }
            }
            for (h, u) in held {
                input
                    .held_values
                    .entry(key_of(*h, true))
                    .or_default()
                    .insert(UUIDS[u % UUIDS.len()].to_string());
            }
            input
        }

        /// The SPEC's "session alive", written out again from the input
        /// alone, generously (any source that names a live owner counts).
        fn oracle_alive(input: &Input, rules: &Rules) -> Vec<bool> {
            let procs = &input.procs;
            let by_pid: BTreeMap<i32, &ProcView> = procs.iter().map(|p| (p.key.pid, p)).collect();
            let alive = |k: &ProcKey| by_pid.get(&k.pid).is_some_and(|p| p.key == *k);
            let ancestors = |p: &ProcView| {
                let mut out = Vec::new();
                let mut cur = p.ppid;
                while let Some(q) = by_pid.get(&cur) {
                    if out.len() > procs.len() || q.key == p.key {
                        break;
                    }
                    out.push(*q);
                    cur = q.ppid;
                }
                out
            };
            let tied_live = |p: &ProcView| -> bool {
                ancestors(p).iter().any(|a| a.agent)
                    || input
                        .remembered
                        .iter()
                        .any(|(a, m)| alive(a) && m.contains(&p.key))
            };
            let owner_live = |p: &ProcView| -> bool {
                if tied_live(p) {
                    return true;
                }
                p.env.iter().flatten().any(|(k, v)| {
                    rules
                        .markers
                        .iter()
                        .any(|m| &m.name == k && m.kind == MarkerKind::Pid)
                        && pid_in_value(v)
                            .and_then(|pid| by_pid.get(&pid))
                            .is_some_and(|o| {
                                o.key.start_time <= p.key.start_time && o.key.pid != p.key.pid
                            })
                })
            };
            let session_values = |p: &ProcView| -> Vec<String> {
                p.env
                    .iter()
                    .flatten()
                    .filter(|(k, v)| {
                        rules
                            .markers
                            .iter()
                            .any(|m| &m.name == k && m.kind == MarkerKind::Session)
                            && v.chars().any(char::is_alphanumeric)
                    })
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            let hosted = |p: &ProcView| {
                background_role(&p.args).is_some()
                    || ancestors(p)
                        .iter()
                        .any(|a| background_role(&a.args).is_some())
            };
            let mut live_values: BTreeSet<String> = BTreeSet::new();
            for p in procs {
                if p.agent || tied_live(p) || hosted(p) {
                    live_values.extend(session_values(p));
                }
            }
            for (h, vals) in &input.held_values {
                if alive(h) {
                    live_values.extend(vals.iter().cloned());
                }
            }
            procs
                .iter()
                .map(|p| {
                    !p.agent
                        && (owner_live(p)
                            || p.serves_live
                            || session_values(p).iter().any(|v| live_values.contains(v)))
                })
                .collect()
        }

        fn raw() -> impl Strategy<Value = Raw> {
            (
                any::<usize>(),
                0u64..60,
                any::<u16>(),
                proptest::option::weighted(0.85, any::<u8>()),
                any::<usize>(),
                any::<usize>(),
                any::<u8>(),
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn no_live_session_is_ever_a_leftover(
                raw in proptest::collection::vec(raw(), 1..30),
                remembered in proptest::collection::vec((any::<usize>(), any::<bool>(), proptest::collection::vec((any::<usize>(), any::<bool>()), 0..6)), 0..4),
                held in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..3),
            ) {
                let input = world(&raw, &remembered, &held);
                let rules = Rules::default();
                let d = decide(&input, &rules);
                let alive = oracle_alive(&input, &rules);
                prop_assert_eq!(d.verdicts.len(), input.procs.len());
                let by_pid: BTreeMap<i32, usize> = input.procs.iter().enumerate().map(|(i, p)| (p.key.pid, i)).collect();
                for (i, v) in d.verdicts.iter().enumerate() {
                    let p = &input.procs[i];
                    if v.outcome != Outcome::Leftover {
                        continue;
                    }
                    prop_assert!(!alive[i], "pid {} is a leftover with a live session: {}", p.key.pid, v.reason);
                    prop_assert!(!p.agent && !p.protected && !p.live_tty && !p.multiplexer_server
                        && !p.holds_live_terminal && !p.display_client && !p.serves_live, "pid {}", p.key.pid);
                    let env = p.env.as_ref();
                    prop_assert!(env.is_some(), "pid {}: leftover without its environment", p.key.pid);
                    prop_assert!(!env.unwrap().iter().any(|(k, v)| k == "STRAY_KEEP" && v == "1"));
                    prop_assert!(background_role(&p.args).is_none());
                    let parent_leftover = by_pid.get(&p.ppid).is_some_and(|&j| d.verdicts[j].outcome == Outcome::Leftover);
                    prop_assert!(p.reaper_parent || parent_leftover, "pid {} not orphan-shaped", p.key.pid);
                }
                // A live agent's family (its descendants, its remembered
                // members) is never a leftover.
                for p in &input.procs {
                    if p.agent {
                        let mut todo = vec![p.key.pid];
                        let mut seen = BTreeSet::new();
                        while let Some(x) = todo.pop() {
                            for (j, c) in input.procs.iter().enumerate() {
                                if c.ppid == x && c.key.pid != x && seen.insert(j) {
                                    prop_assert_ne!(&d.verdicts[j].outcome, &Outcome::Leftover);
                                    todo.push(c.key.pid);
                                }
                            }
                        }
                        for m in input.remembered.get(&p.key).into_iter().flatten() {
                            // The same process only: a re-used pid is another.
                            if let Some(&j) = by_pid.get(&m.pid).filter(|&&j| input.procs[j].key == *m) {
                                prop_assert_ne!(&d.verdicts[j].outcome, &Outcome::Leftover);
                            }
                        }
                    }
                }
            }

            #[test]
            fn constant_markers_never_tie_nor_keep(
                raw in proptest::collection::vec(raw(), 1..30),
                remembered in proptest::collection::vec((any::<usize>(), any::<bool>(), proptest::collection::vec((any::<usize>(), any::<bool>()), 0..6)), 0..4),
                held in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..3),
            ) {
                let input = world(&raw, &remembered, &held);
                let rules = Rules::default();
                let before = decide(&input, &rules);
                // Every constant marker on every process that was read.
                let mut more = input.clone();
                for p in &mut more.procs {
                    if let Some(e) = &mut p.env {
                        e.extend(CONSTANTS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
                    }
                }
                let after = decide(&more, &rules);
                for (b, a) in before.verdicts.iter().zip(&after.verdicts) {
                    let ties = |l: &Option<Lineage>| matches!(l, Some(Lineage::Descends(_) | Lineage::Remembered(_) | Lineage::Named { .. } | Lineage::Session { .. }));
                    // No tie appears or changes.
                    if ties(&b.lineage) || ties(&a.lineage) {
                        prop_assert_eq!(&b.lineage, &a.lineage, "pid {}", b.key.pid);
                    }
                }
                for (i, b) in before.verdicts.iter().enumerate() {
                    let tied = matches!(b.lineage, Some(Lineage::Remembered(_) | Lineage::Named { .. } | Lineage::Session { .. }));
                    if b.outcome == Outcome::Leftover && tied && input.procs[i].reaper_parent {
                        prop_assert_eq!(&after.verdicts[i].outcome, &Outcome::Leftover,
                            "pid {}: constant markers kept a dead session alive: {}", b.key.pid, after.verdicts[i].reason);
                    }
                }
            }

            #[test]
            fn reading_the_wanted_environments_settles_in_three_rounds(
                raw in proptest::collection::vec(raw(), 1..30),
            ) {
                let full = world(&raw, &[], &[]);
                let rules = Rules::default();
                // The reader starts knowing no environment at all.
                let mut partial = full.clone();
                for p in &mut partial.procs {
                    p.env = None;
                }
                for _round in 0..3 {
                    let wanted = decide_round(&partial, &rules).env_wanted;
                    for (p, f) in partial.procs.iter_mut().zip(&full.procs) {
                        if wanted.contains(&p.key) {
                            p.env = Some(f.env.clone().unwrap_or_default());
                        }
                    }
                }
                prop_assert!(decide_round(&partial, &rules).env_wanted.is_empty());
                // With what it read, the leftovers are those of a full read
                // (where a process's environment was really unreadable, the
                // full world says None and both keep it).
                let mut fully = full.clone();
                for p in &mut fully.procs {
                    p.env.get_or_insert_with(Vec::new);
                }
                let a: Vec<_> = decide(&partial, &rules).leftovers().map(|v| v.key).collect();
                let b: Vec<_> = decide(&fully, &rules).leftovers().map(|v| v.key).collect();
                let show = |w: &Input| w.procs.iter().map(|p| format!(
                    "{} ppid {} st {} agent {} tty {} prot {} mux {} pty {} disp {} serves {} args {:?} env {:?}",
                    p.key.pid, p.ppid, p.key.start_time, p.agent, p.live_tty, p.protected, p.multiplexer_server,
                    p.holds_live_terminal, p.display_client, p.serves_live, p.args, p.env)).collect::<Vec<_>>().join("\n");
                prop_assert_eq!(a, b, "\npartial:\n{}\nfull:\n{}\nreasons:\n{:?}", show(&partial), show(&fully),
                    decide(&partial, &rules).verdicts.iter().map(|v| (v.key.pid, v.reason.clone())).collect::<Vec<_>>());
            }
        }
    }
}
