//! Pure decisions: the process model, classification, the escalation plan,
//! socket judging, PTY churn, health-check building.
pub(crate) mod check;
pub(crate) mod classify;
pub(crate) mod escalation;
pub(crate) mod health;
pub(crate) mod human;
pub(crate) mod process;
pub(crate) mod pty;
pub(crate) mod sockets;
