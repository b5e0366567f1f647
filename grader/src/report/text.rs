//! The words every rendering shares, written once so the formats cannot drift apart:
//! points, the verdict, a failure's details, the load summary, the replay hint, the
//! checks grouped by category, and `inert`, which every format applies to any text
//! before its own escaping. Each format adds only its own markup and escaping.

use grader_report::{
    Cause, CheckResult, CheckStatus, Failure, Latency, LoadReport, Report, RunStatus,
    SubmissionOutput, WorkReport,
};
pub(crate) use harness::probe::work::explain;

/// Text made inert for any reader: what a submission wrote (bodies, headers, logs) can
/// hold terminal escape sequences, NUL and other control characters. Each one (C0 but
/// `\n` and `\t`, DEL, C1, the bidirectional overrides that reorder a line, and U+FFFE
/// and U+FFFF, which XML 1.0 forbids) is shown as an escape (`\x1b`, `\u{9b}`), so it
/// reaches no terminal, XML parser or browser raw; CRLF line ends become `\n`. Every
/// format's escaper starts here; text without such characters comes back unchanged.
pub(crate) fn inert(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        match c {
            c if !needs_escape(c) => out.push(c),
            c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out
}

/// A character `inert` shows as an escape.
pub(crate) fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{fffe}' | '\u{ffff}')
}

/// Points as people write them: `3`, or `1.33` for a share.
pub fn pts(x: f64) -> String {
    // An empty sum of floats is -0.0: points are never negative, so print it as 0.
    let x = x + 0.0;
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// `earned/max`, as every format shows a score.
pub(crate) fn fraction(earned: f64, max: f64) -> String {
    format!("{}/{}", pts(earned), pts(max))
}

/// A one-line verdict for summaries.
pub(crate) fn verdict(report: &Report) -> String {
    let reason = report.reason.as_deref().unwrap_or("");
    match report.status {
        RunStatus::Graded if report.passed => "passed".into(),
        RunStatus::Graded => format!("below the pass mark ({}%)", report.pass_mark),
        RunStatus::BuildFailed => format!("did not build: {reason}"),
        RunStatus::StartFailed => format!("did not start: {reason}"),
        RunStatus::Error => format!("grader error: {reason}"),
    }
}

/// How to run the same data again: `{seed} (replay with {--seed seed})`, each value
/// marked up by `code` (backticks in Markdown, `<code>` in HTML, nothing in plain text).
pub(crate) fn replay(seed: u64, code: impl Fn(&str) -> String) -> String {
    format!(
        "{} (replay with {})",
        code(&seed.to_string()),
        code(&format!("--seed {seed}"))
    )
}

/// A check that did not pass through the submission's or the grader's fault (a skipped
/// check is neither: it did not run).
pub(crate) fn is_failure(status: CheckStatus) -> bool {
    matches!(status, CheckStatus::Failed | CheckStatus::Error)
}

/// A failure's labelled details, in the order every format shows them: the hint, what
/// was expected, what came, and the request.
pub(crate) fn labelled(f: &Failure) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("hint", &f.hint),
        ("expected", &f.expected),
        ("actual", &f.actual),
        ("request", &f.request),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.as_deref().map(|v| (label, v)))
}

/// A failure's details as plain text, the same in every format.
pub(crate) fn failure_text(f: &Failure) -> String {
    let mut out = f.message.clone();
    if !f.location.is_empty() {
        out.push_str(&format!("\nat {} (step {})", f.location, f.step));
    }
    for (label, v) in labelled(f) {
        out.push_str(&format!("\n{label}: {v}"));
    }
    if let Some(d) = &f.diff {
        out.push_str(&format!("\ndiff:\n{d}"));
    }
    if let Some(r) = &f.response {
        out.push_str(&format!("\nresponse:\n{r}"));
    }
    out
}

/// The heading of a check's output, the same in every format.
pub(crate) fn output_heading(o: &SubmissionOutput) -> String {
    let earlier = match o.omitted {
        0 => String::new(),
        1 => ", 1 earlier line not shown".to_string(),
        n => format!(", {n} earlier lines not shown"),
    };
    format!("what the server printed during this check (its own output{earlier}):")
}

/// One line per known cause: `cause: ...`.
pub(crate) fn cause_lines(causes: &[Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| format!("cause: {}", c.line()))
        .collect()
}

/// A failed check's known causes and what the submission printed while it ran, as
/// plain text the same in every format (empty when there is neither). The
/// submission's lines start with `| `, so none can pass for the grader's.
pub(crate) fn output_text(c: &CheckResult) -> String {
    let mut out = cause_lines(&c.causes).join("\n");
    if let Some(o) = c.output.as_ref().filter(|o| !o.text.is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&output_heading(o));
        for line in o.text.lines() {
            out.push_str(&format!("\n| {line}"));
        }
    }
    out
}

/// A failure's details, then its causes and the submission's output, as plain text.
pub(crate) fn failure_with_output(c: &CheckResult, f: &Failure) -> String {
    let mut out = failure_text(f);
    let more = output_text(c);
    if !more.is_empty() {
        out.push_str("\n\n");
        out.push_str(&more);
    }
    out
}

/// `p50 1.0 ms, p95 2.0 ms, p99 3.0 ms`.
pub(crate) fn percentiles(l: &Latency) -> String {
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        l.p50, l.p95, l.p99
    )
}

/// Requests that did not get an acceptable answer.
pub(crate) fn failed_requests(l: &LoadReport) -> u64 {
    l.requests - l.ok
}

/// A load step in one sentence (no final stop): rate, percentiles, failures.
pub(crate) fn load_summary(l: &LoadReport) -> String {
    format!(
        "{:.1} requests/s{}, {}, {} of {} requests failed",
        l.achieved_rate,
        l.target_rate
            .map(|t| format!(" (asked {t:.1}/s)"))
            .unwrap_or_default(),
        percentiles(&l.latency_ms),
        failed_requests(l),
        l.requests
    )
}

/// One stage of a load's compact profile, in words: its name, the rate achieved of
/// the rate asked, its p95, its errors (by kind) and its recovery where measured.
pub(crate) struct StageRow {
    pub name: String,
    pub rate: String,
    pub p95: String,
    pub errors: String,
    pub recovery: String,
}

/// The compact profile of a load in stages (none for a load of one stage).
pub(crate) fn stage_rows(l: &LoadReport) -> Vec<StageRow> {
    if l.stages.len() <= 1 {
        return Vec::new();
    }
    l.stages
        .iter()
        .map(|s| {
            let measured = l.thresholds.iter().any(|t| {
                t.stage.as_deref() == Some(s.name.as_str())
                    && t.expr.trim_start().starts_with("recovery")
            });
            let recovery = match (measured, s.recovery_ms) {
                (false, _) => "-".to_string(),
                (true, Some(ms)) => format!("{ms} ms"),
                (true, None) => "never".to_string(),
            };
            let kinds: Vec<String> = s
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let errors = if kinds.is_empty() {
                s.errors.to_string()
            } else {
                format!("{} ({})", s.errors, kinds.join(", "))
            };
            StageRow {
                name: s.name.clone(),
                rate: match s.target_rate {
                    Some(t) => format!("{:.1}/s of {t:.1}/s", s.achieved_rate),
                    None => format!("{:.1}/s", s.achieved_rate),
                },
                p95: format!("{:.1} ms", s.latency_ms.p95),
                errors,
                recovery,
            }
        })
        .collect()
}

/// The work counted in each of a check's counted steps, as plain text: a heading per
/// step, a line per figure with the counts it came from, what could not be measured,
/// and the statements run most often (the submission's own text: render it inert).
pub(crate) fn work_text(c: &CheckResult) -> String {
    let mut out = Vec::new();
    for w in &c.work {
        out.push(work_heading(w));
        for f in &w.figures {
            out.push(format!("  {:<19} {}", f.name, explain(f, w.requests)));
        }
        for e in &w.errors {
            out.push(format!("  not measured: {e}"));
        }
        if !w.top_statements.is_empty() {
            out.push("  statements run most often (calls, normalized):".into());
            for s in &w.top_statements {
                out.push(format!("    {}× {}", s.calls, one_line(&s.query)));
            }
        }
    }
    out.join("\n")
}

/// "work of step 2 (20 requests)".
pub(crate) fn work_heading(w: &WorkReport) -> String {
    format!("work of step {} ({} requests)", w.step, w.requests)
}

/// A statement on one line: its line breaks as spaces.
pub(crate) fn one_line(q: &str) -> String {
    q.replace(['\n', '\r'], " ")
}

/// The checks of one category, in report order.
pub(crate) struct Category<'a> {
    pub name: &'a str,
    pub checks: Vec<&'a CheckResult>,
}

impl<'a> Category<'a> {
    /// The checks of `name` among `checks` (none if the category is not there).
    pub fn of(checks: &'a [CheckResult], name: &'a str) -> Category<'a> {
        Category {
            name,
            checks: checks.iter().filter(|c| c.category == name).collect(),
        }
    }

    pub fn earned(&self) -> f64 {
        self.checks.iter().map(|c| c.earned).sum()
    }

    pub fn points(&self) -> f64 {
        self.checks.iter().map(|c| c.points).sum()
    }
}

/// Category names in the order they first appear.
pub(crate) fn category_names<'a>(
    checks: impl IntoIterator<Item = &'a CheckResult>,
) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for c in checks {
        if !names.contains(&c.category.as_str()) {
            names.push(&c.category);
        }
    }
    names
}

/// A report's checks grouped by category, categories in the order they first appear.
pub(crate) fn categories(checks: &[CheckResult]) -> Vec<Category<'_>> {
    category_names(checks)
        .into_iter()
        .map(|name| Category::of(checks, name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_whole_or_two_decimals() {
        assert_eq!(pts(3.0), "3");
        assert_eq!(pts(4.0 / 3.0), "1.33");
        assert_eq!(fraction(1.5, 3.0), "1.50/3");
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(inert("plain\ttext\nline <b>&"), "plain\ttext\nline <b>&");
        assert_eq!(
            inert("\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b]8;;http://x\x1b\\link"),
            r"\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b]8;;http://x\x1b\link"
        );
        assert_eq!(inert("a\0b\x08c\x7f"), r"a\x00b\x08c\x7f");
        assert_eq!(inert("one\r\ntwo\rthree"), "one\ntwo\\x0dthree");
        assert_eq!(inert("\u{9b}31m \u{85}"), r"\u{9b}31m \u{85}");
        assert_eq!(inert("\u{202e}evil\u{2066}"), r"\u{202e}evil\u{2066}");
        assert_eq!(
            inert("\u{fffe}\u{ffff}\u{fffd}é"),
            "\\u{fffe}\\u{ffff}\u{fffd}é"
        );
        let once = inert("\x1b\0\r\u{9b}");
        assert_eq!(inert(&once), once, "inert text stays as it is");
    }

    #[test]
    fn categories_keep_their_first_order() {
        let r = super::super::fixture::report();
        let cats = categories(&r.checks);
        let names: Vec<_> = cats.iter().map(|c| c.name).collect();
        assert_eq!(names, ["api", "persistence", "performance"]);
        assert_eq!((cats[0].earned(), cats[0].points()), (1.0, 3.0));
    }
}
