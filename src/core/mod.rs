//! Pure decisions: the process model, classification, the escalation plan,
//! socket judging, PTY churn, health-check building, lineage memory, pane
//! labels from kept tmux answers, and
//! the kernel-log/tracefs parsers and memory decisions (deaths, memory).
//!
//! Nothing here touches the system: no file system, environment, process,
//! clock, libc, nix or procfs, and no import from the other layers
//! (`.ci/core-purity` checks). Everything arrives as data, "now" included.
pub(crate) mod check;
pub(crate) mod classify;
pub mod deaths;
pub(crate) mod escalation;
pub mod family;
pub(crate) mod health;
pub(crate) mod human;
pub(crate) mod incremental;
pub(crate) mod lineage;
pub mod memory;
pub(crate) mod panes;
pub(crate) mod process;
pub(crate) mod pty;
pub(crate) mod sockets;
