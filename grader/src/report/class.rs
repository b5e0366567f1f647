//! A class's renderings: the gradebook (CSV), and the Markdown and HTML summaries, each
//! a pure function of the learners' reports.

use std::collections::BTreeMap;
use std::path::Path;

use grader_report::{CheckStatus, Report};

use super::html::escape;
use super::text::{Category, category_names, fraction, inert, pts, verdict};
use super::write::{WriteError, write_file};

/// gradebook.csv, summary.md and summary.html for the learners graded so far.
pub(crate) fn write_class(
    out: &Path,
    reports: &BTreeMap<String, Report>,
) -> Result<(), WriteError> {
    write_file(&out.join("gradebook.csv"), &gradebook(reports))?;
    write_file(&out.join("summary.md"), &summary_md(reports))?;
    write_file(&out.join("summary.html"), &summary_html(reports))
}

/// A CSV field, quoted when it must be; control characters shown (`text::inert`).
fn csv_field(s: &str) -> String {
    let s = inert(s);
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(crate) fn gradebook(reports: &BTreeMap<String, Report>) -> String {
    let cats = category_names(reports.values().flat_map(|r| &r.checks));
    let mut out = String::from("learner,score,max,percent,status,passed");
    for c in &cats {
        out.push_str(&format!(",{}", csv_field(c)));
    }
    out.push_str(",seed,commit,report\n");
    for (name, r) in reports {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{:.1},{status},{}",
            csv_field(name),
            pts(r.score),
            pts(r.max_score),
            r.percent(),
            r.passed
        ));
        for c in &cats {
            out.push_str(&format!(",{}", pts(Category::of(&r.checks, c).earned())));
        }
        out.push_str(&format!(
            ",{},{},{}\n",
            r.seed,
            r.commit.as_deref().unwrap_or(""),
            csv_field(&format!("{name}/report.json"))
        ));
    }
    out
}

/// What both class summaries show: how many passed, the mean, the score distribution
/// in tenths, and the checks failed most often.
struct ClassFigures {
    learners: usize,
    passed: usize,
    mean: f64,
    buckets: [usize; 10],
    /// Check ids with the number of learners who did not pass them, most first.
    failed: Vec<(String, usize)>,
}

impl ClassFigures {
    fn of(reports: &BTreeMap<String, Report>) -> ClassFigures {
        let mut buckets = [0usize; 10];
        let mut failed: BTreeMap<String, usize> = BTreeMap::new();
        for r in reports.values() {
            buckets[((r.percent() / 10.0).floor() as usize).min(9)] += 1;
            for c in r.checks.iter().filter(|c| c.status != CheckStatus::Passed) {
                *failed.entry(c.id.clone()).or_default() += 1;
            }
        }
        let mut failed: Vec<(String, usize)> = failed.into_iter().collect();
        failed.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mean = if reports.is_empty() {
            0.0
        } else {
            reports.values().map(Report::percent).sum::<f64>() / reports.len() as f64
        };
        ClassFigures {
            learners: reports.len(),
            passed: reports.values().filter(|r| r.passed).count(),
            mean,
            buckets,
            failed,
        }
    }

    /// `N learners, P passed, mean M%`.
    fn headline(&self) -> String {
        format!(
            "{} learners, {} passed, mean {:.1}%",
            self.learners, self.passed, self.mean
        )
    }

    /// The ten checks failed most often.
    fn worst(&self) -> impl Iterator<Item = &(String, usize)> {
        self.failed.iter().take(10)
    }
}

pub(crate) fn summary_md(reports: &BTreeMap<String, Report>) -> String {
    let figures = ClassFigures::of(reports);
    let mut out = format!(
        "## Class summary: {}\n\n| score | learners |\n| --- | --- |\n",
        figures.headline()
    );
    for (i, n) in figures.buckets.iter().enumerate().rev() {
        out.push_str(&format!(
            "| {}-{}% | {} {} |\n",
            i * 10,
            i * 10 + 10,
            n,
            "█".repeat(*n)
        ));
    }
    out.push_str("\n### Checks failed most often\n\n| check | learners |\n| --- | --- |\n");
    for (id, n) in figures.worst() {
        out.push_str(&format!("| `{}` | {n} |\n", super::markdown::inline(id)));
    }
    out
}

pub(crate) fn summary_html(reports: &BTreeMap<String, Report>) -> String {
    let figures = ClassFigures::of(reports);
    let max = figures.buckets.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut bars = String::new();
    for (i, n) in figures.buckets.iter().enumerate() {
        let h = *n as f64 / max * 120.0;
        bars.push_str(&format!(
            r##"<rect x="{}" y="{:.1}" width="52" height="{h:.1}" fill="#0969da"><title>{n} learners</title></rect><text x="{}" y="140" font-size="11" text-anchor="middle" fill="#656d76">{}%</text>"##,
            i * 60 + 4,
            124.0 - h,
            i * 60 + 30,
            i * 10
        ));
    }
    let rows: String = reports
        .iter()
        .map(|(name, r)| {
            format!(
                "<tr><td><a href=\"{0}/report.html\">{0}</a></td><td>{1}</td><td>{2:.0}%</td><td>{3}</td></tr>",
                escape(name),
                fraction(r.score, r.max_score),
                r.percent(),
                escape(&verdict(r))
            )
        })
        .collect();
    let worst: String = figures
        .worst()
        .map(|(id, n)| format!("<tr><td><code>{}</code></td><td>{n}</td></tr>", escape(id)))
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Class summary</title><style>body{{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:24px auto;color:#1f2328}}table{{border-collapse:collapse}}td,th{{padding:3px 12px;border-bottom:1px solid #d0d7de;text-align:left}}</style></head><body><h1>Class summary</h1><p>{}</p><svg width=\"600\" height=\"150\" role=\"img\" aria-label=\"score distribution\">{bars}</svg><h2>Checks failed most often</h2><table>{worst}</table><h2>Learners</h2><table><tr><th>learner</th><th>score</th><th></th><th>result</th></tr>{rows}</table></body></html>\n",
        figures.headline()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two learners: the fixture's failing run, and one that did not build.
    fn class() -> BTreeMap<String, Report> {
        let failing = super::super::fixture::report();
        let mut broken = failing.clone();
        broken.status = grader_report::RunStatus::BuildFailed;
        broken.reason = Some("exit code 1".into());
        broken.checks.retain(|c| c.category == "api");
        for c in &mut broken.checks {
            c.status = CheckStatus::Skipped;
            c.earned = 0.0;
        }
        harness::score::tally(&mut broken);
        BTreeMap::from([("ada".to_string(), failing), ("bo, b".to_string(), broken)])
    }

    #[test]
    fn every_class_rendering_matches_its_snapshot() {
        use super::super::fixture::snapshot;
        let reports = class();
        snapshot("class/gradebook.csv", &gradebook(&reports));
        snapshot("class/summary.md", &summary_md(&reports));
        snapshot("class/summary.html", &summary_html(&reports));
    }

    #[test]
    fn a_hostile_run_and_name_stay_inert_in_every_class_rendering() {
        let hostile = super::super::fixture::HOSTILE;
        let mut reports = BTreeMap::new();
        let mut broken = super::super::fixture::hostile();
        broken.status = grader_report::RunStatus::BuildFailed;
        reports.insert(format!("x{hostile}"), broken);
        for (name, text) in [
            ("gradebook.csv", gradebook(&reports)),
            ("summary.md", summary_md(&reports)),
            ("summary.html", summary_html(&reports)),
        ] {
            let raw = text.chars().find(|c| c.is_control() && *c != '\n');
            assert_eq!(raw, None, "{name}: {text}");
        }
        let html = summary_html(&reports);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains(r"did not build: \x1b[2J\x1b]0;pwned\x07"),
            "{html}"
        );
    }

    #[test]
    fn a_learner_name_cannot_break_out_of_the_summary_link() {
        let mut reports = BTreeMap::new();
        reports.insert(
            "x\" onmouseover=\"alert(1)".to_string(),
            super::super::fixture::report(),
        );
        let html = summary_html(&reports);
        assert!(!html.contains("\" onmouseover=\""), "{html}");
        assert!(html.contains("x&quot; onmouseover=&quot;alert(1)"));
    }
}
