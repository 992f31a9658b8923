#!/usr/bin/env bash
# Benchmark of `genesys-compliance report`: output records of N violations
# (made by bench_input, then verify) read, aggregated and rendered, as a whole
# process, with peak memory from /usr/bin/time -v. Run it at two sizes to see
# that memory stays flat: scripts/bench-report.sh 100000; scripts/bench-report.sh 1000000
#
# Usage: scripts/bench-report.sh [N=1000000]   (CARGO_TARGET_DIR is honoured)
# Results go to docs/benchmarks.md (report section) by hand, with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --bin genesys-compliance && cargo build --release --quiet -p compliance-verify --example bench_input
BIN="$TARGET/release/genesys-compliance"
"$TARGET/release/examples/bench_input" "$N" "$WORK/raw.jsonl" 1
"$BIN" verify --in "$WORK/raw.jsonl" --out "$WORK/out.jsonl" 2>/dev/null
rm "$WORK/raw.jsonl"
mkdir "$WORK/audit"
BYTES=$(stat -c %s "$WORK/out.jsonl")
echo "input: $N output records, $BYTES bytes"
sync
REPORT=("$BIN" report --in "$WORK/out.jsonl" --audit-dir "$WORK/audit" --out "$WORK/report.html")
"${REPORT[@]}" 2>/dev/null # untimed: page cache warm
/usr/bin/time -v -o "$WORK/time" "${REPORT[@]}" 2>"$WORK/stderr"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time")
cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$WORK/time")
secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
printf 'report   wall %7.3f s %9.0f violations/s | cpu %7.3f s | peak RSS %7.1f MB | page %d bytes\n' \
    "$secs" "$(echo "$N / $secs" | bc -l)" "$cpu" "$(echo "$rss / 1024" | bc -l)" "$(stat -c %s "$WORK/report.html")"
sed 's/^/         /' "$WORK/stderr"
