//! A Markdown summary for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

use grader_report::{CheckResult, CheckStatus, Report};

use super::text::{failure_text, fraction, is_failure, load_summary, replay, verdict};

/// The one Markdown escaper: text safe inside a table cell or a `<summary>` line (no
/// column break, no line break).
pub(crate) fn inline(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A collapsed section holding verbatim text; a fence inside the text cannot close the
/// block early.
fn details(summary: &str, text: &str) -> String {
    format!(
        "\n<details><summary>{summary}</summary>\n\n```text\n{}\n```\n\n</details>\n",
        text.replace("```", "'''")
    )
}

fn mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Passed => "✅",
        CheckStatus::Failed => "❌",
        CheckStatus::Skipped => "⏭️",
        CheckStatus::Error => "⚠️",
    }
}

fn heading(report: &Report) -> String {
    let icon = if report.passed { "✅" } else { "❌" };
    let mut out = format!(
        "## {icon} {}: {} points ({:.1}%)\n\n",
        report.exercise.title,
        fraction(report.score, report.max_score),
        report.percent()
    );
    out.push_str(&format!(
        "Result: **{}**. Pass mark {}%. Seed {}.\n\n",
        verdict(report),
        report.pass_mark,
        replay(report.seed, |s| format!("`{s}`"))
    ));
    if let Some(commit) = &report.commit {
        out.push_str(&format!("Graded commit `{commit}`.\n\n"));
    }
    out
}

/// One table row a check: what failed, or its title when it passed.
fn row(c: &CheckResult) -> String {
    let what = match (&c.failure, c.status) {
        (Some(f), s) if s != CheckStatus::Passed => f.message.as_str(),
        _ => c.title.as_str(),
    };
    format!(
        "| {} | `{}` | {} | {} | {} |\n",
        mark(c.status),
        inline(&c.id),
        inline(&c.category),
        fraction(c.earned, c.points),
        inline(what)
    )
}

pub(crate) fn render(report: &Report) -> String {
    let mut out = heading(report);
    out.push_str("| | check | category | points | |\n| --- | --- | --- | --- | --- |\n");
    for c in &report.checks {
        out.push_str(&row(c));
    }
    for c in &report.checks {
        if let Some(l) = &c.load {
            out.push_str(&format!(
                "\n**`{}` under load**: {}.\n",
                c.id,
                load_summary(l)
            ));
        }
    }
    for c in report
        .checks
        .iter()
        .filter(|c| is_failure(c.status) && !c.hidden)
    {
        if let Some(f) = &c.failure {
            let summary = format!("<code>{}</code>: {}", c.id, inline(&c.title));
            out.push_str(&details(&summary, &failure_text(f)));
        }
    }
    if let Some(tail) = report.build_log_tail.as_deref().filter(|t| !t.is_empty()) {
        out.push_str(&details("Build log (end)", tail));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pipe_cannot_break_the_table() {
        let mut r = super::super::fixture::report();
        r.checks[0].title = "a | b\nc".into();
        assert!(super::render(&r).contains("| a \\| b c |"));
    }
}
