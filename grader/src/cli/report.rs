//! `grader report`: a saved report.json rendered again, in other formats.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Formats, bad_input};
use crate::report;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A report.json written by `grader grade`
    report: PathBuf,
    /// Formats to write: json, junit, gradescope, classroom50, md, html
    #[arg(long, default_value = "html", value_parser = Formats::parse)]
    format: Formats,
    /// Where to write them [default: beside the report]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let text = match std::fs::read_to_string(&args.report) {
        Ok(t) => t,
        Err(e) => {
            return Ok(bad_input(format_args!(
                "cannot read {}: {e}",
                args.report.display()
            )));
        }
    };
    let parsed: grader_report::Report = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            return Ok(bad_input(format_args!(
                "{} is not a grader report (schema {}): {e}",
                args.report.display(),
                grader_report::SCHEMA_VERSION
            )));
        }
    };
    let dir = args.out.unwrap_or_else(|| {
        args.report
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in &args.format.0 {
        let path = dir.join(f.file_name());
        std::fs::write(&path, report::render(&parsed, *f))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(grader_report::exit::PASSED)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn formats_are_a_list_with_aliases() {
        let cli = super::super::Cli::try_parse_from([
            "grader", "report", "r.json", "--format", "xml, md",
        ])
        .unwrap();
        let super::super::Command::Report(args) = cli.command else {
            panic!("not the report command");
        };
        assert_eq!(
            args.format.0,
            vec![report::Format::Junit, report::Format::Markdown]
        );
        let e =
            super::super::Cli::try_parse_from(["grader", "report", "r.json", "--format", "pdf"])
                .unwrap_err();
        assert!(e.to_string().contains("unknown format `pdf`"), "{e}");
        assert!(e.use_stderr());
    }
}
