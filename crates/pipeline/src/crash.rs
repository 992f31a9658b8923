//! Crash points for the tests that kill a run at each step and check that a
//! rerun ends with every violation exactly once. The function lives in
//! `compliance-client`, the crate below every step that has a crash point
//! (the sources' job polling has one too).

pub(crate) use compliance_client::crash_point;
