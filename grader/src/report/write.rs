//! Writing reports to files, and to GitHub Actions' job summary.

use std::path::Path;

use anyhow::Context as _;
use grader_report::Report;

use super::Format;

/// Appends Markdown to the job summary when GitHub Actions sets `$GITHUB_STEP_SUMMARY`.
pub fn append_step_summary(markdown: &str) -> std::io::Result<()> {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(summary)?
        .write_all(markdown.as_bytes())
}

/// Writes report.json and every other requested format into `dir`; with
/// `step_summary`, the Markdown summary also goes to `$GITHUB_STEP_SUMMARY` when GitHub
/// Actions sets it (one run; a batch appends its class summary instead).
pub fn write_reports(
    report: &Report,
    dir: &Path,
    formats: &[Format],
    step_summary: bool,
) -> anyhow::Result<()> {
    let mut all = vec![Format::Json];
    all.extend(formats.iter().copied().filter(|f| *f != Format::Json));
    for f in all {
        let path = dir.join(f.file_name());
        let text = super::render(report, f);
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        if f == Format::Markdown && step_summary {
            append_step_summary(&text)?;
        }
    }
    Ok(())
}
