//! What a learner may see of a hidden check: that it is there, its category, its points
//! and whether it passed. Not its id or title (`reserved-codes` is already the answer),
//! nor where it is defined, what failed or what a load measured.
//!
//! A run redacts its hidden checks before anything is rendered or written, report.json
//! included: report.json is what a learner's CI keeps and what `grader report` renders
//! again, so it is a learner-facing format like the others. The instructor's view is
//! `grader grade --show-hidden`, which keeps everything. A redacted check is named
//! `hidden-N`, N its place among the spec's hidden checks (1, 2...): stable across runs,
//! so a class summary can count it, and an instructor finds it in the spec.

use grader_report::{CheckResult, Failure};

/// The title every redacted hidden check shows.
pub(crate) const TITLE: &str = "a hidden check";

/// Redacts `check`, the `n`th hidden check of its spec (from 1).
pub(crate) fn redact(check: &mut CheckResult, n: usize) {
    check.id = format!("hidden-{n}");
    check.title = TITLE.into();
    check.location = String::new();
    check.load = None;
    // The work figures tell what a hidden check asked of the server.
    check.work.clear();
    // The causes stay in plain words; the lines they were read from and the check's own
    // log lines could replay its requests (a server that logs them).
    check.output = None;
    for cause in &mut check.causes {
        cause.evidence = None;
    }
    if check.failure.is_some() {
        check.failure = Some(Failure::hidden());
    }
}

/// Redacts every hidden check of a run's results, numbered in their order.
pub(crate) fn redact_all(checks: &mut [CheckResult]) {
    for (n, check) in checks.iter_mut().filter(|c| c.hidden).enumerate() {
        redact(check, n + 1);
    }
}

/// A report with a hidden check that failed and one that passed, each with a name and a
/// title that must appear nowhere once redacted, in any format.
#[cfg(test)]
mod tests {
    use super::super::fixture::report;
    use super::super::{Format, class, render};
    use clap::ValueEnum as _;
    use grader_report::{CheckStatus, Failure};

    const SECRETS: &[&str] = &[
        "reserved-codes",
        "The codes health and links are refused",
        "url-scheme",
        "Only http and https URLs are shortened",
        "hidden.toml",
        "javascript:",
    ];

    fn hidden_report() -> grader_report::Report {
        let mut r = report();
        let c = &mut r.checks[2];
        assert!(c.hidden && c.status == CheckStatus::Passed);
        c.id = "url-scheme".into();
        c.title = "Only http and https URLs are shortened".into();
        c.location = "exercises/url-shortener/hidden.toml:5".into();
        let mut failed = r.checks[1].clone();
        failed.id = "reserved-codes".into();
        failed.title = "The codes health and links are refused".into();
        failed.category = "validation".into();
        failed.hidden = true;
        failed.location = "exercises/url-shortener/hidden.toml:60".into();
        failed.failure = Some(Failure {
            message: "POST /links: status 201 where 400 was expected (javascript:)".into(),
            location: "exercises/url-shortener/hidden.toml:66".into(),
            ..r.checks[1].failure.clone().expect("a failure")
        });
        r.checks.push(failed);
        super::redact_all(&mut r.checks);
        harness::score::tally(&mut r);
        r
    }

    #[test]
    fn a_hidden_check_shows_its_category_and_points_only() {
        let r = hidden_report();
        let hidden: Vec<_> = r.checks.iter().filter(|c| c.hidden).collect();
        assert_eq!(
            hidden.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["hidden-1", "hidden-2"]
        );
        let mut outputs: Vec<(String, String)> = Format::value_variants()
            .iter()
            .map(|f| (format!("{f:?}"), render(&r, *f)))
            .collect();
        // The terminal prints as the run goes: tests/e2e.rs reads it from a real grade.
        let class = [("ada".to_string(), r.clone())].into_iter().collect();
        outputs.push(("class markdown".into(), class::summary_md(&class)));
        outputs.push(("class html".into(), class::summary_html(&class)));
        outputs.push(("class gradebook".into(), class::gradebook(&class)));
        for (name, text) in &outputs {
            for secret in SECRETS {
                assert!(!text.contains(secret), "{name} shows {secret:?}:\n{text}");
            }
        }
        // What is left: the category and the points of each, in the learner's formats.
        for (name, text) in outputs.iter().filter(|(n, _)| !n.starts_with("class")) {
            assert!(text.contains("hidden-2"), "{name}");
            assert!(text.contains("validation"), "{name}");
        }
        assert_eq!(
            r.checks.last().map(|c| (c.points, c.earned)),
            Some((2.0, 0.0))
        );
    }
}
