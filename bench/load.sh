#!/usr/bin/env bash
# The load prober against its peers, on one loopback target, in one run, side by side.
# Prints figures and ratios; asserts nothing (timings are measured, not tested).
#
#   bench/load.sh            # closed model vs wrk (and oha if installed), stalls, memory
#   WITH_OHA=1 bench/load.sh # also `cargo install oha` first when it is missing (slow)
#   SECS=10 bench/load.sh    # longer runs
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-5}
port=18080

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if ! command -v oha >/dev/null && [ "${WITH_OHA:-0}" = 1 ]; then
  cargo install oha --locked >/dev/null 2>&1 || echo "(oha could not be installed)"
fi
cargo build --release -q -p grader
cargo build --release -q -p harness --example bench_server
grader=target/release/grader
server=target/release/examples/bench_server

start_server() {
  "$server" "$port" "${1:-0}" &
  server_pid=$!
  sleep 0.5
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT

echo "== closed model, 50 connections, ${secs}s, trivial server on 127.0.0.1:$port"
start_server 0
wrk_rps=$(wrk -t1 -c50 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
echo "wrk -t1 -c50:        ${wrk_rps} requests/s"
ours_json=$("$grader" load "http://127.0.0.1:$port/" -c 50 -d "${secs}s" --json)
ours_rps=$(echo "$ours_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["achieved_rate"])')
echo "grader load -c 50:   ${ours_rps} requests/s"
if command -v oha >/dev/null; then
  oha_rps=$(oha -c 50 -z "${secs}s" --no-tui "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  echo "oha -c 50:           ${oha_rps} requests/s"
else
  oha_rps=""
  echo "oha:                 not installed (WITH_OHA=1 installs it)"
fi
python3 - "$wrk_rps" "$ours_rps" "$oha_rps" <<'PY'
import sys
wrk, ours, oha = (float(x) if x else None for x in sys.argv[1:4])
print(f"ratio grader/wrk:    {ours / wrk:.2f}")
if oha:
    print(f"ratio grader/oha:    {ours / oha:.2f}")
PY
stop_server

echo
echo "== open model at 1000 requests/s for ${secs}s; the server stalls 100 ms every second"
start_server 100
"$grader" load "http://127.0.0.1:$port/" --rate 1000 -c 20 -d "${secs}s" --warmup 1s | sed -n '2,6p'
echo "expected: about 10% of requests are due during a stall and wait up to 100 ms,"
echo "so p99 (from the scheduled time) near 90 ms; the uncorrected p99 hides part of it."
stop_server

echo
echo "== memory of the prober at 10000 requests/s: 5 s vs 60 s (must stay flat, under 64 MiB)"
start_server 0
for d in 5 60; do
  rss=$("$grader" load "http://127.0.0.1:$port/" --rate 10000 -c 50 -d "${d}s" --json \
    | python3 -c 'import json,sys; v=json.load(sys.stdin); print("%.1f MiB peak, %.0f requests/s achieved" % (v["peak_rss_kib"] / 1024, v["achieved_rate"]))')
  echo "${d}s run: $rss"
done
stop_server
