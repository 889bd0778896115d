//! The health-check model: statuses, check items, Nagios perfdata and
//! Prometheus metric families, as plain data. Rendering them is
//! `render::health`'s job; nothing here reads the system or the clock.

use serde::Serialize;

/// A check's (or the whole run's) status, Nagios-style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Unknown => "unknown",
        }
    }

    /// `OK`, `WARNING`, … as Nagios prints them.
    pub(crate) fn nagios(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The Nagios plugin exit code (0, 1, 2, 3); also the value of the
    /// `stray_check_status` gauge.
    pub(crate) fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// Rank for "worst of": CRITICAL > WARNING > UNKNOWN > OK, so one check
    /// that could not run never hides a real warning.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }

    pub(crate) fn worst(items: impl IntoIterator<Item = Status>) -> Status {
        items
            .into_iter()
            .max_by_key(|s| s.rank())
            .unwrap_or(Status::Ok)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check: `{name, status, value, message}` as in the JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Item {
    pub name: String,
    pub status: Status,
    /// The check's main figure (number or null; whole numbers print as
    /// integers).
    #[serde(serialize_with = "whole_or_float")]
    pub value: Option<f64>,
    /// One line for people; names pids and paths.
    pub message: String,
    /// Further lines (e.g. one per defunct agent and its parent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Item {
    pub(crate) fn new(
        name: &str,
        status: Status,
        value: Option<f64>,
        message: impl Into<String>,
    ) -> Item {
        Item {
            name: name.to_string(),
            status,
            value,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

fn whole_or_float<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

/// `1 agent`, `2 agents`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {}", plural_word(n, word))
}

/// The word alone: `agent`/`agents`, `process`/`processes`.
fn plural_word(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else if word.ends_with('s')
        || word.ends_with('x')
        || word.ends_with("sh")
        || word.ends_with("ch")
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// One Nagios performance-data figure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Perf {
    pub label: &'static str,
    pub value: f64,
    /// `""`, `"%"`, `"B"`, `"s"`, `"c"`.
    pub uom: &'static str,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Perf {
    pub(crate) fn gauge(label: &'static str, value: f64) -> Perf {
        Perf {
            label,
            value,
            uom: "",
            warn: None,
            crit: None,
            min: Some(0.0),
            max: None,
        }
    }
}

/// One Prometheus metric family (all gauges: every figure is a snapshot).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    /// `(labels, value)`; labels are `(name, value)` pairs.
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Metric {
    pub(crate) fn single(name: &'static str, help: &'static str, value: f64) -> Metric {
        Metric {
            name,
            help,
            samples: vec![(Vec::new(), value)],
        }
    }
}

/// A whole check run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub items: Vec<Item>,
    pub perf: Vec<Perf>,
    pub metrics: Vec<Metric>,
}

impl Report {
    pub(crate) fn status(&self) -> Status {
        Status::worst(self.items.iter().map(|i| i.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_ranks_critical_over_warning_over_unknown() {
        use Status::*;
        assert_eq!(Status::worst([]), Ok);
        assert_eq!(Status::worst([Ok, Unknown]), Unknown);
        assert_eq!(Status::worst([Unknown, Warning, Ok]), Warning);
        assert_eq!(Status::worst([Warning, Critical, Unknown]), Critical);
        assert_eq!(
            [Ok, Warning, Critical, Unknown].map(Status::code),
            [0, 1, 2, 3]
        );
    }
}
