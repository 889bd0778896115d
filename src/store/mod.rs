//! What outlives a run: the state file and its lock, the audit log.
pub mod audit;
pub mod state;
