//! Figures for docs/benchmarks.md (simulator section, real endpoints): what
//! the organisation behind the real Genesys Cloud endpoints costs to make and
//! hold, and how fast its transcripts are rendered (each is generated again
//! from its seed when served). Run with
//! `cargo bench -p compliance-simulator --bench org` (release build).

mod common;
use common::rss_mib;
use compliance_simulator::{transcript_json, Org, SimConfig};
use std::time::Instant;

fn main() {
    let config = SimConfig::default();
    for n in [10_000, 100_000] {
        let before = rss_mib();
        let t = Instant::now();
        let org = Org::generate(42, n, config.start, config.end);
        let secs = t.elapsed().as_secs_f64();
        let held = rss_mib() - before;
        println!(
            "org: {n} conversations, {} evaluations generated in {secs:.2} s, RSS +{held:.1} MiB ({:.0} bytes/conversation)",
            org.evaluations.len(),
            held * 1024.0 * 1024.0 / n as f64
        );
        if n == 10_000 {
            let t = Instant::now();
            let mut bytes = 0;
            for c in &org.conversations {
                bytes += serde_json::to_vec(&transcript_json(c, org.division_id))
                    .unwrap()
                    .len();
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "transcripts: {n} rendered in {secs:.2} s ({:.0}/s, {:.0} bytes each)",
                n as f64 / secs,
                bytes as f64 / n as f64
            );
        }
    }
}
