//! Image builds from a folder with a Dockerfile, the log streamed to a file. A failed
//! build is an outcome, not an error: the report shows its last lines.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use super::context::build_context;
use super::{DockerError, api};

/// Memory of each build step's container.
const BUILD_MEMORY: i32 = 1536 * 1024 * 1024;

/// How many log lines a failed build's report shows.
const TAIL_LINES: usize = 30;

#[derive(Debug)]
pub enum BuildOutcome {
    Built,
    Failed { reason: String, log_tail: String },
}

/// Builds `dir` (its `Dockerfile`) into `tag`, writing the build's output to `log_path`.
pub async fn build_submission(
    docker: &Docker,
    dir: &Path,
    tag: &str,
    build_args: &HashMap<String, String>,
    log_path: &Path,
    timeout: Duration,
    templates: Option<&Path>,
) -> Result<BuildOutcome, DockerError> {
    let mut log = std::fs::File::create(log_path)
        .map_err(|e| DockerError::Other(format!("cannot write {}: {e}", log_path.display())))?;
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut note = |log: &mut std::fs::File, line: &str| {
        let _ = log.write_all(line.as_bytes());
        for l in line.lines() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(l.to_string());
        }
    };
    let mut template = None;
    if !dir.join("Dockerfile").is_file() {
        let stack = templates.and_then(|t| super::stack::detect(dir).map(|s| (t, s)));
        let Some((t, stack)) = stack else {
            let reason = format!(
                "there is no Dockerfile in {} (and no {} project was recognised)",
                dir.display(),
                super::stack::STACKS.join(", ")
            );
            note(&mut log, &format!("{reason}\n"));
            return Ok(BuildOutcome::Failed {
                reason,
                log_tail: String::new(),
            });
        };
        let path = t.join(stack).join("Dockerfile");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| DockerError::Other(format!("cannot read {}: {e}", path.display())))?;
        note(
            &mut log,
            &format!(
                "no Dockerfile: a {stack} project, built with {}\n",
                path.display()
            ),
        );
        template = Some(text);
    }
    let dir_owned = dir.to_path_buf();
    let context = tokio::task::spawn_blocking(move || {
        build_context(&dir_owned, "Dockerfile", template.as_deref())
    })
    .await
    .map_err(|e| DockerError::Other(e.to_string()))?;
    let context = match context {
        Ok(c) => c,
        Err(reason) => {
            note(&mut log, &format!("{reason}\n"));
            return Ok(BuildOutcome::Failed {
                reason,
                log_tail: String::new(),
            });
        }
    };
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(build_args)
        // Build steps run learners' commands too: bound their memory (no swap).
        .memory(BUILD_MEMORY)
        .memswap(BUILD_MEMORY)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut error: Option<String> = None;
    let work = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(s) = &info.stream {
                        note(&mut log, s);
                    }
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        note(&mut log, &format!("{e}\n"));
                        error = Some(e);
                    }
                }
                Err(e) => {
                    let text = match &e {
                        bollard::errors::Error::DockerStreamError { error } => error.clone(),
                        other => other.to_string(),
                    };
                    note(&mut log, &format!("{text}\n"));
                    error.get_or_insert(text);
                    break;
                }
            }
        }
    };
    if tokio::time::timeout(timeout, work).await.is_err() {
        let reason = format!("the build did not finish within {}s", timeout.as_secs());
        note(&mut log, &format!("{reason}\n"));
        return Ok(BuildOutcome::Failed {
            reason,
            log_tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
        });
    }
    // A failed build can end in a spurious stream error: the image decides.
    let exists = match docker.inspect_image(tag).await {
        Ok(_) => true,
        Err(e) if super::is_not_found(&e) => false,
        Err(e) => return Err(api(format!("inspecting image {tag}"))(e)),
    };
    match error {
        None if exists => Ok(BuildOutcome::Built),
        error => Ok(BuildOutcome::Failed {
            reason: error.unwrap_or_else(|| "the build produced no image".into()),
            log_tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
        }),
    }
}
