//! Data in, text out: tables, the process tree, health reports, stderr
//! messages. Nothing here reads the system or decides.
pub(crate) mod health;
pub(crate) mod msg;
pub(crate) mod process;
pub(crate) mod table;
pub(crate) mod tree;
