//! A health report as text: Nagios plugin output, JSON and the Prometheus
//! text exposition format. Data in, text out: nothing here reads the system
//! or the clock.

use std::fmt::Write as _;

use crate::core::health::{plural, Report, Status};

/// Nagios plugin output: `STRAY STATUS - summary | perfdata`, then one
/// line per check. The summary lists the checks that are not OK.
pub(crate) fn nagios(r: &Report) -> String {
    let status = r.status();
    let bad: Vec<String> = r
        .items
        .iter()
        .filter(|i| i.status != Status::Ok)
        .map(|i| format!("{}: {}", i.name, plain(&i.message)))
        .collect();
    let summary = if bad.is_empty() {
        let figures: Vec<String> = r.items.iter().map(|i| plain(&i.message)).collect();
        format!(
            "{} ok; {}",
            plural(r.items.len(), "check"),
            figures.join(", ")
        )
    } else {
        bad.join("; ")
    };
    let mut out = format!("STRAY {} - {}", status.nagios(), summary);
    if !r.perf.is_empty() {
        out.push_str(" |");
        for p in &r.perf {
            let _ = write!(out, " {}={}{}", p.label, num(p.value), p.uom);
            let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
            let tail = [opt(p.warn), opt(p.crit), opt(p.min), opt(p.max)];
            let used = tail
                .iter()
                .rposition(|s| !s.is_empty())
                .map_or(0, |i| i + 1);
            for t in &tail[..used] {
                let _ = write!(out, ";{t}");
            }
        }
    }
    out.push('\n');
    for i in &r.items {
        let _ = writeln!(
            out,
            "[{}] {}: {}",
            i.status.nagios(),
            i.name,
            plain(&i.message)
        );
        for d in &i.details {
            let _ = writeln!(out, "    {}", plain(d));
        }
    }
    out
}

/// `{"schema": 1, "status", "checks": [...]}`.
pub(crate) fn json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "schema": 1,
        "status": r.status(),
        "checks": r.items,
    })
}

/// The Prometheus text exposition format (version 0.0.4), with HELP and
/// TYPE for every family.
///
/// A check that could not decide (status unknown) also gets a comment line
/// saying why, which scrapers ignore and a person reading the file needs.
pub(crate) fn prometheus(r: &Report) -> String {
    let mut out = String::new();
    for i in r.items.iter().filter(|i| i.status == Status::Unknown) {
        let _ = writeln!(out, "# stray: {} unknown: {}", i.name, plain(&i.message));
    }
    for m in &r.metrics {
        let _ = writeln!(out, "# HELP {} {}", m.name, help_escape(m.help));
        // By the naming convention, `_total` is a counter.
        let kind = if m.name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# TYPE {} {kind}", m.name);
        for (labels, v) in &m.samples {
            out.push_str(m.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, val)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", label_escape(val));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", prom_num(*v));
        }
    }
    out
}

/// Nagios output is one logical record per line and `|` starts perfdata:
/// escape control characters and replace pipes.
fn plain(s: &str) -> String {
    super::table::escape(s).replace('|', "/")
}

/// Integers without a fraction, others with up to 3 decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn prom_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn help_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn label_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::health::{plural, Item, Metric, Perf};

    fn sample() -> Report {
        let mut defunct = Item::new("defunct", Status::Warning, Some(1.0), "1 defunct agent");
        defunct
            .details
            .push("pid 42 (claude) not reaped by parent 41 (bash|x)".into());
        Report {
            items: vec![
                Item::new(
                    "pty",
                    Status::Ok,
                    Some(0.5),
                    "12 of 4096 PTYs in use (0.3%)",
                ),
                defunct,
                Item::new("state", Status::Unknown, None, "cannot read \u{1b}[2J"),
            ],
            perf: vec![
                Perf {
                    label: "pty_used",
                    value: 12.0,
                    uom: "",
                    warn: Some(3072.0),
                    crit: Some(3686.0),
                    min: Some(0.0),
                    max: Some(4096.0),
                },
                Perf {
                    uom: "%",
                    ..Perf::gauge("pty_usage", 0.29296875)
                },
                Perf::gauge("defunct", 1.0),
            ],
            metrics: vec![
                Metric::single("stray_up", "1 when the checks ran", 1.0),
                Metric {
                    name: "stray_agents",
                    help: "Agents by class",
                    samples: vec![
                        (vec![("class", "orphan".into())], 2.0),
                        (vec![("class", "we\"ird\\\n".into())], 0.5),
                    ],
                },
            ],
        }
    }

    #[test]
    fn nagios_snapshot() {
        assert_eq!(
            nagios(&sample()),
            "STRAY WARNING - defunct: 1 defunct agent; state: cannot read \\u{1b}[2J \
             | pty_used=12;3072;3686;0;4096 pty_usage=0.293%;;;0 defunct=1;;;0\n\
             [OK] pty: 12 of 4096 PTYs in use (0.3%)\n\
             [WARNING] defunct: 1 defunct agent\n    pid 42 (claude) not reaped by parent 41 (bash/x)\n\
             [UNKNOWN] state: cannot read \\u{1b}[2J\n"
        );
    }

    #[test]
    fn nagios_all_ok_summary() {
        let r = Report {
            items: vec![Item::new("pty", Status::Ok, Some(1.0), "1 of 2")],
            perf: vec![],
            metrics: vec![],
        };
        assert_eq!(
            nagios(&r),
            "STRAY OK - 1 check ok; 1 of 2\n[OK] pty: 1 of 2\n"
        );
    }

    #[test]
    fn json_shape() {
        let v = json(&sample());
        assert_eq!(v["schema"], 1);
        assert_eq!(v["status"], "warning");
        assert_eq!(v["checks"][0]["name"], "pty");
        assert_eq!(v["checks"][0]["value"], 0.5);
        assert_eq!(v["checks"][2]["value"], serde_json::Value::Null);
        assert_eq!(v["checks"][2]["status"], "unknown");
        assert_eq!(v["checks"][1]["value"].to_string(), "1");
        assert_eq!(plural(1, "agent"), "1 agent");
        assert_eq!(plural(0, "agent"), "0 agents");
        assert_eq!(plural(1, "agent"), "1 agent");
        assert_eq!(plural(1, "process"), "1 process");
        assert_eq!(plural(3, "process"), "3 processes");
    }

    #[test]
    fn prometheus_snapshot() {
        assert_eq!(
            prometheus(&sample()),
            "# HELP stray_up 1 when the checks ran\n# TYPE stray_up gauge\nstray_up 1\n\
             # HELP stray_agents Agents by class\n# TYPE stray_agents gauge\n\
             stray_agents{class=\"orphan\"} 2\nstray_agents{class=\"we\\\"ird\\\\\\n\"} 0.5\n"
                .replace(
                    "# HELP stray_up",
                    "# stray: state unknown: cannot read \\u{1b}[2J\n# HELP stray_up"
                )
        );
        assert_eq!(prom_num(f64::NAN), "NaN");
        assert_eq!(prom_num(f64::INFINITY), "+Inf");
    }
}
