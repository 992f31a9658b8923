#!/usr/bin/env bash
# Extraction benchmarks (issue 3). Release builds; prints figures for
# docs/benchmarks.md (extraction section).
#   1. speed: sequential pager vs extractor on 100,000 violations, 40 ms per
#      page, 6,000 requests/minute, in one run (crates/client/examples/bench_extract.rs);
#   2. memory: peak RSS of `extract` over 1,000,000 violations (/usr/bin/time -v),
#      the simulator in its own process so that its dataset is not counted;
#   3. pacing: a run at the default 300/minute against a server limiting to
#      300/minute, long enough to need more than a minute's budget: 429s received.
# Usage: scripts/bench-extract.sh [speed|memory|pacing|all]   (CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
what="${1:-all}"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p compliance-client --example bench_extract -p genesys-compliance --bin genesys-compliance
bin="$target/release/genesys-compliance"
source scripts/lib.sh

if [ "$what" = speed ] || [ "$what" = all ]; then
  echo "== speed: sequential pager vs extractor"
  "$target/release/examples/bench_extract" --violations 100000 --latency-ms 40 --limit 6000 --page-size 500
fi

if [ "$what" = memory ] || [ "$what" = all ]; then
  for n in 100000 1000000; do
    echo "== memory: extract $n violations, page size 1000, output to /dev/null"
    simulate --violations "$n" --rate-limit 0
    /usr/bin/time -v "$bin" extract "${day[@]}" --api-base-url "$base" --page-size 1000 \
        --rate-limit-per-minute 1000000 --state "$work/state-$n.db" --audit-dir "$work/audit" --out - > /dev/null 2> "$work/time.err"
    grep -E '^extracted:|^transport:|^latency:' "$work/time.err" || tail -5 "$work/time.err"
    grep -E 'Maximum resident set size|Elapsed \(wall clock\)' "$work/time.err"
    stop_sim
  done
fi

if [ "$what" = pacing ] || [ "$what" = all ]; then
  echo "== pacing: default 300/minute against a 300/minute server, 40,000 violations at page size 100"
  simulate --violations 40000 --rate-limit 300
  "$bin" extract "${day[@]}" --api-base-url "$base" --page-size 100 --state "$work/pace.db" --audit-dir "$work/audit" \
      --out "$work/o.jsonl" 2> "$work/pace.err"
  grep -E '^extracted:|^transport:|^latency:' "$work/pace.err"
  stop_sim
fi
