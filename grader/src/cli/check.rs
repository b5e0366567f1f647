//! `grader check`: validates an exercise spec, without Docker.

use super::Context;
use crate::docker::rules::SandboxRules;

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
    sandbox_rules_note(&ex);
    grader_report::exit::PASSED
}

/// A README that does not state the sandbox's rules as the spec's limits make them
/// gets the section it should hold (the learner reads only the README).
fn sandbox_rules_note(ex: &harness::Exercise) {
    let Some(text) = ex
        .readme
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
    else {
        return;
    };
    let rules = SandboxRules::of(ex);
    if !rules.stated_in(&text) {
        println!(
            "note: the README does not state the sandbox rules as this spec's limits make them; its \"Sandbox rules\" section should read:\n\n{}",
            rules.markdown()
        );
    }
}
