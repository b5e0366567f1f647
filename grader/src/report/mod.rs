//! Renderings of one `Report`: JSON (the contract), JUnit XML, Gradescope's
//! results.json, Classroom 50's result.json, Markdown and a self-contained HTML page, plus a class's gradebook and
//! summaries. Each is a pure function of the report(s), so `grader report RUN.json`
//! re-renders a saved run exactly; the words they share live in `text`, and each format
//! has one escaper of its own, which starts with `text::inert` (no control character
//! or escape sequence a submission sent reaches a terminal, parser or browser raw).

pub(crate) mod class;
mod classroom50;
mod format;
mod gradescope;
pub(crate) mod hidden;
mod html;
mod json;
mod junit;
mod markdown;
mod profile;
pub(crate) mod terminal;
mod text;
pub(crate) mod write;

use grader_report::Report;

pub(crate) use format::Format;
pub(crate) use text::{inert, pts, verdict};

pub(crate) fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Gradescope => gradescope::render(report),
        Format::Classroom50 => classroom50::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

#[cfg(test)]
pub(crate) mod fixture;
