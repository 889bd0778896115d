//! The system edge: every system call and every `cfg(target_os)` (a `cfg`
//! elsewhere says why). Reads and acts on the machine; decides nothing (the
//! decisions it needs come from `core`) and never imports `cmd` or
//! `settings`.
pub(crate) mod bounded;
#[cfg(target_os = "linux")]
pub(crate) mod inet_diag;
pub(crate) mod proc;
pub(crate) mod pty;
pub(crate) mod safefs;
pub(crate) mod signal;
pub(crate) mod survey;
pub(crate) mod tmux;
#[cfg(target_os = "linux")]
pub(crate) mod unix_diag;
