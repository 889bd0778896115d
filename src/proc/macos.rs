//! macOS process table (not built yet: every read reports "unsupported").

use std::io;
use std::path::{Path, PathBuf};

use super::{ProcSource, Process, ProcessTable};

pub fn now_boottime() -> f64 {
    0.0
}

pub fn current_boot_id() -> Option<String> {
    None
}

pub struct TableRead {
    pub table: ProcessTable,
    pub problems: Vec<String>,
    pub hidden: usize,
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the macOS process table is not implemented yet",
    )
}

pub fn read_table(_root: &Path) -> io::Result<TableRead> {
    Err(unsupported())
}

pub fn read_one(_root: &Path, _pid: i32) -> io::Result<Option<Process>> {
    Err(unsupported())
}

#[derive(Debug, Clone)]
pub struct LiveSource {
    pub root: PathBuf,
}

impl LiveSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LiveSource { root: root.into() }
    }
}

impl ProcSource for LiveSource {
    fn exe(&self, _pid: i32) -> io::Result<String> {
        Err(unsupported())
    }
    fn cmdline(&self, _pid: i32) -> io::Result<Vec<String>> {
        Err(unsupported())
    }
    fn environ(&self, _pid: i32) -> io::Result<Vec<String>> {
        Err(unsupported())
    }
    fn pty_masters(&self, _pid: i32) -> io::Result<Vec<u32>> {
        Err(unsupported())
    }
    fn socket_inodes(&self, _pid: i32) -> io::Result<Vec<u64>> {
        Err(unsupported())
    }
}
