#!/usr/bin/env bash
# What one warm grade costs beyond the time its checks wait on purpose. Grades an
# exercise's reference N times (images and layers warm: one grade runs first) and prints,
# per run, the wall time, the phases the report records, the load windows (each load
# step's warm-up and stages, from the report) and the spec's own waits (`sleep` steps),
# and what is left beyond them; then the checks that took longest in the last run.
# Prints; asserts nothing.
#   bench/grade.sh [N] [EXERCISE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
exercise=${2:-todo-api}
solution=$(ls -d "exercises/$exercise/solutions/"* | head -n 1)
if [ -n "${GRADER:-}" ]; then grader=$GRADER; else
  cargo build --release -q -p grader
  grader=target/release/grader
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "warming: one grade of $solution"
"$grader" grade "$exercise" "$solution" --out "$out/warm" >/dev/null || true
for i in $(seq 1 "$n"); do
  start=$(date +%s.%N)
  "$grader" grade "$exercise" "$solution" --out "$out/$i" >/dev/null || true
  end=$(date +%s.%N)
  python3 - "$out/$i/report.json" "exercises/$exercise" "$start" "$end" "$i" <<'PY'
import json, pathlib, re, sys, tomllib
report, d = json.loads(pathlib.Path(sys.argv[1]).read_text()), pathlib.Path(sys.argv[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
spec = tomllib.loads((d / "spec.toml").read_text())
checks = list(spec.get("checks", []))
for inc in spec.get("exercise", {}).get("include", []):
    checks += tomllib.loads((d / inc).read_text()).get("checks", [])
def secs(s):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", s.strip())
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60}[m[2]] if m else 0.0
sleeps = sum(secs(s["sleep"]) for c in checks for s in c.get("steps", []) if "sleep" in s)
loads = sum((c["load"]["warmup_s"] or 0) + c["load"]["duration_s"] for c in report["checks"] if c.get("load"))
p = report["phases"]
phases = ", ".join(f"{k[:-3]} {v / 1000:.1f}s" for k, v in p.items() if v is not None)
print(f"run {sys.argv[5]}: {report['score']}/{report['max_score']} in {wall:.1f}s ({phases});"
      f" load windows {loads:.1f}s + sleeps {sleeps:.1f}s; beyond them {wall - loads - sleeps:.1f}s")
PY
done
python3 - "$out/$n/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
slow = sorted(r["checks"], key=lambda c: -(c.get("duration_ms") or 0))[:8]
print("longest checks of the last run: " + ", ".join(f"{c['id']} {c['duration_ms'] / 1000:.1f}s" for c in slow))
PY
