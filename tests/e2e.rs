//! End-to-end: the real `grader` binary grades real submissions in real Docker, next to
//! a real PostgreSQL. Images are prepared once per test run (`grader images`).

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use grader_report::{CheckStatus, Report, RunStatus};

// Whole-run tests of their own files, built into this binary so that they run beside
// the exercise suites: cargo runs test binaries one after another, and the suites keep
// one of this binary's threads busy for an hour while the other finishes early.
#[path = "gradescope.rs"]
mod gradescope;
#[path = "isolation.rs"]
mod isolation;
#[path = "process.rs"]
mod process;
#[path = "remote.rs"]
mod remote;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn grader() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grader"));
    cmd.current_dir(root()).env("NO_COLOR", "1");
    cmd
}

/// `grader images` once per test binary: every test shares the images it makes.
fn images_ready() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let out = grader().arg("images").output().expect("run grader images");
        assert!(
            out.status.success(),
            "grader images failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

struct Graded {
    output: Output,
    report: Report,
    /// Where its reports are.
    dir: PathBuf,
}

impl Graded {
    fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn failed(&self) -> BTreeSet<String> {
        self.report
            .checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .map(|c| c.id.clone())
            .collect()
    }
}

/// Where a grade of `submission` writes: a folder of its own per call, so that two
/// tests grading the same submission at once never share one.
fn grade_dir(submission: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "grader-e2e-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        submission.file_name().unwrap().to_string_lossy()
    ))
}

fn grade(exercise: &str, submission: &Path, extra: &[&str]) -> Graded {
    images_ready();
    let out_dir = grade_dir(submission);
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = grader()
        .arg("grade")
        .arg(exercise)
        .arg(submission)
        .arg("--out")
        .arg(&out_dir)
        .args(extra)
        .output()
        .expect("run grader grade");
    let text = std::fs::read_to_string(out_dir.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "no report.json ({e}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    // The committed JSON Schema (additionalProperties: false) must accept it exactly:
    // the report types themselves ignore unknown fields, for older readers.
    let report: Report = serde_json::from_str(&text).expect("report.json matches the Report type");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/report.schema.json")).unwrap(),
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "report.json does not match docs/report.schema.json: {errors:?}"
    );
    assert_nothing_left(&report.run_id);
    Graded {
        output,
        report,
        dir: out_dir,
    }
}

/// No container or network of this run may remain.
fn assert_nothing_left(run_id: &str) {
    let filter = format!("label=grader.run={run_id}");
    for what in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"][..],
        &["volume", "ls", "-q"][..],
    ] {
        let out = Command::new("docker")
            .args(what)
            .args(["--filter", &filter])
            .output()
            .expect("run docker");
        assert!(out.status.success());
        let left = String::from_utf8_lossy(&out.stdout);
        assert!(
            left.trim().is_empty(),
            "docker {what:?} still lists {left} for {run_id}"
        );
    }
}

fn todo(path: &str) -> PathBuf {
    root().join("exercises/todo-api").join(path)
}

#[test]
fn reference_solution_gets_the_full_score() {
    let g = grade("todo-api", &todo("solutions/python"), &[]);
    let failed = g.failed();
    assert!(
        failed.is_empty(),
        "failed checks: {failed:?}\n{}",
        g.stdout()
    );
    assert_eq!(g.report.status, RunStatus::Graded);
    assert_eq!(g.report.score, g.report.max_score);
    assert!(g.report.max_score > 0.0);
    assert!(g.report.passed);
    assert_eq!(g.code(), 0, "{}", g.stdout());
    assert!(g.stdout().contains("PASSED"));
    // The load step counted the work the server did: every figure the exercise has
    // that costs no wait (rows_read and transactions only where a bound names them).
    let load = g
        .report
        .checks
        .iter()
        .find(|c| c.load.is_some())
        .expect("a load check");
    let work = load.work.first().expect("the load step's work");
    let names: Vec<&str> = work.figures.iter().map(|f| f.name.as_str()).collect();
    for name in [
        "statements",
        "pages_read",
        "connections_opened",
        "cpu",
        "memory_growth",
    ] {
        assert!(names.contains(&name), "{name} missing from {work:?}");
    }
    assert!(
        !names.contains(&"rows_read"),
        "no bound names it: {names:?}"
    );
    // list-page-work's index scan touches a few pages of the 100,000 rows' table and
    // index; both pages are counted.
    let page = g
        .report
        .checks
        .iter()
        .find(|c| c.id == "list-page-work")
        .expect("list-page-work");
    assert_eq!(page.work.len(), 2, "{:?}", page.work);
    for w in &page.work {
        let pages = w.figures.iter().find(|f| f.name == "pages_read");
        assert!(
            pages.is_some_and(|f| f.value > 0.0 && f.value < 20.0),
            "{:?}",
            page.work
        );
    }
    assert!(work.errors.is_empty(), "{:?}", work.errors);
    // Warm-up included: more requests than the load's figures count.
    assert!(work.requests >= load.load.as_ref().map_or(0, |l| l.requests));
    let statements = work
        .figures
        .iter()
        .find(|f| f.name == "statements")
        .expect("statements");
    assert!(
        statements.value >= 1.0,
        "a read is at least one statement: {statements:?}"
    );
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Variant {
    #[allow(dead_code)]
    description: String,
    fails: BTreeSet<String>,
}

/// A legal variant: another form of a right answer, which must get the full score.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Legal {
    /// What the patch changes.
    description: String,
    /// Why that is still a right answer (the contract or the standard that allows it).
    legal: String,
}

/// The bundled exercises that `exercise_suite` grades; `every_check_is_failed_by_some_variant`
/// makes sure no exercise folder is missing here.
const SUITES: &[&str] = &[
    "auth-service",
    "bank-ledger",
    "cache-proxy",
    "job-queue",
    "todo-api",
    "url-shortener",
];

/// An exercise's references, legal variants and faulty variants, named as `grader test`
/// names their output folders, and what each must lose (a reference or a legal
/// variant: nothing).
fn class_of(dir: &Path) -> Vec<(String, PathBuf, Option<Variant>)> {
    let mut expected: Vec<(String, PathBuf, Option<Variant>)> = Vec::new();
    for sub in ["solutions", "legal", "variants"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap_or_else(|e| panic!("{}/{sub}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        paths.sort();
        for p in paths {
            let name = format!("{sub}-{}", p.file_name().unwrap().to_string_lossy());
            let file = p.join("variant.toml");
            let variant = match sub {
                "variants" => Some(
                    toml::from_str::<Variant>(&std::fs::read_to_string(&file).unwrap())
                        .unwrap_or_else(|e| panic!("{}: {e}", file.display())),
                ),
                // A legal variant must get the full score, like a reference.
                "legal" => {
                    toml::from_str::<Legal>(&std::fs::read_to_string(&file).unwrap())
                        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                    assert!(
                        p.join("legal.patch").is_file(),
                        "{} has no legal.patch",
                        p.display()
                    );
                    None
                }
                _ => None,
            };
            expected.push((name, p, variant));
        }
    }
    expected
}

/// Grades every reference solution, every legal variant and every faulty variant of an
/// exercise as one class (`grader test -j 2`, whose load gate runs at most two light loads at once):
/// each reference and each legal variant gets the full score, each faulty variant loses
/// exactly the checks its `variant.toml` declares.
fn exercise_suite(exercise: &str) {
    images_ready();
    let dir = root().join("exercises").join(exercise);
    if !dir.join("spec.toml").is_file() {
        panic!("{} has no spec.toml", dir.display());
    }
    let expected = class_of(&dir);
    assert!(
        expected.iter().any(|e| e.2.is_none()),
        "{exercise}: no reference solution"
    );
    assert!(
        expected.iter().filter(|e| e.2.is_some()).count() >= 2,
        "{exercise}: expected at least two variants"
    );
    assert!(
        expected
            .iter()
            .filter(|e| e.0.starts_with("legal-"))
            .count()
            >= 6,
        "{exercise}: expected at least six legal variants in legal/"
    );
    let base = std::env::temp_dir().join(format!(
        "grader-e2e-{}-suite-{exercise}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let out = base.join("out");
    // `grader test`, the author's loop, grades them as one class and judges each
    // against its declaration; this test judges the reports again on its own.
    // `E2E_RUNTIME=process` grades the suites without Docker (the machine needs every
    // reference's packages: README, "Without Docker").
    let runtime = std::env::var("E2E_RUNTIME").unwrap_or_else(|_| "docker".into());
    let o = grader()
        .args([
            "test",
            exercise,
            "--jobs",
            "2",
            "--runtime",
            &runtime,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        log.contains("mutation score: 100%")
            && log.contains("every subject loses exactly what it declares")
            && log.contains("the reference's work figures match baseline.json"),
        "{exercise}: grader test found problems:\n{log}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{log}");
    // The class shares one PostgreSQL (a database per learner); it is gone afterwards.
    let ex = harness::load_exercise(&dir).unwrap();
    assert_class_server_gone(&log, ex.postgres.is_some() && runtime == "docker");
    // A report names its hidden checks `hidden-1`, `hidden-2`... in spec order.
    let hidden: Vec<String> = ex
        .checks
        .iter()
        .filter(|c| c.hidden)
        .map(|c| c.id.clone())
        .collect();
    let mut problems = Vec::new();
    for (name, path, variant) in &expected {
        problems.extend(judge(&out, name, path, variant.as_ref(), &hidden, &log));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A batch's log says it started the class's shared PostgreSQL exactly when `expected`;
/// that server is gone afterwards.
fn assert_class_server_gone(log: &str, expected: bool) {
    let shared = log
        .split("starting the class's PostgreSQL (")
        .nth(1)
        .and_then(|rest| rest.split(')').next());
    assert_eq!(shared.is_some(), expected, "{log}");
    if let Some(id) = shared {
        assert_nothing_left(id);
    }
}

/// One learner of a suite's class: its problem, if it did not lose exactly what it
/// declares (a reference: nothing).
fn judge(
    out: &Path,
    name: &str,
    path: &Path,
    variant: Option<&Variant>,
    hidden: &[String],
    log: &str,
) -> Option<String> {
    let mut problem = None;
    let text = std::fs::read_to_string(out.join(name).join("report.json"))
        .unwrap_or_else(|e| panic!("{name}: no report ({e})\n{log}"));
    let report: Report = serde_json::from_str(&text).unwrap();
    assert_nothing_left(&report.run_id);
    assert_hidden_redacted(&text, &report, hidden);
    let failed: BTreeSet<String> = report
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Passed)
        .map(|c| spec_id(&c.id, hidden))
        .collect();
    let want = variant.map(|v| v.fails.clone()).unwrap_or_default();
    if report.status != RunStatus::Graded || failed != want {
        let why: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .map(|c| {
                format!(
                    "    {}: {}",
                    c.id,
                    c.failure.as_ref().map_or("", |f| f.message.as_str())
                )
            })
            .collect();
        problem = Some(format!(
            "{} ({:?}, seed {}): failed {failed:?}, declared {want:?}\n{}",
            path.display(),
            report.status,
            report.seed,
            why.join("\n")
        ));
    }
    for c in report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
    {
        let f = c.failure.as_ref().expect("a failed check says why");
        assert!(!f.message.is_empty(), "{c:?}");
        // A hidden check's details (its location among them) are not shown.
        assert_eq!(f.location.is_empty(), c.hidden, "{c:?}");
    }
    problem
}

/// The spec's id of a reported check: a redacted `hidden-N` is the Nth hidden check.
fn spec_id(id: &str, hidden: &[String]) -> String {
    id.strip_prefix("hidden-")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| hidden.get(n.wrapping_sub(1)))
        .cloned()
        .unwrap_or_else(|| id.to_string())
}

/// A report shows a hidden check as `hidden-N`, with neither its id nor its title nor
/// where it is defined, anywhere in report.json.
fn assert_hidden_redacted(text: &str, report: &Report, hidden: &[String]) {
    let mut n = 0;
    for c in report.checks.iter().filter(|c| c.hidden) {
        n += 1;
        assert_eq!(c.id, format!("hidden-{n}"), "{c:?}");
        assert_eq!(c.title, "a hidden check", "{c:?}");
        assert!(c.location.is_empty(), "{c:?}");
    }
    assert_eq!(n, hidden.len(), "every hidden check is reported");
    for id in hidden {
        assert!(
            !text.contains(&format!("\"{id}\"")),
            "report.json names {id}"
        );
    }
}

/// Every exercise's suite (`exercise_suite`), one after the other on one test thread,
/// since their classes must not overlap; its name sorts first, so the other tests run
/// beside it on the other thread instead of waiting for it. `E2E_SUITES=todo-api,...`
/// grades only those exercises. A failed suite does not stop the next: every problem is
/// reported at the end.
#[test]
fn a_suite_per_exercise_loses_exactly_what_each_subject_declares() {
    let only = std::env::var("E2E_SUITES").ok();
    let picked: Vec<&str> = SUITES
        .iter()
        .copied()
        .filter(|e| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| x == *e))
        })
        .collect();
    assert!(
        !picked.is_empty(),
        "E2E_SUITES names no exercise of {SUITES:?}"
    );
    let mut failed = Vec::new();
    for exercise in picked {
        let start = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(|| exercise_suite(exercise));
        eprintln!(
            "suite {exercise}: {} in {:.0?}",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            start.elapsed()
        );
        if outcome.is_err() {
            failed.push(exercise);
        }
    }
    assert!(
        failed.is_empty(),
        "suites that failed: {failed:?} (their panics above)"
    );
}

/// One bug, an integer sent as a string (`"hits": "3"`, as node-pg returns a BIGINT):
/// every failure names the type mismatch, in the terminal and in report.json, and no hint
/// blames another cause (lost updates, memory, case). The hidden checks, all passed, are
/// named nowhere.
#[test]
fn a_one_bug_submission_is_told_its_one_cause() {
    let dir = root().join("exercises/url-shortener");
    let variant = dir.join("variants/hits-as-string");
    let g = grade("url-shortener", &variant, &[]);
    let declared: Variant =
        toml::from_str(&std::fs::read_to_string(variant.join("variant.toml")).unwrap()).unwrap();
    assert_eq!(g.report.status, RunStatus::Graded);
    // Exactly the declared checks fail; a load threshold may too on a machine busy
    // with other work (the suite, graded alone, holds it exactly).
    let failed = g.failed();
    let extra: Vec<_> = g
        .report
        .checks
        .iter()
        .filter(|c| failed.contains(&c.id) && !declared.fails.contains(&c.id))
        .collect();
    assert!(declared.fails.is_subset(&failed), "{}", g.stdout());
    assert!(
        extra.iter().all(|c| c.load.is_some()),
        "{extra:?}\n{}",
        g.stdout()
    );
    let lost = |id: &str| declared.fails.contains(id);
    let type_mismatch = |text: &str| {
        text.contains("`$.hits` is a string (\"") && text.ends_with("\"), an integer was expected")
    };
    for c in g.report.checks.iter().filter(|c| lost(&c.id)) {
        let f = c.failure.as_ref().unwrap();
        assert!(type_mismatch(&f.message), "{}: {}", c.id, f.message);
        assert_eq!(f.hint, None, "{}: {}", c.id, f.message);
        assert!(
            f.actual.as_deref().unwrap().starts_with("string <\""),
            "{f:?}"
        );
        assert!(f.expected.as_deref().unwrap().starts_with("int <"), "{f:?}");
    }
    let out = g.stdout();
    let fails: Vec<&str> = out
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some("FAIL") && words.next().is_some_and(lost)
        })
        .collect();
    assert_eq!(fails.len(), declared.fails.len(), "{out}");
    for line in fails {
        assert!(type_mismatch(line.trim_end()), "{line}");
    }
    // No hint under these failures (a slow load's own hint aside).
    assert!(
        out.matches("hint:").count() <= extra.len(),
        "a hint in:\n{out}"
    );
    let text = std::fs::read_to_string(g.dir.join("report.json")).unwrap();
    let ex = harness::load_exercise(&dir).unwrap();
    let hidden: Vec<_> = ex.checks.iter().filter(|c| c.hidden).collect();
    assert!(!hidden.is_empty());
    for c in hidden {
        for secret in [&c.id, &c.title] {
            assert!(
                !out.contains(secret.as_str()),
                "the terminal names {secret}"
            );
            assert!(
                !text.contains(secret.as_str()),
                "report.json names {secret}"
            );
        }
    }
}

#[test]
fn a_build_failure_is_reported_with_the_log() {
    let g = grade("todo-api", &root().join("tests/fixtures/broken-build"), &[]);
    assert_eq!(g.report.status, RunStatus::BuildFailed);
    assert_eq!(g.code(), 2);
    assert_eq!(g.report.score, 0.0);
    let tail = g.report.build_log_tail.clone().unwrap_or_default();
    assert!(tail.contains("syntax error near line 3"), "{tail}");
    assert!(
        g.report
            .checks
            .iter()
            .all(|c| c.status == CheckStatus::Skipped)
    );
    assert!(g.stdout().contains("did not build"), "{}", g.stdout());
}

#[test]
fn a_server_that_exits_is_reported_with_its_output() {
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/exits-at-once"),
        &[],
    );
    assert_eq!(g.report.status, RunStatus::StartFailed, "{}", g.stdout());
    assert_eq!(g.code(), 2);
    let reason = g.report.reason.clone().unwrap_or_default();
    assert!(reason.contains("exited with code 3"), "{reason}");
    let log = g.report.log_tail.clone().unwrap_or_default();
    assert!(log.contains("could not connect to the database"), "{log}");
}

/// The one cause of `kind` a list names, with its sentence in one line.
fn cause_of(causes: &[grader_report::Cause], kind: grader_report::CauseKind) -> String {
    let found: Vec<&grader_report::Cause> = causes.iter().filter(|c| c.kind == kind).collect();
    assert_eq!(found.len(), 1, "one {kind:?} in {causes:?}");
    let line = found[0].line();
    assert!(!line.contains('\n'), "one line: {line}");
    line
}

/// Known causes are named in one line next to the failure, and each failure shows what
/// the submission printed while it ran: a server that writes beside its code (the
/// read-only root), one that listens on 127.0.0.1, and a build that needs a registry.
#[test]
fn known_causes_are_named_next_to_the_submissions_own_lines() {
    a_write_beside_the_code_is_named_with_its_lines();
    a_server_on_loopback_is_named_at_once();
    a_build_without_its_registry_is_named();
}

fn a_write_beside_the_code_is_named_with_its_lines() {
    use grader_report::CauseKind;
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/writes-beside-code"),
        &["--format", "json,junit,md,html,gradescope"],
    );
    assert_eq!(g.report.status, RunStatus::Graded, "{}", g.stdout());
    let create = g
        .report
        .checks
        .iter()
        .find(|c| c.id == "create-status")
        .unwrap();
    assert_eq!(create.status, CheckStatus::Failed);
    let line = cause_of(&create.causes, CauseKind::ReadOnlyFilesystem);
    assert!(
        line.contains("`/app/todos.json.tmp`")
            && line.contains("only /tmp is writable while graded"),
        "{line}"
    );
    assert!(
        line.contains("sandbox rule: the root filesystem is read-only"),
        "{line}"
    );
    let output = create.output.as_ref().expect("the check's own log lines");
    assert!(
        output
            .text
            .contains("OSError: [Errno 30] Read-only file system: '/app/todos.json.tmp'"),
        "{output:?}"
    );
    assert!(
        !output.text.contains("listening on :8080"),
        "only the lines printed while the check ran: {output:?}"
    );
    // Every failed check that wrote names it; a hidden one keeps its cause, not its lines.
    for c in g
        .report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
    {
        if c.hidden {
            assert!(
                c.output.is_none(),
                "{}: a hidden check's lines stay hidden",
                c.id
            );
        }
    }
    let stdout = g.stdout();
    assert!(
        stdout.contains("cause:") && stdout.contains("Read-only file system"),
        "{stdout}"
    );
    let dir = g.dir.clone();
    for file in ["junit.xml", "summary.md", "report.html", "results.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text.contains("only /tmp is writable while graded"),
            "{file}"
        );
        assert!(
            text.contains("Read-only file system"),
            "{file}: the server's lines"
        );
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let out: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("system-out"))
        .filter_map(|n| n.text())
        .collect();
    assert!(out.contains("| OSError: [Errno 30]"), "system-out: {out}");
}

fn a_server_on_loopback_is_named_at_once() {
    use grader_report::CauseKind;
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/listens-on-loopback"),
        &[],
    );
    assert_eq!(g.report.status, RunStatus::StartFailed, "{}", g.stdout());
    let line = cause_of(&g.report.causes, CauseKind::ListensOnLoopback);
    assert!(
        line.contains("127.0.0.1:8080") && line.contains("0.0.0.0:8080"),
        "{line}"
    );
    assert!(
        g.report
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1:8080"),
        "{:?}",
        g.report.reason
    );
    // The wait ended on the sockets, not at the start-up timeout: the reason is the cause,
    // not "did not answer within ..." (no assertion on timing).
    assert!(
        !g.report.reason.as_deref().unwrap_or("").contains("within"),
        "{:?}",
        g.report.reason
    );
    let log = g.report.log_tail.clone().unwrap_or_default();
    assert!(log.contains("serving on http://127.0.0.1:8080"), "{log}");
    assert!(
        g.stdout()
            .contains("Cause: the server listens on 127.0.0.1:8080"),
        "{}",
        g.stdout()
    );
}

fn a_build_without_its_registry_is_named() {
    use grader_report::CauseKind;
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/needs-registry"),
        &[],
    );
    assert_eq!(g.report.status, RunStatus::BuildFailed, "{}", g.stdout());
    let line = cause_of(&g.report.causes, CauseKind::RegistryUnreachable);
    assert!(line.contains("could not reach PyPI (pip)"), "{line}");
    assert!(
        g.report
            .causes
            .iter()
            .all(|c| c.kind != CauseKind::MissingPackage),
        "flask exists: {:?}",
        g.report.causes
    );
    let tail = g.report.build_log_tail.clone().unwrap_or_default();
    assert!(
        tail.contains("PyPI may be unreachable where this is graded"),
        "{tail}"
    );
    assert!(!tail.contains("\x1b["), "no colours: {tail:?}");
    assert!(
        g.stdout().contains("Cause: the build could not reach PyPI"),
        "{}",
        g.stdout()
    );
}

/// A server that ignores SIGTERM is killed at the end of the grace period, and the
/// restart check loses its points with that reason, in one line of the terminal report.
#[test]
fn a_server_that_ignores_sigterm_loses_the_restart_with_the_reason() {
    let exercise = root().join("tests/fixtures/lifecycle");
    let g = grade(
        exercise.to_str().unwrap(),
        &root().join("tests/fixtures/ignores-sigterm"),
        &[],
    );
    assert_eq!(g.report.status, RunStatus::Graded, "{}", g.stdout());
    assert_eq!(g.code(), 1);
    let check = &g.report.checks[0];
    assert_eq!(check.status, CheckStatus::Failed, "{}", g.stdout());
    assert_eq!(check.earned, 0.0);
    let reason = "did not exit within 5s of SIGTERM: it was killed; handle SIGTERM: stop accepting, finish in-flight requests, exit";
    assert_eq!(check.failure.as_ref().unwrap().message, reason);
    let stop = check.shutdowns.first().expect("the shutdown is recorded");
    assert!(stop.killed, "{stop:?}");
    assert!(stop.exit_ms >= 4_800 && stop.grace_ms == 5_000, "{stop:?}");
    assert!(
        g.stdout().lines().any(|l| l.contains(reason)),
        "the reason in one line:\n{}",
        g.stdout()
    );
}

#[test]
fn a_folder_without_dockerfile_is_a_build_failure() {
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/no-dockerfile"),
        &[],
    );
    assert_eq!(g.report.status, RunStatus::BuildFailed);
    assert!(
        g.report
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("no Dockerfile")
    );
    assert_eq!(g.code(), 2);
}

#[test]
fn a_bad_exercise_is_exit_3_without_docker() {
    let out = grader()
        .args(["check", "no-such-exercise"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no exercise spec here"), "{err}");
    assert!(
        err.contains("bundled exercises: auth-service, bank-ledger"),
        "{err}"
    );
    let out = grader().args(["grade"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "a bad command line is exit 3");
}

/// Starts a grade of the reference solution, returns the child and its run id once the
/// line containing `marker` has been printed.
fn start_grade(
    out_dir: &Path,
    marker: &str,
) -> (
    std::process::Child,
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    images_ready();
    let _ = std::fs::remove_dir_all(out_dir);
    let mut child = grader()
        .args(["grade", "todo-api"])
        .arg(todo("solutions/python"))
        .arg("--out")
        .arg(out_dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut run_id = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("(run ").nth(1) {
            run_id = rest.split(',').next().unwrap().to_string();
        }
        if line.contains(marker) {
            return (child, run_id, lines);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the grader ended before printing {marker:?}");
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn ctrl_c_cleans_up_and_still_writes_a_report() {
    let out_dir = std::env::temp_dir().join(format!("grader-e2e-{}-sigint", std::process::id()));
    let (mut child, run_id, lines) = start_grade(&out_dir, "; running ");
    signal(&child, "-INT");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(4), "{rest:?}");
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report.status, RunStatus::Error);
    assert!(report.reason.as_deref().unwrap().contains("interrupted"));
    let expected = harness::load_exercise(&root().join("exercises/todo-api"))
        .unwrap()
        .checks
        .len();
    assert_eq!(
        report.checks.len(),
        expected,
        "every check is in the report, run or not"
    );
    assert_nothing_left(&run_id);
}

/// The reader of the grader's output goes away mid-run (a pipe to `head`, a killed
/// parent): the grade goes on, ends in its teardown and writes its report.
#[test]
fn a_closed_stdout_does_not_stop_the_grade() {
    let out_dir = std::env::temp_dir().join(format!("grader-e2e-{}-epipe", std::process::id()));
    let (mut child, run_id, lines) = start_grade(&out_dir, "; running ");
    drop(lines);
    let status = child.wait().unwrap();
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report.status, RunStatus::Graded, "{:?}", report.reason);
    assert_eq!(status.code(), Some(if report.passed { 0 } else { 1 }));
    assert_nothing_left(&run_id);
}

#[test]
fn grader_clean_removes_what_a_killed_run_left() {
    let out_dir = std::env::temp_dir().join(format!("grader-e2e-{}-sigkill", std::process::id()));
    let (mut child, run_id, _lines) = start_grade(&out_dir, "; running ");
    signal(&child, "-KILL");
    child.wait().unwrap();
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=grader.run={run_id}"),
        ])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "a killed run leaves containers"
    );
    let out = grader().args(["clean", "--run", &run_id]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("removed 4 container(s), 2 network(s)"),
        "{text}"
    );
    assert_nothing_left(&run_id);
}

/// A throwaway PostgreSQL from the grader's image, published on loopback only, removed
/// on drop.
struct Postgres {
    name: String,
    url: String,
}

impl Postgres {
    fn start() -> Postgres {
        images_ready();
        let name = format!("grader-test-pg-{}", std::process::id());
        let out = Command::new("docker")
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                &format!("grader.run={name}"),
            ])
            .args([
                "-p",
                "127.0.0.1::5432",
                "--tmpfs",
                "/var/lib/postgresql/data",
            ])
            .args([
                "-e",
                "POSTGRES_USER=t",
                "-e",
                "POSTGRES_PASSWORD=pw",
                "-e",
                "POSTGRES_DB=db",
            ])
            .arg("postgres:15-bookworm")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = Command::new("docker")
            .args(["port", &name, "5432/tcp"])
            .output()
            .unwrap();
        let port = String::from_utf8_lossy(&port.stdout);
        let port = port.trim().rsplit(':').next().unwrap().to_string();
        Postgres {
            url: format!("postgres://t:pw@127.0.0.1:{port}/db"),
            name,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// A target with no HTTP server, only a database: enough for SQL steps.
struct DbOnly(String);

impl harness::Target for DbOnly {
    fn base_url(&self) -> String {
        "http://127.0.0.1:9".into()
    }
    fn database_url(&self) -> Option<String> {
        Some(self.0.clone())
    }
    async fn restart(
        &self,
        _grace: std::time::Duration,
    ) -> Result<harness::Stopped, harness::TargetError> {
        Ok(harness::Stopped {
            after: std::time::Duration::ZERO,
            killed: false,
        })
    }
    async fn crash(&self) -> Result<(), harness::TargetError> {
        Ok(())
    }
    async fn wait_ready(&self) -> Result<(), harness::TargetError> {
        Ok(())
    }
}

#[test]
fn sql_steps_against_a_real_postgres() {
    let pg = Postgres::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        harness::probe::wait_database(&pg.url, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let src = r#"
[exercise]
name = "sql"
title = "sql"
[submission]
port = 8080

[[checks]]
id = "setup-and-pass"
title = "setup"
category = "persistence"
points = 1
[[checks.steps]]
sql = "SELECT n AS id, 'user' || n AS name, n % 2 = 0 AS even, NULL::text AS note FROM generate_series(1, 3) AS n WHERE n >= $1 AND 'x' = $2 AND $3"
params = [1, "x", true]
expect.rows = 3
expect.jsonpath."$[*].id" = { sorted = "asc", count = 3 }
expect.jsonpath."$[1]" = { type = "object" }
expect.json_subset = [{ id = 1, name = "user1", even = false }, { id = 2 }, { id = 3 }]
capture = { second = "$[1].name" }
[[checks.steps]]
sql = "SELECT $1::text AS echoed"
params = ["{{ second }}"]
expect.json = [{ echoed = "user2" }]

[[checks]]
id = "row-count"
title = "rows"
category = "persistence"
points = 1
[[checks.steps]]
sql = "SELECT 1 AS one"
expect.rows = 2

[[checks]]
id = "value"
title = "value"
category = "persistence"
points = 1
[[checks.steps]]
sql = "SELECT 'plain' AS password"
expect.jsonpath."$[0].password" = { not_equals = "plain" }

[[checks]]
id = "missing-table"
title = "missing table"
category = "persistence"
points = 1
[[checks.steps]]
sql = "SELECT * FROM todos"
"#;
        let ex = harness::exercise::parse_exercise(Path::new("sql.toml"), src).unwrap_or_else(|e| panic!("{e}"));
        let config = harness::RunConfig {
            seed: 1,
            public_base_url: "http://localhost:8080".into(),
        ..Default::default()
};
        let results = harness::run_checks(&ex, &DbOnly(pg.url.clone()), &config, |_| {}).await;
        let by_id = |id: &str| results.iter().find(|r| r.id == id).unwrap();
        let r = by_id("setup-and-pass");
        assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
        let f = by_id("row-count").failure.clone().unwrap();
        assert_eq!((f.expected.as_deref(), f.actual.as_deref()), (Some("rows <2>"), Some("rows <1>")));
        assert_eq!(f.request.as_deref(), Some("SELECT 1 AS one"));
        let f = by_id("value").failure.clone().unwrap();
        assert_eq!(f.expected.as_deref(), Some(r#"not string <"plain">"#));
        let f = by_id("missing-table").failure.clone().unwrap();
        assert_eq!(f.message, r#"the query failed: relation "todos" does not exist"#);
        assert_eq!(by_id("missing-table").status, CheckStatus::Failed);
    });
}

#[test]
fn every_report_format_is_written_and_re_rendered() {
    let g = grade(
        "todo-api",
        &todo("solutions/python"),
        &["--format", "json,junit,gradescope,classroom50,md,html"],
    );
    assert_eq!(g.code(), 0, "{}", g.stdout());
    let dir = g.dir.clone();
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, g.report.checks.len());
    assert!(doc.descendants().all(|n| !n.has_tag_name("failure")));
    let gs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(gs["score"].as_f64(), Some(g.report.score));
    let c50: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(c50["schema"], "classroom50/result/v1");
    assert_eq!(
        c50["score"].as_f64(),
        Some(g.report.score),
        "whole points, all earned"
    );
    assert_eq!(
        c50["tests"].as_array().unwrap().len(),
        g.report.checks.len()
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("✅ Todo API"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("peak memory"));
    // `grader report` renders the saved run to the same bytes.
    let again = dir.join("again");
    let out = grader()
        .args(["report"])
        .arg(dir.join("report.json"))
        .args(["--format", "html,junit", "--out"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(again.join("report.html")).unwrap(),
        html
    );
    assert_eq!(
        std::fs::read_to_string(again.join("junit.xml")).unwrap(),
        junit
    );
}

#[test]
fn the_time_limit_keeps_what_finished() {
    let g = grade(
        "todo-api",
        &root().join("tests/fixtures/hangs-after-health"),
        &["--timeout", "25"],
    );
    assert_eq!(g.report.status, RunStatus::Graded, "{}", g.stdout());
    assert!(
        g.report
            .reason
            .as_deref()
            .unwrap()
            .contains("time limit of 25s")
    );
    assert_eq!(
        g.report.checks[0].status,
        CheckStatus::Passed,
        "health answered"
    );
    let not_run = g
        .report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Skipped)
        .count();
    assert!(not_run >= 10, "{}", g.stdout());
    assert_eq!(
        g.report.checks.len(),
        harness::load_exercise(&root().join("exercises/todo-api"))
            .unwrap()
            .checks
            .len()
    );
    assert_eq!(g.code(), 1);
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostileExpect {
    /// The exercise folder beside the fixtures it is graded against (default `exercise`).
    exercise: Option<String>,
    status: String,
    reason_contains: Option<String>,
    failed: Option<BTreeSet<String>>,
    message_contains: Option<String>,
    log_contains: Option<String>,
}

/// Every hostile fixture ends with a report that names the reason, within `--timeout`,
/// and leaves nothing behind (`grade` checks that); none reaches the host's listener.
#[test]
fn hostile_submissions_end_with_a_named_reason() {
    // A listener on the host side of every bridge: the reach-host fixture must not get in.
    let listener = std::net::TcpListener::bind("0.0.0.0:47999").unwrap();
    listener.set_nonblocking(true).unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if listener.accept().is_ok() {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let dir = root().join("tests/hostile");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 17);
    for fixture in fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let expect: HostileExpect =
            toml::from_str(&std::fs::read_to_string(fixture.join("expect.toml")).unwrap()).unwrap();
        let exercise = dir.join(expect.exercise.as_deref().unwrap_or("exercise"));
        let start = std::time::Instant::now();
        let g = grade(exercise.to_str().unwrap(), &fixture, &["--timeout", "120"]);
        eprintln!(
            "hostile {name}: {:?} in {:.1}s",
            g.report.status,
            start.elapsed().as_secs_f64()
        );
        let status = serde_json::to_value(g.report.status).unwrap();
        assert_eq!(status, expect.status.as_str(), "{name}:\n{}", g.stdout());
        let reason = g.report.reason.clone().unwrap_or_default();
        if let Some(want) = &expect.reason_contains {
            assert!(
                reason.contains(want.as_str()),
                "{name}: reason {reason:?}\n{}",
                g.stdout()
            );
        }
        if let Some(failed) = &expect.failed {
            assert_eq!(&g.failed(), failed, "{name}:\n{}", g.stdout());
        }
        if let Some(want) = &expect.message_contains {
            let messages: Vec<String> = g
                .report
                .checks
                .iter()
                .filter_map(|c| c.failure.as_ref().map(|f| f.message.clone()))
                .collect();
            assert!(
                messages.iter().any(|m| m.contains(want.as_str())),
                "{name}: {messages:?}"
            );
        }
        let log = g.report.log_tail.clone().unwrap_or_default();
        if let Some(want) = &expect.log_contains {
            assert!(log.contains(want.as_str()), "{name}: log {log:?}");
        }
        assert!(log.len() <= 64 * 1024, "{name}: the log kept is capped");
        if name == "cpu-spinner" {
            let r = g.report.resources.clone().unwrap();
            eprintln!(
                "cpu-spinner: peak CPU {}% with a quota of {} core(s)",
                r.peak_cpu_percent, r.cpu_limit
            );
            assert!(
                r.peak_cpu_percent <= 80.0,
                "the quota holds: {}%",
                r.peak_cpu_percent
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher.join().unwrap();
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a submission reached the host"
    );
}

/// The database fixtures as a class, on the class's shared PostgreSQL and with a server
/// per learner: each learner's role is no superuser (the fixture's /probe says so, and
/// the grader's checker still reads its table), the one that fills its database is shut
/// out at its cap with that reason, and the others keep their full score beside it.
#[test]
fn hostile_database_roles_hold_on_the_shared_server() {
    images_ready();
    let hostile = root().join("tests/hostile");
    let base = std::env::temp_dir().join(format!("grader-e2e-{}-db-class", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let csv = base.join("class.csv");
    let (role, fill) = (hostile.join("db-role"), hostile.join("db-fill"));
    std::fs::write(
        &csv,
        format!(
            "name,path\nada,{}\nlinus,{}\ngrace,{}\n",
            role.display(),
            fill.display(),
            role.display()
        ),
    )
    .unwrap();
    for shared in [true, false] {
        let out = base.join(if shared { "shared" } else { "own" });
        let o = grader()
            .arg("batch")
            .arg(hostile.join("exercise-pg"))
            .arg(&csv)
            .args(["--jobs", "2", "--format", "json", "--out"])
            .arg(&out)
            .args(if shared {
                &[][..]
            } else {
                &["--no-shared-db"][..]
            })
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_class_server_gone(&log, shared);
        let report = |name: &str| -> Report {
            let text = std::fs::read_to_string(out.join(name).join("report.json"))
                .unwrap_or_else(|e| panic!("{name}: no report ({e})\n{log}"));
            let report: Report = serde_json::from_str(&text).unwrap();
            assert_nothing_left(&report.run_id);
            report
        };
        for name in ["ada", "grace"] {
            let r = report(name);
            let failed: Vec<&str> = r
                .checks
                .iter()
                .filter(|c| c.status != CheckStatus::Passed)
                .map(|c| c.id.as_str())
                .collect();
            assert_eq!(
                r.status,
                RunStatus::Graded,
                "{name} (shared: {shared}): {r:?}"
            );
            assert!(
                failed.is_empty(),
                "{name} (shared: {shared}): {failed:?}\n{:?}",
                r.log_tail
            );
            assert!(
                r.log_tail
                    .as_deref()
                    .unwrap_or("")
                    .contains("\"superuser\": false")
            );
        }
        let r = report("linus");
        assert_eq!(r.status, RunStatus::Graded, "{r:?}");
        let reason = r.reason.clone().unwrap_or_default();
        assert!(
            reason.contains("used more than 64 MiB of database storage"),
            "linus (shared: {shared}): {reason:?}"
        );
    }
}

/// A class graded in two shards, merged, and resumed: one gradebook, every learner once.
#[test]
fn a_class_in_shards_merges_into_one_gradebook() {
    images_ready();
    let base = std::env::temp_dir().join(format!("grader-e2e-{}-class", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let csv = base.join("class.csv");
    std::fs::write(
        &csv,
        format!(
            "name,path\nada,{}\nlinus,{}\ngrace,{}\nken,does-not-exist\n",
            todo("solutions/python").display(),
            todo("variants/in-memory").display(),
            root().join("tests/fixtures/broken-build").display()
        ),
    )
    .unwrap();
    let mut outs = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = base.join(format!("shard{}", &shard[..1]));
        let o = grader()
            .args(["batch", "todo-api"])
            .arg(&csv)
            .args(["--shard", shard, "--jobs", "2", "--format", "json", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.code() == Some(1),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        outs.push(out);
    }
    let merged = base.join("merged");
    let o = grader()
        .arg("merge")
        .args(&outs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let book = std::fs::read_to_string(merged.join("gradebook.csv")).unwrap();
    let rows: Vec<&str> = book.lines().collect();
    assert_eq!(rows.len(), 5, "{book}");
    assert!(rows[0].starts_with("learner,score,max,percent,status,passed,api,"));
    let by = |name: &str| {
        rows.iter()
            .find(|r| r.starts_with(&format!("{name},")))
            .unwrap()
            .to_string()
    };
    assert!(by("ada").contains(",graded,true,"), "{book}");
    assert!(by("linus").contains(",graded,false,"), "{book}");
    assert!(by("grace").contains(",build_failed,false,"), "{book}");
    assert!(by("ken").contains(",build_failed,false,"), "{book}");
    let summary = std::fs::read_to_string(merged.join("summary.md")).unwrap();
    assert!(summary.contains("4 learners, 1 passed"), "{summary}");
    // Resume: nothing left to grade in a shard that finished.
    let o = grader()
        .args(["batch", "todo-api"])
        .arg(&csv)
        .args(["--shard", "1/2", "--resume", "--out"])
        .arg(&outs[0])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("already graded, 0 to go"), "{text}");
}

/// A check that no variant fails is a check that may not work: every check of every
/// bundled exercise is declared failed by at least one variant (no Docker needed).
#[test]
fn every_check_is_failed_by_some_variant() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("exercises")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("spec.toml").is_file() {
            continue;
        }
        found.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        let ex = harness::load_exercise(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut covered = BTreeSet::new();
        for v in std::fs::read_dir(dir.join("variants")).unwrap() {
            let path = v.unwrap().path().join("variant.toml");
            if let Ok(text) = std::fs::read_to_string(&path) {
                let v: Variant =
                    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                covered.extend(v.fails);
            }
        }
        let uncovered: Vec<&str> = ex
            .checks
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| !covered.contains(*id))
            .collect();
        assert!(
            uncovered.is_empty(),
            "{}: no variant fails {uncovered:?}",
            ex.name
        );
        let unknown: Vec<&String> = covered
            .iter()
            .filter(|id| !ex.checks.iter().any(|c| &c.id == *id))
            .collect();
        assert!(
            unknown.is_empty(),
            "{}: variants declare unknown checks {unknown:?}",
            ex.name
        );
    }
    found.sort();
    assert_eq!(found, SUITES, "every bundled exercise has a suite test");
}

/// `grader init` starts a folder for each stack; without a Dockerfile of its own, the
/// stack's template builds it; the starter answers the health check.
#[test]
fn starters_of_every_stack_build_from_templates_and_answer_health() {
    images_ready();
    let base = std::env::temp_dir().join(format!("grader-e2e-{}-init", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for lang in ["python", "node", "ruby", "php", "go"] {
        let dir = base.join(lang);
        let out = grader()
            .args(["init", "todo-api", "--lang", lang])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Learners may drop the Dockerfile: the template must do.
        std::fs::remove_file(dir.join("Dockerfile")).unwrap();
        let g = grade("todo-api", &dir, &[]);
        assert_eq!(
            g.report.status,
            RunStatus::Graded,
            "{lang}:\n{}",
            g.stdout()
        );
        assert_eq!(g.report.checks[0].id, "health");
        assert_eq!(
            g.report.checks[0].status,
            CheckStatus::Passed,
            "{lang}:\n{}",
            g.stdout()
        );
        let log = std::fs::read_to_string(g.dir.join("build.log")).unwrap();
        assert!(
            log.contains(&format!("a {lang} project, built with")),
            "{log}"
        );
    }
}

/// The optional services for real: a Redis container read by `redis` steps, and the
/// upstream mock that the grader hosts, reached by the submission through its relay,
/// counting calls and switched to fail or to answer slowly.
#[test]
fn services_redis_and_upstream_mock_work() {
    let fixture = root().join("tests/fixtures/services");
    let g = grade(fixture.to_str().unwrap(), &fixture.join("submission"), &[]);
    assert_eq!(g.report.status, RunStatus::Graded, "{}", g.stdout());
    assert!(g.failed().is_empty(), "{}", g.stdout());
    assert_eq!(g.report.score, 4.0);
}

/// A git repository as the submission: graded at a ref, or at the last commit before a
/// deadline, and the report names the commit.
#[test]
fn a_git_submission_is_graded_at_the_picked_commit() {
    images_ready();
    let repo = std::env::temp_dir().join(format!("grader-e2e-{}-repo", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str], date: &str| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args([
                "-c",
                "user.name=Ada",
                "-c",
                "user.email=ada@example.invalid",
            ])
            .args(args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let copy = |from: &Path| {
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, repo.join(p.file_name().unwrap())).unwrap();
        }
    };
    git(&["init", "-q", "-b", "main"], "2026-11-01T10:00:00Z");
    // Before the deadline: a Dockerfile that does not build. After: the reference.
    copy(&root().join("tests/fixtures/broken-build"));
    git(&["add", "-A"], "2026-11-01T10:00:00Z");
    git(&["commit", "-q", "-m", "first try"], "2026-11-01T10:00:00Z");
    let early = git(&["rev-parse", "HEAD"], "2026-11-01T10:00:00Z");
    for e in std::fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::remove_file(p).unwrap();
        }
    }
    copy(&todo("solutions/python"));
    git(&["add", "-A"], "2026-11-20T10:00:00Z");
    git(&["commit", "-q", "-m", "late fix"], "2026-11-20T10:00:00Z");
    let late = git(&["rev-parse", "HEAD"], "2026-11-20T10:00:00Z");

    let g = grade("todo-api", &repo, &["--before", "2026-11-10T00:00:00Z"]);
    assert_eq!(
        g.report.commit.as_deref(),
        Some(early.as_str()),
        "{}",
        g.stdout()
    );
    assert_eq!(g.report.status, RunStatus::BuildFailed, "{}", g.stdout());

    let g = grade("todo-api", &repo, &["--ref", "main"]);
    assert_eq!(
        g.report.commit.as_deref(),
        Some(late.as_str()),
        "{}",
        g.stdout()
    );
    assert!(g.report.passed, "{}", g.stdout());
    assert!(g.stdout().contains(&format!("grading commit {late}")));

    let g = grade("todo-api", &repo, &["--ref", "no-such-branch"]);
    assert_eq!(g.report.status, RunStatus::BuildFailed);
    assert!(
        g.report
            .reason
            .as_deref()
            .unwrap()
            .contains("no ref `no-such-branch`"),
        "{:?}",
        g.report.reason
    );
}

/// The Gradescope autograder script (docs/integrations/gradescope/run_autograder) on a
/// fake /autograder, set to grade in Docker: a results.json whatever happens, with the
/// reason. (Its default, the process runtime, is tests/gradescope.rs's.)
#[test]
fn the_gradescope_autograder_always_leaves_results() {
    images_ready();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_grader")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |submission: &Path, docker_host: Option<&str>| -> serde_json::Value {
        let fake = std::env::temp_dir().join(format!(
            "grader-e2e-{}-gradescope-{}",
            std::process::id(),
            docker_host.is_some()
        ));
        let _ = std::fs::remove_dir_all(&fake);
        std::fs::create_dir_all(fake.join("submission")).unwrap();
        for e in std::fs::read_dir(submission).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, fake.join("submission").join(p.file_name().unwrap())).unwrap();
        }
        let mut cmd = Command::new("bash");
        cmd.arg(root_script())
            .env("AUTOGRADER_ROOT", &fake)
            .env("EXERCISE", root().join("exercises/todo-api"))
            .env("GRADER_RUNTIME", "docker")
            .env("PATH", &path)
            .current_dir(root());
        if let Some(h) = docker_host {
            cmd.env("DOCKER_HOST", h);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(fake.join("results/results.json")).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    fn root_script() -> PathBuf {
        root().join("docs/integrations/gradescope/run_autograder")
    }
    let broken = run(&root().join("tests/fixtures/broken-build"), None);
    assert_eq!(broken["score"], 0.0, "{broken}");
    assert!(
        broken["output"].as_str().unwrap().contains("build"),
        "{broken}"
    );
    let no_docker = run(
        &todo("solutions/python"),
        Some("unix:///nonexistent/docker.sock"),
    );
    assert_eq!(no_docker["score"], 0, "{no_docker}");
    assert!(
        no_docker["output"]
            .as_str()
            .unwrap()
            .contains("No Docker engine answered"),
        "{no_docker}"
    );
}

/// A todo-api reference already running (its own container sharing the network of a
/// PostgreSQL container, both published on loopback), removed on drop.
struct RunningServer {
    names: [String; 2],
    app_url: String,
    db_url: String,
}

impl RunningServer {
    fn start() -> RunningServer {
        images_ready();
        let tag = format!("grader-test-attach-{}", std::process::id());
        let (db, app) = (format!("{tag}-db"), format!("{tag}-app"));
        let docker = |args: &[&str]| {
            let out = Command::new("docker").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "docker {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let label = format!("grader.run={tag}");
        let reference = todo("solutions/python");
        docker(&[
            "build",
            "-q",
            "--label",
            &label,
            "-t",
            &tag,
            reference.to_str().unwrap(),
        ]);
        docker(&[
            "run",
            "-d",
            "--name",
            &db,
            "--label",
            &label,
            "-p",
            "127.0.0.1::5432",
            "-p",
            "127.0.0.1::8080",
            "--tmpfs",
            "/var/lib/postgresql/data",
            "-e",
            "POSTGRES_USER=t",
            "-e",
            "POSTGRES_PASSWORD=pw",
            "-e",
            "POSTGRES_DB=db",
            "postgres:15-bookworm",
        ]);
        let server = RunningServer {
            app_url: format!("http://{}", docker(&["port", &db, "8080/tcp"])),
            db_url: format!("postgres://t:pw@{}/db", docker(&["port", &db, "5432/tcp"])),
            names: [app.clone(), db.clone()],
        };
        docker(&[
            "run",
            "-d",
            "--name",
            &app,
            "--label",
            &label,
            "--network",
            &format!("container:{db}"),
            "-e",
            "PORT=8080",
            "-e",
            "DATABASE_URL=postgres://t:pw@127.0.0.1:5432/db",
            &tag,
        ]);
        server
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", name])
                .output();
        }
    }
}

/// `--url`: the grader probes a server it did not start. The checks that restart or
/// crash it or stop its database are skipped with the reason, everything else passes,
/// and the points that could not be checked are counted.
#[test]
fn a_running_server_is_graded_without_what_needs_its_process() {
    let server = RunningServer::start();
    let out = std::env::temp_dir().join(format!("grader-e2e-{}-attach", std::process::id()));
    let o = grader()
        .args([
            "grade",
            "todo-api",
            "--url",
            &server.app_url,
            "--database-url",
            &server.db_url,
        ])
        .args(["--show-hidden", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report.status, RunStatus::Graded, "{stdout}");
    let ex = harness::load_exercise(&root().join("exercises/todo-api")).unwrap();
    let mut unchecked = 0.0;
    for c in &report.checks {
        let check = ex.checks.iter().find(|k| k.id == c.id).unwrap();
        let controls = check.steps.iter().any(|s| {
            matches!(
                s.kind,
                harness::exercise::StepKind::Restart { .. }
                    | harness::exercise::StepKind::Crash { .. }
                    | harness::exercise::StepKind::Database(_)
            )
        });
        // Restarts, crashes and the database going away need the process; the work
        // counters need the grader's own PostgreSQL and the server's container.
        if controls || c.status == CheckStatus::Skipped {
            assert_eq!(c.status, CheckStatus::Skipped, "{c:?}");
            let why = &c.failure.as_ref().unwrap().message;
            assert!(why.contains("an attached server"), "{why}");
            unchecked += c.points;
        } else {
            assert_eq!(c.status, CheckStatus::Passed, "{c:?}\n{stdout}");
        }
    }
    assert!(
        unchecked >= 4.0,
        "the restart, crash and database checks are skipped"
    );
    assert_eq!(report.unchecked_points, unchecked);
    assert_eq!(report.score + unchecked, report.max_score);
    assert!(
        stdout.contains("could not be checked against a running server"),
        "{stdout}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&out);
}
