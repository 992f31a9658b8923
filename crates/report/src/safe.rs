//! What may appear on the page: text that went through the redaction, and
//! agent ids replaced by keyed pseudonyms when asked.

use compliance_verify::{late, redact, scan};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Text from the input, scanned for PII and redacted (`[REDACTED:<type>]`)
/// whatever the input says about itself: the only text from violations the
/// renderer accepts. Output written with `--keep-pii` gets no further.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Redacted(String);

impl Redacted {
    /// `text` with every PII finding replaced by its marker, then the last
    /// pass over what leaves the program ([`compliance_verify::late`]).
    pub fn new(text: &str) -> Redacted {
        let found = scan(text);
        let redacted = if found.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(redact(text, &found))
        };
        let mut swept = Vec::with_capacity(redacted.len());
        late::sweep_text(redacted.as_bytes(), &mut swept);
        // The sweep only swaps ASCII digit runs for an ASCII marker.
        Redacted(String::from_utf8(swept).expect("UTF-8 in, UTF-8 out"))
    }

    /// [`Redacted::new`], then cut to about `max` bytes (after redaction, so
    /// that a cut never hides part of a number from the scan).
    pub fn excerpt(text: &str, max: usize) -> Redacted {
        let Redacted(mut full) = Redacted::new(text);
        if full.len() > max {
            let mut end = max;
            while !full.is_char_boundary(end) {
                end -= 1;
            }
            full.truncate(end);
            full.push('…');
        }
        Redacted(full)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the pseudonym key came from, as the page states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key the user keeps (such as `COMPLIANCE_PSEUDONYM_KEY`): the same
    /// key gives the same pseudonyms in every report.
    Named(String),
    /// A random key made for one report and not kept.
    Random,
}

/// Stable pseudonyms for agent ids: `agent-` and the first 12 hex digits of
/// HMAC-SHA256 over the id, keyed. A bare hash of an id would not do: agent
/// ids are UUIDs the organisation lists, so anyone could hash the list.
#[derive(Clone)]
pub struct Pseudonyms {
    key: Vec<u8>,
    source: KeySource,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonyms")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The shortest key [`Pseudonyms::keyed`] accepts, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

impl Pseudonyms {
    /// Pseudonyms keyed with `key` (at least [`MIN_KEY_BYTES`]), from the place `name`.
    pub fn keyed(key: &[u8], name: &str) -> Result<Pseudonyms, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "{name} holds {} bytes; give at least {MIN_KEY_BYTES} random bytes \
                 (such as the output of `openssl rand -hex 32`)",
                key.len()
            ));
        }
        Ok(Pseudonyms {
            key: key.to_vec(),
            source: KeySource::Named(name.to_owned()),
        })
    }

    /// Pseudonyms keyed with a random key for one report: stable within it,
    /// not comparable with another report's.
    pub fn random() -> Pseudonyms {
        Pseudonyms {
            key: rand::random::<[u8; 32]>().to_vec(),
            source: KeySource::Random,
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The pseudonym of `agent_id`.
    pub fn of(&self, agent_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(agent_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("agent-{}", &hex::encode(digest)[..12])
    }

    /// What the page says about the pseudonyms.
    pub fn describe(&self) -> String {
        match &self.source {
            KeySource::Named(name) => format!(
                "Agent ids are replaced by pseudonyms: HMAC-SHA256 of the id keyed with {name}; \
                 the same key gives the same pseudonyms in every report, and without it they \
                 cannot be traced back."
            ),
            KeySource::Random => "Agent ids are replaced by pseudonyms: HMAC-SHA256 of the id \
                keyed with a random key made for this report and not kept; they are stable \
                within this report only (set COMPLIANCE_PSEUDONYM_KEY for pseudonyms that \
                stay the same across reports)."
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Numbers from published references, not from the generator: the
    // payment-card test number of the card networks' documentation, the
    // IBAN example of ISO 13616 (as the ECBS/SWIFT registry prints it), and
    // an SSN in a range the SSA assigns.
    #[test]
    fn redaction_removes_pii_that_the_input_kept() {
        let text =
            "card 4111 1111 1111 1111, iban GB82 WEST 1234 5698 7654 32, mail jane.doe@example.com";
        let safe = Redacted::new(text);
        assert!(!safe.as_str().contains("4111"), "{}", safe.as_str());
        assert!(!safe.as_str().contains("WEST"), "{}", safe.as_str());
        assert!(!safe.as_str().contains("jane.doe"), "{}", safe.as_str());
        assert!(safe.as_str().contains("[REDACTED:credit_card]"));
        // Text already redacted stays as it is.
        assert_eq!(Redacted::new(safe.as_str()), safe);
        // A Luhn-valid run in groups cards are not printed in goes too (by
        // the detectors or, failing them, the last pass).
        let odd = Redacted::new("ref 41 1111 1111 1111 11");
        assert!(!odd.as_str().contains("1111"), "{}", odd.as_str());
    }

    #[test]
    fn an_excerpt_is_cut_after_redaction() {
        let text = "x".repeat(10) + " 4111 1111 1111 1111";
        let cut = Redacted::excerpt(&text, 16);
        assert!(!cut.as_str().contains("4111"), "{}", cut.as_str());
        assert!(cut.as_str().ends_with('…'));
    }

    #[test]
    fn pseudonyms_are_keyed_stable_and_distinct() {
        let a = Pseudonyms::keyed(b"0123456789abcdef", "K").unwrap();
        let b = Pseudonyms::keyed(b"fedcba9876543210", "K").unwrap();
        let id = "5a3b1f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(a.of(id), a.of(id));
        assert_ne!(a.of(id), b.of(id), "another key gives other pseudonyms");
        assert_ne!(a.of(id), a.of("another"));
        assert!(!a.of(id).contains(&id[..8]));
        // HMAC-SHA256 (RFC 2104) over the id, not a bare hash of it.
        let bare = hex::encode(<Sha256 as sha2::Digest>::digest(id.as_bytes()));
        assert_ne!(a.of(id), format!("agent-{}", &bare[..12]));
        assert!(Pseudonyms::keyed(b"short", "COMPLIANCE_PSEUDONYM_KEY")
            .unwrap_err()
            .starts_with("COMPLIANCE_PSEUDONYM_KEY holds 5 bytes"));
    }
}
