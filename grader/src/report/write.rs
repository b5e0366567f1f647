//! Writing reports to files, and to GitHub Actions' job summary.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use grader_report::Report;

use super::Format;

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}", path.display())]
pub(crate) struct WriteError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes `text` to `path`, saying which file failed.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), WriteError> {
    std::fs::write(path, text).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends Markdown to the job summary when GitHub Actions sets `$GITHUB_STEP_SUMMARY`.
pub(crate) fn append_step_summary(markdown: &str) -> Result<(), WriteError> {
    let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&summary)
        .and_then(|mut f| f.write_all(markdown.as_bytes()))
        .map_err(|source| WriteError {
            path: summary.into(),
            source,
        })
}

/// Writes report.json and every other requested format into `dir`; with
/// `step_summary`, the Markdown summary also goes to `$GITHUB_STEP_SUMMARY` when GitHub
/// Actions sets it (one run; a batch appends its class summary instead).
pub(crate) fn write_reports(
    report: &Report,
    dir: &Path,
    formats: &[Format],
    step_summary: bool,
) -> Result<(), WriteError> {
    let mut all = vec![Format::Json];
    all.extend(formats.iter().copied().filter(|f| *f != Format::Json));
    for f in all {
        let text = super::render(report, f);
        write_file(&dir.join(f.file_name()), &text)?;
        if f == Format::Markdown && step_summary {
            append_step_summary(&text)?;
        }
    }
    Ok(())
}
