//! Crash points for the tests that kill a run at each step and check that a
//! rerun ends with every violation exactly once.

/// For crash tests only: with `GENESYS_COMPLIANCE_CRASH_AT` set to `point`,
/// the process aborts there, as abruptly as a kill -9 (nothing is flushed
/// or cleaned up). Points: `after-plan`, `after-page`, `after-complete`,
/// `before-delivery` (the record appended and its webhook queued, nothing
/// sent), `after-audit-append` (and delivered), `after-rename`.
pub(crate) fn crash_point(point: &str) {
    if std::env::var_os("GENESYS_COMPLIANCE_CRASH_AT").is_some_and(|at| at == point) {
        std::process::abort();
    }
}
