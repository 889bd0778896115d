//! What outlives a run: the state file and its lock, the audit log.
pub(crate) mod audit;
pub(crate) mod state;
