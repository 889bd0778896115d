//! `stray doctor`: checks what a new install needs, one line per check, and
//! says how to fix each miss. Exit 0 when every check passes, 1 otherwise.
//!
//! Doctor runs before the config is loaded for real, so that an invalid
//! config is one failed check among the others instead of the only error.
//! It changes nothing: it creates no directory and sends no signal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::core::health::plural;
use crate::exit::ExitCode;
use crate::render::table;
use crate::store::state::StateDir;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found (on success) or what is wrong (on failure).
    pub message: String,
    /// How to fix a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, message: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            message: message.into(),
            fix: None,
        }
    }

    /// An optional feature that is off here: not a failure (doctor still
    /// exits 0), but says how to turn it on.
    fn note(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What doctor looks at, resolved from the flags and the environment.
pub(crate) use crate::settings::DoctorInputs as Inputs;

pub(crate) fn doctor(inputs: &Inputs, out: &mut dyn Write) -> Result<ExitCode> {
    let checks = run_checks(inputs);
    let ok = checks.iter().all(|c| c.ok);
    if inputs.json {
        crate::cmd::print_json(out, &json!({"schema": 1, "ok": ok, "checks": checks}))?;
    } else {
        write!(out, "{}", render(&checks))?;
    }
    Ok(if ok { ExitCode::OK } else { ExitCode::FAILURE })
}

/// The human report: `ok`/`FAIL`, name, message; a `fix:` line under each
/// failure; a summary line.
pub(crate) fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        s += &format!(
            "{:<4}  {:<width$}  {}\n",
            match (c.ok, &c.fix) {
                (true, None) => "ok",
                (true, Some(_)) => "note",
                (false, _) => "FAIL",
            },
            c.name,
            table::escape(&c.message)
        );
        if let Some(fix) = &c.fix {
            s += &format!("{:<4}  {:<width$}  fix: {}\n", "", "", table::escape(fix));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    s += &if failed == 0 {
        format!("{}: all ok\n", plural(checks.len(), "check"))
    } else {
        format!(
            "{}: {} ok, {} failed\n",
            plural(checks.len(), "check"),
            checks.len() - failed,
            failed
        )
    };
    s
}

pub(crate) fn run_checks(i: &Inputs) -> Vec<Check> {
    let config = check_config(i);
    let cfg = config.1.clone().unwrap_or_default();
    vec![
        check_proc(i),
        check_visibility(i),
        check_pidfd(i),
        check_sock_diag(),
        config.0,
        check_state_dir(i),
        check_audit_dir(i, &cfg),
        check_tmux(i),
        check_schedule(i),
        check_kmsg(),
        check_tracefs(),
        check_pressure(&cfg),
    ]
}

#[cfg(target_os = "linux")]
fn check_kmsg() -> Check {
    const NAME: &str = "oom-kills";
    use crate::sys::kmsg;
    match kmsg::KmsgReader::open(Path::new(kmsg::DEV_KMSG)) {
        Ok(_) => Check::pass(
            NAME,
            format!(
                "{} is readable: OOM kills of agents are recorded",
                kmsg::DEV_KMSG
            ),
        ),
        Err(e) => Check::note(
            NAME,
            format!(
                "{}: {}: OOM kills are not recorded",
                kmsg::DEV_KMSG,
                kmsg::why_unreadable(&e)
            ),
            "run stray as root, or give it CAP_SYSLOG (systemd: AmbientCapabilities=CAP_SYSLOG)",
        ),
    }
}

#[cfg(target_os = "linux")]
fn check_tracefs() -> Check {
    const NAME: &str = "signals";
    if !nix::unistd::geteuid().is_root() {
        return Check::note(
            NAME,
            "not root: `stray watch` does not record signals from other processes",
            "run `stray watch` as root (it traces signal:signal_generate in its own tracefs instance)",
        );
    }
    match crate::sys::tracefs::find_root() {
        Some(root) => Check::pass(
            NAME,
            format!(
                "tracefs at {}: `stray watch` records signals from other processes",
                root.display()
            ),
        ),
        None => Check::note(
            NAME,
            "tracefs is not mounted: `stray watch` does not record signals from other processes",
            "mount it (stray never does): mount -t tracefs nodev /sys/kernel/tracing, or an fstab line \"tracefs /sys/kernel/tracing tracefs defaults 0 0\"",
        ),
    }
}

#[cfg(target_os = "linux")]
fn check_pressure(cfg: &Config) -> Check {
    const NAME: &str = "memory-pressure";
    use crate::sys::psi;
    let Some(trigger) = cfg.memory.pressure else {
        return Check::pass(NAME, "[memory] pressure = \"off\"");
    };
    // Registered and closed at once: a trigger lives only as long as its fd.
    match psi::PsiTrigger::register(Path::new(psi::PROC_PRESSURE_MEMORY), &trigger) {
        Ok(t) => Check::pass(
            NAME,
            format!(
                "PSI trigger accepted ({:?}): `stray watch` runs a cycle at once under memory pressure",
                t.used.kernel_string()
            ),
        ),
        Err(e) => Check::note(
            NAME,
            format!("{e}: `stray watch` runs only every interval"),
            "a kernel with CONFIG_PSI, not booted with psi=0; windows under 2s need root with CAP_SYS_RESOURCE",
        ),
    }
}

#[cfg(not(target_os = "linux"))]
fn check_kmsg() -> Check {
    Check::pass("oom-kills", "not read on this OS")
}

#[cfg(not(target_os = "linux"))]
fn check_tracefs() -> Check {
    Check::pass("signals", "not traced on this OS")
}

#[cfg(not(target_os = "linux"))]
fn check_pressure(_: &Config) -> Check {
    Check::pass("memory-pressure", "not watched on this OS")
}

fn check_proc(i: &Inputs) -> Check {
    const NAME: &str = "proc";
    let me = std::process::id() as i32;
    match crate::sys::proc::read_table(&i.proc_root) {
        Ok(t) if t.table.get(me).is_some() => {
            let hp = std::fs::read_to_string(i.proc_root.join("self/mountinfo"))
                .ok()
                .and_then(|m| crate::sys::survey::hidepid(&m));
            let mut msg = format!(
                "{} readable: {}",
                i.proc_root.display(),
                plural(t.table.len(), "process")
            );
            if let Some(why) = crate::sys::survey::hidden_ancestry(&t.table, &i.proc_root) {
                return Check::fail(
                    NAME,
                    format!("{msg}, but {why}: stray can never tell an orphan and reaps nothing"),
                    crate::sys::survey::HIDDEN_ANCESTRY_FIX,
                );
            }
            if let Some(hp) = &hp {
                msg += &format!(
                    " (mounted hidepid={hp}: other users' processes are hidden from non-root)"
                );
            }
            if !t.problems.is_empty() {
                return Check::fail(
                    NAME,
                    format!("{msg}, but {} read errors: {}", t.problems.len(), t.problems[0]),
                    "reap refuses to signal on an inconsistent table; check the named file's permissions",
                );
            }
            Check::pass(NAME, msg)
        }
        Ok(_) => Check::fail(
            NAME,
            format!("{} does not list this process", i.proc_root.display()),
            "mount procfs at /proc for this PID namespace (mount -t proc proc /proc)",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("cannot read {}: {e}", i.proc_root.display()),
            "stray needs procfs at /proc (mount -t proc proc /proc)",
        ),
    }
}

fn check_visibility(i: &Inputs) -> Check {
    const NAME: &str = "visibility";
    if !i.root {
        return Check::pass(
            NAME,
            "not root: only your own processes are candidates (run as root to cover every user)",
        );
    }
    let Ok(t) = crate::sys::proc::read_table(&i.proc_root) else {
        return Check::fail(NAME, "process table unreadable", "see the proc check above");
    };
    if t.hidden > 0 {
        return Check::fail(
            NAME,
            format!("{} of other users could not be read", plural(t.hidden, "process")),
            "run as real root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (see packaging/systemd/stray.service)",
        );
    }
    // Reading another user's fd table is what finding PTY masters and
    // sockets needs; it is guarded by ptrace checks, not by file modes alone.
    let me = nix::unistd::geteuid().as_raw();
    let other = t
        .table
        .iter()
        .find(|p| p.uid != me && !p.kernel_thread && !p.is_zombie());
    match other {
        None => Check::pass(
            NAME,
            "root; no other users' processes are running to test with",
        ),
        Some(p) => match std::fs::read_dir(i.proc_root.join(p.pid.to_string()).join("fd")) {
            Ok(_) => Check::pass(
                NAME,
                format!(
                    "root: other users' processes and their fds are readable (tried pid {})",
                    p.pid
                ),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Check::pass(NAME, "root: other users' processes are visible")
            }
            Err(e) => Check::fail(
                NAME,
                format!("cannot read {}/{}/fd: {e}", i.proc_root.display(), p.pid),
                "grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (without them stray protects what it cannot see)",
            ),
        },
    }
}

#[cfg(target_os = "linux")]
fn check_pidfd(i: &Inputs) -> Check {
    const NAME: &str = "pidfd";
    let disabled = i.env.no_pidfd;
    if !crate::sys::signal::LiveSignaller::pidfd_supported() {
        return Check::fail(
            NAME,
            "pidfd_open(2) is not available (kernel before 5.3, or filtered by seccomp)",
            "upgrade to Linux 5.3 or later; until then stray signals with kill(2) after re-checking the start time",
        );
    }
    if disabled {
        return Check::fail(
            NAME,
            "supported, but disabled by STRAY_NO_PIDFD",
            "unset STRAY_NO_PIDFD (a switch for tests)",
        );
    }
    Check::pass(
        NAME,
        "pidfd_open works: signals cannot land on a recycled pid",
    )
}

#[cfg(not(target_os = "linux"))]
fn check_pidfd(_i: &Inputs) -> Check {
    Check::pass(
        "pidfd",
        "no pidfds on this OS: kill(2) after a start-time re-check",
    )
}

#[cfg(target_os = "linux")]
fn check_sock_diag() -> Check {
    const NAME: &str = "sock-diag";
    match crate::sys::unix_diag::unix_peers() {
        Ok(sockets) => Check::pass(
            NAME,
            format!(
                "NETLINK_SOCK_DIAG answers: {} connected unix sockets",
                sockets.peers.len()
            ),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("unix_diag unavailable: {e}"),
            "modprobe unix_diag (CONFIG_UNIX_DIAG); without it socket clients cannot protect a shared daemon, so such daemons are protected as unknown",
        ),
    }
}

#[cfg(not(target_os = "linux"))]
fn check_sock_diag() -> Check {
    Check::pass("sock-diag", "not used on this OS")
}

fn check_config(i: &Inputs) -> (Check, Option<Config>) {
    const NAME: &str = "config";
    match i.env.config_file(i.explicit_config.as_deref()) {
        None => (
            Check::pass(
                NAME,
                "no config file: built-in defaults (write one with `stray config init`)",
            ),
            Some(Config::default()),
        ),
        Some(path) => match Config::load(&path) {
            Ok(c) => (
                Check::pass(NAME, format!("{} is valid", path.display())),
                Some(c),
            ),
            Err(e) => (
                Check::fail(
                    NAME,
                    format!("{e:#}"),
                    format!(
                        "edit {} (compare with `stray config init -`), or move it aside to use the defaults",
                        path.display()
                    ),
                ),
                None,
            ),
        },
    }
}

fn check_state_dir(i: &Inputs) -> Check {
    const NAME: &str = "state-dir";
    let dir = &i.state_dir;
    match StateDir::open(dir) {
        Ok(Some(_)) => Check::pass(NAME, format!("{} is private and ours", dir.display())),
        Ok(None) => match nearest_existing(dir) {
            Some(parent) if writable(&parent) => Check::pass(
                NAME,
                format!("{} will be created (0700) by the first reap", dir.display()),
            ),
            Some(parent) => Check::fail(
                NAME,
                format!(
                    "{} does not exist and {} is not writable",
                    dir.display(),
                    parent.display()
                ),
                "choose a writable place with --state-dir or STRAY_STATE_DIR",
            ),
            None => Check::fail(
                NAME,
                format!("{} cannot be created", dir.display()),
                "choose a writable place with --state-dir or STRAY_STATE_DIR",
            ),
        },
        Err(e) => {
            let msg = format!("{e:#}");
            let fix = if msg.contains("writable by group or others") {
                format!("chmod 700 {}", dir.display())
            } else if msg.contains("symlink") || msg.contains("owned by") {
                format!(
                    "remove {} (stray recreates it), or pick another with --state-dir",
                    dir.display()
                )
            } else {
                "pick another state dir with --state-dir or STRAY_STATE_DIR".to_string()
            };
            Check::fail(NAME, msg, fix)
        }
    }
}

fn check_audit_dir(i: &Inputs, cfg: &Config) -> Check {
    const NAME: &str = "audit-log";
    let path = i
        .env
        .audit_log(cfg.audit_log.as_deref(), crate::settings::euid());
    let Some(dir) = path.parent().map(Path::to_path_buf) else {
        return Check::fail(
            NAME,
            format!("{} has no directory", path.display()),
            "set audit_log to a file path",
        );
    };
    if path.exists() {
        return if writable(&path) {
            Check::pass(NAME, format!("{} is writable", path.display()))
        } else {
            Check::fail(
                NAME,
                format!("{} is not writable", path.display()),
                "fix its owner/mode, or set audit_log in the config",
            )
        };
    }
    match nearest_existing(&dir) {
        Some(d) if writable(&d) => Check::pass(
            NAME,
            format!("{} will be created by the first signal", path.display()),
        ),
        Some(d) => Check::fail(
            NAME,
            format!(
                "{} cannot be created: {} is not writable",
                path.display(),
                d.display()
            ),
            format!(
                "mkdir -p {} with write access for this user, or set audit_log in the config",
                dir.display()
            ),
        ),
        None => Check::fail(
            NAME,
            format!("{} cannot be created", path.display()),
            "set audit_log in the config",
        ),
    }
}

/// The first `tmux` on `path_var` (a `$PATH` value).
pub(crate) fn find_on_path(name: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path_var)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn check_tmux(i: &Inputs) -> Check {
    const NAME: &str = "tmux";
    let path = i.env.path.clone().unwrap_or_default();
    let Some(bin) = find_on_path("tmux", &path) else {
        return Check::fail(
            NAME,
            "tmux not found on PATH",
            "install tmux (apt install tmux / brew install tmux) and make sure the scheduled job's PATH has it; pane names and `stray tmux` need it (protection does not)",
        );
    };
    let tmpdir = i.env.tmux_tmpdir();
    if !tmpdir.is_dir() {
        return Check::fail(
            NAME,
            format!(
                "{} found, but its socket dir {} (TMUX_TMPDIR) does not exist",
                bin.display(),
                tmpdir.display()
            ),
            "unset TMUX_TMPDIR or create the directory",
        );
    }
    let uid = nix::unistd::geteuid().as_raw();
    let own = tmpdir.join(format!("tmux-{uid}"));
    let sockets = std::fs::read_dir(&own).map(|d| d.count()).ok();
    Check::pass(
        NAME,
        format!(
            "{}; sockets in {}{}",
            bin.display(),
            tmpdir.display(),
            match sockets {
                Some(n) => format!(" ({} has {n})", own.display()),
                None => format!(" ({} not created yet)", own.display()),
            }
        ),
    )
}

/// Runs a command with a time bound; its stdout when it exited at all.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Option<(bool, String)> {
    crate::sys::bounded::Bounded::spawn(&mut cmd)?.finish(timeout)
}

/// Which schedules run stray, from what the tools report. Pure.
pub(crate) fn schedules(
    system_timer: Option<&str>,
    user_timer: Option<&str>,
    crontabs: &[(String, String)],
) -> Vec<String> {
    let mut found = Vec::new();
    let enabled = |s: Option<&str>| s.is_some_and(|s| matches!(s.trim(), "enabled" | "static"));
    if enabled(system_timer) {
        found.push("systemd timer stray.timer".to_string());
    }
    if enabled(user_timer) {
        found.push("user systemd timer stray.timer".to_string());
    }
    for (source, text) in crontabs {
        let runs = text.lines().any(|l| {
            let l = l.trim();
            !l.starts_with('#') && l.contains("stray") && l.contains("reap")
        });
        if runs {
            found.push(format!("cron ({source})"));
        }
    }
    found
}

fn check_schedule(i: &Inputs) -> Check {
    const NAME: &str = "schedule";
    let t = Duration::from_secs(3);
    let systemctl = |user: bool| {
        let mut c = Command::new("systemctl");
        if user {
            c.arg("--user");
        }
        c.args(["is-enabled", "stray.timer"]);
        run_bounded(c, t).map(|(_, out)| out)
    };
    let system_timer = systemctl(false);
    let user_timer = if i.root { None } else { systemctl(true) };
    let mut crontabs = Vec::new();
    if let Some((true, text)) = run_bounded(
        {
            let mut c = Command::new("crontab");
            c.arg("-l");
            c
        },
        t,
    ) {
        crontabs.push(("crontab -l".to_string(), text));
    }
    for dir in ["/etc/cron.d", "/etc/crontab"] {
        let files: Vec<PathBuf> = if Path::new(dir).is_dir() {
            std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        } else {
            vec![PathBuf::from(dir)]
        };
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                crontabs.push((f.display().to_string(), text));
            }
        }
    }
    #[cfg(target_os = "macos")]
    {
        let home = i.env.home.clone().unwrap_or_default();
        for p in [
            home.join("Library/LaunchAgents/com.github.stray.reap.plist"),
            PathBuf::from("/Library/LaunchDaemons/com.github.stray.reap.plist"),
        ] {
            if p.is_file() {
                crontabs.push((p.display().to_string(), "stray reap".into()));
            }
        }
    }
    let found = schedules(system_timer.as_deref(), user_timer.as_deref(), &crontabs);
    let last = last_run(&i.state_dir);
    if found.is_empty() {
        return Check::fail(
            NAME,
            format!("no timer, cron or launchd entry runs `stray reap`; {last}"),
            if i.root {
                "systemctl enable --now stray.timer (packaging/systemd/), or install packaging/cron/stray as /etc/cron.d/stray"
            } else {
                "systemctl --user enable --now stray.timer (packaging/systemd/user/), or add `* * * * * stray -q reap` to crontab -e"
            },
        );
    }
    Check::pass(NAME, format!("{}; {last}", found.join(", ")))
}

/// When a reap cycle last ran, from the mtime of the lock file every cycle
/// rewrites.
fn last_run(state_dir: &Path) -> String {
    let lock = state_dir.join(crate::store::state::LOCK_FILE);
    match std::fs::metadata(&lock).and_then(|m| m.modified()) {
        Ok(t) => match SystemTime::now().duration_since(t) {
            Ok(ago) => format!(
                "last cycle {} ago (by this user's state dir)",
                table::age(ago.as_secs_f64())
            ),
            Err(_) => "last cycle just now".to_string(),
        },
        Err(_) => format!(
            "no cycle has run yet with state dir {}",
            state_dir.display()
        ),
    }
}

fn nearest_existing(p: &Path) -> Option<PathBuf> {
    p.ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
        .map(Path::to_path_buf)
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidepid_from_mountinfo() {
        use crate::sys::survey::hidepid;
        let plain = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
        assert_eq!(hidepid(plain), None);
        let hidden =
            "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw,hidepid=invisible,gid=4\n";
        assert_eq!(hidepid(hidden).as_deref(), Some("invisible"));
        let zero = "22 1 0:21 / /proc rw - proc proc rw,hidepid=0\n";
        assert_eq!(hidepid(zero), None);
        // Another procfs mounted elsewhere does not count.
        let other = "40 22 0:50 / /mnt/p rw - proc proc rw,hidepid=2\n";
        assert_eq!(hidepid(other), None);
        // A procfs mounted over /proc (unshare -m; mount -t proc): the last
        // one is the one seen.
        let stacked = format!("{plain}66 22 0:40 / /proc rw - proc proc rw,hidepid=invisible\n");
        assert_eq!(hidepid(&stacked).as_deref(), Some("invisible"));
        let unstacked = format!("{hidden}{plain}");
        assert_eq!(hidepid(&unstacked), None);
    }

    #[test]
    fn schedules_found_from_tool_answers() {
        assert!(schedules(Some("disabled\n"), Some("not-found\n"), &[]).is_empty());
        assert_eq!(
            schedules(Some("enabled\n"), None, &[]),
            vec!["systemd timer stray.timer"]
        );
        let cron = vec![
            ("a".to_string(), "# * * * * * stray reap\n".to_string()),
            (
                "b".to_string(),
                "* * * * * root stray -q reap\n".to_string(),
            ),
        ];
        assert_eq!(schedules(None, None, &cron), vec!["cron (b)"]);
    }

    #[test]
    fn render_marks_failures_with_a_fix() {
        let text = render(&[
            Check::pass("proc", "fine"),
            Check::fail("state-dir", "mode 775", "chmod 700 /x"),
        ]);
        assert!(text.contains("ok    proc       fine"), "{text}");
        assert!(text.contains("FAIL  state-dir  mode 775"), "{text}");
        assert!(text.contains("fix: chmod 700 /x"), "{text}");
        assert!(text.ends_with("2 checks: 1 ok, 1 failed\n"), "{text}");
    }

    #[test]
    fn path_lookup() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(find_on_path("tmux", d.path().as_os_str()), None);
        let bin = d.path().join("tmux");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        // Not executable: not found.
        assert_eq!(find_on_path("tmux", d.path().as_os_str()), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("tmux", d.path().as_os_str()), Some(bin));
    }
}
