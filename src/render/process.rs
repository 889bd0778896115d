//! One classified process as the renderers show it: the row of `scan`'s
//! table, a node of `scan --tree`, an element of `scan --format json`.
//! Data only: built from the table and a verdict, never from the system.

use serde::Serialize;

use crate::core::classify::{Class, ProtectedBy, Verdict};
use crate::core::process::{Process, ProcessTable};

/// One process as `scan --format json` shows it, fields in the order of
/// SPEC.md's `scan` shape.
#[derive(Debug, Serialize)]
pub(crate) struct ProcessReport {
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
    pub policy: crate::core::classify::Policy,
    pub reason: String,
    pub protected_by: Option<ProtectedBy>,
    pub rule: String,
    /// `session:window.pane` when tmux could tell.
    pub pane: Option<String>,
    /// For agents: their live family's process count and RSS sum (null for
    /// other processes).
    pub family_processes: Option<u64>,
    pub family_rss_bytes: Option<u64>,
    /// For leftovers: the agent that left them, when lineage names it.
    pub owner: Option<crate::core::process::ProcKey>,
}

pub(crate) fn process_report(
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
        family_processes: None,
        family_rss_bytes: None,
        owner: None,
    }
}
