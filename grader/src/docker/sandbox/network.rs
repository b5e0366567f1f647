//! The run's two networks: a private one with no route out (the submission and its
//! services), and an edge one the forwarders publish from and the upstream relay reaches
//! the host through.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::Docker;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::InspectNetworkOptions;

use super::super::{DockerError, api, run_labels};

/// The name of a run's private network.
pub fn private_network(run_id: &str) -> String {
    format!("{run_id}-private")
}

/// The name of a run's edge network.
pub(super) fn edge_network(run_id: &str) -> String {
    format!("{run_id}-edge")
}

/// Creates a bridge network labelled with `run_id`; `internal`: with no route out and
/// no way to the host.
pub(in crate::docker) async fn create_network(
    docker: &Docker,
    name: &str,
    run_id: &str,
    internal: bool,
) -> Result<(), DockerError> {
    let req = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".into()),
        internal: Some(internal),
        // An internal network still lets containers reach the host's own listeners
        // through the bridge's IP. With no IP on the bridge, there is nothing to
        // reach: containers still talk to each other, the host is out of sight.
        options: internal.then(|| {
            HashMap::from([(
                "com.docker.network.bridge.inhibit_ipv4".to_string(),
                "true".to_string(),
            )])
        }),
        labels: Some(run_labels(run_id)),
        ..Default::default()
    };
    docker
        .create_network(req)
        .await
        .map_err(api(format!("creating network {name}")))?;
    Ok(())
}

/// A network's IPv4 gateway: the host's address on it (containers on that network
/// reach the host there).
pub(super) async fn gateway(docker: &Docker, network: &str) -> Result<IpAddr, DockerError> {
    let info = docker
        .inspect_network(network, None::<InspectNetworkOptions>)
        .await
        .map_err(api(format!("inspecting network {network}")))?;
    info.ipam
        .and_then(|i| i.config)
        .into_iter()
        .flatten()
        .filter_map(|c| c.gateway?.parse::<IpAddr>().ok())
        .find(IpAddr::is_ipv4)
        .ok_or_else(|| DockerError::Other(format!("network {network} has no gateway")))
}
