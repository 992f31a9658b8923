//! Replacing findings in a text by `[REDACTED:<type>]`.

use crate::pii::Finding;

/// Returns `text` with every finding's span replaced by its marker. Findings
/// are those of [`crate::scan`] for this text (sorted, not overlapping); a
/// finding that overlaps an earlier one only extends what is replaced, so no
/// byte of any finding survives.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len() + findings.len() * 16);
    redact_into(text, findings, &mut out);
    out
}

/// [`redact`] into a reused buffer (cleared first).
pub fn redact_into(text: &str, findings: &[Finding], out: &mut String) {
    out.clear();
    let mut copied = 0;
    for f in findings {
        if f.end <= copied {
            continue;
        }
        // An overlapping finding extends the marker already written.
        if f.start >= copied {
            out.push_str(&text[copied..f.start]);
            out.push_str(f.kind.marker());
        }
        copied = f.end;
    }
    out.push_str(&text[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::PiiType;

    #[test]
    fn replaces_each_span_and_keeps_the_rest() {
        let text = "card 4111 1111 1111 1111, mail a@b.com.";
        let f = [
            Finding {
                kind: PiiType::CreditCard,
                start: 5,
                end: 24,
            },
            Finding {
                kind: PiiType::Email,
                start: 31,
                end: 38,
            },
        ];
        assert_eq!(
            redact(text, &f),
            "card [REDACTED:credit_card], mail [REDACTED:email]."
        );
        assert_eq!(redact(text, &[]), text);
    }

    #[test]
    fn overlapping_findings_leave_no_byte_behind() {
        let text = "0123456789";
        let f = [
            Finding {
                kind: PiiType::Phone,
                start: 1,
                end: 5,
            },
            Finding {
                kind: PiiType::Ssn,
                start: 3,
                end: 8,
            },
        ];
        assert_eq!(redact(text, &f), "0[REDACTED:phone]89");
    }
}
