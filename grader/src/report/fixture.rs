//! A fixed report for the renderers' snapshot tests: no real durations, ports or ids.

use grader_report::{CheckResult, CheckStatus, Failure, Report, Resources, RunStatus};
use grader_report::{ExerciseInfo, Phases, SCHEMA_VERSION};

/// A check of the fixture; the load check gets its work figures.
fn check(
    id: &str,
    category: &str,
    status: CheckStatus,
    points: f64,
    failure: Option<Failure>,
    hidden: bool,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        title: format!("The {id} check"),
        category: category.into(),
        status,
        hidden,
        points,
        earned: if status == CheckStatus::Passed {
            points
        } else {
            0.0
        },
        duration_ms: 12,
        location: "exercises/todo-api/spec.toml:40".into(),
        failure,
        load: None,
        output: None,
        causes: Vec::new(),
        shutdowns: Vec::new(),
        work: Vec::new(),
    }
}

pub(crate) fn report() -> Report {
    let mut r = Report {
        schema_version: SCHEMA_VERSION,
        grader_version: "0.1.0".into(),
        run_id: "grader-00000000".into(),
        exercise: ExerciseInfo {
            name: "todo-api".into(),
            title: "Todo API".into(),
            version: "1.0.0".into(),
            digest: format!("sha256:{}", "5e".repeat(32)),
        },
        submission: "solutions/python".into(),
        commit: Some("3f786850e387550fdab836ed7e6dc881de23001b".into()),
        seed: 42,
        started_at: "2026-01-01T00:00:00Z".into(),
        status: RunStatus::Graded,
        reason: None,
        score: 0.0,
        max_score: 0.0,
        pass_mark: 100.0,
        passed: false,
        phases: Phases {
            build_ms: Some(1000),
            start_ms: Some(2000),
            checks_ms: Some(3000),
            teardown_ms: Some(500),
        },
        checks: vec![
            check("health", "api", CheckStatus::Passed, 1.0, None, false),
            check(
                "create-status",
                "api",
                CheckStatus::Failed,
                2.0,
                Some(failure()),
                false,
            ),
            check(
                "survives-crash",
                "persistence",
                CheckStatus::Passed,
                2.0,
                None,
                true,
            ),
            CheckResult {
                earned: 1.5,
                failure: Some(Failure {
                    message: "1 of 3 load thresholds failed: p95 < 50ms (measured 61.20ms)".into(),
                    ..Failure::message("")
                }),
                load: Some(load()),
                work: vec![work()],
                ..check(
                    "read-latency",
                    "performance",
                    CheckStatus::Failed,
                    3.0,
                    None,
                    false,
                )
            },
        ],
        build_log_tail: None,
        log_tail: Some("todo-api listening on :8080\nPOST /todos 200 <script>".into()),
        resources: Some(Resources {
            peak_memory_bytes: 14_655_488,
            memory_limit_bytes: 536_870_912,
            peak_cpu_percent: 20.9,
            cpu_limit: 1.0,
        }),
        submission_exit: None,
        causes: Vec::new(),
        unchecked_points: 0.0,
        runtime: None,
        reference_work: reference(),
    };
    r.checks[1] = with_output(r.checks[1].clone());
    // As a run writes it: a hidden check is redacted (see `hidden`).
    super::hidden::redact_all(&mut r.checks);
    harness::score::tally(&mut r);
    r
}

/// The reference's work figures of the load check (its baseline.json).
fn reference() -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>> {
    let figures = [
        ("statements".to_string(), 1.0),
        ("rows_read".to_string(), 1.0),
    ];
    [("read-latency".to_string(), figures.into())].into()
}

/// A failed check with what the submission printed during it and its cause.
fn with_output(mut c: CheckResult) -> CheckResult {
    c.output = Some(grader_report::SubmissionOutput {
        text: "POST /todos\nOSError: [Errno 30] Read-only file system: '/app/todos.json.tmp'"
            .into(),
        omitted: 2,
    });
    c.causes = vec![
        grader_report::Cause::new(
            grader_report::CauseKind::ReadOnlyFilesystem,
            "the server tried to write `/app/todos.json.tmp`, but only /tmp is writable while graded",
        )
        .with_rule("the root filesystem is read-only: only `/tmp` is writable, at most 64 MiB")
        .with_evidence("OSError: [Errno 30] Read-only file system: '/app/todos.json.tmp'"),
    ];
    c
}

/// A failed step with every detail a failure can carry.
fn failure() -> Failure {
    Failure {
        step: 1,
        location: "exercises/todo-api/spec.toml:47".into(),
        message: "POST /todos: status 200 where 201 was expected".into(),
        expected: Some("status <201>".into()),
        actual: Some("status <200>".into()),
        request: Some(r#"curl -i -X POST http://localhost:8080/todos -H 'Content-Type: application/json' --data-raw '{"title":"<b>Buy</b> milk"}'"#.into()),
        response: Some("HTTP 200\ncontent-type: application/json\n\n{\"id\": 1}".into()),
        hint: Some("Creating a resource answers 201 Created, not 200.".into()),
        diff: Some("--- expected\n+++ actual\n@@ -1 +1 @@\n-201\n+200\n".into()),
    }
}

/// The work of the load step: statements, rows and connections, with evidence.
fn work() -> grader_report::WorkReport {
    use grader_report::{StatementCount, WorkFigure, WorkReport};
    let fig = |name: &str, value, per_request, count, source: &str| WorkFigure {
        name: name.into(),
        value,
        per_request,
        count,
        source: source.into(),
    };
    WorkReport {
        step: 2,
        requests: 992,
        figures: vec![
            fig(
                "statements",
                21.0,
                true,
                20_832,
                "pg_stat_statements calls of role app in database app",
            ),
            fig(
                "pages_read",
                64.25,
                true,
                63_736,
                "pg_stat_statements shared_blks_hit + shared_blks_read of role app in database app",
            ),
            fig(
                "rows_read",
                100.5,
                true,
                99_696,
                "pg_stat_user_tables seq_tup_read + idx_tup_fetch in database app",
            ),
            fig(
                "connections_opened",
                2.0,
                false,
                2,
                "pg_stat_database sessions of database app",
            ),
            fig(
                "cpu",
                1.25,
                true,
                1_240_000_000,
                "CPU time of the submission's cgroup",
            ),
        ],
        errors: vec!["redis_commands: cannot read Redis's command statistics: refused".into()],
        top_statements: vec![
            StatementCount {
                query: "SELECT * FROM tags WHERE todo_id = $1".into(),
                calls: 19_840,
            },
            StatementCount {
                query: "SELECT id, title FROM todos LIMIT $1".into(),
                calls: 992,
            },
        ],
    }
}

fn load() -> grader_report::LoadReport {
    use grader_report::{Bucket, Latency, LoadReport};
    let lat = |p50: f64| Latency {
        p50,
        p90: p50 * 3.0,
        p95: p50 * 5.0,
        p99: p50 * 9.0,
        p999: p50 * 12.0,
        max: p50 * 20.0,
        mean: p50 * 1.5,
    };
    let buckets = [
        (0.1, 0),
        (0.2, 0),
        (0.4, 1),
        (0.8, 3),
        (1.6, 20),
        (3.2, 90),
        (6.4, 300),
        (12.8, 330),
        (25.6, 150),
        (51.2, 60),
        (102.4, 30),
        (204.8, 8),
    ];
    LoadReport {
        model: "open".into(),
        connections: 20,
        warmup_s: 1.0,
        duration_s: 5.0,
        target_rate: Some(200.0),
        achieved_rate: 198.4,
        requests: 992,
        ok: 990,
        errors: [("5xx".to_string(), 2)].into_iter().collect(),
        latency_ms: lat(12.24),
        uncorrected_ms: Some(lat(11.5)),
        histogram: buckets
            .into_iter()
            .map(|(le_ms, count)| Bucket { le_ms, count })
            .collect(),
        stages: vec![
            stage("base", 100.0, 300, lat(4.0), &[]),
            stage("spike", 500.0, 500, lat(20.0), &[("5xx", 2)]),
            stage("after", 100.0, 192, lat(5.0), &[]),
        ],
        thresholds: vec![
            threshold("p95 < 50ms", None, (false, 1.5), "61.20ms"),
            threshold("error_rate < 1%", None, (true, 0.75), "0.20%"),
            threshold("recovery < 3s", Some("after"), (true, 0.75), "750ms"),
        ],
        aborted: None,
        timeline: Some(timeline()),
    }
}

fn stage(
    name: &str,
    rate: f64,
    requests: u64,
    latency_ms: grader_report::Latency,
    errors: &[(&str, u64)],
) -> grader_report::StageReport {
    grader_report::StageReport {
        name: name.into(),
        target_rate: Some(rate),
        achieved_rate: rate * 0.99,
        requests,
        errors: errors.iter().map(|e| e.1).sum(),
        latency_ms,
        errors_by_kind: errors.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        recovery_ms: (name == "after").then_some(750),
    }
}

fn threshold(
    expr: &str,
    stage: Option<&str>,
    (passed, points): (bool, f64),
    actual: &str,
) -> grader_report::ThresholdResult {
    grader_report::ThresholdResult {
        expr: expr.into(),
        stage: stage.map(Into::into),
        passed,
        actual: actual.into(),
        points,
        note: None,
    }
}

/// 3 s of base, 1 s of spike, 2 s after, in windows of 250 ms: slow in the spike and
/// for 750 ms after it, with errors in one window.
fn timeline() -> grader_report::Timeline {
    use grader_report::{Timeline, TimelineStage, Window};
    let mark = |name: &str, start_ms, end_ms| TimelineStage {
        name: name.into(),
        start_ms,
        end_ms,
    };
    let windows = (0..24u64)
        .map(|k| {
            let (due, p50) = match k {
                12..16 => (125, 20.0),
                16..19 => (25, 12.0),
                _ => (25, 4.0),
            };
            Window {
                start_ms: k * 250,
                due,
                answered: if k == 12 { 90 } else { due },
                errors: u64::from(k == 13) * 2,
                p50_ms: Some(p50),
                p95_ms: Some(p50 * 5.0),
                max_ms: Some(p50 * 20.0),
            }
        })
        .collect();
    Timeline {
        window_ms: 250,
        stages: vec![
            mark("base", 0, 3000),
            mark("spike", 3000, 4000),
            mark("after", 4000, 6000),
        ],
        windows,
    }
}

/// Compares `got` with the committed snapshot `name`; UPDATE_EXPECT=1 rewrites it.
pub(crate) fn snapshot(name: &str, got: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&path, got).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == got,
        "{} differs from its snapshot (UPDATE_EXPECT=1 to accept):\n{}",
        path.display(),
        similar::TextDiff::from_lines(&want, got)
            .unified_diff()
            .header("snapshot", "rendered")
    );
}

#[test]
fn every_format_matches_its_snapshot() {
    use super::{Format, render};
    let r = report();
    for f in [
        Format::Json,
        Format::Junit,
        Format::Gradescope,
        Format::Classroom50,
        Format::Markdown,
        Format::Html,
    ] {
        snapshot(f.file_name(), &render(&r, f));
    }
}

/// The committed JSON Schema accepts the report, and would notice a missing field.
#[test]
fn the_schema_describes_the_report() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut value = serde_json::to_value(report()).expect("serialize");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    value["checks"][0]
        .as_object_mut()
        .expect("object")
        .remove("hidden");
    assert!(!validator.is_valid(&value));
}

/// What a hostile submission may send: escape sequences (CSI, OSC title and hyperlink),
/// control characters, a C1 CSI, a character XML forbids, and markup of every format.
pub(crate) const HOSTILE: &str = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ \0\x08\r\u{9b}31m\u{ffff} <script>alert(1)</script> ]]> </details> ``` | <img src=http://127.0.0.1:9/x.png> & [x](http://127.0.0.1:9/) \\|\n```\n</details>\n<details>";

/// The fixture's report with the hostile text in everything a submission can fill.
pub(crate) fn hostile() -> Report {
    let mut r = report();
    let h = || Some(HOSTILE.to_string());
    r.log_tail = h();
    r.build_log_tail = h();
    r.reason = h();
    r.submission_exit = h();
    for c in &mut r.checks {
        c.title = HOSTILE.into();
        if let Some(o) = &mut c.output {
            o.text = HOSTILE.into();
        }
        for cause in &mut c.causes {
            cause.message = HOSTILE.into();
            (cause.rule, cause.evidence) = (h(), h());
        }
        if let Some(l) = &mut c.load {
            for st in &mut l.stages {
                st.name = HOSTILE.into();
            }
            for t in &mut l.thresholds {
                t.note = h();
            }
            for st in l.timeline.iter_mut().flat_map(|t| &mut t.stages) {
                st.name = HOSTILE.into();
            }
        }
        for f in c.work.iter_mut().flat_map(|w| &mut w.figures) {
            (f.name, f.source) = (HOSTILE.into(), HOSTILE.into());
        }
        for w in &mut c.work {
            for s in &mut w.top_statements {
                s.query = HOSTILE.into();
            }
        }
        if let Some(f) = &mut c.failure {
            (f.message, f.location) = (HOSTILE.into(), HOSTILE.into());
            (f.expected, f.actual, f.request) = (h(), h(), h());
            (f.response, f.hint, f.diff) = (h(), h(), h());
        }
    }
    r
}

/// Every format shows the hostile text, and none passes a control character on.
#[test]
fn every_format_keeps_hostile_text_inert() {
    use super::{Format, render};
    use clap::ValueEnum as _;
    let r = hostile();
    // report.json keeps the text as sent (json.rs tests that it is escaped).
    for &f in Format::value_variants()
        .iter()
        .filter(|f| **f != Format::Json)
    {
        let mut text = render(&r, f);
        // The JSON formats: the text as a reader decodes it.
        let field = match f {
            Format::Gradescope => Some("output"),
            Format::Classroom50 => Some("message"),
            _ => None,
        };
        if let Some(field) = field {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            text = v["tests"][1][field].as_str().unwrap_or("").to_string();
        }
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{f:?}: a raw control character"
        );
        assert!(text.contains(r"\x1b]0;pwned\x07"), "{f:?}: shown visibly");
        assert!(
            text.contains(r"\u{ffff}") && text.contains(r"\x00"),
            "{f:?}"
        );
    }
    let html = render(&r, Format::Html);
    assert!(!html.contains("<script") && !html.contains("<img"));
    assert_eq!(
        html.matches("<details").count(),
        html.matches("</details>").count(),
        "sections balance"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; ]]&gt;"));
}
