//! Issue 17's regression test, through the whole pipeline: violations whose
//! evidence holds every card form of the published card table (every brand,
//! IIN range, length, printed grouping and separator, and the number said),
//! served by the simulator over loopback HTTP, extracted, verified and
//! audited; no digit run of any of these cards may reach the output, the
//! rejects or the webhook body.

mod common;

use common::extractor;
use compliance_audit::{WebhookEndpoint, WebhookSecret};
use compliance_client::{Query, Window};
use compliance_pipeline::{AuditTarget, ExtractJob, OutputTarget, Webhook};
use compliance_receiver::WebhookReceiver;
use compliance_simulator::cards::{self, CardForm};
use compliance_simulator::{SimConfig, SimEvidence, Simulator};
use compliance_store::{SqliteStore, StateStore};
use compliance_verify::{RuleMatrix, Verifier};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::sync::Arc;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PER_VIOLATION: usize = 25;

fn sentence(form: &CardForm) -> String {
    format!("Card on file: {} thanks.", form.text)
}

#[tokio::test]
async fn no_card_of_any_form_leaves_through_output_rejects_or_webhook() {
    let config = SimConfig {
        violations: 1,
        ..SimConfig::default()
    };
    let (start, end) = (config.start, config.end);
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let forms = cards::every_form(&mut ChaCha8Rng::seed_from_u64(4));
    // Each violation carries a handful of forms, one per evidence item; one
    // in ten is served without its severity, so that it goes to the rejects.
    let template = sim.dataset().violations[0].clone();
    let violations: Vec<_> = forms
        .chunks(PER_VIOLATION)
        .enumerate()
        .map(|(i, chunk)| {
            let mut v = template.clone();
            v.id = format!("00000000-0000-4000-8000-{i:012}");
            v.evidence = Some(
                chunk
                    .iter()
                    .map(|f| SimEvidence {
                        kind: "TRANSCRIPT",
                        participant: Some("CUSTOMER"),
                        value: sentence(f),
                        start_ms: None,
                        end_ms: None,
                        confidence_band: None,
                    })
                    .collect(),
            );
            v.pii = vec![Vec::new(); chunk.len()];
            v.served_without = (i % 10 == 3).then_some("severity");
            v
        })
        .collect();
    let rejected = violations
        .iter()
        .filter(|v| v.served_without.is_some())
        .count();
    let in_output: usize = violations
        .iter()
        .filter(|v| v.served_without.is_none())
        .map(|v| v.evidence.as_ref().map_or(0, Vec::len))
        .sum();
    sim.add_violations(violations);

    let secret = WebhookSecret::parse(SECRET).unwrap();
    let receiver = WebhookReceiver::start(Some(secret.clone())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
    let out = dir.path().join("violations.jsonl");
    let job = ExtractJob {
        source: compliance_sources::SourceKind::Agentassist,
        query: Query {
            window: Window::new(start, end).unwrap(),
            filters: Default::default(),
            page_size: compliance_api::PageSize::new(100).unwrap(),
        },
        output: OutputTarget::File(out.clone()),
        store: Some(store.clone()),
        audit: Some(AuditTarget {
            dir: dir.path().join("audit"),
            store,
            webhook: Some(Webhook {
                endpoint: WebhookEndpoint::parse(&receiver.url()).unwrap(),
                secret: Some(secret),
                retry: None,
                ca: None,
                enable_command: None,
            }),
        }),
    };
    let verifier = Verifier::new(RuleMatrix::design_default(), false);
    let report = job
        .run(&extractor(&sim), &verifier, std::future::pending())
        .await
        .unwrap();
    assert_eq!(report.progress.rejects, rejected as u64);

    // Every evidence value of the output is its sentence with the card
    // replaced by the marker: not one digit of it is left.
    let output = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = output
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut checked = 0;
    for line in &lines {
        let Some(evidence) = line["violation"]["evidence"].as_array() else {
            continue;
        };
        for item in evidence {
            let value = item["value"].as_str().unwrap();
            if value.starts_with("Card on file: ") {
                assert_eq!(value, "Card on file: [REDACTED:credit_card] thanks.");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, in_output);
    assert_eq!(
        report.progress.tally.late_pii, 0,
        "the detectors missed none"
    );

    // Nor in the rejects, nor in the webhook body: not as written, not as a
    // plain run of its digits.
    let rejects = std::fs::read_to_string(report.rejects_file.as_ref().unwrap()).unwrap();
    let webhooks = receiver.messages();
    assert_eq!(webhooks.len(), 1);
    let body = String::from_utf8(webhooks[0].body.clone()).unwrap();
    for form in &forms {
        for (name, text) in [
            ("output", &output),
            ("rejects", &rejects),
            ("webhook", &body),
        ] {
            assert!(
                !text.contains(&form.text) && !text.contains(&form.digits),
                "{} card {:?} leaked into the {name}",
                form.brand,
                form.text
            );
        }
    }
    assert!(rejects.matches("[REDACTED:credit_card]").count() >= rejected);
    sim.shutdown().await;
}
