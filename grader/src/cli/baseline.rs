//! `grader baseline`: the reference's work figures, from a report of grading it, into
//! the exercise's `baseline.json` (what reports show beside a submission's figures).

use std::path::PathBuf;

use anyhow::Context as _;

use super::{Context, bad_input};
use crate::run::baseline;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Exercise name (bundled) or path to its folder or spec file
    exercise: String,
    /// A report.json of grading the exercise's reference solution
    report: PathBuf,
}

pub(crate) fn run(args: &Args, ctx: &Context) -> anyhow::Result<u8> {
    let Some(exercise) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return Ok(grader_report::Fault::Exercise.exit_code());
    };
    let text = std::fs::read_to_string(&args.report)
        .with_context(|| format!("reading {}", args.report.display()))?;
    let report = match grader_report::from_json(&text) {
        Ok(r) => r,
        Err(e) => {
            return Ok(bad_input(format_args!(
                "{} is not a grader report: {e}",
                args.report.display()
            )));
        }
    };
    if report.exercise.name != exercise.name {
        return Ok(bad_input(format_args!(
            "{} grades `{}`, not `{}`",
            args.report.display(),
            report.exercise.name,
            exercise.name
        )));
    }
    let figures = baseline::from_report(&report);
    let path = exercise.dir.join(baseline::FILE);
    std::fs::write(&path, baseline::to_json(&figures))
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{} ({} check(s) with work figures)",
        path.display(),
        figures.len()
    );
    Ok(grader_report::exit::PASSED)
}
