//! `stray scan` and `stray explain`: classification, rendered. They never
//! signal and never write the state; they keep tmux's pane names in the
//! pane cache (`store::panes`).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::core::classify::{is_multiplexer_server, summarize, Facts, ProtectedBy, Rules, Verdict};
use crate::core::panes::{self, Place, ServerPanes};
use crate::core::process::{Process, ProcessTable, Tty};
use crate::exit::ExitCode;
use crate::render::process::{process_report, ProcessReport};
use crate::render::table::{self, Table};
use crate::settings::Scan;
use crate::store::{self, state::StateDir};
use crate::sys::proc::{current_boot_id, LiveSource, ProcSource};
use crate::sys::survey::{survey, survey_with, Survey};
use crate::{render::msg, sys::tmux, Settings};

/// The `scan --format json` document, streamed as is: building it as a
/// `Value` tree first dominated time and peak memory at thousands of
/// processes.
#[derive(Serialize)]
struct ScanDoc<'a> {
    schema: u32,
    processes: &'a [ProcessReport],
    summary: &'a serde_json::Map<String, serde_json::Value>,
    problems: &'a [String],
}

fn warn_problems(sv: &Survey) {
    for p in &sv.problems {
        msg::warn(&format!("warning: {p}"));
    }
    if let Some(why) = &sv.facts.hidden_ancestry {
        msg::warn(&crate::sys::survey::hidden_ancestry_note(why));
    }
    if sv.hidden > 0 {
        msg::info(&format!(
            "{} of other users could not be read",
            crate::core::health::plural(sv.hidden, "process")
        ));
    }
}

pub(crate) fn scan(s: &Settings, args: &Scan, out: &mut dyn Write) -> Result<ExitCode> {
    let mut pending = None;
    let memory = crate::store::state::read_lineage(&s.state_dir);
    let sv = survey_with(
        &s.config,
        &s.proc_root,
        args.all,
        &memory,
        crate::sys::survey::Shown::Every,
        |table, facts, rules| {
            // Pane names label agents only, even with --all: a scan of every
            // process must not query every tmux server on the host.
            pending = Some(PaneLabels::start(table, facts, rules, s));
        },
    )?;
    warn_problems(&sv);
    let panes = match pending {
        Some(p) => p.collect(&sv, s, |pid| sv.facts.agents.contains_key(&pid)),
        None => PaneLabels::query(&sv, s, |pid| sv.facts.agents.contains_key(&pid)),
    };
    let reports: Vec<ProcessReport> = sv
        .verdicts
        .iter()
        .filter_map(|v| {
            let p = sv.table.get(v.pid)?;
            Some(with_family(
                &sv,
                process_report(&sv.table, p, v, panes.label(&sv.table, p, v)),
            ))
        })
        .collect();
    let summary: serde_json::Map<String, serde_json::Value> = summarize(&sv.verdicts)
        .into_iter()
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect();

    if s.json() {
        return crate::cmd::print_json(
            out,
            &ScanDoc {
                schema: 1,
                processes: &reports,
                summary: &summary,
                problems: &sv.problems,
            },
        )
        .map(|_| ExitCode::OK);
    }
    if args.tree {
        let cfg = &s.config;
        let colour = msg::use_colour(
            std::io::stdout().is_terminal(),
            s.env.no_color.as_deref(),
            false,
        );
        let anchor = |p: &Process| {
            p.pid <= 1
                || cfg.reaper_parents.contains(&p.comm)
                || crate::core::classify::is_multiplexer_server(p, &cfg.multiplexers)
        };
        write!(
            out,
            "{}",
            crate::render::tree::render(&sv.table, &reports, anchor, colour)
        )?;
    } else if !reports.is_empty() {
        let mut t = Table::new(&[
            "CLASS", "PID", "AGE", "RSS", "FAMILY", "TTY", "COMMAND", "WHY",
        ]);
        for r in &reports {
            let why = match &r.pane {
                Some(p) => format!("{} [pane {}]", r.reason, table::escape(p)),
                None => r.reason.clone(),
            };
            t.row(vec![
                r.class.to_string(),
                r.pid.to_string(),
                table::age(r.age_secs as f64),
                table::size(r.rss_bytes),
                family_cell(r),
                r.tty.clone().unwrap_or_else(|| "-".into()),
                table::clip(
                    if r.cmdline.is_empty() {
                        &r.comm
                    } else {
                        &r.cmdline
                    },
                    48,
                ),
                table::escape(&why),
            ]);
        }
        write!(out, "{}", t.render())?;
    }
    writeln!(
        out,
        "{}",
        summary_line(
            &sv.verdicts,
            if args.all {
                "process"
            } else {
                crate::core::classify::counted_noun(&summarize(&sv.verdicts))
            }
        )
    )?;
    Ok(ExitCode::OK)
}

/// The family fields of a report: the footprint of an agent, the owner of
/// a leftover.
fn with_family(sv: &Survey, mut r: ProcessReport) -> ProcessReport {
    let key = crate::core::process::ProcKey {
        pid: r.pid,
        start_time: r.start_time,
    };
    if sv.facts.agents.contains_key(&r.pid) {
        let fp = sv.family.footprints.get(&key).copied().unwrap_or_default();
        r.family_processes = Some(fp.processes);
        r.family_rss_bytes = Some(fp.rss_bytes);
    }
    r.owner = sv.facts.family.get(&r.pid).and_then(|f| f.owner);
    r
}

/// `12 410M`: an agent's family (processes, RSS); `-` for anything else.
fn family_cell(r: &ProcessReport) -> String {
    match (r.family_processes, r.family_rss_bytes) {
        (Some(n), Some(rss)) => format!("{n} {}", table::size(rss)),
        _ => "-".into(),
    }
}

/// `12 agents: 9 protected, 2 orphan, 1 headless` (`noun` is singular).
pub(crate) fn summary_line(verdicts: &[Verdict], noun: &str) -> String {
    let parts: Vec<String> = summarize(verdicts)
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    let counted = crate::core::health::plural(verdicts.len(), noun);
    if parts.is_empty() {
        counted
    } else {
        format!("{counted}: {}", parts.join(", "))
    }
}

/// tmux pane names for display, per tmux server that protects something
/// shown: from the server's fresh answer, or from one kept in the pane
/// cache (see [`crate::core::panes`]). At most one bounded `list-panes` per
/// server, and none when the cache already knows every pane shown.
#[derive(Default)]
pub(crate) struct PaneLabels {
    by_server: HashMap<i32, ServerPanes>,
}

/// The pane cache as read at the start, and the questions under way (see
/// [`PaneLabels::start`]).
pub(crate) struct PendingPanes {
    kept: Vec<ServerPanes>,
    boot_id: Option<String>,
    /// server pid, socket, the query running on its own thread (so that not
    /// even the spawn holds up the survey).
    queries: Vec<(i32, PathBuf, JoinHandle<Option<String>>)>,
}

impl PaneLabels {
    /// Labels the panes of the tmux servers that protect a process
    /// `wanted` names (agents, or the one `explain` is about), asking each
    /// at most once.
    pub(crate) fn query(sv: &Survey, s: &Settings, wanted: impl Fn(i32) -> bool) -> PaneLabels {
        PendingPanes::load(s).collect(sv, s, wanted)
    }

    /// The tmux servers that protect a process `wanted` names, each with
    /// those processes: the only ones whose panes label anything shown.
    fn servers_shown<'t>(
        sv: &'t Survey,
        wanted: &impl Fn(i32) -> bool,
    ) -> Vec<(i32, Vec<&'t Process>)> {
        let mut by_server: BTreeMap<i32, Vec<&Process>> = BTreeMap::new();
        for v in sv.verdicts.iter().filter(|v| wanted(v.pid)) {
            if let Some(
                ProtectedBy::MultiplexerTree { pid, comm } | ProtectedBy::PaneTty { pid, comm, .. },
            ) = &v.protected_by
            {
                if let (true, Some(p)) = (comm.starts_with("tmux"), sv.table.get(v.pid)) {
                    by_server.entry(*pid).or_default().push(p);
                }
            }
        }
        by_server.into_iter().collect()
    }

    /// Reads the pane cache and starts the questions it cannot answer
    /// while the survey is still under way (called from
    /// [`crate::sys::survey::survey_with`]'s early hook), for the tmux
    /// servers that may protect an agent: the nearest multiplexer above
    /// it, or the holder of its pane (never every server, even for `scan
    /// --all`). [`PendingPanes::collect`] then decides by the verdicts.
    pub(crate) fn start(
        table: &ProcessTable,
        facts: &Facts,
        rules: &Rules,
        s: &Settings,
    ) -> PendingPanes {
        let is_tmux = |pid: i32| {
            table.get(pid).is_some_and(|p| {
                p.comm.starts_with("tmux") && is_multiplexer_server(p, &rules.multiplexers)
            })
        };
        let mut guess: BTreeMap<i32, Vec<&Process>> = BTreeMap::new();
        for &agent in facts.agents.keys() {
            let Some(p) = table.get(agent) else { continue };
            if let Some(Tty::Pts(n)) = p.tty {
                if let Some(&server) = facts.pane_ttys.get(&n) {
                    guess.entry(server).or_default().push(p);
                }
            }
            if let Some(server) = nearest_multiplexer(table, p, rules) {
                guess.entry(server).or_default().push(p);
            }
        }
        let mut pending = PendingPanes::load(s);
        let ask: Vec<i32> = guess
            .into_iter()
            .filter(|(server, _)| is_tmux(*server))
            .filter(|(server, shown)| pending.must_ask(table, *server, shown))
            .map(|(server, _)| server)
            .collect();
        pending.ask(&ask, s);
        pending
    }

    /// The pane of the server that protects `p` (per its verdict) it sits
    /// in: by its pane's first process, else by its terminal. None for a
    /// process no tmux server protects, or whose pane is not known.
    pub(crate) fn label(&self, table: &ProcessTable, p: &Process, v: &Verdict) -> Option<String> {
        let server = match &v.protected_by {
            Some(ProtectedBy::MultiplexerTree { pid, .. } | ProtectedBy::PaneTty { pid, .. }) => {
                *pid
            }
            _ => return None,
        };
        match self.by_server.get(&server)?.place(table, p) {
            Place::Pane(pane) => Some(pane.target.clone()),
            Place::Elsewhere | Place::New => None,
        }
    }
}

/// The nearest multiplexer server above `p`.
fn nearest_multiplexer(table: &ProcessTable, p: &Process, rules: &Rules) -> Option<i32> {
    let mut cur = table.get(p.ppid);
    let mut hops = 0;
    while let Some(q) = cur {
        if is_multiplexer_server(q, &rules.multiplexers) {
            return Some(q.pid);
        }
        hops += 1;
        if q.ppid <= 0 || q.ppid == q.pid || hops > table.len() {
            return None;
        }
        cur = table.get(q.ppid);
    }
    None
}

impl PendingPanes {
    /// The pane cache of this boot, as kept in the state dir (nothing when
    /// it is missing, foreign or invalid: see [`crate::store::panes`]).
    fn load(s: &Settings) -> PendingPanes {
        let boot_id = current_boot_id();
        let kept = match StateDir::open(&s.state_dir) {
            Ok(Some(dir)) => store::panes::load(&dir, boot_id.as_deref()),
            _ => Vec::new(),
        };
        PendingPanes {
            kept,
            boot_id,
            queries: Vec::new(),
        }
    }

    /// The kept answer of this very server (same pid, same start time).
    fn kept_for(&self, server: &Process) -> Option<&ServerPanes> {
        self.kept
            .iter()
            .find(|k| k.pid == server.pid && k.start_time == server.start_time)
    }

    fn must_ask(&self, table: &ProcessTable, server: i32, shown: &[&Process]) -> bool {
        table.get(server).is_some_and(|sp| {
            panes::must_ask(self.kept_for(sp), table, sp, shown, panes::LABEL_TTL)
        })
    }

    fn asked(&self, server: i32) -> bool {
        self.queries.iter().any(|(pid, _, _)| *pid == server)
    }

    /// Starts one bounded `list-panes` per server in `servers` (found by
    /// the socket it listens on), each on its own thread.
    fn ask(&mut self, servers: &[i32], s: &Settings) {
        if servers.is_empty() {
            return;
        }
        let listening = tmux::listening_unix_paths(&s.proc_root);
        let source = LiveSource::new(&s.proc_root);
        for &server in servers {
            let socket: Option<PathBuf> = source
                .socket_inodes(server)
                .ok()
                .and_then(|inodes| inodes.iter().find_map(|i| listening.get(i).cloned()));
            let Some(socket) = socket else { continue };
            let sock = socket.clone();
            let query = std::thread::spawn(move || {
                tmux::Query::start(&sock, &tmux::LIST_PANES)?.finish(tmux::QUERY_TIMEOUT)
            });
            self.queries.push((server, socket, query));
        }
    }

    /// Asks the servers that protect a process `shown` names and that the
    /// cache cannot answer for (unless asked already), waits for the
    /// answers (each bounded by [`tmux::QUERY_TIMEOUT`] from its start;
    /// they run side by side), and keeps them in the cache.
    pub(crate) fn collect(
        mut self,
        sv: &Survey,
        s: &Settings,
        shown: impl Fn(i32) -> bool,
    ) -> PaneLabels {
        let table = &sv.table;
        let wanted = PaneLabels::servers_shown(sv, &shown);
        let missed: Vec<i32> = wanted
            .iter()
            .filter(|(server, procs)| !self.asked(*server) && self.must_ask(table, *server, procs))
            .map(|(server, _)| *server)
            .collect();
        self.ask(&missed, s);
        let mut answered: Vec<ServerPanes> = Vec::new();
        for (server, socket, query) in std::mem::take(&mut self.queries) {
            // Bounded: the thread's query kills its client at the timeout.
            match (query.join().ok().flatten(), table.get(server)) {
                (Some(out), Some(sp)) => answered.push(ServerPanes::answered(
                    table,
                    sp,
                    tmux::parse_panes(&out)
                        .into_iter()
                        .map(|p| (p.pid, p.target, p.tty)),
                )),
                (Some(_), None) => {}
                (None, _) => msg::info(&format!(
                    "tmux server {server} ({}) did not answer within {:?}; pane names omitted",
                    socket.display(),
                    tmux::QUERY_TIMEOUT
                )),
            }
        }
        let mut labels = PaneLabels::default();
        for (server, _) in &wanted {
            let Some(sp) = table.get(*server) else {
                continue;
            };
            let fresh = answered.iter().find(|a| a.pid == *server).or_else(|| {
                self.kept_for(sp)
                    .filter(|k| k.fresh_for(table, sp, panes::LABEL_TTL))
            });
            if let Some(entry) = fresh {
                labels.by_server.insert(*server, entry.clone());
            }
        }
        if !answered.is_empty() {
            self.keep(answered, table, s);
        }
        labels
    }

    /// Writes the fresh answers back, with the kept ones of servers still
    /// running (a dead server's go). A failure is ignored: it costs the next
    /// run a question, and must never fail a scan.
    fn keep(self, mut answered: Vec<ServerPanes>, table: &ProcessTable, s: &Settings) {
        let alive = |k: &ServerPanes| {
            table
                .get(k.pid)
                .is_some_and(|p| p.start_time == k.start_time && !p.is_zombie())
        };
        let old: Vec<ServerPanes> = self
            .kept
            .into_iter()
            .filter(|k| alive(k) && !answered.iter().any(|a| a.pid == k.pid))
            .collect();
        answered.extend(old);
        if let Ok(dir) = StateDir::create(&s.state_dir) {
            let _ = store::panes::save(&dir, self.boot_id.as_deref(), &answered);
        }
    }
}

/// For a pid that is gone: its last recorded death, if the audit log has
/// one (the pid may have been reused since; the start time tells).
fn explain_death(s: &Settings, pid: i32, out: &mut dyn Write) -> Result<()> {
    let Ok((events, _)) = crate::store::audit::read_all(&s.audit_log) else {
        return Ok(());
    };
    let Some(e) = events.iter().rev().find(|e| e.pid == pid && e.is_death()) else {
        return Ok(());
    };
    if s.json() {
        return crate::cmd::print_json(out, &json!({"schema": 1, "process": null, "death": e}));
    }
    writeln!(
        out,
        "pid {pid} is gone; its recorded death, {}: {} ({})",
        crate::render::table::escape(&e.ts),
        e.line(),
        crate::render::table::escape(&e.event)
    )?;
    Ok(())
}

pub(crate) fn explain(s: &Settings, pid: i32, out: &mut dyn Write) -> Result<ExitCode> {
    let sv = survey(
        &s.config,
        &s.proc_root,
        true,
        &crate::store::state::read_lineage(&s.state_dir),
    )?;
    warn_problems(&sv);
    let (Some(p), Some(v)) = (sv.table.get(pid), sv.verdicts.iter().find(|v| v.pid == pid)) else {
        crate::render::msg::error(&format!("no such process: {pid}"));
        explain_death(s, pid, out)?;
        return Ok(ExitCode::FAILURE);
    };
    let panes = PaneLabels::query(&sv, s, |q| q == pid);
    let pane = panes.label(&sv.table, p, v);
    let agent = sv.facts.agents.contains_key(&pid);
    let mut ancestry = Vec::new();
    let mut cur = sv.table.get(p.ppid);
    while let Some(a) = cur {
        ancestry.push(a);
        if a.pid <= 1 || ancestry.len() > 64 {
            break;
        }
        cur = sv.table.get(a.ppid);
    }
    let r = with_family(&sv, process_report(&sv.table, p, v, pane.clone()));
    if s.json() {
        let chain: Vec<_> = ancestry
            .iter()
            .map(|a| json!({"pid": a.pid, "comm": a.comm, "tty": a.tty.map(|t| t.to_string())}))
            .collect();
        return crate::cmd::print_json(
            out,
            &json!({"schema": 1, "process": r, "agent": agent, "ancestry": chain,
                    "min_age_secs": s.config.min_age.as_secs(), "reapable": v.reapable()}),
        )
        .map(|_| ExitCode::OK);
    }
    let chain: Vec<String> = std::iter::once(p)
        .chain(ancestry.iter().copied())
        .map(|a| format!("{} ({})", a.pid, table::escape(&a.comm)))
        .collect();
    writeln!(
        out,
        "pid {} ({}): {}",
        p.pid,
        table::escape(&p.comm),
        v.class
    )?;
    writeln!(out, "  command:  {}", table::escape(&r.cmdline))?;
    writeln!(
        out,
        "  agent:    {}",
        if agent {
            format!("yes, by rule {}", table::escape(&v.rule))
        } else if sv.facts.family.contains_key(&pid) {
            "no: a member of an agent's family (see why)".into()
        } else {
            "no: it matches no [match] rule, so stray never acts on it".into()
        }
    )?;
    writeln!(out, "  owner:    uid {}", p.uid)?;
    writeln!(
        out,
        "  age:      {} (min_age {})",
        table::age(sv.table.age_secs(p)),
        humantime::format_duration(s.config.min_age)
    )?;
    writeln!(out, "  state:    {}", p.state)?;
    writeln!(
        out,
        "  tty:      {}",
        p.tty.map_or("none".to_string(), |t| t.to_string())
    )?;
    writeln!(out, "  ancestry: {}", chain.join(" ← "))?;
    if let Some(pane) = pane {
        writeln!(out, "  pane:     {}", table::escape(&pane))?;
    }
    writeln!(out, "  why:      {}", table::escape(&v.reason))?;
    explain_family(out, &sv, p, v, agent)?;
    let acts = agent || v.rule == "family";
    writeln!(
        out,
        "  policy:   {}",
        if !acts {
            "none: not an agent, never signalled".to_string()
        } else if v.reapable() {
            format!("{} (a reap cycle would signal it)", v.policy)
        } else {
            v.policy.to_string()
        }
    )?;
    Ok(ExitCode::OK)
}

/// `explain`'s family lines: why a family member was or was not taken, and
/// an agent's footprint with its family tree.
fn explain_family(
    out: &mut dyn Write,
    sv: &Survey,
    p: &Process,
    v: &Verdict,
    agent: bool,
) -> Result<()> {
    if let Some(f) = sv.facts.family.get(&p.pid) {
        if f.reason != v.reason {
            writeln!(out, "  family:   {}", table::escape(&f.reason))?;
        }
        if let Some(o) = f.owner {
            writeln!(out, "  left by:  agent {} (start {})", o.pid, o.start_time)?;
        }
    }
    if !agent {
        return Ok(());
    }
    let fp = sv
        .family
        .footprints
        .get(&p.key())
        .copied()
        .unwrap_or_default();
    writeln!(
        out,
        "  family:   {} processes, {} RSS",
        fp.processes,
        table::size(fp.rss_bytes)
    )?;
    for line in family_tree(sv, p.pid) {
        writeln!(out, "            {line}")?;
    }
    Ok(())
}

/// The agent's live descendants as an indented tree (at most 50 lines),
/// then the members tied to it otherwise (remembered descent, a marker).
fn family_tree(sv: &Survey, agent: i32) -> Vec<String> {
    const MAX: usize = 50;
    let children = sv.table.children();
    let mut lines = Vec::new();
    let mut stack: Vec<(i32, usize)> = children
        .get(&agent)
        .into_iter()
        .flatten()
        .rev()
        .map(|&c| (c, 0))
        .collect();
    let mut shown = std::collections::HashSet::new();
    let mut total = 0usize;
    while let Some((pid, depth)) = stack.pop() {
        if !shown.insert(pid) || depth > 64 {
            continue;
        }
        total += 1;
        if let (Some(q), true) = (sv.table.get(pid), lines.len() < MAX) {
            lines.push(format!(
                "{}{} ({}) {}",
                "  ".repeat(depth),
                q.pid,
                table::escape(&q.comm),
                table::size(q.rss_bytes)
            ));
        }
        for &c in children.get(&pid).into_iter().flatten().rev() {
            stack.push((c, depth + 1));
        }
    }
    let agent_key = sv.table.get(agent).map(|a| a.key());
    for v in &sv.family.verdicts {
        let tied = matches!(
            &v.lineage,
            Some(crate::core::family::Lineage::Remembered(a)) if Some(*a) == agent_key
        ) || matches!(
            &v.lineage,
            Some(crate::core::family::Lineage::Named { live: Some(a), .. }) if Some(*a) == agent_key
        );
        if tied && shown.insert(v.key.pid) {
            total += 1;
            if let (Some(q), true) = (sv.table.get(v.key.pid), lines.len() < MAX) {
                lines.push(format!(
                    "{} ({}) {} [not a descendant: {}]",
                    q.pid,
                    table::escape(&q.comm),
                    table::size(q.rss_bytes),
                    table::escape(&v.reason)
                ));
            }
        }
    }
    if total > lines.len() {
        lines.push(format!("… and {} more", total - lines.len()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::Class;

    fn report(protected_by: Option<ProtectedBy>, pane: Option<&str>) -> ProcessReport {
        ProcessReport {
            age_secs: 61,
            class: Class::Protected,
            cmdline: "claude --resume \"x\"\n\u{1b}[31m".into(),
            comm: "claude".into(),
            pane: pane.map(str::to_string),
            pid: 4242,
            policy: crate::core::classify::Policy::Report,
            ppid: 4000,
            protected_by,
            reason: "in a pane".into(),
            rss_bytes: 1 << 30,
            rule: "name:claude".into(),
            start_time: 777,
            state: "S".into(),
            tty: Some("pts/3".into()),
            uid: 1000,
            family_processes: Some(3),
            family_rss_bytes: Some(1 << 20),
            owner: None,
        }
    }

    /// The streamed document is byte for byte the `json!` one.
    #[test]
    fn scan_json_matches_the_value_rendering() {
        let reports = vec![
            report(
                Some(ProtectedBy::PaneTty {
                    pid: 12,
                    comm: "tmux: server".into(),
                    tty: "pts/3".into(),
                }),
                Some("main:0.1"),
            ),
            report(None, None),
            report(Some(ProtectedBy::System), None),
        ];
        let summary: serde_json::Map<String, serde_json::Value> = [
            ("protected".to_string(), json!(2)),
            ("orphan".to_string(), json!(1)),
        ]
        .into_iter()
        .collect();
        for problems in [vec![], vec!["/proc/9/stat: cannot parse".to_string()]] {
            let want = serde_json::to_string_pretty(&json!({"schema": 1, "processes": reports,
                "summary": summary, "problems": problems}))
            .unwrap();
            let got = serde_json::to_string_pretty(&ScanDoc {
                schema: 1,
                processes: &reports,
                summary: &summary,
                problems: &problems,
            })
            .unwrap();
            assert_eq!(got, want);
        }
    }
}
