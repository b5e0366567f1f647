#!/usr/bin/env bash
# Are the performance scores fair? Grades each exercise's reference on every performance
# check, and every efficiency variant (a faulty variant declared to lose an efficiency
# check: a performance check that asserts work figures) on the efficiency checks, N times
# on an idle machine and N times with every core kept busy by a CPU-burning process this
# script starts and stops (`--only`: the other checks are not run). Each subject gets its
# idle runs and then its busy runs before the next subject starts, so a run cut short
# still holds whole subjects. Prints, per subject and check, the points earned in each
# run (any difference between runs is listed), and per work figure its spread
# (min/median/max) over all runs. Asserts nothing.
#   bench/work.sh [N] [EXERCISE...]
# WORK_SUBJECTS=all grades every variant that loses any performance check, on all of them.
# WORK_OUT=DIR keeps the reports in DIR (else a temporary folder, removed at the end);
# `bench/work.sh summary DIR` prints the summary of what DIR holds. GRADER=PATH grades
# with that binary (else this tree's, built first).
set -euo pipefail
cd "$(dirname "$0")/.."
summary_only=0
if [ "${1:-}" = summary ]; then summary_only=1; out=${2:?bench/work.sh summary DIR}; fi
n=${1:-10}
shift || true
exercises=("$@")
[ ${#exercises[@]} -gt 0 ] || exercises=(todo-api url-shortener auth-service bank-ledger cache-proxy job-queue)
burners=()
stop_burners() { for p in "${burners[@]}"; do kill "$p" 2>/dev/null || true; done; burners=(); }
start_burners() {
  for _ in $(seq 1 "$(nproc)"); do
    python3 -c 'while True: pass' &
    burners+=($!)
  done
  sleep 2
}
if [ "$summary_only" = 0 ]; then
  if [ -n "${GRADER:-}" ]; then
    grader=$GRADER
  else
    cargo build --release -q -p grader
    grader=$PWD/target/release/grader
  fi
  if [ -n "${WORK_OUT:-}" ]; then
    out=$WORK_OUT
    mkdir -p "$out"
    trap 'stop_burners' EXIT
  else
    out=$(mktemp -d)
    trap 'stop_burners; rm -rf "$out"' EXIT
  fi
fi

# The checks of an exercise (spec.toml and its includes): its performance checks, then
# its efficiency checks (those that assert work figures), each comma-separated on a line.
checks_of() {
  python3 - "exercises/$1" <<'PY'
import pathlib, sys, tomllib
d = pathlib.Path(sys.argv[1])
spec = tomllib.loads((d / "spec.toml").read_text())
checks = list(spec.get("checks", []))
for inc in spec.get("exercise", {}).get("include", []):
    checks += tomllib.loads((d / inc).read_text()).get("checks", [])
perf = [c for c in checks if c.get("category") == "performance"]
print(",".join(c["id"] for c in perf))
FIGURES = ("statements", "transactions", "rows_read", "pages_read", "connections_opened",
           "redis_commands", "upstream_calls", "memory_growth", "cpu")
def efficient(check):
    for step in check.get("steps", []):
        if "work" in step.get("expect", {}):
            return True
        for t in (step.get("load") or {}).get("thresholds", []):
            expr = t["expr"] if isinstance(t, dict) else t
            if expr.split()[0] in FIGURES:
                return True
    return False
print(",".join(c["id"] for c in perf if efficient(c)))
PY
}

# The subjects of an exercise, each with the checks it is graded on: its reference(s) on
# every performance check, then each efficiency variant on the efficiency checks.
subjects() {
  python3 - "exercises/$1" "$2" "$3" "${WORK_SUBJECTS:-efficiency}" <<'PY'
import pathlib, sys, tomllib
d, perf, eff, which = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for s in sorted((d / "solutions").iterdir()):
    print(f"{s}\t{perf}")
losing, only = (set(perf.split(",")), perf) if which == "all" else (set(eff.split(",")), eff)
for v in sorted((d / "variants").iterdir()):
    if (v / "variant.toml").exists():
        fails = set(tomllib.loads((v / "variant.toml").read_text()).get("fails", []))
        if fails & losing:
            print(f"{v}\t{only}")
PY
}

grade_n() { # phase exercise subject only name
  local start=$SECONDS
  for i in $(seq 1 "$n"); do
    dir="$out/$1/$5/$i"
    mkdir -p "$dir"
    "$grader" grade "$2" "$3" --only "$4" --out "$dir" >/dev/null 2>&1 || true
  done
  echo "  $1: $5 on $4 ($n runs, $((SECONDS - start)) s, load $(cut -d' ' -f1 /proc/loadavg))"
}

if [ "$summary_only" = 0 ]; then
  echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); each subject: $n runs idle, then $n beside $(nproc) CPU burners"
  for ex in "${exercises[@]}"; do
    { read -r perf; read -r eff; } < <(checks_of "$ex")
    while IFS=$'\t' read -r subject only; do
      name="$ex/$(basename "$(dirname "$subject")")-$(basename "$subject")"
      grade_n idle "$ex" "$subject" "$only" "$name"
      start_burners
      grade_n busy "$ex" "$subject" "$only" "$name"
      stop_burners
    done < <(subjects "$ex" "$perf" "$eff")
  done
fi

python3 - "$out" <<'PY'
import json, pathlib, statistics, sys
from collections import defaultdict
out = pathlib.Path(sys.argv[1])
subjects = sorted({p.relative_to(out / "busy").parent.parent for p in (out / "busy").glob("*/*/*/report.json")})
differ = 0
for subject in subjects:
    earned = defaultdict(lambda: defaultdict(list))  # check -> phase -> points
    figures = defaultdict(list)                      # (check, figure) -> values
    missing = 0
    for phase in ("idle", "busy"):
        for rep in sorted((out / phase / subject).glob("*/report.json")):
            r = json.loads(rep.read_text())
            for c in r["checks"]:
                # Checks --only left out are `skipped`: not a run of theirs.
                if c["category"] != "performance" or c["status"] == "skipped":
                    continue
                earned[c["id"]][phase].append(c["earned"] + 0.0)
                for w in c.get("work") or []:
                    for f in w.get("figures", []):
                        figures[(c["id"], f["name"])].append(f["value"])
        missing += len(list((out / phase / subject).glob("*"))) - len(list((out / phase / subject).glob("*/report.json")))
    print(f"\n{subject}" + (f"  ({missing} runs wrote no report)" if missing else ""))
    for check, phases in sorted(earned.items()):
        runs = phases["idle"] + phases["busy"]
        same = len(set(runs)) == 1
        differ += not same
        line = f"  {check:28} earned {sorted(set(runs))} in {len(runs)} runs"
        if not same:
            line += f"  DIFFERS: idle {phases['idle']} busy {phases['busy']}"
        print(line)
    for (check, name), vals in sorted(figures.items()):
        print(f"    {check:26} {name:20} min {min(vals):12.3f}  median {statistics.median(vals):12.3f}  max {max(vals):12.3f}")
print(f"\nchecks whose points differ between runs: {differ}")
PY
