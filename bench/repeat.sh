#!/usr/bin/env bash
# Grades one submission N times (a new seed each time) and prints each score, to show
# that the same submission always gets the same score. Prints; asserts nothing.
#   bench/repeat.sh [N] [EXERCISE] [SUBMISSION]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
exercise=${2:-todo-api}
submission=${3:-exercises/todo-api/solutions/python}
cargo build --release -q -p grader
out=$(mktemp -d)
for i in $(seq 1 "$n"); do
  start=$(date +%s.%N)
  target/release/grader grade "$exercise" "$submission" --out "$out/$i" >/dev/null || true
  python3 - "$out/$i/report.json" "$i" "$start" <<'PY'
import json, sys, time
r = json.load(open(sys.argv[1]))
lost = [c["id"] for c in r["checks"] if c["status"] != "passed"]
print(f"run {sys.argv[2]}: {r['score']}/{r['max_score']} seed {r['seed']} in {time.time() - float(sys.argv[3]):.1f}s" + (f" lost {lost}" if lost else ""))
PY
done
rm -rf "$out"
