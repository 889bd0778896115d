//! `stray hooks tmux|claude`: prints a snippet that runs a reap the moment
//! a tmux pane, window or session closes, or a Claude Code session ends. It
//! edits no file: the user pastes the snippet where it goes.
//!
//! Every hook runs `stray -q reap --coalesce DELAY` in the background:
//!
//! - `--coalesce` turns a burst (closing twenty panes, or one close firing
//!   `pane-exited`, `window-unlinked` and `session-closed`) into one or two
//!   cycles, and the last close is still covered (see `state::QueueSlot`);
//! - DELAY lets the closed pane's processes finish dying first (tmux's kill
//!   commands hang the terminal up and return; the shell exits a moment
//!   later), and for Claude Code lets `claude` itself exit, since its
//!   `SessionEnd` hook runs before it does.
//!
//! The reap applies `min_age` as always: a process that *started* less than
//! `min_age` ago is `young` and left to the next timer or `watch` cycle.

use std::io::Write;

use anyhow::Result;

use crate::render::msg;
use crate::settings::{Format, HookInvocation, HookTarget};

/// How long a tmux hook waits before its cycle: long enough for a hung-up
/// pane's processes to exit, short enough to feel immediate.
pub const TMUX_DELAY: &str = "500ms";
/// How long a Claude Code hook waits: `SessionEnd` runs while `claude` is
/// still alive, and its MCP servers become leftovers only once it has exited.
pub const CLAUDE_DELAY: &str = "3s";
/// A hook waits this long for a long cycle (`reap --wait`, a busy `watch`)
/// before giving up with 75; only one hook ever waits (the queued one).
pub const LOCK_WAIT: &str = "2m";

/// The tmux events that can leave processes behind, each with why.
pub const TMUX_EVENTS: [(&str, &str); 5] = [
    (
        "pane-exited",
        "a pane's program exited (exit, Ctrl-D, a crash)",
    ),
    ("pane-died", "the same with remain-on-exit on"),
    ("after-kill-pane", "kill-pane"),
    (
        "window-unlinked",
        "kill-window, and a window's last pane closing",
    ),
    (
        "session-closed",
        "kill-session, and a session's last window closing",
    ),
];

/// The array index the hooks use, so that sourcing the snippet again
/// replaces them instead of adding copies, and a user's own hook at index 0
/// is left alone.
pub const TMUX_HOOK_INDEX: u32 = 77;

/// `stray hooks TARGET`. Reads no config and no `/proc`: the snippet only
/// repeats the global options given here (`-c`, `--state-dir`, `--name`)
/// in the reap it runs.
pub(crate) fn hooks(
    how: &HookInvocation,
    target: HookTarget,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let (exe, globals) = (&how.exe, &how.globals);
    let text = match target {
        HookTarget::Tmux => tmux_snippet(exe, globals),
        HookTarget::Claude => claude_snippet(exe, globals),
    };
    if format == Format::Json {
        let name = match target {
            HookTarget::Tmux => "tmux",
            HookTarget::Claude => "claude",
        };
        return crate::cmd::print_json(
            out,
            &serde_json::json!({"schema": 1, "target": name, "snippet": text}),
        );
    }
    if target == HookTarget::Claude {
        // JSON has no comments: the hint goes to stderr, the JSON alone to stdout.
        msg::notice(
            "merge this into ~/.claude/settings.json (under \"hooks\"); see stray-hooks(1)",
        );
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The reap a hook runs, as one POSIX shell command.
pub fn reap_command(exe: &str, globals: &[String], delay: &str) -> String {
    let mut words = vec![sh_quote(exe)];
    words.extend(globals.iter().map(|g| sh_quote(g)));
    words.push("-q reap --coalesce".to_string());
    words.push(delay.to_string());
    words.push(format!("--lock-wait {LOCK_WAIT}"));
    words.join(" ")
}

/// Lines for `~/.tmux.conf` (tmux 3.0 or later: hook arrays and `{ }`).
pub fn tmux_snippet(exe: &str, globals: &[String]) -> String {
    let shell = format!(
        "{} </dev/null >/dev/null 2>&1",
        reap_command(exe, globals, TMUX_DELAY)
    );
    let run = format!("run-shell -b {}", tmux_quote(&shell));
    let mut s = String::new();
    s += "# stray: reap the moment a pane, window or session closes (`stray hooks tmux`).\n";
    s += "# Add to ~/.tmux.conf, then: tmux source-file ~/.tmux.conf\n";
    s += "# A burst of closes runs one or two cycles (--coalesce). Processes younger\n";
    s += "# than min_age are left to the timer or `stray watch`: keep one of those on.\n";
    for (event, why) in TMUX_EVENTS {
        s += &format!("# {event}: {why}\n");
    }
    for (event, _) in TMUX_EVENTS {
        s += &format!("set-hook -g '{event}[{TMUX_HOOK_INDEX}]' {{ {run} }}\n");
    }
    s
}

/// The `hooks` object for `~/.claude/settings.json`.
pub fn claude_snippet(exe: &str, globals: &[String]) -> String {
    // In the background and detached from the hook's pipes: Claude Code waits
    // for the hook (and cancels one that outlasts its shutdown grace), while
    // the cycle must run after `claude` has exited.
    let command = format!(
        "nohup {} </dev/null >/dev/null 2>&1 &",
        reap_command(exe, globals, CLAUDE_DELAY)
    );
    let doc = serde_json::json!({
        "hooks": {
            "SessionEnd": [
                {"hooks": [{"type": "command", "command": command}]}
            ]
        }
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("a JSON value serializes");
    s.push('\n');
    s
}

/// POSIX shell quoting: bare when only safe characters, else single quotes.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One tmux argument in double quotes. tmux expands `$VAR`, `~` and
/// backslash escapes inside them, and `run-shell` expands `#{…}` formats in
/// its command, so `\`, `"` and `$` are escaped and `#` is doubled.
pub fn tmux_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' | '"' | '$' => {
                q.push('\\');
                q.push(c);
            }
            '#' => q.push_str("##"),
            _ => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/usr/bin/stray"), "/usr/bin/stray");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn tmux_quoting() {
        assert_eq!(tmux_quote("a b"), "\"a b\"");
        assert_eq!(tmux_quote(r#"x"y\z$w#{k}"#), r#""x\"y\\z\$w##{k}""#);
    }

    #[test]
    fn snippets_run_a_coalesced_quiet_reap_in_the_background() {
        let globals = vec!["--state-dir".to_string(), "/tmp/my state".to_string()];
        let tmux = tmux_snippet("/usr/bin/stray", &globals);
        for (event, _) in TMUX_EVENTS {
            assert!(tmux.contains(&format!("set-hook -g '{event}[77]' {{ run-shell -b \"")));
        }
        assert!(tmux.contains("'/tmp/my state' -q reap --coalesce 500ms --lock-wait 2m"));
        let claude: serde_json::Value =
            serde_json::from_str(&claude_snippet("/usr/bin/stray", &globals)).unwrap();
        let hook = &claude["hooks"]["SessionEnd"][0]["hooks"][0];
        assert_eq!(hook["type"], "command");
        let cmd = hook["command"].as_str().unwrap();
        assert!(
            cmd.starts_with(
                "nohup /usr/bin/stray --state-dir '/tmp/my state' -q reap --coalesce 3s"
            ),
            "{cmd}"
        );
        assert!(cmd.ends_with(" &"), "{cmd}");
    }
}
