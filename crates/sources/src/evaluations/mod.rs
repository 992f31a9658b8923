//! The `evaluations` source: failed fatal and critical questions of quality
//! evaluations (spec genesys-real-apis.md §3).

/// The permissions the source's OAuth client needs (spec §3, §6).
pub const PERMISSIONS: &[&str] = &[
    "quality:evaluation:searchAny",
    "quality:evaluation:view",
    "quality:evaluationForm:view",
];

/// The `evaluations` source (not built yet).
pub struct Evaluations;
