//! Lineage memory: the parent each agent had when a real cycle first saw
//! it, so that a later cycle can tell a re-parented agent (an orphan,
//! whoever adopted it) from one its parent started. Kept in the state file
//! (`store::state`); decided on here, purely: a table in, a memory out.

use serde::{Deserialize, Serialize};

use crate::core::process::{ProcKey, ProcessTable};

/// At most this many processes are remembered; beyond it new ones are not
/// (a process without memory is judged on what the table shows, which errs
/// towards not signalling).
pub(crate) const MAX_LINEAGE: usize = 8192;

/// Lineage memory: the parent each live process had when a real cycle first
/// saw it, keyed by (pid, start time) and dropped once the process is gone.
///
/// The kernel changes a process's parent only when the parent exits (it is
/// re-parented to the nearest child subreaper, else to PID 1 of its PID
/// namespace), so a parent different from the remembered one proves that the
/// process was re-parented: an orphan, whoever adopted it. Today it holds
/// the agents; agent families extend the same records to each agent's
/// descendants (an `agent` field per entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lineage {
    /// Sorted by (pid, start time), unique.
    pub seen: Vec<Seen>,
}

/// One remembered process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub pid: i32,
    pub start_time: u64,
    /// Its parent (pid, start time) when first seen.
    pub parent: ProcKey,
    /// For an agent's descendant: that agent, as first seen (remembered
    /// descent, SPEC "Agent families"). `None` for the agents themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<ProcKey>,
}

impl Lineage {
    /// The parent `key` had when first seen, if it was.
    pub fn parent_of(&self, key: ProcKey) -> Option<ProcKey> {
        self.find(key).map(|s| s.parent)
    }

    fn find(&self, key: ProcKey) -> Option<&Seen> {
        self.seen
            .binary_search_by_key(&key, |s| ProcKey {
                pid: s.pid,
                start_time: s.start_time,
            })
            .ok()
            .map(|i| &self.seen[i])
    }

    /// The memory after a cycle that saw `table`: the earlier records of
    /// the `pids` still alive (same start time) kept as they were (the first
    /// parent is the evidence), new ones added with their current parent;
    /// everything else dropped. A process whose parent is not in the table
    /// (it exited mid-scan) is not recorded this time.
    pub fn remember(&self, table: &ProcessTable, pids: impl IntoIterator<Item = i32>) -> Lineage {
        self.remember_family(table, pids.into_iter().map(|pid| (pid, None)))
    }

    /// [`Lineage::remember`] for agents (`None`) and live agents'
    /// descendants (`Some(agent)`): a descendant keeps the agent it was
    /// first seen under, like its first parent.
    pub fn remember_family(
        &self,
        table: &ProcessTable,
        entries: impl IntoIterator<Item = (i32, Option<ProcKey>)>,
    ) -> Lineage {
        let mut seen: Vec<Seen> = entries
            .into_iter()
            .filter_map(|(pid, agent)| table.get(pid).map(|p| (p, agent)))
            .filter_map(|(p, agent)| match self.find(p.key()) {
                Some(old) => Some(Seen {
                    agent: old.agent.or(agent),
                    ..*old
                }),
                None => table.get(p.ppid).map(|parent| Seen {
                    pid: p.pid,
                    start_time: p.start_time,
                    parent: parent.key(),
                    agent,
                }),
            })
            .collect();
        seen.sort_by_key(|s| (s.pid, s.start_time));
        seen.dedup_by_key(|s| (s.pid, s.start_time));
        if seen.len() > MAX_LINEAGE {
            // Keep the remembered ones first: their evidence is older.
            let (mut old, new): (Vec<Seen>, Vec<Seen>) = seen.into_iter().partition(|s| {
                self.parent_of(ProcKey {
                    pid: s.pid,
                    start_time: s.start_time,
                })
                .is_some()
            });
            old.extend(new);
            old.truncate(MAX_LINEAGE);
            old.sort_by_key(|s| (s.pid, s.start_time));
            seen = old;
        }
        Lineage { seen }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::process::bare_process as proc_at;

    fn k(pid: i32, start_time: u64) -> ProcKey {
        ProcKey { pid, start_time }
    }

    #[test]
    fn lineage_keeps_the_first_parent_and_forgets_the_gone() {
        let t1 = ProcessTable::new(
            vec![
                proc_at(1, 0, 0),
                proc_at(10, 1, 5),
                proc_at(20, 10, 7),
                proc_at(30, 10, 8),
                proc_at(40, 99, 9), // parent exited mid-scan
            ],
            100.0,
            100,
        );
        let m1 = Lineage::default().remember(&t1, [20, 30, 40, 77]);
        assert_eq!(m1.parent_of(k(20, 7)), Some(k(10, 5)));
        assert_eq!(m1.parent_of(k(30, 8)), Some(k(10, 5)));
        assert_eq!(m1.parent_of(k(40, 9)), None, "no parent to record");
        assert_eq!(m1.parent_of(k(20, 6)), None, "another start time");
        // 10 exits: 20 is re-parented to 1; 30 is gone and its pid reused.
        let t2 = ProcessTable::new(
            vec![proc_at(1, 0, 0), proc_at(20, 1, 7), proc_at(30, 1, 50)],
            200.0,
            100,
        );
        let m2 = m1.remember(&t2, [20, 30]);
        assert_eq!(m2.parent_of(k(20, 7)), Some(k(10, 5)), "first parent kept");
        assert_eq!(m2.parent_of(k(30, 8)), None, "gone: forgotten");
        assert_eq!(m2.parent_of(k(30, 50)), Some(k(1, 0)), "new process");
        assert_eq!(m2.seen.len(), 2);
    }

    #[test]
    fn lineage_is_bounded_and_keeps_what_it_knew() {
        let mut procs = vec![proc_at(1, 0, 0)];
        procs.extend((2..MAX_LINEAGE as i32 + 12).map(|pid| proc_at(pid, 1, 10)));
        let t = ProcessTable::new(procs, 100.0, 100);
        // The highest pids were remembered before; the rest are new.
        let pids: Vec<i32> = (2..MAX_LINEAGE as i32 + 12).collect();
        let old = Lineage::default().remember(&t, pids.iter().rev().take(5).copied());
        let m = old.remember(&t, pids.iter().copied());
        assert_eq!(m.seen.len(), MAX_LINEAGE);
        for &pid in pids.iter().rev().take(5) {
            assert!(m.parent_of(k(pid, 10)).is_some(), "{pid} forgotten");
        }
        assert!(m
            .seen
            .windows(2)
            .all(|w| (w[0].pid, w[0].start_time) < (w[1].pid, w[1].start_time)));
    }

    #[test]
    fn descendants_keep_the_agent_they_were_first_seen_under() {
        let t1 = ProcessTable::new(
            vec![
                proc_at(1, 0, 0),
                proc_at(10, 1, 5),
                proc_at(20, 10, 6),
                proc_at(30, 20, 7),
            ],
            100.0,
            100,
        );
        let agent = k(10, 5);
        let m = Lineage::default()
            .remember_family(&t1, [(10, None), (20, Some(agent)), (30, Some(agent))]);
        let of = |m: &Lineage, key| m.find(key).and_then(|s| s.agent);
        assert_eq!(of(&m, k(20, 6)), Some(agent));
        // The agent died; its descendants were re-parented; a later cycle
        // sees them under nothing and keeps the first agent.
        let t2 = ProcessTable::new(
            vec![proc_at(1, 0, 0), proc_at(20, 1, 6), proc_at(30, 20, 7)],
            200.0,
            100,
        );
        let m2 = m.remember_family(&t2, [(20, None), (30, Some(k(99, 1)))]);
        assert_eq!(of(&m2, k(20, 6)), Some(agent));
        assert_eq!(of(&m2, k(30, 7)), Some(agent));
        assert_eq!(m2.parent_of(k(20, 6)), Some(agent), "first parent kept");
        // Gone members are dropped.
        let m3 = m2.remember_family(&t2, [(30, None)]);
        assert!(m3.find(k(20, 6)).is_none());
        // Old state files (no agent field) still load; the field is only
        // written when set.
        let json = serde_json::to_string(&m3).unwrap();
        let back: Lineage = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m3);
        let plain: Lineage =
            serde_json::from_str(r#"[{"pid":5,"start_time":3,"parent":{"pid":1,"start_time":0}}]"#)
                .unwrap();
        assert_eq!(plain.seen[0].agent, None);
    }
}
