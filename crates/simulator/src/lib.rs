//! A faithful simulator of the compliance-violations API (`compliance-api.md`).

pub mod evidence;
