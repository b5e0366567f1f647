#!/usr/bin/env bash
# Submissions per hour for a class on this machine: N copies of an exercise's reference
# solution, graded three ways, side by side:
#   naive      one `grader grade` after another (a PostgreSQL per learner)
#   batch      `grader batch -j J --no-shared-db` (a PostgreSQL per learner, J at once)
#   shared     `grader batch -j J` (one PostgreSQL for the class, a database per learner)
# Image layers are warm for all three (one grade runs first). Prints submissions per hour
# and, per way, the mean time of each phase (build, start, checks, teardown) that the
# reports record; asserts nothing.
#   bench/class.sh [N] [J] [EXERCISE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
jobs=${2:-2}
exercise=${3:-todo-api}
solution=$(ls -d "exercises/$exercise/solutions/"* | head -n 1)
cargo build --release -q -p grader
grader=target/release/grader
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq -w 1 "$n"); do cp -r "$solution" "$work/learner-$i"; done
mkdir -p "$work/class" && mv "$work"/learner-* "$work/class/"
echo "warming the image cache with one grade of $solution"
"$grader" grade "$exercise" "$solution" --out "$work/warm" >/dev/null || true

report() { # name seconds out_dir
  python3 - "$1" "$2" "$3" "$n" <<'PY'
import json, pathlib, sys
name, secs, out, n = sys.argv[1], float(sys.argv[2]), pathlib.Path(sys.argv[3]), int(sys.argv[4])
reports = [json.loads(p.read_text()) for p in out.glob("*/report.json")]
full = sum(1 for r in reports if r["score"] == r["max_score"])
print(f"{name:7} {n} submissions in {secs:6.1f}s = {n * 3600 / secs:6.0f} submissions/hour"
      f" ({full}/{len(reports)} at full score)")
# Where a submission's time goes: the mean of each phase its report records.
phases = ["build", "start", "checks", "teardown"]
means = []
for phase in phases:
    took = [r["phases"][f"{phase}_ms"] for r in reports if r["phases"].get(f"{phase}_ms") is not None]
    means.append(f"{phase} {sum(took) / len(took) / 1000:5.1f}s" if took else f"{phase}    -")
print(f"{'':7} mean per submission: " + ", ".join(means))
PY
}

start=$(date +%s.%N)
for d in "$work"/class/*; do
  "$grader" grade "$exercise" "$d" --out "$work/naive/$(basename "$d")" >/dev/null || true
done
naive=$(python3 -c "import time; print(time.time() - $start)")

start=$(date +%s.%N)
"$grader" batch "$exercise" "$work/class" -j "$jobs" --no-shared-db --format json --out "$work/batch" >/dev/null || true
batch=$(python3 -c "import time; print(time.time() - $start)")

start=$(date +%s.%N)
"$grader" batch "$exercise" "$work/class" -j "$jobs" --format json --out "$work/shared" >/dev/null || true
shared=$(python3 -c "import time; print(time.time() - $start)")

echo
echo "$n copies of $solution, $(nproc) CPUs, batch -j $jobs:"
report naive "$naive" "$work/naive"
report batch "$batch" "$work/batch"
report shared "$shared" "$work/shared"
python3 -c "print(f'speed-up: batch {$naive / $batch:.2f}x, shared database {$naive / $shared:.2f}x over one at a time')"
