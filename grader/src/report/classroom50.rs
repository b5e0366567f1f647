//! Classroom 50's `result.json` (`classroom50/result/v1`, the contract its runner reads
//! from the workspace after an autograder exits): the score, the maximum and a test per
//! check. Classroom 50 takes whole points, so each check's score is its earned points
//! rounded down (partial credit never rounds up) and the totals are the sums of the
//! tests'; report.json keeps the exact score.
//!
//! The submission's identity (`classroom`, `assignment`, `submission`, `commit`,
//! `release`, `review`) is what the runner put in the environment (`CLASSROOM`,
//! `ASSIGNMENT`, `SUBMISSION_TAG`, `COMMIT_URL`, `RELEASE_URL`, `REVIEW_URL`); the
//! runner stamps `owner` and `assignment_type` itself. Outside the runner they are empty.

use grader_report::{CheckResult, CheckStatus, Report};
use serde::Serialize;

use super::text::{failure_text, inert};

#[derive(Serialize)]
struct Result {
    schema: &'static str,
    classroom: String,
    assignment: String,
    submission: String,
    commit: String,
    release: String,
    review: String,
    /// The submission instant as the grader knows it: when the run started (the
    /// runner's own commit date wins where it stamps one).
    datetime: String,
    graded_at: String,
    score: u64,
    #[serde(rename = "max-score")]
    max_score: u64,
    tests: Vec<Test>,
}

/// One check; the fields past `max-score` are diagnostics, which Classroom 50 keeps
/// verbatim.
#[derive(Serialize)]
struct Test {
    #[serde(rename = "test-name")]
    name: String,
    passed: bool,
    score: u64,
    #[serde(rename = "max-score")]
    max_score: u64,
    category: String,
    /// What failed, inert (no markup or escape sequence from the submission).
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

impl Test {
    fn of(c: &CheckResult) -> Test {
        Test {
            name: inert(&format!("{}: {}", c.id, c.title)),
            passed: c.status == CheckStatus::Passed,
            score: whole(c.earned),
            max_score: whole(c.points),
            category: inert(&c.category),
            message: c
                .failure
                .as_ref()
                .map(|f| inert(&failure_text(f)))
                .unwrap_or_default(),
        }
    }
}

/// Whole points, rounded down (a float's noise aside: 2.9999999 is 3).
fn whole(points: f64) -> u64 {
    (points + 1e-9).floor().max(0.0) as u64
}

pub(crate) fn render(report: &Report) -> String {
    render_with(report, |name| std::env::var(name).ok())
}

/// `render`, with the environment given (tests).
fn render_with(report: &Report, env: impl Fn(&str) -> Option<String>) -> String {
    let tests: Vec<Test> = report.checks.iter().map(Test::of).collect();
    let var = |name: &str| env(name).map(|v| inert(&v)).unwrap_or_default();
    let result = Result {
        schema: "classroom50/result/v1",
        classroom: var("CLASSROOM"),
        assignment: var("ASSIGNMENT"),
        submission: var("SUBMISSION_TAG"),
        commit: var("COMMIT_URL"),
        release: var("RELEASE_URL"),
        review: env("REVIEW_URL")
            .or_else(|| env("COMMIT_URL"))
            .map(|v| inert(&v))
            .unwrap_or_default(),
        datetime: report.started_at.clone(),
        graded_at: report.started_at.clone(),
        score: tests.iter().map(|t| t.score).sum(),
        max_score: tests.iter().map(|t| t.max_score).sum(),
        tests,
    };
    // Plain structs of strings and numbers: serializing cannot fail.
    serde_json::to_string_pretty(&result).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::super::fixture::report;

    #[test]
    fn has_the_classroom50_contract() {
        let env = |name: &str| match name {
            "CLASSROOM" => Some("cs-backend".to_string()),
            "ASSIGNMENT" => Some("todo-api".to_string()),
            "COMMIT_URL" => Some("https://github.com/o/r/commit/abc".to_string()),
            _ => None,
        };
        let v: serde_json::Value =
            serde_json::from_str(&super::render_with(&report(), env)).unwrap();
        assert_eq!(v["schema"], "classroom50/result/v1");
        assert_eq!(v["classroom"], "cs-backend");
        assert_eq!(v["assignment"], "todo-api");
        assert_eq!(
            v["review"], "https://github.com/o/r/commit/abc",
            "falls back"
        );
        assert_eq!(v["submission"], "");
        let tests = v["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 4);
        for t in tests {
            for field in ["test-name", "passed", "score", "max-score"] {
                assert!(t.get(field).is_some(), "{field} in {t}");
            }
            assert!(t["score"].is_u64() && t["max-score"].is_u64(), "{t}");
        }
        // Whole points: the sums are the tests' sums, never more than was earned.
        let sum = |key: &str| tests.iter().map(|t| t[key].as_u64().unwrap()).sum::<u64>();
        assert_eq!(v["score"].as_u64(), Some(sum("score")));
        assert_eq!(v["max-score"].as_u64(), Some(sum("max-score")));
        assert!(v["score"].as_f64().unwrap() <= report().score);
        assert_eq!(tests[1]["passed"], false);
        assert!(
            tests[1]["message"]
                .as_str()
                .unwrap()
                .contains("status <201>"),
            "{}",
            tests[1]
        );
    }

    #[test]
    fn whole_points_round_down() {
        assert_eq!(super::whole(1.5), 1);
        assert_eq!(super::whole(2.9999999999), 3);
        assert_eq!(super::whole(0.0), 0);
    }
}
