//! `grader check`: validates an exercise spec, without Docker.

use super::Context;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Exercise name (bundled) or path to its folder or spec file
    exercise: String,
}

pub(crate) fn run(args: &Args, ctx: &Context) -> u8 {
    let Some(ex) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return grader_report::Fault::Exercise.exit_code();
    };
    println!(
        "ok: {} — {} checks, {} points, pass mark {}%",
        ex.name,
        ex.checks.len(),
        ex.max_points(),
        ex.pass_mark
    );
    grader_report::exit::PASSED
}
