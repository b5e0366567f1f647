//! One self-contained HTML page (no network fetches): the score, the checks grouped by
//! category with expandable details, where the time went (an inline SVG chart), the
//! submission's resource peaks and its log tail.

use std::collections::BTreeMap;

use grader_report::{
    Cause, CheckResult, CheckStatus, Failure, LoadReport, Report, Resources, WorkReport,
};

use super::text::{
    Category, categories, fraction, inert, is_failure, one_line, output_heading, pts, replay,
    stage_rows, verdict, work_heading,
};

/// The one HTML escaper, for text and attribute values alike (quotes included): what a
/// submission or a learner's name holds cannot break out of an element or an `href`,
/// and its control characters are shown (`text::inert`), never sent to the browser.
pub(crate) fn escape(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's stylesheet, inlined: the page fetches nothing.
const STYLE: &str = include_str!("html.css");

/// The score as a ring: green share of a circle.
fn ring(percent: f64, ok: bool) -> String {
    let r = 34.0;
    let c = 2.0 * std::f64::consts::PI * r;
    let filled = c * percent.clamp(0.0, 100.0) / 100.0;
    let color = if ok { "#1a7f37" } else { "#cf222e" };
    format!(
        r##"<svg class="ring" width="88" height="88" viewBox="0 0 88 88" role="img" aria-label="{percent:.0} percent"><circle cx="44" cy="44" r="{r}" fill="none" stroke="#d0d7de" stroke-width="8"/><circle cx="44" cy="44" r="{r}" fill="none" stroke="{color}" stroke-width="8" stroke-dasharray="{filled:.2} {c:.2}" transform="rotate(-90 44 44)" stroke-linecap="round"/><text x="44" y="49" text-anchor="middle" font-size="17" font-weight="700" fill="#1f2328">{percent:.0}%</text></svg>"##
    )
}

/// Where the time went: one stacked bar of the phases.
fn phases_chart(report: &Report) -> String {
    let p = &report.phases;
    let parts: Vec<(&str, u64, &str)> = [
        ("build", p.build_ms, "#0969da"),
        ("start", p.start_ms, "#8250df"),
        ("checks", p.checks_ms, "#1a7f37"),
        ("teardown", p.teardown_ms, "#9a6700"),
    ]
    .into_iter()
    .filter_map(|(n, ms, c)| ms.map(|ms| (n, ms, c)))
    .collect();
    let total: u64 = parts.iter().map(|p| p.1).sum();
    if total == 0 {
        return String::new();
    }
    let width = 900.0;
    let mut x = 0.0;
    let mut bars = String::new();
    let mut legend = String::new();
    for (i, (name, ms, color)) in parts.iter().enumerate() {
        let w = width * (*ms as f64) / (total as f64);
        bars.push_str(&format!(r#"<rect x="{x:.1}" y="0" width="{w:.1}" height="18" fill="{color}"><title>{name}: {ms} ms</title></rect>"#));
        x += w;
        legend.push_str(&format!(
            r##"<rect x="{}" y="28" width="10" height="10" fill="{color}"/><text x="{}" y="37" font-size="12" fill="#656d76">{name} {:.1}s</text>"##,
            i * 150,
            i * 150 + 14,
            *ms as f64 / 1000.0
        ));
    }
    format!(
        r#"<svg width="100%" viewBox="0 0 {width} 44" role="img" aria-label="time per phase">{bars}{legend}</svg>"#
    )
}

fn diff_html(diff: &str) -> String {
    diff.lines()
        .map(|l| {
            let class = if l.starts_with('+') && !l.starts_with("+++") {
                "add"
            } else if l.starts_with('-') && !l.starts_with("---") {
                "del"
            } else {
                ""
            };
            format!(r#"<span class="{class}">{}</span>"#, escape(l))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The latency histogram as bars, one per doubling bucket.
fn histogram_svg(l: &LoadReport) -> String {
    let buckets: Vec<_> = l.histogram.iter().collect();
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let n = buckets.len().max(1) as f64;
    let (w, h) = (880.0, 150.0);
    let bw = w / n;
    let mut svg = format!(
        r#"<svg width="100%" viewBox="0 0 {w} {}" role="img" aria-label="latency histogram">"#,
        h + 34.0
    );
    for (i, b) in buckets.iter().enumerate() {
        let bh = (b.count as f64 / max) * h;
        let x = i as f64 * bw;
        svg.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#0969da" rx="2"><title>≤ {} ms: {} requests</title></rect><text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#656d76">{}</text>"##,
            x + 2.0,
            h - bh,
            (bw - 4.0).max(1.0),
            b.le_ms,
            b.count,
            x + bw / 2.0,
            h + 14.0,
            if b.le_ms < 10.0 { format!("{:.1}", b.le_ms) } else { format!("{:.0}", b.le_ms) }
        ));
    }
    svg.push_str(&format!(r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#656d76">latency (ms, upper bound of each bucket)</text></svg>"##, w / 2.0, h + 30.0));
    svg
}

/// The load step's headline figures as cards: rate, latency, requests and errors.
fn load_cards(l: &LoadReport) -> String {
    let rate = match l.target_rate {
        Some(t) => format!(
            "{:.1}/s <small>of {:.1}/s asked</small>",
            l.achieved_rate, t
        ),
        None => format!("{:.1}/s", l.achieved_rate),
    };
    let errors: u64 = l.errors.values().sum();
    let unc = l
        .uncorrected_ms
        .map(|u| format!(" (uncorrected {:.1})", u.p99))
        .unwrap_or_default();
    let by_kind = l
        .errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let cards = [
        (
            rate,
            format!(
                "{} model, {} connections, {:.1}s",
                l.model, l.connections, l.duration_s
            ),
        ),
        (
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                l.latency_ms.p50, l.latency_ms.p95, l.latency_ms.p99
            ),
            format!("p50 / p95 / p99{unc}"),
        ),
        (
            format!("{} / {}", l.requests, errors),
            format!("requests / errors {}", escape(&by_kind)),
        ),
    ];
    let mut h = String::from(r#"<div class="cards">"#);
    for (big, small) in cards {
        h.push_str(&format!(
            r#"<div class="card"><b>{big}</b><span>{small}</span></div>"#
        ));
    }
    h.push_str("</div>");
    h
}

/// Each threshold, met or not, with what was measured.
fn thresholds_table(l: &LoadReport) -> String {
    if l.thresholds.is_empty() {
        return String::new();
    }
    let mut h = String::from(r#"<table class="ea">"#);
    for t in &l.thresholds {
        let stage = t
            .stage
            .as_ref()
            .map(|s| format!(" (stage {})", escape(s)))
            .unwrap_or_default();
        let note = t
            .note
            .as_ref()
            .map(|n| format!(" · {}", escape(n)))
            .unwrap_or_default();
        h.push_str(&format!(
            "<tr><th>{}</th><td><code>{}</code>{stage}: measured {}{note} · {} point(s)</td></tr>",
            if t.passed { "✓" } else { "✗" },
            escape(&t.expr),
            escape(&t.actual),
            pts(t.points)
        ));
    }
    h.push_str("</table>");
    h
}

/// The stages of a profile with more than one.
fn stages_table(l: &LoadReport) -> String {
    if l.stages.len() <= 1 {
        return String::new();
    }
    let mut h = String::from(
        r#"<table class="ea"><tr><th>stage</th><th>rate (achieved of asked)</th><th>p95</th><th>errors</th><th>recovery</th></tr>"#,
    );
    for r in stage_rows(l) {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.name),
            r.rate,
            r.p95,
            escape(&r.errors),
            r.recovery
        ));
    }
    h.push_str("</table>");
    h
}

fn load_html(l: &LoadReport) -> String {
    format!(
        r#"<div class="label">load</div>{}{}{}{}{}"#,
        load_cards(l),
        thresholds_table(l),
        stages_table(l),
        super::profile::profile_html(l),
        histogram_svg(l)
    )
}

/// The work of one counted step: a row per figure with the counts it came from, what
/// could not be measured, and the statements run most often (the submission's text).
/// What the figures of a counted step cannot say on their own: what could not be
/// measured, and the statements run most often (the submission's text, escaped).
fn work_evidence_html(w: &WorkReport) -> String {
    let mut h = String::new();
    if !w.errors.is_empty() || !w.top_statements.is_empty() {
        h.push_str(&format!(
            r#"<div class="label">{}</div>"#,
            escape(&work_heading(w))
        ));
    }
    for e in &w.errors {
        h.push_str(&format!(
            r#"<div class="where">not measured: {}</div>"#,
            escape(e)
        ));
    }
    if !w.top_statements.is_empty() {
        h.push_str(r#"<table class="ea"><tr><th>calls</th><th>statement (normalized)</th></tr>"#);
        for st in &w.top_statements {
            h.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td></tr>",
                st.calls,
                escape(&one_line(&st.query))
            ));
        }
        h.push_str("</table>");
    }
    h
}

/// A labelled block of preformatted text; `inner` is HTML already.
fn labelled_pre(label: &str, inner: &str) -> String {
    format!(r#"<div class="label">{label}</div><pre>{inner}</pre>"#)
}

/// What a failed check tells the learner: message, place, hint, expected and actual,
/// the diff, the request to paste and the response.
fn failure_html(f: &Failure) -> String {
    let mut body = format!(r#"<div class="msg">{}</div>"#, escape(&f.message));
    if !f.location.is_empty() {
        body.push_str(&format!(
            r#"<div class="where">step {} at {}</div>"#,
            f.step,
            escape(&f.location)
        ));
    }
    if let Some(h) = &f.hint {
        body.push_str(&format!(r#"<div class="hint">{}</div>"#, escape(h)));
    }
    if f.expected.is_some() || f.actual.is_some() {
        body.push_str(r#"<table class="ea">"#);
        for (k, v) in [("expected", &f.expected), ("actual", &f.actual)] {
            if let Some(v) = v {
                body.push_str(&format!(
                    "<tr><th>{k}</th><td><code>{}</code></td></tr>",
                    escape(v)
                ));
            }
        }
        body.push_str("</table>");
    }
    if let Some(d) = &f.diff {
        body.push_str(&labelled_pre("diff", &diff_html(d)));
    }
    if let Some(r) = &f.request {
        let label = if r.starts_with("curl ") {
            "request: paste it into a terminal"
        } else {
            "query"
        };
        body.push_str(&labelled_pre(label, &escape(r)));
    }
    if let Some(r) = &f.response {
        body.push_str(&labelled_pre("response", &escape(r)));
    }
    body
}

/// The known causes, a line each, under the sandbox rule they hit.
fn causes_html(causes: &[Cause]) -> String {
    causes
        .iter()
        .map(|c| format!(r#"<div class="cause">{}</div>"#, escape(&c.line())))
        .collect()
}

/// A failed check's causes and what the submission printed while it ran.
fn output_html(c: &CheckResult) -> String {
    let mut h = causes_html(&c.causes);
    if let Some(o) = c.output.as_ref().filter(|o| !o.text.is_empty()) {
        h.push_str(&format!(
            r#"<div class="label">{}</div><pre class="output">{}</pre>"#,
            escape(&output_heading(o)),
            escape(&o.text)
        ));
    }
    h
}

/// A check; `reference` is the reference's work figures for it, if known.
fn check_html(c: &CheckResult, reference: Option<&BTreeMap<String, f64>>) -> String {
    let (class, icon) = match c.status {
        CheckStatus::Passed => ("passed", "✓"),
        CheckStatus::Failed => ("failed", "✗"),
        CheckStatus::Skipped => ("skipped", "–"),
        CheckStatus::Error => ("error", "!"),
    };
    let open = if is_failure(c.status) { " open" } else { "" };
    let mut body = match &c.failure {
        None => format!(
            r#"<div class="where">passed in {} ms · {}</div>"#,
            c.duration_ms,
            escape(&c.location)
        ),
        Some(f) => failure_html(f) + &output_html(c),
    };
    if let Some(l) = &c.load {
        body.push_str(&load_html(l));
    }
    body.push_str(&super::profile::work_html(&c.work, reference));
    for w in &c.work {
        body.push_str(&work_evidence_html(w));
    }
    let hidden = if c.hidden && c.title != super::hidden::TITLE {
        " <small>(hidden)</small>"
    } else {
        ""
    };
    format!(
        r#"<details class="check {class}"{open}><summary><span class="icon">{icon}</span><span class="id">{}</span><span>{}{hidden}</span><span class="pts">{}</span></summary><div class="body">{body}</div></details>"#,
        escape(&c.id),
        escape(&c.title),
        fraction(c.earned, c.points)
    )
}

fn category_html(category: &Category<'_>, report: &Report) -> String {
    let mut h = format!(
        "<h2>{}<span>{}</span></h2>",
        escape(category.name),
        fraction(category.earned(), category.points())
    );
    for c in &category.checks {
        h.push_str(&check_html(c, report.reference_work.get(&c.id)));
    }
    h
}

/// The document's head, up to the opening of `<main>`.
fn head(report: &Report) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · {}</title><style>{STYLE}</style></head><body><main>\n",
        escape(&report.exercise.title),
        fraction(report.score, report.max_score)
    )
}

/// The score ring, the verdict and what was graded, with the seed to replay it.
fn header(report: &Report) -> String {
    let ok = report.passed;
    let commit = report
        .commit
        .as_ref()
        .map(|c| format!(" at commit <code>{}</code>", escape(c)))
        .unwrap_or_default();
    format!(
        r#"<header>{}<div><h1>{}</h1><span class="verdict {}">{}</span> <b>{} points</b><div class="meta">submission <code>{}</code>{commit} · seed {} · run <code>{}</code> · {}</div></div></header>"#,
        ring(report.percent(), ok),
        escape(&report.exercise.title),
        if ok { "ok" } else { "bad" },
        escape(&verdict(report)),
        fraction(report.score, report.max_score),
        escape(&report.submission),
        replay(report.seed, |s| format!("<code>{s}</code>")),
        escape(&report.run_id),
        escape(&report.started_at)
    )
}

fn resources_html(r: &Resources) -> String {
    format!(
        r#"<div class="cards"><div class="card"><b>{:.1} MiB</b><span>peak memory of {:.0} MiB allowed</span></div><div class="card"><b>{:.1}%</b><span>peak CPU ({} core(s) allowed)</span></div></div>"#,
        r.peak_memory_bytes as f64 / 1048576.0,
        r.memory_limit_bytes as f64 / 1048576.0,
        r.peak_cpu_percent,
        r.cpu_limit
    )
}

/// How the run went: the phases, the resource peaks and the ends of the logs.
fn run_html(report: &Report) -> String {
    let mut h = String::from("<h2>Run</h2>");
    h.push_str(&phases_chart(report));
    if let Some(r) = &report.resources {
        h.push_str(&resources_html(r));
    }
    for (title, text) in [
        ("Build log (end)", &report.build_log_tail),
        ("Submission log (end)", &report.log_tail),
    ] {
        if let Some(t) = text.as_deref().filter(|t| !t.is_empty()) {
            h.push_str(&format!("<h2>{title}</h2><pre>{}</pre>", escape(t)));
        }
    }
    h
}

pub(crate) fn render(report: &Report) -> String {
    let mut h = head(report);
    h.push_str(&header(report));
    h.push_str(&causes_html(&report.causes));
    for category in categories(&report.checks) {
        h.push_str(&category_html(&category, report));
    }
    h.push_str(&run_html(report));
    h.push_str(&format!(
        "<footer>grader {} · report schema {}{}{}</footer>\n</main></body></html>\n",
        escape(&report.grader_version),
        report.schema_version,
        report
            .runtime
            .as_ref()
            .map(|r| format!(" · {} runtime (not sandboxed)", escape(r)))
            .unwrap_or_default(),
        if report.exercise.digest.is_empty() {
            String::new()
        } else {
            format!(" · exercise {}", escape(&report.exercise.digest))
        }
    ));
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_everything_from_the_submission() {
        let html = super::render(&super::super::fixture::report());
        assert!(!html.contains("<script>"), "the log tail must be escaped");
        assert!(html.contains("&lt;b&gt;Buy&lt;/b&gt; milk"));
        assert!(
            !html.contains("http://") || !html.contains("src=\"http"),
            "no network fetches"
        );
        assert!(!html.contains("<link") && !html.contains("<script"));
    }
}
