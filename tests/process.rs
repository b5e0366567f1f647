//! End-to-end without Docker: `grader grade --runtime process` starts its own PostgreSQL
//! (initdb and postgres from this machine), the submission as a process group of its
//! own, and grades it with every check a Docker run has. `.ci/run` installs what the
//! references need (Debian's python3-psycopg2) beside the machine's PostgreSQL.
//!
//! The todo-api reference scores full marks; the `in-memory` variant loses exactly its
//! declared checks; a server that exits at once does not start, and the report says
//! how it ended in its own words; one that takes more memory than its limit is killed
//! and the report says so; nothing the runs started is left running.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use grader_report::{CheckStatus, Report, RunStatus};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn out_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("grader-process-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `grader grade EXERCISE SUBMISSION --runtime process ARGS`: its report.
fn grade(exercise: &str, submission: &Path, name: &str, args: &[&str]) -> Report {
    let out = out_dir(name);
    let run = Command::new(env!("CARGO_BIN_EXE_grader"))
        .current_dir(root())
        .args(["grade", exercise])
        .arg(submission)
        .args(["--runtime", "process", "--out"])
        .arg(&out)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the grader");
    let text = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); the grader said:\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let report: Report = serde_json::from_str(&text).unwrap();
    // Nothing of the run is left: no process of its folder, no folder.
    let run_dir = std::env::temp_dir().join(&report.run_id);
    assert!(!run_dir.exists(), "{} was not removed", run_dir.display());
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&report.run_id))
        .map(str::to_string)
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&out);
    report
}

fn lost(report: &Report) -> BTreeSet<String> {
    report
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Passed)
        .map(|c| c.id.clone())
        .collect()
}

fn declared(variant: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(variant.join("variant.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["fails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_reference_scores_full_marks_and_a_variant_loses_exactly_its_checks() {
    let exercise = root().join("exercises/todo-api");
    let reference = grade(
        "todo-api",
        &exercise.join("solutions/python"),
        "reference",
        &[],
    );
    assert_eq!(
        reference.status,
        RunStatus::Graded,
        "{:?}",
        reference.reason
    );
    assert_eq!(reference.runtime.as_deref(), Some("process"));
    assert!(
        lost(&reference).is_empty(),
        "the reference lost {:?}",
        lost(&reference)
    );
    assert_eq!(reference.score, reference.max_score);
    // The work counters ran on the grader's own PostgreSQL: the reference's figures.
    let work = reference
        .checks
        .iter()
        .find(|c| c.id == "list-page-work")
        .unwrap();
    assert!(!work.work.is_empty(), "no work figures in list-page-work");

    let variant = exercise.join("variants/in-memory");
    let graded = grade("todo-api", &variant, "in-memory", &[]);
    assert_eq!(graded.status, RunStatus::Graded, "{:?}", graded.reason);
    assert_eq!(lost(&graded), declared(&variant));
}

#[test]
fn a_server_that_exits_is_not_started_and_the_report_says_how_it_ended() {
    let exercise = root().join("exercises/todo-api/solutions/python");
    let report = grade(
        "todo-api",
        &exercise,
        "exits",
        &[
            "--cmd",
            "setsid sleep 6543 & echo 'no DATABASE_URL here' >&2; exit 3",
        ],
    );
    assert_eq!(report.status, RunStatus::StartFailed);
    let reason = report.reason.unwrap_or_default();
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(
        report
            .log_tail
            .unwrap_or_default()
            .contains("no DATABASE_URL here"),
        "the server's own line is in the report"
    );
    assert!(report.checks.iter().all(|c| c.earned == 0.0));
    // As root the submission has an account of its own: a daemon that left its process
    // group is ended with it.
    if is_root() {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let text = String::from_utf8_lossy(&ps.stdout);
        assert!(
            !text.lines().any(|l| l.trim() == "sleep 6543"),
            "the submission's daemon was left running"
        );
    }
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        == Some("0")
}

#[test]
fn a_server_over_its_memory_limit_is_killed_and_the_report_says_so() {
    let exercise = root().join("exercises/todo-api/solutions/python");
    // 700 MiB kept, over the exercise's 512 MiB.
    let report = grade(
        "todo-api",
        &exercise,
        "memory",
        &[
            "--cmd",
            "python3 -c 'import time; x = bytearray(700 << 20); x[::4096] = b\"x\" * len(x[::4096]); time.sleep(60)'",
        ],
    );
    assert_eq!(report.status, RunStatus::StartFailed);
    let reason = report.reason.unwrap_or_default();
    assert!(reason.contains("more than its 512 MiB"), "{reason}");
}

/// `--watch` with the process runtime, a learner's loop: the first grade, then a saved
/// change grades again and names the checks that newly fail; Ctrl-C (SIGINT) ends it.
/// Kills the process `.0` with SIGKILL when dropped, unless `.1` says it has ended (a
/// child not yet waited for keeps its pid, so the signal cannot reach another process).
struct KillUnlessFinished(String, std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for KillUnlessFinished {
    fn drop(&mut self) {
        if !self.1.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = Command::new("kill").args(["-KILL", &self.0]).status();
        }
    }
}

#[test]
fn watch_grades_again_after_a_change_and_names_what_newly_fails() {
    use std::io::{BufRead, BufReader};
    let dir = out_dir("watch");
    let work = dir.join("submission");
    std::fs::create_dir_all(&dir).unwrap();
    let copied = Command::new("cp")
        .arg("-R")
        .arg(root().join("exercises/todo-api/solutions/python"))
        .arg(&work)
        .status()
        .unwrap();
    assert!(copied.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_grader"))
        .current_dir(root())
        .args(["grade", "todo-api"])
        .arg(&work)
        .args(["--runtime", "process", "--watch", "--out"])
        .arg(dir.join("out"))
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A bound on the whole test, not a timing assertion: a grader that never prints
    // what is awaited is killed, and the test fails with what it printed. A failed
    // assertion kills it at once (the guard's drop), instead of leaving it watching.
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _guard = KillUnlessFinished(child.id().to_string(), finished.clone());
    {
        let (finished, pid) = (finished.clone(), child.id().to_string());
        std::thread::spawn(move || {
            for _ in 0..900 {
                std::thread::sleep(std::time::Duration::from_secs(1));
                if finished.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
            }
            drop(KillUnlessFinished(pid, finished));
        });
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut read_until = |what: &str, seen: &mut Vec<String>| {
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains(what) {
                return;
            }
        }
        panic!(
            "the grader ended before printing `{what}`:\n{}",
            seen.join("\n")
        );
    };
    read_until("watching", &mut seen);
    assert!(
        seen.iter().any(|l| l.contains("Score: 51/51")),
        "{}",
        seen.join("\n")
    );
    // The learner saves a mistake: POST /todos answers 200 and no Location.
    let variant = root().join("exercises/todo-api/variants/wrong-create-status");
    let applied = Command::new("git")
        .arg("apply")
        .arg(variant.join("mistake.patch"))
        .current_dir(&work)
        .status()
        .unwrap();
    assert!(applied.success());
    seen.clear();
    read_until("watching", &mut seen);
    let newly: BTreeSet<String> = seen
        .iter()
        .filter_map(|l| l.trim().strip_prefix("newly failing: "))
        .map(str::to_string)
        .collect();
    assert_eq!(newly, declared(&variant), "{}", seen.join("\n"));
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        status.code().is_some(),
        "ended by the signal itself: {status}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
