//! What ships beside the binary: generated man pages and completions (up to
//! date, clean), systemd units (verified by systemd-analyze), the launchd
//! plist, the cron line and the Debian package metadata.
//!
//! Tests that need an external tool (groff, systemd-analyze, python3, zsh,
//! fish) skip with `common::skip` when it is missing: visibly, and never in
//! CI, which installs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::skip;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

fn files_in(dir: &Path, ext: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_file())
        .filter(|e| ext.is_none_or(|x| e.path().extension().is_some_and(|y| y == x)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const REGENERATE: &str = "cargo run -q -- --generate .";

#[test]
fn generated_docs_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    common::output_ok(
        Command::new(env!("CARGO_BIN_EXE_stray"))
            .arg("--generate")
            .arg(tmp.path()),
    );
    for sub in ["man", "packaging/completions"] {
        let fresh = files_in(&tmp.path().join(sub), None);
        let committed = files_in(&repo().join(sub), None);
        assert!(!fresh.is_empty());
        assert_eq!(
            fresh, committed,
            "{sub}/ has stale or missing files; run `{REGENERATE}`"
        );
        for name in fresh {
            let a = std::fs::read(tmp.path().join(sub).join(&name)).unwrap();
            let b = std::fs::read(repo().join(sub).join(&name)).unwrap();
            assert!(a == b, "{sub}/{name} is out of date; run `{REGENERATE}`");
        }
    }
}

#[test]
fn man_pages_render_without_warnings() {
    if !have("groff") {
        skip("groff not installed");
        return;
    }
    let mut pages = files_in(&repo().join("man"), Some("1"));
    pages.extend(files_in(&repo().join("man"), Some("5")));
    assert!(pages.contains(&"stray.1".to_string()), "{pages:?}");
    assert!(pages.contains(&"stray.toml.5".to_string()), "{pages:?}");
    for page in pages {
        let path = repo().join("man").join(&page);
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "groff failed on {page}");
        assert!(
            out.stderr.is_empty(),
            "groff warnings for {page}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = strip_overstrike(&String::from_utf8_lossy(&out.stdout));
        assert!(text.contains("SYNOPSIS"), "{page} has no SYNOPSIS");
        if page == "stray.toml.5" {
            // Every key of the `config init` template, with its type and example.
            for key in ["min_age", "reaper_parents", "names", "rss_crit", "ports"] {
                assert!(text.contains(key), "stray.toml.5 lacks {key}");
            }
            for field in ["Type:", "Default:", "Example:"] {
                assert!(text.contains(field), "stray.toml.5 lacks {field}");
            }
        }
        if page == "stray.1" {
            for section in ["EXIT STATUS", "FILES", "ENVIRONMENT", "NO_COLOR"] {
                assert!(text.contains(section), "stray.1 lacks {section}");
            }
        }
    }
}

/// grotty marks bold and underline as `X\bX` / `_\bX` on a non-terminal.
fn strip_overstrike(s: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    // "X\bX" leaves the second X; "_\bX" leaves X.
    out.into_iter().collect()
}

#[test]
fn completions_cover_every_subcommand() {
    let dir = repo().join("packaging/completions");
    let subcommands = [
        "scan",
        "explain",
        "reap",
        "log",
        "pty",
        "tmux",
        "check",
        "sockets",
        "watch",
        "config",
        "doctor",
        "completions",
        "hooks",
    ];
    for file in [
        "stray.bash",
        "_stray",
        "stray.fish",
        "stray.elv",
        "_stray.ps1",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(!text.trim().is_empty(), "{file} is empty");
        for sub in subcommands {
            assert!(text.contains(sub), "{file} does not mention {sub}");
        }
        assert!(text.contains("dry-run"), "{file} lacks reap's flags");
    }
    // And `stray completions SHELL` prints the same thing.
    for (shell, file) in [
        ("bash", "stray.bash"),
        ("zsh", "_stray"),
        ("fish", "stray.fish"),
        ("elvish", "stray.elv"),
        ("powershell", "_stray.ps1"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stray"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "completions {shell}");
        assert!(
            out.stdout == std::fs::read(dir.join(file)).unwrap(),
            "completions {shell} differs from {file}"
        );
    }
    // The scripts at least parse, where the shell is here to say so.
    for (shell, flag, file) in [
        ("bash", "-n", "stray.bash"),
        ("zsh", "-n", "_stray"),
        ("fish", "--no-execute", "stray.fish"),
    ] {
        if !have(shell) {
            skip(&format!("{shell} not installed, {file} not syntax-checked"));
            continue;
        }
        let out = Command::new(shell)
            .arg(flag)
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} {flag} {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Copies the units into a temp dir with ExecStart pointing at the built
/// binary (verify checks that the executable exists) and runs
/// `systemd-analyze verify`, with MANPATH holding our pages so that the
/// `Documentation=man:` references are checked too.
fn verify_units(subdir: &str, user: bool) {
    if !have("systemd-analyze") {
        skip("systemd-analyze not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let units = tmp.path().join("units");
    let man1 = tmp.path().join("man/man1");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&man1).unwrap();
    for page in files_in(&repo().join("man"), Some("1")) {
        std::fs::copy(repo().join("man").join(&page), man1.join(&page)).unwrap();
    }
    let src = repo().join(subdir);
    let mut paths = Vec::new();
    for name in ["stray.service", "stray.timer"] {
        let text = std::fs::read_to_string(src.join(name)).unwrap();
        assert!(
            !name.ends_with(".service") || text.contains("ExecStart=/usr/bin/stray reap"),
            "{subdir}/{name}: ExecStart is not `stray reap`"
        );
        let text = text.replace("/usr/bin/stray", env!("CARGO_BIN_EXE_stray"));
        std::fs::write(units.join(name), text).unwrap();
        paths.push(units.join(name));
    }
    let runtime = tmp.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut c = Command::new("systemd-analyze");
    if user {
        c.arg("--user");
    }
    let out = c
        .arg("verify")
        .args(&paths)
        .env("MANPATH", tmp.path().join("man"))
        // `--user` needs a runtime dir to resolve RuntimeDirectory=.
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // Unknown keys are only warnings (exit 0): any output is a failure.
    assert!(
        stderr.trim().is_empty() && out.stdout.is_empty(),
        "systemd-analyze verify complained about {subdir}:\n{stderr}"
    );
}

#[test]
fn system_units_verify() {
    verify_units("packaging/systemd", false);
    let service = std::fs::read_to_string(repo().join("packaging/systemd/stray.service")).unwrap();
    for line in [
        "Type=oneshot",
        "RuntimeDirectory=stray",
        "RuntimeDirectoryMode=0700",
        "RuntimeDirectoryPreserve=yes",
        "LogsDirectory=stray",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "PrivateTmp=no",
    ] {
        assert!(
            service.lines().any(|l| l.trim() == line),
            "stray.service lacks {line}"
        );
    }
    let timer = std::fs::read_to_string(repo().join("packaging/systemd/stray.timer")).unwrap();
    assert!(timer.contains("Persistent=true"));
}

#[test]
fn user_units_verify() {
    verify_units("packaging/systemd/user", true);
}

#[test]
fn launchd_plist_parses() {
    let path = repo().join("packaging/launchd/com.github.stray.reap.plist");
    let (tool, args): (&str, Vec<String>) = if have("plutil") {
        ("plutil", vec!["-lint".into(), path.display().to_string()])
    } else if have("python3") {
        (
            "python3",
            vec![
                "-c".into(),
                "import plistlib, sys\n\
                 p = plistlib.load(open(sys.argv[1], 'rb'))\n\
                 assert p['Label'] == 'com.github.stray.reap', p\n\
                 assert p['ProgramArguments'][1:] == ['reap'], p\n\
                 assert p['ProgramArguments'][0].endswith('/stray'), p\n\
                 assert p['StartInterval'] == 60, p\n\
                 print('ok')"
                    .into(),
                path.display().to_string(),
            ],
        )
    } else {
        skip("neither plutil nor python3 installed");
        return;
    };
    let out = Command::new(tool).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cron_example_runs_reap_every_minute() {
    let text = std::fs::read_to_string(repo().join("packaging/cron/stray")).unwrap();
    let jobs: Vec<Vec<&str>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains('='))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    // /etc/cron.d format: five time fields, the user, the command.
    assert_eq!(&job[..5], ["*", "*", "*", "*", "*"]);
    assert_eq!(job[5], "root");
    assert_eq!(job[6], "stray");
    assert_eq!(job.last(), Some(&"reap"));
}

#[test]
fn deb_metadata_ships_what_exists() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().expect("deb assets");
    let mut targets = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let (src, dst) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        targets.push(dst.to_string());
        if src.starts_with("target/") {
            continue; // built by `cargo deb`
        }
        let found = if src.contains('*') {
            glob::glob(&repo().join(src).display().to_string())
                .unwrap()
                .count()
        } else {
            usize::from(repo().join(src).is_file())
        };
        assert!(found > 0, "deb asset {src} does not exist");
    }
    for want in [
        "usr/bin/",
        "etc/stray/config.toml",
        "usr/share/man/man1/",
        "usr/share/man/man5/",
        "lib/systemd/system/stray.timer",
        "usr/lib/systemd/user/stray.timer",
        "usr/share/bash-completion/completions/stray",
    ] {
        assert!(targets.iter().any(|t| t == want), "deb lacks {want}");
    }
    // The shipped /etc/stray/config.toml is the `stray config init` template.
    let config = assets
        .iter()
        .find(|a| a[1].as_str() == Some("etc/stray/config.toml"))
        .unwrap();
    let shipped = std::fs::read_to_string(repo().join(config[0].as_str().unwrap())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stray"))
        .args(["config", "init", "-"])
        .env_remove("STRAY_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), shipped);
}
