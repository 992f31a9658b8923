//! Validation of candidate values, one module per PII type. These functions
//! see digits (or characters) already cut out of the text; finding the
//! candidates is [`crate::scan`]'s job.

pub mod card;
pub mod email;
pub mod iban;
pub mod phone;
mod phone_plans;
pub mod ssn;
