//! The verification stage of `genesys-compliance`: finds customer PII in
//! violation evidence, redacts it, and judges each violation against a rule
//! matrix.
//!
//! - [`scan`] finds social security numbers, payment cards, emails, phone
//!   numbers and IBANs, each validated (SSA rules, Luhn and issuer ranges,
//!   public-suffix list, national numbering lengths, mod 97), including
//!   numbers a speech-to-text engine wrote as words ("four one one one",
//!   "double five"); spans are byte offsets into the original text.
//! - [`redact`] replaces findings by `[REDACTED:<type>]`; [`late`] is the last
//!   pass over what leaves the program, for card numbers the detectors missed.
//! - [`RuleMatrix`] reads the rules file; [`Verifier`] turns a
//!   [`compliance_api::Violation`] into an [`OutputRecord`]; [`Tally`] counts.
//!
//! No I/O happens here: callers read and write.
//!
//! ```
//! use compliance_verify::{redact, scan, PiiType};
//! let text = "my card is 4111 1111 1111 1111 and my number is four one five, five five five, oh one three two";
//! let found = scan(text);
//! assert_eq!(found[0].kind, PiiType::CreditCard);
//! assert_eq!(found[1].kind, PiiType::Phone);
//! assert_eq!(redact(text, &found), "my card is [REDACTED:credit_card] and my number is [REDACTED:phone]");
//! ```

pub mod detect;
pub mod late;
mod line;
mod masks;
mod pii;
mod redact;
mod rules;
mod scan;
mod utf8;
mod verdict;

pub use pii::{Finding, PiiType};
pub use redact::{redact, redact_into};
pub use rules::{Rule, RuleMatrix, RulesError, LOW_TOLERANCE};
pub use scan::{scan, Scanner};
pub use utf8::Utf8Lines;
pub use verdict::{OutputRecord, PiiFinding, Reason, Status, Tally, Verdict, Verifier};
