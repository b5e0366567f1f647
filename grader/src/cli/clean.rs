//! `grader clean`: removes what grader runs left behind in Docker.

use crate::docker;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only what this run made (its id, e.g. grader-1a2b3c4d)
    #[arg(long)]
    run: Option<String>,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let docker = docker::connect().await?;
    let cleaned = match &args.run {
        Some(id) => docker::clean_run(&docker, id).await?,
        None => docker::clean_all(&docker).await?,
    };
    println!(
        "removed {} container(s), {} network(s), {} volume(s) labelled {}",
        cleaned.containers,
        cleaned.networks,
        cleaned.volumes,
        docker::RUN_LABEL
    );
    Ok(grader_report::exit::PASSED)
}
