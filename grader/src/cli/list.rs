//! `grader list`: the bundled exercises, one a line.

use anyhow::Context as _;

use super::Context;

pub(crate) fn run(ctx: &Context) -> anyhow::Result<u8> {
    let entries = super::exercise::bundled(&ctx.exercises)
        .with_context(|| format!("reading {}", ctx.exercises.display()))?;
    for e in entries {
        match harness::load_exercise(&e) {
            Ok(ex) => println!(
                "{:<16} {} ({} checks, {} points)",
                ex.name,
                ex.title,
                ex.checks.len(),
                ex.max_points()
            ),
            Err(_) => println!(
                "{:<16} (invalid spec: run `grader check`)",
                e.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }
    Ok(grader_report::exit::PASSED)
}
