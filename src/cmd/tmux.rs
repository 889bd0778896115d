//! `stray tmux [--prune]`: tmux sockets, alive or dead, with their server
//! and session count; `--prune` removes the dead ones the caller owns.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::exit::ExitCode;
use crate::render::table::{self, Table};
use crate::settings::Tmux;
use crate::sys::tmux::{self, SocketInfo};
use crate::{render::msg, Settings};

pub(crate) fn tmux(s: &Settings, args: &Tmux, out: &mut dyn Write) -> Result<ExitCode> {
    let me = nix::unistd::geteuid().as_raw();
    // Without the process table only the socket dirs can be listed.
    let table = match crate::sys::proc::read_table(&s.proc_root) {
        Ok(read) => read.table,
        Err(e) => {
            msg::warn(&format!("live servers not listed: {e}"));
            Default::default()
        }
    };
    let sockets = tmux::discover(&s.proc_root, &table, &s.env.tmux_tmpdir(), me, true);
    let (pruned, errors) = if args.prune {
        tmux::prune(&sockets, &s.proc_root, me)
    } else {
        (Vec::new(), Vec::new())
    };
    for e in &errors {
        msg::error(e);
    }
    if s.json() {
        crate::cmd::print_json(
            out,
            &json!({"schema": 1, "servers": sockets, "pruned": pruned, "errors": errors}),
        )?;
    } else {
        out.write_all(render_human(&sockets, &pruned, args.prune).as_bytes())?;
    }
    Ok(if errors.is_empty() {
        ExitCode::OK
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) fn render_human(sockets: &[SocketInfo], pruned: &[PathBuf], prune: bool) -> String {
    let mut out = String::new();
    if !sockets.is_empty() {
        let mut t = Table::new(&["STATE", "OWNER", "PID", "SESSIONS", "SOCKET"]);
        for s in sockets {
            let state = if pruned.contains(&s.socket) {
                "pruned"
            } else if s.alive {
                "alive"
            } else {
                "dead"
            };
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            t.row(vec![
                state.into(),
                opt(s.owner_uid.map(|u| u.to_string())),
                opt(s.pid.map(|p| p.to_string())),
                opt(s.sessions.map(|n| n.to_string())),
                table::escape(&s.socket.to_string_lossy()),
            ]);
        }
        out.push_str(&t.render());
    }
    let alive = sockets.iter().filter(|s| s.alive).count();
    let dead = sockets.len() - alive;
    out.push_str(&format!(
        "{}: {alive} alive, {dead} dead",
        crate::core::health::plural(sockets.len(), "tmux socket")
    ));
    if prune {
        out.push_str(&format!("; {} pruned", pruned.len()));
    } else if dead > 0 {
        out.push_str(" (stray tmux --prune removes the dead ones you own)");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_snapshot() {
        let s = vec![
            SocketInfo {
                in_tmpdir: true,
                socket: "/tmp/tmux-1000/default".into(),
                owner_uid: Some(1000),
                alive: true,
                pid: Some(4242),
                sessions: Some(3),
            },
            SocketInfo {
                in_tmpdir: true,
                socket: "/tmp/tmux-1000/old\nx".into(),
                owner_uid: Some(1000),
                alive: false,
                pid: None,
                sessions: None,
            },
        ];
        assert_eq!(
            render_human(&s, &[], false),
            "STATE  OWNER  PID   SESSIONS  SOCKET\n\
             alive  1000   4242  3         /tmp/tmux-1000/default\n\
             dead   1000   -     -         /tmp/tmux-1000/old\\nx\n\
             2 tmux sockets: 1 alive, 1 dead (stray tmux --prune removes the dead ones you own)\n"
        );
        let pruned = vec![PathBuf::from("/tmp/tmux-1000/old\nx")];
        let text = render_human(&s, &pruned, true);
        assert!(text.contains("pruned  1000"), "{text}");
        assert!(text.ends_with("1 alive, 1 dead; 1 pruned\n"), "{text}");
    }
}
