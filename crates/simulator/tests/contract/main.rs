//! The simulator against `compliance-api.md`, over real loopback HTTP, one
//! module per section of the contract so that a reader can tick off each
//! sentence. Each test starts its own simulator on 127.0.0.1:0; it stops when
//! the test drops it.

mod harness;

mod s1_hosts;
mod s2_token;
mod s3_constraints;
mod s3_pages;
mod s4_correlation;
mod s5_errors;
mod s6_rate_limits;

mod faults;
