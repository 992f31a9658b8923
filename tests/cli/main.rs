//! The `genesys-compliance` binary as users run it: one test binary, one
//! module per command, and one harness (`util`) for running the binary,
//! the simulator and plain HTTP over loopback.

mod util;

mod audit;
mod demo;
mod docs;
mod extract;
mod nats;
mod network;
mod postgres;
mod report;
mod report_browser;
mod resume;
mod serve;
mod simulate;
mod sources;
mod verify;
mod workers;
