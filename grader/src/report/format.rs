//! The output formats and the files they are written to. The names a user types are
//! declared once, here, as a clap `ValueEnum`.

use clap::ValueEnum;

/// An output format and the file it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    #[value(alias = "xml")]
    Junit,
    Gradescope,
    Classroom50,
    #[value(name = "md", alias = "markdown")]
    Markdown,
    Html,
}

/// A name in a `--format` list that is no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{name}` (known: {})", Format::names())]
pub struct UnknownFormat {
    name: String,
}

impl Format {
    /// The names a user may type, aliases left out: `json, junit, gradescope, classroom50,
    /// md, html`.
    pub fn names() -> String {
        Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses a comma-separated list such as `json,junit,html`: names are trimmed,
    /// empty entries skipped and a repeated name kept once.
    pub fn parse_list(list: &str) -> Result<Vec<Format>, UnknownFormat> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let f = Format::from_str(name, false).map_err(|_| UnknownFormat {
                name: name.to_string(),
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
            Format::Classroom50 => "result.json",
            Format::Markdown => "summary.md",
            Format::Html => "report.html",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_names_and_aliases_once() {
        assert_eq!(
            Format::parse_list("json, xml,markdown,,md,html,junit"),
            Ok(vec![
                Format::Json,
                Format::Junit,
                Format::Markdown,
                Format::Html
            ])
        );
        assert_eq!(Format::parse_list(""), Ok(vec![]));
        assert_eq!(
            Format::parse_list("gradescope"),
            Ok(vec![Format::Gradescope])
        );
    }

    #[test]
    fn an_unknown_name_says_which_names_are_known() {
        let e = Format::parse_list("json,pdf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown format `pdf` (known: json, junit, gradescope, classroom50, md, html)"
        );
    }
}
