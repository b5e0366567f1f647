//! Everything that talks to Docker: images, builds, the per-run sandbox, cleanup.

mod build;
mod causes;
mod clean;
mod connect;
mod container;
mod context;
mod images;
mod provision;
mod reach;
pub(crate) mod rules;
mod sandbox;
mod shared_pg;
pub mod stack;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;

pub use build::{BuildOutcome, build_submission};
pub use clean::{clean_all, clean_run};
pub use images::{ImageNames, ImageNeeds, ensure_images};
pub use reach::{Reach, ReachError, ReachOptions};
pub use sandbox::{Sandbox, SandboxOptions, private_network};
// What the process runtime shares with the Docker one: the database the grader
// administers, the submission's environment, and the causes read from its output.
pub(crate) use causes::{Ended, from_exit, from_log};
pub(crate) use provision::{LEARNER, PgServer, StorageWatch};
pub(crate) use rules::SandboxRules;
pub(crate) use sandbox::{
    Login, PostgresSize, ServiceAddrs, contract_env, merge_causes, output_of, random_password,
    throwaway_postgres,
};
pub use shared_pg::SharedPostgres;

/// The label key on everything the grader creates; its value is the run's id.
pub const RUN_LABEL: &str = "grader.run";

/// Errors from Docker, with what the grader was doing.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine: {0}\n  (is Docker running? set DOCKER_HOST if it listens elsewhere)"
    )]
    Connect(String),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// A file of the grader's own (a build log, a template) could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// What went wrong, for people only: no caller decides anything by it.
    #[error("{0}")]
    Other(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DockerError {
    let what = what.into();
    move |source| DockerError::Io { what, source }
}

pub(crate) fn api(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let what = what.into();
    move |source| DockerError::Api { what, source }
}

/// Connects with the usual environment (DOCKER_HOST or the local socket, DOCKER_TLS_VERIFY
/// and DOCKER_CERT_PATH) and agrees on an API version the engine speaks (old engines
/// speak 1.41).
pub async fn connect() -> Result<Docker, DockerError> {
    let docker = connect::from_env()?
        .client()?
        .with_timeout(Duration::from_secs(300));
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| DockerError::Connect(e.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|e| DockerError::Connect(e.to_string()))?;
    Ok(docker)
}

pub(crate) fn run_labels(run_id: &str) -> HashMap<String, String> {
    HashMap::from([(RUN_LABEL.to_string(), run_id.to_string())])
}

/// True when the error is Docker's 404.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
