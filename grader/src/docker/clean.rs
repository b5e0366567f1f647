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
    for c in containers {
        let Some(id) = c.id else { continue };
        match docker.remove_container(&id, Some(remove.clone())).await {
            Ok(()) => cleaned.containers += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api(format!("removing container {id}"))(e)),
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api("listing networks"))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        match docker.remove_network(&id).await {
            Ok(()) => cleaned.networks += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api(format!("removing network {id}"))(e)),
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(api("listing volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        match docker
            .remove_volume(
                &v.name,
                Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
            )
            .await
        {
            Ok(()) => cleaned.volumes += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api(format!("removing volume {}", v.name))(e)),
        }
    }
    Ok(cleaned)
}
