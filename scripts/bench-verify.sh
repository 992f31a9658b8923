#!/usr/bin/env bash
# Benchmark of `genesys-compliance verify` against the design document's Python
# validator (shared/bench/seed_validator.py) on the same file, each as a whole
# process pinned to one core, with peak memory from /usr/bin/time -v.
#
# Usage: [CORE=0] scripts/bench-verify.sh [N=200000]   (CARGO_TARGET_DIR is honoured)
# "wall" is what the user waits; "cpu" (user + system time) is what the process
# itself spent, which is what a busy machine does not distort. Each command runs
# once untimed first (page cache warm, the input's writeback done), as a
# benchmark harness would; the timed run writes a fresh output file.
# "keep-pii" is `verify --keep-pii` on the same file: no redaction and no last pass.
# Results go to docs/benchmarks.md (verification section) by hand, with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --bin genesys-compliance && cargo build --release --quiet -p compliance-verify --example bench_input
"$TARGET/release/examples/bench_input" "$N" "$WORK/raw.jsonl" 1
BYTES=$(stat -c %s "$WORK/raw.jsonl")
echo "input: $N violations, $BYTES bytes ($((BYTES / N)) bytes each)"

measure() { # name, command...
    local name=$1; shift
    /usr/bin/time -v -o "$WORK/time" taskset -c "${CORE:-0}" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr"
    local wall rss cpu secs
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$WORK/time")
    secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    printf '%-8s wall %7.3f s %9.0f violations/s | cpu %7.3f s %9.0f violations/s | peak RSS %7.1f MB\n' \
        "$name" "$secs" "$(echo "$N / $secs" | bc -l)" "$cpu" "$(echo "$N / $cpu" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
    echo "$secs $rss" >"$WORK/$name.result"
}

# The input was just written: let it reach the disk and warm the page cache
# with one untimed run of each, so that neither pays for the other's writeback.
sync
VERIFY=("$TARGET/release/genesys-compliance" verify --in "$WORK/raw.jsonl" --out "$WORK/out.jsonl")
PYTHON=(python3 "${SEED_VALIDATOR:-../shared/bench/seed_validator.py}" "$WORK/raw.jsonl")
taskset -c "${CORE:-0}" "${VERIFY[@]}" >/dev/null 2>&1
taskset -c "${CORE:-0}" "${PYTHON[@]}" >/dev/null 2>&1
rm -f "$WORK/out.jsonl"
sync

measure verify "${VERIFY[@]}"
sed 's/^/         /' "$WORK/verify.stderr"
# The same with --keep-pii: no redaction and no last pass (issue 17's late_pii),
# so that the difference shows what the two cost within the target.
rm -f "$WORK/keep.jsonl"
taskset -c "${CORE:-0}" "${VERIFY[@]/%out.jsonl/keep.jsonl}" --keep-pii >/dev/null 2>&1
rm -f "$WORK/keep.jsonl"
measure keep-pii "${VERIFY[@]/%out.jsonl/keep.jsonl}" --keep-pii
measure python "${PYTHON[@]}"
sed 's/^/         /' "$WORK/python.stdout"

read -r vs vr <"$WORK/verify.result"
read -r ps pr <"$WORK/python.result"
printf 'speed-up %.1fx, memory %.1f%% of the Python validator\n' \
    "$(echo "$ps / $vs" | bc -l)" "$(echo "100 * $vr / $pr" | bc -l)"
