//! `grader images`: makes sure every image exists (use, else pull, else build).

use super::Context;
use crate::docker;
use crate::report::terminal::Terminal;
use crate::run::{Reporter, RunEvent};

pub(crate) async fn run(ctx: Context) -> anyhow::Result<u8> {
    let terminal = Terminal::new(ctx.no_color);
    let docker = docker::connect().await?;
    docker::ensure_images(
        &docker,
        &ctx.images,
        &ctx.recipes,
        docker::ImageNeeds::ALL,
        &mut |line| terminal.report(&RunEvent::Images { line }),
    )
    .await?;
    let images = &ctx.images;
    terminal.step(&format!(
        "images ready: {}, {} ({}), {}, {}",
        images.base,
        images.postgres,
        images.postgres_ready(),
        images.socat,
        images.redis
    ));
    Ok(grader_report::exit::PASSED)
}
