//! Removes what the grader made: by run, or everything labelled `grader.run`.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};

use super::{DockerError, RUN_LABEL, api, is_not_found};

/// What a cleanup removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

/// Removes the containers, networks and volumes of one run.
pub async fn clean_run(docker: &Docker, run_id: &str) -> Result<Cleaned, DockerError> {
    clean(docker, &format!("{RUN_LABEL}={run_id}")).await
}

/// Removes everything any grader run left behind.
pub async fn clean_all(docker: &Docker) -> Result<Cleaned, DockerError> {
    clean(docker, RUN_LABEL).await
}

async fn clean(docker: &Docker, label: &str) -> Result<Cleaned, DockerError> {
    let filters: HashMap<String, Vec<String>> =
        HashMap::from([("label".into(), vec![label.to_string()])]);
    let mut cleaned = Cleaned::default();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(api("listing containers"))?;
    let remove = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    // All at once: each removal is mostly the engine stopping a process and unmounting
    // its layers, and a run has several containers (a second or so, one by one).
    let removals = containers.into_iter().filter_map(|c| c.id).map(|id| {
        let remove = remove.clone();
        async move {
            let removed = docker.remove_container(&id, Some(remove)).await;
            counted(removed, || format!("removing container {id}"))
        }
    });
    for removed in futures_util::future::join_all(removals).await {
        cleaned.containers += removed?;
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api("listing networks"))?;
    let removals = networks
        .into_iter()
        .filter_map(|n| n.id)
        .map(|id| async move {
            let removed = docker.remove_network(&id).await;
            counted(removed, || format!("removing network {id}"))
        });
    for removed in futures_util::future::join_all(removals).await {
        cleaned.networks += removed?;
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api("listing volumes"))?;
    let force = RemoveVolumeOptionsBuilder::new().force(true).build();
    for v in volumes.volumes.unwrap_or_default() {
        let removed = docker.remove_volume(&v.name, Some(force.clone())).await;
        cleaned.volumes += counted(removed, || format!("removing volume {}", v.name))?;
    }
    Ok(cleaned)
}

/// 1 for a thing removed, 0 for one already gone (another cleanup got there first).
fn counted(
    removed: Result<(), bollard::errors::Error>,
    what: impl FnOnce() -> String,
) -> Result<usize, DockerError> {
    match removed {
        Ok(()) => Ok(1),
        Err(e) if is_not_found(&e) => Ok(0),
        Err(e) => Err(api(what())(e)),
    }
}
