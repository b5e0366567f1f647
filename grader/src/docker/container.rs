//! The container plumbing every part of the runtime shares: create and start, labels,
//! ports published on one address (127.0.0.1 for a local engine), bounded logs.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfigLogConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};

use super::reach::is_bind_failure;
use super::{DockerError, Reach, api, run_labels};

/// The run's labels plus the container's role (`database`, `forwarder`, ...).
pub(super) fn role_labels(run_id: &str, role: &str) -> HashMap<String, String> {
    let mut labels = run_labels(run_id);
    labels.insert("grader.role".into(), role.into());
    labels
}

/// Creates a container named `name`; it does not start it.
pub(super) async fn create(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> Result<(), DockerError> {
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    docker
        .create_container(Some(options), body)
        .await
        .map_err(api(format!("creating container {name}")))?;
    Ok(())
}

pub(super) async fn start(docker: &Docker, name: &str) -> Result<(), DockerError> {
    docker
        .start_container(name, None::<StartContainerOptions>)
        .await
        .map_err(api(format!("starting container {name}")))
}

/// Starts a container that publishes ports: an engine that cannot bind them where the
/// reach says is told apart, with what to do.
pub(super) async fn start_published(
    docker: &Docker,
    name: &str,
    reach: &Reach,
) -> Result<(), DockerError> {
    match docker
        .start_container(name, None::<StartContainerOptions>)
        .await
    {
        Err(e) if is_bind_failure(&e.to_string()) => Err(DockerError::Other(
            reach.cannot_bind(&format!("starting container {name}"), &e.to_string()),
        )),
        other => other.map_err(api(format!("starting container {name}"))),
    }
}

pub(super) async fn create_and_start(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> Result<(), DockerError> {
    create(docker, name, body).await?;
    start(docker, name).await
}

/// Port bindings that publish `key` (e.g. `5432/tcp`) on a free port of the reach's
/// bind address only (127.0.0.1 for a local engine).
pub(super) fn published_on(key: &str, reach: &Reach) -> HashMap<String, Option<Vec<PortBinding>>> {
    HashMap::from([(
        key.to_string(),
        Some(vec![PortBinding {
            host_ip: Some(reach.bind().to_string()),
            host_port: Some(String::new()),
        }]),
    )])
}

/// The host port Docker published for `key` (e.g. `5432/tcp`) of a started container.
pub(super) async fn published_port(
    docker: &Docker,
    container: &str,
    key: &str,
) -> Result<u16, DockerError> {
    let info = docker
        .inspect_container(container, None)
        .await
        .map_err(api(format!("inspecting {container}")))?;
    info.network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(key).cloned().flatten())
        .and_then(|b| b.into_iter().find_map(|b| b.host_port?.parse().ok()))
        .ok_or_else(|| DockerError::Other(format!("{container} has no published port for {key}")))
}

/// A log driver bounded at 10 MiB, so a chatty container cannot fill the disk.
pub(super) fn small_logs() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([
            ("max-size".to_string(), "10m".to_string()),
            ("max-file".to_string(), "1".to_string()),
        ])),
    }
}
