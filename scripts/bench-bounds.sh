#!/usr/bin/env bash
# Oversized and slow answers (issue 15, point 3): prints, for docs/network.md,
#   1. oversized: `extract` against a simulator whose pages carry 256 MiB of
#      whitespace without a Content-Length, at the default bound (64 MiB) and
#      at --max-response-size 2MiB: exit code, wall time, peak RSS
#      (/usr/bin/time -v; the simulator in its own process is not counted);
#   2. trickle: pages sent one byte every 500 ms, --request-timeout 2s and
#      3 attempts: exit code and wall time.
# Usage: scripts/bench-bounds.sh          (BIN=path/to/genesys-compliance to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -q -p genesys-compliance --bin genesys-compliance
  bin="${CARGO_TARGET_DIR:-target}/release/genesys-compliance"
fi
source scripts/lib.sh
export GENESYS_COMPLIANCE_LOG=error

# Runs extract with the given flags under /usr/bin/time; prints its figures.
measure() {
  local name="$1"; shift
  set +e
  /usr/bin/time -v "$bin" extract "${day[@]}" --api-base-url "$base" --page-size 1000 \
      --state "$work/$name.db" --audit-dir "$work/audit-$name" --out "$work/$name.jsonl" "$@" 2> "$work/time.err"
  local code=$?
  set -e
  echo "exit code: $code"
  grep -E '^error:' "$work/time.err" | cut -c1-220 || true
  grep -E 'Maximum resident set size|Elapsed \(wall clock\)' "$work/time.err"
}

echo "== oversized: pages of 256 MiB (whitespace, no Content-Length), default bound 64 MiB"
simulate --violations 1000 --rate-limit 0 --fault-oversized 1
measure default
echo "== oversized: the same, --max-response-size 2MiB"
measure small --max-response-size 2MiB
stop_sim

echo "== trickle: one byte every 500 ms, --request-timeout 2s, 3 attempts, base delay 100ms"
simulate --violations 1000 --rate-limit 0 --fault-trickle 1
measure trickle --request-timeout 2s --retry-max-attempts 3 --retry-base-delay 100ms
stop_sim
