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
    copy_template(&ctx.recipes.join("templates").join(lang), dir)?;
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
    println!(
        "grade it with: grader grade {} {}",
        exercise.name,
        dir.display()
    );
    Ok(grader_report::exit::PASSED)
}

/// The language's starter files and its Dockerfile, into `dir`.
fn copy_template(template: &Path, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for f in std::fs::read_dir(template.join("starter"))
        .with_context(|| format!("reading {}", template.display()))?
        .flatten()
    {
        std::fs::copy(f.path(), dir.join(f.file_name()))?;
    }
    std::fs::copy(template.join("Dockerfile"), dir.join("Dockerfile"))?;
    Ok(())
}
