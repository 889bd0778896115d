//! `stray check`'s decisions: the facts one run gathered ([`Gathered`]) in,
//! checks, Nagios perfdata and Prometheus metrics ([`Report`]) out. One
//! function per check, and a table per family of single-valued metrics.
//!
//! Pure: gathering is `cmd::check`'s job, rendering `render::health`'s; "now"
//! arrives in the facts.

use std::path::PathBuf;

use crate::core::classify::{summarize, Class, Verdict};
use crate::core::escalation::Entry;
use crate::core::health::{plural, Item, Metric, Perf, Report, Status};
use crate::core::human::{age, size};
use crate::core::process::ProcessTable;
use crate::core::pty::{self, Counts};

/// PTY facts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PtyFacts {
    pub counts: Counts,
    pub warn: u8,
    pub crit: u8,
    pub rate_per_hour: Option<f64>,
    pub exhaustion_eta_secs: Option<f64>,
    /// The biggest holder `(pid, comm, masters)`, looked up only when the
    /// pool is past a threshold.
    pub top_holder: Option<(i32, String, u32)>,
}

/// A process named in a check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Named {
    pub pid: i32,
    pub comm: String,
}

/// Agent facts, from one survey plus the escalation state.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AgentFacts {
    pub classes: Vec<(Class, usize)>,
    /// Reapable agents and young would-be victims.
    pub pending: Vec<Named>,
    /// Under escalation, SIGTERMed long ago, never SIGKILLed.
    pub overdue: Vec<Named>,
    /// SIGKILLed and still alive, with their kernel state.
    pub unkillable: Vec<(Named, char)>,
    /// Defunct agents and the parents not reaping them.
    pub defunct: Vec<(Named, Named)>,
    pub rss_total: u64,
    pub rss_max: Option<(u64, Named)>,
    pub rss_warn: u64,
    pub rss_crit: u64,
    /// Agent families' footprints (`None`: not gathered, no family checks).
    pub family: Option<FamilyFacts>,
}

/// The agents' family footprints (SPEC "Agent families": a live agent with
/// a thousand children must be plain to see, even though nothing is
/// reaped), with the `[check]` thresholds.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FamilyFacts {
    /// The largest family by process count: (processes, agent).
    pub max_processes: Option<(u64, Named)>,
    /// The largest family by RSS: (bytes, agent).
    pub max_rss: Option<(u64, Named)>,
    pub total_processes: u64,
    pub total_rss: u64,
    pub processes_warn: u64,
    pub processes_crit: u64,
    pub rss_warn: u64,
    pub rss_crit: u64,
}

impl FamilyFacts {
    /// From (agent pid, family processes, family RSS) per live agent.
    pub(crate) fn new(
        table: &ProcessTable,
        families: &[(i32, u64, u64)],
        limits: &FamilyLimits,
    ) -> FamilyFacts {
        let named = |pid: i32| Named {
            pid,
            comm: table.get(pid).map(|p| p.comm.clone()).unwrap_or_default(),
        };
        let mut f = FamilyFacts {
            processes_warn: limits.processes_warn,
            processes_crit: limits.processes_crit,
            rss_warn: limits.rss_warn,
            rss_crit: limits.rss_crit,
            ..FamilyFacts::default()
        };
        for &(pid, n, rss) in families {
            f.total_processes += n;
            f.total_rss = f.total_rss.saturating_add(rss);
            if f.max_processes.as_ref().is_none_or(|(m, _)| n > *m) {
                f.max_processes = Some((n, named(pid)));
            }
            if f.max_rss.as_ref().is_none_or(|(m, _)| rss > *m) {
                f.max_rss = Some((rss, named(pid)));
            }
        }
        f
    }
}

/// The `[check] family_*` thresholds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilyLimits {
    pub processes_warn: u64,
    pub processes_crit: u64,
    pub rss_warn: u64,
    pub rss_crit: u64,
}

/// State-dir facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct StateFacts {
    pub dir: PathBuf,
    /// The dir exists but is unsafe or unreadable.
    pub unusable: Option<String>,
    pub exists: bool,
    /// `state.json` does not parse now.
    pub corrupt_now: Option<String>,
    /// Quarantined files from the last day.
    pub corrupt_recent: Vec<PathBuf>,
    /// The lock is held: `(seconds since it was taken, holder pid)`.
    pub lock_held: Option<(f64, Option<i32>)>,
}

/// tmux facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TmuxFacts {
    pub total: usize,
    pub dead: Vec<PathBuf>,
}

/// One death from the audit log, as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeathRecord {
    /// An OOM kill (else a signal from another process).
    pub oom: bool,
    pub victim: Named,
    /// The last class known (`unknown` when none was).
    pub class: String,
    /// When it happened, Unix seconds (`None`: an unreadable timestamp).
    pub at_unix: Option<f64>,
}

/// Deaths facts: the records of the audit log, and whether OOM kills are
/// read at all.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct DeathFacts {
    pub records: Vec<DeathRecord>,
    /// `[check] oom_window`, seconds.
    pub oom_window_secs: f64,
    /// Why OOM kills are not read here (no privilege), if so.
    pub unread: Option<String>,
}

/// Everything one check run read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gathered {
    pub pty: std::result::Result<PtyFacts, String>,
    pub agents: std::result::Result<AgentFacts, String>,
    pub state: StateFacts,
    pub tmux: TmuxFacts,
    /// The number of stalled TCP sockets (`None`: not gathered).
    pub stalled_sockets: Option<std::result::Result<u64, String>>,
    /// Wall-clock time of the run (for `stray_last_check_timestamp_seconds`).
    pub now_unix: f64,
    /// Deaths recorded in the audit log (`Err`: it could not be read).
    pub deaths: std::result::Result<DeathFacts, String>,
}

/// A cycle lock held longer than this is a warning (a cycle takes well
/// under a second; `reap --wait` at most about grace + 5 s).
const LOCK_TOO_LONG: f64 = 600.0;
/// A SIGTERM this much older than grace with no SIGKILL yet means no cycle
/// has run since: is the timer running?
const ESCALATION_SLACK: f64 = 300.0;
/// A SIGKILLed process still alive after this long is unkillable.
const KILL_SETTLE: f64 = 5.0;

/// Agent facts from one classified table plus the escalation state.
pub(crate) fn agent_facts(
    table: &ProcessTable,
    verdicts: &[Verdict],
    escalation: &[Entry],
    limits: &Limits,
) -> AgentFacts {
    let named = |pid: i32| Named {
        pid,
        comm: table.get(pid).map(|p| p.comm.clone()).unwrap_or_default(),
    };
    let mut f = AgentFacts {
        classes: summarize(verdicts),
        rss_warn: limits.rss_warn,
        rss_crit: limits.rss_crit,
        ..AgentFacts::default()
    };
    for v in verdicts {
        let Some(p) = table.get(v.pid) else {
            continue;
        };
        if v.reapable() || v.class == Class::Young {
            f.pending.push(named(v.pid));
        }
        if v.class == Class::Defunct {
            f.defunct.push((named(v.pid), named(p.ppid)));
        }
        if v.rule == "family" {
            // A leftover: pending above, but not an agent's RSS.
            continue;
        }
        f.rss_total += p.rss_bytes;
        if f.rss_max.as_ref().is_none_or(|(m, _)| p.rss_bytes > *m) {
            f.rss_max = Some((p.rss_bytes, named(v.pid)));
        }
    }
    let now = table.now_boot;
    for e in escalation {
        let Some(p) = table.get(e.pid) else {
            continue;
        };
        if p.start_time != e.start_time || p.is_zombie() {
            continue;
        }
        match e.kill_at {
            Some(k) if now - k >= KILL_SETTLE => f.unkillable.push((named(e.pid), p.state)),
            Some(_) => {}
            None if now - e.term_at > limits.grace_secs + ESCALATION_SLACK => {
                f.overdue.push(named(e.pid))
            }
            None => {}
        }
    }
    f
}

/// The thresholds the agent checks compare against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub rss_warn: u64,
    pub rss_crit: u64,
    pub grace_secs: f64,
}

/// A single-valued metric family: name, help, and its value from the facts
/// (`None`: not exported this run).
type Gauge<T> = (&'static str, &'static str, fn(&T) -> Option<f64>);

const PTY_METRICS: [Gauge<PtyFacts>; 7] = [
    (
        "stray_pty_used",
        "PTYs in use (Linux /proc/sys/kernel/pty/nr)",
        |p| Some(p.counts.used as f64),
    ),
    (
        "stray_pty_max",
        "Size of the PTY pool (Linux kernel.pty.max, macOS kern.tty.ptmx_max)",
        |p| Some(p.counts.max as f64),
    ),
    (
        "stray_pty_reserve",
        "PTYs reserved for the initial devpts instance",
        |p| p.counts.reserve.map(|r| r as f64),
    ),
    (
        "stray_pty_usage_percent",
        "PTYs in use, percent of the pool",
        |p| Some(round2(p.counts.percent())),
    ),
    (
        "stray_pty_warn_percent",
        "PTY usage warning threshold, percent",
        |p| Some(f64::from(p.warn)),
    ),
    (
        "stray_pty_crit_percent",
        "PTY usage critical threshold, percent",
        |p| Some(f64::from(p.crit)),
    ),
    (
        "stray_pty_growth_per_hour",
        "Net PTY allocations per hour over the last hour of samples",
        |p| p.rate_per_hour.map(round2),
    ),
];

const AGENT_METRICS: [Gauge<AgentFacts>; 8] = [
    (
        "stray_pending_victims",
        "Agents waiting to be reaped (reapable now, or young would-be victims)",
        |a| Some(a.pending.len() as f64),
    ),
    (
        "stray_overdue_victims",
        "Agents SIGTERMed long ago that no later cycle escalated",
        |a| Some(a.overdue.len() as f64),
    ),
    (
        "stray_unkillable_agents",
        "Agents still alive after SIGKILL",
        |a| Some(a.unkillable.len() as f64),
    ),
    (
        "stray_defunct_agents",
        "Defunct (zombie) agents whose parent is not reaping them",
        |a| Some(a.defunct.len() as f64),
    ),
    (
        "stray_agent_rss_bytes_max",
        "Resident memory of the largest agent",
        |a| Some(a.rss_max.as_ref().map_or(0, |(b, _)| *b) as f64),
    ),
    (
        "stray_agents_rss_bytes",
        "Resident memory of all agents together",
        |a| Some(a.rss_total as f64),
    ),
    (
        "stray_agent_rss_warn_bytes",
        "Largest-agent RSS warning threshold ([check] rss_warn)",
        |a| Some(a.rss_warn as f64),
    ),
    (
        "stray_agent_rss_crit_bytes",
        "Largest-agent RSS critical threshold ([check] rss_crit)",
        |a| Some(a.rss_crit as f64),
    ),
];

fn push_gauges<T>(table: &[Gauge<T>], facts: &T, metrics: &mut Vec<Metric>) {
    for (name, help, value) in table {
        if let Some(v) = value(facts) {
            metrics.push(Metric::single(name, help, v));
        }
    }
}

/// What the checks have produced so far.
#[derive(Default)]
struct Parts {
    items: Vec<Item>,
    perf: Vec<Perf>,
    metrics: Vec<Metric>,
}

/// Turns gathered data into checks, perfdata and metrics: one function per
/// check, in the order they are reported.
pub(crate) fn build(g: &Gathered) -> Report {
    let mut r = Parts::default();
    r.metrics
        .push(Metric::single("stray_up", "1 when stray check ran", 1.0));
    r.metrics.push(Metric::single(
        "stray_last_check_timestamp_seconds",
        "Unix time of the last stray check run",
        g.now_unix.floor(),
    ));
    match &g.pty {
        Ok(p) => pty_check(p, &mut r),
        Err(e) => r
            .items
            .push(Item::new("pty", Status::Unknown, None, e.clone())),
    }
    match &g.agents {
        Ok(a) => agent_checks(a, &mut r),
        Err(e) => {
            for name in [
                "pending",
                "unkillable",
                "defunct",
                "rss",
                "family_processes",
                "family_rss",
            ] {
                r.items
                    .push(Item::new(name, Status::Unknown, None, e.clone()));
            }
        }
    }
    tmux_check(&g.tmux, &mut r);
    state_check(&g.state, &mut r);
    if let Some(stalled) = &g.stalled_sockets {
        sockets_check(stalled, &mut r);
    }
    match &g.deaths {
        Ok(d) => oom_check(d, g.now_unix, &mut r),
        Err(e) => r
            .items
            .push(Item::new("oom_kills", Status::Unknown, None, e.clone())),
    }
    finish(r)
}

fn pty_check(p: &PtyFacts, r: &mut Parts) {
    let pct = p.counts.percent();
    let status = pty::status(pct, p.warn, p.crit);
    let mut msg = format!(
        "{} of {} PTYs in use ({:.1}%)",
        p.counts.used, p.counts.max, pct
    );
    if let Some(eta) = p.exhaustion_eta_secs {
        msg.push_str(&format!(", exhausted in ~{}", age(eta)));
    }
    if let Some((pid, comm, n)) = &p.top_holder {
        msg.push_str(&format!(
            "; top holder {pid} ({comm}) with {}",
            plural(*n as usize, "master")
        ));
    }
    r.items
        .push(Item::new("pty", status, Some(round2(pct)), msg));
    let abs = |t: u8| (p.counts.max as f64 * f64::from(t) / 100.0).ceil();
    r.perf.push(Perf {
        warn: Some(abs(p.warn)),
        crit: Some(abs(p.crit)),
        max: Some(p.counts.max as f64),
        ..Perf::gauge("pty_used", p.counts.used as f64)
    });
    r.perf.push(Perf {
        uom: "%",
        warn: Some(f64::from(p.warn)),
        crit: Some(f64::from(p.crit)),
        max: Some(100.0),
        ..Perf::gauge("pty_usage", round2(pct))
    });
    push_gauges(&PTY_METRICS, p, &mut r.metrics);
}

/// pending, unkillable, defunct and rss.
fn agent_checks(a: &AgentFacts, r: &mut Parts) {
    r.items.push(pending_item(a));
    r.items.push(unkillable_item(a));
    r.items.push(defunct_item(a));
    r.items.push(rss_item(a));
    for (label, v) in [
        ("pending", a.pending.len()),
        ("unkillable", a.unkillable.len()),
        ("defunct", a.defunct.len()),
    ] {
        r.perf.push(Perf::gauge(label, v as f64));
    }
    let max = a.rss_max.as_ref().map_or(0, |(b, _)| *b);
    r.perf.push(Perf {
        uom: "B",
        warn: Some(a.rss_warn as f64),
        crit: Some(a.rss_crit as f64),
        ..Perf::gauge("agent_rss_max", max as f64)
    });
    r.perf.push(Perf {
        uom: "B",
        ..Perf::gauge("agent_rss_total", a.rss_total as f64)
    });
    r.metrics.push(Metric {
        name: "stray_agents",
        help: "Agent processes by class",
        samples: Class::ALL
            .iter()
            .map(|c| {
                let n = a
                    .classes
                    .iter()
                    .find(|(k, _)| k == c)
                    .map_or(0, |(_, n)| *n);
                (vec![("class", c.to_string())], n as f64)
            })
            .collect(),
    });
    push_gauges(&AGENT_METRICS, a, &mut r.metrics);
    if let Some(f) = &a.family {
        family_checks(f, r);
    }
}

/// `family_processes` and `family_rss`: the largest agent family against
/// its thresholds (usage at or above a threshold trips it).
fn family_checks(f: &FamilyFacts, r: &mut Parts) {
    let level = |v: u64, warn: u64, crit: u64| {
        if v >= crit {
            Status::Critical
        } else if v >= warn {
            Status::Warning
        } else {
            Status::Ok
        }
    };
    let (n, n_msg) = match &f.max_processes {
        Some((n, a)) => (
            *n,
            format!(
                "largest agent family {} ({}) {} processes (warn {}, crit {}); all families {}",
                a.pid, a.comm, n, f.processes_warn, f.processes_crit, f.total_processes
            ),
        ),
        None => (0, "no agents running".to_string()),
    };
    r.items.push(Item::new(
        "family_processes",
        level(n, f.processes_warn, f.processes_crit),
        Some(n as f64),
        n_msg,
    ));
    let (b, b_msg) = match &f.max_rss {
        Some((b, a)) => (
            *b,
            format!(
                "largest agent family {} ({}) {} (warn {}, crit {}); all families {}",
                a.pid,
                a.comm,
                size(*b),
                size(f.rss_warn),
                size(f.rss_crit),
                size(f.total_rss)
            ),
        ),
        None => (0, "no agents running".to_string()),
    };
    r.items.push(Item::new(
        "family_rss",
        level(b, f.rss_warn, f.rss_crit),
        Some(b as f64),
        b_msg,
    ));
    r.perf.push(Perf {
        warn: Some(f.processes_warn as f64),
        crit: Some(f.processes_crit as f64),
        ..Perf::gauge("family_processes_max", n as f64)
    });
    r.perf.push(Perf {
        uom: "B",
        warn: Some(f.rss_warn as f64),
        crit: Some(f.rss_crit as f64),
        ..Perf::gauge("family_rss_max", b as f64)
    });
    push_gauges(&FAMILY_METRICS, f, &mut r.metrics);
}

const FAMILY_METRICS: [Gauge<FamilyFacts>; 8] = [
    (
        "stray_family_processes_max",
        "Processes in the largest live agent family (descendants and tied members)",
        |f| Some(f.max_processes.as_ref().map_or(0, |(n, _)| *n) as f64),
    ),
    (
        "stray_family_processes",
        "Processes in all live agent families together",
        |f| Some(f.total_processes as f64),
    ),
    (
        "stray_family_rss_bytes_max",
        "Resident memory of the largest live agent family",
        |f| Some(f.max_rss.as_ref().map_or(0, |(b, _)| *b) as f64),
    ),
    (
        "stray_family_rss_bytes",
        "Resident memory of all live agent families together",
        |f| Some(f.total_rss as f64),
    ),
    (
        "stray_family_processes_warn",
        "Family process-count warning threshold ([check] family_processes_warn)",
        |f| Some(f.processes_warn as f64),
    ),
    (
        "stray_family_processes_crit",
        "Family process-count critical threshold ([check] family_processes_crit)",
        |f| Some(f.processes_crit as f64),
    ),
    (
        "stray_family_rss_warn_bytes",
        "Family RSS warning threshold ([check] family_rss_warn)",
        |f| Some(f.rss_warn as f64),
    ),
    (
        "stray_family_rss_crit_bytes",
        "Family RSS critical threshold ([check] family_rss_crit)",
        |f| Some(f.rss_crit as f64),
    ),
];

fn pending_item(a: &AgentFacts) -> Item {
    let status = if a.overdue.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    };
    let mut msg = format!("{} waiting to be reaped", plural(a.pending.len(), "agent"));
    if !a.pending.is_empty() {
        msg.push_str(&format!(": {}", list(&a.pending, 5)));
    }
    if !a.overdue.is_empty() {
        msg.push_str(&format!(
            "; escalation overdue for {} (no reap cycle since SIGTERM: is the timer running?)",
            list(&a.overdue, 5)
        ));
    }
    Item::new("pending", status, Some(a.pending.len() as f64), msg)
}

fn unkillable_item(a: &AgentFacts) -> Item {
    let mut un = Item::new(
        "unkillable",
        if a.unkillable.is_empty() {
            Status::Ok
        } else {
            Status::Critical
        },
        Some(a.unkillable.len() as f64),
        if a.unkillable.is_empty() {
            "no unkillable agents".to_string()
        } else {
            format!("{} survived SIGKILL", plural(a.unkillable.len(), "agent"))
        },
    );
    for (n, st) in &a.unkillable {
        un.details.push(format!(
            "pid {} ({}) still alive in state {st}",
            n.pid, n.comm
        ));
    }
    un
}

fn defunct_item(a: &AgentFacts) -> Item {
    let mut de = Item::new(
        "defunct",
        if a.defunct.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        },
        Some(a.defunct.len() as f64),
        if a.defunct.is_empty() {
            "no defunct agents".to_string()
        } else {
            let parents: Vec<Named> = a.defunct.iter().map(|(_, p)| p.clone()).collect();
            format!(
                "{} not reaped by their parents: {}",
                plural(a.defunct.len(), "defunct agent"),
                list(&parents, 5)
            )
        },
    );
    for (z, p) in &a.defunct {
        de.details.push(format!(
            "pid {} ({}) not reaped by parent {} ({})",
            z.pid, z.comm, p.pid, p.comm
        ));
    }
    de
}

fn rss_item(a: &AgentFacts) -> Item {
    let max = a.rss_max.as_ref().map_or(0, |(b, _)| *b);
    let status = if max >= a.rss_crit {
        Status::Critical
    } else if max >= a.rss_warn {
        Status::Warning
    } else {
        Status::Ok
    };
    let msg = match &a.rss_max {
        Some((b, n)) => format!(
            "largest agent {} ({}) {} (warn {}, crit {}); all agents {}",
            n.pid,
            n.comm,
            size(*b),
            size(a.rss_warn),
            size(a.rss_crit),
            size(a.rss_total)
        ),
        None => "no agents running".to_string(),
    };
    Item::new("rss", status, Some(max as f64), msg)
}

fn tmux_check(t: &TmuxFacts, r: &mut Parts) {
    let dead = t.dead.len();
    let mut tm = Item::new(
        "tmux",
        if dead == 0 {
            Status::Ok
        } else {
            Status::Warning
        },
        Some(dead as f64),
        if dead == 0 {
            format!("{}, none dead", plural(t.total, "tmux socket"))
        } else {
            format!(
                "{} of {} (stray tmux --prune removes them)",
                plural(dead, "dead tmux socket"),
                t.total
            )
        },
    );
    tm.details = t
        .dead
        .iter()
        .map(|p| format!("dead: {}", p.display()))
        .collect();
    r.items.push(tm);
    r.perf.push(Perf::gauge("dead_tmux_sockets", dead as f64));
    r.metrics.push(Metric::single(
        "stray_dead_tmux_sockets",
        "tmux socket files nothing listens on",
        dead as f64,
    ));
    r.metrics.push(Metric::single(
        "stray_tmux_sockets",
        "tmux socket files and live server sockets",
        t.total as f64,
    ));
}

fn state_check(st: &StateFacts, r: &mut Parts) {
    let (status, value, msg) = if let Some(e) = &st.unusable {
        (Status::Critical, None, format!("{e}; reap cannot run"))
    } else if !st.exists {
        (
            Status::Ok,
            None,
            format!("no state at {} yet (no cycle has run)", st.dir.display()),
        )
    } else {
        state_problems(st)
    };
    r.items.push(Item::new("state", status, value, msg));
    r.metrics.push(Metric::single(
        "stray_state_corrupt_files",
        "Corrupt state files moved aside in the last day",
        st.corrupt_recent.len() as f64,
    ));
    r.metrics.push(Metric::single(
        "stray_lock_held_seconds",
        "How long another process has held the cycle lock (0: free)",
        st.lock_held.map_or(0.0, |(s, _)| s.round()),
    ));
}

/// The state check of an existing state dir: corrupt files, a stuck lock.
fn state_problems(st: &StateFacts) -> (Status, Option<f64>, String) {
    let mut problems = Vec::new();
    if let Some(c) = &st.corrupt_now {
        problems.push(c.clone());
    }
    if let Some(last) = st.corrupt_recent.last() {
        problems.push(format!(
            "{} moved aside in the last day (latest {})",
            plural(st.corrupt_recent.len(), "corrupt state file"),
            last.display()
        ));
    }
    let held = st.lock_held.filter(|(secs, _)| *secs >= LOCK_TOO_LONG);
    if let Some((secs, holder)) = held {
        problems.push(format!(
            "cycle lock held for {}{}",
            age(secs),
            holder.map(|p| format!(" by pid {p}")).unwrap_or_default()
        ));
    }
    if problems.is_empty() {
        (
            Status::Ok,
            None,
            format!("state at {} healthy", st.dir.display()),
        )
    } else {
        (
            Status::Warning,
            held.map(|(s, _)| s.round()),
            problems.join("; "),
        )
    }
}

fn sockets_check(stalled: &Result<u64, String>, r: &mut Parts) {
    match stalled {
        Ok(n) => {
            r.items.push(Item::new(
                "sockets",
                if *n == 0 { Status::Ok } else { Status::Warning },
                Some(*n as f64),
                format!(
                    "{} (stray sockets lists them)",
                    plural(*n as usize, "stalled TCP socket")
                ),
            ));
            r.perf.push(Perf::gauge("stalled_sockets", *n as f64));
            r.metrics.push(Metric::single(
                "stray_stalled_sockets",
                "ESTABLISHED TCP sockets whose peer stopped acknowledging",
                *n as f64,
            ));
        }
        Err(e) => r
            .items
            .push(Item::new("sockets", Status::Unknown, None, e.clone())),
    }
}

/// WARNING while an OOM kill of a watched process is younger than the
/// window; the death counters by class (every class, zeros included, so a
/// rate has a series from the first scrape).
fn oom_check(d: &DeathFacts, now_unix: f64, r: &mut Parts) {
    let recent: Vec<&DeathRecord> = d
        .records
        .iter()
        .filter(|x| x.oom && x.at_unix.is_some_and(|t| now_unix - t <= d.oom_window_secs))
        .collect();
    let window = age(d.oom_window_secs);
    let (status, mut message) = if recent.is_empty() {
        (
            Status::Ok,
            format!("no OOM kill of an agent or multiplexer process within {window}"),
        )
    } else {
        let names: Vec<String> = recent
            .iter()
            .rev()
            .take(5)
            .map(|x| format!("{} ({}, {})", x.victim.pid, x.victim.comm, x.class))
            .collect();
        (
            Status::Warning,
            format!(
                "the OOM killer took {} within {window}: {}{} (stray log --deaths)",
                plural(recent.len(), "watched process"),
                names.join(", "),
                if recent.len() > 5 { ", …" } else { "" }
            ),
        )
    };
    if let Some(why) = &d.unread {
        message.push_str(&format!(" ({why})"));
    }
    r.items.push(Item::new(
        "oom_kills",
        status,
        Some(recent.len() as f64),
        message,
    ));
    r.perf.push(Perf::gauge("oom_kills", recent.len() as f64));
    let mut classes: Vec<String> = Class::ALL.iter().map(|c| c.to_string()).collect();
    classes.extend(["multiplexer".to_string(), "unknown".to_string()]);
    for x in &d.records {
        if !classes.contains(&x.class) {
            classes.push(x.class.clone());
        }
    }
    let count = |oom_only: bool| -> Vec<(Vec<(&'static str, String)>, f64)> {
        classes
            .iter()
            .map(|c| {
                let n = d
                    .records
                    .iter()
                    .filter(|x| &x.class == c && (x.oom || !oom_only))
                    .count();
                (vec![("class", c.clone())], n as f64)
            })
            .collect()
    };
    r.metrics.push(Metric {
        name: "stray_oom_kills_total",
        help: "OOM kills of watched processes in the audit log, by last known class",
        samples: count(true),
    });
    r.metrics.push(Metric {
        name: "stray_deaths_total",
        help: "Deaths of watched processes (OOM kills and signals from other processes) in the audit log, by last known class",
        samples: count(false),
    });
}

fn finish(r: Parts) -> Report {
    let mut report = Report {
        items: r.items,
        perf: r.perf,
        metrics: r.metrics,
    };
    refresh_status_metrics(&mut report);
    report
}

/// (Re)computes the per-check and overall status metrics from the items,
/// so that a check added after [`build`] (the textfile write) shows in them.
pub(crate) fn refresh_status_metrics(report: &mut Report) {
    report
        .metrics
        .retain(|m| m.name != "stray_check_status" && m.name != "stray_status");
    // Per-check status last, so it lists every check above.
    let mut by_check: Vec<(Vec<(&'static str, String)>, f64)> = report
        .items
        .iter()
        .map(|i| (vec![("check", i.name.clone())], f64::from(i.status.code())))
        .collect();
    by_check.sort_by(|a, b| a.0.cmp(&b.0));
    let overall = Status::worst(report.items.iter().map(|i| i.status));
    report.metrics.push(Metric {
        name: "stray_check_status",
        help: "Status of each check: 0 ok, 1 warning, 2 critical, 3 unknown",
        samples: by_check,
    });
    report.metrics.push(Metric::single(
        "stray_status",
        "Overall status: 0 ok, 1 warning, 2 critical, 3 unknown",
        f64::from(overall.code()),
    ));
}

fn list(names: &[Named], max: usize) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .take(max)
        .map(|n| format!("{} ({})", n.pid, n.comm))
        .collect();
    if names.len() > max {
        parts.push(format!("and {} more", names.len() - max));
    }
    parts.join(", ")
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pty::Counts;
    use crate::render::health;

    fn n(pid: i32, comm: &str) -> Named {
        Named {
            pid,
            comm: comm.into(),
        }
    }

    fn gathered() -> Gathered {
        Gathered {
            pty: Ok(PtyFacts {
                counts: Counts {
                    used: 12,
                    max: 4096,
                    reserve: Some(1024),
                },
                warn: 75,
                crit: 90,
                rate_per_hour: Some(2.0),
                exhaustion_eta_secs: Some(7_351_200.0),
                top_holder: None,
            }),
            agents: Ok(AgentFacts {
                classes: vec![(Class::Protected, 3), (Class::Orphan, 1)],
                pending: vec![n(700, "claude")],
                rss_total: 3 << 30,
                rss_max: Some((2 << 30, n(500, "claude"))),
                rss_warn: 4 << 30,
                rss_crit: 8 << 30,
                ..AgentFacts::default()
            }),
            state: StateFacts {
                dir: "/run/stray".into(),
                exists: true,
                ..StateFacts::default()
            },
            tmux: TmuxFacts {
                total: 2,
                dead: vec![],
            },
            stalled_sockets: None,
            now_unix: 1_790_000_000.5,
            deaths: Ok(DeathFacts {
                oom_window_secs: 3600.0,
                ..DeathFacts::default()
            }),
        }
    }

    fn death(oom: bool, pid: i32, class: &str, ago: f64) -> DeathRecord {
        DeathRecord {
            oom,
            victim: n(pid, "claude"),
            class: class.into(),
            at_unix: Some(1_790_000_000.5 - ago),
        }
    }

    #[test]
    fn an_oom_kill_within_the_window_warns_and_every_death_counts() {
        let mut g = gathered();
        let at = |g: &Gathered| {
            let r = build(g);
            let i = r
                .items
                .iter()
                .find(|i| i.name == "oom_kills")
                .unwrap()
                .clone();
            (i, health::prometheus(&r))
        };
        g.deaths = Ok(DeathFacts {
            records: vec![
                death(true, 41, "orphan", 7200.0),
                death(false, 42, "multiplexer", 10.0),
            ],
            oom_window_secs: 3600.0,
            unread: None,
        });
        let (item, prom) = at(&g);
        assert_eq!(item.status, Status::Ok, "an old OOM kill and a signal");
        assert_eq!(
            item.message,
            "no OOM kill of an agent or multiplexer process within 1h00m"
        );
        assert!(
            prom.contains("# TYPE stray_oom_kills_total counter\n"),
            "{prom}"
        );
        assert!(prom.contains("stray_oom_kills_total{class=\"orphan\"} 1\n"));
        assert!(prom.contains("stray_oom_kills_total{class=\"multiplexer\"} 0\n"));
        assert!(prom.contains("stray_deaths_total{class=\"multiplexer\"} 1\n"));
        assert!(prom.contains("stray_deaths_total{class=\"unknown\"} 0\n"));
        if let Ok(d) = g.deaths.as_mut() {
            d.records.push(death(true, 43, "protected", 60.0));
            d.unread = Some("no privilege".into());
        }
        let (item, prom) = at(&g);
        assert_eq!(item.status, Status::Warning);
        assert_eq!(
            item.message,
            "the OOM killer took 1 watched process within 1h00m: 43 (claude, protected) \
             (stray log --deaths) (no privilege)"
        );
        assert!(prom.contains("stray_deaths_total{class=\"protected\"} 1\n"));
        assert_eq!(build(&g).status(), Status::Warning);
        g.deaths = Err("cannot read audit log".into());
        assert_eq!(at(&g).0.status, Status::Unknown);
    }

    #[test]
    fn family_checks_trip_at_their_thresholds_and_leftovers_are_not_agent_rss() {
        let limits = FamilyLimits {
            processes_warn: 200,
            processes_crit: 1000,
            rss_warn: 8 << 30,
            rss_crit: 16 << 30,
        };
        let table = ProcessTable::new(Vec::new(), 100.0, 100);
        let status = |families: &[(i32, u64, u64)]| {
            let mut g = gathered();
            if let Ok(a) = &mut g.agents {
                a.family = Some(FamilyFacts::new(&table, families, &limits));
            }
            let r = build(&g);
            let get = |n: &str| r.items.iter().find(|i| i.name == n).map(|i| i.status);
            (get("family_processes"), get("family_rss"))
        };
        assert_eq!(status(&[]), (Some(Status::Ok), Some(Status::Ok)));
        assert_eq!(
            status(&[(1, 3, 1 << 20), (2, 1015, 72 << 30)]),
            (Some(Status::Critical), Some(Status::Critical))
        );
        assert_eq!(
            status(&[(1, 200, 8 << 30)]),
            (Some(Status::Warning), Some(Status::Warning))
        );
        // Not gathered: no family checks at all.
        assert!(!build(&gathered())
            .items
            .iter()
            .any(|i| i.name.starts_with("family")));
    }

    #[test]
    fn all_ok_nagios_line() {
        let r = build(&gathered());
        assert_eq!(r.status(), Status::Ok);
        let text = health::nagios(&r);
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "STRAY OK - 8 checks ok; 12 of 4096 PTYs in use (0.3%), exhausted in ~85d02h, \
             1 agent waiting to be reaped: 700 (claude), no unkillable agents, no defunct agents, \
             largest agent 500 (claude) 2.0G (warn 4.0G, crit 8.0G); all agents 3.0G, \
             2 tmux sockets, none dead, state at /run/stray healthy, \
             no OOM kill of an agent or multiplexer process within 1h00m \
             | pty_used=12;3072;3687;0;4096 pty_usage=0.29%;75;90;0;100 pending=1;;;0 \
             unkillable=0;;;0 defunct=0;;;0 agent_rss_max=2147483648B;4294967296;8589934592;0 \
             agent_rss_total=3221225472B;;;0 dead_tmux_sockets=0;;;0 oom_kills=0;;;0"
        );
    }

    #[test]
    fn each_problem_sets_its_status() {
        let mut g = gathered();
        if let Ok(a) = g.agents.as_mut() {
            a.defunct.push((n(801, "claude"), n(800, "bash")));
            a.unkillable.push((n(900, "codex"), 'D'));
        }
        g.tmux.dead.push("/tmp/tmux-0/old".into());
        let r = build(&g);
        let status = |name: &str| r.items.iter().find(|i| i.name == name).unwrap().status;
        assert_eq!(status("defunct"), Status::Warning);
        assert_eq!(status("unkillable"), Status::Critical);
        assert_eq!(status("tmux"), Status::Warning);
        assert_eq!(r.status(), Status::Critical);
        let text = health::nagios(&r);
        assert!(text.starts_with("STRAY CRITICAL - unkillable: 1 agent survived SIGKILL; "));
        assert!(text.contains("    pid 801 (claude) not reaped by parent 800 (bash)\n"));
        assert!(text.contains("    pid 900 (codex) still alive in state D\n"));

        let mut g = gathered();
        if let Ok(a) = g.agents.as_mut() {
            a.rss_max = Some((5 << 30, n(500, "claude")));
        }
        assert_eq!(build(&g).status(), Status::Warning);
        g.state.lock_held = Some((3600.0, Some(77)));
        let r = build(&g);
        let st = r.items.iter().find(|i| i.name == "state").unwrap();
        assert_eq!(st.status, Status::Warning);
        assert_eq!(st.message, "cycle lock held for 1h00m by pid 77");
        g.agents = Err("cannot read /proc".into());
        g.pty = Err("/proc/sys/kernel/pty/nr: gone".into());
        let r = build(&g);
        assert_eq!(r.status(), Status::Warning);
        assert!(r
            .items
            .iter()
            .filter(|i| i.status == Status::Unknown)
            .all(|i| i.value.is_none()));
        g.state.lock_held = None;
        assert_eq!(build(&g).status(), Status::Unknown);
    }

    #[test]
    fn prometheus_has_every_family_once_with_help_and_type() {
        let mut g = gathered();
        g.stalled_sockets = Some(Ok(2));
        let text = health::prometheus(&build(&g));
        for name in [
            "stray_up",
            "stray_pty_used",
            "stray_pty_max",
            "stray_pty_usage_percent",
            "stray_agents",
            "stray_pending_victims",
            "stray_unkillable_agents",
            "stray_defunct_agents",
            "stray_dead_tmux_sockets",
            "stray_agent_rss_bytes_max",
            "stray_agents_rss_bytes",
            "stray_stalled_sockets",
            "stray_check_status",
            "stray_status",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} gauge\n")).count(),
                1,
                "{name}\n{text}"
            );
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        }
        assert!(text.contains("stray_agents{class=\"orphan\"} 1\n"));
        assert!(text.contains("stray_agents{class=\"defunct\"} 0\n"));
        assert!(text.contains("stray_check_status{check=\"sockets\"} 1\n"));
        assert!(text.contains("stray_status 1\n"));
        assert!(text.contains("stray_last_check_timestamp_seconds 1790000000\n"));
    }
}
