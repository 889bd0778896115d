//! Data in, text out: tables, the process tree, messages.
pub(crate) mod health;
pub(crate) mod msg;
pub(crate) mod process;
pub(crate) mod table;
pub(crate) mod tree;
