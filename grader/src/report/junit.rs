//! JUnit XML: one testsuite per category, one testcase per check, so GitHub, GitLab and
//! Jenkins show results natively. A failed check is a `<failure>`; a check the grader
//! could not run (or a submission that never started) is an `<error>`.
//!
//! Every text goes through `text::inert` before quick-junit sees it: quick-junit itself
//! drops ANSI sequences and C0 characters silently (a learner would not see what the
//! server sent) and lets U+FFFE/U+FFFF through, which XML 1.0 forbids.

use std::time::Duration;

use grader_report::{CheckResult, CheckStatus, Report, RunStatus};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::text::{categories, cause_lines, failure_text, fraction, inert, output_text, work_text};

/// A check as a test case; `broken`: the submission never ran, so a skipped check is an
/// error, not a skip.
fn case(report: &Report, c: &CheckResult, broken: bool) -> TestCase {
    let mut status = match c.status {
        CheckStatus::Passed => TestCaseStatus::success(),
        CheckStatus::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        CheckStatus::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        CheckStatus::Skipped if broken => TestCaseStatus::non_success(NonSuccessKind::Error),
        CheckStatus::Skipped => TestCaseStatus::skipped(),
    };
    if let Some(f) = &c.failure {
        status.set_message(inert(&f.message));
        status.set_description(inert(&failure_text(f)));
    }
    let mut case = TestCase::new(
        inert(&format!(
            "{} ({} points)",
            c.id,
            fraction(c.earned, c.points)
        )),
        status,
    );
    let output = [output_text(c), work_text(c)]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if !output.is_empty() {
        case.set_system_out(inert(&output));
    }
    for w in &c.work {
        for f in &w.figures {
            case.add_property(Property::new(
                inert(&format!("work.step{}.{}", w.step, f.name)),
                f.value.to_string(),
            ));
        }
    }
    case.set_classname(inert(&format!("{}.{}", report.exercise.name, c.category)));
    case.set_time(Duration::from_millis(c.duration_ms));
    case
}

pub(crate) fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new(inert(&format!("grader: {}", report.exercise.name)));
    let broken = matches!(
        report.status,
        RunStatus::BuildFailed | RunStatus::StartFailed | RunStatus::Error
    );
    for (i, category) in categories(&report.checks).into_iter().enumerate() {
        let mut suite = TestSuite::new(inert(category.name));
        suite.add_property(Property::new(
            "grader.version",
            inert(&report.grader_version),
        ));
        if !report.exercise.digest.is_empty() {
            suite.add_property(Property::new(
                "exercise.digest",
                inert(&report.exercise.digest),
            ));
        }
        if let Some(runtime) = &report.runtime {
            suite.add_property(Property::new("grader.runtime", inert(runtime)));
        }
        if i == 0 && !report.causes.is_empty() {
            suite.set_system_out(inert(&cause_lines(&report.causes).join("\n")));
        }
        for c in category.checks {
            suite.add_test_case(case(report, c, broken));
        }
        junit.add_test_suite(suite);
    }
    // quick-junit escapes every name and text; writing into a String cannot fail.
    junit.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::fixture::report;

    #[test]
    fn parses_as_xml_with_one_suite_per_category() {
        let xml = super::render(&report());
        let doc = roxmltree::Document::parse(&xml).expect("valid XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let names: Vec<_> = suites
            .iter()
            .map(|s| s.attribute("name").unwrap_or(""))
            .collect();
        assert_eq!(names, ["api", "persistence", "performance"]);
        assert_eq!(suites[0].attribute("tests"), Some("2"));
        assert_eq!(suites[0].attribute("failures"), Some("1"));
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure");
        assert_eq!(
            failure.attribute("message"),
            Some("POST /todos: status 200 where 201 was expected")
        );
        assert!(failure.text().unwrap_or("").contains("curl -i -X POST"));
        let case = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase"))
            .expect("a case");
        assert_eq!(case.attribute("classname"), Some("todo-api.api"));
    }

    #[test]
    fn any_bytes_a_response_held_stay_valid_xml_and_visible() {
        let xml = super::render(&super::super::fixture::hostile());
        let doc = roxmltree::Document::parse(&xml).expect("valid XML 1.0");
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure");
        let text = failure.text().unwrap_or("");
        assert!(text.contains(r"\x1b[2J\x1b]0;pwned\x07"), "{text}");
        assert!(
            text.contains(r"\x00\x08\x0d\u{9b}31m\u{ffff} <script>"),
            "{text}"
        );
        assert!(text.contains("]]> </details>"), "{text}");
        let message = failure.attribute("message").unwrap_or("");
        assert!(message.starts_with(r"\x1b[2J"), "{message}");
    }
}
