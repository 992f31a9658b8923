//! The page on inputs larger and stranger than the demo's: its size bound,
//! its self-containment, and PII that the input kept.

use compliance_report::{build, source, Request, Window};
use std::io::Write;

// Published test values, not the generator's: the card networks' Visa test
// number and the IBAN example of ISO 13616 (as the SWIFT IBAN registry prints it).
const CARD: &str = "4111 1111 1111 1111";
const IBAN: &str = "GB82 WEST 1234 5698 7654 32";

/// One output record as `extract --keep-pii` writes it: evidence unredacted.
fn record(i: u64) -> String {
    let severity = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][(i % 4) as usize];
    // Two years of violations, every few minutes.
    let at = chrono::DateTime::from_timestamp(1_672_531_200 + (i as i64) * 317, 0).unwrap();
    let (status, reason, regulations) = if i % 3 == 0 {
        ("false_positive", r#""no_regulatory_mapping""#, "[]")
    } else {
        ("validated", "null", r#"["gdpr_art5"]"#)
    };
    let value = format!("my card is {CARD} and my iban {IBAN}");
    format!(
        r#"{{"violation":{{"id":"v-{i}","agentId":"agent-{}","queueId":"queue-{}","ruleId":"rule-{}","ruleName":"Rule {} for {CARD}","severity":"{severity}","detectedAt":"{}","evidence":[{{"type":"TRANSCRIPT","value":"{value}"}}]}},"verdict":{{"status":"{status}","reason":{reason},"regulations":{regulations},"pii":[{{"type":"credit_card","evidence_index":0,"start":11,"end":30}},{{"type":"iban","evidence_index":0,"start":42,"end":69}}]}}}}"#,
        i % 60_000,
        i % 5_000,
        i % 30_000,
        i % 30_000,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

#[test]
fn a_large_varied_input_gives_a_small_self_contained_page_without_pii() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("out.jsonl");
    let n = 200_000u64;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..n {
        writeln!(file, "{}", record(i)).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let audit = dir.path().join("audit");
    std::fs::create_dir(&audit).unwrap();

    let report = build(&Request {
        inputs: source::resolve(input.to_str().unwrap()).unwrap(),
        audit_dir: audit,
        store: None,
        window: Window::default(),
        title: "large".into(),
        pseudonyms: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let html = &report.html;

    assert!(html.len() < 2_000_000, "the page is {} bytes", html.len());
    assert_eq!(report.aggregates.tally.violations, n);
    // 60,000 agents: past the count limit, still all counted in the totals.
    assert!(report.aggregates.agents.capped);
    let shown: u64 = report
        .aggregates
        .agents
        .rows
        .iter()
        .map(|(_, c)| c.total())
        .sum();
    assert_eq!(shown + report.aggregates.agents.others.total(), n);

    for needle in ["4111", "1111 1111", "WEST", "5698"] {
        assert!(!html.contains(needle), "`{needle}` is on the page");
    }
    assert!(
        html.contains("[REDACTED:credit_card]"),
        "redacted rule names show the marker"
    );
    assert!(
        html.contains("written with --keep-pii"),
        "the page says the input kept PII"
    );
    self_contained(html);
}

/// Nothing on the page refers to another resource: no URL, no script, no link.
fn self_contained(html: &str) {
    for forbidden in [
        "http://", "https://", "<script", "<link", "src=", "url(", "@import", "<iframe", "<img",
    ] {
        assert!(!html.contains(forbidden), "`{forbidden}` is on the page");
    }
}
