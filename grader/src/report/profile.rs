//! The performance profile of the HTML report, as inline SVG (no script, nothing
//! fetched): latency over time (p50 and p95, stages shaded and named, windows with
//! errors marked), achieved against asked rate over time, and the work figures beside
//! the reference's. Everything that came from the submission (stage names come from
//! the spec, but are escaped all the same) goes through `escape`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use grader_report::{LoadReport, Timeline, WorkFigure, WorkReport};

use super::html::escape;

const W: f64 = 880.0;
const H: f64 = 160.0;
/// Room on the left for the axis labels, and above for the stage names.
const LEFT: f64 = 48.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 36.0;

/// Shades for the stages, in turn.
const SHADES: [&str; 2] = ["#f6f8fa", "#eaeef2"];

/// Both charts of a load step's timeline; nothing when it has none.
pub(crate) fn profile_html(l: &LoadReport) -> String {
    let Some(t) = l.timeline.as_ref().filter(|t| !t.windows.is_empty()) else {
        return String::new();
    };
    format!(
        r#"<div class="label">latency over time</div>{}<div class="label">rate over time</div>{}"#,
        latency_svg(t),
        rate_svg(t)
    )
}

/// The run's length on the x axis, in ms.
fn span_ms(t: &Timeline) -> f64 {
    (t.windows.len() as u64 * t.window_ms).max(1) as f64
}

fn x_of(t: &Timeline, ms: f64) -> f64 {
    LEFT + (W - LEFT) * (ms / span_ms(t)).clamp(0.0, 1.0)
}

/// The middle of window `k`.
fn mid(t: &Timeline, k: usize) -> f64 {
    x_of(t, (k as f64 + 0.5) * t.window_ms as f64)
}

/// The stages as shaded bands with their names, and the time axis under them.
fn frame(t: &Timeline, label: &str) -> String {
    let mut s = format!(
        r#"<svg width="100%" viewBox="0 0 {W} {}" role="img" aria-label="{}" font-size="11" fill="none">"#,
        TOP + H + BOTTOM,
        escape(label)
    );
    for (k, st) in t.stages.iter().enumerate() {
        let (x0, x1) = (x_of(t, st.start_ms as f64), x_of(t, st.end_ms as f64));
        let _ = write!(
            s,
            r##"<g class="stage"><rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{H}" fill="{}"/><text x="{:.1}" y="12" text-anchor="middle" fill="#656d76">{}</text></g>"##,
            (x1 - x0).max(0.0),
            SHADES[k % 2],
            (x0 + x1) / 2.0,
            escape(&st.name)
        );
    }
    let secs = span_ms(t) / 1000.0;
    let step = [
        0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| secs / s <= 10.0)
    .unwrap_or(7200.0);
    let mut at = 0.0;
    while at <= secs + 1e-9 {
        let x = x_of(t, at * 1000.0);
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#656d76">{}s</text>"##,
            TOP + H + 14.0,
            trim(at)
        );
        at += step;
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{W}" y2="{:.1}" stroke="#8c959f"/>"##,
        TOP + H,
        TOP + H
    );
    s
}

/// A number without a needless fraction: `2`, `2.5`.
fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// Polylines through the points that exist: a window without requests breaks the line.
fn lines(points: &[Option<(f64, f64)>], color: &str, name: &str) -> String {
    let mut out = String::new();
    for run in points.split(Option::is_none) {
        let pts: Vec<String> = run
            .iter()
            .flatten()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        if pts.len() == 1 {
            let _ = write!(
                out,
                r#"<circle class="{name}" cx="{}" r="2" fill="{color}"/>"#,
                pts[0].replacen(',', "\" cy=\"", 1)
            );
        } else if !pts.is_empty() {
            let _ = write!(
                out,
                r#"<polyline class="{name}" points="{}" stroke="{color}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
    }
    out
}

/// Latency on a log scale (a 1 ms baseline and a 300 ms spike both show), p50 and p95
/// per window, and a red mark under each window with errors.
fn latency_svg(t: &Timeline) -> String {
    let values = t
        .windows
        .iter()
        .flat_map(|w| [w.p50_ms, w.p95_ms])
        .flatten();
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo_dec = if hi > 0.0 {
        lo.max(0.01).log10().floor()
    } else {
        0.0
    };
    let hi_dec = (hi.max(0.01).log10().ceil()).max(lo_dec + 1.0);
    let y_of = |ms: f64| {
        let f = (ms.max(0.01).log10() - lo_dec) / (hi_dec - lo_dec);
        TOP + H - H * f.clamp(0.0, 1.0)
    };
    let mut s = frame(t, "latency over time");
    let mut dec = lo_dec;
    while dec <= hi_dec + 1e-9 {
        let ms = 10f64.powf(dec);
        let y = y_of(ms);
        let label = if ms >= 1000.0 {
            format!("{}s", trim(ms / 1000.0))
        } else {
            format!("{}ms", trim(ms))
        };
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{W}" y2="{y:.1}" stroke="#d0d7de" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#656d76">{label}</text>"##,
            LEFT - 4.0,
            y + 4.0
        );
        dec += 1.0;
    }
    let series = |pick: fn(&grader_report::Window) -> Option<f64>| -> Vec<Option<(f64, f64)>> {
        t.windows
            .iter()
            .enumerate()
            .map(|(k, w)| pick(w).map(|v| (mid(t, k), y_of(v))))
            .collect()
    };
    s.push_str(&lines(&series(|w| w.p50_ms), "#0969da", "p50"));
    s.push_str(&lines(&series(|w| w.p95_ms), "#bc4c00", "p95"));
    for (k, w) in t.windows.iter().enumerate().filter(|(_, w)| w.errors > 0) {
        let _ = write!(
            s,
            r##"<rect class="errors" x="{:.1}" y="{:.1}" width="4" height="8" fill="#cf222e"><title>{} of {} failed</title></rect>"##,
            mid(t, k) - 2.0,
            TOP + H - 8.0,
            w.errors,
            w.due
        );
    }
    s.push_str(&legend(&[
        ("#0969da", "p50"),
        ("#bc4c00", "p95"),
        ("#cf222e", "errors"),
    ]));
    s.push_str("</svg>");
    s
}

/// Requests per second asked (due) and achieved (completed), per window.
fn rate_svg(t: &Timeline) -> String {
    let secs = t.window_ms as f64 / 1000.0;
    let max = t
        .windows
        .iter()
        .map(|w| w.due.max(w.answered))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        / secs;
    let y_of = |rate: f64| TOP + H - H * (rate / max).clamp(0.0, 1.0);
    let mut s = frame(t, "rate over time");
    for f in [0.5, 1.0] {
        let y = y_of(max * f);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{W}" y2="{y:.1}" stroke="#d0d7de" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#656d76">{:.0}/s</text>"##,
            LEFT - 4.0,
            y + 4.0,
            max * f
        );
    }
    let series = |pick: fn(&grader_report::Window) -> u64| -> Vec<Option<(f64, f64)>> {
        t.windows
            .iter()
            .enumerate()
            .map(|(k, w)| Some((mid(t, k), y_of(pick(w) as f64 / secs))))
            .collect()
    };
    s.push_str(&lines(&series(|w| w.due), "#8c959f", "asked"));
    s.push_str(&lines(&series(|w| w.answered), "#1a7f37", "achieved"));
    s.push_str(&legend(&[("#8c959f", "asked"), ("#1a7f37", "achieved")]));
    s.push_str("</svg>");
    s
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (color, name)) in items.iter().enumerate() {
        let x = LEFT + 8.0 + i as f64 * 80.0;
        let y = TOP + H + 26.0;
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{:.1}" width="10" height="4" fill="{color}"/><text x="{:.1}" y="{y:.1}" fill="#656d76">{name}</text>"##,
            y - 4.0,
            x + 14.0
        );
    }
    s
}

/// A figure's value in its unit: CPU time in ms, memory in bytes, counts as they are.
pub(crate) fn figure_value(name: &str, v: f64) -> String {
    match name {
        "cpu" => format!("{v:.2} ms"),
        "memory_growth" if v.abs() >= 1_048_576.0 => format!("{:.1} MiB", v / 1_048_576.0),
        "memory_growth" if v.abs() >= 1024.0 => format!("{:.1} KiB", v / 1024.0),
        "memory_growth" => format!("{v:.0} B"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

fn figure_row(f: &WorkFigure, reference: Option<&BTreeMap<String, f64>>) -> String {
    let per = if f.per_request { " per request" } else { "" };
    let reference = reference
        .and_then(|r| r.get(&f.name))
        .map_or_else(|| "n/a".to_string(), |v| figure_value(&f.name, *v));
    format!(
        "<tr><td><code>{}</code></td><td>{}{per}</td><td>{}</td><td>{} from {}</td></tr>",
        escape(&f.name),
        figure_value(&f.name, f.value),
        escape(&reference),
        f.count,
        escape(&f.source)
    )
}

/// Each counted step's figures beside the reference's.
pub(crate) fn work_html(work: &[WorkReport], reference: Option<&BTreeMap<String, f64>>) -> String {
    if work.is_empty() {
        return String::new();
    }
    let mut h = String::from(r#"<div class="label">work per step</div>"#);
    if reference.is_none() {
        h.push_str(r#"<div class="where">reference: n/a</div>"#);
    }
    for w in work {
        let _ = write!(
            h,
            r#"<table class="ea work"><tr><th colspan="4">step {} · {} request(s)</th></tr><tr><th>figure</th><th>this submission</th><th>reference</th><th>counted</th></tr>"#,
            w.step, w.requests
        );
        for f in &w.figures {
            h.push_str(&figure_row(f, reference));
        }
        h.push_str("</table>");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use grader_report::{TimelineStage, Window};

    fn timeline(stage: &str) -> Timeline {
        let windows = (0..12)
            .map(|k| Window {
                start_ms: k * 250,
                due: if (4..8).contains(&k) { 100 } else { 10 },
                answered: 10,
                errors: u64::from(k == 6) * 3,
                p50_ms: (k != 11).then_some(if (4..8).contains(&k) { 250.0 } else { 1.2 }),
                p95_ms: (k != 11).then_some(if (4..8).contains(&k) { 310.0 } else { 2.5 }),
                max_ms: Some(400.0),
            })
            .collect();
        Timeline {
            window_ms: 250,
            stages: vec![
                TimelineStage {
                    name: "base".into(),
                    start_ms: 0,
                    end_ms: 1000,
                },
                TimelineStage {
                    name: stage.into(),
                    start_ms: 1000,
                    end_ms: 2000,
                },
                TimelineStage {
                    name: "after".into(),
                    start_ms: 2000,
                    end_ms: 3000,
                },
            ],
            windows,
        }
    }

    fn svgs(html: &str) -> Vec<String> {
        html.split("<svg")
            .skip(1)
            .map(|s| format!("<svg{}", &s[..s.find("</svg>").expect("closed") + 6]))
            .collect()
    }

    #[test]
    fn the_charts_are_well_formed_with_stages_lines_and_errors() {
        let html = [
            latency_svg(&timeline("spike")),
            rate_svg(&timeline("spike")),
        ]
        .concat();
        let charts = svgs(&html);
        assert_eq!(charts.len(), 2);
        for svg in &charts {
            let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
            let names: Vec<&str> = doc
                .descendants()
                .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("stage"))
                .filter_map(|g| g.descendants().find(|n| n.has_tag_name("text"))?.text())
                .collect();
            assert_eq!(names, ["base", "spike", "after"]);
        }
        let latency = roxmltree::Document::parse(&charts[0]).expect("XML");
        let class = |c: &str| {
            latency
                .descendants()
                .filter(|n| n.attribute("class") == Some(c))
                .count()
        };
        assert_eq!((class("p50"), class("p95")), (1, 1), "one line each");
        assert_eq!(class("errors"), 1, "the window with errors is marked");
        let rate = roxmltree::Document::parse(&charts[1]).expect("XML");
        assert!(
            rate.descendants()
                .any(|n| n.attribute("class") == Some("asked"))
        );
        // 100 due in 250 ms: the top of the rate axis is 400/s.
        assert!(charts[1].contains(">400/s<"), "{}", charts[1]);
    }

    #[test]
    fn a_stage_name_cannot_break_out_of_the_svg() {
        let html = latency_svg(&timeline("<script>alert(1)</script>&\"'"));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
        roxmltree::Document::parse(&html).expect("still well-formed");
    }

    #[test]
    fn work_figures_sit_beside_the_reference_or_say_it_is_missing() {
        let work = vec![WorkReport {
            step: 2,
            requests: 50,
            errors: Vec::new(),
            top_statements: Vec::new(),
            figures: vec![
                WorkFigure {
                    name: "statements".into(),
                    value: 21.0,
                    per_request: true,
                    count: 1050,
                    source: "pg_stat_statements calls of role <app>".into(),
                },
                WorkFigure {
                    name: "memory_growth".into(),
                    value: 3_145_728.0,
                    per_request: false,
                    count: 3_145_728,
                    source: "cgroup".into(),
                },
            ],
        }];
        let reference: BTreeMap<String, f64> = [("statements".to_string(), 1.0)].into();
        let h = work_html(&work, Some(&reference));
        assert!(h.contains("<td>21 per request</td><td>1</td>"), "{h}");
        assert!(h.contains("<td>3.0 MiB</td><td>n/a</td>"), "{h}");
        assert!(h.contains("role &lt;app&gt;") && !h.contains("<app>"));
        assert!(work_html(&work, None).contains("reference: n/a"));
        assert_eq!(work_html(&[], None), "");
    }
}
