#!/usr/bin/env bash
# Workers benchmark (issue 16): violations per second through `serve`, from start
# until every violation of every org is committed, for
#   sqlite-files   SQLite + files: 1 worker (one org), 3 workers (3 processes, an org
#                  and a state file each: SQLite cannot share orgs between processes);
#   pg-files       PostgreSQL + files: 1 worker over 3 orgs, 3 workers over 3 orgs;
#   pg-jetstream   PostgreSQL + JetStream: the same, publishing to one stream;
# and how many orgs one worker handles: one worker over K orgs (K = 1, 4, 8), the
# time until every org's first run is committed.
# Each org is a `simulate` process with N violations (no latency, no rate limit).
# Needs GENESYS_COMPLIANCE_TEST_PG (a server whose user may create databases:
# `.ci/postgres` starts one) and, for pg-jetstream, GENESYS_COMPLIANCE_TEST_NATS
# (`.ci/nats`). Prints one line per measurement for docs/benchmarks.md.
# Usage: scripts/bench-workers.sh [N]   (BIN=path/to/genesys-compliance to skip the build)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p genesys-compliance --bin genesys-compliance
  BIN="${CARGO_TARGET_DIR:-target}/release/genesys-compliance"
fi
pg="${GENESYS_COMPLIANCE_TEST_PG:?set GENESYS_COMPLIANCE_TEST_PG (see .ci/postgres)}"
nats="${GENESYS_COMPLIANCE_TEST_NATS:-}"
psql_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/psql"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

utc() { date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }
since="$(utc -700)"
start="$(utc -600)"
end="$(utc -60)"

# Starts `simulate` for org $1 with $2 violations; its base URL goes to sim_url.
# Not in a command substitution: that subshell's `pids` would never be killed.
simulate() {
  local out="$work/sim-$1.out"
  "$BIN" simulate --listen 127.0.0.1:0 --seed "$1" --violations "$2" --start "$start" --end "$end" \
      --rate-limit 0 > "$out" 2> "$work/sim-$1.err" &
  pids+=($!)
  for _ in $(seq 1 600); do grep -q '^listening on ' "$out" 2>/dev/null && break; sleep 0.1; done
  sim_url="$(sed -n 's/^listening on //p' "$out" | head -1)"
}

# A database of its own for one measurement; prints its URL.
database() {
  "$psql_bin" "$pg" -qtAc "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
  "$psql_bin" "$pg" -qtAc "CREATE DATABASE $1" >/dev/null
  echo "${pg%/*}/$1"
}

# Waits until `$1` (a command printing a count) prints at least $2; prints the seconds since $3.
wait_count() {
  local count
  while :; do
    count="$(eval "$1" 2>/dev/null | tail -1 || true)"
    [ "${count:-0}" -ge "$2" ] && break
    sleep 0.2
  done
  echo "$(date +%s.%N) - $3" | bc
}

# An orgs config for orgs 1..$1 under $2, with extra top-level lines $3.
orgs_config() {
  local file="$2/orgs.toml"
  printf 'page_size = 500\nrate_limit_per_minute = 1000000\nsince = "%s"\nevery = "1h"\nlookback = "1m"\n%s\n' \
      "$since" "${3:-}" > "$file"
  for i in $(seq 1 "$1"); do
    printf '[[org]]\nname = "org%s"\napi_base_url = "%s"\nclient_id = "demo-client"\nclient_secret_env = "SIM_SECRET"\nout_dir = "%s/org%s"\n' \
        "$i" "${urls[$i]}" "$2" "$i" >> "$file"
  done
  echo "$file"
}

# Starts $1 workers over config $2 with state $3; they log into $4.
workers() {
  for w in $(seq 1 "$1"); do
    SIM_SECRET=demo-secret "$BIN" serve --config "$2" --state "$3" --listen 127.0.0.1:0 \
        > /dev/null 2> "$4.w$w.err" &
    pids+=($!)
    running+=($!)
  done
}

stop_running() {
  for p in "${running[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${running[@]}"; do wait "$p" 2>/dev/null || true; done
  running=()
}

report() { # name, workers, orgs, seconds
  printf '%-14s workers=%s orgs=%s violations=%s seconds=%.2f violations/s=%.0f\n' \
      "$1" "$2" "$3" "$(( $3 * n ))" "$4" "$(echo "$3 * $n / $4" | bc -l)"
}

declare -a urls running=()
for i in 1 2 3; do simulate "$i" "$n"; urls[$i]="$sim_url"; done

# SQLite + files: one process per org.
for w in 1 3; do
  dir="$work/sqlite-$w"; mkdir -p "$dir"
  t0="$(date +%s.%N)"
  for i in $(seq 1 "$w"); do
    GENESYSCLOUD_OAUTHCLIENT_ID=demo-client GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret \
      "$BIN" serve --api-base-url "${urls[$i]}" --since "$since" --every 1h --lookback 1m \
      --page-size 500 --rate-limit-per-minute 1000000 --out-dir "$dir/org$i" \
      --state "$dir/org$i.db" --listen 127.0.0.1:0 > /dev/null 2> "$dir/org$i.err" &
    pids+=($!); running+=($!)
  done
  secs="$(wait_count "cat $dir/org*/violations-*.jsonl | wc -l" "$(( w * n ))" "$t0")"
  stop_running
  report sqlite-files "$w" "$w" "$secs"
done

seen() { echo "$psql_bin '$1' -qtAc 'SELECT count(*) FROM seen'"; }

# PostgreSQL + files, then + JetStream: 3 orgs, 1 and 3 workers.
for kind in pg-files pg-jetstream; do
  if [ "$kind" = pg-jetstream ] && [ -z "$nats" ]; then
    echo "pg-jetstream   skipped: GENESYS_COMPLIANCE_TEST_NATS is not set"; continue
  fi
  for w in 1 3; do
    dir="$work/$kind-$w"; mkdir -p "$dir"
    url="$(database "bench_${kind//-/_}_$w")"
    extra=""
    [ "$kind" = pg-jetstream ] && extra="sink = \"$nats/bench.$w.$$\"
create_stream = true"
    config="$(orgs_config 3 "$dir" "$extra")"
    t0="$(date +%s.%N)"
    workers "$w" "$config" "$url" "$dir/log"
    secs="$(wait_count "$(seen "$url")" "$(( 3 * n ))" "$t0")"
    stop_running
    report "$kind" "$w" 3 "$secs"
  done
done

# Orgs one worker handles: K orgs of N/10 violations each (simulators 11..18).
small=$(( n / 10 ))
for i in $(seq 11 18); do simulate "$i" "$small"; urls[$i]="$sim_url"; done
for k in 1 4 8; do
  dir="$work/orgs-$k"; mkdir -p "$dir"
  url="$(database "bench_orgs_$k")"
  config="$dir/orgs.toml"
  printf 'page_size = 500\nrate_limit_per_minute = 1000000\nsince = "%s"\nevery = "1h"\nlookback = "1m"\n' "$since" > "$config"
  for i in $(seq 11 $(( 10 + k ))); do
    printf '[[org]]\nname = "org%s"\napi_base_url = "%s"\nclient_id = "demo-client"\nclient_secret_env = "SIM_SECRET"\nout_dir = "%s/org%s"\n' \
        "$i" "${urls[$i]}" "$dir" "$i" >> "$config"
  done
  t0="$(date +%s.%N)"
  workers 1 "$config" "$url" "$dir/log"
  secs="$(wait_count "$(seen "$url")" "$(( k * small ))" "$t0")"
  stop_running
  printf 'orgs-per-worker workers=1 orgs=%s violations=%s seconds=%.2f violations/s=%.0f\n' \
      "$k" "$(( k * small ))" "$secs" "$(echo "$k * $small / $secs" | bc -l)"
done
