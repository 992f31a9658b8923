//! The one way this program builds HTTP clients, so that the API, login and
//! webhook hosts are reached alike: the same trust store (system roots,
//! bundled roots, and a private CA given with `--ca-cert`), the same proxy
//! settings from the environment, a total timeout per request, and answers
//! read with a bound. Also the TLS side of the loopback servers (simulator,
//! webhook receiver), and with the `test-ca` feature a private CA made on
//! the spot.

#![deny(missing_docs)]

mod body;
mod ca;
mod client;
mod failure;
mod server;
mod size;
#[cfg(feature = "test-ca")]
mod test_ca;

pub use body::{read_bounded, BodyError};
pub use ca::{CaBundle, CaError};
pub use client::{client, is_loopback, ClientSettings, SetupError};
pub use failure::untrusted_certificate;
pub use server::{ServerTls, TlsSetupError};
pub use size::{ByteSize, ByteSizeError};
#[cfg(feature = "test-ca")]
pub use test_ca::TestCa;
