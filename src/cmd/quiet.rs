//! `watch`'s quiet ticks. After each full cycle, what it saw is kept; each
//! tick until the next one reads only what can change a verdict
//! (`sys::incremental`), and `core::incremental` says whether a full cycle
//! now would decide anything else. If not, the tick is quiet: it signals
//! nothing, writes only the PTY sample (the count, without the holder
//! scan), and reports the last cycle's classes. Anything changed, unknown
//! or failing runs the full cycle, which alone signals; so does
//! `[watch] full_every`, the safety net.

use crate::cmd::reap::CycleReport;
use crate::core::classify::Class;
use crate::core::incremental::Seen;
use crate::Settings;

/// What quiet ticks keep between ticks.
#[derive(Default)]
pub(crate) struct QuietTicks {
    seen: Option<Seen>,
    #[cfg(target_os = "linux")]
    watcher: Option<crate::sys::incremental::Watcher>,
    #[cfg(target_os = "linux")]
    listed: Option<crate::sys::incremental::Listing>,
}

impl QuietTicks {
    /// Forgets everything (a reloaded config): the next tick is full.
    pub(crate) fn reset(&mut self) {
        *self = QuietTicks::default();
    }

    /// Right before a full cycle reads its table: the listing that the
    /// next ticks compare against.
    pub(crate) fn before_full(&mut self, s: &Settings) {
        self.reset();
        #[cfg(target_os = "linux")]
        {
            self.listed = crate::sys::incremental::list(&s.proc_root).ok();
        }
        #[cfg(not(target_os = "linux"))]
        let _ = s;
    }

    /// After a full cycle: keep what it saw and watch its processes.
    /// (Only Linux has pidfds and `/proc`; elsewhere every tick is full.)
    pub(crate) fn after_full(&mut self, s: &Settings, report: Option<&CycleReport>) {
        let Some(seen) = report.and_then(|r| r.seen.as_deref()) else {
            return self.reset();
        };
        #[cfg(target_os = "linux")]
        {
            let Some(listed) = self.listed.take() else {
                return self.reset();
            };
            self.watcher = Some(crate::sys::incremental::Watcher::arm(
                &s.proc_root,
                seen,
                listed,
            ));
            self.seen = Some(seen.clone());
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (s, seen);
    }

    /// On a quiet tick, the agents per class (the last full cycle's, still
    /// true); `None`: run the full cycle.
    pub(crate) fn tick(&mut self, s: &Settings) -> Option<Vec<(Class, usize)>> {
        let next = self.learn_and_decide(s)?;
        let classes = next.classes.clone();
        self.seen = Some(next);
        Some(classes)
    }

    #[cfg(target_os = "linux")]
    fn learn_and_decide(&mut self, s: &Settings) -> Option<Seen> {
        let (seen, watcher) = (self.seen.as_ref()?, self.watcher.as_mut()?);
        let my_uid = nix::unistd::geteuid().as_raw();
        let rules = s.config.rules(std::process::id() as i32);
        let decided = watcher
            .learn(seen, &s.config.matching, my_uid)
            .map_err(|e| format!("{e:#}"))
            .and_then(|learned| crate::core::incremental::decide(seen, &learned, &rules));
        match decided {
            Ok(next) => Some(next),
            Err(why) => {
                crate::render::msg::info(&format!("full cycle: {why}"));
                None
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn learn_and_decide(&mut self, _s: &Settings) -> Option<Seen> {
        None
    }
}
