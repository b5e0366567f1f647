//! A Markdown summary for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

use grader_report::{CheckStatus, Report};

use super::{failure_text, pts, verdict};

/// Makes text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let icon = if report.passed { "✅" } else { "❌" };
    out.push_str(&format!(
        "## {icon} {}: {}/{} points ({:.1}%)\n\n",
        report.exercise.title,
        pts(report.score),
        pts(report.max_score),
        report.percent()
    ));
    out.push_str(&format!(
        "Result: **{}**. Pass mark {}%. Seed `{}` (replay with `--seed {}`).\n\n",
        verdict(report),
        report.pass_mark,
        report.seed,
        report.seed
    ));
    if let Some(commit) = &report.commit {
        out.push_str(&format!("Graded commit `{commit}`.\n\n"));
    }
    out.push_str("| | check | category | points | |\n| --- | --- | --- | --- | --- |\n");
    for c in &report.checks {
        let mark = match c.status {
            CheckStatus::Passed => "✅",
            CheckStatus::Failed => "❌",
            CheckStatus::Skipped => "⏭️",
            CheckStatus::Error => "⚠️",
        };
        let what = match (&c.failure, c.status) {
            (Some(f), s) if s != CheckStatus::Passed => f.message.as_str(),
            _ => c.title.as_str(),
        };
        out.push_str(&format!(
            "| {mark} | `{}` | {} | {}/{} | {} |\n",
            c.id,
            c.category,
            pts(c.earned),
            pts(c.points),
            cell(what)
        ));
    }
    for c in report.checks.iter().filter(|c| c.load.is_some()) {
        let l = c.load.as_ref().expect("filtered");
        out.push_str(&format!(
            "\n**`{}` under load**: {:.1} requests/s{}, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {} of {} requests failed.\n",
            c.id,
            l.achieved_rate,
            l.target_rate.map(|t| format!(" (asked {t:.1}/s)")).unwrap_or_default(),
            l.latency_ms.p50,
            l.latency_ms.p95,
            l.latency_ms.p99,
            l.requests - l.ok,
            l.requests
        ));
    }
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Failed | CheckStatus::Error) && !c.hidden)
        .collect();
    for c in failed {
        if let Some(f) = &c.failure {
            out.push_str(&format!(
                "\n<details><summary><code>{}</code>: {}</summary>\n\n```text\n{}\n```\n\n</details>\n",
                c.id,
                cell(&c.title),
                failure_text(f).replace("```", "'''")
            ));
        }
    }
    if let Some(tail) = report.build_log_tail.as_deref().filter(|t| !t.is_empty()) {
        out.push_str(&format!(
            "\n<details><summary>Build log (end)</summary>\n\n```text\n{}\n```\n\n</details>\n",
            tail.replace("```", "'''")
        ));
    }
    out
}
