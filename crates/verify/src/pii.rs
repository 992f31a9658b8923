//! What a PII finding is: its type and where it lies.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of customer data the verifier finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiType {
    Ssn,
    CreditCard,
    Email,
    Phone,
    Iban,
}

impl PiiType {
    /// Every type, in the order summaries list them.
    pub const ALL: [PiiType; 5] = [
        PiiType::Ssn,
        PiiType::CreditCard,
        PiiType::Email,
        PiiType::Phone,
        PiiType::Iban,
    ];

    /// The snake_case name used in output records and redaction markers.
    pub fn as_str(&self) -> &'static str {
        match self {
            PiiType::Ssn => "ssn",
            PiiType::CreditCard => "credit_card",
            PiiType::Email => "email",
            PiiType::Phone => "phone",
            PiiType::Iban => "iban",
        }
    }

    /// Parses a snake_case name (`ssn`, `credit_card`, `email`, `phone`, `iban`).
    pub fn parse(name: &str) -> Option<PiiType> {
        PiiType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The marker that replaces a finding of this type.
    pub fn marker(&self) -> &'static str {
        match self {
            PiiType::Ssn => "[REDACTED:ssn]",
            PiiType::CreditCard => "[REDACTED:credit_card]",
            PiiType::Email => "[REDACTED:email]",
            PiiType::Phone => "[REDACTED:phone]",
            PiiType::Iban => "[REDACTED:iban]",
        }
    }

    /// Rank among overlapping findings of equal length: lower wins.
    pub(crate) fn specificity(&self) -> u8 {
        match self {
            PiiType::Email => 0,
            PiiType::Iban => 1,
            PiiType::CreditCard => 2,
            PiiType::Ssn => 3,
            PiiType::Phone => 4,
        }
    }
}

impl fmt::Display for PiiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of PII in a text: `text[start..end]` (UTF-8 byte offsets, on
/// character boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Finding {
    pub kind: PiiType,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    /// Length of the span in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span is empty (never true of a finding from [`crate::scan`]).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}
