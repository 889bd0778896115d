//! PTY slots, the pure part: the pool's counters and thresholds, who holds
//! masters (as data), churn and projected exhaustion over a bounded sample
//! history. "Now" is an argument; reading the counters and scanning fds is
//! `sys::pty`'s job.

use serde::{Deserialize, Serialize};

use crate::core::health::Status;

/// The pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub used: u64,
    pub max: u64,
    /// Slots kept for the initial devpts instance (Linux only).
    pub reserve: Option<u64>,
}

impl Counts {
    /// Percent of `max` in use; a pool of size 0 counts as full.
    pub(crate) fn percent(&self) -> f64 {
        if self.max == 0 {
            return 100.0;
        }
        self.used as f64 * 100.0 / self.max as f64
    }
}

/// Usage at or above a threshold trips it, so 0 always trips.
pub(crate) fn status(percent: f64, warn: u8, crit: u8) -> Status {
    if percent >= f64::from(crit) {
        Status::Critical
    } else if percent >= f64::from(warn) {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// One process holding PTY masters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Holder {
    pub pid: i32,
    pub comm: String,
    /// Number of master fds (several fds may share one terminal).
    pub masters: u32,
    /// The pty indexes (`/dev/pts/N`), sorted, deduplicated.
    pub indexes: Vec<u32>,
    pub cmdline: String,
}

/// Most masters first, then by pid, so the output is stable.
pub(crate) fn sort_holders(h: &mut [Holder]) {
    h.sort_by(|a, b| b.masters.cmp(&a.masters).then(a.pid.cmp(&b.pid)));
}

/// One churn sample, kept in the state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PtySample {
    /// CLOCK_BOOTTIME seconds (never jumps with the wall clock).
    pub t: f64,
    pub used: u64,
    /// The highest pty index held by any readable master, if any.
    #[serde(default)]
    pub highest: Option<u32>,
}

/// How much history is kept: a day, at most one sample a minute's worth.
pub(crate) const HISTORY_SECS: f64 = 86_400.0;
pub(crate) const HISTORY_MAX: usize = 1440;
/// The churn rate is fitted over this recent window.
pub(crate) const RATE_WINDOW_SECS: f64 = 3600.0;

/// Appends `s`, dropping samples older than a day, any from "the future"
/// (a clock that went backwards means another boot), and the oldest beyond
/// [`HISTORY_MAX`].
pub(crate) fn record(samples: &mut Vec<PtySample>, s: PtySample) {
    samples.retain(|x| x.t <= s.t && s.t - x.t <= HISTORY_SECS);
    samples.push(s);
    if samples.len() > HISTORY_MAX {
        let extra = samples.len() - HISTORY_MAX;
        samples.drain(..extra);
    }
}

/// Net PTY allocations per hour (opens minus closes): the least-squares
/// slope of `used` over the samples of the last hour, or over the last two
/// samples when the hour holds fewer than two. `None` with fewer than two
/// samples or no time between them.
///
/// The kernel counts slots in use, not allocations, so a PTY opened and
/// closed between two samples is invisible: this is the growth rate that
/// matters for exhaustion, not a count of `open()` calls.
pub(crate) fn rate_per_hour(samples: &[PtySample]) -> Option<f64> {
    let last = samples.last()?;
    let mut window: Vec<&PtySample> = samples
        .iter()
        .filter(|s| last.t - s.t <= RATE_WINDOW_SECS)
        .collect();
    if window.len() < 2 {
        window = samples.iter().rev().take(2).collect();
    }
    if window.len() < 2 {
        return None;
    }
    let n = window.len() as f64;
    let mt = window.iter().map(|s| s.t).sum::<f64>() / n;
    let mu = window.iter().map(|s| s.used as f64).sum::<f64>() / n;
    let sxx: f64 = window.iter().map(|s| (s.t - mt).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = window
        .iter()
        .map(|s| (s.t - mt) * (s.used as f64 - mu))
        .sum();
    Some(sxy / sxx * 3600.0)
}

/// Seconds until `used` reaches `max` at `rate` per hour; `None` unless
/// usage is rising.
pub(crate) fn exhaustion_eta_secs(used: u64, max: u64, rate_per_hour: Option<f64>) -> Option<f64> {
    let rate = rate_per_hour?;
    if rate <= 0.0 || !rate.is_finite() {
        return None;
    }
    Some(max.saturating_sub(used) as f64 / rate * 3600.0)
}

/// The holder scan's result.
#[derive(Debug, Clone, Default)]
pub(crate) struct HolderScan {
    pub holders: Vec<Holder>,
    /// Processes whose fds could not be read (other users' without root).
    pub unreadable: usize,
    /// Set where listing holders is not supported at all.
    pub unsupported: Option<String>,
}

impl HolderScan {
    pub(crate) fn highest_index(&self) -> Option<u32> {
        self.holders
            .iter()
            .filter_map(|h| h.indexes.last().copied())
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, used: u64) -> PtySample {
        PtySample {
            t,
            used,
            highest: None,
        }
    }

    #[test]
    fn thresholds_trip_at_or_above() {
        assert_eq!(status(10.0, 75, 90), Status::Ok);
        assert_eq!(status(75.0, 75, 90), Status::Warning);
        assert_eq!(status(89.9, 75, 90), Status::Warning);
        assert_eq!(status(90.0, 75, 90), Status::Critical);
        assert_eq!(status(0.0, 0, 100), Status::Warning);
        assert_eq!(status(0.0, 0, 0), Status::Critical);
        assert_eq!(status(100.0, 100, 100), Status::Critical);
        let c = Counts {
            used: 1,
            max: 4,
            reserve: None,
        };
        assert_eq!(c.percent(), 25.0);
        let empty = Counts {
            used: 0,
            max: 0,
            reserve: None,
        };
        assert_eq!(empty.percent(), 100.0);
    }

    #[test]
    fn rate_needs_two_samples_and_time() {
        assert_eq!(rate_per_hour(&[]), None);
        assert_eq!(rate_per_hour(&[s(10.0, 5)]), None);
        assert_eq!(rate_per_hour(&[s(10.0, 5), s(10.0, 9)]), None);
        // +10 in 30 minutes = +20/h.
        let r = rate_per_hour(&[s(0.0, 100), s(1800.0, 110)]).unwrap();
        assert!((r - 20.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn rate_fits_the_last_hour_only() {
        // Flat for a day, then +60 over the last hour.
        let mut v: Vec<PtySample> = (0..23).map(|h| s(h as f64 * 3600.0, 10)).collect();
        for m in 0..=60 {
            v.push(s(23.0 * 3600.0 + m as f64 * 60.0, 10 + m as u64));
        }
        let r = rate_per_hour(&v).unwrap();
        assert!((r - 60.0).abs() < 1.0, "{r}");
        // Falling usage: negative rate, no exhaustion.
        let r = rate_per_hour(&[s(0.0, 50), s(3600.0, 40)]).unwrap();
        assert!((r + 10.0).abs() < 1e-9);
        assert_eq!(exhaustion_eta_secs(40, 100, Some(r)), None);
    }

    #[test]
    fn sparse_samples_fall_back_to_the_last_two() {
        let r = rate_per_hour(&[s(0.0, 0), s(7200.0, 10), s(14_400.0, 30)]).unwrap();
        assert!((r - 10.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn eta_when_rising() {
        assert_eq!(exhaustion_eta_secs(10, 110, Some(100.0)), Some(3600.0));
        assert_eq!(exhaustion_eta_secs(10, 110, Some(0.0)), None);
        assert_eq!(exhaustion_eta_secs(10, 110, None), None);
        assert_eq!(exhaustion_eta_secs(200, 110, Some(5.0)), Some(0.0));
    }

    #[test]
    fn history_is_bounded_and_monotonic() {
        let mut v = Vec::new();
        for i in 0..3000 {
            record(&mut v, s(i as f64 * 10.0, i));
        }
        assert_eq!(v.len(), HISTORY_MAX);
        assert_eq!(v.last().unwrap().used, 2999);
        // Older than a day is dropped.
        let mut v = vec![s(0.0, 1), s(50_000.0, 2)];
        record(&mut v, s(90_000.0, 3));
        assert_eq!(v.iter().map(|x| x.used).collect::<Vec<_>>(), vec![2, 3]);
        // A clock that went backwards (another boot) clears the history.
        record(&mut v, s(5.0, 4));
        assert_eq!(v, vec![s(5.0, 4)]);
    }

    #[test]
    fn holders_sort_most_masters_first() {
        let h = |pid, masters| Holder {
            pid,
            comm: String::new(),
            masters,
            indexes: vec![],
            cmdline: String::new(),
        };
        let mut v = vec![h(5, 1), h(3, 9), h(1, 1), h(9, 511)];
        sort_holders(&mut v);
        let order: Vec<i32> = v.iter().map(|x| x.pid).collect();
        assert_eq!(order, vec![9, 3, 1, 5]);
    }
}
