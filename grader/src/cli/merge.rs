//! `grader merge`: the folders of several `batch --shard` runs, as one gradebook.

use std::path::PathBuf;

use crate::report::terminal::ClassProgress;
use crate::run;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shards' --out folders
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the combined gradebook and summary go
    #[arg(long, default_value = "grader-class")]
    out: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let all = run::merge(&args.dirs, &args.out, &ClassProgress)?;
    println!(
        "merged {} learners into {}",
        all.len(),
        args.out.join("gradebook.csv").display()
    );
    Ok(grader_report::exit::PASSED)
}
