//! Every line the pipeline writes (output records, rejects) goes through
//! the last pass ([`compliance_verify::late`]) unless PII is kept: it is
//! serialised, swept, and written as it then is. Log lines go through it
//! always ([`sweep_log_line`]).

use crate::output::{erased::Line, OutputError};
use compliance_verify::late::Late;
use std::cell::RefCell;

thread_local! {
    // The serialised line and its swept copy, reused across lines.
    static BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::default();
}

/// A line already serialised to JSON, written as it is.
pub struct Json<'a>(pub &'a [u8]);

impl Line for Json<'_> {
    fn write_json(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
        out.write_all(self.0).map_err(serde_json::Error::io)
    }
}

/// Serialises `line`, redacts the card numbers the detectors missed (unless
/// `keep_pii`), and hands the result to `write`. Says how many were
/// redacted; each is counted in `genesys_compliance_late_pii_total`. They are
/// not logged one by one: the caller logs the run's count once
/// ([`warn_late_pii`]), since a day of evidence can hold hundreds.
pub fn write_swept(
    line: &impl serde::Serialize,
    keep_pii: bool,
    write: impl FnOnce(&Json) -> Result<(), OutputError>,
) -> Result<Late, OutputError> {
    BUFFERS.with_borrow_mut(|(raw, swept)| {
        raw.clear();
        serde_json::to_writer(&mut *raw, line).expect("a record serialises to JSON");
        if keep_pii {
            write(&Json(raw))?;
            return Ok(Late::default());
        }
        swept.clear();
        let late = compliance_verify::late::sweep_json(raw, swept);
        if late.total() > 0 {
            metrics::counter!(crate::metrics::LATE_PII).increment(late.total());
        }
        write(&Json(swept))?;
        Ok(late)
    })
}

/// Logs, once, what the last pass redacted in a run (`late`, from
/// [`compliance_verify::Tally::late`] or a difference of two): a warning
/// with the counts and what they mean when there was anything, never the
/// digits; nothing otherwise.
pub fn warn_late_pii(late: Late) {
    if late.total() == 0 {
        return;
    }
    tracing::warn!(
        late_pii = late.total(),
        late_pii_issued_range = late.issued_range,
        "the last pass redacted {} Luhn-valid runs of 12-19 digits that the PII detectors did \
         not take for card numbers (late_pii), each redacted anyway as a defence in depth: {} in \
         an issued card range (a card number written as no card is printed, such as the \
         simulator's deliberate hard negatives, or a detector gap: if it is written as cards \
         are, please report the brand and format, never the number) and {} in no issued range \
         (numbers no card brand issues, such as the simulator's deliberately Luhn-valid hard \
         negatives and millisecond timestamps). See docs/late-pii.md",
        late.total(),
        late.issued_range,
        late.no_issued_range,
    );
}

/// Appends one formatted log line (a JSON object with `json`) to `out`
/// through the last pass, counting what it redacts in
/// `genesys_compliance_late_pii_total`. Logs are swept even with
/// `--keep-pii`: that flag keeps PII in the output, not in logs.
pub fn sweep_log_line(line: &[u8], json: bool, out: &mut Vec<u8>) {
    let late = if json {
        compliance_verify::late::sweep_json(line, out)
    } else {
        compliance_verify::late::sweep_text(line, out)
    };
    if late.total() > 0 {
        metrics::counter!(crate::metrics::LATE_PII).increment(late.total());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_swept_and_json_ones_stay_json() {
        let mut out = Vec::new();
        sweep_log_line(b"WARN said 4111 1111 1111 1111 at 12:00\n", false, &mut out);
        assert_eq!(out, b"WARN said [REDACTED:credit_card] at 12:00\n");
        out.clear();
        let line = br#"{"fields":{"message":"said 4111111111111111","n":4111111111111111}}"#;
        sweep_log_line(line, true, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["fields"]["message"], "said [REDACTED:credit_card]");
        assert_eq!(v["fields"]["n"], 4111111111111111u64);
    }
}
