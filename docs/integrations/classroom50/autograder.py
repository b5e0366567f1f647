"""Classroom 50 autograder for a grader exercise: grades the student's checkout (the
working directory) and leaves result.json (classroom50/result/v1) where the runner reads
it. Install at CLASSROOM/autograders/ASSIGNMENT/autograder.py.

EXERCISE is a bundled exercise's name, or the path of an exercise folder placed beside
this file (it is bundled with it: Path(__file__).parent / "my-exercise").
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXERCISE = "todo-api"
# The grader's repository and version, built once per runner (cached by cargo).
GRADER = "https://github.com/OWNER/grader"
GRADER_TAG = "v1"

if shutil.which("grader") is None:
    subprocess.run(
        ["cargo", "install", "--locked", "--git", GRADER, "--tag", GRADER_TAG, "grader"],
        check=True,
    )

out = Path(tempfile.mkdtemp(prefix="grader-"))
# Exit codes 0-2 are results (passed, below the pass mark, did not build or start);
# 3 and above are a setup or grader error, which the runner shows as status=error.
code = subprocess.run(
    ["grader", "grade", EXERCISE, ".", "--out", str(out), "--format", "json,classroom50,md"],
    check=False,
).returncode
if code > 2 or not (out / "result.json").is_file():
    print(f"::error::the grader ended with exit code {code}", file=sys.stderr)
    sys.exit(1)
shutil.copy(out / "result.json", "result.json")
# The Markdown report as the Release's body (the runner makes one from result.json
# otherwise).
shutil.copy(out / "summary.md", "release-body.md")
if os.environ.get("GITHUB_STEP_SUMMARY"):
    with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
        summary.write((out / "summary.md").read_text(encoding="utf-8"))
