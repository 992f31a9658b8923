//! The extraction pipeline: extracted violations → verification → output,
//! audit record → hash-chained log → webhook outbox; checkpointed so that a
//! killed run continues where it stopped.

pub mod health;
pub mod job;
pub mod late;
pub mod metrics;
pub mod output;
pub mod run;
pub mod serve;
