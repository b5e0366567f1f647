//! The output formats and the files they are written to.

/// An output format and the file it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Gradescope,
    Markdown,
    Html,
}

impl Format {
    pub const NAMES: &'static str = "json, junit, gradescope, md, html";

    pub fn parse(name: &str) -> Option<Format> {
        Some(match name.trim() {
            "json" => Format::Json,
            "junit" | "xml" => Format::Junit,
            "gradescope" => Format::Gradescope,
            "md" | "markdown" => Format::Markdown,
            "html" => Format::Html,
            _ => return None,
        })
    }

    /// Parses a comma-separated list such as `json,junit,html`.
    pub fn parse_list(list: &str) -> Result<Vec<Format>, String> {
        let mut out = Vec::new();
        for name in list.split(',').filter(|n| !n.trim().is_empty()) {
            let f = Format::parse(name).ok_or_else(|| {
                format!(
                    "unknown format `{}` (known: {})",
                    name.trim(),
                    Format::NAMES
                )
            })?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Junit => "junit.xml",
            Format::Gradescope => "results.json",
            Format::Markdown => "summary.md",
            Format::Html => "report.html",
        }
    }
}
