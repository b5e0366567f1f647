//! Image builds from a folder with a Dockerfile, the log streamed to a file. A failed
//! build is an outcome, not an error: the report shows its last lines.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use grader_report::Cause;

use super::causes;
use super::context::build_context;
use super::images::image_exists;
use super::{DockerError, io};

/// Memory of each build step's container.
const BUILD_MEMORY: i32 = 1536 * 1024 * 1024;

/// The CPU weight of each build step's container (a running container has 1024): a
/// build uses idle cores as fast as ever, but yields them to the servers being probed
/// beside it, so that a neighbour's compile does not blur a load's latency.
const BUILD_CPU_SHARES: i32 = 64;

/// How many log lines a failed build's report shows.
const TAIL_LINES: usize = 30;

#[derive(Debug)]
pub enum BuildOutcome {
    Built,
    Failed {
        reason: String,
        /// The log's last lines, colours removed.
        log_tail: String,
        /// Known causes found in the whole log.
        causes: Vec<Cause>,
    },
}

/// The build's log file, its last lines for the report, and the causes its lines show.
struct BuildLog {
    file: std::fs::File,
    tail: VecDeque<String>,
    scan: causes::BuildScan,
}

impl BuildLog {
    fn create(path: &Path) -> Result<BuildLog, DockerError> {
        let file =
            std::fs::File::create(path).map_err(io(format!("cannot write {}", path.display())))?;
        Ok(BuildLog {
            file,
            tail: VecDeque::new(),
            scan: causes::BuildScan::default(),
        })
    }

    fn note(&mut self, text: &str) {
        let _ = self.file.write_all(text.as_bytes());
        for l in text.lines() {
            self.scan.line(&causes::strip_sgr(l));
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(l.to_string());
        }
    }

    /// The last lines without their colours (the file keeps them).
    fn tail(&self) -> String {
        causes::strip_sgr(&self.tail.iter().cloned().collect::<Vec<_>>().join("\n"))
    }

    /// The build failed: why, its last lines and its causes.
    fn failed(&mut self, reason: String) -> BuildOutcome {
        BuildOutcome::Failed {
            reason,
            log_tail: self.tail(),
            causes: std::mem::take(&mut self.scan).causes(),
        }
    }

    /// A build refused before the engine saw it: the reason is all there is to show.
    fn refused(&mut self, reason: String) -> BuildOutcome {
        self.note(&format!("{reason}\n"));
        BuildOutcome::Failed {
            reason,
            log_tail: String::new(),
            causes: Vec::new(),
        }
    }
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
    let mut log = BuildLog::create(log_path)?;
    let mut template = None;
    if !dir.join("Dockerfile").is_file() {
        let Some((path, stack)) = template_for(dir, templates) else {
            return Ok(log.refused(format!(
                "there is no Dockerfile in {} (and no {} project was recognised)",
                dir.display(),
                super::stack::STACKS.join(", ")
            )));
        };
        let text = std::fs::read_to_string(&path)
            .map_err(io(format!("cannot read {}", path.display())))?;
        log.note(&format!(
            "no Dockerfile: a {stack} project, built with {}\n",
            path.display()
        ));
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
        Err(e) => return Ok(log.refused(e.to_string())),
    };
    let work = run_build(docker, tag, build_args, context, &mut log);
    let Ok(error) = tokio::time::timeout(timeout, work).await else {
        let reason = format!("the build did not finish within {}s", timeout.as_secs());
        log.note(&format!("{reason}\n"));
        return Ok(log.failed(reason));
    };
    // A failed build can end in a spurious stream error: the image decides.
    let exists = image_exists(docker, tag).await?;
    match error {
        None if exists => Ok(BuildOutcome::Built),
        error => Ok(log.failed(error.unwrap_or_else(|| "the build produced no image".into()))),
    }
}

/// The template Dockerfile for a folder without one, and the stack it was chosen for.
fn template_for(dir: &Path, templates: Option<&Path>) -> Option<(PathBuf, &'static str)> {
    let stack = super::stack::detect(dir)?;
    Some((templates?.join(stack).join("Dockerfile"), stack))
}

/// Streams the engine's build of `context` into the log; returns the first error the
/// engine reported, if any.
async fn run_build(
    docker: &Docker,
    tag: &str,
    build_args: &HashMap<String, String>,
    context: Vec<u8>,
    log: &mut BuildLog,
) -> Option<String> {
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(build_args)
        // Build steps run learners' commands too: bound their memory (no swap).
        .memory(BUILD_MEMORY)
        .cpushares(BUILD_CPU_SHARES)
        .memswap(BUILD_MEMORY)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut error: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = &info.stream {
                    log.note(s);
                }
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    log.note(&format!("{e}\n"));
                    error = Some(e);
                }
            }
            Err(e) => {
                let text = match &e {
                    bollard::errors::Error::DockerStreamError { error } => error.clone(),
                    other => other.to_string(),
                };
                log.note(&format!("{text}\n"));
                error.get_or_insert(text);
                break;
            }
        }
    }
    error
}
