//! The system edge: every system call and every `cfg(target_os)`.
pub mod bounded;
#[cfg(target_os = "linux")]
pub mod inet_diag;
pub mod proc;
pub mod pty;
pub mod safefs;
pub mod signal;
pub mod survey;
pub mod tmux;
#[cfg(target_os = "linux")]
pub mod unix_diag;
