//! Gathering: one pass over the process table, then the few extra reads that
//! classification needs (executable paths and command lines for matching,
//! multiplexer servers' PTY masters, socket peers of would-be victims), then
//! the pure classifier. This is the only place that decides *what* to read;
//! `proc` decides *how*.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{Config, MatchRules};
use crate::core::classify::{is_multiplexer_server, Classifier, Facts, Peers, Rules, Verdict};
use crate::core::process::{Process, ProcessTable};
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
}

/// Which processes may be candidates: root sees everyone's; anyone else only
/// their own.
pub(crate) fn in_scope(p: &Process, my_uid: u32) -> bool {
    my_uid == 0 || p.uid == my_uid
}

/// Reads and classifies. `all` classifies every process, not only agents.
pub(crate) fn survey(cfg: &Config, proc_root: &Path, all: bool) -> Result<Survey> {
    survey_with(cfg, proc_root, all, |_, _, _| {})
}

/// [`survey`], calling `early` as soon as the agents and the multiplexers'
/// panes are known, before classification and the remaining reads: work
/// started there (`scan` starts its tmux queries) overlaps the rest.
pub(crate) fn survey_with(
    cfg: &Config,
    proc_root: &Path,
    all: bool,
    early: impl FnOnce(&ProcessTable, &Facts, &Rules),
) -> Result<Survey> {
    let read = crate::sys::proc::read_table(proc_root)
        .with_context(|| format!("cannot read the process table at {}", proc_root.display()))?;
    let source = LiveSource::new(proc_root);
    let my_uid = nix::unistd::geteuid().as_raw();
    let mut table = read.table;
    let rules = cfg.rules(std::process::id() as i32);

    let mut facts = Facts {
        agents: find_agents(&mut table, &cfg.matching, &source, my_uid),
        ..Facts::default()
    };
    read_pane_ttys(&table, &rules, &source, &mut facts);
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
        verdicts,
        problems: read.problems,
        hidden: read.hidden,
    })
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
    crate::sys::unix_diag::unix_peers()
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
