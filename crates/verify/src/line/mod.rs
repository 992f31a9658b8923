//! The fast path of `verify` for JSONL: one violation line in, one output
//! record out, without building a [`Violation`] or serialising it again.
//!
//! The line is read by a strict reader ([`reader`]) that checks every field
//! the typed [`Violation`] checks and finds where the evidence values lie;
//! the output record is the line itself, bytes untouched except the redacted
//! spans of evidence values, followed by the verdict. A line the reader is
//! not sure of (escapes in evidence values, so that their text is not the
//! raw bytes, among others) takes the typed path; so does any line that
//! fails, so that its error message is the typed one.

use crate::late::Late;
use crate::pii::{Finding, PiiType};
use crate::verdict::{OutputRecord, Rule, Tally, Verifier};
use compliance_api::{Severity, Violation};
use std::cell::RefCell;

mod compact;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod late_tests;
mod reader;
use std::io::Write;

thread_local! {
    // Findings of one line, with where their value starts in the line and
    // its evidence index; reused across lines.
    static CUTS: RefCell<Vec<(usize, usize, Finding)>> = RefCell::default();
}

impl Verifier {
    /// Verifies one JSON violation (`line`, one object) and appends its output
    /// record (no newline) to `out`, counting it in `tally`. Evidence is
    /// redacted in place unless PII is kept; every other byte of the
    /// violation is written as received. On error nothing is appended and
    /// the error is the one parsing a [`Violation`] gives. Unless PII is
    /// kept, the record then goes through the last pass ([`crate::late`]),
    /// counted in `tally.late_pii`.
    pub fn verify_json(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> Result<(), serde_json::Error> {
        let from = out.len();
        let sweep = !self.keep_pii();
        let (_, swept) = self.verify_line(line, out, tally, sweep)?;
        self.last_pass(out, from, sweep && !swept, tally);
        Ok(())
    }

    /// [`Verifier::verify_json`] of a line already known to be UTF-8 (say,
    /// checked with the rest of its read buffer), so not checked again.
    pub fn verify_json_text(
        &self,
        line: &str,
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> Result<(), serde_json::Error> {
        let from = out.len();
        let sweep = !self.keep_pii();
        let (_, swept) = self.verify_text(line, out, tally, sweep)?;
        self.last_pass(out, from, sweep && !swept, tally);
        Ok(())
    }

    /// The last pass over the record from `from` on, when it is `due` (PII
    /// is not kept, and the record was not swept as it was written).
    fn last_pass(&self, out: &mut Vec<u8>, from: usize, due: bool, tally: &mut Tally) {
        if due {
            tally.add_late(crate::late::sweep_json_tail(out, from));
        }
    }

    /// [`Verifier::verify_json`], with the last pass only if `sweep` and
    /// only on the fast path without escapes (where the record is swept
    /// while it is written). Returns whether the record may hold a
    /// backslash (always after the typed path), and whether the last pass
    /// was made.
    fn verify_line(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
        sweep: bool,
    ) -> Result<(bool, bool), serde_json::Error> {
        // One UTF-8 check for the whole line is faster than one per string.
        match simdutf8::basic::from_utf8(line) {
            Ok(text) => self.verify_text(text, out, tally, sweep),
            Err(_) => self.verify_typed(line, out, tally).map(|()| (true, false)),
        }
    }

    /// [`Verifier::verify_line`] of a line known to be UTF-8.
    fn verify_text(
        &self,
        text: &str,
        out: &mut Vec<u8>,
        tally: &mut Tally,
        sweep: bool,
    ) -> Result<(bool, bool), serde_json::Error> {
        let line = text.as_bytes();
        let Some(raw) = reader::read(text) else {
            return self.verify_typed(line, out, tally).map(|()| (true, false));
        };
        CUTS.with_borrow_mut(|cuts| {
            cuts.clear();
            let mut has_value = false;
            let evidence = raw.values.iter();
            for (index, value) in evidence.enumerate() {
                let Some(value) = value else { continue };
                has_value |= !value.is_empty();
                let base = value.as_ptr() as usize - line.as_ptr() as usize;
                self.scan_value(value, |f| cuts.push((base, index, f)));
            }
            let rule = self.rendered.get(raw.rule_id);
            let reason = rule.reason(raw.severity);
            tally.count(
                raw.severity,
                reason,
                cuts.iter().map(|c| c.2.kind),
                has_value,
            );
            // Escapes change what a string reads: those records are swept
            // string by string, after they are written.
            let escapes = raw.escapes || rule.escapes;
            let sweep = sweep && !escapes;
            let late = self.write_record(line, cuts, rule, raw.severity, sweep, out);
            tally.add_late(late);
            Ok((escapes, sweep))
        })
    }

    /// Writes the received line, its findings redacted, and the verdict:
    /// the same JSON as serialising an [`OutputRecord`], without building one.
    /// With `sweep` (the record holds no backslash), the last pass is made
    /// on the violation as soon as it is written, and the verdict is the
    /// rule's, swept once: what it redacted is returned.
    #[inline(always)]
    fn write_record(
        &self,
        line: &[u8],
        cuts: &[(usize, usize, Finding)],
        rule: &Rule,
        severity: Severity,
        sweep: bool,
        out: &mut Vec<u8>,
    ) -> Late {
        let from = out.len();
        out.reserve(line.len() + 256 + cuts.len() * ITEM);
        out.extend_from_slice(b"{\"violation\":");
        let mut copied = 0;
        if !self.keep_pii() {
            for (base, _, f) in cuts {
                out.extend_from_slice(&line[copied..base + f.start]);
                out.extend_from_slice(f.kind.marker().as_bytes());
                copied = base + f.end;
            }
        }
        out.extend_from_slice(&line[copied..]);
        let mut late = Late::default();
        if sweep {
            late = crate::late::sweep_unescaped_json_tail(out, from);
            let (verdict, verdict_late) = rule.swept_verdict(severity);
            out.extend_from_slice(verdict);
            late += verdict_late;
        } else {
            out.extend_from_slice(rule.verdict(severity));
        }
        let mut item = Item::default();
        for (i, (_, index, f)) in cuts.iter().enumerate() {
            item.len = 0;
            if i > 0 {
                item.put(b",");
            }
            item.head(f.kind);
            item.decimal(*index);
            item.put(b",\"start\":");
            item.decimal(f.start);
            item.put(b",\"end\":");
            item.decimal(f.end);
            item.put(b"}");
            item.append_to(out);
        }
        out.extend_from_slice(b"]}}");
        late
    }

    /// The typed path: parse a [`Violation`], verify, serialise.
    fn verify_typed(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        tally: &mut Tally,
    ) -> Result<(), serde_json::Error> {
        let violation: Violation = serde_json::from_slice(line)?;
        let record: OutputRecord = self.verify(violation);
        tally.add(&record);
        let len = out.len();
        serde_json::to_writer(&mut *out, &record).inspect_err(|_| out.truncate(len))?;
        let _ = out.flush();
        Ok(())
    }
}

/// The most bytes one finding of the verdict's `pii` array takes: a comma,
/// the longest head, three decimals of 20 digits, the other keys; rounded up.
const ITEM: usize = 128;

/// The most bytes of [`head`].
const HEAD: usize = 48;

/// `{"type":"<type>","evidence_index":`, padded to [`HEAD`] bytes so that it
/// is copied in one move of known size, and its length.
fn head(kind: PiiType) -> &'static ([u8; HEAD], usize) {
    const fn padded(text: &[u8]) -> ([u8; HEAD], usize) {
        let mut bytes = [0; HEAD];
        let mut k = 0;
        while k < text.len() {
            bytes[k] = text[k];
            k += 1;
        }
        (bytes, text.len())
    }
    static SSN: ([u8; HEAD], usize) = padded(b"{\"type\":\"ssn\",\"evidence_index\":");
    static CARD: ([u8; HEAD], usize) = padded(b"{\"type\":\"credit_card\",\"evidence_index\":");
    static EMAIL: ([u8; HEAD], usize) = padded(b"{\"type\":\"email\",\"evidence_index\":");
    static PHONE: ([u8; HEAD], usize) = padded(b"{\"type\":\"phone\",\"evidence_index\":");
    static IBAN: ([u8; HEAD], usize) = padded(b"{\"type\":\"iban\",\"evidence_index\":");
    match kind {
        PiiType::Ssn => &SSN,
        PiiType::CreditCard => &CARD,
        PiiType::Email => &EMAIL,
        PiiType::Phone => &PHONE,
        PiiType::Iban => &IBAN,
    }
}

/// One finding of the verdict's `pii` array, put together on the stack and
/// appended to the record in one copy of known size instead of seven.
struct Item {
    buf: [u8; ITEM],
    len: usize,
}

impl Default for Item {
    fn default() -> Item {
        Item {
            buf: [0; ITEM],
            len: 0,
        }
    }
}

impl Item {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The finding's opening, up to its evidence index.
    #[inline]
    fn head(&mut self, kind: PiiType) {
        let (bytes, len) = head(kind);
        self.buf[self.len..self.len + HEAD].copy_from_slice(bytes);
        self.len += len;
    }

    /// Appends `n` in decimal, as `Display` writes it, without the formatter.
    #[inline]
    fn decimal(&mut self, mut n: usize) {
        let digit = |n: usize| b'0' + (n % 10) as u8;
        // Indexes and offsets in evidence values are small: most take one
        // to three digits, written without counting them first.
        match n {
            0..=9 => return self.put(&[digit(n)]),
            10..=99 => return self.put(&[digit(n / 10), digit(n)]),
            100..=999 => return self.put(&[digit(n / 100), digit(n / 10), digit(n)]),
            _ => {}
        }
        let mut at = self.len + n.checked_ilog10().unwrap_or(0) as usize + 1;
        self.len = at;
        loop {
            at -= 1;
            self.buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
    }

    /// Appends the item to `out`: all [`ITEM`] bytes in one move of known
    /// size, then the padding cut off.
    #[inline]
    fn append_to(&self, out: &mut Vec<u8>) {
        let len = out.len();
        out.extend_from_slice(&self.buf);
        out.truncate(len + self.len);
    }

    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleMatrix;
    use serde_json::json;

    /// Both paths verify `line`, and give the same record and the same counts
    /// (before the last pass, which is the same for both).
    /// Records are parsed back, so that "13:04:05Z" and "13:04:05.000Z" compare equal.
    fn assert_paths_agree(verifier: &Verifier, line: &str) {
        let (mut fast, mut typed) = (Vec::new(), Vec::new());
        let (mut t1, mut t2) = (Tally::default(), Tally::default());
        verifier
            .verify_line(line.as_bytes(), &mut fast, &mut t1, false)
            .unwrap();
        verifier
            .verify_typed(line.as_bytes(), &mut typed, &mut t2)
            .unwrap();
        let fast: OutputRecord = serde_json::from_slice(&fast).unwrap();
        let typed: OutputRecord = serde_json::from_slice(&typed).unwrap();
        assert_eq!(fast, typed, "{line}");
        assert_eq!(t1, t2, "{line}");
    }

    /// A Luhn-valid run the detectors do not take for a card (no issuer
    /// starts with 7), in evidence and in a field the program does not know,
    /// is redacted by the last pass and counted; with PII kept, it stays.
    #[test]
    fn the_last_pass_redacts_and_counts_what_the_detectors_missed() {
        let line = json!({"id": "v1", "ruleId": "rule-uuid-001", "severity": "HIGH",
            "detectedAt": "2023-10-01T13:04:05Z", "note": "7000-0000-0000-0005",
            "evidence": [{"type": "TRANSCRIPT", "value": "ref 7000 0000 0000 0005 ok"}]})
        .to_string();
        for keep in [false, true] {
            let verifier = Verifier::new(RuleMatrix::design_default(), keep);
            let (mut out, mut tally) = (Vec::new(), Tally::default());
            verifier
                .verify_json(line.as_bytes(), &mut out, &mut tally)
                .unwrap();
            let record: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let value = &record["violation"]["evidence"][0]["value"];
            if keep {
                assert_eq!(tally.late_pii, 0);
                assert_eq!(value, "ref 7000 0000 0000 0005 ok");
            } else {
                assert_eq!(tally.late_pii, 2);
                assert_eq!(value, "ref [REDACTED:credit_card] ok");
                assert_eq!(record["violation"]["note"], "[REDACTED:credit_card]");
            }
            assert!(record["verdict"]["pii"].as_array().unwrap().is_empty());
        }
    }

    /// Both paths give the same record, up to how it is spelled (the fast
    /// path keeps the received bytes: timestamps, nulls, key order).
    #[test]
    fn fast_path_equals_typed_path() {
        let lines = [
            json!({"id": "v1", "ruleId": "rule-uuid-001", "severity": "HIGH", "detectedAt": "2023-10-01T13:04:05.120Z",
                   "confidence": 0.5, "x": {"y": [1, 2]},
                   "evidence": [{"type": "TRANSCRIPT", "value": "card 4111 1111 1111 1111 ok ünï"},
                                {"type": "SCREEN", "value": "mail jane@example.com and (415) 555-0132"},
                                {"type": "METADATA"}]}),
            json!({"id": "v2", "ruleId": "rule-uuid-002", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05Z",
                   "evidence": [{"type": "TRANSCRIPT", "value": "quote \" and card 4111 1111 1111 1111"}]}),
            json!({"id": "v3", "ruleId": "nope", "severity": "CRITICAL", "detectedAt": "2023-10-01T13:04:05Z"}),
            // More evidence items than are kept inline.
            json!({"id": "v4", "ruleId": "rule-uuid-001", "severity": "HIGH", "detectedAt": "2023-10-01T13:04:05Z",
                   "evidence": [{"type": "A", "value": "ssn 536-22-1234"}, {"type": "B"},
                                {"type": "C", "value": "x"}, {"type": "D", "value": "card 4111 1111 1111 1111"},
                                {"type": "E", "value": "mail jane@example.com"}, {"type": "F", "value": null},
                                {"type": "G", "value": "call (415) 555-0132"}]}),
        ];
        for keep in [false, true] {
            let verifier = Verifier::new(RuleMatrix::design_default(), keep);
            for line in &lines {
                assert_paths_agree(&verifier, &line.to_string());
            }
        }
    }

    /// The regulations rendered once per rule, and the reasons decided once
    /// per rule, are those the typed path gives, for every kind of rule.
    #[test]
    fn rendered_rules_equal_the_typed_verdict() {
        let rules = RuleMatrix::from_toml(
            r#"
            [rules."tolerant"]
            regulations = ["pci_dss_req6", "low_tolerance"]
            [rules."strict"]
            regulations = ["gdpr_art5", "quote \" back \\ é \u0001"]
            [rules."none"]
            regulations = []
            "#,
        )
        .unwrap();
        let verifier = Verifier::new(rules, false);
        for rule in ["tolerant", "strict", "none", "unlisted"] {
            for severity in ["LOW", "MEDIUM", "HIGH", "CRITICAL"] {
                let line = json!({"id": "v", "ruleId": rule, "severity": severity,
                    "detectedAt": "2023-10-01T13:04:05Z",
                    "evidence": [{"type": "T", "value": "ssn 536-22-1234"}]})
                .to_string();
                assert_paths_agree(&verifier, &line);
                let mut fast = Vec::new();
                verifier
                    .verify_json(line.as_bytes(), &mut fast, &mut Tally::default())
                    .unwrap();
                let record: OutputRecord = serde_json::from_slice(&fast).unwrap();
                assert_eq!(
                    record.verdict.regulations,
                    verifier.rules().regulations(rule),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn fast_path_equals_typed_path_on_generated_evidence() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let verifier = Verifier::new(RuleMatrix::design_default(), false);
        for i in 0..2000 {
            let values: Vec<String> = (0..1 + i % 3)
                .map(|_| compliance_simulator::evidence::evidence_text(&mut rng).0)
                .collect();
            let line = json!({"id": format!("v{i}"), "ruleId": "rule-uuid-001", "severity": "HIGH",
                "detectedAt": "2023-10-01T13:04:05.120Z",
                "evidence": values.iter().map(|v| json!({"type": "TRANSCRIPT", "value": v})).collect::<Vec<_>>()})
            .to_string();
            assert_paths_agree(&verifier, &line);
        }
    }

    #[test]
    fn an_escaped_timestamp_takes_the_typed_path() {
        let verifier = Verifier::new(RuleMatrix::design_default(), false);
        let line = br#"{"id":"v","ruleId":"rule-uuid-001","severity":"HIGH","detectedAt":"2023-10-01T13:04:05\u005a","evidence":[{"type":"T","value":"ssn 536-22-1234"}]}"#;
        let (mut out, mut tally) = (Vec::new(), Tally::default());
        verifier.verify_json(line, &mut out, &mut tally).unwrap();
        let record: OutputRecord = serde_json::from_slice(&out).unwrap();
        assert_eq!(record.verdict.pii.len(), 1);
        assert_eq!(tally.violations, 1);
    }

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            12345,
            1 << 40,
            usize::MAX,
        ] {
            let mut item = Item::default();
            item.put(b"x");
            item.decimal(n);
            assert_eq!(item.bytes(), format!("x{n}").as_bytes());
        }
    }

    /// The padded heads are the type names as serde writes them, and the
    /// longest finding fits in an item.
    #[test]
    fn items_are_written_as_serde_writes_findings() {
        for kind in PiiType::ALL {
            let mut item = Item::default();
            item.put(b",");
            item.head(kind);
            item.decimal(usize::MAX);
            item.put(b",\"start\":");
            item.decimal(usize::MAX);
            item.put(b",\"end\":");
            item.decimal(usize::MAX);
            item.put(b"}");
            let finding = crate::PiiFinding {
                kind,
                evidence_index: usize::MAX,
                start: usize::MAX,
                end: usize::MAX,
            };
            let expected = format!(",{}", serde_json::to_string(&finding).unwrap());
            assert_eq!(item.bytes(), expected.as_bytes());
            let mut out = b"x".to_vec();
            item.append_to(&mut out);
            assert_eq!(out, format!("x{expected}").into_bytes());
        }
    }

    #[test]
    fn errors_are_the_typed_ones_and_append_nothing() {
        let verifier = Verifier::new(RuleMatrix::design_default(), false);
        let mut out = b"kept".to_vec();
        let mut tally = Tally::default();
        for bad in [
            &b"{\"id\": \"v\"}"[..],
            b"not json",
            b"{\"id\": 1}",
            b"[]",
            br#"{"id":"v","ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T00:00:00Z","evidence":5}"#,
            br#"{"id":"v","ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T00:00:00+01:00"}"#,
        ] {
            let e = verifier.verify_json(bad, &mut out, &mut tally).unwrap_err();
            let typed = serde_json::from_slice::<Violation>(bad).unwrap_err();
            assert_eq!(e.to_string(), typed.to_string());
        }
        assert_eq!(out, b"kept");
        assert_eq!(tally, Tally::default());
    }

    /// Lines mutated at random, byte by byte: wherever the strict reader
    /// accepts one, the typed parse accepts it too and gives the same record.
    /// (Where the reader gives up, the typed path decides; that is covered above.)
    #[test]
    fn the_reader_accepts_nothing_the_typed_parse_refuses() {
        use rand::{Rng, SeedableRng};
        let lines = [
            r#"{"id":"a","conversationId":"c","ruleId":"rule-uuid-001","ruleName":"R","severity":"HIGH","detectedAt":"2023-10-01T13:04:05.120Z","confidence":0.92,"x":{"y":[1,-2.5,true,false,null,"q\"\\/\n"]},"evidence":[{"type":"TRANSCRIPT","participant":"AGENT","value":"card 4111 1111 1111 1111","startMs":10,"endMs":20,"z":[]}]}"#,
            r#"{"id":"b","ruleId":"rule-uuid-002","severity":"LOW","detectedAt":"2023-10-01T13:04:05Z","evidence":[{"type":"SCREEN","value":"ssn 536-22-1234"},{"type":"METADATA","value":null}],"agentId":null}"#,
            r#" { "id" : "c" , "ruleId" : "r" , "severity" : "CRITICAL" , "detectedAt" : "2023-10-01T13:04:05.123456789Z" , "evidence" : null , "n" : 0 } "#,
        ];
        const ALPHABET: &[u8] = b"{}[]:,\"\\ 0123456789-.eE+trufalsn\t\r\x01abcuZT";
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let verifier = Verifier::new(RuleMatrix::design_default(), false);
        let (mut accepted, mut tried) = (0, 0);
        for _ in 0..30_000 {
            let mut bytes = lines[rng.gen_range(0..lines.len())].as_bytes().to_vec();
            for _ in 0..rng.gen_range(1..=2) {
                let at = rng.gen_range(0..bytes.len());
                let c = ALPHABET[rng.gen_range(0..ALPHABET.len())];
                match rng.gen_range(0..3) {
                    0 => drop(bytes.remove(at)),
                    1 => bytes.insert(at, c),
                    _ => bytes[at] = c,
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            tried += 1;
            if reader::read(text.trim_ascii()).is_none() {
                continue;
            }
            accepted += 1;
            let typed = serde_json::from_str::<Violation>(text);
            assert!(
                typed.is_ok(),
                "accepted, but the typed parse refuses {text}: {typed:?}"
            );
            assert_paths_agree(&verifier, text.trim_ascii());
        }
        // The mutations must leave enough accepted lines for the check to mean something.
        assert!(accepted > tried / 10, "{accepted} of {tried} accepted");
    }
}
