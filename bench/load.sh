#!/usr/bin/env bash
# The load prober against its peers, on one loopback target, in one run, side by side.
# Prints figures and ratios; asserts nothing (timings are measured, not tested).
#
#   bench/load.sh            # closed model vs wrk and oha on nginx and on a hyper
#                            # server, alternating rounds; stalls; memory
#   WITH_OHA=0 bench/load.sh # do not `cargo install oha` when it is missing (slow)
#   SECS=10 ROUNDS=7 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-5}
rounds=${ROUNDS:-5}
port=18080
nginx_port=18081

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v oha >/dev/null && [ "${WITH_OHA:-1}" = 1 ]; then
  echo "installing oha (cargo install oha --locked; WITH_OHA=0 skips it)"
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
stop_server() { [ -n "${server_pid:-}" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }; server_pid=""; }
trap 'stop_server; stop_nginx' EXIT

# One target: the closed model, 50 connections, ROUNDS rounds; in each round wrk, the
# prober and oha (when installed) run one after another, the order turning each round.
# Prints each run's rate and the median of the per-round ratios.
closed_rounds() { # name url
  local name=$1 url=$2
  echo "== $name: closed model, 50 connections, ${secs}s per run, $rounds rounds ($url)"
  local rows=()
  for r in $(seq 1 "$rounds"); do
    local tools=(wrk grader)
    command -v oha >/dev/null && tools+=(oha)
    # turn the order each round, so no tool always runs first (or last)
    local k=$(( (r - 1) % ${#tools[@]} ))
    tools=("${tools[@]:$k}" "${tools[@]:0:$k}")
    local wrk_rps="" ours_rps="" oha_rps=""
    for t in "${tools[@]}"; do
      case $t in
        wrk) wrk_rps=$(wrk -t1 -c50 -d"${secs}s" "$url" | awk '/Requests\/sec/ {print $2}') ;;
        grader) ours_rps=$("$grader" load "$url" -c 50 -d "${secs}s" --json \
                  | python3 -c 'import json,sys; print(json.load(sys.stdin)["achieved_rate"])') ;;
        oha) oha_rps=$(oha -c 50 -z "${secs}s" --no-tui "$url" | awk '/Requests\/sec/ {print $2}') ;;
      esac
    done
    echo "  round $r (${tools[*]}): wrk $wrk_rps, grader $ours_rps${oha_rps:+, oha $oha_rps} requests/s"
    rows+=("$wrk_rps $ours_rps ${oha_rps:-0}")
  done
  printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [[float(x) for x in line.split()] for line in sys.stdin if line.strip()]
wrk = statistics.median(r[1] / r[0] for r in rows)
print(f"  median ratio grader/wrk: {wrk:.2f}", end="")
if all(r[2] > 0 for r in rows):
    print(f", grader/oha: {statistics.median(r[1] / r[2] for r in rows):.2f}", end="")
print()'
}

start_nginx() {
  nginx_dir=$(mktemp -d)
  cat >"$nginx_dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $nginx_dir/body;
  proxy_temp_path $nginx_dir/proxy;
  fastcgi_temp_path $nginx_dir/fastcgi;
  uwsgi_temp_path $nginx_dir/uwsgi;
  scgi_temp_path $nginx_dir/scgi;
  server { listen 127.0.0.1:$nginx_port; location / { return 200 "ok"; } }
}
EOF
  nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" &
  nginx_pid=$!
  sleep 0.5
}
stop_nginx() {
  [ -n "${nginx_pid:-}" ] && { kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; }
  [ -n "${nginx_dir:-}" ] && rm -rf "$nginx_dir"
  nginx_pid=""
}

start_nginx
closed_rounds "nginx (one worker, return 200)" "http://127.0.0.1:$nginx_port/"
stop_nginx
echo
start_server 0
closed_rounds "bench server (hyper, one runtime)" "http://127.0.0.1:$port/"
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
