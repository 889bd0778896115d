//! What outlives a run: the state file and its lock, the audit log, the
//! pane-label cache. Files
//! go through `sys::safefs`; nothing here decides what to signal or reads
//! the process table.
pub(crate) mod audit;
pub(crate) mod panes;
pub(crate) mod state;
