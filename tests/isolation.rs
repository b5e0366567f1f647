//! Learners of one class cannot change each other's scores: well-behaved learners graded
//! beside hostile class-mates (tests/isolation/: a connection leaker, a disk filler, a
//! CPU burner) on the class's shared PostgreSQL score exactly what they score alone,
//! check by check. Real `grader` binary, real Docker, real PostgreSQL.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail
#![allow(clippy::print_stderr)] // the figures of a class are the test's output, helpers included

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use grader_report::{Report, RunStatus};

/// Every grade here draws its data from this seed, alone and in the class.
const SEED: &str = "12012";

/// The well-behaved learners: the reference and two variants, each graded as a folder.
/// Named so that, sorted (the order `grader batch` queues them in), each one alternates
/// with a hostile learner: with `-j 2` a hostile learner runs beside it. The batch's
/// tasks take their slots in the order the runtime first polls them, which is only
/// roughly that order, so the test also checks, from the reports' times, that each one's
/// checks did run beside a hostile learner.
const WELL_BEHAVED: &[(&str, &str)] = &[
    ("a-reference", REFERENCE),
    ("c-delete-200", "exercises/todo-api/variants/delete-200"),
    ("e-newest-first", "exercises/todo-api/variants/newest-first"),
];

/// The hostile class-mates, each a real todo-api submission.
const HOSTILE: &[(&str, &str)] = &[
    ("b-connection-leaker", "tests/isolation/connection-leaker"),
    ("d-disk-filler", "tests/isolation/disk-filler"),
    ("f-cpu-burner", "tests/isolation/cpu-burner"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn grader() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grader"));
    cmd.current_dir(root()).env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd`; its stdout. Exit codes 0 to 2 are grades; 3 and 4 are not.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run grader");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (0..=2).contains(&code),
        "{cmd:?} exited with {code}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn read_report(dir: &Path) -> Report {
    let text = std::fs::read_to_string(dir.join("report.json"))
        .unwrap_or_else(|e| panic!("{}: no report.json ({e})", dir.display()));
    serde_json::from_str(&text).expect("report.json matches the Report type")
}

/// No container, network or volume labelled with `run_id` may remain.
fn assert_nothing_left(run_id: &str) {
    let filter = format!("label=grader.run={run_id}");
    for what in [["ps", "-aq"], ["network", "ls"], ["volume", "ls"]] {
        let out = Command::new("docker")
            .args(what)
            .args(["-q", "--filter", &filter])
            .output()
            .expect("run docker");
        let left = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && left.trim().is_empty(),
            "docker {what:?} still lists {left} for {run_id}"
        );
    }
}

/// The reference solution every hostile fixture runs.
const REFERENCE: &str = "exercises/todo-api/solutions/python";

/// A hostile fixture is a `Dockerfile` and a `boot.py` only: it is graded as the
/// reference's `app.py` started by its `boot.py` (see `folder`), so its API is the
/// reference's by construction.
#[test]
fn hostile_fixtures_are_a_boot_for_the_reference() {
    assert!(root().join(REFERENCE).join("app.py").is_file());
    for (name, dir) in HOSTILE {
        let dir = root().join(dir);
        assert!(dir.join("boot.py").is_file(), "{name}: no boot.py");
        assert!(dir.join("Dockerfile").is_file(), "{name}: no Dockerfile");
        assert!(
            !dir.join("app.py").exists(),
            "{name}: app.py comes from the reference"
        );
    }
}

/// The folder a learner is graded from: a well-behaved one's own; a hostile one's
/// assembled under `base` from the reference's `app.py` and the fixture's files (the same
/// folder each time, so its image is built once).
fn folder(base: &Path, name: &str, path: &str) -> PathBuf {
    let src = root().join(path);
    if !HOSTILE.iter().any(|(h, _)| *h == name) {
        return src;
    }
    let dir = base.join("learners").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root().join(REFERENCE).join("app.py"), dir.join("app.py")).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

/// A learner's run in the class, in seconds from the class's first start: while its
/// submission ran (after the build, until teardown) and while its checks ran.
struct Window {
    running: (f64, f64),
    checks: (f64, f64),
}

fn window(r: &Report, origin: i64) -> Window {
    let start = chrono::DateTime::parse_from_rfc3339(&r.started_at)
        .unwrap()
        .timestamp()
        - origin;
    let secs = |ms: Option<u64>| ms.unwrap_or(0) as f64 / 1000.0;
    let up = start as f64 + secs(r.phases.build_ms);
    let checking = up + secs(r.phases.start_ms);
    let done = checking + secs(r.phases.checks_ms);
    Window {
        running: (up, done + secs(r.phases.teardown_ms)),
        checks: (checking, done),
    }
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

/// Where `class` differs from `solo`, check by check (status and points earned).
fn differences(name: &str, solo: &Report, class: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if class.status != solo.status {
        out.push(format!(
            "{name}: {:?} in the class ({}), {:?} alone",
            class.status,
            class.reason.as_deref().unwrap_or(""),
            solo.status
        ));
    }
    for s in &solo.checks {
        let Some(c) = class.checks.iter().find(|c| c.id == s.id) else {
            out.push(format!("{name}: {} is missing in the class", s.id));
            continue;
        };
        if c.status != s.status || c.earned != s.earned {
            out.push(format!(
                "{name}: {}: {:?} {}/{} in the class ({}), {:?} {}/{} alone",
                s.id,
                c.status,
                c.earned,
                c.points,
                c.failure.as_ref().map_or("", |f| f.message.as_str()),
                s.status,
                s.earned,
                s.points
            ));
        }
    }
    out
}

/// What a hostile learner's `boot.py` said it managed: the last of its own lines.
fn boasts(dir: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(dir.join("submission.log")).unwrap_or_default();
    let mine: Vec<String> = log
        .lines()
        .filter(|l| {
            ["leaker:", "filler:", "burner:"]
                .iter()
                .any(|p| l.contains(p))
        })
        .map(str::to_string)
        .collect();
    mine[mine.len().saturating_sub(2)..].to_vec()
}

/// Grades every learner alone, the hostile ones first (which also builds their images,
/// so that in the class each is up as soon as the learner beside it); the well-behaved
/// learners' reports by name.
fn grade_alone(base: &Path) -> Vec<(String, Report)> {
    let mut solo = Vec::new();
    for (name, path) in HOSTILE.iter().chain(WELL_BEHAVED) {
        let hostile = HOSTILE.iter().any(|(h, _)| h == name);
        let out = base.join("solo").join(name);
        let start = Instant::now();
        run(grader()
            .args(["grade", "todo-api"])
            .arg(folder(base, name, path))
            .args(["--seed", SEED, "--format", "json"])
            .arg("--out")
            .arg(&out));
        let r = read_report(&out);
        eprintln!(
            "alone  {name}: {}/{} {:?} in {:.1}s",
            r.score,
            r.max_score,
            r.status,
            start.elapsed().as_secs_f64()
        );
        assert_nothing_left(&r.run_id);
        if hostile {
            for line in boasts(&out) {
                eprintln!("         {line}");
            }
        } else {
            assert_eq!(r.status, RunStatus::Graded, "{name} alone");
            solo.push((name.to_string(), r));
        }
    }
    solo
}

/// Grades the whole class (`-j 2`, shared PostgreSQL); the batch's output.
fn grade_class(base: &Path) -> String {
    let mut csv = String::from("name,path\n");
    for (name, path) in WELL_BEHAVED.iter().chain(HOSTILE) {
        csv.push_str(&format!("{name},{}\n", folder(base, name, path).display()));
    }
    let file = base.join("class.csv");
    std::fs::write(&file, csv).unwrap();
    let start = Instant::now();
    let log = run(grader()
        .args(["batch", "todo-api"])
        .arg(&file)
        .args(["-j", "2", "--seed", SEED, "--format", "json", "--out"])
        .arg(base.join("class")));
    eprintln!(
        "class of 6 graded in {:.1}s:\n{log}",
        start.elapsed().as_secs_f64()
    );
    // The class's PostgreSQL is gone afterwards.
    let shared = log
        .split("starting the class's PostgreSQL (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("the class had no shared PostgreSQL:\n{log}"));
    assert_nothing_left(shared);
    log
}

#[test]
fn hostile_classmates_change_no_one_elses_score() {
    let out = grader().arg("images").output().expect("run grader images");
    assert!(out.status.success(), "grader images failed");
    let base = std::env::temp_dir().join(format!("grader-isolation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let solo = grade_alone(&base);
    grade_class(&base);

    let class_dir = base.join("class");
    let reports: Vec<(String, bool, Report)> = WELL_BEHAVED
        .iter()
        .map(|(n, _)| (n, false))
        .chain(HOSTILE.iter().map(|(n, _)| (n, true)))
        .map(|(n, hostile)| (n.to_string(), hostile, read_report(&class_dir.join(n))))
        .collect();
    let origin = reports
        .iter()
        .map(|(_, _, r)| {
            chrono::DateTime::parse_from_rfc3339(&r.started_at)
                .unwrap()
                .timestamp()
        })
        .min()
        .unwrap();
    // Everything that went wrong, said together: which learners, which checks, why.
    let mut problems = Vec::new();
    for (name, hostile, r) in &reports {
        assert_nothing_left(&r.run_id);
        let w = window(r, origin);
        eprintln!(
            "class  {name}: {}/{} {:?}{} running {:.0}-{:.0}s, checks {:.0}-{:.0}s",
            r.score,
            r.max_score,
            r.status,
            r.reason
                .as_deref()
                .map_or(String::new(), |why| format!(" ({why})")),
            w.running.0,
            w.running.1,
            w.checks.0,
            w.checks.1
        );
        if *hostile {
            for line in boasts(&class_dir.join(name)) {
                eprintln!("         {line}");
            }
            if r.status == RunStatus::Error {
                problems.push(format!(
                    "{name}: a grader error ({})",
                    r.reason.as_deref().unwrap_or("")
                ));
            }
        }
    }
    for (name, solo) in &solo {
        let (_, _, class) = reports.iter().find(|(n, _, _)| n == name).unwrap();
        // The test proves something only if a hostile learner ran beside this one.
        let beside: f64 = reports
            .iter()
            .filter(|(_, hostile, _)| *hostile)
            .map(|(_, _, h)| overlap(window(h, origin).running, window(class, origin).checks))
            .sum();
        eprintln!("{name}: its checks ran {beside:.0}s beside a hostile learner");
        if beside < 1.0 {
            problems.push(format!(
                "{name} never ran beside a hostile learner: this class proves nothing for it"
            ));
        }
        problems.extend(differences(name, solo, class));
    }
    assert!(
        problems.is_empty(),
        "graded beside hostile class-mates, these differ from the grade alone:\n{}",
        problems.join("\n")
    );
    let _ = std::fs::remove_dir_all(&base);
}
