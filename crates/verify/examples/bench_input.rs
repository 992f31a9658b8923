//! Writes N violations of about 600 bytes each, one API `Violation` per line,
//! with evidence from the simulator's labelled generator: the input of the
//! `verify` benchmark (scripts/bench-verify.sh).
//!
//! Usage: bench_input N FILE [SEED]

use compliance_simulator::evidence::evidence_text;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::io::{BufWriter, Write};

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.gen();
    let h = |r: &[u8]| r.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-4{}-8{}-{}",
        h(&b[..4]),
        h(&b[4..6]),
        &h(&b[6..8])[1..],
        &h(&b[8..10])[1..],
        h(&b[10..])
    )
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_input N FILE [SEED]";
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let path = args.get(2).expect(usage);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let rules = [
        ("rule-uuid-001", "Card number read back to customer"),
        ("rule-uuid-002", "Payment taken without secure IVR"),
        ("rule-uuid-003", "Missing call recording disclosure"),
    ];
    let severities = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];
    for i in 0..n {
        let (rule, name) = rules[rng.gen_range(0..rules.len())];
        let conversation = uuid(&mut rng);
        let mut clock: i64 = rng.gen_range(0..600_000);
        let v = json!({
            "id": uuid(&mut rng),
            "conversationId": conversation,
            "agentId": uuid(&mut rng),
            "policyId": uuid(&mut rng),
            "ruleId": rule,
            "ruleName": name,
            "severity": severities[rng.gen_range(0..4)],
            "detectedAt": format!("2023-10-01T{:02}:{:02}:{:02}.{:03}Z", i / 3600 % 24, i / 60 % 60, i % 60, i % 1000),
            "segmentReference": format!("conversation/{conversation}/segment/{}", rng.gen_range(1..40)),
            "confidence": (rng.gen_range(0.5..1.0f64) * 100.0).round() / 100.0,
        });
        // Evidence until the record is about 600 bytes.
        let mut v = v;
        let mut size = v.to_string().len() + 14;
        let mut evidence = Vec::new();
        loop {
            let (text, _) = evidence_text(&mut rng);
            let end = clock + rng.gen_range(1_000..9_000);
            let item = json!({
                "type": "TRANSCRIPT",
                "participant": if rng.gen_bool(0.5) { "AGENT" } else { "CUSTOMER" },
                "value": text, "startMs": clock, "endMs": end,
            });
            let len = item.to_string().len() + 1;
            if !evidence.is_empty() && size + len > 640 {
                break;
            }
            size += len;
            evidence.push(item);
            clock = end;
        }
        v["evidence"] = Value::Array(evidence);
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
