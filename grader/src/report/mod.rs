//! Renderings of one `Report`: JSON (the contract), JUnit XML, Gradescope's
//! results.json, Markdown and a self-contained HTML page. Each is a pure function of the
//! report, so `grader report RUN.json` re-renders a saved run exactly.

pub mod class;
mod format;
mod gradescope;
mod html;
mod junit;
mod markdown;
pub(crate) mod terminal;
pub mod write;

use grader_report::Report;

pub use format::Format;

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => grader_report::to_json(report),
        Format::Junit => junit::render(report),
        Format::Gradescope => gradescope::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// Points as people write them: `3`, or `1.33` for a share.
pub fn pts(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// A failure's details as plain text, the same in every format.
pub(crate) fn failure_text(f: &grader_report::Failure) -> String {
    let mut out = f.message.clone();
    if !f.location.is_empty() {
        out.push_str(&format!("\nat {} (step {})", f.location, f.step));
    }
    for (label, value) in [
        ("hint", &f.hint),
        ("expected", &f.expected),
        ("actual", &f.actual),
        ("request", &f.request),
    ] {
        if let Some(v) = value {
            out.push_str(&format!("\n{label}: {v}"));
        }
    }
    if let Some(d) = &f.diff {
        out.push_str(&format!("\ndiff:\n{d}"));
    }
    if let Some(r) = &f.response {
        out.push_str(&format!("\nresponse:\n{r}"));
    }
    out
}

/// A one-line verdict for summaries.
pub(crate) fn verdict(report: &Report) -> String {
    use grader_report::RunStatus;
    match report.status {
        RunStatus::Graded if report.passed => "passed".into(),
        RunStatus::Graded => format!("below the pass mark ({}%)", report.pass_mark),
        RunStatus::BuildFailed => {
            format!("did not build: {}", report.reason.as_deref().unwrap_or(""))
        }
        RunStatus::StartFailed => {
            format!("did not start: {}", report.reason.as_deref().unwrap_or(""))
        }
        RunStatus::Error => format!("grader error: {}", report.reason.as_deref().unwrap_or("")),
    }
}

#[cfg(test)]
pub(crate) mod fixture;
