//! The fuzz harness of the workspace's parsers of outside bytes.
//!
//! A nightly toolchain (cargo-fuzz) is out of reach, so targets run under
//! `cargo test` on stable: [`fuzz`] first replays every file of the target's
//! checked-in corpus (`fuzz/corpus/<target>/`: seeds and former crashes, so a
//! crash once found stays a regression test), then feeds it inputs that
//! proptest builds by mutating those seeds (byte edits, dictionary tokens,
//! splices of other seeds) or from scratch, and shrinks any failure to a
//! small input.
//!
//! How long: `FUZZ_SECONDS=N` runs each target for about N seconds with a
//! fresh random seed (`.ci/run` uses 20); without it, a fixed, quick number
//! of deterministic cases ([`QUICK_CASES`], or `FUZZ_CASES`), so that the
//! ordinary test run stays fast and reproducible. A failing input is written
//! to `fuzz/artifacts/<target>/` (not committed) and shown escaped; add it
//! to the corpus with the fix. See `docs/fuzzing.md`.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Cases per target in an ordinary `cargo test` run.
pub const QUICK_CASES: u32 = 256;

/// Tokens of any JSON text, for targets that read JSON (with their own keys).
pub const JSON: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "null", "true", "0", "-1", "1e400",
];

/// Runs `check` on the corpus of `target`, then on mutated and random inputs;
/// `check` panics (asserts) when a property is broken. `tokens` mean
/// something to the parser (keys, keywords, punctuation) and are spliced in
/// by the mutations.
pub fn fuzz(target: &str, tokens: &[&str], check: impl Fn(&[u8])) {
    let seeds = corpus(target);
    for (path, bytes) in &seeds {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(bytes)));
        if outcome.is_err() {
            panic!("fuzz target {target}: corpus file {} fails", path.display());
        }
    }
    let seeds: Vec<Vec<u8>> = seeds.into_iter().map(|(_, b)| b).collect();
    let tokens: Vec<Vec<u8>> = tokens.iter().map(|t| t.as_bytes().to_vec()).collect();
    let strategy = input(seeds, tokens);
    let (budget, cases) = budget();
    let started = Instant::now();
    let mut round: u64 = 0;
    loop {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = match budget {
            // A long run explores: a new seed every time.
            Some(_) => TestRng::from_seed(RngAlgorithm::ChaCha, &random_seed(round)),
            None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        // Shrinking panics many times over: only the final report is shown.
        let outcome = quietly(|| {
            runner.run(&strategy, |bytes| {
                check(&bytes);
                Ok(())
            })
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(why, bytes)) => fail(target, &why.to_string(), &bytes),
            Err(TestError::Abort(why)) => panic!("fuzz target {target}: aborted: {why}"),
        }
        round += 1;
        match budget {
            Some(budget) if started.elapsed() < budget => continue,
            _ => break,
        }
    }
}

/// [`fuzz`] for parsers of text: the bytes are read as UTF-8, invalid
/// sequences replaced, so that every case reaches the parser.
pub fn fuzz_text(target: &str, tokens: &[&str], check: impl Fn(&str)) {
    fuzz(target, tokens, |bytes| {
        check(&String::from_utf8_lossy(bytes))
    });
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with panic messages of this thread silenced (other threads,
/// other tests, keep theirs).
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.get() {
                previous(info)
            }
        }));
    });
    QUIET.set(true);
    let out = f();
    QUIET.set(false);
    out
}

/// `(time budget, cases per round)` from `FUZZ_SECONDS` and `FUZZ_CASES`.
fn budget() -> (Option<Duration>, u32) {
    let number = |name: &str| {
        let value = std::env::var(name).ok()?;
        Some(
            value
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={value:?}: expected a whole number of {name}")),
        )
    };
    match number("FUZZ_SECONDS") {
        Some(seconds) => (Some(Duration::from_secs(seconds)), 256),
        None => (None, number("FUZZ_CASES").map_or(QUICK_CASES, |n| n as u32)),
    }
}

fn random_seed(round: u64) -> [u8; 32] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&now.to_le_bytes());
    seed[16..24].copy_from_slice(&round.to_le_bytes());
    seed[24..28].copy_from_slice(&std::process::id().to_le_bytes());
    seed
}

/// The workspace's `fuzz/` directory.
fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `fuzz/corpus/<target>/`, sorted by name; a target without
/// a corpus is a mistake, so it is refused.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "fuzz target {target}: cannot read its corpus {} ({e}); add seed files there",
            dir.display()
        )
    });
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "fuzz target {target}: empty corpus {}",
        dir.display()
    );
    files
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    /// Overwrite the byte at a position (taken modulo the length).
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    /// Insert a dictionary token.
    Token(usize, usize),
    /// Insert a slice of another seed.
    Splice(usize, usize, usize, usize),
    /// Repeat a slice (deep nesting, long runs).
    Repeat(usize, usize, u8),
}

/// Inputs: mostly mutated seeds, some random bytes.
fn input(seeds: Vec<Vec<u8>>, tokens: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Set(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Insert(a, b)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), any::<usize>()).prop_map(|(a, t)| Edit::Token(a, t)),
        (any::<usize>(), any::<usize>(), any::<usize>(), 0usize..64)
            .prop_map(|(a, s, from, len)| Edit::Splice(a, s, from, len)),
        (any::<usize>(), 1usize..16, 1u8..64)
            .prop_map(|(a, len, times)| Edit::Repeat(a, len, times)),
    ];
    let mutated = (0..n, proptest::collection::vec(edit, 0..8)).prop_map(move |(seed, edits)| {
        let mut bytes = seeds[seed].clone();
        for e in edits {
            apply(&mut bytes, &e, &seeds, &tokens);
        }
        bytes
    });
    prop_oneof![
        6 => mutated,
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit, seeds: &[Vec<u8>], tokens: &[Vec<u8>]) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match *edit {
        Edit::Set(i, b) if !bytes.is_empty() => {
            let i = i % bytes.len();
            bytes[i] = b;
        }
        Edit::Set(..) => {}
        Edit::Insert(i, b) => bytes.insert(at(i, bytes.len()), b),
        Edit::Remove(i) if !bytes.is_empty() => {
            bytes.remove(i % bytes.len());
        }
        Edit::Remove(_) => {}
        Edit::Token(i, t) if !tokens.is_empty() => {
            let i = at(i, bytes.len());
            bytes.splice(i..i, tokens[t % tokens.len()].iter().copied());
        }
        Edit::Token(..) => {}
        Edit::Splice(i, s, from, len) => {
            let other = &seeds[s % seeds.len()];
            let from = at(from, other.len()).min(other.len());
            let to = (from + len).min(other.len());
            let i = at(i, bytes.len());
            bytes.splice(i..i, other[from..to].iter().copied());
        }
        Edit::Repeat(i, len, times) if !bytes.is_empty() => {
            let from = i % bytes.len();
            let to = (from + len).min(bytes.len());
            let piece = bytes[from..to].to_vec();
            for _ in 0..times {
                bytes.splice(to..to, piece.iter().copied());
            }
        }
        Edit::Repeat(..) => {}
    }
}

/// Reports a failing input: written to `fuzz/artifacts/<target>/`, shown escaped.
fn fail(target: &str, why: &str, bytes: &[u8]) -> ! {
    let dir = fuzz_dir().join("artifacts").join(target);
    let name = format!("crash-{:016x}", fnv1a(bytes));
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(&name), bytes))
        .map(|()| dir.join(&name).display().to_string())
        .unwrap_or_else(|e| format!("(not saved: {e})"));
    panic!(
        "fuzz target {target} fails on {:?}\n  ({} bytes, saved as {saved}): {why}\n  \
         Fix it, then move the file into fuzz/corpus/{target}/ so it stays a regression test.",
        String::from_utf8_lossy(bytes),
        bytes.len()
    );
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
