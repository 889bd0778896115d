//! Memory: the pure half. Which processes get their `oom_score_adj`
//! raised (strays die first), and the `[memory] pressure` setting as a PSI
//! trigger (SPEC "Memory"). [`crate::sys::oomadj`] and [`crate::sys::psi`] do the
//! writing and the polling.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use crate::core::classify::{Class, Policy, Verdict};
use crate::core::process::ProcKey;

/// The highest `oom_score_adj` (the kernel's `OOM_SCORE_ADJ_MAX`).
pub const OOM_SCORE_ADJ_MAX: i32 = 1000;

/// What a process is, as far as `oom_score_adj` goes: only strays (orphans
/// and leftovers, young ones included) are raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrayKind {
    Orphan,
    Leftover,
}

/// The stray kind of a class: `orphan`, `leftover`, or `young` when it
/// would be one of them once old enough (`young_would_be`).
pub fn stray_kind(class: &str, young_would_be: Option<&str>) -> Option<StrayKind> {
    match (class, young_would_be) {
        ("orphan", _) | ("young", Some("orphan")) => Some(StrayKind::Orphan),
        ("leftover", _) | ("young", Some("leftover")) => Some(StrayKind::Leftover),
        _ => None,
    }
}

/// The stray kind of a verdict: an orphan (or, once families exist, a
/// leftover) that stray would reap, young ones included (by the class they
/// will have). Any other class, or a policy other than `reap`: none.
pub(crate) fn verdict_stray_kind(v: &Verdict) -> Option<StrayKind> {
    let base = match v.class {
        Class::Young => v.young_of?,
        c if v.policy == Policy::Reap => c,
        _ => return None,
    };
    stray_kind(base.as_str(), None)
}

/// One process of this cycle, as the raise decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjCandidate {
    pub key: ProcKey,
    pub kind: Option<StrayKind>,
    /// Its `oom_score_adj` if read (`None`: unknown; the writer reads it
    /// again anyway before writing).
    pub current: Option<i32>,
}

/// The processes whose `oom_score_adj` to raise to `target`: strays below
/// it. Never anyone else, and never to a lower value; 0 (or less) turns the
/// feature off.
pub fn plan_raises(cands: &[AdjCandidate], target: i32) -> Vec<ProcKey> {
    if target <= 0 {
        return Vec::new();
    }
    let target = target.min(OOM_SCORE_ADJ_MAX);
    cands
        .iter()
        .filter(|c| c.kind.is_some() && c.current.is_none_or(|v| v < target))
        .map(|c| c.key)
        .collect()
}

/// The value to write, or `None` when `current` is already at or above
/// `target` (never lower a value).
pub fn raised_value(current: i32, target: i32) -> Option<i32> {
    let target = target.min(OOM_SCORE_ADJ_MAX);
    (target > 0 && current < target).then_some(target)
}

/// A raise is audited once per (pid, start time): a process that lowers
/// its own value again is raised again, silently.
pub fn needs_audit(key: ProcKey, audited: &HashSet<ProcKey>) -> bool {
    !audited.contains(&key)
}

/// One `oom_score_adj` raise of this cycle (planned in a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct Raise {
    pub pid: i32,
    pub start_time: u64,
    pub comm: String,
    pub class: Class,
    pub from: Option<i32>,
    pub to: i32,
    /// `raised`, `would-raise`, or `failed: …`.
    pub outcome: String,
}

/// Validates `[memory] oom_score_adj`: 0 (off) to 1000.
pub fn check_oom_score_adj(value: i64) -> Result<i32, String> {
    if (0..=OOM_SCORE_ADJ_MAX as i64).contains(&value) {
        Ok(value as i32)
    } else {
        Err(format!(
            "[memory] oom_score_adj: {value} is out of range (0 turns it off, at most {OOM_SCORE_ADJ_MAX})"
        ))
    }
}

/// `some` or `full` (PSI: some tasks stalled, or all non-idle ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    Some,
    Full,
}

/// A PSI trigger: fire when tasks stall for `stall` within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PressureTrigger {
    pub kind: Stall,
    pub stall: Duration,
    pub window: Duration,
}

/// The kernel's bounds on a trigger window (`kernel/sched/psi.c`).
pub const WINDOW_MIN: Duration = Duration::from_millis(500);
pub const WINDOW_MAX: Duration = Duration::from_secs(10);

impl PressureTrigger {
    /// Parses `[memory] pressure`: `KIND THRESHOLD [over] WINDOW`, with
    /// KIND `some` or `full`, THRESHOLD a percentage of the window (`10%`)
    /// or a duration (`150ms`), WINDOW a duration between 500ms and 10s.
    /// Errors name the key.
    pub fn parse(text: &str) -> Result<PressureTrigger, String> {
        let err = |why: String| format!("[memory] pressure: {why} (expected e.g. \"some 10% 1s\")");
        let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "over").collect();
        let [kind, threshold, window] = words[..] else {
            return Err(err(format!("{text:?} is not KIND THRESHOLD WINDOW")));
        };
        let kind = match kind {
            "some" => Stall::Some,
            "full" => Stall::Full,
            other => {
                return Err(err(format!(
                    "kind {other:?} is neither \"some\" nor \"full\""
                )))
            }
        };
        let window = humantime::parse_duration(window)
            .map_err(|e| err(format!("window {window:?}: {e}")))?;
        if !(WINDOW_MIN..=WINDOW_MAX).contains(&window) {
            return Err(err(format!(
                "window {} is outside 500ms..10s",
                humantime::format_duration(window)
            )));
        }
        let stall = match threshold.strip_suffix('%') {
            Some(pct) => {
                let pct: f64 = pct
                    .parse()
                    .map_err(|_| err(format!("threshold {threshold:?} is not a percentage")))?;
                if !(pct > 0.0 && pct <= 100.0) {
                    return Err(err(format!("threshold {threshold} is not in (0%, 100%]")));
                }
                Duration::from_micros((window.as_micros() as f64 * pct / 100.0).round() as u64)
            }
            None => humantime::parse_duration(threshold)
                .map_err(|e| err(format!("threshold {threshold:?}: {e}")))?,
        };
        if stall.is_zero() || stall > window {
            return Err(err(format!(
                "threshold {threshold} must be more than 0 and at most the window"
            )));
        }
        Ok(PressureTrigger {
            kind,
            stall,
            window,
        })
    }

    /// The same stall ratio over a window rounded up to a multiple of 2s:
    /// the only windows the kernel accepts from an opener without
    /// CAP_SYS_RESOURCE (Linux 6.5+). `None` if it already is one, or if
    /// rounding would pass the 10s maximum.
    pub fn unprivileged(&self) -> Option<PressureTrigger> {
        let two = 2_000_000u128;
        let w = self.window.as_micros();
        if w % two == 0 {
            return None;
        }
        let window = w.div_ceil(two) * two;
        if window > WINDOW_MAX.as_micros() {
            return None;
        }
        let stall = self.stall.as_micros() * window / w;
        Some(PressureTrigger {
            kind: self.kind,
            stall: Duration::from_micros(stall as u64),
            window: Duration::from_micros(window as u64),
        })
    }

    /// What to write to `/proc/pressure/memory`: `some 100000 1000000`
    /// (microseconds).
    pub fn kernel_string(&self) -> String {
        let kind = match self.kind {
            Stall::Some => "some",
            Stall::Full => "full",
        };
        format!(
            "{kind} {} {}",
            self.stall.as_micros(),
            self.window.as_micros()
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::core::classify::testkit::*;
    use crate::core::classify::{Class, Policy};

    #[test]
    fn only_orphans_stray_would_reap_are_strays() {
        let mut b = table();
        b.tmux_server(100, &[3])
            .agent(102, 100, Some(crate::core::process::Tty::Pts(3)));
        b.agent(200, 1, None); // orphan, an hour old
        b.add(201, 1, "claude", None, 'S', 5.0); // young orphan
        b.facts.agents.insert(201, "name:claude".into());
        b.proc_(60, 1, "bash");
        b.agent(202, 60, None); // headless
        b.add(203, 1, "sleep", None, 'S', 3600.0); // no agent
        let r = rules();
        let kind = |b: &TableBuilder, r: &crate::core::classify::Rules, pid| {
            verdict_stray_kind(&classify_one(b, r, pid))
        };
        assert_eq!(kind(&b, &r, 200), Some(StrayKind::Orphan));
        assert_eq!(kind(&b, &r, 201), Some(StrayKind::Orphan));
        assert_eq!(kind(&b, &r, 102), None, "protected");
        assert_eq!(kind(&b, &r, 202), None, "headless");
        assert_eq!(kind(&b, &r, 203), None, "not an agent");
        // A young headless process with headless = reap is still no stray,
        // and an orphan whose policy is report is none either.
        let mut r2 = rules();
        r2.policy.headless = Policy::Reap;
        r2.policy.orphan = Policy::Report;
        b.add(204, 60, "claude", None, 'S', 5.0);
        b.facts.agents.insert(204, "name:claude".into());
        assert_eq!(classify_one(&b, &r2, 204).class, Class::Young);
        assert_eq!(kind(&b, &r2, 204), None);
        assert_eq!(kind(&b, &r2, 200), None);
    }

    use super::*;

    fn cand(pid: i32, kind: Option<StrayKind>, current: Option<i32>) -> AdjCandidate {
        AdjCandidate {
            key: ProcKey { pid, start_time: 1 },
            kind,
            current,
        }
    }

    #[test]
    fn only_strays_below_target_are_raised() {
        let o = Some(StrayKind::Orphan);
        let l = Some(StrayKind::Leftover);
        let cands = [
            cand(1, o, Some(0)),
            cand(2, l, Some(-500)),
            cand(3, o, Some(1000)),
            cand(4, None, Some(0)),
            cand(5, l, None),
            cand(6, o, Some(999)),
        ];
        let pids = |v: Vec<ProcKey>| v.iter().map(|k| k.pid).collect::<Vec<_>>();
        assert_eq!(pids(plan_raises(&cands, 1000)), [1, 2, 5, 6]);
        // A lower target never lowers anyone: 6 (999) is above 500.
        assert_eq!(pids(plan_raises(&cands, 500)), [1, 2, 5]);
        assert!(plan_raises(&cands, 0).is_empty());
        // Above the kernel's maximum: treated as 1000.
        assert_eq!(pids(plan_raises(&cands, 5000)), [1, 2, 5, 6]);
    }

    #[test]
    fn kinds_from_classes() {
        assert_eq!(stray_kind("orphan", None), Some(StrayKind::Orphan));
        assert_eq!(stray_kind("leftover", None), Some(StrayKind::Leftover));
        assert_eq!(stray_kind("young", Some("orphan")), Some(StrayKind::Orphan));
        assert_eq!(
            stray_kind("young", Some("leftover")),
            Some(StrayKind::Leftover)
        );
        for c in ["young", "protected", "headless", "unmanaged", "defunct"] {
            assert_eq!(stray_kind(c, None), None, "{c}");
        }
        assert_eq!(stray_kind("young", Some("headless")), None);
    }

    #[test]
    fn never_lower() {
        assert_eq!(raised_value(0, 1000), Some(1000));
        assert_eq!(raised_value(-1000, 300), Some(300));
        assert_eq!(raised_value(1000, 1000), None);
        assert_eq!(raised_value(800, 500), None);
        assert_eq!(raised_value(0, 0), None);
    }

    #[test]
    fn audited_once() {
        let k = ProcKey {
            pid: 9,
            start_time: 3,
        };
        let mut seen = HashSet::new();
        assert!(needs_audit(k, &seen));
        seen.insert(k);
        assert!(!needs_audit(k, &seen));
        assert!(needs_audit(
            ProcKey {
                pid: 9,
                start_time: 4
            },
            &seen
        ));
    }

    #[test]
    fn oom_score_adj_range() {
        assert_eq!(check_oom_score_adj(0), Ok(0));
        assert_eq!(check_oom_score_adj(1000), Ok(1000));
        for bad in [-1, 1001] {
            let e = check_oom_score_adj(bad).unwrap_err();
            assert!(e.starts_with("[memory] oom_score_adj:"), "{e}");
        }
    }

    #[test]
    fn pressure_strings() {
        let t = PressureTrigger::parse("some 10% 1s").unwrap();
        assert_eq!(t.kernel_string(), "some 100000 1000000");
        assert_eq!(PressureTrigger::parse("some 10% over 1s").unwrap(), t);
        let t = PressureTrigger::parse("  full 150ms   2s ").unwrap();
        assert_eq!(t.kernel_string(), "full 150000 2000000");
        assert_eq!(
            PressureTrigger::parse("some 100% 500ms")
                .unwrap()
                .kernel_string(),
            "some 500000 500000"
        );
        for bad in [
            "",
            "some",
            "some 10%",
            "half 10% 1s",
            "some 0% 1s",
            "some 101% 1s",
            "some x% 1s",
            "some 10% 100ms",
            "some 10% 11s",
            "some 2s 1s",
            "some 0s 1s",
            "some 10% 1s extra",
            "some 10% forever",
        ] {
            let e = PressureTrigger::parse(bad).unwrap_err();
            assert!(e.starts_with("[memory] pressure:"), "{bad}: {e}");
        }
    }
}
