//! Gradescope's autograder `results.json`: the grader can run inside a Gradescope
//! autograder unchanged. A hidden check is shown to students once grades are published.

use grader_report::{CheckResult, CheckStatus, Report};
use serde::Serialize;

use super::text::{failure_text, fraction, replay, verdict};

/// `results.json`, with the fields Gradescope's autograder reads, in its order.
#[derive(Serialize)]
struct Results<'a> {
    score: f64,
    /// Whole seconds.
    execution_time: u64,
    output: String,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test<'a>>,
}

/// One check as a Gradescope test.
#[derive(Serialize)]
struct Test<'a> {
    number: String,
    name: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    visibility: &'static str,
    tags: [&'a str; 1],
    output: String,
}

impl<'a> Test<'a> {
    fn of(number: usize, c: &'a CheckResult) -> Test<'a> {
        Test {
            number: number.to_string(),
            name: format!("{}: {}", c.id, c.title),
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
            tags: [&c.category],
            output: c.failure.as_ref().map(failure_text).unwrap_or_default(),
        }
    }
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
        output: format!(
            "{}: {} points, {}. Seed {}.",
            report.exercise.name,
            fraction(report.score, report.max_score),
            verdict(report),
            replay(report.seed, str::to_string)
        ),
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
        assert!(
            v["tests"][1]["output"]
                .as_str()
                .unwrap()
                .contains("expected: status <201>")
        );
    }
}
