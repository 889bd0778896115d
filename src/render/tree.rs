//! `stray scan --tree`: the classified processes inside their process trees.
//!
//! Each shown process is placed under its ancestors up to an *anchor*: the
//! nearest multiplexer server (so a pane's agent reads `tmux: server` →
//! shell → … → agent), else the nearest reaper parent (PID 1 or a
//! `reaper_parents` name: orphans sit right under it), else the top of the
//! table. Chains that share ancestors share lines. Pure: table and reports
//! in, text out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::classify::Class;
use crate::core::process::{Process, ProcessTable};
use crate::render::process::ProcessReport;
use crate::render::table;

/// Longest parent chain followed (a cycle in a torn table must not loop).
const MAX_DEPTH: usize = 64;

/// Renders the forest. `is_anchor` says where a chain stops going up;
/// `colour` adds ANSI colour to the class names.
pub(crate) fn render(
    table: &ProcessTable,
    reports: &[ProcessReport],
    is_anchor: impl Fn(&Process) -> bool,
    colour: bool,
) -> String {
    let shown: HashMap<i32, &ProcessReport> = reports.iter().map(|r| (r.pid, r)).collect();
    // parent pid → children pids, only along the chains we show.
    let mut children: BTreeMap<i32, BTreeSet<i32>> = BTreeMap::new();
    let mut roots: BTreeSet<i32> = BTreeSet::new();
    for r in reports {
        let mut pid = r.pid;
        let mut depth = 0;
        loop {
            let parent = table.get(pid).map(|p| p.ppid).unwrap_or(0);
            let stop = depth >= MAX_DEPTH
                || table.get(pid).is_some_and(&is_anchor)
                || parent <= 0
                || table.get(parent).is_none();
            if stop {
                roots.insert(pid);
                break;
            }
            // Already linked: the rest of this chain is in place.
            if !children.entry(parent).or_default().insert(pid) {
                break;
            }
            pid = parent;
            depth += 1;
        }
    }
    // A root that is also someone's child (an anchor inside another chain
    // cannot happen, but a chain cut by MAX_DEPTH can) is shown under it.
    let linked: BTreeSet<i32> = children.values().flatten().copied().collect();
    let mut out = String::new();
    let top: Vec<i32> = roots.difference(&linked).copied().collect();
    for pid in top {
        node(table, &shown, &children, pid, "", None, colour, &mut out);
    }
    out
}

/// One line, then the children. `last` is `None` for a root.
#[allow(clippy::too_many_arguments)]
fn node(
    table: &ProcessTable,
    shown: &HashMap<i32, &ProcessReport>,
    children: &BTreeMap<i32, BTreeSet<i32>>,
    pid: i32,
    prefix: &str,
    last: Option<bool>,
    colour: bool,
    out: &mut String,
) {
    let branch = match last {
        None => "",
        Some(true) => "└─ ",
        Some(false) => "├─ ",
    };
    out.push_str(prefix);
    out.push_str(branch);
    out.push_str(&label(table, shown.get(&pid).copied(), pid, colour));
    out.push('\n');
    let kids: Vec<i32> = children
        .get(&pid)
        .map(|k| k.iter().copied().collect())
        .unwrap_or_default();
    let child_prefix = format!(
        "{prefix}{}",
        match last {
            None => "",
            Some(true) => "   ",
            Some(false) => "│  ",
        }
    );
    for (i, kid) in kids.iter().enumerate() {
        node(
            table,
            shown,
            children,
            *kid,
            &child_prefix,
            Some(i + 1 == kids.len()),
            colour,
            out,
        );
    }
}

fn label(table: &ProcessTable, r: Option<&ProcessReport>, pid: i32, colour: bool) -> String {
    match r {
        Some(r) => {
            let cmd = if r.cmdline.is_empty() {
                &r.comm
            } else {
                &r.cmdline
            };
            let pane = r
                .pane
                .as_ref()
                .map(|p| format!(" [pane {}]", table::escape(p)))
                .unwrap_or_default();
            format!(
                "{} {}  {}  {}{}",
                r.pid,
                table::clip(cmd, 60),
                paint(r.class, colour),
                table::escape(&r.reason),
                pane
            )
        }
        None => match table.get(pid) {
            Some(p) => format!("{} {}", p.pid, table::escape(&p.comm)),
            None => format!("{pid} ?"),
        },
    }
}

/// The class name, coloured by what it means for the process.
pub(crate) fn paint(class: Class, colour: bool) -> String {
    if !colour {
        return class.to_string();
    }
    let code = match class {
        Class::Orphan => "1;31",
        Class::Protected => "32",
        Class::Defunct => "35",
        Class::Young | Class::Unmanaged | Class::Headless => "33",
        #[allow(unreachable_patterns)]
        _ => "0",
    };
    format!("\x1b[{code}m{class}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::testkit::*;
    use crate::core::classify::{is_multiplexer_server, Classifier};
    use crate::core::process::Tty;
    use crate::render::process::process_report;

    fn tree(b: &TableBuilder, colour: bool) -> String {
        let (t, f) = b.build();
        let rules = rules();
        let c = Classifier::new(&t, &f, &rules);
        let reports: Vec<ProcessReport> = f
            .agents
            .keys()
            .map(|&pid| {
                let p = t.get(pid).unwrap();
                process_report(&t, p, &c.verdict(p), None)
            })
            .collect();
        let mux = vec!["tmux".to_string()];
        render(
            &t,
            &reports,
            |p| p.pid <= 1 || p.comm == "systemd" || is_multiplexer_server(p, &mux),
            colour,
        )
    }

    #[test]
    fn agents_sit_in_their_trees_sharing_ancestors() {
        let mut b = table();
        b.tmux_server(100, &[3])
            .add(101, 100, "bash", Some(Tty::Pts(3)), 'S', 3600.0)
            .agent(102, 101, Some(Tty::Pts(3)))
            .add(103, 100, "zsh", Some(Tty::Pts(4)), 'S', 3600.0)
            .agent(104, 103, Some(Tty::Pts(4)))
            .agent(105, 101, Some(Tty::Pts(3)))
            // An orphan of a user's systemd (a subreaper).
            .proc_(200, 1, "systemd")
            .agent(201, 200, None);
        let text = tree(&b, false);
        let expected = "\
100 tmux: server
├─ 101 bash
│  ├─ 102 claude  protected  inside tmux server 100
│  └─ 105 claude  protected  inside tmux server 100
└─ 103 zsh
   └─ 104 claude  protected  inside tmux server 100
200 systemd
└─ 201 claude  orphan  REASON
";
        // The reason text belongs to the classifier; compare the shape.
        let norm = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| match l.split_once("  ") {
                    Some((head, rest)) => {
                        let class = rest.split("  ").next().unwrap();
                        format!("{head}  {class}")
                    }
                    None => l.to_string(),
                })
                .collect()
        };
        assert_eq!(norm(&text), norm(expected), "\n{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        let mut b = table();
        b.proc_(200, 1, "systemd").agent(201, 200, None);
        assert!(!tree(&b, false).contains('\x1b'));
        assert!(tree(&b, true).contains("\x1b[1;31morphan\x1b[0m"));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut b = table();
        b.proc_(300, 1, "systemd")
            .proc_(301, 300, "evil\x1b[2J")
            .agent(302, 301, None);
        let text = tree(&b, false);
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("301 evil"), "{text}");
    }
}
