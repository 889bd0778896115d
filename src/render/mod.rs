//! Data in, text out: tables, the process tree, messages.
pub mod msg;
pub mod table;
pub mod tree;
