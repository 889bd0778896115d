//! Exit codes, in one place (listed in the man page under EXIT STATUS).
//! Commands return these; only `main` turns them into the process status.

/// A process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(pub u8);

impl ExitCode {
    /// Success; `pty`: usage below the warning threshold; `check`: OK.
    pub(crate) const OK: ExitCode = ExitCode(0);
    /// Runtime error; `explain`: no such pid; `pty`/`check`: WARNING;
    /// `doctor`: a check failed.
    pub(crate) const FAILURE: ExitCode = ExitCode(1);
    pub(crate) const WARNING: ExitCode = ExitCode(1);
    /// Usage error; `pty`/`check`: CRITICAL.
    pub(crate) const USAGE: ExitCode = ExitCode(2);
    pub(crate) const CRITICAL: ExitCode = ExitCode(2);
    /// `check`: UNKNOWN (bad arguments, or the checks could not run).
    pub(crate) const UNKNOWN: ExitCode = ExitCode(3);
    /// EX_TEMPFAIL: another cycle holds the lock.
    pub(crate) const LOCK_BUSY: ExitCode = ExitCode(75);
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_the_spec() {
        assert_eq!(ExitCode::OK.0, 0);
        assert_eq!(ExitCode::FAILURE.0, 1);
        assert_eq!(ExitCode::USAGE.0, 2);
        assert_eq!(ExitCode::UNKNOWN.0, 3);
        assert_eq!(ExitCode::LOCK_BUSY.0, 75);
        assert_eq!(ExitCode::WARNING, ExitCode::FAILURE);
        assert_eq!(ExitCode::CRITICAL, ExitCode::USAGE);
    }
}
