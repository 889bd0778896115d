//! The pane-label cache: `panes.json` in the state dir, what tmux servers
//! said about their panes (see [`crate::core::panes`]), kept a few seconds
//! so that `scan` need not start a tmux client per server each time.
//!
//! Untrusted input: it feeds display labels only, never a verdict or a
//! signal. It is read capped ([`MAX_BYTES`]) through the checked state dir,
//! only when it is ours and writable by no one else, and only for this boot;
//! a file that fails any check is ignored as a whole (the next answer
//! replaces it). It is written without the cycle lock, which `scan` must
//! never wait for: each write replaces the file atomically (a temp file
//! renamed over it), so concurrent runs leave one complete file (the last
//! writer's), and a failed write is reported to no one.

use std::io;

use serde::{Deserialize, Serialize};

use crate::core::panes::{ServerPanes, MAX_PANES, MAX_SERVERS, MAX_TARGET};
use crate::store::state::StateDir;

pub(crate) const PANES_FILE: &str = "panes.json";
/// Far above what [`MAX_SERVERS`] ordinary servers need; a larger file is
/// not read.
pub(crate) const MAX_BYTES: u64 = 1 << 20;
const SCHEMA: u32 = 1;

#[derive(Deserialize)]
struct CacheFile {
    schema: u32,
    /// Start times and the clock count from boot: another boot's file
    /// means nothing.
    boot_id: String,
    servers: Vec<ServerPanes>,
}

/// [`CacheFile`] as written, borrowing the answers.
#[derive(Serialize)]
struct CacheOut<'a> {
    schema: u32,
    boot_id: &'a str,
    servers: &'a [ServerPanes],
}

/// The kept answers, or none when the file is missing, unreadable, not
/// ours, too large, of another boot or invalid in any way.
pub(crate) fn load(dir: &StateDir, boot_id: Option<&str>) -> Vec<ServerPanes> {
    let Some(boot_id) = boot_id else {
        return Vec::new();
    };
    match dir.dir().read_trusted(PANES_FILE, MAX_BYTES) {
        Ok(bytes) => parse(&bytes, boot_id).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// Parses and validates a cache file of boot `boot_id`.
pub(crate) fn parse(bytes: &[u8], boot_id: &str) -> Option<Vec<ServerPanes>> {
    let file: CacheFile = serde_json::from_slice(bytes).ok()?;
    let valid = file.schema == SCHEMA
        && file.boot_id == boot_id
        && file.servers.len() <= MAX_SERVERS
        && file.servers.iter().all(valid_server);
    valid.then_some(file.servers)
}

fn valid_server(s: &ServerPanes) -> bool {
    s.pid > 0
        && s.panes.len() <= MAX_PANES
        && s.panes.iter().all(|p| {
            p.pid > 0
                && p.target.len() <= MAX_TARGET
                && p.tty.len() <= 64
                && p.tty.starts_with("/dev/")
        })
}

/// Replaces the file with `servers` (at most [`MAX_SERVERS`] of them, the
/// first ones kept). The caller ignores the result: a cache that cannot be
/// written only costs the next run a question.
pub(crate) fn save(
    dir: &StateDir,
    boot_id: Option<&str>,
    servers: &[ServerPanes],
) -> io::Result<()> {
    let Some(boot_id) = boot_id else {
        return Ok(());
    };
    let file = CacheOut {
        schema: SCHEMA,
        boot_id,
        servers: &servers[..servers.len().min(MAX_SERVERS)],
    };
    let bytes = serde_json::to_vec(&file).map_err(io::Error::other)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "pane cache too large",
        ));
    }
    dir.dir().write_atomic(PANES_FILE, &bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::panes::Pane;

    const BOOT: &str = "b00t";

    fn dir() -> (tempfile::TempDir, StateDir) {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::create(&t.path().join("state")).unwrap();
        (t, d)
    }

    fn server(pid: i32) -> ServerPanes {
        ServerPanes {
            pid,
            start_time: 77,
            asked_at: 99,
            panes: vec![Pane {
                pid: pid + 1,
                start_time: Some(78),
                tty: "/dev/pts/3".into(),
                target: "main:0.0".into(),
            }],
        }
    }

    #[test]
    fn round_trips_as_a_private_file_of_this_boot_only() {
        let (_t, d) = dir();
        assert!(load(&d, Some(BOOT)).is_empty(), "no file yet");
        save(&d, Some(BOOT), &[server(10), server(20)]).unwrap();
        assert_eq!(load(&d, Some(BOOT)), vec![server(10), server(20)]);
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(d.file(PANES_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(load(&d, Some("another boot")).is_empty());
        // No boot id: no clock to trust, nothing read or written.
        assert!(load(&d, None).is_empty());
        std::fs::remove_file(d.file(PANES_FILE)).unwrap();
        save(&d, None, &[server(10)]).unwrap();
        assert!(!d.file(PANES_FILE).exists());
    }

    #[test]
    fn anything_invalid_discards_the_whole_file() {
        let good = serde_json::json!({"schema": 1, "boot_id": BOOT, "servers": [server(10)]});
        let bytes = |v: &serde_json::Value| serde_json::to_vec(v).unwrap();
        assert_eq!(parse(&bytes(&good), BOOT), Some(vec![server(10)]));
        let edits: [(&str, serde_json::Value); 7] = [
            ("/schema", 2.into()),
            ("/servers/0/pid", 0.into()),
            ("/servers/0/panes/0/pid", (-1).into()),
            ("/servers/0/panes/0/tty", "pts/3".into()),
            (
                "/servers/0/panes/0/tty",
                format!("/dev/{}", "x".repeat(64)).into(),
            ),
            (
                "/servers/0/panes/0/target",
                "x".repeat(MAX_TARGET + 1).into(),
            ),
            ("/servers/0/start_time", "soon".into()),
        ];
        for (at, value) in edits {
            let mut bad = good.clone();
            *bad.pointer_mut(at).unwrap() = value;
            assert_eq!(parse(&bytes(&bad), BOOT), None, "{at}");
        }
        let many = serde_json::json!({"schema": 1, "boot_id": BOOT,
            "servers": vec![server(10); MAX_SERVERS + 1]});
        assert_eq!(parse(&bytes(&many), BOOT), None);
        assert_eq!(parse(b"\xff{", BOOT), None);
    }

    #[test]
    fn a_file_others_can_write_is_not_read() {
        let (_t, d) = dir();
        save(&d, Some(BOOT), &[server(10)]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.file(PANES_FILE), std::fs::Permissions::from_mode(0o622))
            .unwrap();
        assert!(load(&d, Some(BOOT)).is_empty());
    }

    #[test]
    fn an_answer_too_large_to_keep_leaves_the_file_alone() {
        let (_t, d) = dir();
        save(&d, Some(BOOT), &[server(10)]).unwrap();
        let mut big = server(20);
        big.panes = vec![big.panes[0].clone(); MAX_PANES];
        for p in &mut big.panes {
            p.target = "t".repeat(MAX_TARGET);
        }
        let many = vec![big; 8];
        assert!(save(&d, Some(BOOT), &many).is_err());
        assert_eq!(load(&d, Some(BOOT)), vec![server(10)]);
    }
}
