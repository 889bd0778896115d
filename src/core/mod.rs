//! Pure decisions: the process model, classification, the escalation plan,
//! socket judging, PTY churn, health-check building.
pub mod check;
pub mod classify;
pub mod escalation;
pub mod health;
pub mod human;
pub mod process;
pub mod pty;
pub mod sockets;
