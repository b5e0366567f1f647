//! `grader init`: a learner's starting folder: the exercise README, a starter server
//! and a Dockerfile for the chosen language.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Context, bad_input};
use crate::docker::stack::STACKS;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Exercise name (bundled) or path to its folder or spec file
    exercise: String,
    /// go, node, php, ruby or python
    #[arg(long)]
    lang: String,
    /// The folder to create (must not exist, or be empty)
    dir: PathBuf,
}

pub(crate) fn run(args: &Args, ctx: &Context) -> anyhow::Result<u8> {
    let Some(exercise) = super::exercise::load_or_report(&ctx.exercises, &args.exercise) else {
        return Ok(grader_report::Fault::Exercise.exit_code());
    };
    let (lang, dir) = (args.lang.as_str(), &args.dir);
    if !STACKS.contains(&lang) {
        return Ok(bad_input(format_args!(
            "--lang {lang}: expected one of {}",
            STACKS.join(", ")
        )));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Ok(bad_input(format_args!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    copy_template(
        &ctx.recipes.join("templates").join(lang),
        dir,
        &exercise.name.to_ascii_lowercase(),
    )?;
    if let Some(readme) = &exercise.readme {
        std::fs::copy(readme, dir.join("README.md"))?;
    }
    println!("created {} ({lang}) for {}:", dir.display(), exercise.name);
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        println!("  {n}");
    }
    println!("README.md holds the contract, and the sandbox rules the server runs under");
    println!(
        "grade it with: grader grade {} {}",
        exercise.name,
        dir.display()
    );
    Ok(grader_report::exit::PASSED)
}

/// The starters' placeholder for the exercise's name (package.json, go.mod, comments).
const EXERCISE: &str = "__EXERCISE__";

/// The language's starter files and its Dockerfile, into `dir`, with the exercise's
/// name where the starters say `__EXERCISE__`.
fn copy_template(template: &Path, dir: &Path, exercise: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let starter = template.join("starter");
    let files = std::fs::read_dir(&starter)
        .with_context(|| format!("reading {}", starter.display()))?
        .flatten()
        .map(|f| (f.path(), f.file_name()));
    for (from, name) in files.chain([(template.join("Dockerfile"), "Dockerfile".into())]) {
        let to = dir.join(name);
        match std::fs::read_to_string(&from) {
            Ok(text) => std::fs::write(&to, text.replace(EXERCISE, exercise))?,
            Err(_) => {
                std::fs::copy(&from, &to)?;
            }
        }
    }
    Ok(())
}
