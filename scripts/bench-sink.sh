#!/usr/bin/env bash
# The stream sink against the file sink (issue 16): violations per second
# through `extract` (one process, one worker) to a JetStream stream and to a
# file, same simulator dataset on loopback (no rate limit, no latency), runs
# alternated. The NATS server is a `nats-server -js` of this script's own on
# a free loopback port, its store in a temporary directory. Prints `uptime`
# before and after: the machine is shared.
#
# Usage: scripts/bench-sink.sh [N=100000] [RUNS=3]   (CARGO_TARGET_DIR is honoured;
# SKIP_BUILD=1 reuses the release binary). Results go to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
runs="${2:-3}"
target="${CARGO_TARGET_DIR:-target}"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q --locked -p genesys-compliance --bin genesys-compliance
bin="$(realpath "$target")/release/genesys-compliance"
work="$(mktemp -d)"
sim_pid="" nats_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" simulate --listen 127.0.0.1:0 --violations "$n" --rate-limit 0 > "$work/sim.out" 2> "$work/sim.err" &
sim_pid=$!
nats="$(command -v nats-server || echo /usr/sbin/nats-server)"
mkdir "$work/ports"
"$nats" -a 127.0.0.1 -p -1 -js -sd "$work/jetstream" --ports_file_dir "$work/ports" -l "$work/nats.log" &
nats_pid=$!
for _ in $(seq 1 600); do
  base="$(sed -n 's/^listening on //p' "$work/sim.out" 2>/dev/null | head -1)"
  server="$(sed -n 's/.*"nats":\["\(nats:\/\/[^"]*\)".*/\1/p' "$work"/ports/*.ports 2>/dev/null || true)"
  [ -n "$base" ] && [ -n "$server" ] && break
  sleep 0.1
done
[ -n "$base" ] && [ -n "$server" ] || { echo "the simulator or nats-server did not start"; exit 1; }

export GENESYSCLOUD_OAUTHCLIENT_ID=demo-client GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret
common=(--start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --api-base-url "$base"
        --page-size 1000 --rate-limit-per-minute 1000000 --log warn)
echo "load before: $(uptime)"
echo "nats-server $("$nats" --version | awk '{print $2}'), $n violations, page size 1000, $runs runs each"

# One extraction: its own state and audit directory; prints the summary's rate.
run() {
  local what="$1" i="$2"; shift 2
  local dir="$work/$what-$i"
  mkdir -p "$dir"
  # In its own directory: a stream's rejects file goes to the working directory.
  (cd "$dir" && /usr/bin/time -f "%e %M" -o "$dir/time" "$bin" extract "${common[@]}" \
      --state "$dir/state.db" --audit-dir "$dir/audit" "$@" 2> "$dir/err" > /dev/null) \
      || { cat "$dir/err"; exit 1; }
  read -r wall rss < "$dir/time"
  local line rate
  line="$(grep '^extracted:' "$dir/err")"
  rate="$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' <<<"$line")"
  printf '%-6s run %d: %7s violations/s (extraction as reported) | process wall %5.2f s | peak RSS %6.1f MB\n' \
      "$what" "$i" "$rate" "$wall" "$(echo "$rss / 1024" | bc -l)"
}

for i in $(seq 1 "$runs"); do
  run file "$i" --out "$work/file-$i/violations.jsonl"
  run stream "$i" --sink "$server/bench.run$i" --create-stream
done
echo "load after:  $(uptime)"
