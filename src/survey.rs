//! Gathering: one pass over the process table, then the few extra reads that
//! classification needs (executable paths and command lines for matching,
//! multiplexer servers' PTY masters, socket peers of would-be victims), then
//! the pure classifier. This is the only place that decides *what* to read;
//! `proc` decides *how*.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};

use crate::classify::{
    is_multiplexer_server, parent_is_listed_reaper, Classifier, Facts, Peers, Rules, Verdict,
};
use crate::config::{Config, MatchRules};
use crate::proc::{LiveSource, ProcSource, Process, ProcessTable};
use crate::state::Lineage;

/// The table, what was learnt about it, and the verdicts.
pub struct Survey {
    pub table: ProcessTable,
    pub facts: Facts,
    pub rules: Rules,
    pub verdicts: Vec<Verdict>,
    /// Read errors other than "process exited": signal nothing while any.
    pub problems: Vec<String>,
    /// Other users' processes that could not be read.
    pub hidden: usize,
}

impl Survey {
    pub fn classifier(&self) -> Classifier<'_> {
        Classifier::new(&self.table, &self.facts, &self.rules)
    }

    pub fn process(&self, pid: i32) -> Option<&Process> {
        self.table.get(pid)
    }
}

/// `hidepid=` of the procfs mounted at `/proc`, from `/proc/self/mountinfo`
/// text; `None` when not set (0 / off). With several procfs stacked on
/// `/proc`, the last (topmost) one is the one every read sees.
pub fn hidepid(mountinfo: &str) -> Option<String> {
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
pub const HIDDEN_ANCESTRY_FIX: &str = "run stray as root, or remount /proc with a group \
     that sees every process (mount -o remount,hidepid=2,gid=GROUP /proc) and run stray in \
     that group (systemd: SupplementaryGroups=GROUP)";

/// Why this caller cannot see every process's ancestry, when it cannot.
/// PID 1 missing from a non-empty table means `/proc` hides other users'
/// processes (`hidepid=1|2`, `noaccess|invisible`) from this user: then any
/// hidden ancestor might be a multiplexer, no orphan can be told from a
/// live session, and everything stays protected. The cycle says so once,
/// instead of calling every ancestor "vanished".
pub fn hidden_ancestry(table: &ProcessTable, proc_root: &Path) -> Option<String> {
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
pub fn hidden_ancestry_note(why: &str) -> String {
    format!(
        "cannot tell orphans from live sessions: {why}; every agent is kept. Fix: {HIDDEN_ANCESTRY_FIX}"
    )
}

/// Which processes may be candidates: root sees everyone's; anyone else only
/// their own.
pub fn in_scope(p: &Process, my_uid: u32) -> bool {
    my_uid == 0 || p.uid == my_uid
}

/// Reads and classifies. `all` classifies every process, not only agents.
/// `memory` is what earlier real cycles saw (the state's lineage).
pub fn survey(cfg: &Config, proc_root: &Path, all: bool, memory: &Lineage) -> Result<Survey> {
    survey_with(cfg, proc_root, all, memory, |_, _, _| {})
}

/// [`survey`], calling `early` as soon as the agents and the multiplexers'
/// panes are known, before classification and the remaining reads: work
/// started there (`scan` starts its tmux queries) overlaps the rest.
pub fn survey_with(
    cfg: &Config,
    proc_root: &Path,
    all: bool,
    memory: &Lineage,
    early: impl FnOnce(&ProcessTable, &Facts, &Rules),
) -> Result<Survey> {
    let read = crate::proc::read_table(proc_root)
        .with_context(|| format!("cannot read the process table at {}", proc_root.display()))?;
    let source = LiveSource::new(proc_root);
    let my_uid = nix::unistd::geteuid().as_raw();
    let mut table = read.table;
    let rules = Rules::from_config(cfg, std::process::id() as i32);

    let mut facts = Facts {
        agents: find_agents(&mut table, &cfg.matching, &source, my_uid),
        hidden_ancestry: hidden_ancestry(&table, proc_root),
        ..Facts::default()
    };
    read_pane_ttys(&table, &rules, &source, &mut facts);
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
                v.reapable() || v.class == crate::classify::Class::Young
            })
            .map(|p| (p.pid, p.uid))
            .collect();
        (!candidates.is_empty()).then(|| resolve_peers(&table, &c, &candidates, &source, my_uid))
    };
    if let Some(peers) = peers {
        facts.peers = peers;
    }

    let verdicts = Classifier::new(&table, &facts, &rules).verdicts(all);
    // Command lines for display, only for what will be shown.
    for v in &verdicts {
        if let Some(p) = table.get_mut(v.pid) {
            if p.cmdline.is_none() {
                p.cmdline = source.cmdline(v.pid).ok();
            }
        }
    }
    Ok(Survey {
        table,
        facts,
        rules,
        verdicts,
        problems: read.problems,
        hidden: read.hidden,
    })
}

/// Applies the match rules, reading exe, cmdline and environ only when a
/// rule of that kind exists, and only for processes in scope.
pub fn find_agents(
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

/// A substring that every string matching `glob` must contain, so that most
/// executable paths are rejected without running the (backtracking) glob
/// matcher. Only for patterns made of literals, `?` and `*`: in those every
/// run of literal characters must appear verbatim (case-sensitive, `*` may
/// span `/`). Patterns with `[...]` classes or `**` get no shortcut.
pub fn required_literal(glob: &glob::Pattern) -> Option<String> {
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
    for p in agents {
        if let Some(parent) = memory.parent_of(p.key()) {
            facts.earlier_parent.insert(p.pid, parent);
        }
        let Some(parent) = table.get(p.ppid) else {
            continue;
        };
        if !parent_is_listed_reaper(table, rules, p) && is_ns_init_of(source, parent.pid, p.pid) {
            facts.ns_init_parent.insert(p.pid);
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
fn is_ns_init_of(source: &dyn ProcSource, parent: i32, child: i32) -> bool {
    let Ok(parent_ns) = source.nspid(parent) else {
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

/// Reads which PTY masters each multiplexer server holds.
fn read_pane_ttys(table: &ProcessTable, rules: &Rules, source: &dyn ProcSource, facts: &mut Facts) {
    for p in table
        .iter()
        .filter(|p| is_multiplexer_server(p, &rules.multiplexers))
    {
        match source.pty_masters(p.pid) {
            Ok(indexes) => {
                for i in indexes {
                    facts.pane_ttys.insert(i, p.pid);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => facts.unreadable_servers.push((p.pid, e.to_string())),
        }
    }
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
    let peer_of = match unix_peers() {
        Ok(m) => m,
        Err(e) => {
            for pid in sockets.keys() {
                out.insert(
                    *pid,
                    Peers::Unknown(format!("cannot list unix socket peers: {e}")),
                );
            }
            return out;
        }
    };

    // inode → holder pid, seeded with the candidates' own sockets.
    let mut holder: HashMap<u64, i32> = HashMap::new();
    for (&pid, inodes) in &sockets {
        for &i in inodes {
            holder.insert(i, pid);
        }
    }
    let mut wanted: HashSet<u64> = sockets
        .values()
        .flatten()
        .filter_map(|i| peer_of.get(i).copied())
        .filter(|peer| !holder.contains_key(peer))
        .collect();
    let owners: HashSet<u32> = candidates.iter().map(|&(_, uid)| uid).collect();
    let mut unreadable = Vec::new();
    if !wanted.is_empty() {
        for p in table.iter() {
            if wanted.is_empty() {
                break;
            }
            let eligible = classifier.is_protected(p.pid)
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
        for i in inodes {
            if let Some(peer) = peer_of.get(i) {
                match holder.get(peer) {
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
fn unix_peers() -> std::io::Result<HashMap<u64, u64>> {
    crate::proc::unix_diag::unix_peers()
}

#[cfg(not(target_os = "linux"))]
fn unix_peers() -> std::io::Result<HashMap<u64, u64>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "unix socket peers are only resolved on Linux",
    ))
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
        use crate::classify::testkit::*;
        use crate::proc::Tty;
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
        assert!(facts.service_main.is_empty() && facts.earlier_parent.is_empty());
    }

    #[test]
    fn a_services_oldest_process_under_systemd_is_its_main() {
        use crate::classify::testkit::*;
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
        use crate::classify::testkit::*;
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
