//! The command line: clap's types, one file per subcommand, each turning its arguments
//! into the plain options of `run/` and saying what happened. Printing is allowed here
//! and in the reporters only.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod baseline;
pub(crate) mod batch;
mod bundle;
pub(crate) mod check;
pub(crate) mod clean;
mod exercise;
pub(crate) mod grade;
pub(crate) mod images;
pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod load;
pub(crate) mod merge;
pub(crate) mod report;
pub(crate) mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use grader_report::Fault;
use tokio_util::sync::CancellationToken;

use self::bundle::LONG_VERSION;
use crate::docker::{ImageNames, Reach, ReachOptions};
use crate::report::Format;

/// Grades hands-on backend exercises for real: builds a submission, starts it beside a
/// fresh PostgreSQL, probes it over HTTP and SQL, and writes a scored report.
#[derive(Debug, Parser)]
#[command(version, long_version = LONG_VERSION, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Folder of the exercises [default: ./exercises, else the ones built into the grader]
    #[arg(long, global = true, env = "GRADER_EXERCISES")]
    exercises: Option<PathBuf>,
    /// Folder of the image recipes [default: ./docker, else the ones built into the grader]
    #[arg(long, global = true, env = "GRADER_RECIPES")]
    recipes: Option<PathBuf>,
    /// Never colour the output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    no_color: bool,
    #[command(flatten)]
    images: ImageArgs,
}

#[derive(Debug, clap::Args)]
struct ImageArgs {
    /// The Debian base image learners build FROM
    #[arg(
        long,
        global = true,
        env = "GRADER_BASE_IMAGE",
        default_value = "debian:bookworm-slim"
    )]
    base_image: String,
    /// The PostgreSQL image (must honour POSTGRES_USER/PASSWORD/DB)
    #[arg(
        long,
        global = true,
        env = "GRADER_POSTGRES_IMAGE",
        default_value = "postgres:15-bookworm"
    )]
    postgres_image: String,
    /// The port-forwarder image (entrypoint: socat)
    #[arg(
        long,
        global = true,
        env = "GRADER_SOCAT_IMAGE",
        default_value = "alpine/socat:latest"
    )]
    socat_image: String,
    /// The Redis image, for exercises with [services.redis]
    #[arg(
        long,
        global = true,
        env = "GRADER_REDIS_IMAGE",
        default_value = "redis:7-bookworm"
    )]
    redis_image: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Grade a submission (a folder with a Dockerfile) against an exercise
    Grade(grade::Args),
    /// Render a saved report.json again, in other formats
    Report(report::Args),
    /// Make sure every image the grader needs exists (use, else pull, else build)
    Images,
    /// Remove every container, network and volume a grader run left behind
    Clean(clean::Args),
    /// Validate an exercise spec without Docker
    Check(check::Args),
    /// List the bundled exercises
    List,
    /// Start a learner's folder: the exercise README, a starter server and a Dockerfile
    Init(init::Args),
    /// Grade a whole class: a folder with one sub-folder per learner, or a CSV of name,path
    Batch(batch::Args),
    /// Combine the output folders of several `batch --shard` runs into one gradebook
    Merge(merge::Args),
    /// Send load to a URL and print the figures (the prober of `load` steps, alone)
    Load(load::Args),
    /// Grade an exercise's references and variants: the check x variant table, the
    /// mutation score, and every variant that does not lose exactly what it declares
    Test(test::Args),
    /// Write an exercise's baseline.json (the reference's work figures) from a report of grading its reference
    Baseline(baseline::Args),
}

const EXIT_CODES: &str = "Exit codes:
  0  graded, and the score reached the pass mark
  1  graded, and the score is below the pass mark
  2  the submission could not be built or started
  3  bad exercise spec or command line
  4  the grader or Docker failed, or the run was interrupted";

/// Where the grader reaches the ports the Docker engine publishes (`grade`, `batch`,
/// `test`): see README, "Remote Docker engines".
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReachArgs {
    /// The address (or host name) where the grader reaches the ports the Docker engine
    /// publishes [default: 127.0.0.1; with DOCKER_HOST=tcp://HOST:PORT, HOST's address]
    #[arg(long, value_name = "ADDR", env = "GRADER_PROBE_HOST")]
    probe_host: Option<String>,
    /// The address of the engine's host that published ports are bound to [default: the
    /// probe host's address]; 0.0.0.0 opens them on every interface: only behind NAT
    #[arg(long, value_name = "ADDR", env = "GRADER_PUBLISH_ON")]
    publish_on: Option<String>,
}

impl ReachArgs {
    /// The reach these options and DOCKER_HOST say, or what is wrong with them.
    pub(crate) fn reach(&self) -> Result<Reach, crate::docker::ReachError> {
        ReachOptions::from_env(self.probe_host.clone(), self.publish_on.clone()).reach()
    }
}

/// Where submissions run (`grade`, `batch`, `test`): see README, "Without Docker".
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RuntimeArgs {
    /// Where the submission runs: `docker` (built from its Dockerfile, in a sandbox) or
    /// `process` (a process of this machine, for machines that are already a sandbox:
    /// PostgreSQL and Redis from this machine, the server started with the command from
    /// --cmd, grader.toml, a Procfile or the Dockerfile's CMD; nothing is sandboxed)
    #[arg(long, value_enum, default_value = "docker", env = "GRADER_RUNTIME")]
    runtime: Runtime,
    /// With --runtime process: the shell command that starts the server, instead of what
    /// the submission declares
    #[arg(long, value_name = "COMMAND")]
    cmd: Option<String>,
}

/// Where a submission runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Runtime {
    Docker,
    Process,
}

impl RuntimeArgs {
    /// The process runtime's options (None: Docker), or why these options do not go
    /// together.
    pub(crate) fn process(&self) -> Result<Option<crate::run::ProcessOptions>, String> {
        match (self.runtime, &self.cmd) {
            (Runtime::Docker, Some(_)) => Err(
                "--cmd is for --runtime process (in Docker the image's CMD starts the server)"
                    .into(),
            ),
            (Runtime::Docker, None) => Ok(None),
            (Runtime::Process, cmd) => Ok(Some(crate::run::ProcessOptions { cmd: cmd.clone() })),
        }
    }
}

/// What every subcommand may use: the global options, resolved.
pub(crate) struct Context {
    pub(crate) exercises: PathBuf,
    pub(crate) recipes: PathBuf,
    pub(crate) images: ImageNames,
    pub(crate) no_color: bool,
}

impl Cli {
    pub(crate) fn context(&self) -> anyhow::Result<Context> {
        let mut built_in = None;
        Ok(Context {
            exercises: default_dir(self.exercises.clone(), "exercises", &mut built_in)?,
            recipes: default_dir(self.recipes.clone(), "docker", &mut built_in)?,
            images: ImageNames {
                base: self.images.base_image.clone(),
                postgres: self.images.postgres_image.clone(),
                socat: self.images.socat_image.clone(),
                redis: self.images.redis_image.clone(),
            },
            no_color: self.no_color,
        })
    }
}

/// A folder given on the command line, else one in the working directory, else the
/// one built into this binary (unpacked into the user's cache on first use; `built_in`
/// keeps where, for the next folder).
fn default_dir(
    given: Option<PathBuf>,
    name: &str,
    built_in: &mut Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    let here = PathBuf::from(name);
    if here.is_dir() {
        return Ok(here);
    }
    let dir = match built_in.take() {
        Some(dir) => dir,
        None => bundle::unpacked()?,
    };
    let path = dir.join(name);
    *built_in = Some(dir);
    Ok(path)
}

/// A `--format` list (`json,junit,html`), read with the names `Format` declares.
#[derive(Debug, Clone)]
pub(crate) struct Formats(pub(crate) Vec<Format>);

impl Formats {
    fn parse(list: &str) -> anyhow::Result<Formats> {
        Ok(Formats(Format::parse_list(list)?))
    }
}

/// Says what is wrong with the command line or the exercise; the exit code that goes
/// with it.
pub(crate) fn bad_input(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    Fault::Exercise.exit_code()
}

/// Says why the grader could not go on (`main`'s last word).
pub(crate) fn report_error(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

/// A token that Ctrl-C or SIGTERM cancels, so that a run cleans up and still reports.
pub(crate) fn cancel_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    tokio::spawn(on_signal(cancel.clone()));
    cancel
}

async fn on_signal(cancel: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    cancel.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn grade_batch_and_test_take_the_probe_host() {
        for line in [
            "grader grade todo-api sub --probe-host 172.17.0.1 --publish-on 0.0.0.0",
            "grader batch todo-api class --probe-host docker",
            "grader test todo-api --probe-host 10.0.0.2",
        ] {
            let cli = Cli::try_parse_from(line.split(' '));
            assert!(cli.is_ok(), "{line}: {cli:?}");
        }
        assert!(Cli::try_parse_from(["grader", "list", "--probe-host", "x"]).is_err());
    }
}
