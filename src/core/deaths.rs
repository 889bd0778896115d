//! Deaths: who killed a watched process. The pure half: parsers for the
//! kernel log (`/dev/kmsg` records and the OOM killer's lines) and for
//! tracefs `signal_generate` events, the decisions of what is worth
//! recording, and the audit shapes of the `oom-kill`, `killed` and
//! `oom-score-adj` events (SPEC "Deaths" and "Memory").
//!
//! Nothing here reads a file or a clock: [`crate::sys::kmsg`] and
//! [`crate::sys::tracefs`] do the reading, and the caller passes the last-known
//! table of watched processes (agents, family members, multiplexer
//! processes as the last cycle saw them) as data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::core::classify::Verdict;
use crate::core::process::{ProcKey, Process, ProcessTable};

// ---------------------------------------------------------------------------
// /dev/kmsg records

/// One `/dev/kmsg` record: `PRIO,SEQ,TS_USEC,FLAGS[,…];MESSAGE\n` followed
/// by optional ` KEY=VALUE` continuation lines (dropped here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsgRecord {
    pub seq: u64,
    /// Microseconds after boot, on the printk clock.
    pub ts_usec: u64,
    /// Syslog level (0 emerg … 7 debug).
    pub level: u8,
    /// The message with the kernel's `\xNN` escapes undone (lossy UTF-8).
    pub text: String,
}

/// Parses one record as returned by one `read(2)` of `/dev/kmsg`. `None`
/// for anything that is not a well-formed header.
pub fn parse_kmsg_record(raw: &[u8]) -> Option<KmsgRecord> {
    let semi = raw.iter().position(|&b| b == b';')?;
    let header = std::str::from_utf8(&raw[..semi]).ok()?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.trim().parse().ok()?;
    let seq: u64 = fields.next()?.trim().parse().ok()?;
    let ts_usec: u64 = fields.next()?.trim().parse().ok()?;
    let body = &raw[semi + 1..];
    let line = match body.iter().position(|&b| b == b'\n') {
        Some(n) => &body[..n],
        None => body,
    };
    Some(KmsgRecord {
        seq,
        ts_usec,
        level: (prio & 7) as u8,
        text: unescape_kmsg(line),
    })
}

/// Undoes the `\xNN` escapes `/dev/kmsg` applies to unprintable bytes and
/// to backslashes.
fn unescape_kmsg(line: &[u8]) -> String {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'\\' && line.get(i + 1) == Some(&b'x') {
            let hex = line
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(line[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// OOM killer lines

/// `Killed process PID (COMM) total-vm:…kB, anon-rss:…kB, file-rss:…kB,
/// shmem-rss:…kB, UID:… …`, with or without the `Out of memory: ` or
/// `Memory cgroup out of memory: ` prefix (kernels before 5.1 printed the
/// prefix on a separate `Kill process … or sacrifice child` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledLine {
    pub pid: i32,
    pub comm: String,
    pub uid: Option<u32>,
    pub anon_rss_kb: Option<u64>,
    pub file_rss_kb: Option<u64>,
    pub shmem_rss_kb: Option<u64>,
    /// True when the line says `Memory cgroup out of memory`.
    pub memcg_oom: bool,
}

/// Parses a `Killed process` line. The `oom_reaper: reaped process …` line
/// and the older `Kill process … or sacrifice child` line are not kills.
pub fn parse_killed_line(text: &str) -> Option<KilledLine> {
    let at = text.find("Killed process ")?;
    let prefix = &text[..at];
    if prefix.contains("oom_reaper") {
        return None;
    }
    let rest = &text[at + "Killed process ".len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let pid: i32 = rest[..digits].parse().ok()?;
    let rest = rest[digits..].trim_start().strip_prefix('(')?;
    // The comm may itself hold ") ": the fields start after the last ") "
    // that is followed by a `key:` field, else at the last ')'.
    let close = rest.find(") total-vm:").or_else(|| rest.rfind(')'))?;
    let comm = rest[..close].to_string();
    let fields = &rest[close + 1..];
    let mut line = KilledLine {
        pid,
        comm,
        uid: None,
        anon_rss_kb: None,
        file_rss_kb: None,
        shmem_rss_kb: None,
        memcg_oom: prefix.contains("Memory cgroup out of memory"),
    };
    for (key, value) in key_values(fields) {
        match key {
            "anon-rss" => line.anon_rss_kb = kb(value),
            "file-rss" => line.file_rss_kb = kb(value),
            "shmem-rss" => line.shmem_rss_kb = kb(value),
            "UID" => line.uid = value.parse().ok(),
            _ => {}
        }
    }
    Some(line)
}

/// `key:value` pairs separated by commas and/or spaces, tolerating a space
/// after the colon (`anon-rss: 1234kB`), as some kernels printed.
fn key_values(fields: &str) -> Vec<(&str, &str)> {
    let tokens: Vec<&str> = fields
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some((k, v)) = tokens[i].split_once(':') {
            if v.is_empty() {
                if let Some(next) = tokens.get(i + 1) {
                    out.push((k, *next));
                    i += 2;
                    continue;
                }
            }
            out.push((k, v));
        }
        i += 1;
    }
    out
}

fn kb(value: &str) -> Option<u64> {
    value
        .strip_suffix("kB")
        .unwrap_or(value)
        .trim()
        .parse()
        .ok()
}

/// The one-line summary of kernels ≥ 4.19:
/// `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,
/// mems_allowed=0,oom_memcg=/x,task_memcg=/x/y,task=comm,pid=N,uid=N`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OomSummary {
    pub constraint: Option<String>,
    pub oom_memcg: Option<String>,
    pub task_memcg: Option<String>,
    pub task: Option<String>,
    pub pid: Option<i32>,
    pub uid: Option<u32>,
}

const SUMMARY_KEYS: [&str; 8] = [
    "constraint",
    "nodemask",
    "cpuset",
    "mems_allowed",
    "oom_memcg",
    "task_memcg",
    "task",
    "pid",
];

pub fn parse_oom_summary(text: &str) -> Option<OomSummary> {
    let at = text.find("oom-kill:")?;
    let body = &text[at + "oom-kill:".len()..];
    // Split at ",KEY=" for the known keys only, so a comma inside a cgroup
    // path or a comm does not cut a value short.
    let mut parts: Vec<(String, String)> = Vec::new();
    for piece in body.split(',') {
        match piece.split_once('=') {
            Some((k, v)) if SUMMARY_KEYS.contains(&k) || k == "uid" => {
                parts.push((k.to_string(), v.to_string()))
            }
            _ => match parts.last_mut() {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(piece);
                }
                None => return None,
            },
        }
    }
    let mut s = OomSummary::default();
    for (k, v) in parts {
        match k.as_str() {
            "constraint" => s.constraint = Some(v),
            "oom_memcg" => s.oom_memcg = Some(v),
            "task_memcg" => s.task_memcg = Some(v),
            "task" => s.task = Some(v),
            "pid" => s.pid = v.trim().parse().ok(),
            "uid" => s.uid = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some(s)
}

/// Kernels before 4.19: `Task in /a/b killed as a result of limit of /a`
/// (printed before the task list, so it names the memcg of the next
/// `Killed process` line).
pub fn parse_task_in_line(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("Task in ")?;
    let (task, limit) = rest.split_once(" killed as a result of limit of ")?;
    Some((task.to_string(), limit.trim_end().to_string()))
}

/// One OOM kill, assembled from the kernel's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomKill {
    /// Sequence number of the `Killed process` record.
    pub seq: u64,
    pub ts_usec: u64,
    pub pid: i32,
    pub comm: String,
    pub uid: Option<u32>,
    /// anon + file + shmem RSS from the kernel line, in bytes.
    pub rss_bytes: Option<u64>,
    /// The victim's memory cgroup (`task_memcg`), where the kernel said.
    pub memcg: Option<String>,
    /// The cgroup whose limit was hit (`oom_memcg`), where the kernel said.
    pub oom_memcg: Option<String>,
    pub constraint: Option<String>,
}

/// What one pass over a batch of records found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OomScan {
    pub kills: Vec<OomKill>,
    /// The last sequence number that is safe to save as "seen": the last
    /// record, or the one before an `oom-kill:` summary whose `Killed
    /// process` line has not arrived yet (the next read starts over at the
    /// summary, so the kill is neither lost nor recorded twice).
    pub commit_seq: Option<u64>,
}

/// How many records after a summary its `Killed process` line may come;
/// past that the summary is treated as one without a kill (the kernel
/// prints `… is already exiting. Skip killing the task` then).
pub const SUMMARY_WINDOW: usize = 64;

/// Assembles the OOM kills in `records` (in sequence order).
pub fn scan_oom(records: &[KmsgRecord]) -> OomScan {
    let mut out = OomScan::default();
    // (index of the summary record, summary)
    let mut pending: Option<(usize, OomSummary)> = None;
    let mut task_in: Option<(String, String)> = None;
    for (i, rec) in records.iter().enumerate() {
        if let Some(s) = parse_oom_summary(&rec.text) {
            pending = Some((i, s));
            continue;
        }
        if let Some(t) = parse_task_in_line(&rec.text) {
            task_in = Some(t);
            continue;
        }
        if rec.text.contains("invoked oom-killer") {
            // A new OOM episode: an old kernel's memcg hint belongs to the
            // previous one.
            task_in = None;
        }
        if let Some(pending_at) = pending.as_ref().map(|(at, _)| *at) {
            if i - pending_at > SUMMARY_WINDOW {
                pending = None;
            }
        }
        let Some(k) = parse_killed_line(&rec.text) else {
            continue;
        };
        let summary = match pending.take() {
            Some((_, s)) if s.pid.is_none_or(|p| p == k.pid) => Some(s),
            _ => None,
        };
        let (task_memcg, oom_memcg) = match (&summary, task_in.take()) {
            (Some(s), _) => (s.task_memcg.clone(), s.oom_memcg.clone()),
            (None, Some((t, l))) => (Some(t), Some(l)),
            (None, None) => (None, None),
        };
        let rss_kb = match (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) {
            (None, None, None) => None,
            // Saturating: the numbers come from a log line (root can write
            // /dev/kmsg), not from the kernel's own counters alone.
            (a, f, s) => Some(
                a.unwrap_or(0)
                    .saturating_add(f.unwrap_or(0))
                    .saturating_add(s.unwrap_or(0)),
            ),
        };
        out.kills.push(OomKill {
            seq: rec.seq,
            ts_usec: rec.ts_usec,
            pid: k.pid,
            comm: k.comm,
            uid: k.uid.or(summary.as_ref().and_then(|s| s.uid)),
            rss_bytes: rss_kb.map(|kb| kb.saturating_mul(1024)),
            memcg: task_memcg,
            oom_memcg,
            constraint: summary.and_then(|s| s.constraint),
        });
    }
    out.commit_seq = match pending {
        Some((at, _)) if records.len() - at <= SUMMARY_WINDOW => match at {
            0 => records[0].seq.checked_sub(1),
            _ => Some(records[at - 1].seq),
        },
        _ => records.last().map(|r| r.seq),
    };
    out
}

// ---------------------------------------------------------------------------
// tracefs signal_generate events

/// The signals whose default action ends the process (terminate or core
/// dump): the tracer's filter. Left out: the stop signals, the ignored ones
/// (CHLD, CONT, URG, WINCH) and the real-time signals (glibc uses 32 and 33
/// between its own threads; a real-time signal that kills is rare enough).
pub const FATAL_SIGNALS: [(i32, &str); 23] = [
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
];

pub fn signal_name(sig: i32) -> Option<&'static str> {
    FATAL_SIGNALS
        .iter()
        .find(|(n, _)| *n == sig)
        .map(|(_, s)| *s)
}

/// `signal_generate`'s `res`: delivered, or delivered without its siginfo.
const TRACE_SIGNAL_DELIVERED: i32 = 0;
const TRACE_SIGNAL_LOSE_INFO: i32 = 4;

/// The event filter written to `events/signal/signal_generate/filter`.
pub fn trace_filter() -> String {
    let sigs: Vec<String> = FATAL_SIGNALS
        .iter()
        .map(|(n, _)| format!("sig=={n}"))
        .collect();
    format!(
        "({}) && (result=={TRACE_SIGNAL_DELIVERED}||result=={TRACE_SIGNAL_LOSE_INFO})",
        sigs.join("||")
    )
}

/// The same without `result`, for kernels whose event lacks the field.
pub fn trace_filter_signals_only() -> String {
    let sigs: Vec<String> = FATAL_SIGNALS
        .iter()
        .map(|(n, _)| format!("sig=={n}"))
        .collect();
    sigs.join("||")
}

/// One `signal_generate` line from `trace_pipe`:
/// `  sh-15997   (  15997) [001] d..1.  4269.720298: signal_generate: sig=1
/// errno=0 code=0 comm=sleep pid=16002 grp=1 res=0` (the `(tgid)` column
/// is there with the `record-tgid` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEvent {
    /// Trace clock time, microseconds (the tracer sets its instance to the
    /// `mono` clock: CLOCK_MONOTONIC).
    pub ts_usec: u64,
    /// The sending thread (the task that was current when the signal was
    /// generated).
    pub sender_tid: i32,
    pub sender_tgid: Option<i32>,
    /// `None` when the trace's comm cache had lost it (`<...>`).
    pub sender_comm: Option<String>,
    pub sig: i32,
    pub code: i32,
    pub target_comm: String,
    pub target_pid: i32,
    pub group: bool,
    pub result: Option<i32>,
}

pub fn parse_trace_line(line: &str) -> Option<SignalEvent> {
    let (head, body) = line.split_once(": signal_generate: ")?;
    // Head, from the right: timestamp, flags, [cpu], optional (tgid), then
    // COMM-TID where the comm may hold spaces and dashes.
    let head = head.trim();
    let (head, ts) = head.rsplit_once(char::is_whitespace)?;
    let ts_usec = parse_trace_ts(ts)?;
    let head = head.trim_end();
    let (head, _flags) = head.rsplit_once(char::is_whitespace)?;
    let head = head.trim_end();
    let cpu_at = head.rfind(" [")?;
    let mut task = head[..cpu_at].trim_end();
    let mut sender_tgid = None;
    if task.ends_with(')') {
        let open = task.rfind('(')?;
        let inner = task[open + 1..task.len() - 1].trim();
        sender_tgid = inner.parse().ok();
        task = task[..open].trim_end();
    }
    let task = task.trim_start();
    let (comm, tid) = task.rsplit_once('-')?;
    let sender_tid: i32 = tid.parse().ok()?;
    let sender_comm = match comm {
        "<...>" | "" => None,
        c => Some(c.to_string()),
    };
    // Body, from the right for the same reason: `comm=` may hold spaces.
    let mut body = body.trim_end();
    let mut result = None;
    if let Some((b, r)) = body.rsplit_once(" res=") {
        result = Some(r.trim().parse().ok()?);
        body = b;
    }
    let (b, grp) = body.rsplit_once(" grp=")?;
    let group = grp.trim() != "0";
    let (b, pid) = b.rsplit_once(" pid=")?;
    let target_pid: i32 = pid.trim().parse().ok()?;
    let (b, comm) = b.split_once(" comm=")?;
    let mut sig = None;
    let mut code = None;
    for kv in b.split_whitespace() {
        match kv.split_once('=') {
            Some(("sig", v)) => sig = v.parse().ok(),
            Some(("code", v)) => code = v.parse().ok(),
            _ => {}
        }
    }
    Some(SignalEvent {
        ts_usec,
        sender_tid,
        sender_tgid,
        sender_comm,
        sig: sig?,
        code: code?,
        target_comm: comm.to_string(),
        target_pid,
        group,
        result,
    })
}

/// `4269.720298` → microseconds.
fn parse_trace_ts(ts: &str) -> Option<u64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: u64 = secs.parse().ok()?;
    let mut frac = frac.chars().take(6).collect::<String>();
    while frac.len() < 6 {
        frac.push('0');
    }
    let usec: u64 = frac.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(usec)
}

/// The mount point of tracefs from `/proc/mounts`: a `tracefs` mount, else
/// `tracing/` under a `debugfs` mount. `None` when neither is mounted
/// (stray never mounts it itself).
pub fn tracefs_root_from_mounts(mounts: &str) -> Option<PathBuf> {
    let mut debugfs = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(_src), Some(dir), Some(kind)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let dir = unescape_mount(dir);
        match kind {
            "tracefs" => return Some(PathBuf::from(dir)),
            "debugfs" if debugfs.is_none() => debugfs = Some(PathBuf::from(dir).join("tracing")),
            _ => {}
        }
    }
    debugfs
}

/// `/proc/mounts` escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            // At most \377: a byte (a larger one is not an escape).
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Decisions

/// Where the last cycle stopped reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsgPos {
    pub boot_id: String,
    /// `None`: nothing of this boot read yet.
    pub last_seq: Option<u64>,
}

/// A process worth a death record, as the last cycle that saw it knew it:
/// an agent, a family member, or a multiplexer server or client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub key: ProcKey,
    pub uid: u32,
    pub comm: String,
    /// Its class at that cycle (`orphan`, `protected`, …, or `multiplexer`
    /// for a multiplexer process that is no agent).
    pub class: String,
}

/// The last-known table, by pid.
pub type LastKnown = HashMap<i32, Watched>;

/// A multiplexer process, server or client, by its comm: `tmux: server`,
/// `tmux: client` (Linux tmux retitles both), or a listed multiplexer name
/// (`tmux` on macOS, `screen`/`SCREEN`, `zellij`) with or without a tty.
pub(crate) fn is_multiplexer_process(comm: &str, multiplexers: &[String]) -> bool {
    multiplexers.iter().any(|m| {
        comm.eq_ignore_ascii_case(m)
            || comm
                .strip_prefix(m.as_str())
                .is_some_and(|rest| rest.starts_with(": "))
    })
}

/// The most processes the last-known table keeps: a cycle on a host with
/// more agents and multiplexer processes than this records the first ones
/// (by pid) and says nothing of the rest.
pub(crate) const LAST_KNOWN_MAX: usize = 8192;

/// The class a non-agent multiplexer process is recorded with.
pub(crate) const MULTIPLEXER_CLASS: &str = "multiplexer";

/// The class a live agent's family member (not itself an agent, not a
/// leftover) is recorded with.
pub(crate) const FAMILY_CLASS: &str = "family";

/// Who a death record is kept for, as this cycle saw them: every agent and
/// leftover (with its class), every other member of an agent's family
/// (`family`), and every multiplexer server or client.
pub(crate) fn last_known(
    table: &ProcessTable,
    verdicts: &[Verdict],
    family_members: &[i32],
    multiplexers: &[String],
) -> LastKnown {
    let mut out = LastKnown::new();
    for v in verdicts {
        if let Some(p) = table.get(v.pid) {
            out.insert(v.pid, watched(p, v.class.as_str()));
        }
    }
    for &pid in family_members {
        if let Some(p) = table.get(pid) {
            out.entry(pid).or_insert_with(|| watched(p, FAMILY_CLASS));
        }
    }
    for p in table.iter() {
        if !p.kernel_thread
            && !out.contains_key(&p.pid)
            && is_multiplexer_process(&p.comm, multiplexers)
        {
            out.insert(p.pid, watched(p, MULTIPLEXER_CLASS));
        }
    }
    if out.len() > LAST_KNOWN_MAX {
        let mut pids: Vec<i32> = out.keys().copied().collect();
        pids.sort_unstable();
        for pid in &pids[LAST_KNOWN_MAX..] {
            out.remove(pid);
        }
    }
    out
}

/// `p` as a death record would name it, with `class`.
pub(crate) fn watched(p: &Process, class: &str) -> Watched {
    Watched {
        key: ProcKey {
            pid: p.pid,
            start_time: p.start_time,
        },
        uid: p.uid,
        comm: p.comm.clone(),
        class: class.to_string(),
    }
}

/// `event` of an audit line (SPEC "Deaths"; `reap` stays stray's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    OomKill,
    Killed,
    OomScoreAdj,
}

/// A death record: one audit line with `event` `oom-kill` or `killed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeathEvent {
    pub event: EventKind,
    /// RFC 3339, UTC: when it happened (from the kernel's timestamp).
    pub ts: String,
    pub pid: i32,
    pub start_time: Option<u64>,
    pub uid: Option<u32>,
    pub comm: String,
    pub class: Option<String>,
    pub signal: Option<String>,
    pub sender_pid: Option<i32>,
    pub sender_comm: Option<String>,
    pub rss_bytes: Option<u64>,
    pub memcg: Option<String>,
}

/// An `oom-score-adj` audit line: stray raised a stray's `oom_score_adj`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreAdjEvent {
    pub event: EventKind,
    pub ts: String,
    pub pid: i32,
    pub start_time: u64,
    pub uid: u32,
    pub comm: String,
    pub class: String,
    pub from: i32,
    pub to: i32,
}

/// Wall-clock time of a kernel timestamp given in microseconds after boot,
/// knowing the wall clock and the same boot clock now.
pub fn wall_time(ts_usec: u64, now_wall: SystemTime, now_boot_usec: u64) -> SystemTime {
    let ago = Duration::from_micros(now_boot_usec.saturating_sub(ts_usec));
    now_wall.checked_sub(ago).unwrap_or(now_wall)
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Records an OOM kill when its victim was watched at the last cycle (same
/// pid and comm, so a pid reused since then does not inherit a class), or
/// when its comm matches the agent rules (`matches_rules`).
pub fn decide_oom(
    kill: &OomKill,
    last_known: &LastKnown,
    matches_rules: &dyn Fn(&str) -> bool,
    ts: &str,
) -> Option<DeathEvent> {
    let known = last_known.get(&kill.pid).filter(|w| w.comm == kill.comm);
    if known.is_none() && !matches_rules(&kill.comm) {
        return None;
    }
    Some(DeathEvent {
        event: EventKind::OomKill,
        ts: ts.to_string(),
        pid: kill.pid,
        start_time: known.map(|w| w.key.start_time),
        uid: kill.uid.or(known.map(|w| w.uid)),
        comm: kill.comm.clone(),
        class: known.map(|w| w.class.clone()),
        signal: Some("SIGKILL".to_string()),
        sender_pid: None,
        sender_comm: None,
        rss_bytes: kill.rss_bytes,
        memcg: kill.memcg.clone(),
    })
}

/// `si_code` values the tracepoint shows (`include/uapi/asm-generic/siginfo.h`).
const SI_USER: i32 = 0;
const SI_KERNEL: i32 = 0x80;
const SI_QUEUE: i32 = -1;
const SI_TKILL: i32 = -6;
/// Linux signal numbers (as in the table above), spelled here so the pure
/// core needs no libc.
const SIGHUP: i32 = 1;
const SIGKILL: i32 = 9;

/// Why a signal event is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not a signal that ends a process by default.
    NotFatal,
    /// Ignored by the target, already pending, or lost.
    NotDelivered,
    /// The target was not a watched process at the last cycle.
    NotWatched,
    /// The process signalled itself (raise, abort, a fault, SIGPIPE, or a
    /// hangup the kernel generated in its own context).
    SelfSent,
    /// Sent by stray itself: already a `reap` audit event.
    Own,
    /// A kernel SIGKILL to another process: the OOM killer (recorded from
    /// the kernel log as `oom-kill`, with the right culprit).
    OomKiller,
    /// A hangup from kernel context whose closer cannot be known.
    UnknownHangup,
    /// Timers, async I/O and other kernel-generated signals, whose
    /// "sender" is whatever task happened to be running.
    KernelInternal,
}

/// Records a signal that reached a watched process from another process.
pub fn decide_signal(
    ev: &SignalEvent,
    last_known: &LastKnown,
    own_pids: &[i32],
    ts: &str,
) -> Result<DeathEvent, Dropped> {
    let Some(signal) = signal_name(ev.sig) else {
        return Err(Dropped::NotFatal);
    };
    if ev
        .result
        .is_some_and(|r| r != TRACE_SIGNAL_DELIVERED && r != TRACE_SIGNAL_LOSE_INFO)
    {
        return Err(Dropped::NotDelivered);
    }
    let Some(target) = last_known
        .get(&ev.target_pid)
        .filter(|w| w.comm == ev.target_comm)
    else {
        return Err(Dropped::NotWatched);
    };
    let sender = ev.sender_tgid.unwrap_or(ev.sender_tid);
    if sender == ev.target_pid || ev.sender_tid == ev.target_pid {
        return Err(Dropped::SelfSent);
    }
    if own_pids.contains(&sender) {
        return Err(Dropped::Own);
    }
    match ev.code {
        SI_USER | SI_QUEUE | SI_TKILL => {}
        SI_KERNEL if ev.sig == SIGKILL => return Err(Dropped::OomKiller),
        // The tty layer's hangup runs in the context of the task that
        // closed the terminal's master (or hung it up); from a kernel
        // worker or an interrupt the closer is unknown.
        SI_KERNEL if ev.sig == SIGHUP => {
            let kernel = ev.sender_tid == 0
                || ev
                    .sender_comm
                    .as_deref()
                    .is_none_or(|c| c.starts_with("kworker/") || c.starts_with("swapper/"));
            if kernel {
                return Err(Dropped::UnknownHangup);
            }
        }
        _ => return Err(Dropped::KernelInternal),
    }
    Ok(DeathEvent {
        event: EventKind::Killed,
        ts: ts.to_string(),
        pid: ev.target_pid,
        start_time: Some(target.key.start_time),
        uid: Some(target.uid),
        comm: target.comm.clone(),
        class: Some(target.class.clone()),
        signal: Some(signal.to_string()),
        sender_pid: Some(sender),
        sender_comm: ev.sender_comm.clone(),
        rss_bytes: None,
        memcg: None,
    })
}

#[cfg(test)]
mod tests {
    use crate::core::classify::testkit::{self, rules};
    use crate::core::classify::Classifier;

    #[test]
    fn multiplexer_processes_by_comm() {
        let m: Vec<String> = ["tmux", "screen", "zellij"].map(String::from).to_vec();
        for comm in [
            "tmux: server",
            "tmux: client",
            "tmux",
            "SCREEN",
            "screen",
            "zellij",
        ] {
            assert!(is_multiplexer_process(comm, &m), "{comm}");
        }
        for comm in ["tmuxinator", "bash", "tmux:client", "screenfetch", ""] {
            assert!(!is_multiplexer_process(comm, &m), "{comm}");
        }
        assert!(!is_multiplexer_process(
            "tmux: client",
            &["screen".to_string()]
        ));
    }

    #[test]
    fn last_known_holds_agents_with_their_class_and_multiplexer_processes() {
        let mut b = testkit::table();
        b.tmux_server(100, &[3])
            .agent(102, 100, Some(crate::core::process::Tty::Pts(3)));
        b.agent(200, 1, None);
        b.proc_(300, 1, "tmux: client");
        b.proc_(301, 1, "bash");
        let (t, f) = b.build();
        let r = rules();
        let c = Classifier::new(&t, &f, &r);
        let verdicts = c.verdicts(false);
        let known = last_known(&t, &verdicts, &[301], &r.multiplexers);
        let class = |pid: i32| known.get(&pid).map(|w| w.class.as_str());
        assert_eq!(class(102), Some("protected"));
        assert_eq!(class(200), Some("orphan"));
        assert_eq!(class(100), Some(MULTIPLEXER_CLASS));
        assert_eq!(class(300), Some(MULTIPLEXER_CLASS));
        // 301 stands for a live agent's MCP server: a family member.
        assert_eq!(class(301), Some(FAMILY_CLASS));
        assert_eq!(known[&200].key.start_time, t.get(200).unwrap().start_time);
        assert_eq!(known.len(), 5);
        let without = last_known(&t, &verdicts, &[], &r.multiplexers);
        assert_eq!(
            without.get(&301),
            None,
            "a process of no family is not watched"
        );
    }

    #[test]
    fn last_known_is_bounded() {
        let mut b = testkit::table();
        for pid in 2..(LAST_KNOWN_MAX as i32 + 50) {
            b.proc_(pid, 1, "tmux: client");
        }
        let (t, _) = b.build();
        let known = last_known(&t, &[], &[], &["tmux".to_string()]);
        assert_eq!(known.len(), LAST_KNOWN_MAX);
        assert!(known.contains_key(&2), "the lowest pids are kept");
    }

    use super::*;

    const REAL_OOM: &[u8] = include_bytes!("../../tests/fixtures/kmsg/oom-memcg-v1.kmsg");

    fn records(raw: &[u8]) -> Vec<KmsgRecord> {
        raw.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !l.starts_with(b" "))
            .filter_map(parse_kmsg_record)
            .collect()
    }

    /// Real lines of each kind the parsers read, to be mangled.
    const HOSTILE_SEEDS: &[&str] = &[
        "6,1234,5678,-;Out of memory: Killed process 4242 (claude) total-vm:100kB, anon-rss:9kB, file-rss:5kB, shmem-rss:0kB, UID:1000 pgtables:1kB oom_score_adj:0\n",
        "6,1233,5678,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x/y,task=claude,pid=4242,uid=1000\n",
        "Task in /a/b killed as a result of limit of /a",
        "  sh-15997   (  15997) [001] d..1.  4269.720298: signal_generate: sig=1 errno=0 code=0 comm=sleep pid=16002 grp=1 res=0",
        "tracefs /sys/kernel/tracing tracefs rw 0 0\nnone /a\\040b debugfs rw 0 0",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, .. Default::default() })]
        /// No parser of kernel text panics, whatever the line (root can
        /// write any line to /dev/kmsg).
        #[test]
        fn parsers_never_panic_on_mangled_lines(
            which in 0..HOSTILE_SEEDS.len(),
            edits in proptest::collection::vec((0usize..512, proptest::prelude::any::<u8>()), 0..6),
        ) {
            let mut b = HOSTILE_SEEDS[which].as_bytes().to_vec();
            for (at, v) in edits {
                if b.is_empty() {
                    break;
                }
                let i = at % b.len();
                match v % 4 {
                    0 => { b.remove(i); }
                    1 => b.insert(i, v),
                    2 => b[i] = b"()-: =,\\x97[]01%kB"[usize::from(v) % 18],
                    _ => b.truncate(i),
                }
            }
            let text = String::from_utf8_lossy(&b).into_owned();
            if let Some(r) = parse_kmsg_record(&b) {
                let _ = scan_oom(&[r.clone(), r]);
            }
            let _ = parse_killed_line(&text);
            let _ = parse_oom_summary(&text);
            let _ = parse_task_in_line(&text);
            let _ = parse_trace_line(&text);
            let _ = tracefs_root_from_mounts(&text);
        }
    }

    #[test]
    fn rss_past_u64_saturates() {
        // No panic (u64 overflow) on absurd sizes: root can write any line
        // to /dev/kmsg.
        let scan = scan_oom(&[rec(
            1,
            "Out of memory: Killed process 42 (claude) total-vm:1kB, \
             anon-rss:18446744073709551615kB, file-rss:5kB, shmem-rss:0kB, UID:1000",
        )]);
        assert_eq!(scan.kills.len(), 1);
        assert_eq!(scan.kills[0].rss_bytes, Some(u64::MAX));
    }

    fn rec(seq: u64, text: &str) -> KmsgRecord {
        KmsgRecord {
            seq,
            ts_usec: seq * 10,
            level: 6,
            text: text.to_string(),
        }
    }

    #[test]
    fn kmsg_header_and_escapes() {
        let r = parse_kmsg_record(b"6,42,1234567,-,caller=T1;a\\x5cb \\x1bx\n SUBSYSTEM=mem\n")
            .unwrap();
        assert_eq!((r.seq, r.ts_usec, r.level), (42, 1234567, 6));
        assert_eq!(r.text, "a\\b \u{1b}x");
        assert_eq!(parse_kmsg_record(b"garbage"), None);
        assert_eq!(parse_kmsg_record(b"x,1,2,-;m"), None);
        assert_eq!(parse_kmsg_record(b""), None);
        assert_eq!(parse_kmsg_record(b"3,1;m"), None);
    }

    #[test]
    fn real_memcg_oom_yields_one_kill() {
        let recs = records(REAL_OOM);
        assert!(recs.len() > 50, "fixture holds the whole dump");
        let scan = scan_oom(&recs);
        assert_eq!(scan.kills.len(), 1, "{:?}", scan.kills);
        let k = &scan.kills[0];
        assert_eq!(k.pid, 10797);
        assert_eq!(k.comm, "sthogexp");
        assert_eq!(k.uid, Some(0));
        assert_eq!(k.memcg.as_deref(), Some("/gexp"));
        assert_eq!(k.oom_memcg.as_deref(), Some("/gexp"));
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert_eq!(k.rss_bytes, Some((32640 + 864) * 1024));
        assert_eq!(scan.commit_seq, recs.last().map(|r| r.seq));
    }

    #[test]
    fn killed_line_variants() {
        // 5.1+: prefix and UID on the same line.
        let k = parse_killed_line("Out of memory: Killed process 4242 (claude) total-vm:9000kB, anon-rss:100kB, file-rss:20kB, shmem-rss:3kB, UID:1000 pgtables:10kB oom_score_adj:0").unwrap();
        assert_eq!(
            (k.pid, k.comm.as_str(), k.uid),
            (4242, "claude", Some(1000))
        );
        assert_eq!(
            (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb),
            (Some(100), Some(20), Some(3))
        );
        assert!(!k.memcg_oom);
        // 4.x: bare line, no UID.
        let k = parse_killed_line("Killed process 77 (node) total-vm:1234kB, anon-rss:5678kB, file-rss:0kB, shmem-rss:0kB").unwrap();
        assert_eq!((k.pid, k.uid, k.anon_rss_kb), (77, None, Some(5678)));
        // 3.x: no shmem, and a space after the colon.
        let k = parse_killed_line(
            "Killed process 78 (node) total-vm:1234kB, anon-rss: 5678kB, file-rss: 12kB",
        )
        .unwrap();
        assert_eq!(
            (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb),
            (Some(5678), Some(12), None)
        );
        // Comm with a ") " and spaces inside.
        let k = parse_killed_line("Memory cgroup out of memory: Killed process 9 (a) b c) total-vm:1kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB, UID:0").unwrap();
        assert_eq!(k.comm, "a) b c");
        assert!(k.memcg_oom);
        // Not kills.
        assert_eq!(
            parse_killed_line(
                "oom_reaper: reaped process 9 (a), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
            ),
            None
        );
        assert_eq!(
            parse_killed_line(
                "Memory cgroup out of memory: Kill process 9 (a) score 1000 or sacrifice child"
            ),
            None
        );
        assert_eq!(parse_killed_line("Killed process x (a)"), None);
        assert_eq!(parse_killed_line("Killed process 12"), None);
    }

    #[test]
    fn summary_with_commas_in_paths() {
        let s = parse_oom_summary("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,b,task_memcg=/a,b/c,task=x,y,pid=5,uid=7").unwrap();
        assert_eq!(s.oom_memcg.as_deref(), Some("/a,b"));
        assert_eq!(s.task_memcg.as_deref(), Some("/a,b/c"));
        assert_eq!(s.task.as_deref(), Some("x,y"));
        assert_eq!((s.pid, s.uid), (Some(5), Some(7)));
        assert_eq!(parse_oom_summary("oom-kill:garbage"), None);
        assert_eq!(parse_oom_summary("nothing here"), None);
    }

    #[test]
    fn old_kernel_dump_takes_memcg_from_task_in() {
        let recs = vec![
            rec(1, "node invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=0"),
            rec(2, "Task in /user/agents killed as a result of limit of /user"),
            rec(3, "memory: usage 1048576kB, limit 1048576kB, failcnt 12"),
            rec(4, "Memory cgroup out of memory: Kill process 300 (claude) score 990 or sacrifice child"),
            rec(5, "Killed process 300 (claude) total-vm:2000kB, anon-rss:1000kB, file-rss:0kB"),
            rec(6, "oom_reaper: reaped process 300 (claude), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"),
            // A global OOM with no memcg hint must not inherit the old one.
            rec(7, "bash invoked oom-killer: gfp_mask=0x24201ca, order=0, oom_score_adj=0"),
            rec(8, "Out of memory: Kill process 301 (codex) score 900 or sacrifice child"),
            rec(9, "Killed process 301 (codex) total-vm:2000kB, anon-rss:1000kB, file-rss:4kB, shmem-rss:0kB"),
        ];
        let scan = scan_oom(&recs);
        assert_eq!(scan.kills.len(), 2);
        assert_eq!(scan.kills[0].memcg.as_deref(), Some("/user/agents"));
        assert_eq!(scan.kills[0].oom_memcg.as_deref(), Some("/user"));
        assert_eq!(scan.kills[1].memcg, None);
        assert_eq!(scan.kills[1].rss_bytes, Some(1004 * 1024));
        assert_eq!(scan.commit_seq, Some(9));
    }

    #[test]
    fn a_summary_at_the_end_is_read_again_next_time() {
        let summary = "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/x,task=claude,pid=5,uid=0";
        let mut recs = vec![rec(10, "other"), rec(11, summary)];
        let scan = scan_oom(&recs);
        assert!(scan.kills.is_empty());
        assert_eq!(
            scan.commit_seq,
            Some(10),
            "held back to just before the summary"
        );
        // The next read starts at the summary and finds the kill.
        recs.remove(0);
        recs.push(rec(12, "Out of memory: Killed process 5 (claude) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"));
        let scan = scan_oom(&recs);
        assert_eq!(scan.kills.len(), 1);
        assert_eq!(scan.kills[0].memcg.as_deref(), Some("/x"));
        assert_eq!(scan.commit_seq, Some(12));
        // A summary at seq 0 holds back to "nothing seen".
        let scan = scan_oom(&[rec(0, summary)]);
        assert_eq!(scan.commit_seq, None);
        // A summary followed by a long tail without its kill is given up.
        let mut recs = vec![rec(0, summary)];
        recs.extend((1..=SUMMARY_WINDOW as u64 + 1).map(|i| rec(i, "noise")));
        let scan = scan_oom(&recs);
        assert_eq!(scan.commit_seq, Some(SUMMARY_WINDOW as u64 + 1));
        assert!(scan_oom(&[]).commit_seq.is_none());
    }

    #[test]
    fn summary_of_another_pid_does_not_lend_its_memcg() {
        let recs = vec![
            rec(1, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=x,pid=5,uid=0"),
            rec(2, "Memory cgroup out of memory: Killed process 6 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"),
        ];
        let scan = scan_oom(&recs);
        assert_eq!(scan.kills.len(), 1);
        assert_eq!(scan.kills[0].memcg, None);
    }

    #[test]
    fn trace_lines() {
        let e = parse_trace_line("              sh-15997   (  15997) [001] d..1.  4269.720298: signal_generate: sig=1 errno=0 code=0 comm=sleep pid=16002 grp=1 res=0").unwrap();
        assert_eq!(e.sender_tid, 15997);
        assert_eq!(e.sender_tgid, Some(15997));
        assert_eq!(e.sender_comm.as_deref(), Some("sh"));
        assert_eq!(
            (e.sig, e.code, e.target_pid, e.group, e.result),
            (1, 0, 16002, true, Some(0))
        );
        assert_eq!(e.target_comm, "sleep");
        assert_eq!(e.ts_usec, 4_269_720_298);
        // No tgid column, comm with dashes and spaces, target comm with a space.
        let e = parse_trace_line(" tmux: client-a-1-77 [000] d..2.   12.5: signal_generate: sig=9 errno=0 code=-6 comm=my prog pid=78 grp=0 res=4").unwrap();
        assert_eq!(e.sender_comm.as_deref(), Some("tmux: client-a-1"));
        assert_eq!((e.sender_tid, e.sender_tgid), (77, None));
        assert_eq!(e.target_comm, "my prog");
        assert_eq!((e.code, e.group, e.result), (-6, false, Some(4)));
        assert_eq!(e.ts_usec, 12_500_000);
        // Lost comm; unknown tgid; no res field (old kernels).
        let e = parse_trace_line("<...>-5 (-------) [000] .... 1.000001: signal_generate: sig=15 errno=0 code=0 comm=x pid=6 grp=1").unwrap();
        assert_eq!((e.sender_comm, e.sender_tgid, e.result), (None, None, None));
        for bad in [
            "",
            "# tracer: nop",
            "a-1 [000] .... 1.0: signal_deliver: sig=1 errno=0 code=0 sa_handler=0 sa_flags=0",
            "a-x [000] .... 1.0: signal_generate: sig=1 errno=0 code=0 comm=x pid=6 grp=1 res=0",
            "a-1 [000] .... 1.0: signal_generate: sig=1 errno=0 comm=x pid=6 grp=1 res=0",
            "a-1 [000] .... 1.0: signal_generate: sig=1 errno=0 code=0 comm=x pid=q grp=1 res=0",
        ] {
            assert_eq!(parse_trace_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn filter_lists_exactly_the_fatal_signals() {
        let f = trace_filter();
        for (n, _) in FATAL_SIGNALS {
            assert!(f.contains(&format!("sig=={n})")) || f.contains(&format!("sig=={n}|")));
        }
        for n in [17, 18, 19, 20, 21, 22, 23, 28, 32, 34] {
            assert!(
                !f.contains(&format!("sig=={n}|")) && !f.contains(&format!("sig=={n})")),
                "{n}"
            );
        }
        assert!(f.ends_with("(result==0||result==4)"));
    }

    #[test]
    fn mounts() {
        let m = "sysfs /sys sysfs rw 0 0\ndebugfs /sys/kernel/debug debugfs rw 0 0\n";
        assert_eq!(
            tracefs_root_from_mounts(m),
            Some("/sys/kernel/debug/tracing".into())
        );
        let m = "debugfs /sys/kernel/debug debugfs rw 0 0\nnodev /tmp/my\\040dir tracefs rw 0 0\n";
        assert_eq!(tracefs_root_from_mounts(m), Some("/tmp/my dir".into()));
        assert_eq!(
            tracefs_root_from_mounts("proc /proc proc rw 0 0\nbad\n"),
            None
        );
    }

    #[test]
    fn a_mount_escape_past_a_byte_is_kept_as_text() {
        // No panic (u8 overflow) on `\777`: it is not an escape.
        let m = "nodev /tmp/a\\777b tracefs rw 0 0\n";
        assert_eq!(tracefs_root_from_mounts(m), Some("/tmp/a\\777b".into()));
        let m = "nodev /tmp/a\\377b tracefs rw 0 0\n";
        assert_eq!(
            tracefs_root_from_mounts(m),
            Some(String::from_utf8_lossy(b"/tmp/a\xffb").into_owned().into())
        );
    }

    fn table() -> LastKnown {
        let mut t = LastKnown::new();
        for (pid, comm, class) in [
            (100, "claude", "orphan"),
            (200, "tmux: client", "protected"),
        ] {
            t.insert(
                pid,
                Watched {
                    key: ProcKey {
                        pid,
                        start_time: pid as u64 * 7,
                    },
                    uid: 1000,
                    comm: comm.into(),
                    class: class.into(),
                },
            );
        }
        t
    }

    fn kill(pid: i32, comm: &str) -> OomKill {
        OomKill {
            seq: 1,
            ts_usec: 1,
            pid,
            comm: comm.into(),
            uid: Some(1000),
            rss_bytes: Some(4096),
            memcg: Some("/m".into()),
            oom_memcg: None,
            constraint: None,
        }
    }

    #[test]
    fn oom_decisions() {
        let no_rules = |_: &str| false;
        let t = table();
        let e = decide_oom(&kill(100, "claude"), &t, &no_rules, "T").unwrap();
        assert_eq!(e.event, EventKind::OomKill);
        assert_eq!(e.class.as_deref(), Some("orphan"));
        assert_eq!(e.start_time, Some(700));
        assert_eq!((e.rss_bytes, e.memcg.as_deref()), (Some(4096), Some("/m")));
        // Unwatched, or a reused pid with another comm: nothing.
        assert_eq!(decide_oom(&kill(101, "firefox"), &t, &no_rules, "T"), None);
        assert_eq!(decide_oom(&kill(100, "firefox"), &t, &no_rules, "T"), None);
        // Never seen, but it matches the agent rules: recorded, class null.
        let rules = |c: &str| c == "codex";
        let e = decide_oom(&kill(300, "codex"), &t, &rules, "T").unwrap();
        assert_eq!((e.class.as_deref(), e.start_time), (None, None));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "oom-kill");
        for field in [
            "ts",
            "pid",
            "comm",
            "uid",
            "signal",
            "start_time",
            "class",
            "sender_pid",
            "sender_comm",
            "rss_bytes",
            "memcg",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
    }

    fn sig(
        sender: i32,
        sender_comm: &str,
        sig: i32,
        code: i32,
        target: i32,
        target_comm: &str,
    ) -> SignalEvent {
        SignalEvent {
            ts_usec: 5,
            sender_tid: sender,
            sender_tgid: Some(sender),
            sender_comm: Some(sender_comm.into()),
            sig,
            code,
            target_comm: target_comm.into(),
            target_pid: target,
            group: true,
            result: Some(0),
        }
    }

    #[test]
    fn signal_decisions() {
        let t = table();
        let own = [999];
        let d = |e: &SignalEvent| decide_signal(e, &t, &own, "T");
        let e = d(&sig(50, "ttyd", 1, 0, 200, "tmux: client")).unwrap();
        assert_eq!(e.event, EventKind::Killed);
        assert_eq!(
            (e.sender_pid, e.sender_comm.as_deref()),
            (Some(50), Some("ttyd"))
        );
        assert_eq!(
            (e.signal.as_deref(), e.class.as_deref()),
            (Some("SIGHUP"), Some("protected"))
        );
        assert_eq!(serde_json::to_value(&e).unwrap()["event"], "killed");
        // tkill/sigqueue count too.
        assert!(d(&sig(50, "x", 9, SI_TKILL, 100, "claude")).is_ok());
        assert!(d(&sig(50, "x", 15, SI_QUEUE, 100, "claude")).is_ok());
        assert_eq!(
            d(&sig(50, "x", 17, 0, 100, "claude")),
            Err(Dropped::NotFatal)
        );
        assert_eq!(
            d(&sig(50, "x", 9, 0, 101, "other")),
            Err(Dropped::NotWatched)
        );
        assert_eq!(
            d(&sig(50, "x", 9, 0, 100, "reused")),
            Err(Dropped::NotWatched)
        );
        assert_eq!(
            d(&sig(100, "claude", 6, 0, 100, "claude")),
            Err(Dropped::SelfSent)
        );
        // A thread of the target signalling its own process.
        let mut e = sig(101, "claude", 15, SI_TKILL, 100, "claude");
        e.sender_tgid = Some(100);
        assert_eq!(d(&e), Err(Dropped::SelfSent));
        assert_eq!(
            d(&sig(999, "stray", 15, 0, 100, "claude")),
            Err(Dropped::Own)
        );
        assert_eq!(
            d(&sig(60, "hog", 9, SI_KERNEL, 100, "claude")),
            Err(Dropped::OomKiller)
        );
        assert_eq!(
            d(&sig(0, "swapper/0", 14, SI_KERNEL, 100, "claude")),
            Err(Dropped::KernelInternal)
        );
        assert_eq!(
            d(&sig(60, "x", 14, -2, 100, "claude")),
            Err(Dropped::KernelInternal)
        );
        assert_eq!(
            d(&sig(60, "x", 11, 1, 100, "claude")),
            Err(Dropped::KernelInternal)
        );
        // Kernel hangup: the closer's context is kept, a worker's is not,
        // and the target's own context is never its killer.
        assert!(d(&sig(50, "ttyd", 1, SI_KERNEL, 200, "tmux: client")).is_ok());
        assert_eq!(
            d(&sig(7, "kworker/0:1", 1, SI_KERNEL, 200, "tmux: client")),
            Err(Dropped::UnknownHangup)
        );
        assert_eq!(
            d(&sig(200, "tmux: client", 1, SI_KERNEL, 200, "tmux: client")),
            Err(Dropped::SelfSent)
        );
        let mut e = sig(50, "x", 9, 0, 100, "claude");
        e.result = Some(1);
        assert_eq!(d(&e), Err(Dropped::NotDelivered));
        e.result = Some(4);
        assert!(d(&e).is_ok());
    }

    #[test]
    fn wall_time_from_boot_clock() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            wall_time(4_000_000, now, 10_000_000),
            now - Duration::from_secs(6)
        );
        // A timestamp "in the future" of the boot clock is clamped to now.
        assert_eq!(wall_time(20_000_000, now, 10_000_000), now);
    }
}
