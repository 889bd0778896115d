//! Data in, text out: tables, the process tree, messages.
pub mod health;
pub mod msg;
pub mod process;
pub mod table;
pub mod tree;
