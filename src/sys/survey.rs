//! Gathering: one pass over the process table, then the few extra reads that
//! classification needs (executable paths and command lines for matching,
//! multiplexer servers' PTY masters, socket peers of would-be victims), then
//! the pure classifier. This is the only place that decides *what* to read;
//! `proc` decides *how*.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{Config, MatchRules};
use crate::core::classify::{
    is_multiplexer_server, parent_is_listed_reaper, Classifier, Facts, FamilyFact, Peers, Rules,
    Verdict,
};
use crate::core::escalation::{Expected, Recheck};
use crate::core::family::{self, Decision};
use crate::core::lineage::Lineage;
use crate::core::process::{ProcKey, Process, ProcessTable, Tty};
use crate::sys::proc::{LiveSource, ProcSource};

/// The table, what was learnt about it, and the verdicts.
pub(crate) struct Survey {
    pub table: ProcessTable,
    pub facts: Facts,
    pub verdicts: Vec<Verdict>,
    /// Read errors other than "process exited": signal nothing while any.
    pub problems: Vec<String>,
    /// Other users' processes that could not be read.
    pub hidden: usize,
    /// The family rules' decision (leftovers, footprints, descent to
    /// remember).
    pub family: Decision,
}

/// `hidepid=` of the procfs mounted at `/proc`, from `/proc/self/mountinfo`
/// text; `None` when not set (0 / off). With several procfs stacked on
/// `/proc`, the last (topmost) one is the one every read sees.
pub(crate) fn hidepid(mountinfo: &str) -> Option<String> {
    let mut found = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS … - FSTYPE SOURCE SUPEROPTS
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split_whitespace().collect();
        let r: Vec<&str> = right.split_whitespace().collect();
        if l.get(4) != Some(&"/proc") || r.first() != Some(&"proc") {
            continue;
        }
        let supers = r.get(2).copied().unwrap_or("");
        found = Some(
            supers
                .split(',')
                .find_map(|o| o.strip_prefix("hidepid="))
                .filter(|v| !matches!(*v, "0" | "off"))
                .map(str::to_string),
        );
    }
    found.flatten()
}

/// How to see every process again; said by `doctor` and by each cycle.
pub(crate) const HIDDEN_ANCESTRY_FIX: &str = "run stray as root, or remount /proc with a group \
     that sees every process (mount -o remount,hidepid=2,gid=GROUP /proc) and run stray in \
     that group (systemd: SupplementaryGroups=GROUP)";

/// Why this caller cannot see every process's ancestry, when it cannot.
/// PID 1 missing from a non-empty table means `/proc` hides other users'
/// processes (`hidepid=1|2`, `noaccess|invisible`) from this user: then any
/// hidden ancestor might be a multiplexer, no orphan can be told from a
/// live session, and everything stays protected. The cycle says so once,
/// instead of calling every ancestor "vanished".
pub(crate) fn hidden_ancestry(table: &ProcessTable, proc_root: &Path) -> Option<String> {
    if table.is_empty() || table.get(1).is_some() {
        return None;
    }
    let how = std::fs::read_to_string(proc_root.join("self/mountinfo"))
        .ok()
        .and_then(|m| hidepid(&m));
    Some(match how {
        Some(hp) => format!(
            "{} is mounted hidepid={hp} and hides other users' processes, PID 1 among them, from this user",
            proc_root.display()
        ),
        None => format!(
            "PID 1 is not visible in {}: other users' processes are hidden from this user",
            proc_root.display()
        ),
    })
}

/// The one message a cycle gives when [`hidden_ancestry`] applies.
pub(crate) fn hidden_ancestry_note(why: &str) -> String {
    format!(
        "cannot tell orphans from live sessions: {why}; every agent is kept. Fix: {HIDDEN_ANCESTRY_FIX}"
    )
}
/// Which processes may be candidates: root sees everyone's; anyone else only
/// their own.
pub(crate) fn in_scope(p: &Process, my_uid: u32) -> bool {
    my_uid == 0 || p.uid == my_uid
}

/// Reads and classifies. `all` classifies every process, not only agents.
/// `memory` is what earlier real cycles saw (the state's lineage).
pub(crate) fn survey(
    cfg: &Config,
    proc_root: &Path,
    all: bool,
    memory: &Lineage,
) -> Result<Survey> {
    survey_with(cfg, proc_root, all, memory, Shown::Every, |_, _, _| {})
}

/// Whose command lines a survey reads for display (besides those the
/// rules read anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// Every classified process (`scan`, `explain`, `check`).
    Every,
    /// Only the reapable ones and the strays (young ones too): a cycle
    /// shows and audits only its actions and `oom_score_adj` raises.
    Reapable,
}

/// [`survey`] for a reap cycle: command lines only for what it may act on.
pub(crate) fn survey_for_cycle(cfg: &Config, proc_root: &Path, memory: &Lineage) -> Result<Survey> {
    survey_with(cfg, proc_root, false, memory, Shown::Reapable, |_, _, _| {})
}

/// [`survey`], calling `early` as soon as the agents and the multiplexers'
/// panes are known, before classification and the remaining reads: work
/// started there (`scan` starts its tmux queries) overlaps the rest.
pub(crate) fn survey_with(
    cfg: &Config,
    proc_root: &Path,
    all: bool,
    memory: &Lineage,
    shown: Shown,
    early: impl FnOnce(&ProcessTable, &Facts, &Rules),
) -> Result<Survey> {
    let read = crate::sys::proc::read_table(proc_root)
        .with_context(|| format!("cannot read the process table at {}", proc_root.display()))?;
    let my_uid = nix::unistd::geteuid().as_raw();
    let mut table = read.table;
    let source = LiveSource::for_table(proc_root, &table);
    let rules = cfg.rules(std::process::id() as i32);

    let mut facts = Facts {
        agents: find_agents(&mut table, &cfg.matching, &source, my_uid),
        hidden_ancestry: hidden_ancestry(&table, proc_root),
        ..Facts::default()
    };
    // Right after the table: the window for an exec that the comm check
    // cannot see stays as short as it can be.
    record_exe_ids(&mut table, facts.agents.keys().copied(), &source);
    let pane_servers = read_pane_ttys(&table, &rules, &source, &mut facts);
    read_pane_devpts(&table, &rules, &source, &pane_servers, &mut facts);
    read_parentage(&table, &rules, &source, memory, &mut facts);
    early(&table, &facts, &rules);

    // First pass without socket facts, to learn who would be signalled; the
    // same classifier then tells which processes are protected.
    let peers = {
        let c = Classifier::new(&table, &facts, &rules);
        let candidates: Vec<(i32, u32)> = table
            .iter()
            .filter(|p| facts.agents.contains_key(&p.pid))
            .filter(|p| {
                let v = c.verdict(p);
                v.reapable() || v.class == crate::core::classify::Class::Young
            })
            .map(|p| (p.pid, p.uid))
            .collect();
        (!candidates.is_empty())
            .then(|| resolve_peers(&table, &c, &candidates, &source, my_uid, proc_root))
    };
    if let Some(peers) = peers {
        facts.peers = peers;
    }

    let crate::sys::family::Decided {
        decision: family,
        cmdlines,
    } = {
        let c = Classifier::new(&table, &facts, &rules);
        let family_rules = cfg.family_rules();
        let resolve = |candidates: &[(i32, u32)]| {
            resolve_peers_held_by(&table, candidates, &source, my_uid, proc_root, |p| {
                c.is_protected_live(p.pid) || facts.agents.contains_key(&p.pid)
            })
        };
        crate::sys::family::decide(&crate::sys::family::Context {
            table: &table,
            facts: &facts,
            classifier: &c,
            rules: &rules,
            family: &family_rules,
            memory,
            source: &source,
            my_uid,
            proc_root,
            resolve_peers: &resolve,
        })
    };
    for (pid, args) in cmdlines {
        if let Some(p) = table.get_mut(pid) {
            p.cmdline = Some(args);
        }
    }
    family_facts(&family, &mut facts);
    record_exe_ids(&mut table, family.leftovers().map(|v| v.key.pid), &source);

    let verdicts = Classifier::new(&table, &facts, &rules).verdicts(all);
    // Command lines for display, only for what will be shown.
    for v in verdicts.iter().filter(|v| {
        shown == Shown::Every
            || v.reapable()
            || crate::core::memory::verdict_stray_kind(v).is_some()
    }) {
        if let Some(p) = table.get_mut(v.pid) {
            if p.cmdline.is_none() {
                p.cmdline = source.cmdline(v.pid).ok();
            }
        }
    }
    Ok(Survey {
        table,
        facts,
        verdicts,
        problems: read.problems,
        hidden: read.hidden,
        family,
    })
}

/// What classification takes from the family decision: each member's
/// verdict (owner followed up through leftovers), and the agents of
/// background sessions.
fn family_facts(d: &Decision, facts: &mut Facts) {
    let by_pid: HashMap<i32, &family::Verdict> =
        d.verdicts.iter().map(|v| (v.key.pid, v)).collect();
    let owner_of = |v: &family::Verdict| {
        let mut cur = v;
        for _ in 0..64 {
            match &cur.lineage {
                Some(family::Lineage::Remembered(a)) => return Some(*a),
                Some(family::Lineage::BelowLeftover(pid)) => match by_pid.get(pid) {
                    Some(up) => cur = up,
                    None => return None,
                },
                _ => return None,
            }
        }
        None
    };
    for v in &d.verdicts {
        if v.outcome == family::Outcome::NotFamily {
            continue;
        }
        let leftover = v.outcome == family::Outcome::Leftover;
        facts.family.insert(
            v.key.pid,
            FamilyFact {
                leftover,
                reason: v.reason.clone(),
                owner: if leftover { owner_of(v) } else { None },
            },
        );
    }
    for (k, role) in &d.background_agents {
        facts.background.insert(k.pid, role.as_str().to_string());
    }
}

/// Applies the match rules, reading exe, cmdline and environ only when a
/// rule of that kind exists, and only for processes in scope.
pub(crate) fn find_agents(
    table: &mut ProcessTable,
    rules: &MatchRules,
    source: &dyn ProcSource,
    my_uid: u32,
) -> HashMap<i32, String> {
    let mut agents = HashMap::new();
    let exe_needles: Vec<Option<String>> = rules.exe.iter().map(required_literal).collect();
    for p in table.iter_mut() {
        if p.kernel_thread || p.pid <= 1 || !in_scope(p, my_uid) {
            continue;
        }
        if let Some(rule) = match_rule(p, rules, &exe_needles, source) {
            agents.insert(p.pid, rule);
        }
    }
    agents
}

/// Records which file each of `pids` (the agents, the leftovers) runs: one
/// `stat` each, none for the rest of the table. A signal is withheld from a
/// process that exec'd another file since. Unreadable stays `None`: such a
/// process cannot be verified, so it is never signalled.
fn record_exe_ids(
    table: &mut ProcessTable,
    pids: impl Iterator<Item = i32>,
    source: &dyn ProcSource,
) {
    for pid in pids {
        if let Some(p) = table.get_mut(pid) {
            p.exe_id = source.exe_id(pid).ok();
        }
    }
}

/// How to tell, right before a signal, that `rule` (the rule that made a
/// process an agent, as [`find_agents`] names it) still holds: the comm and
/// the executable are always checked; a `cmdline:` or `env:` rule is
/// matched again.
pub(crate) fn recheck_for(rule: &str, rules: &MatchRules) -> Recheck {
    if let Some(re) = rule.strip_prefix("cmdline:") {
        return match rules.cmdline.iter().find(|r| r.as_str() == re) {
            Some(r) => Recheck::Cmdline(r.clone()),
            None => Recheck::Unknown(rule.to_string()),
        };
    }
    if let Some(marker) = rule.strip_prefix("env:") {
        return Recheck::Env(marker.to_string());
    }
    Recheck::Nothing
}

/// What a signal to `key` must still find: the comm and executable seen
/// in this survey and the rule that matched.
pub(crate) fn expected(
    table: &ProcessTable,
    key: ProcKey,
    rule: &str,
    rules: &MatchRules,
) -> Expected {
    let p = table
        .get(key.pid)
        .filter(|p| p.start_time == key.start_time);
    Expected {
        key,
        comm: p.map(|p| p.comm.clone()).unwrap_or_default(),
        exe: p.and_then(|p| p.exe_id),
        rule: recheck_for(rule, rules),
    }
}

/// A substring that every string matching `glob` must contain, so that most
/// executable paths are rejected without running the (backtracking) glob
/// matcher. Only for patterns made of literals, `?` and `*`: in those every
/// run of literal characters must appear verbatim (case-sensitive, `*` may
/// span `/`). Patterns with `[...]` classes or `**` get no shortcut.
pub(crate) fn required_literal(glob: &glob::Pattern) -> Option<String> {
    let text = glob.as_str();
    if text.contains(['[', ']']) || text.contains("**") {
        return None;
    }
    text.split(['*', '?'])
        .max_by_key(|run| run.len())
        .filter(|run| !run.is_empty())
        .map(str::to_string)
}

/// The first rule `p` matches, filling `p.exe` / `p.cmdline` as read.
/// `exe_needles[i]` is the [`required_literal`] of `rules.exe[i]`.
fn match_rule(
    p: &mut Process,
    rules: &MatchRules,
    exe_needles: &[Option<String>],
    source: &dyn ProcSource,
) -> Option<String> {
    if rules.names.iter().any(|n| n == &p.comm) {
        return Some(format!("name:{}", p.comm));
    }
    if p.is_zombie() {
        // A zombie has no exe, cmdline or environ left to match.
        return None;
    }
    if !rules.exe.is_empty() {
        if p.exe.is_none() {
            p.exe = source.exe(p.pid).ok();
        }
        if let Some(exe) = &p.exe {
            let matched = rules.exe.iter().zip(exe_needles).find(|(g, needle)| {
                needle.as_deref().is_none_or(|n| exe.contains(n)) && g.matches(exe)
            });
            if let Some((g, _)) = matched {
                return Some(format!("exe:{}", g.as_str()));
            }
        }
    }
    if !rules.cmdline.is_empty() {
        if p.cmdline.is_none() {
            p.cmdline = source.cmdline(p.pid).ok();
        }
        if let Some(args) = &p.cmdline {
            let line = args.join(" ");
            if let Some(r) = rules.cmdline.iter().find(|r| r.is_match(&line)) {
                return Some(format!("cmdline:{}", r.as_str()));
            }
        }
    }
    if !rules.env.is_empty() {
        if let Ok(env) = source.environ(p.pid) {
            for (k, v) in &rules.env {
                let want = format!("{k}={v}");
                if env.iter().any(|e| e == &want) {
                    return Some(format!("env:{want}"));
                }
            }
        }
    }
    None
}

/// What tells re-parented agents from agents their parent started, for the
/// agents without a terminal (see [`Classifier::parentage`]): the parent
/// remembered from earlier cycles; `NSpid` of the parent and the agent when
/// the parent is not already a reaper parent by pid or name (is it PID 1 of
/// the agent's own PID namespace?); the cgroup when the parent is a
/// `systemd`. Two or three small reads per such agent, none for the rest.
fn read_parentage(
    table: &ProcessTable,
    rules: &Rules,
    source: &dyn ProcSource,
    memory: &Lineage,
    facts: &mut Facts,
) {
    let agents = table
        .iter()
        .filter(|p| facts.agents.contains_key(&p.pid) && p.tty.is_none() && p.ppid > 0);
    // One parent (a shell, a supervisor) often has many such agents.
    let mut parent_ns: HashMap<i32, Option<Vec<i32>>> = HashMap::new();
    for p in agents {
        if let Some(parent) = memory.parent_of(p.key()) {
            facts.earlier_parent.insert(p.pid, parent);
        }
        let Some(parent) = table.get(p.ppid) else {
            continue;
        };
        if !parent_is_listed_reaper(table, rules, p) {
            let parent_ns = parent_ns
                .entry(parent.pid)
                .or_insert_with(|| source.nspid(parent.pid).ok());
            if is_ns_init_of(source, parent_ns.as_deref(), p.pid) {
                facts.ns_init_parent.insert(p.pid);
            }
        }
        if parent.comm == "systemd" {
            if let Some(unit) = service_main_of(table, source, p) {
                facts.service_main.insert(p.pid, unit);
            }
        }
    }
}

/// Is `parent` PID 1 of `child`'s PID namespace? Its innermost pid is 1 and
/// both are as deep in the namespace tree (a child is in its parent's
/// namespace or a deeper one, so equal depth means the same one). Unknown
/// (unreadable) means no.
fn is_ns_init_of(source: &dyn ProcSource, parent_ns: Option<&[i32]>, child: i32) -> bool {
    let Some(parent_ns) = parent_ns else {
        return false;
    };
    if parent_ns.len() < 2 || parent_ns.last() != Some(&1) {
        return false;
    }
    source
        .nspid(child)
        .is_ok_and(|child_ns| child_ns.len() == parent_ns.len())
}

/// The unit whose own process `p` is: `p` sits in a `.service` cgroup and
/// no process in that cgroup is older. `None` when unknown.
fn service_main_of(table: &ProcessTable, source: &dyn ProcSource, p: &Process) -> Option<String> {
    let path = source.cgroup(p.pid).ok()?;
    let unit = path.rsplit('/').next()?;
    if !unit.ends_with(".service") {
        return None;
    }
    let procs = source.cgroup_procs(&path).ok()?;
    let oldest = procs
        .iter()
        .filter_map(|&pid| table.get(pid))
        .all(|q| q.start_time >= p.start_time);
    (oldest && procs.contains(&p.pid)).then(|| unit.to_string())
}

/// Reads which PTY masters each multiplexer server holds. Returns every
/// server per PTY index (`facts.pane_ttys` keeps one).
fn read_pane_ttys(
    table: &ProcessTable,
    rules: &Rules,
    source: &dyn ProcSource,
    facts: &mut Facts,
) -> HashMap<u32, Vec<i32>> {
    let mut servers: HashMap<u32, Vec<i32>> = HashMap::new();
    for p in table
        .iter()
        .filter(|p| is_multiplexer_server(p, &rules.multiplexers))
    {
        match source.pty_masters(p.pid) {
            Ok(indexes) => {
                for i in indexes {
                    facts.pane_ttys.insert(i, p.pid);
                    servers.entry(i).or_default().push(p.pid);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => facts.unreadable_servers.push((p.pid, e.to_string())),
        }
    }
    servers
}

/// For an agent outside every multiplexer tree whose pts number is a pane's,
/// tells whether it is that pane's terminal or the same number in another
/// devpts instance (a container's own `/dev/pts`): reads the devpts instance
/// of the agent's terminal and of every multiplexer master with that
/// number. Agents inside a tree, the common case, cost nothing here.
fn read_pane_devpts(
    table: &ProcessTable,
    rules: &Rules,
    source: &dyn ProcSource,
    pane_servers: &HashMap<u32, Vec<i32>>,
    facts: &mut Facts,
) {
    let mut agents: Vec<(i32, u32)> = facts
        .agents
        .keys()
        .filter_map(|&pid| {
            let p = table.get(pid)?;
            match p.tty {
                Some(Tty::Pts(n)) if pane_servers.contains_key(&n) => Some((pid, n)),
                _ => None,
            }
        })
        .filter(|&(pid, _)| !under_multiplexer(table, pid, &rules.multiplexers))
        .collect();
    agents.sort_unstable();
    let mut children: Option<HashMap<i32, Vec<i32>>> = None;
    for (pid, n) in agents {
        let Ok(Some(dev)) = source.tty_devpts(pid, Tty::Pts(n)) else {
            continue;
        };
        facts.tty_devpts.insert(pid, dev);
        if facts.pane_devpts.contains_key(&n) {
            continue;
        }
        let children = children.get_or_insert_with(|| table.children());
        let masters = pane_servers[&n]
            .iter()
            .flat_map(|&server| {
                master_devpts(table, source, children, server, n)
                    .into_iter()
                    .map(move |dev| (server, dev))
            })
            .collect();
        facts.pane_devpts.insert(n, masters);
    }
}

/// The devpts instance of each master `pts/n` that `server` holds. A master
/// opened through the devtmpfs `/dev/ptmx` does not say; then, when it is
/// the server's only master numbered `n`, the pane's own processes do (the
/// server's children on `pts/n` hold its slave), if they agree on one
/// instance. `None` when neither tells.
fn master_devpts(
    table: &ProcessTable,
    source: &dyn ProcSource,
    children: &HashMap<i32, Vec<i32>>,
    server: i32,
    n: u32,
) -> Vec<Option<u64>> {
    let mut masters = match source.pty_master_devpts(server, n) {
        Ok(m) if !m.is_empty() => m,
        // Unreadable, or the master closed since: not known.
        _ => return vec![None],
    };
    if let [None] = masters[..] {
        let mut seen: Vec<u64> = Vec::new();
        let mut unknown = false;
        for &child in children.get(&server).map(Vec::as_slice).unwrap_or_default() {
            if table.get(child).and_then(|c| c.tty) != Some(Tty::Pts(n)) {
                continue;
            }
            match source.tty_devpts(child, Tty::Pts(n)) {
                Ok(Some(dev)) if !seen.contains(&dev) => seen.push(dev),
                Ok(Some(_)) => {}
                _ => unknown = true,
            }
        }
        let from_panes = match (seen.as_slice(), unknown) {
            ([one], false) => Some(*one),
            _ => None,
        };
        masters[0] = from_panes;
    }
    masters
}

/// Does `pid` descend from (or is it) a multiplexer server?
fn under_multiplexer(table: &ProcessTable, pid: i32, multiplexers: &[String]) -> bool {
    let mut cur = table.get(pid);
    let mut hops = 0;
    while let Some(p) = cur {
        if is_multiplexer_server(p, multiplexers) {
            return true;
        }
        hops += 1;
        if p.ppid <= 0 || p.ppid == p.pid || hops > table.len() {
            return false;
        }
        cur = table.get(p.ppid);
    }
    false
}

/// For each candidate, which processes hold the peer ends of its connected
/// unix sockets. Reads the fds of the candidates, asks the kernel for every
/// unix socket's peer in one netlink dump, then reads the fds of protected
/// processes (of the candidates' owners) only until every peer is found.
fn resolve_peers(
    table: &ProcessTable,
    classifier: &Classifier<'_>,
    candidates: &[(i32, u32)],
    source: &dyn ProcSource,
    my_uid: u32,
    proc_root: &Path,
) -> HashMap<i32, Peers> {
    resolve_peers_held_by(table, candidates, source, my_uid, proc_root, |p| {
        classifier.is_protected(p.pid)
    })
}

/// [`resolve_peers`] with the peer holders looked for among the processes
/// `holder_ok` accepts (the candidates themselves are always placed).
fn resolve_peers_held_by(
    table: &ProcessTable,
    candidates: &[(i32, u32)],
    source: &dyn ProcSource,
    my_uid: u32,
    proc_root: &Path,
    holder_ok: impl Fn(&Process) -> bool,
) -> HashMap<i32, Peers> {
    let mut out = HashMap::new();
    let mut sockets: HashMap<i32, Vec<u64>> = HashMap::new();
    for &(pid, _) in candidates {
        match source.socket_inodes(pid) {
            Ok(inodes) if inodes.is_empty() => {
                out.insert(pid, Peers::Known(Vec::new()));
            }
            Ok(inodes) => {
                sockets.insert(pid, inodes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.insert(pid, Peers::Known(Vec::new()));
            }
            Err(e) => {
                out.insert(
                    pid,
                    Peers::Unknown(format!("cannot read fds of {pid}: {e}")),
                );
            }
        }
    }
    if sockets.is_empty() {
        return out;
    }
    // Each candidate's sockets are looked up in the dump of its own network
    // namespace: a dump shows only the sockets of the namespace it is made
    // in, so asking only in ours would call a containerised daemon's clients
    // "none". One dump per distinct namespace.
    let tables = peer_tables(&mut sockets, &mut out, proc_root);
    // Holders are listed after the dumps: a table kept from earlier in the
    // survey could miss a connection the dump shows.
    let candidate_pids: Vec<i32> = candidates.iter().map(|&(pid, _)| pid).collect();
    source.forget_fd_tables(&candidate_pids);
    let elsewhere = sockets_from_elsewhere(&mut sockets, &mut out, &tables, source);
    if sockets.is_empty() {
        return out;
    }
    let peer_of = |pid: i32, inode: u64| -> Option<u64> {
        tables
            .get(&pid)
            .and_then(|t| t.peers.get(&inode))
            .or_else(|| elsewhere.get(&inode))
            .copied()
    };

    // inode → holder pid, seeded with the candidates' own sockets.
    let mut holder: HashMap<u64, i32> = HashMap::new();
    for (&pid, inodes) in &sockets {
        for &i in inodes {
            holder.insert(i, pid);
        }
    }
    let mut wanted: HashSet<u64> = sockets
        .iter()
        .flat_map(|(&pid, inodes)| inodes.iter().map(move |&i| (pid, i)))
        .filter_map(|(pid, i)| peer_of(pid, i))
        .filter(|peer| !holder.contains_key(peer))
        .collect();
    let owners: HashSet<u32> = candidates.iter().map(|&(_, uid)| uid).collect();
    let mut unreadable = Vec::new();
    if !wanted.is_empty() {
        for p in table.iter() {
            if wanted.is_empty() {
                break;
            }
            let eligible = holder_ok(p)
                && !p.kernel_thread
                && p.pid > 1
                && (my_uid == 0 || owners.contains(&p.uid));
            if !eligible {
                continue;
            }
            match source.socket_inodes(p.pid) {
                Ok(inodes) => {
                    for i in inodes {
                        if wanted.remove(&i) {
                            holder.insert(i, p.pid);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => unreadable.push(format!(
                    "cannot read fds of protected process {}: {e}",
                    p.pid
                )),
            }
        }
    }
    for (&pid, inodes) in &sockets {
        let mut holders = Vec::new();
        let mut unresolved = false;
        for &i in inodes {
            if let Some(peer) = peer_of(pid, i) {
                match holder.get(&peer) {
                    Some(&h) => holders.push(h),
                    None => unresolved = true,
                }
            }
        }
        // A peer we could not place might sit in a protected process whose
        // fds we could not read: unknown means protect.
        let peers = match (unresolved, unreadable.first()) {
            (true, Some(why)) => Peers::Unknown(why.clone()),
            _ => Peers::Known(holders),
        };
        out.insert(pid, peers);
    }
    out
}

#[cfg(target_os = "linux")]
use crate::sys::unix_diag::UnixSockets;

/// The AF_UNIX sockets of one network namespace (none read elsewhere).
#[cfg(not(target_os = "linux"))]
#[allow(dead_code)] // only tests build one off Linux
#[derive(Debug, Default)]
struct UnixSockets {
    peers: HashMap<u64, u64>,
    all: HashSet<u64>,
}

/// The unix sockets of one network namespace, shared by its candidates.
type PeerTable = std::rc::Rc<UnixSockets>;

/// A candidate's unix socket that is not in its own namespace's table comes
/// from another namespace (inherited across `unshare -n` without
/// `O_CLOEXEC`, passed over `SCM_RIGHTS`): it is looked up in the other
/// tables, stray's own namespace included. Returns inode → peer for those
/// found; a candidate with one found nowhere gets [`Peers::Unknown`] in
/// `out` and leaves `sockets`. Sockets of other families are not listed by
/// a unix dump and are told apart by their sockfs protocol name.
fn sockets_from_elsewhere(
    sockets: &mut HashMap<i32, Vec<u64>>,
    out: &mut HashMap<i32, Peers>,
    tables: &HashMap<i32, PeerTable>,
    source: &dyn ProcSource,
) -> HashMap<u64, u64> {
    let mut found_peers = HashMap::new();
    let mut own: Option<Option<UnixSockets>> = None;
    let mut pids: Vec<i32> = sockets.keys().copied().collect();
    pids.sort_unstable();
    for pid in pids {
        let Some(table) = tables.get(&pid) else {
            continue;
        };
        let missing: Vec<u64> = sockets[&pid]
            .iter()
            .filter(|i| !table.all.contains(i))
            .copied()
            .collect();
        if missing.is_empty() {
            continue;
        }
        let unix = match source.unix_sockets_among(pid, &missing) {
            Ok(unix) => unix,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                sockets.remove(&pid);
                out.insert(
                    pid,
                    Peers::Unknown(format!("cannot tell the sockets of {pid} apart: {e}")),
                );
                continue;
            }
        };
        for inode in unix {
            let in_table =
                |t: &UnixSockets| t.all.contains(&inode).then(|| t.peers.get(&inode).copied());
            let found = tables.values().find_map(|t| in_table(t)).or_else(|| {
                own.get_or_insert_with(|| own_unix_sockets().ok())
                    .as_ref()
                    .and_then(in_table)
            });
            match found {
                Some(Some(peer)) => {
                    found_peers.insert(inode, peer);
                }
                Some(None) => {}
                None => {
                    sockets.remove(&pid);
                    out.insert(
                        pid,
                        Peers::Unknown(format!(
                            "unix socket {inode} of {pid} is in a network namespace that was not listed"
                        )),
                    );
                    break;
                }
            }
        }
    }
    found_peers
}

#[cfg(target_os = "linux")]
fn own_unix_sockets() -> std::io::Result<UnixSockets> {
    crate::sys::unix_diag::unix_peers()
}

#[cfg(not(target_os = "linux"))]
fn own_unix_sockets() -> std::io::Result<UnixSockets> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "unix socket peers are only resolved on Linux",
    ))
}

/// Dumps the unix sockets of every network namespace a candidate of
/// `sockets` lives in, once per namespace, and returns each candidate's
/// table. A candidate whose namespace cannot be read or entered (not root,
/// no permission, no unix_diag) gets [`Peers::Unknown`] in `out` and leaves
/// `sockets`; one that exited gets no peers.
#[cfg(target_os = "linux")]
fn peer_tables(
    sockets: &mut HashMap<i32, Vec<u64>>,
    out: &mut HashMap<i32, Peers>,
    proc_root: &Path,
) -> HashMap<i32, PeerTable> {
    use crate::sys::unix_diag::{net_namespace, own_net_namespace, unix_peers, unix_peers_in};
    let ns_file = |pid: i32| proc_root.join(pid.to_string()).join("ns/net");
    let own = own_net_namespace().ok();
    let mut by_ns: HashMap<_, Vec<i32>> = HashMap::new();
    let mut pids: Vec<i32> = sockets.keys().copied().collect();
    pids.sort_unstable();
    for pid in pids {
        match net_namespace(&ns_file(pid)) {
            Ok(ns) => by_ns.entry(ns).or_default().push(pid),
            Err(e) => {
                sockets.remove(&pid);
                let peers = if e.kind() == std::io::ErrorKind::NotFound {
                    Peers::Known(Vec::new())
                } else {
                    Peers::Unknown(format!("cannot read the network namespace of {pid}: {e}"))
                };
                out.insert(pid, peers);
            }
        }
    }
    let mut tables = HashMap::new();
    for (ns, members) in by_ns {
        let dump = if Some(ns) == own {
            unix_peers()
        } else {
            // Entered through any member still in that namespace.
            let mut last = None;
            let mut found = None;
            for &pid in &members {
                match unix_peers_in(&ns_file(pid), ns) {
                    Ok(t) => {
                        found = Some(t);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some(e),
                    Err(e) => {
                        last = Some(e);
                        break;
                    }
                }
            }
            found.ok_or_else(|| {
                last.unwrap_or_else(|| std::io::Error::other("no process left in it"))
            })
        };
        match dump {
            Ok(t) => {
                let t = std::rc::Rc::new(t);
                for pid in members {
                    tables.insert(pid, t.clone());
                }
            }
            Err(e) => {
                let why = if Some(ns) == own {
                    format!("cannot list unix socket peers: {e}")
                } else {
                    format!("cannot list unix socket peers in its network namespace: {e}")
                };
                for pid in members {
                    sockets.remove(&pid);
                    out.insert(pid, Peers::Unknown(why.clone()));
                }
            }
        }
    }
    tables
}

#[cfg(not(target_os = "linux"))]
fn peer_tables(
    sockets: &mut HashMap<i32, Vec<u64>>,
    out: &mut HashMap<i32, Peers>,
    _proc_root: &Path,
) -> HashMap<i32, PeerTable> {
    for (pid, _) in sockets.drain() {
        out.insert(
            pid,
            Peers::Unknown("unix socket peers are only resolved on Linux".to_string()),
        );
    }
    HashMap::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn needle(g: &str) -> Option<String> {
        required_literal(&glob::Pattern::new(g).unwrap())
    }

    #[test]
    fn required_literal_of_common_patterns() {
        assert_eq!(
            needle("*/claude/versions/*").as_deref(),
            Some("/claude/versions/")
        );
        assert_eq!(needle("/usr/bin/codex").as_deref(), Some("/usr/bin/codex"));
        assert_eq!(needle("*a?bc*").as_deref(), Some("bc"));
        assert_eq!(needle("*"), None);
        assert_eq!(needle("*/[cC]laude/*"), None);
        assert_eq!(needle("**/claude"), None);
    }

    /// A `ProcSource` that answers only the parentage reads, and counts them.
    #[derive(Default)]
    struct Fake {
        nspid: HashMap<i32, Vec<i32>>,
        cgroup: HashMap<i32, String>,
        procs: HashMap<String, Vec<i32>>,
        reads: std::cell::RefCell<Vec<(&'static str, i32)>>,
    }

    fn missing() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::NotFound)
    }

    impl ProcSource for Fake {
        fn exe(&self, _: i32) -> std::io::Result<String> {
            Err(missing())
        }
        fn cmdline(&self, _: i32) -> std::io::Result<Vec<String>> {
            Err(missing())
        }
        fn environ(&self, _: i32) -> std::io::Result<Vec<String>> {
            Err(missing())
        }
        fn pty_masters(&self, _: i32) -> std::io::Result<Vec<u32>> {
            Err(missing())
        }
        fn socket_inodes(&self, _: i32) -> std::io::Result<Vec<u64>> {
            Err(missing())
        }
        fn nspid(&self, pid: i32) -> std::io::Result<Vec<i32>> {
            self.reads.borrow_mut().push(("nspid", pid));
            self.nspid.get(&pid).cloned().ok_or_else(missing)
        }
        fn cgroup(&self, pid: i32) -> std::io::Result<String> {
            self.reads.borrow_mut().push(("cgroup", pid));
            self.cgroup.get(&pid).cloned().ok_or_else(missing)
        }
        fn cgroup_procs(&self, path: &str) -> std::io::Result<Vec<i32>> {
            self.procs.get(path).cloned().ok_or_else(missing)
        }
    }

    #[test]
    fn namespace_init_parents_are_found_with_few_reads() {
        use crate::core::classify::testkit::*;
        use crate::core::process::Tty;
        let mut b = table();
        b.proc_(400, 1, "unshare").proc_(500, 400, "sh");
        b.agent(510, 500, None) // under the namespace's init
            .agent(511, 500, None) // in a deeper namespace than its parent
            .agent(512, 1, None) // under PID 1: nothing to read
            .agent(513, 500, Some(Tty::Pts(4))) // has a tty: nothing to read
            .agent(514, 400, None); // parent is no namespace's init
        let (table, mut facts) = b.build();
        let src = Fake {
            nspid: HashMap::from([
                (400, vec![400]),
                (500, vec![500, 1]),
                (510, vec![510, 2]),
                (511, vec![511, 3, 1]),
            ]),
            ..Fake::default()
        };
        read_parentage(&table, &rules(), &src, &Lineage::default(), &mut facts);
        let mut found: Vec<i32> = facts.ns_init_parent.iter().copied().collect();
        found.sort();
        assert_eq!(found, vec![510]);
        let reads = src.reads.borrow();
        assert!(
            reads.iter().all(|&(_, pid)| ![512, 513].contains(&pid)),
            "{reads:?}"
        );
        // The parent first; the child only when the parent is an init.
        assert!(!reads.contains(&("nspid", 514)), "{reads:?}");
        // A parent of several agents is read once.
        let parent_reads = reads.iter().filter(|r| **r == ("nspid", 500)).count();
        assert_eq!(parent_reads, 1, "{reads:?}");
        assert!(facts.service_main.is_empty() && facts.earlier_parent.is_empty());
    }

    #[test]
    fn a_services_oldest_process_under_systemd_is_its_main() {
        use crate::core::classify::testkit::*;
        let mut b = table();
        b.proc_(60, 1, "systemd");
        b.add(70, 60, "claude", None, 'S', 100.0)
            .add(71, 60, "claude", None, 'S', 50.0)
            .add(72, 60, "claude", None, 'S', 50.0)
            .add(73, 1, "claude", None, 'S', 50.0);
        for pid in [70, 71, 72, 73] {
            b.facts.agents.insert(pid, "name:claude".into());
        }
        let (table, mut facts) = b.build();
        let svc = "/user.slice/user@1000.service/app.slice/a.service";
        let src = Fake {
            cgroup: HashMap::from([
                (70, svc.to_string()),
                (71, svc.to_string()),
                (
                    72,
                    "/user.slice/user@1000.service/app.slice/vte-spawn-1.scope".into(),
                ),
                (73, svc.to_string()),
            ]),
            procs: HashMap::from([(svc.to_string(), vec![70, 71])]),
            ..Fake::default()
        };
        read_parentage(&table, &rules(), &src, &Lineage::default(), &mut facts);
        // 71 has an older process (70) in its cgroup; 72 is in a scope; 73's
        // parent is not a systemd (its cgroup is not even read).
        assert_eq!(
            facts.service_main.iter().collect::<Vec<_>>(),
            vec![(&70, &"a.service".to_string())]
        );
        assert!(!src.reads.borrow().contains(&("cgroup", 73)));
    }

    #[test]
    fn remembered_parents_reach_the_facts_by_pid_and_start_time() {
        use crate::core::classify::testkit::*;
        let mut b = table();
        b.agent(200, 1, None).agent(201, 1, None);
        let (table, mut facts) = b.build();
        let mut earlier = ProcessTable::new(
            vec![
                table.get(1).unwrap().clone(),
                table.get(200).unwrap().clone(),
                Process {
                    start_time: 1, // another process that had pid 201
                    ..table.get(201).unwrap().clone()
                },
            ],
            NOW,
            TICKS,
        );
        let first = earlier.get(1).unwrap().key();
        for pid in [200, 201] {
            earlier.get_mut(pid).unwrap().ppid = 1;
        }
        let memory = Lineage::default().remember(&earlier, [200, 201]);
        read_parentage(&table, &rules(), &Fake::default(), &memory, &mut facts);
        assert_eq!(facts.earlier_parent.get(&200), Some(&first));
        assert_eq!(facts.earlier_parent.get(&201), None);
    }

    /// A candidate whose network namespace cannot be read, or names no
    /// namespace that can be entered, has unknown peers (so it is protected);
    /// one that exited has none.
    #[cfg(target_os = "linux")]
    #[test]
    fn unreadable_or_unenterable_netns_means_peers_unknown() {
        let root = tempfile::tempdir().unwrap();
        // 10: `ns` is a file, so `ns/net` cannot be read (ENOTDIR).
        std::fs::create_dir_all(root.path().join("10")).unwrap();
        std::fs::write(root.path().join("10/ns"), "").unwrap();
        // 11: `ns/net` is a plain file: readable, but setns refuses it.
        std::fs::create_dir_all(root.path().join("11/ns")).unwrap();
        std::fs::write(root.path().join("11/ns/net"), "").unwrap();
        // 12: gone.
        let mut sockets: HashMap<i32, Vec<u64>> =
            [(10, vec![1]), (11, vec![2]), (12, vec![3])].into();
        let mut out = HashMap::new();
        let tables = peer_tables(&mut sockets, &mut out, root.path());
        assert!(tables.is_empty() && sockets.is_empty());
        assert!(
            matches!(&out[&10], Peers::Unknown(why) if why.contains("network namespace of 10")),
            "{:?}",
            out[&10]
        );
        assert!(
            matches!(&out[&11], Peers::Unknown(why) if why.contains("11/ns/net")),
            "{:?}",
            out[&11]
        );
        assert_eq!(out[&12], Peers::Known(Vec::new()));
    }

    /// The required reads of a fake that answers something else: no exe,
    /// command line or environment, no PTY masters, no sockets.
    macro_rules! no_other_reads {
        () => {
            fn exe(&self, _: i32) -> std::io::Result<String> {
                Err(std::io::ErrorKind::NotFound.into())
            }
            fn cmdline(&self, _: i32) -> std::io::Result<Vec<String>> {
                Err(std::io::ErrorKind::NotFound.into())
            }
            fn environ(&self, _: i32) -> std::io::Result<Vec<String>> {
                Err(std::io::ErrorKind::NotFound.into())
            }
            fn pty_masters(&self, _: i32) -> std::io::Result<Vec<u32>> {
                Ok(Vec::new())
            }
            fn socket_inodes(&self, _: i32) -> std::io::Result<Vec<u64>> {
                Ok(Vec::new())
            }
        };
    }

    /// Answers only which sockets are AF_UNIX.
    struct UnixOnly(Vec<u64>);

    impl ProcSource for UnixOnly {
        no_other_reads!();
        fn unix_sockets_among(&self, _: i32, inodes: &[u64]) -> std::io::Result<Vec<u64>> {
            Ok(inodes
                .iter()
                .filter(|i| self.0.contains(i))
                .copied()
                .collect())
        }
    }

    /// A unix socket listed in no namespace's table (held from a namespace
    /// stray did not dump) makes the peers unknown; a socket of another
    /// family missing from the unix tables changes nothing; one found in
    /// another candidate's namespace lends its peer.
    #[test]
    fn unix_socket_from_an_unlisted_namespace_means_peers_unknown() {
        // Inodes no real namespace lists.
        const STRAY_UNIX: u64 = u64::MAX - 1;
        const TCP: u64 = u64::MAX - 2;
        const ELSEWHERE: u64 = u64::MAX - 3;
        let empty = std::rc::Rc::new(UnixSockets::default());
        let other = std::rc::Rc::new(UnixSockets {
            peers: [(ELSEWHERE, 77)].into(),
            all: [ELSEWHERE].into(),
        });
        let tables: HashMap<i32, PeerTable> = [
            (10, empty.clone()),
            (11, empty.clone()),
            (12, empty),
            (13, other),
        ]
        .into();
        let mut sockets: HashMap<i32, Vec<u64>> = [
            (10, vec![STRAY_UNIX, TCP]),
            (11, vec![TCP]),
            (12, vec![ELSEWHERE]),
            (13, vec![ELSEWHERE]),
        ]
        .into();
        let mut out = HashMap::new();
        let source = UnixOnly(vec![STRAY_UNIX, ELSEWHERE]);
        let found = sockets_from_elsewhere(&mut sockets, &mut out, &tables, &source);
        assert!(
            matches!(&out[&10], Peers::Unknown(why) if why.contains("not listed")),
            "{out:?}"
        );
        assert!(!sockets.contains_key(&10));
        assert!(!out.contains_key(&11) && sockets.contains_key(&11));
        assert!(!out.contains_key(&12) && sockets.contains_key(&12));
        assert_eq!(found, [(ELSEWHERE, 77)].into());
    }

    /// Answers only devpts questions: each server's masters, each
    /// process's terminal instance.
    struct Devpts {
        masters: HashMap<i32, Vec<Option<u64>>>,
        ttys: HashMap<i32, u64>,
    }

    impl ProcSource for Devpts {
        no_other_reads!();
        fn pty_master_devpts(&self, pid: i32, _: u32) -> std::io::Result<Vec<Option<u64>>> {
            Ok(self.masters.get(&pid).cloned().unwrap_or_default())
        }
        fn tty_devpts(&self, pid: i32, _: Tty) -> std::io::Result<Option<u64>> {
            Ok(self.ttys.get(&pid).copied())
        }
    }

    /// A master that does not name its devpts instance takes the instance
    /// of the pane processes on its terminal, only when it is the server's
    /// one master of that number and they agree.
    #[test]
    fn master_instance_from_the_pane_processes_only_when_unambiguous() {
        let p = |pid, ppid, tty: Option<Tty>| Process {
            uid: 0,
            tty,
            comm: "sh".into(),
            ..crate::core::process::bare_process(pid, ppid, 0)
        };
        let table = ProcessTable::new(
            vec![
                p(100, 1, None),
                p(101, 100, Some(Tty::Pts(3))),
                p(102, 100, Some(Tty::Pts(4))),
                p(200, 1, None),
                p(201, 200, Some(Tty::Pts(3))),
                p(202, 200, Some(Tty::Pts(3))),
            ],
            0.0,
            100,
        );
        let children = table.children();
        let mut src = Devpts {
            masters: [(100, vec![None]), (200, vec![None])].into(),
            ttys: [(101, 40), (102, 26), (201, 40), (202, 26)].into(),
        };
        let of = |src: &Devpts, server| master_devpts(&table, src, &children, server, 3);
        assert_eq!(of(&src, 100), vec![Some(40)]);
        // Pane processes that disagree: not known.
        assert_eq!(of(&src, 200), vec![None]);
        // One of them unreadable: not known.
        src.ttys.insert(202, 40);
        assert_eq!(of(&src, 200), vec![Some(40)]);
        src.ttys.remove(&202);
        assert_eq!(of(&src, 200), vec![None]);
        // Two masters numbered 3: the panes cannot say whose.
        src.masters.insert(100, vec![None, Some(26)]);
        assert_eq!(of(&src, 100), vec![None, Some(26)]);
        // A master that names its instance is taken as it is.
        src.masters.insert(100, vec![Some(26)]);
        assert_eq!(of(&src, 100), vec![Some(26)]);
        // Nothing readable: one unknown master.
        src.masters.remove(&100);
        assert_eq!(of(&src, 100), vec![None]);
    }

    proptest! {
        /// The shortcut never rejects a path the glob matches.
        #[test]
        fn needle_is_necessary(
            glob in "[a/*?.]{0,8}",
            path in "[a/.b]{0,12}",
        ) {
            let Ok(g) = glob::Pattern::new(&glob) else { return Ok(()); };
            if g.matches(&path) {
                if let Some(n) = required_literal(&g) {
                    prop_assert!(path.contains(&n), "{glob:?} matches {path:?} without {n:?}");
                }
            }
        }
    }
}
