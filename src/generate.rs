//! Generated documentation: the man pages and shell completion files, both
//! derived from the clap definitions in [`crate::cli`] so they cannot drift
//! from the real flags.
//!
//! `stray --generate DIR` (undocumented, outside clap so that it shows up in
//! neither the pages nor the completions) writes `DIR/man/*.1` and
//! `DIR/packaging/completions/*`; the committed copies are regenerated with
//! `cargo run -q -- --generate .` and a test fails when they are stale.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use roff::{bold, italic, roman, Inline, Roff};

/// The shells we ship completion files for, with their conventional file names.
pub(crate) const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "stray.bash"),
    (Shell::Zsh, "_stray"),
    (Shell::Fish, "stray.fish"),
    (Shell::Elvish, "stray.elv"),
    (Shell::PowerShell, "_stray.ps1"),
];

/// Completion script for one shell.
pub(crate) fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "stray", &mut buf);
    buf
}

/// Every man page as (file name, roff source): `stray.1`, one
/// `stray-SUB.1` per visible subcommand (`stray-config-init.1`, …), and
/// `stray.toml.5` (from the config template, see [`crate::configdoc`]).
pub(crate) fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![("stray.1".to_string(), main_page(&cmd))];
    fn subpages(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let man = man_for(sub.clone());
            let mut buf = Vec::new();
            man.render(&mut buf).expect("rendering to memory");
            let mut see = Roff::default();
            see.control("SH", ["SEE ALSO"]);
            see.text([bold("stray"), roman("(1)")]);
            buf.extend(see.render().into_bytes());
            pages.push((man.get_filename(), buf));
            subpages(sub, pages);
        }
    }
    subpages(&cmd, &mut pages);
    // The config file's page, from the `config init` template.
    pages.push((
        "stray.toml.5".to_string(),
        crate::configdoc::man_page().unwrap_or_else(|e| panic!("{e}")),
    ));
    pages
}

fn man_for(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd)
        // A fixed date keeps the pages reproducible; the version says when.
        .date("")
        .source(format!("stray {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands")
}

fn main_page(cmd: &clap::Command) -> Vec<u8> {
    let man = man_for(cmd.clone());
    let mut buf = Vec::new();
    let w: &mut dyn Write = &mut buf;
    // Sections in man-pages(7) order, with the hand-written ones in between.
    man.render_title(w).expect("memory");
    man.render_name_section(w).expect("memory");
    man.render_synopsis_section(w).expect("memory");
    man.render_description_section(w).expect("memory");
    w.write_all(description().render().as_bytes())
        .expect("memory");
    man.render_options_section(w).expect("memory");
    man.render_subcommands_section(w).expect("memory");
    w.write_all(hand_written().render().as_bytes())
        .expect("memory");
    man.render_version_section(w).expect("memory");
    buf
}

fn para(r: &mut Roff, text: impl Into<Vec<Inline>>) {
    r.control("PP", []);
    r.text(text);
}

fn item(r: &mut Roff, tag: impl Into<Vec<Inline>>, body: impl Into<Vec<Inline>>) {
    r.control("TP", []);
    r.text(tag);
    r.text(body);
}

/// Prose after clap's one-line description.
fn description() -> Roff {
    let mut r = Roff::default();
    // No hyphenation: paths and flag names must stay copy-pasteable.
    r.control("nh", []);
    para(
        &mut r,
        [roman(
            "stray finds AI coding agent processes (by default those whose kernel comm is \
             claude, claude-code or codex, or whose executable matches */claude/versions/*) \
             and gives each exactly one class:",
        )],
    );
    for (class, text) in [
        (
            "defunct",
            "a zombie whose parent is not reaping it; reported.",
        ),
        (
            "protected",
            "a multiplexer server (tmux, screen, zellij) or a descendant of one, a process on \
             a live pane's terminal, one serving a protected process over a unix socket, or \
             one matching a [protect] rule; never touched.",
        ),
        (
            "young",
            "would be reapable but is younger than min_age; left alone.",
        ),
        (
            "orphan",
            "no controlling terminal and re-parented: its first parent is gone and PID 1 of its PID \
             namespace, a reaper parent or a subreaper adopted it; reaped.",
        ),
        (
            "unmanaged",
            "on a terminal held outside every multiplexer (plain terminal, ssh, web terminal); \
             reported.",
        ),
        (
            "headless",
            "no terminal, parent alive (a script running claude -p), or started on purpose by its \
             reaper parent (a service, tini -- claude); reported.",
        ),
    ] {
        item(&mut r, [bold(class)], [roman(text)]);
    }
    para(
        &mut r,
        [
            roman(
                "A reap cycle sends SIGTERM to each reapable agent, then SIGKILL once grace has \
             passed, keyed by (pid, start time) in a state file so that a recycled pid never \
             inherits an escalation. Signals go through a pidfd after the start time is \
             checked. Every signal is logged to the audit log. Run it from a systemd timer, \
             cron or launchd every minute; see ",
            ),
            bold("stray doctor"),
            roman("."),
        ],
    );
    para(
        &mut r,
        [
            roman(
                "Each cycle also raises the oom_score_adj of the orphans it would reap (young \
             ones too) to [memory] oom_score_adj (default 1000), so the kernel's OOM killer \
             takes strays before live sessions, and, where it can read /dev/kmsg, records \
             OOM kills of agents and multiplexer processes. As root, stray watch also records \
             who sent a fatal signal to one of them (tracefs), and runs a cycle at once under \
             memory pressure (PSI). ",
            ),
            bold("stray log --deaths"),
            roman(" answers \"who killed it?\"."),
        ],
    );
    r
}

/// EXIT STATUS, FILES, ENVIRONMENT and SEE ALSO.
fn hand_written() -> Roff {
    let mut r = Roff::default();
    exit_status(&mut r);
    files(&mut r);
    environment(&mut r);
    see_also(&mut r);
    r
}

fn exit_status(r: &mut Roff) {
    r.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        (
            "0",
            "Success. pty: usage below the warning threshold. check: OK. doctor: every check \
             passed.",
        ),
        (
            "1",
            "A runtime error (the message names the file or pid). explain: no such pid. pty: \
             warning threshold reached. check: WARNING. doctor: at least one check failed.",
        ),
        (
            "2",
            "A usage error (bad flag or value). pty: critical threshold reached. check: \
             CRITICAL.",
        ),
        (
            "3",
            "check only: UNKNOWN, including bad arguments to check (Nagios convention).",
        ),
        (
            "75",
            "reap, watch: another cycle holds the lock in the state directory and it was not \
             released within --lock-wait (EX_TEMPFAIL); the message names the holder.",
        ),
    ] {
        item(r, [bold(code)], [roman(text)]);
    }
}

fn files(r: &mut Roff) {
    r.control("SH", ["FILES"]);
    item(
        r,
        [italic("$XDG_CONFIG_HOME/stray/config.toml")],
        [roman(
            "User configuration (default ~/.config/stray/config.toml), looked up after \
             --config and $STRAY_CONFIG. Write a commented template with stray config init; every key is in stray.toml(5).",
        )],
    );
    item(
        r,
        [italic("/etc/stray/config.toml")],
        [roman(
            "System configuration, used when no user configuration exists. With no file at \
             all the built-in defaults apply.",
        )],
    );
    item(
        r,
        [italic("$XDG_RUNTIME_DIR/stray/")],
        [roman(
            "State directory (state.json, lock): --state-dir, else $STRAY_STATE_DIR, else \
             $XDG_RUNTIME_DIR/stray, else /run/stray for root, else /tmp/stray-UID. Created \
             0700; a symlink, a directory owned by someone else, or one writable by group or \
             others is refused.",
        )],
    );
    item(
        r,
        [italic("$XDG_STATE_HOME/stray/audit.jsonl")],
        [roman(
            "Audit log, one JSON line per signal (default ~/.local/state/stray/audit.jsonl, \
             /var/log/stray/audit.jsonl for root, or the audit_log config key). Rotated once \
             to audit.jsonl.1 when it grows past its size cap. Read it with stray log.",
        )],
    );
}

fn environment(r: &mut Roff) {
    r.control("SH", ["ENVIRONMENT"]);
    for (var, text) in [
        ("STRAY_CONFIG", "Config file, when --config is not given."),
        (
            "STRAY_STATE_DIR",
            "State directory, when --state-dir is not given.",
        ),
        (
            "XDG_CONFIG_HOME",
            "Base of the user configuration (default ~/.config).",
        ),
        ("XDG_RUNTIME_DIR", "Base of the default state directory."),
        (
            "XDG_STATE_HOME",
            "Base of the default audit log (default ~/.local/state).",
        ),
        (
            "TMUX_TMPDIR",
            "Where tmux keeps its tmux-UID socket directories (default /tmp).",
        ),
        (
            "NO_COLOR",
            "When set to a non-empty value, no colour is used even on a terminal. Colour is \
             never used when the output is not a terminal.",
        ),
        (
            "JOURNAL_STREAM",
            "Set by systemd when stderr goes to the journal; stray then prefixes each stderr \
             line with its sd-daemon priority (<3> error, <4> warning, <5> notice for each signal sent, <6> info).",
        ),
        (
            "STRAY_NO_PIDFD",
            "When non-empty, signal with kill(2) after a start-time re-check instead of \
             through a pidfd (for testing the fallback).",
        ),
    ] {
        item(r, [bold(var)], [roman(text)]);
    }
}

fn see_also(r: &mut Roff) {
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("stray.toml"),
        roman("(5), "),
        bold("systemd.timer"),
        roman("(5), "),
        bold("crontab"),
        roman("(5), "),
        bold("tmux"),
        roman("(1), "),
        bold("kill"),
        roman("(2), "),
        bold("pidfd_open"),
        roman("(2), "),
        bold("proc"),
        roman("(5)"),
    ]);
}

/// `stray --generate DIR`.
pub(crate) fn main(args: &[std::ffi::OsString]) -> crate::exit::ExitCode {
    let [dir] = args else {
        crate::render::msg::error("usage: stray --generate DIR");
        return crate::exit::ExitCode::USAGE;
    };
    match generate(Path::new(dir)) {
        Ok(paths) => {
            println!(
                "wrote {} files under {}",
                paths.len(),
                Path::new(dir).display()
            );
            crate::exit::ExitCode::OK
        }
        Err(e) => {
            crate::render::msg::error(&format!("{e:#}"));
            crate::exit::ExitCode::FAILURE
        }
    }
}

/// Writes every generated file under `root`; returns the paths written.
pub(crate) fn generate(root: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man = root.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    for (name, text) in man_pages() {
        written.push(write(&man.join(name), &text)?);
    }
    let comp = root.join("packaging").join("completions");
    std::fs::create_dir_all(&comp).with_context(|| format!("cannot create {}", comp.display()))?;
    for (shell, name) in SHELLS {
        written.push(write(&comp.join(name), &completion(shell))?);
    }
    Ok(written)
}

fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// `stray completions SHELL`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "stray", out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_page_has_the_hand_written_sections() {
        let pages = man_pages();
        let (name, page) = &pages[0];
        assert_eq!(name, "stray.1");
        let page = String::from_utf8_lossy(page);
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            "EXIT STATUS",
            ".SH FILES",
            ".SH ENVIRONMENT",
            "JOURNAL_STREAM",
            "STRAY_NO_PIDFD",
            "75",
        ] {
            assert!(page.contains(section), "missing {section}");
        }
        // One page per visible subcommand, none for the hidden generator.
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"stray-reap.1"), "{names:?}");
        assert!(names.contains(&"stray-config-init.1"), "{names:?}");
        assert!(names.contains(&"stray.toml.5"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");
    }
}
