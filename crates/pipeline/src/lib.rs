//! The extraction pipeline: extracted violations → verification → output,
//! audit record → hash-chained log → webhook outbox.

pub mod health;
pub mod metrics;
pub mod output;
pub mod run;
