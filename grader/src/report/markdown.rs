//! A Markdown summary for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

use grader_report::{CheckResult, CheckStatus, Report, WorkReport};

use super::html::escape;
use super::text::{
    cause_lines, explain, failure_with_output, fraction, inert, is_failure, load_summary, replay,
    stage_rows, verdict, work_heading,
};

/// The one Markdown escaper for inline text (a table cell, a sentence): no column or
/// line break, no code span, link or image, and no raw HTML that GitHub would render
/// (`<img>` fetches, `</details>` closes a section); GitHub shows the text as written.
pub(crate) fn inline(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '`' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            '&' => out.push_str("&amp;"),
            // Raw HTML and autolinks begin `<` then a letter, `/`, `!` or `?`.
            '<' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || "/!?".contains(*n)) =>
            {
                out.push_str("&lt;");
            }
            c => out.push(c),
        }
    }
    out
}

/// A collapsed section holding verbatim text. The summary is inside raw HTML, so it is
/// HTML-escaped on one line; the text sits in a fence longer than any run of backticks
/// it holds, so nothing in it can close the block early (and inside a fence `<script>`
/// or `</details>` is only text).
fn details(summary: &str, text: &str) -> String {
    let text = inert(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "\n<details><summary>{summary}</summary>\n\n{fence}text\n{text}\n{fence}\n\n</details>\n"
    )
}

/// Text for a `<summary>` line: HTML-escaped, on one line.
fn summary_text(s: &str) -> String {
    escape(&s.replace(['\r', '\n'], " "))
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
        inline(&report.exercise.title),
        fraction(report.score, report.max_score),
        report.percent()
    );
    out.push_str(&format!(
        "Result: **{}**. Pass mark {}%. Seed {}.\n\n",
        inline(&verdict(report)),
        report.pass_mark,
        replay(report.seed, |s| format!("`{s}`"))
    ));
    if report.unchecked_points > 0.0 {
        out.push_str(&format!(
            "Graded a running server: {} points could not be checked (restarts, crashes, \
             its database going away, services not given).\n\n",
            crate::report::text::pts(report.unchecked_points)
        ));
    }
    if let Some(runtime) = &report.runtime {
        out.push_str(&format!(
            "Ran with the {} runtime: the server was a process of the grading machine, not a container (a Dockerfile's RUN and COPY were not run).\n\n",
            inline(runtime)
        ));
    }
    if let Some(commit) = &report.commit {
        out.push_str(&format!("Graded commit `{}`.\n\n", inline(commit)));
    }
    out.push_str(&causes_md(report));
    out
}

/// The run's known causes, and those of hidden checks (which have no section), a
/// line each.
fn causes_md(report: &Report) -> String {
    let mut out = String::new();
    for line in cause_lines(&report.causes) {
        out.push_str(&format!("- {}\n", inline(&line)));
    }
    for c in report
        .checks
        .iter()
        .filter(|c| c.hidden && is_failure(c.status))
    {
        for line in cause_lines(&c.causes) {
            let line = format!("a hidden check in {}: {line}", c.category);
            out.push_str(&format!("- {}\n", inline(&line)));
        }
    }
    if !out.is_empty() {
        out.push('\n');
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

/// The work of one counted step as a table, then the statements run most often (the
/// submission's text, escaped as any cell).
fn work_md(id: &str, w: &WorkReport) -> String {
    let mut out = format!(
        "\n**`{}`: {}**\n\n| figure | value | from |\n| --- | --- | --- |\n",
        inline(id),
        inline(&work_heading(w))
    );
    for f in &w.figures {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            inline(&f.name),
            inline(&explain(f, w.requests)),
            inline(&f.source)
        ));
    }
    for e in &w.errors {
        out.push_str(&format!("| not measured | {} | |\n", inline(e)));
    }
    if !w.top_statements.is_empty() {
        out.push_str("\n| calls | statement (normalized) |\n| --- | --- |\n");
        for s in &w.top_statements {
            out.push_str(&format!("| {} | {} |\n", s.calls, inline(&s.query)));
        }
    }
    out
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
                inline(&c.id),
                load_summary(l)
            ));
            let rows = stage_rows(l);
            if !rows.is_empty() {
                out.push_str(
                    "\n| stage | rate (achieved of asked) | p95 | errors | recovery |\n| --- | --- | --- | --- | --- |\n",
                );
            }
            for r in rows {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    inline(&r.name),
                    r.rate,
                    r.p95,
                    inline(&r.errors),
                    r.recovery
                ));
            }
        }
        for w in &c.work {
            out.push_str(&work_md(&c.id, w));
        }
    }
    for c in report
        .checks
        .iter()
        .filter(|c| is_failure(c.status) && !c.hidden)
    {
        if let Some(f) = &c.failure {
            let summary = format!(
                "<code>{}</code>: {}",
                summary_text(&c.id),
                summary_text(&c.title)
            );
            out.push_str(&details(&summary, &failure_with_output(c, f)));
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

    #[test]
    fn inline_text_holds_no_markup_github_would_render() {
        assert_eq!(
            super::inline("<img src=x> <script>a\\|b</script> [l](u) `c` & p95 < 50ms\n"),
            r"&lt;img src=x> &lt;script>a\\\|b&lt;/script> \[l\](u) \`c\` &amp; p95 < 50ms "
        );
        assert_eq!(super::inline("\x1b[31m"), r"\\x1b\[31m");
    }

    #[test]
    fn a_section_cannot_be_closed_from_inside() {
        let text = "```\n</details>\n`````\n<img src=x>";
        let md = super::details("<code>x</code>", text);
        assert!(md.starts_with("\n<details><summary><code>x</code></summary>\n\n``````text\n"));
        assert!(md.ends_with("\n``````\n\n</details>\n"), "{md}");
        assert!(md.contains(text), "the text is kept verbatim");
        assert_eq!(super::summary_text("<b>\n&"), "&lt;b&gt; &amp;");
    }
}
