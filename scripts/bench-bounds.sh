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
work="$(mktemp -d)"
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Starts `simulate` with the given flags on a free port; sets $base.
simulate() {
  "$bin" simulate --listen 127.0.0.1:0 --violations 1000 --rate-limit 0 "$@" > "$work/sim.out" 2> "$work/sim.err" &
  sim_pid=$!
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$work/sim.out" 2>/dev/null; then break; fi
    sleep 0.1
  done
  base="$(sed -n 's/^listening on //p' "$work/sim.out" | head -1)"
  [ -n "$base" ] || { echo "the simulator did not start"; cat "$work/sim.err"; exit 1; }
}
stop_sim() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; sim_pid=""; }

export GENESYSCLOUD_OAUTHCLIENT_ID=demo-client GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret
export GENESYS_COMPLIANCE_LOG=error
day=(--start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z)

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
simulate --fault-oversized 1
measure default
echo "== oversized: the same, --max-response-size 2MiB"
measure small --max-response-size 2MiB
stop_sim

echo "== trickle: one byte every 500 ms, --request-timeout 2s, 3 attempts, base delay 100ms"
simulate --fault-trickle 1
measure trickle --request-timeout 2s --retry-max-attempts 3 --retry-base-delay 100ms
stop_sim
