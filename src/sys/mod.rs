//! The system edge: every system call and every `cfg(target_os)` (a `cfg`
//! elsewhere says why). Reads and acts on the machine; decides nothing (the
//! decisions it needs come from `core`) and never imports `cmd` or
//! `settings`.
pub(crate) mod bounded;
pub(crate) mod family;
#[cfg(target_os = "linux")]
pub(crate) mod incremental;
#[cfg(target_os = "linux")]
pub(crate) mod inet_diag;
#[cfg(target_os = "linux")]
pub mod kmsg;
#[cfg(target_os = "linux")]
pub mod oomadj;
pub(crate) mod proc;
#[cfg(target_os = "linux")]
pub mod psi;
pub(crate) mod pty;
pub(crate) mod safefs;
pub(crate) mod signal;
pub(crate) mod survey;
pub(crate) mod tmux;
#[cfg(target_os = "linux")]
pub mod tracefs;
#[cfg(target_os = "linux")]
pub(crate) mod unix_diag;
