//! Gradescope's autograder `results.json`: the grader can run inside a Gradescope
//! autograder unchanged. A hidden check is shown to students once grades are published.

use grader_report::{CheckStatus, Report};
use serde_json::json;

use super::text::{failure_text, fraction, replay, verdict};

pub(crate) fn render(report: &Report) -> String {
    let tests: Vec<_> = report
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "number": (i + 1).to_string(),
                "name": format!("{}: {}", c.id, c.title),
                "score": c.earned,
                "max_score": c.points,
                "status": if c.status == CheckStatus::Passed { "passed" } else { "failed" },
                "visibility": if c.hidden { "after_published" } else { "visible" },
                "tags": [c.category],
                "output": c.failure.as_ref().map(failure_text).unwrap_or_default(),
            })
        })
        .collect();
    let total_ms: u64 = [
        report.phases.build_ms,
        report.phases.start_ms,
        report.phases.checks_ms,
        report.phases.teardown_ms,
    ]
    .into_iter()
    .flatten()
    .sum();
    let value = json!({
        "score": report.score,
        "execution_time": total_ms / 1000,
        "output": format!(
            "{}: {} points, {}. Seed {}.",
            report.exercise.name,
            fraction(report.score, report.max_score),
            verdict(report),
            replay(report.seed, str::to_string)
        ),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
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
