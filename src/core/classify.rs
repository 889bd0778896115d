//! Pure classification: process table + facts + rules → one [`Verdict`] per
//! process.
//!
//! No I/O and no clock: everything read from the system arrives in
//! [`ProcessTable`] and [`Facts`], and "now" is the table's `now_boot`. That
//! keeps every decision reproducible in unit tests on synthetic tables.
//!
//! Precedence, as in SPEC.md: `defunct`, `protected`, `young`, `orphan`,
//! `unmanaged`, `headless`. Whenever something needed for a decision is
//! unknown (a parent that vanished mid-scan, a multiplexer whose fds cannot be
//! read, socket peers that cannot be resolved) the process is `protected`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::core::process::{PidMap, PidSet, ProcKey, Process, ProcessTable, Tty};

/// The class of a process. Exactly one per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Kernel state Z: exited, its parent has not reaped it; cannot be signalled.
    Defunct,
    /// Multiplexer tree, pane terminal, serving a protected process, a
    /// `[protect]` rule, or `stray` itself: never touched.
    Protected,
    /// Would be reapable but is younger than `min_age`.
    Young,
    /// No controlling TTY and re-parented to a reaper parent.
    Orphan,
    /// Not an agent itself, but left behind by an agent session that is
    /// gone (SPEC "Agent families"; decided by `core::family`).
    Leftover,
    /// Has a controlling TTY whose master is held outside every multiplexer.
    Unmanaged,
    /// No controlling TTY, parent alive and not a reaper parent.
    Headless,
}

impl Class {
    pub(crate) const ALL: [Class; 7] = [
        Class::Defunct,
        Class::Protected,
        Class::Young,
        Class::Orphan,
        Class::Leftover,
        Class::Unmanaged,
        Class::Headless,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Class::Defunct => "defunct",
            Class::Protected => "protected",
            Class::Young => "young",
            Class::Orphan => "orphan",
            Class::Leftover => "leftover",
            Class::Unmanaged => "unmanaged",
            Class::Headless => "headless",
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a process is protected. Serialized as an object with a `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProtectedBy {
    /// It is a multiplexer server.
    MultiplexerServer { pid: i32, comm: String },
    /// It descends from a multiplexer server.
    MultiplexerTree { pid: i32, comm: String },
    /// Its controlling terminal is a pane: the master is held by a server.
    PaneTty { pid: i32, comm: String, tty: String },
    /// Its terminal's master holder could not be determined.
    TtyUnknown { tty: String, detail: String },
    /// It holds a connected unix socket whose peer a protected process holds.
    Serves { pid: i32, comm: String },
    /// Its socket peers could not be resolved.
    PeersUnknown { detail: String },
    /// A `[protect]` names or pids rule.
    Rule { rule: String },
    /// It is this `stray` process or one of its ancestors.
    Stray { pid: i32 },
    /// PID 1 or a kernel thread.
    System,
    /// An agent that is part of a deliberate background session (Claude
    /// Code's `daemon run`, `bg-pty-host`, `bg-spare`, or hosted by one).
    BackgroundSession { role: String },
    /// An ancestor vanished during the scan; decided again next cycle.
    AncestryUnknown { pid: i32 },
    /// An ancestor is hidden from this caller (`/proc` `hidepid`): it may
    /// be a multiplexer, so nothing below it can be decided.
    AncestryHidden { pid: i32 },
}

/// The decision for one process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub pid: i32,
    pub start_time: u64,
    pub class: Class,
    pub policy: Policy,
    /// One line, for people.
    pub reason: String,
    pub protected_by: Option<ProtectedBy>,
    /// The match rule that made it an agent (`name:claude`), or `""` in
    /// `--all` scans for non-agents.
    pub rule: String,
    /// For a `young` process: the class it will have once old enough
    /// (`orphan`, …), whose policy is `reap`. `None` for every other class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub young_of: Option<Class>,
}

impl Verdict {
    pub(crate) fn key(&self) -> ProcKey {
        ProcKey {
            pid: self.pid,
            start_time: self.start_time,
        }
    }

    /// True when the policy says to signal it. Protected, young and defunct
    /// processes never are, whatever the configuration.
    pub(crate) fn reapable(&self) -> bool {
        self.policy == Policy::Reap
            && matches!(
                self.class,
                Class::Orphan | Class::Leftover | Class::Unmanaged | Class::Headless
            )
    }
}

/// Who holds the other ends of a process's connected unix sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peers {
    /// Pids holding a peer end (possibly empty: nothing connected).
    Known(Vec<i32>),
    /// Could not be resolved: protect.
    Unknown(String),
}

/// What was read about the system besides the table itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    /// Agent pid → the rule that matched (`name:claude`, `exe:*/claude/*`).
    pub agents: HashMap<i32, String>,
    /// PTY index → pid of the multiplexer server holding its master.
    pub pane_ttys: HashMap<u32, i32>,
    /// Multiplexer servers whose fds could not be read, with the error.
    /// While any is listed, no PTY can be proven to be outside a pane.
    pub unreadable_servers: Vec<(i32, String)>,
    /// Socket peers of the would-be victims (only those are looked up).
    pub peers: HashMap<i32, Peers>,
    /// Agents whose parent is PID 1 of the agent's own PID namespace (from
    /// `NSpid`; read only for agents whose parent is not otherwise a
    /// reaper parent).
    pub ns_init_parent: PidSet,
    /// Agent → its parent (pid, start time) as an earlier real cycle first
    /// saw it (the state's lineage memory).
    pub earlier_parent: PidMap<ProcKey>,
    /// Agents that are the oldest process of a systemd `.service` cgroup
    /// and whose parent is a `systemd`: the service's own process, started
    /// by its manager. Agent → unit name.
    pub service_main: PidMap<String>,
    /// The family rules' verdicts (`core::family`) for the processes in an
    /// agent's family, agents excluded.
    pub family: PidMap<FamilyFact>,
    /// Agents in a deliberate background session: pid → its role.
    pub background: PidMap<String>,
    /// Why other users' processes (PID 1 among them) are invisible to this
    /// caller (`/proc` mounted `hidepid=2`), when they are: a missing
    /// ancestor is then hidden, not vanished.
    pub hidden_ancestry: Option<String>,
    /// PTY index → every multiplexer server holding a master of that index,
    /// with the master's devpts instance (`None`: not known). Filled only
    /// for the indexes of [`Facts::tty_devpts`]: two devpts instances (a
    /// container's and the host's) each have their own `pts/3`.
    pub pane_devpts: HashMap<u32, Vec<(i32, Option<u64>)>>,
    /// Agent pid → devpts instance of its controlling terminal, read only
    /// for agents outside every multiplexer tree whose pts number is a
    /// pane's. Without it, the pts number alone decides (protect).
    pub tty_devpts: HashMap<i32, u64>,
}

/// What the family rules said about one family member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyFact {
    /// Left behind by a session that is gone: reaped like an orphan.
    pub leftover: bool,
    /// Why it was, or was not, taken (for `explain`).
    pub reason: String,
    /// The agent that left it (for leftovers), when lineage names one.
    pub owner: Option<ProcKey>,
}

/// How a process without a terminal came to have its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parentage {
    /// Its original parent is gone: it was re-parented (the reason says
    /// what shows it).
    Adopted(String),
    /// Its parent is a reaper parent, but everything the system shows says
    /// that parent started it (a service, `tini -- claude`).
    StartedBy(String),
    /// Its parent is an ordinary live process.
    Live,
}

/// What to do with a class of processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Reap,
    Report,
    Ignore,
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Policy::Reap => "reap",
            Policy::Report => "report",
            Policy::Ignore => "ignore",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policies {
    pub orphan: Policy,
    pub unmanaged: Policy,
    pub headless: Policy,
    pub defunct: Policy,
    pub leftover: Policy,
}

/// The configuration slice classification needs.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub min_age_secs: f64,
    pub reaper_parents: Vec<String>,
    pub multiplexers: Vec<String>,
    pub protect_names: Vec<String>,
    pub protect_pids: Vec<i32>,
    pub policy: Policies,
    /// The pid of this `stray`; it and its ancestors are never touched.
    pub self_pid: i32,
}

/// Is `p` a multiplexer server? From the table alone, so a wedged server or a
/// missing tmux binary changes nothing. On Linux the tmux server retitles
/// itself `tmux: server`; elsewhere (and for screen, zellij) it is the
/// process of that name without a controlling terminal (clients have one).
pub(crate) fn is_multiplexer_server(p: &Process, multiplexers: &[String]) -> bool {
    // A zombie server still counts: nothing can be its child any more, and
    // erring towards protection costs nothing.
    named_like_multiplexer_server(p, multiplexers)
        && (p.comm.starts_with("tmux: server") || p.tty.is_none())
}

/// Named like a multiplexer server: one now, or one once it loses its
/// terminal (a `screen` whose user detaches).
pub(crate) fn named_like_multiplexer_server(p: &Process, multiplexers: &[String]) -> bool {
    if p.kernel_thread {
        return false;
    }
    if p.comm.starts_with("tmux: server") {
        return multiplexers.iter().any(|m| m == "tmux");
    }
    multiplexers.iter().any(|m| p.comm.eq_ignore_ascii_case(m))
}

/// Is `p`'s parent PID 1 or a listed `reaper_parents` name? Known from the
/// table alone. (PID 1 of another PID namespace needs `NSpid`: see
/// [`Facts::ns_init_parent`].)
pub(crate) fn parent_is_listed_reaper(table: &ProcessTable, rules: &Rules, p: &Process) -> bool {
    if p.ppid == 1 {
        return true;
    }
    table
        .get(p.ppid)
        .is_some_and(|parent| rules.reaper_parents.iter().any(|r| r == &parent.comm))
}

/// Where a walk up the parent chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ancestry {
    /// The nearest ancestor (or self) that is a multiplexer server.
    Multiplexer(i32),
    /// Reached the top without meeting one.
    Free,
    /// A parent in the chain is not in the table: it exited mid-scan.
    Broken(i32),
}

/// Classifies processes of one table. Build once, then ask per pid.
pub(crate) struct Classifier<'a> {
    table: &'a ProcessTable,
    facts: &'a Facts,
    rules: &'a Rules,
    ancestry: PidMap<Ancestry>,
    stray_lineage: PidSet,
    /// Pids protected for reasons other than serving (computed for every
    /// process, agent or not, because any of them may be a socket peer).
    base_protected: PidMap<ProtectedBy>,
    /// Would-be victims found to serve a protected process (fixpoint).
    serving: PidMap<ProtectedBy>,
}

impl<'a> Classifier<'a> {
    pub(crate) fn new(table: &'a ProcessTable, facts: &'a Facts, rules: &'a Rules) -> Self {
        let mut c = Classifier {
            table,
            facts,
            rules,
            ancestry: PidMap::with_capacity_and_hasher(table.len(), Default::default()),
            stray_lineage: PidSet::default(),
            base_protected: PidMap::default(),
            serving: PidMap::default(),
        };
        c.compute_ancestry();
        c.compute_stray_lineage();
        let base: PidMap<ProtectedBy> = table
            .iter()
            .filter_map(|p| c.base_protection(p).map(|why| (p.pid, why)))
            .collect();
        c.base_protected = base;
        c.compute_serving();
        c
    }

    /// One memoized walk per chain: every process's nearest multiplexer.
    fn compute_ancestry(&mut self) {
        let mut chain = Vec::new();
        for p in self.table.iter() {
            if self.ancestry.contains_key(&p.pid) {
                continue;
            }
            chain.clear();
            let mut cur = p.pid;
            let result = loop {
                if let Some(&known) = self.ancestry.get(&cur) {
                    break known;
                }
                let Some(proc_) = self.table.get(cur) else {
                    break Ancestry::Broken(cur);
                };
                if is_multiplexer_server(proc_, &self.rules.multiplexers) {
                    break Ancestry::Multiplexer(cur);
                }
                chain.push(cur);
                // pid 0 is "no parent" (the namespace init, kthreadd).
                if proc_.ppid <= 0 || proc_.ppid == cur || chain.len() > self.table.len() {
                    break Ancestry::Free;
                }
                cur = proc_.ppid;
            };
            if let Ancestry::Multiplexer(server) = result {
                self.ancestry.insert(server, result);
            }
            for &pid in &chain {
                self.ancestry.insert(pid, result);
            }
        }
    }

    fn compute_stray_lineage(&mut self) {
        let mut cur = self.rules.self_pid;
        while cur > 0 && self.stray_lineage.insert(cur) {
            match self.table.get(cur) {
                Some(p) => cur = p.ppid,
                None => break,
            }
        }
    }

    fn comm(&self, pid: i32) -> String {
        self.table
            .get(pid)
            .map(|p| p.comm.clone())
            .unwrap_or_default()
    }

    /// Protection that does not depend on sockets.
    fn base_protection(&self, p: &Process) -> Option<ProtectedBy> {
        if self.stray_lineage.contains(&p.pid) {
            return Some(ProtectedBy::Stray { pid: p.pid });
        }
        if p.pid <= 1 || p.kernel_thread {
            return Some(ProtectedBy::System);
        }
        match self.ancestry.get(&p.pid).copied().unwrap_or(Ancestry::Free) {
            Ancestry::Multiplexer(server) if server == p.pid => {
                return Some(ProtectedBy::MultiplexerServer {
                    pid: p.pid,
                    comm: p.comm.clone(),
                })
            }
            Ancestry::Multiplexer(server) => {
                return Some(ProtectedBy::MultiplexerTree {
                    pid: server,
                    comm: self.comm(server),
                })
            }
            Ancestry::Broken(missing) if self.facts.hidden_ancestry.is_some() => {
                return Some(ProtectedBy::AncestryHidden { pid: missing })
            }
            Ancestry::Broken(missing) => {
                return Some(ProtectedBy::AncestryUnknown { pid: missing })
            }
            Ancestry::Free => {}
        }
        if let Some(Tty::Pts(index)) = p.tty {
            if let Some(server) = self.pane_server(p.pid, index) {
                return Some(ProtectedBy::PaneTty {
                    pid: server,
                    comm: self.comm(server),
                    tty: format!("pts/{index}"),
                });
            }
            if let Some((pid, err)) = self.facts.unreadable_servers.first() {
                return Some(ProtectedBy::TtyUnknown {
                    tty: format!("pts/{index}"),
                    detail: format!("cannot read the fds of multiplexer server {pid}: {err}"),
                });
            }
        }
        if let Some(role) = self.facts.background.get(&p.pid) {
            return Some(ProtectedBy::BackgroundSession { role: role.clone() });
        }
        if self.rules.protect_pids.contains(&p.pid) {
            return Some(ProtectedBy::Rule {
                rule: format!("protect.pids: {}", p.pid),
            });
        }
        if self.rules.protect_names.iter().any(|n| n == &p.comm) {
            return Some(ProtectedBy::Rule {
                rule: format!("protect.names: {}", p.comm),
            });
        }
        None
    }

    /// The multiplexer server whose pane `pid`'s terminal `pts/index` is.
    /// The pts number alone decides unless the terminal's devpts instance and
    /// that of every master with this number are known: then only a master
    /// in the same instance makes it a pane (a host terminal that shares its
    /// number with a container's pane is not one).
    fn pane_server(&self, pid: i32, index: u32) -> Option<i32> {
        let &any = self.facts.pane_ttys.get(&index)?;
        let (Some(&mine), Some(masters)) = (
            self.facts.tty_devpts.get(&pid),
            self.facts.pane_devpts.get(&index),
        ) else {
            return Some(any);
        };
        if masters.is_empty() {
            return Some(any);
        }
        masters
            .iter()
            .find(|(_, dev)| *dev == Some(mine))
            .or_else(|| masters.iter().find(|(_, dev)| dev.is_none()))
            .map(|&(server, _)| server)
    }

    /// Serving is transitive: a daemon whose only client is another daemon
    /// that serves a pane is protected too. Iterate to a fixpoint.
    fn compute_serving(&mut self) {
        loop {
            let mut added = Vec::new();
            for (&pid, peers) in &self.facts.peers {
                if self.base_protected.contains_key(&pid) || self.serving.contains_key(&pid) {
                    continue;
                }
                match peers {
                    Peers::Unknown(detail) => added.push((
                        pid,
                        ProtectedBy::PeersUnknown {
                            detail: detail.clone(),
                        },
                    )),
                    Peers::Known(holders) => {
                        if let Some(&holder) = holders.iter().find(|&&h| {
                            h != pid
                                && (self.base_protected.contains_key(&h)
                                    || self.serving.contains_key(&h))
                        }) {
                            added.push((
                                pid,
                                ProtectedBy::Serves {
                                    pid: holder,
                                    comm: self.comm(holder),
                                },
                            ));
                        }
                    }
                }
            }
            if added.is_empty() {
                break;
            }
            self.serving.extend(added);
        }
    }

    /// Is `pid` protected (for any reason)?
    /// Protected for a reason that makes it someone's live work: not merely
    /// for being this `stray` or one of its ancestors (a cron job's shell
    /// that leaked an fd to a dead session's job is not served by it).
    pub(crate) fn is_protected_live(&self, pid: i32) -> bool {
        match self.base_protected.get(&pid) {
            Some(ProtectedBy::Stray { .. }) => false,
            Some(_) => true,
            None => self.serving.contains_key(&pid),
        }
    }

    pub(crate) fn is_protected(&self, pid: i32) -> bool {
        self.base_protected.contains_key(&pid) || self.serving.contains_key(&pid)
    }

    /// Was `p` (no terminal) re-parented, or started by its parent?
    ///
    /// Facts first, for any parent: a parent other than the one an earlier
    /// cycle saw (the kernel changes a parent only when the parent exits),
    /// or a parent younger than the child (nothing starts a process before
    /// it exists itself), proves re-parenting.
    ///
    /// A reaper parent (PID 1 of the process's PID namespace, or a
    /// `reaper_parents` name) adopts orphans but also starts processes on
    /// purpose (services, `tini -- claude`). Without memory:
    /// - the oldest process of a systemd `.service` cgroup under a
    ///   `systemd` was started by it (its service's own process);
    /// - a session id is inherited at fork and changed only by `setsid`,
    ///   which makes it the process's own pid: a session that is neither
    ///   its own nor its parent's was inherited from another process;
    /// - likewise a process group that is neither its own nor its parent's
    ///   (reaper parents do not run job control);
    /// - with none of these, nothing shows it was re-parented: it is taken
    ///   as started by its parent (reported, never signalled).
    pub fn parentage(&self, p: &Process) -> Parentage {
        let parent = self.table.get(p.ppid);
        if let Some(earlier) = self.facts.earlier_parent.get(&p.pid) {
            let now = parent.map(|q| q.key());
            if earlier.pid != p.ppid || now.is_some_and(|k| k != *earlier) {
                return Parentage::Adopted(format!(
                    "its parent was {} on an earlier cycle",
                    earlier.pid
                ));
            }
        }
        let Some(parent) = parent else {
            return Parentage::Live;
        };
        if parent.start_time > p.start_time {
            return Parentage::Adopted("it started before its parent".to_string());
        }
        let reaper = parent_is_listed_reaper(self.table, self.rules, p)
            || self.facts.ns_init_parent.contains(&p.pid);
        if !reaper {
            return Parentage::Live;
        }
        if let Some(unit) = self.facts.service_main.get(&p.pid) {
            return Parentage::StartedBy(format!("it is the main process of {unit}"));
        }
        if p.sid > 0 && p.sid != p.pid && p.sid != parent.sid {
            return Parentage::Adopted(format!(
                "its session {} is neither its own nor its parent's",
                p.sid
            ));
        }
        if p.pgid > 0 && p.pgid != p.pid && p.pgid != parent.pgid {
            return Parentage::Adopted(format!(
                "its process group {} is neither its own nor its parent's",
                p.pgid
            ));
        }
        Parentage::StartedBy(
            "no sign of re-parenting: no earlier parent seen, its own or its parent's session and group"
                .to_string(),
        )
    }

    fn policy_of(&self, class: Class) -> Policy {
        match class {
            Class::Orphan => self.rules.policy.orphan,
            Class::Leftover => self.rules.policy.leftover,
            Class::Unmanaged => self.rules.policy.unmanaged,
            Class::Headless => self.rules.policy.headless,
            Class::Defunct => self.rules.policy.defunct,
            Class::Young => Policy::Report,
            Class::Protected => Policy::Ignore,
        }
    }

    fn parent_desc(&self, p: &Process) -> String {
        match self.table.get(p.ppid) {
            Some(parent) => format!("{} ({})", p.ppid, parent.comm),
            None => p.ppid.to_string(),
        }
    }

    /// The verdict for one process of the table.
    pub(crate) fn verdict(&self, p: &Process) -> Verdict {
        let mut rule = self.facts.agents.get(&p.pid).cloned().unwrap_or_default();
        // Only agents and leftovers have a policy: any other process
        // (`scan --all`, `explain`) is never acted on, whatever its class.
        let agent = !rule.is_empty();
        let leftover = self
            .facts
            .family
            .get(&p.pid)
            .filter(|f| f.leftover && !agent);
        if leftover.is_some() {
            rule = "family".to_string();
        }
        let policy_of = |class: Class| {
            if agent || (leftover.is_some() && class == Class::Leftover) {
                self.policy_of(class)
            } else {
                Policy::Ignore
            }
        };
        let make = |class: Class, reason: String, protected_by: Option<ProtectedBy>| Verdict {
            pid: p.pid,
            start_time: p.start_time,
            class,
            policy: policy_of(class),
            reason,
            protected_by,
            rule: rule.clone(),
            young_of: None,
        };

        if p.is_zombie() {
            return make(
                Class::Defunct,
                format!("zombie; parent {} has not reaped it", self.parent_desc(p)),
                None,
            );
        }
        if let Some(why) = self
            .base_protected
            .get(&p.pid)
            .or_else(|| self.serving.get(&p.pid))
        {
            return make(Class::Protected, protection_reason(why), Some(why.clone()));
        }

        let (base, reason) = match leftover {
            Some(f) => (Class::Leftover, f.reason.clone()),
            None => self.base_class(p),
        };
        if policy_of(base) == Policy::Reap {
            let age = self.table.age_secs(p);
            if age < self.rules.min_age_secs {
                return Verdict {
                    young_of: Some(base),
                    ..make(
                        Class::Young,
                        format!(
                            "{base} in {}s (age {}s < min_age {}s)",
                            (self.rules.min_age_secs - age).ceil() as u64,
                            age.floor() as u64,
                            self.rules.min_age_secs as u64
                        ),
                        None,
                    )
                };
            }
        }
        make(base, reason, None)
    }

    /// The class of an unprotected, live process by its terminal and
    /// parentage: unmanaged, orphan or headless.
    fn base_class(&self, p: &Process) -> (Class, String) {
        match p.tty {
            Some(tty) => (
                Class::Unmanaged,
                format!("on {tty}, whose master is held outside every multiplexer"),
            ),
            None if p.ppid == 0 => (
                Class::Headless,
                "no tty; parent is outside this PID namespace".to_string(),
            ),
            None => match self.parentage(p) {
                Parentage::Adopted(why) => (
                    Class::Orphan,
                    format!("no tty; re-parented to {} ({why})", self.parent_desc(p)),
                ),
                Parentage::StartedBy(why) => (
                    Class::Headless,
                    format!(
                        "no tty; started by reaper parent {} ({why})",
                        self.parent_desc(p)
                    ),
                ),
                Parentage::Live => (
                    Class::Headless,
                    format!("no tty; parent {} is alive", self.parent_desc(p)),
                ),
            },
        }
    }

    /// Verdicts for every process (`all`) or only the agents and the
    /// leftovers, by pid.
    pub(crate) fn verdicts(&self, all: bool) -> Vec<Verdict> {
        self.table
            .iter()
            .filter(|p| {
                all || self.facts.agents.contains_key(&p.pid)
                    || self.facts.family.get(&p.pid).is_some_and(|f| f.leftover)
            })
            .map(|p| self.verdict(p))
            .collect()
    }
}

pub(crate) fn protection_reason(why: &ProtectedBy) -> String {
    match why {
        ProtectedBy::MultiplexerServer { comm, .. } => format!("is a multiplexer server ({comm})"),
        ProtectedBy::MultiplexerTree { pid, comm } => {
            format!("descends from multiplexer server {pid} ({comm})")
        }
        ProtectedBy::PaneTty { pid, comm, tty } => {
            format!("on {tty}, a pane of multiplexer server {pid} ({comm})")
        }
        ProtectedBy::TtyUnknown { tty, detail } => {
            format!("on {tty}, whose master holder is unknown ({detail})")
        }
        ProtectedBy::Serves { pid, comm } => {
            format!("serves protected process {pid} ({comm}) over a unix socket")
        }
        ProtectedBy::PeersUnknown { detail } => format!("unix socket peers unknown ({detail})"),
        ProtectedBy::Rule { rule } => format!("matches {rule}"),
        ProtectedBy::Stray { pid } => format!("is stray itself or its ancestor ({pid})"),
        ProtectedBy::System => "PID 1 or a kernel thread".to_string(),
        ProtectedBy::BackgroundSession { role } => {
            format!("an agent in a Claude Code background session ({role}): a live session")
        }
        ProtectedBy::AncestryUnknown { pid } => {
            format!("ancestor {pid} vanished during the scan; decided next cycle")
        }
        ProtectedBy::AncestryHidden { pid } => {
            format!("ancestor {pid} is hidden from this user (/proc hidepid); cannot be decided")
        }
    }
}

/// What a summary counts: "agent", or "process" once leftovers (which are
/// not agents) are among them.
pub(crate) fn counted_noun(classes: &[(Class, usize)]) -> &'static str {
    if classes.iter().any(|&(c, n)| c == Class::Leftover && n > 0) {
        "process"
    } else {
        "agent"
    }
}

/// Counts per class, in the order of [`Class::ALL`], for summaries.
pub(crate) fn summarize(verdicts: &[Verdict]) -> Vec<(Class, usize)> {
    Class::ALL
        .iter()
        .map(|&c| (c, verdicts.iter().filter(|v| v.class == c).count()))
        .collect()
}

#[cfg(test)]
pub(crate) mod testkit {
    //! A small builder for synthetic process tables.

    use super::*;

    pub(crate) const TICKS: u64 = 100;
    /// "Now" of every synthetic table: one day after boot.
    pub(crate) const NOW: f64 = 86_400.0;
    /// The session of every synthetic process but PID 1: a login session
    /// whose leader is gone, as orphans of a closed terminal carry it.
    pub(crate) const GONE_SESSION: i32 = 7;

    pub(crate) struct TableBuilder {
        procs: Vec<Process>,
        pub facts: Facts,
    }

    pub(crate) fn table() -> TableBuilder {
        let mut b = TableBuilder {
            procs: Vec::new(),
            facts: Facts::default(),
        };
        // PID 1 started at boot.
        b.add(1, 0, "init", None, 'S', NOW);
        b
    }

    impl TableBuilder {
        /// Adds a process that started `age` seconds before NOW.
        pub(crate) fn add(
            &mut self,
            pid: i32,
            ppid: i32,
            comm: &str,
            tty: Option<Tty>,
            state: char,
            age: f64,
        ) -> &mut Self {
            let start = ((NOW - age) * TICKS as f64).max(0.0) as u64;
            let (pgid, sid) = if pid == 1 {
                (1, 1)
            } else {
                (pid, GONE_SESSION)
            };
            self.procs.push(Process {
                pid,
                ppid,
                start_time: start,
                uid: 1000,
                state,
                pgid,
                sid,
                tty,
                comm: comm.to_string(),
                rss_bytes: 100 << 20,
                kernel_thread: false,
                exe: None,
                cmdline: None,
                exe_id: None,
                live_thread: None,
            });
            self
        }
        /// Sets the process group and session of `pid`.
        pub(crate) fn group(&mut self, pid: i32, pgid: i32, sid: i32) -> &mut Self {
            if let Some(p) = self.procs.iter_mut().find(|p| p.pid == pid) {
                p.pgid = pgid;
                p.sid = sid;
            }
            self
        }
        /// A helper process; a child of PID 1 (a service, a subreaper such
        /// as `systemd --user`) leads its own session, as those do.
        pub(crate) fn proc_(&mut self, pid: i32, ppid: i32, comm: &str) -> &mut Self {
            self.add(pid, ppid, comm, None, 'S', 3600.0);
            if ppid == 1 {
                self.group(pid, pid, pid);
            }
            self
        }
        pub(crate) fn agent(&mut self, pid: i32, ppid: i32, tty: Option<Tty>) -> &mut Self {
            self.add(pid, ppid, "claude", tty, 'S', 3600.0);
            self.facts.agents.insert(pid, "name:claude".into());
            self
        }
        pub(crate) fn tmux_server(&mut self, pid: i32, panes: &[u32]) -> &mut Self {
            self.add(pid, 1, "tmux: server", None, 'S', 7200.0);
            self.group(pid, pid, pid);
            for &i in panes {
                self.facts.pane_ttys.insert(i, pid);
            }
            self
        }
        pub(crate) fn build(&self) -> (ProcessTable, Facts) {
            (
                ProcessTable::new(self.procs.clone(), NOW, TICKS),
                self.facts.clone(),
            )
        }
    }

    pub(crate) fn rules() -> Rules {
        crate::config::Config::default().rules(99_999)
    }

    pub(crate) fn classify_one(b: &TableBuilder, rules: &Rules, pid: i32) -> Verdict {
        let (t, f) = b.build();
        let c = Classifier::new(&t, &f, rules);
        c.verdict(t.get(pid).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    fn class_of(b: &TableBuilder, pid: i32) -> Class {
        classify_one(b, &rules(), pid).class
    }

    #[test]
    fn pane_descendants_are_protected() {
        let mut b = table();
        b.tmux_server(100, &[3])
            .proc_(101, 100, "bash")
            .agent(102, 101, Some(Tty::Pts(3)));
        b.proc_(103, 102, "node");
        b.add(104, 103, "claude", None, 'S', 3600.0);
        b.facts.agents.insert(104, "name:claude".into());
        assert_eq!(class_of(&b, 102), Class::Protected);
        // A tty-less grandchild is still inside the tree.
        let v = classify_one(&b, &rules(), 104);
        assert_eq!(v.class, Class::Protected);
        assert_eq!(
            v.protected_by,
            Some(ProtectedBy::MultiplexerTree {
                pid: 100,
                comm: "tmux: server".into()
            })
        );
        assert_eq!(class_of(&b, 100), Class::Protected);
    }

    #[test]
    fn reparented_pane_process_keeps_its_pane_tty_protection() {
        let mut b = table();
        b.tmux_server(100, &[5]).agent(200, 1, Some(Tty::Pts(5)));
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert!(matches!(
            v.protected_by,
            Some(ProtectedBy::PaneTty { pid: 100, .. })
        ));
    }

    /// Two devpts instances (a container's and the host's) each have a
    /// `pts/3`: a host agent on its own pts/3 is not a pane of the
    /// container's tmux once both instances are known; whenever one is not,
    /// the number alone decides (protect).
    #[test]
    fn same_pts_number_in_another_devpts_instance_is_not_a_pane() {
        const HOST: u64 = 26;
        const CONTAINER: u64 = 40;
        let mut b = table();
        b.tmux_server(100, &[3])
            .proc_(70, 1, "python3")
            .agent(200, 70, Some(Tty::Pts(3)));
        // Nothing known: the number decides.
        assert_eq!(class_of(&b, 200), Class::Protected);
        // The agent's instance alone: still the number.
        b.facts.tty_devpts.insert(200, HOST);
        assert_eq!(class_of(&b, 200), Class::Protected);
        // A master whose instance is unknown could be the agent's.
        b.facts.pane_devpts.insert(3, vec![(100, None)]);
        assert_eq!(class_of(&b, 200), Class::Protected);
        // Every master known, none in the agent's instance: not a pane.
        b.facts.pane_devpts.insert(3, vec![(100, Some(CONTAINER))]);
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Unmanaged, "{v:?}");
        // A second server whose pts/3 is in the host's instance: its pane.
        b.tmux_server(101, &[]);
        b.facts
            .pane_devpts
            .insert(3, vec![(100, Some(CONTAINER)), (101, Some(HOST))]);
        let v = classify_one(&b, &rules(), 200);
        assert!(
            matches!(v.protected_by, Some(ProtectedBy::PaneTty { pid: 101, .. })),
            "{v:?}"
        );
        // The agent's instance unknown again: protected by the number.
        b.facts.tty_devpts.clear();
        assert_eq!(class_of(&b, 200), Class::Protected);
    }

    #[test]
    fn orphan_of_pid1_and_of_systemd_user() {
        let mut b = table();
        b.proc_(50, 1, "systemd")
            .agent(200, 1, None)
            .agent(201, 50, None);
        assert_eq!(class_of(&b, 200), Class::Orphan);
        assert_eq!(class_of(&b, 201), Class::Orphan);
    }

    #[test]
    fn a_non_agent_has_no_reap_policy_whatever_its_class() {
        let mut b = table();
        // Orphan-shaped (a session from elsewhere), so only the policy rule
        // keeps them from being reaped.
        b.add(300, 1, "some-daemon", None, 'S', 3600.0);
        b.add(301, 1, "fresh-daemon", None, 'S', 1.0);
        b.agent(302, 1, None);
        for pid in [300, 301] {
            let v = classify_one(&b, &rules(), pid);
            assert_eq!(v.class, Class::Orphan, "pid {pid}");
            assert_eq!(v.policy, Policy::Ignore, "pid {pid}");
            assert!(!v.reapable(), "pid {pid}");
        }
        let v = classify_one(&b, &rules(), 302);
        assert_eq!(v.policy, Policy::Reap);
        assert!(v.reapable());
    }

    #[test]
    fn headless_when_parent_alive() {
        let mut b = table();
        b.proc_(60, 1, "bash").agent(200, 60, None);
        assert_eq!(class_of(&b, 200), Class::Headless);
        // Parent outside our PID namespace: not an orphan.
        b.agent(201, 0, None);
        assert_eq!(class_of(&b, 201), Class::Headless);
    }

    #[test]
    fn unmanaged_when_tty_master_is_outside_multiplexers() {
        let mut b = table();
        b.tmux_server(100, &[3])
            .proc_(70, 1, "sshd")
            .agent(200, 70, Some(Tty::Pts(9)));
        assert_eq!(class_of(&b, 200), Class::Unmanaged);
        b.agent(201, 1, Some(Tty::Other { major: 4, minor: 1 }));
        assert_eq!(class_of(&b, 201), Class::Unmanaged);
    }

    #[test]
    fn unknown_tty_holder_protects() {
        let mut b = table();
        b.tmux_server(100, &[]).agent(200, 1, Some(Tty::Pts(9)));
        b.facts
            .unreadable_servers
            .push((100, "Permission denied".into()));
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert!(matches!(
            v.protected_by,
            Some(ProtectedBy::TtyUnknown { .. })
        ));
        // A tty-less orphan is unaffected: it cannot be on a pane.
        b.agent(201, 1, None);
        assert_eq!(class_of(&b, 201), Class::Orphan);
    }

    fn leftover_fact(reason: &str) -> FamilyFact {
        FamilyFact {
            leftover: true,
            reason: reason.into(),
            owner: None,
        }
    }

    #[test]
    fn a_family_leftover_is_classed_leftover_with_its_own_policy() {
        let mut b = table();
        b.proc_(300, 1, "mcp-server");
        b.facts
            .family
            .insert(300, leftover_fact("leftover: agent gone"));
        let mut r = rules();
        r.min_age_secs = 0.0;
        let v = classify_one(&b, &r, 300);
        assert_eq!((v.class, v.policy), (Class::Leftover, Policy::Reap));
        assert!(v.reapable());
        assert_eq!(v.rule, "family");
        assert_eq!(v.reason, "leftover: agent gone");
        r.policy.leftover = Policy::Report;
        assert!(!classify_one(&b, &r, 300).reapable());
        // min_age applies to leftovers.
        r.policy.leftover = Policy::Reap;
        r.min_age_secs = 1e9;
        assert_eq!(classify_one(&b, &r, 300).class, Class::Young);
        // Listed among the verdicts without --all; a non-leftover member is not.
        b.proc_(301, 1, "kept");
        b.facts.family.insert(
            301,
            FamilyFact {
                leftover: false,
                ..leftover_fact("kept")
            },
        );
        let (t, f) = b.build();
        let pids: Vec<i32> = Classifier::new(&t, &f, &r)
            .verdicts(false)
            .iter()
            .map(|v| v.pid)
            .collect();
        assert_eq!(pids, vec![300]);
    }

    #[test]
    fn protection_beats_a_family_leftover_verdict() {
        let mut b = table();
        b.tmux_server(100, &[]);
        b.proc_(300, 100, "mcp-server");
        b.facts.family.insert(300, leftover_fact("leftover"));
        assert_eq!(class_of(&b, 300), Class::Protected);
    }

    #[test]
    fn an_agent_in_a_background_session_is_protected_not_an_orphan() {
        let mut b = table();
        b.agent(200, 1, None);
        assert_eq!(class_of(&b, 200), Class::Orphan);
        b.facts.background.insert(200, "claude daemon run".into());
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert!(v.reason.contains("background session"), "{}", v.reason);
    }

    #[test]
    fn defunct_beats_protected() {
        let mut b = table();
        b.tmux_server(100, &[3]);
        b.add(200, 100, "claude", None, 'Z', 10.0);
        b.facts.agents.insert(200, "name:claude".into());
        assert_eq!(class_of(&b, 200), Class::Defunct);
    }

    #[test]
    fn protected_beats_young() {
        let mut b = table();
        b.tmux_server(100, &[]);
        b.add(200, 100, "claude", None, 'S', 1.0);
        b.facts.agents.insert(200, "name:claude".into());
        assert_eq!(class_of(&b, 200), Class::Protected);
    }

    #[test]
    fn young_beats_orphan_only_when_reapable() {
        let mut b = table();
        b.add(200, 1, "claude", None, 'S', 5.0);
        b.facts.agents.insert(200, "name:claude".into());
        assert_eq!(class_of(&b, 200), Class::Young);
        // A young headless process is just headless: its policy is report.
        b.proc_(60, 1, "bash");
        b.add(201, 60, "claude", None, 'S', 5.0);
        b.facts.agents.insert(201, "name:claude".into());
        assert_eq!(class_of(&b, 201), Class::Headless);
        // With headless = reap it is young.
        let mut r = rules();
        r.policy.headless = Policy::Reap;
        assert_eq!(classify_one(&b, &r, 201).class, Class::Young);
        // A young verdict says what it will be: the raise of oom_score_adj
        // takes young orphans, not young headless processes.
        assert_eq!(classify_one(&b, &r, 201).young_of, Some(Class::Headless));
        assert_eq!(
            classify_one(&b, &rules(), 200).young_of,
            Some(Class::Orphan)
        );
        assert_eq!(classify_one(&b, &rules(), 201).young_of, None);
    }

    #[test]
    fn orphan_beats_unmanaged_and_headless_by_definition() {
        // orphan requires no tty; unmanaged requires one: disjoint. An orphan
        // whose parent is a listed reaper is not headless.
        let mut b = table();
        b.proc_(50, 1, "tini").agent(200, 50, None);
        assert_eq!(class_of(&b, 200), Class::Orphan);
        let mut r = rules();
        r.reaper_parents.clear();
        assert_eq!(classify_one(&b, &r, 200).class, Class::Headless);
    }

    #[test]
    fn protect_rules() {
        let mut b = table();
        b.agent(200, 1, None).agent(201, 1, None);
        let mut r = rules();
        r.protect_pids.push(200);
        r.protect_names.push("claude".into());
        assert_eq!(classify_one(&b, &r, 200).class, Class::Protected);
        assert!(matches!(
            classify_one(&b, &r, 201).protected_by,
            Some(ProtectedBy::Rule { .. })
        ));
    }

    #[test]
    fn stray_and_its_ancestors_are_protected() {
        let mut b = table();
        b.agent(200, 1, None).proc_(300, 200, "stray");
        let mut r = rules();
        r.self_pid = 300;
        let v = classify_one(&b, &r, 200);
        assert_eq!(v.class, Class::Protected);
        assert_eq!(v.protected_by, Some(ProtectedBy::Stray { pid: 200 }));
    }

    #[test]
    fn hidden_parent_protects_and_says_hidden() {
        let mut b = table();
        // Its parent (another user's) is not in the table.
        b.agent(200, 4242, None);
        b.facts.hidden_ancestry = Some("/proc is mounted hidepid=2".into());
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert_eq!(
            v.protected_by,
            Some(ProtectedBy::AncestryHidden { pid: 4242 })
        );
        assert!(v.reason.contains("hidden"), "{}", v.reason);
    }

    #[test]
    fn vanished_parent_protects() {
        let mut b = table();
        b.agent(200, 4242, None);
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert_eq!(
            v.protected_by,
            Some(ProtectedBy::AncestryUnknown { pid: 4242 })
        );
    }

    #[test]
    fn daemon_serving_a_pane_is_protected_until_its_client_leaves() {
        let mut b = table();
        b.tmux_server(100, &[3]).agent(101, 100, Some(Tty::Pts(3)));
        b.add(200, 1, "codex", None, 'S', 3600.0);
        b.facts.agents.insert(200, "name:codex".into());
        b.facts.peers.insert(200, Peers::Known(vec![101]));
        let v = classify_one(&b, &rules(), 200);
        assert_eq!(v.class, Class::Protected);
        assert!(matches!(
            v.protected_by,
            Some(ProtectedBy::Serves { pid: 101, .. })
        ));
        b.facts.peers.insert(200, Peers::Known(vec![]));
        assert_eq!(class_of(&b, 200), Class::Orphan);
        b.facts
            .peers
            .insert(200, Peers::Unknown("no sock_diag".into()));
        assert_eq!(class_of(&b, 200), Class::Protected);
    }

    #[test]
    fn serving_is_transitive() {
        let mut b = table();
        b.tmux_server(100, &[]).agent(101, 100, None);
        b.agent(200, 1, None)
            .agent(201, 1, None)
            .agent(202, 1, None);
        b.facts.peers.insert(200, Peers::Known(vec![201]));
        b.facts.peers.insert(201, Peers::Known(vec![101]));
        b.facts.peers.insert(202, Peers::Known(vec![203]));
        assert_eq!(class_of(&b, 200), Class::Protected);
        assert_eq!(class_of(&b, 201), Class::Protected);
        assert_eq!(class_of(&b, 202), Class::Orphan);
    }

    #[test]
    fn tmux_session_named_claude_is_not_an_agent_nor_a_victim() {
        // The server's comm is `tmux: server` whatever its sessions are called.
        let mut b = table();
        b.tmux_server(100, &[]);
        let (t, f) = b.build();
        let r = rules();
        let c = Classifier::new(&t, &f, &r);
        assert!(c.verdicts(false).is_empty());
        assert_eq!(c.verdict(t.get(100).unwrap()).class, Class::Protected);
    }

    #[test]
    fn screen_and_zellij_servers_need_no_tty() {
        let mut b = table();
        b.proc_(100, 1, "SCREEN").agent(101, 100, None);
        // (The client's child started after it: a child older than its
        // parent was re-parented.)
        b.add(110, 1, "zellij", Some(Tty::Pts(1)), 'S', 60.0)
            .add(111, 110, "claude", None, 'S', 30.0);
        b.facts.agents.insert(111, "name:claude".into());
        assert_eq!(class_of(&b, 101), Class::Protected);
        // A zellij *client* (has a tty) protects nothing.
        assert_eq!(class_of(&b, 111), Class::Headless);
    }

    #[test]
    fn multiplexers_list_is_honoured() {
        let mut b = table();
        b.tmux_server(100, &[]).agent(101, 100, None);
        let mut r = rules();
        r.multiplexers = vec!["screen".into()];
        assert_eq!(classify_one(&b, &r, 101).class, Class::Headless);
    }

    fn key(pid: i32, age: f64) -> ProcKey {
        ProcKey {
            pid,
            start_time: ((NOW - age) * TICKS as f64) as u64,
        }
    }

    #[test]
    fn parent_that_is_pid1_of_the_agents_namespace_is_a_reaper_parent() {
        // Seen from the host, the namespace's init is an ordinary `sh`.
        let mut b = table();
        b.proc_(250, 240, "sh").group(250, 250, 250);
        b.proc_(240, 1, "unshare").agent(300, 250, None);
        assert_eq!(class_of(&b, 300), Class::Headless);
        b.facts.ns_init_parent.insert(300);
        let v = classify_one(&b, &rules(), 300);
        assert_eq!(v.class, Class::Orphan, "{}", v.reason);
        assert!(v.reason.contains("session 7"), "{}", v.reason);
    }

    #[test]
    fn a_parent_other_than_the_remembered_one_proves_reparenting() {
        // A subreaper that is in no list, in the agent's own session.
        let mut b = table();
        b.proc_(250, 1, "subreap").agent(300, 250, None);
        b.group(300, 300, 250);
        assert_eq!(class_of(&b, 300), Class::Headless);
        // An earlier cycle saw it under 260 (its original parent, gone now).
        b.facts.earlier_parent.insert(300, key(260, 3600.0));
        let v = classify_one(&b, &rules(), 300);
        assert_eq!(v.class, Class::Orphan, "{}", v.reason);
        assert!(v.reason.contains("was 260"), "{}", v.reason);
        // The same parent as remembered: nothing new.
        b.facts.earlier_parent.insert(300, key(250, 3600.0));
        assert_eq!(class_of(&b, 300), Class::Headless);
        // Same pid, another process (a recycled pid): not the same parent.
        b.facts.earlier_parent.insert(300, key(250, 9000.0));
        assert_eq!(class_of(&b, 300), Class::Orphan);
    }

    #[test]
    fn a_child_older_than_its_parent_was_reparented() {
        let mut b = table();
        b.add(250, 1, "subreap", None, 'S', 60.0)
            .group(250, 250, 250);
        b.agent(300, 250, None).group(300, 300, 250);
        let v = classify_one(&b, &rules(), 300);
        assert_eq!(v.class, Class::Orphan, "{}", v.reason);
        assert!(v.reason.contains("started before"), "{}", v.reason);
        // Same start tick: not proof.
        b.add(301, 250, "claude", None, 'S', 60.0)
            .group(301, 301, 250);
        b.facts.agents.insert(301, "name:claude".into());
        assert_eq!(class_of(&b, 301), Class::Headless);
    }

    #[test]
    fn started_by_a_listed_reaper_parent_is_not_an_orphan() {
        let mut b = table();
        // `tini -- claude`: tini puts its child in a group of its own, in
        // tini's session.
        b.proc_(50, 1, "tini").agent(51, 50, None).group(51, 51, 50);
        // A child left in its parent's group and session (`sh -c claude`
        // as a container's init).
        b.agent(52, 50, None).group(52, 50, 50);
        // A systemd service: `setsid` makes it its own session.
        b.proc_(60, 1, "systemd")
            .agent(61, 60, None)
            .group(61, 61, 61);
        // Directly under PID 1 in PID 1's session (a container init's child).
        b.agent(62, 1, None).group(62, 1, 1);
        for pid in [51, 52, 61, 62] {
            let v = classify_one(&b, &rules(), pid);
            assert_eq!(v.class, Class::Headless, "{pid}: {}", v.reason);
            assert!(
                v.reason.contains("started by reaper parent"),
                "{}",
                v.reason
            );
            assert!(!v.reapable() || rules().policy.headless == Policy::Reap);
        }
    }

    #[test]
    fn a_session_or_group_from_elsewhere_shows_adoption() {
        let mut b = table();
        b.proc_(50, 1, "tini");
        // Inherited the session of a shell that is gone.
        b.agent(51, 50, None).group(51, 51, GONE_SESSION);
        // tini's session, but the group of a shell that is gone.
        b.agent(52, 50, None).group(52, 77, 50);
        for pid in [51, 52] {
            let v = classify_one(&b, &rules(), pid);
            assert_eq!(v.class, Class::Orphan, "{pid}: {}", v.reason);
        }
        // Ids that are unknown (0: outside this PID namespace) prove nothing.
        b.agent(53, 50, None).group(53, 0, 0);
        assert_eq!(class_of(&b, 53), Class::Headless);
    }

    #[test]
    fn a_services_own_process_is_started_unless_memory_says_otherwise() {
        // A forking daemon: the session of the exited intermediate, but the
        // oldest process of its service's cgroup.
        let mut b = table();
        b.proc_(60, 1, "systemd").agent(61, 60, None);
        assert_eq!(class_of(&b, 61), Class::Orphan);
        b.facts.service_main.insert(61, "d.service".into());
        let v = classify_one(&b, &rules(), 61);
        assert_eq!(v.class, Class::Headless, "{}", v.reason);
        assert!(
            v.reason.contains("main process of d.service"),
            "{}",
            v.reason
        );
        b.facts.earlier_parent.insert(61, key(59, 3600.0));
        assert_eq!(class_of(&b, 61), Class::Orphan);
    }

    #[test]
    fn pid1_and_kernel_threads_are_protected_in_all_scans() {
        let mut b = table();
        b.add(2, 0, "kthreadd", None, 'S', 100.0);
        let (mut t, f) = b.build();
        t.get_mut(2).unwrap().kernel_thread = true;
        let r = rules();
        let c = Classifier::new(&t, &f, &r);
        for v in c.verdicts(true) {
            assert_eq!(v.class, Class::Protected, "{v:?}");
        }
    }
}
