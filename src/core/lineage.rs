//! Lineage memory: the parent each live agent had when a real cycle first
//! saw it. Plain data kept in the state file and a pure update rule; the
//! reading and writing are `store::state`'s.

use serde::{Deserialize, Serialize};

use crate::core::process::{ProcKey, ProcessTable};

/// At most this many processes are remembered; beyond it new ones are not
/// (a process without memory is judged on what the table shows, which errs
/// towards not signalling).
pub(crate) const MAX_LINEAGE: usize = 4096;

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
}

impl Lineage {
    /// The parent `key` had when first seen, if it was.
    pub(crate) fn parent_of(&self, key: ProcKey) -> Option<ProcKey> {
        self.seen
            .binary_search_by_key(&key, |s| ProcKey {
                pid: s.pid,
                start_time: s.start_time,
            })
            .ok()
            .map(|i| self.seen[i].parent)
    }

    /// The memory after a cycle that saw `table`: the earlier records of
    /// the `pids` still alive (same start time) kept as they were (the first
    /// parent is the evidence), new ones added with their current parent;
    /// everything else dropped. A process whose parent is not in the table
    /// (it exited mid-scan) is not recorded this time.
    pub(crate) fn remember(
        &self,
        table: &ProcessTable,
        pids: impl IntoIterator<Item = i32>,
    ) -> Lineage {
        let mut seen: Vec<Seen> = pids
            .into_iter()
            .filter_map(|pid| table.get(pid))
            .filter_map(|p| match self.parent_of(p.key()) {
                Some(parent) => Some(Seen {
                    pid: p.pid,
                    start_time: p.start_time,
                    parent,
                }),
                None => table.get(p.ppid).map(|parent| Seen {
                    pid: p.pid,
                    start_time: p.start_time,
                    parent: parent.key(),
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
