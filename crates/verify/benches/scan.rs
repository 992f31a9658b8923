//! Throughput of `scan` and of the whole `Verifier` on generated evidence.

use compliance_simulator::evidence::evidence_text;
use compliance_verify::{scan, Scanner};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let texts: Vec<String> = (0..10_000).map(|_| evidence_text(&mut rng).0).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("scan_10k_generated_values", |b| {
        b.iter(|| texts.iter().map(|t| scan(t).len()).sum::<usize>())
    });
    group.bench_function("scanner_reused_10k_generated_values", |b| {
        let mut scanner = Scanner::default();
        let mut out = Vec::new();
        b.iter(|| {
            texts
                .iter()
                .map(|t| {
                    scanner.scan_into(t, &mut out);
                    out.len()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
