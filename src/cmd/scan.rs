//! `stray scan` and `stray explain`: classification, no signals.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::classify::{summarize, Class, ProtectedBy, Verdict};
use crate::cli::ScanArgs;
use crate::exit::ExitCode;
use crate::proc::{LiveSource, ProcSource, Process, ProcessTable, Tty};
use crate::report::{self, Table};
use crate::survey::{survey, Survey};
use crate::{msg, tmux, Settings};

/// One process as `scan --format json` shows it.
#[derive(Debug, Serialize)]
pub struct ProcessReport {
    pub pid: i32,
    pub ppid: i32,
    pub start_time: u64,
    pub uid: u32,
    pub comm: String,
    pub cmdline: String,
    pub tty: Option<String>,
    pub age_secs: u64,
    pub rss_bytes: u64,
    pub state: String,
    pub class: Class,
    pub policy: crate::config::Policy,
    pub reason: String,
    pub protected_by: Option<ProtectedBy>,
    pub rule: String,
    /// `session:window.pane` when tmux could tell.
    pub pane: Option<String>,
}

pub fn process_report(
    table: &ProcessTable,
    p: &Process,
    v: &Verdict,
    pane: Option<String>,
) -> ProcessReport {
    ProcessReport {
        pid: p.pid,
        ppid: p.ppid,
        start_time: p.start_time,
        uid: p.uid,
        comm: p.comm.clone(),
        cmdline: p.cmdline.as_ref().map(|a| a.join(" ")).unwrap_or_default(),
        tty: p.tty.map(|t| t.to_string()),
        age_secs: table.age_secs(p) as u64,
        rss_bytes: p.rss_bytes,
        state: p.state.to_string(),
        class: v.class,
        policy: v.policy,
        reason: v.reason.clone(),
        protected_by: v.protected_by.clone(),
        rule: v.rule.clone(),
        pane,
    }
}

fn warn_problems(sv: &Survey) {
    for p in &sv.problems {
        msg::warn(&format!("warning: {p}"));
    }
    if sv.hidden > 0 {
        msg::info(&format!(
            "{} processes of other users could not be read",
            sv.hidden
        ));
    }
}

pub fn scan(s: &Settings, args: &ScanArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let sv = survey(&s.config, &s.proc_root, args.all)?;
    warn_problems(&sv);
    let panes = PaneLabels::query(&sv, s);
    let reports: Vec<ProcessReport> = sv
        .verdicts
        .iter()
        .filter_map(|v| {
            let p = sv.table.get(v.pid)?;
            Some(process_report(&sv.table, p, v, panes.label(&sv.table, p)))
        })
        .collect();
    let summary: serde_json::Map<String, serde_json::Value> = summarize(&sv.verdicts)
        .into_iter()
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect();

    if s.json() {
        return crate::cmd::print_json(
            out,
            &json!({"schema": 1, "processes": reports, "summary": summary, "problems": sv.problems}),
        )
        .map(|_| ExitCode::OK);
    }
    if args.tree {
        write!(out, "{}", render_tree(&sv, &reports))?;
    } else if !reports.is_empty() {
        let mut t = Table::new(&["CLASS", "PID", "AGE", "RSS", "TTY", "COMMAND", "WHY"]);
        for r in &reports {
            let why = match &r.pane {
                Some(p) => format!("{} [pane {}]", r.reason, report::escape(p)),
                None => r.reason.clone(),
            };
            t.row(vec![
                r.class.to_string(),
                r.pid.to_string(),
                report::age(r.age_secs as f64),
                report::size(r.rss_bytes),
                r.tty.clone().unwrap_or_else(|| "-".into()),
                report::clip(
                    if r.cmdline.is_empty() {
                        &r.comm
                    } else {
                        &r.cmdline
                    },
                    48,
                ),
                report::escape(&why),
            ]);
        }
        write!(out, "{}", t.render())?;
    }
    writeln!(
        out,
        "{}",
        summary_line(&sv.verdicts, if args.all { "processes" } else { "agents" })
    )?;
    Ok(ExitCode::OK)
}

/// `12 agents: 9 protected, 2 orphan, 1 headless`.
pub fn summary_line(verdicts: &[Verdict], noun: &str) -> String {
    let parts: Vec<String> = summarize(verdicts)
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    if parts.is_empty() {
        format!("0 {noun}")
    } else {
        format!("{} {noun}: {}", verdicts.len(), parts.join(", "))
    }
}

/// Agents under their ancestors, as an indented tree (`scan --tree`).
fn render_tree(sv: &Survey, reports: &[ProcessReport]) -> String {
    let by_pid: HashMap<i32, &ProcessReport> = reports.iter().map(|r| (r.pid, r)).collect();
    let mut lines = Vec::new();
    for r in reports {
        let mut chain = Vec::new();
        let mut cur = sv.table.get(r.ppid);
        while let Some(p) = cur {
            chain.push(p);
            if p.pid <= 1 || sv.classifier().is_protected(p.pid) && p.comm.starts_with("tmux") {
                break;
            }
            cur = sv.table.get(p.ppid);
        }
        chain.reverse();
        let mut line = String::new();
        for (depth, p) in chain.iter().enumerate() {
            line += &format!(
                "{}{} {}\n",
                "  ".repeat(depth),
                p.pid,
                report::escape(&p.comm)
            );
        }
        line += &format!(
            "{}{} {} [{}] {}\n",
            "  ".repeat(chain.len()),
            r.pid,
            report::clip(
                if r.cmdline.is_empty() {
                    &r.comm
                } else {
                    &r.cmdline
                },
                60
            ),
            r.class,
            report::escape(&r.reason)
        );
        let _ = by_pid;
        lines.push(line);
    }
    lines.concat()
}

/// tmux pane names for display: at most one bounded `list-panes` per tmux
/// server that protects something shown.
#[derive(Default)]
pub struct PaneLabels {
    /// server pid → panes
    panes: HashMap<i32, Vec<tmux::Pane>>,
}

impl PaneLabels {
    pub fn query(sv: &Survey, s: &Settings) -> PaneLabels {
        let mut labels = PaneLabels::default();
        let servers: Vec<i32> = {
            let mut v: Vec<i32> = sv
                .verdicts
                .iter()
                .filter_map(|v| match &v.protected_by {
                    Some(ProtectedBy::MultiplexerTree { pid, comm })
                    | Some(ProtectedBy::PaneTty { pid, comm, .. })
                        if comm.starts_with("tmux") =>
                    {
                        Some(*pid)
                    }
                    _ => None,
                })
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if servers.is_empty() {
            return labels;
        }
        let listening = tmux::listening_unix_paths(&s.proc_root);
        let source = LiveSource::new(&s.proc_root);
        // All queries first, then all answers: they run side by side.
        let mut queries = Vec::new();
        for server in servers {
            let socket: Option<PathBuf> = source
                .socket_inodes(server)
                .ok()
                .and_then(|inodes| inodes.iter().find_map(|i| listening.get(i).cloned()));
            let Some(socket) = socket else { continue };
            let query = tmux::Query::start(&socket, &tmux::LIST_PANES);
            queries.push((server, socket, query));
        }
        for (server, socket, query) in queries {
            match query.and_then(|q| q.finish(tmux::QUERY_TIMEOUT)) {
                Some(out) => {
                    labels.panes.insert(server, tmux::parse_panes(&out));
                }
                None => msg::info(&format!(
                    "tmux server {server} ({}) did not answer within {:?}; pane names omitted",
                    socket.display(),
                    tmux::QUERY_TIMEOUT
                )),
            }
        }
        labels
    }

    /// The pane a process sits in: by its terminal, else by the nearest
    /// ancestor that is a pane's first process.
    pub fn label(&self, table: &ProcessTable, p: &Process) -> Option<String> {
        if self.panes.is_empty() {
            return None;
        }
        let all = || self.panes.values().flatten();
        if let Some(Tty::Pts(n)) = p.tty {
            let dev = format!("/dev/pts/{n}");
            if let Some(pane) = all().find(|pane| pane.tty == dev) {
                return Some(pane.target.clone());
            }
        }
        let mut cur = Some(p);
        let mut hops = 0;
        while let Some(q) = cur {
            if let Some(pane) = all().find(|pane| pane.pid == q.pid) {
                return Some(pane.target.clone());
            }
            hops += 1;
            if q.ppid <= 1 || hops > 64 {
                break;
            }
            cur = table.get(q.ppid);
        }
        None
    }
}

pub fn explain(s: &Settings, pid: i32, out: &mut dyn Write) -> Result<ExitCode> {
    let sv = survey(&s.config, &s.proc_root, true)?;
    warn_problems(&sv);
    let (Some(p), Some(v)) = (sv.table.get(pid), sv.verdicts.iter().find(|v| v.pid == pid)) else {
        crate::msg::error(&format!("no such process: {pid}"));
        return Ok(ExitCode::FAILURE);
    };
    let panes = PaneLabels::query(&sv, s);
    let pane = panes.label(&sv.table, p);
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
    let r = process_report(&sv.table, p, v, pane.clone());
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
        .map(|a| format!("{} ({})", a.pid, report::escape(&a.comm)))
        .collect();
    writeln!(
        out,
        "pid {} ({}): {}",
        p.pid,
        report::escape(&p.comm),
        v.class
    )?;
    writeln!(out, "  command:  {}", report::escape(&r.cmdline))?;
    writeln!(
        out,
        "  agent:    {}",
        if agent {
            format!("yes, by rule {}", v.rule)
        } else {
            "no: it matches no [match] rule, so stray never acts on it".into()
        }
    )?;
    writeln!(out, "  owner:    uid {}", p.uid)?;
    writeln!(
        out,
        "  age:      {} (min_age {})",
        report::age(sv.table.age_secs(p)),
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
        writeln!(out, "  pane:     {}", report::escape(&pane))?;
    }
    writeln!(out, "  why:      {}", report::escape(&v.reason))?;
    writeln!(
        out,
        "  policy:   {}{}",
        v.policy,
        if v.reapable() && agent {
            " (a reap cycle would signal it)"
        } else {
            ""
        }
    )?;
    Ok(ExitCode::OK)
}
