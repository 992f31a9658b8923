# Sourced by the benchmark scripts that run one `simulate` at a time (needs
# $bin): a work directory removed at exit, `simulate FLAGS...` on a free port
# (sets $base), `stop_sim`, the demo client's credentials, and the default day.
work="$(mktemp -d)"
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Starts `simulate` with the given flags on a free port; sets $base.
simulate() {
  "$bin" simulate --listen 127.0.0.1:0 "$@" > "$work/sim.out" 2> "$work/sim.err" &
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
day=(--start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z)
