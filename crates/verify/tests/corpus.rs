//! Precision and recall per PII type on a labelled corpus: the simulator's
//! evidence generator places PII at recorded spans among hard negatives
//! (order numbers, timestamps, tracking numbers, amounts, ZIP codes, invalid
//! cards, 9xx SSNs, bad-checksum IBANs, spoken non-numbers, ...), in four
//! languages. A finding counts as a true positive only with the exact type
//! and span. Figures are printed (`cargo test -p compliance-verify --test
//! corpus -- --nocapture`) and recorded in docs/benchmarks.md (verification section).

use compliance_simulator::evidence::evidence_text;
use compliance_verify::{scan, PiiType};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashSet};

const TEXTS: usize = 20_000;

#[derive(Default, Debug)]
struct Counts {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Counts {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

#[test]
fn precision_and_recall_per_type() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut by_type: BTreeMap<PiiType, Counts> = BTreeMap::new();
    let mut spoken = Counts::default();
    let mut examples = Vec::new();
    for _ in 0..TEXTS {
        let (text, truth) = evidence_text(&mut rng);
        let found: HashSet<(PiiType, usize, usize)> = scan(&text)
            .into_iter()
            .map(|f| (f.kind, f.start, f.end))
            .collect();
        let mut expected = HashSet::new();
        for t in &truth {
            let kind = PiiType::parse(t.kind).expect("a known type");
            let key = (kind, t.start, t.end);
            expected.insert(key);
            let hit = found.contains(&key);
            let c = by_type.entry(kind).or_default();
            if hit {
                c.tp += 1;
            } else {
                c.fn_ += 1;
                examples.push(format!(
                    "missed {kind} {:?} in {text:?}",
                    &text[t.start..t.end]
                ));
            }
            if t.spoken {
                if hit {
                    spoken.tp += 1;
                } else {
                    spoken.fn_ += 1;
                }
            }
        }
        for f in found.iter().filter(|f| !expected.contains(f)) {
            by_type.entry(f.0).or_default().fp += 1;
            examples.push(format!("false {} {:?} in {text:?}", f.0, &text[f.1..f.2]));
        }
    }
    println!("corpus: {TEXTS} texts (seed 2026)");
    println!("| type | true pos. | false pos. | false neg. | precision | recall |");
    println!("|---|---|---|---|---|---|");
    for (kind, c) in &by_type {
        println!(
            "| {kind} | {} | {} | {} | {:.4} | {:.4} |",
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        );
    }
    println!(
        "| spoken numbers | {} | | {} | | {:.4} |",
        spoken.tp,
        spoken.fn_,
        spoken.recall()
    );
    for e in examples.iter().take(20) {
        println!("{e}");
    }
    for kind in PiiType::ALL {
        let c = &by_type[&kind];
        assert!(
            c.tp >= 500,
            "too few {kind} in the corpus to measure: {c:?}"
        );
        assert!(
            c.precision() >= 0.995,
            "{kind} precision {:.4}",
            c.precision()
        );
        assert!(c.recall() >= 0.995, "{kind} recall {:.4}", c.recall());
    }
    assert!(spoken.tp >= 500, "too few spoken numbers: {spoken:?}");
    assert!(
        spoken.recall() >= 0.95,
        "spoken recall {:.4}",
        spoken.recall()
    );
}
