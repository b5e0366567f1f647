//! Gradescope's autograder `results.json`: the grader can run inside a Gradescope
//! autograder unchanged. A hidden check is shown to students once grades are published.
//!
//! Every output and name is declared `text`, the one format Gradescope renders as it
//! is (its default, `simple_format`, and `html`, `md` and `ansi` interpret markup or
//! escape sequences), and goes through `text::inert`: a submission's body cannot become
//! markup, and its control characters are shown.

use grader_report::{CheckResult, CheckStatus, Report};
use serde::Serialize;

use super::text::{cause_lines, failure_with_output, fraction, inert, replay, verdict, work_text};

/// How Gradescope is to show every output and test name: as plain text.
const TEXT: &str = "text";

/// `results.json`, with the fields Gradescope's autograder reads, in its order.
#[derive(Serialize)]
struct Results {
    score: f64,
    /// Whole seconds.
    execution_time: u64,
    output: String,
    output_format: &'static str,
    test_output_format: &'static str,
    test_name_format: &'static str,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

/// One check as a Gradescope test.
#[derive(Serialize)]
struct Test {
    number: String,
    name: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    visibility: &'static str,
    tags: [String; 1],
    output: String,
}

impl Test {
    fn of(number: usize, c: &CheckResult) -> Test {
        Test {
            number: number.to_string(),
            name: inert(&format!("{}: {}", c.id, c.title)),
            score: c.earned,
            max_score: c.points,
            status: if c.status == CheckStatus::Passed {
                "passed"
            } else {
                "failed"
            },
            visibility: if c.hidden {
                "after_published"
            } else {
                "visible"
            },
            tags: [inert(&c.category)],
            output: inert(&test_output(c)),
        }
    }
}

/// A check's failure, with its causes and the submission's output, then the work
/// counted in its steps.
fn test_output(c: &CheckResult) -> String {
    let failure = (c.failure.as_ref())
        .map(|f| failure_with_output(c, f))
        .unwrap_or_default();
    let work = work_text(c);
    match (failure.is_empty(), work.is_empty()) {
        (_, true) => failure,
        (true, false) => work,
        (false, false) => format!("{failure}\n\n{work}"),
    }
}

/// The run in a sentence, then its known causes, a line each.
fn run_output(report: &Report) -> String {
    let mut out = format!(
        "{}: {} points, {}. Seed {}.",
        report.exercise.name,
        fraction(report.score, report.max_score),
        verdict(report),
        replay(report.seed, str::to_string)
    );
    for line in cause_lines(&report.causes) {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

pub(crate) fn render(report: &Report) -> String {
    let p = &report.phases;
    let total_ms: u64 = [p.build_ms, p.start_ms, p.checks_ms, p.teardown_ms]
        .into_iter()
        .flatten()
        .sum();
    let results = Results {
        score: report.score,
        execution_time: total_ms / 1000,
        output: inert(&run_output(report)),
        output_format: TEXT,
        test_output_format: TEXT,
        test_name_format: TEXT,
        visibility: "visible",
        stdout_visibility: "hidden",
        tests: (report.checks.iter().enumerate())
            .map(|(i, c)| Test::of(i + 1, c))
            .collect(),
    };
    // Plain structs of strings and numbers: serializing cannot fail.
    serde_json::to_string_pretty(&results).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::super::fixture::report;

    #[test]
    fn has_gradescope_fields() {
        let v: serde_json::Value = serde_json::from_str(&super::render(&report())).unwrap();
        assert_eq!(v["score"], 4.5, "partial credit of the load check counts");
        assert_eq!(v["tests"].as_array().unwrap().len(), 4);
        assert_eq!(v["tests"][1]["status"], "failed");
        assert_eq!(v["tests"][1]["max_score"], 2.0);
        assert_eq!(v["tests"][2]["visibility"], "after_published");
        for field in ["output_format", "test_output_format", "test_name_format"] {
            assert_eq!(v[field], "text", "{field}: nothing is read as markup");
        }
        assert!(
            v["tests"][1]["output"]
                .as_str()
                .unwrap()
                .contains("expected: status <201>")
        );
    }
}
