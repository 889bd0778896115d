//! `stray.toml(5)`: every config key with its default, its type, an example
//! and what it does, rendered from the same source as `stray config init`.
//!
//! The text and the defaults are read from the template itself
//! ([`crate::config::TEMPLATE`], `src/config.toml`): a comment block right
//! above a key (and a comment after it on its line) documents that key; a
//! comment block right after a `[table]` header and followed by a blank line
//! introduces the table; the file's first block describes the whole file.
//! Only the type and an example per key live here, in [`KEYS`]. Tests keep
//! the three in step: every key in the template is in [`KEYS`] and in
//! `Config::to_toml`, every example parses, and the committed page is
//! regenerated from the template (`tests/packaging.rs`).

use roff::{bold, roman, Inline, Roff};

/// Type and example for each key, by dotted name. The example is a value
/// (TOML) other than the default.
pub const KEYS: &[(&str, &str, &str)] = &[
    ("min_age", "duration", r#""2m""#),
    ("grace", "duration", r#""30s""#),
    (
        "reaper_parents",
        "array of strings (kernel comm names)",
        r#"["systemd", "init", "tini", "dumb-init", "s6-svscan"]"#,
    ),
    (
        "audit_log",
        "string (a path)",
        r#""/var/log/stray/audit.jsonl""#,
    ),
    (
        "match.names",
        "array of strings (1 to 15 bytes each)",
        r#"["claude", "codex", "aider"]"#,
    ),
    (
        "match.exe",
        "array of strings (glob patterns)",
        r#"["*/claude/versions/*", "/opt/agents/*"]"#,
    ),
    (
        "match.cmdline",
        "array of strings (regular expressions)",
        r#"["^node .*/bin/gemini( |$)"]"#,
    ),
    (
        "match.env",
        "array of strings (KEY=VALUE)",
        r#"["CLAUDECODE=1"]"#,
    ),
    (
        "policy.orphan",
        r#"string: "reap", "report" or "ignore""#,
        r#""report""#,
    ),
    (
        "policy.leftover",
        r#"string: "reap", "report" or "ignore""#,
        r#""report""#,
    ),
    (
        "policy.unmanaged",
        r#"string: "reap", "report" or "ignore""#,
        r#""reap""#,
    ),
    (
        "policy.headless",
        r#"string: "reap", "report" or "ignore""#,
        r#""ignore""#,
    ),
    (
        "policy.defunct",
        r#"string: "report" or "ignore""#,
        r#""ignore""#,
    ),
    (
        "protect.multiplexers",
        "array of strings (kernel comm names)",
        r#"["tmux", "screen", "zellij", "dtach"]"#,
    ),
    (
        "protect.names",
        "array of strings (kernel comm names)",
        r#"["claude-daemon"]"#,
    ),
    ("protect.pids", "array of integers", "[4242]"),
    (
        "protect.env",
        "array of strings (NAME=VALUE, or NAME for any value)",
        r#"["STRAY_KEEP=1", "KEEP_ME"]"#,
    ),
    (
        "family.env",
        "array of strings (NAME, NAME=<pid>, NAME=VALUE or NAME=*)",
        r#"["CLAUDE_CODE_SESSION_ID", "CLAUDE_PID=<pid>"]"#,
    ),
    ("pty.warn", "integer, 0 to 100 (percent)", "60"),
    ("pty.crit", "integer, 0 to 100 (percent)", "95"),
    (
        "check.rss_warn",
        r#"string (a size: "4GiB", "512MiB", bytes)"#,
        r#""6GiB""#,
    ),
    (
        "check.rss_crit",
        r#"string (a size: "4GiB", "512MiB", bytes)"#,
        r#""12GiB""#,
    ),
    (
        "check.family_rss_warn",
        r#"string (a size: "4GiB", "512MiB", bytes)"#,
        r#""4GiB""#,
    ),
    (
        "check.family_rss_crit",
        r#"string (a size: "4GiB", "512MiB", bytes)"#,
        r#""32GiB""#,
    ),
    ("check.family_processes_warn", "integer", "100"),
    ("check.family_processes_crit", "integer", "2000"),
    ("memory.oom_score_adj", "integer, 0 to 1000 (0: off)", "500"),
    (
        "memory.pressure",
        r#"string: "some|full THRESHOLD WINDOW", or "off""#,
        r#""full 20% 2s""#,
    ),
    ("memory.pressure_min_age", "duration", r#""30s""#),
    ("check.oom_window", "duration", r#""6h""#),
    ("sockets.stall", "duration", r#""2m""#),
    (
        "sockets.ports",
        "array of integers (ports, 1 to 65535)",
        "[3000, 8080]",
    ),
    ("watch.full_every", "duration", r#""5m""#),
];

/// One key as the template documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Dotted name: `min_age`, `pty.warn`.
    pub name: String,
    /// The value's TOML text in the template: the default.
    pub default: String,
    /// Commented out in the template (no default value: unset).
    pub unset: bool,
    pub doc: String,
}

/// A table (`None`: the top level) with its introduction and keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub name: Option<String>,
    pub intro: String,
    pub keys: Vec<Key>,
}

/// The template's structure; an error names the line that does not fit
/// the layout described in the module doc.
pub fn parse(template: &str) -> Result<Vec<Table>, String> {
    let mut tables = vec![Table::default()];
    let mut pending: Vec<String> = Vec::new();
    // The comment block may still be the current table's introduction.
    let mut may_intro = true;
    for (n, raw) in template.lines().enumerate() {
        let line = raw.trim();
        let err = |why: &str| format!("src/config.toml line {}: {why}: {raw:?}", n + 1);
        let table = tables.last_mut().expect("never empty");
        if line.is_empty() {
            if !pending.is_empty() {
                if may_intro && table.keys.is_empty() && table.intro.is_empty() {
                    table.intro = pending.join(" ");
                    pending.clear();
                } else {
                    return Err(err("a comment block that documents no key"));
                }
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if !pending.is_empty() {
                return Err(err("a comment block right above a table"));
            }
            tables.push(Table {
                name: Some(name.to_string()),
                ..Default::default()
            });
            may_intro = true;
            continue;
        }
        let (text, commented) = match line.strip_prefix('#') {
            Some(c) => (c.trim(), true),
            None => (line, false),
        };
        match assignment(text) {
            Some((key, value, inline)) if !commented || is_key_name(key) => {
                let mut doc = pending.join(" ");
                if let Some(inline) = inline {
                    if !doc.is_empty() {
                        doc.push(' ');
                    }
                    doc.push_str(inline);
                }
                let name = match &table.name {
                    Some(t) => format!("{t}.{key}"),
                    None => key.to_string(),
                };
                table.keys.push(Key {
                    name,
                    default: value.to_string(),
                    unset: commented,
                    doc,
                });
                pending.clear();
                may_intro = false;
            }
            _ if commented => pending.push(text.to_string()),
            _ => return Err(err("neither a comment, a table nor `key = value`")),
        }
    }
    if !pending.is_empty() {
        return Err("src/config.toml: a comment block at the end documents no key".into());
    }
    Ok(tables)
}

fn is_key_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `key = value  # comment` → (key, value, comment). The comment starts at
/// the first `#` outside a string.
fn assignment(line: &str) -> Option<(&str, &str, Option<&str>)> {
    let (key, rest) = line.split_once('=')?;
    let key = key.trim();
    if !is_key_name(key) {
        return None;
    }
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut cut = rest.len();
    for (i, c) in rest.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => {
                cut = i;
                break;
            }
            None => {}
        }
    }
    let value = rest[..cut].trim();
    let comment = rest[cut..].strip_prefix('#').map(str::trim);
    (!value.is_empty()).then_some((key, value, comment))
}

/// Type and example of a key, from [`KEYS`].
pub fn type_and_example(name: &str) -> Option<(&'static str, &'static str)> {
    KEYS.iter()
        .find(|(k, _, _)| *k == name)
        .map(|&(_, t, e)| (t, e))
}

/// Text with `code` spans in bold. The few non-ASCII signs the template
/// uses are spelled in ASCII: groff rejects raw UTF-8 in a man page.
fn inline(text: &str) -> Vec<Inline> {
    let text = text
        .replace('≤', "<=")
        .replace('≥', ">=")
        .replace(['–', '—'], "-")
        .replace('…', "...");
    text.split('`')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| if i % 2 == 1 { bold(s) } else { roman(s) })
        .collect()
}

/// The roff source of `stray.toml.5`.
pub fn man_page() -> Result<Vec<u8>, String> {
    let tables = parse(crate::config::TEMPLATE)?;
    let mut r = Roff::default();
    r.control(
        "TH",
        [
            "stray.toml",
            "5",
            "",
            &format!("stray {}", env!("CARGO_PKG_VERSION")),
            "File Formats",
        ],
    );
    r.control("nh", []);
    r.control("SH", ["NAME"]);
    r.text([roman("stray.toml - configuration file of stray")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        roman("$XDG_CONFIG_HOME/stray/config.toml, /etc/stray/config.toml, or the file named by "),
        bold("--config"),
        roman(" or "),
        bold("$STRAY_CONFIG"),
    ]);
    r.control("SH", ["DESCRIPTION"]);
    r.text(inline(&tables[0].intro));
    r.control("PP", []);
    r.text([
        roman("The file is TOML. "),
        bold("stray config init"),
        roman(
            " writes it with every key at its default, commented, and this page is generated \
             from that same template. ",
        ),
        bold("stray config show"),
        roman(" prints the configuration in effect and the file it came from."),
    ]);
    for table in &tables {
        let heading = match &table.name {
            Some(n) => format!("[{n}]"),
            None => "TOP-LEVEL KEYS".to_string(),
        };
        r.control("SH", [heading.as_str()]);
        if table.name.is_some() && !table.intro.is_empty() {
            r.text(inline(&table.intro));
        }
        for key in &table.keys {
            let short = key.name.rsplit('.').next().unwrap_or(&key.name);
            let (ty, example) = type_and_example(&key.name)
                .ok_or_else(|| format!("key `{}` has no type in configdoc::KEYS", key.name))?;
            r.control("TP", []);
            r.text([bold(short)]);
            r.text(inline(&key.doc));
            r.control("br", []);
            r.text([roman(format!("Type: {ty}."))]);
            r.control("br", []);
            let default = if key.unset {
                "unset".to_string()
            } else {
                key.default.clone()
            };
            r.text([roman(format!("Default: {default}"))]);
            r.control("br", []);
            r.text([roman(format!("Example: {short} = {example}"))]);
        }
    }
    r.control("SH", ["EXAMPLE"]);
    r.text([roman(
        "Reap orphans after two minutes, leave headless agents alone entirely, and \
         also match a wrapper script by its command line:",
    )]);
    r.control("PP", []);
    r.control("nf", []);
    r.control("RS", ["4"]);
    for line in [
        "min_age = \"2m\"",
        "",
        "[match]",
        "cmdline = [\"^node .*/bin/gemini( |$)\"]",
        "",
        "[policy]",
        "headless = \"ignore\"",
    ] {
        r.text([roman(line)]);
    }
    r.control("RE", []);
    r.control("fi", []);
    r.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "$XDG_CONFIG_HOME/stray/config.toml",
            "User configuration (default ~/.config/stray/config.toml).",
        ),
        (
            "/etc/stray/config.toml",
            "System configuration, used when no user configuration exists.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(path)]);
        r.text([roman(what)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("stray"),
        roman("(1), "),
        bold("stray-config"),
        roman("(1), "),
        bold("glob"),
        roman("(7)"),
    ]);
    Ok(r.render().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, TEMPLATE};
    use std::collections::BTreeSet;
    use std::path::Path;

    fn template_keys() -> Vec<Key> {
        parse(TEMPLATE)
            .unwrap()
            .into_iter()
            .flat_map(|t| t.keys)
            .collect()
    }

    /// Dotted names of every key in a TOML document.
    fn dotted(value: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
        if let toml::Value::Table(t) = value {
            for (k, v) in t {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    dotted(v, &name, out);
                } else {
                    out.insert(name);
                }
            }
        }
    }

    #[test]
    fn every_template_key_is_documented_typed_and_known_to_the_parser() {
        let keys = template_keys();
        let in_template: BTreeSet<String> = keys.iter().map(|k| k.name.clone()).collect();
        for k in &keys {
            assert!(!k.doc.trim().is_empty(), "key `{}` has no comment", k.name);
        }
        let typed: BTreeSet<String> = KEYS.iter().map(|(k, _, _)| k.to_string()).collect();
        assert_eq!(in_template, typed, "template keys vs configdoc::KEYS");
        // Every key `config show` prints (audit_log only once set) is in the
        // template, and every template key is one the parser knows.
        let cfg = Config::parse("audit_log = \"/x\"", Path::new("t.toml")).unwrap();
        let shown: toml::Value = toml::from_str(&cfg.to_toml()).unwrap();
        let mut known = BTreeSet::new();
        dotted(&shown, "", &mut known);
        assert_eq!(in_template, known, "template keys vs Config::to_toml");
    }

    #[test]
    fn every_example_parses_and_differs_from_the_default() {
        let defaults = Config::default().to_toml();
        for (name, _, example) in KEYS {
            let text = match name.split_once('.') {
                Some((table, key)) => format!("[{table}]\n{key} = {example}\n"),
                None => format!("{name} = {example}\n"),
            };
            let cfg = Config::parse(&text, Path::new("example.toml"))
                .unwrap_or_else(|e| panic!("example for `{name}` does not parse: {e:#}"));
            assert_ne!(
                cfg.to_toml().lines().skip(1).collect::<Vec<_>>(),
                defaults.lines().skip(1).collect::<Vec<_>>(),
                "example for `{name}` is the default"
            );
        }
    }

    #[test]
    fn commented_keys_are_unset_and_values_are_the_defaults() {
        let keys = template_keys();
        let audit = keys.iter().find(|k| k.name == "audit_log").unwrap();
        assert!(audit.unset);
        let min_age = keys.iter().find(|k| k.name == "min_age").unwrap();
        assert_eq!(min_age.default, "\"60s\"");
        assert!(min_age.doc.contains("young"), "{min_age:?}");
        let names = keys.iter().find(|k| k.name == "match.names").unwrap();
        assert!(names.doc.contains("exact kernel comm"), "{names:?}");
    }

    #[test]
    fn layout_errors_name_the_line() {
        let err = parse("a = 1\n# stray comment\n\nb = 2\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        let err = parse("this is not toml\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert_eq!(
            assignment(r#"x = "a # b"  # c"#),
            Some(("x", r#""a # b""#, Some("c")))
        );
    }

    #[test]
    fn page_lists_every_key() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        for (name, ty, _) in KEYS {
            let short = name.rsplit('.').next().unwrap();
            assert!(page.contains(&format!("\\fB{short}\\fR")), "{name}");
            assert!(
                page.contains(&format!("Type: {}", ty.replace('-', "\\-"))),
                "{name}"
            );
        }
        assert!(page.contains(".SH [match]"));
    }
}
