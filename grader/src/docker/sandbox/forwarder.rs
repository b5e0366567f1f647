//! socat relays between the networks: forwarders publish a container's port on one
//! address, 127.0.0.1 for a local engine (so probes work even where the host cannot
//! reach container IPs, as on Docker Desktop), the probe host for a remote one; the
//! upstream relay lets the submission reach the grader's mock and nothing else.

use bollard::models::{ContainerCreateBody, HostConfig, NetworkConnectRequest};

use super::super::container::{self, published_on, small_logs};
use super::super::{DockerError, api};
use super::{Sandbox, UPSTREAM_HOST, UPSTREAM_PORT};

/// A relay's memory: a socat process per connection, a few hundred KiB each.
const FORWARDER_MEMORY: i64 = 256 * 1024 * 1024;

/// A socat relay: listens on `listen` in `home` (as `alias`), also joins `also`, and
/// forwards every connection `to` a host:port; `publish` puts it on the reach's bind
/// address.
struct Socat<'a> {
    role: &'a str,
    listen: u16,
    to: String,
    home: &'a str,
    alias: Option<&'a str>,
    also: &'a str,
    publish: bool,
}

impl Sandbox {
    /// A socat container named `upstream` on the private network that relays to the
    /// mock on the host (through the edge network): the submission reaches the mock
    /// and nothing else.
    pub(super) async fn start_relay(&self, mock: std::net::SocketAddr) -> Result<(), DockerError> {
        self.start_socat(Socat {
            role: "upstream",
            listen: UPSTREAM_PORT,
            to: mock.to_string(),
            home: &self.internal_net,
            alias: Some(UPSTREAM_HOST),
            also: &self.edge_net,
            publish: false,
        })
        .await
        .map(|_| ())
    }

    /// A socat container on the edge network, publishing `port` on the bind address and
    /// forwarding to `target:port` on the private network. Returns the host port.
    pub(super) async fn start_forwarder(
        &self,
        role: &str,
        port: u16,
        target: &str,
    ) -> Result<u16, DockerError> {
        let published = self
            .start_socat(Socat {
                role,
                listen: port,
                to: format!("{target}:{port}"),
                home: &self.edge_net,
                alias: None,
                also: &self.internal_net,
                publish: true,
            })
            .await?;
        Ok(published.expect("a published forwarder has a port"))
    }

    fn socat_body(&self, s: &Socat<'_>, key: &str) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.opts.images.socat.clone()),
            cmd: Some(vec![
                // socat listens with a backlog of 5 unless told: a burst of concurrent
                // requests would wait a SYN retransmit (a second) past the fifth.
                format!("TCP-LISTEN:{},fork,reuseaddr,backlog=1024", s.listen),
                format!("TCP:{},connect-timeout=5", s.to),
            ]),
            exposed_ports: s.publish.then(|| vec![key.to_string()]),
            labels: Some(self.labels("forwarder")),
            host_config: Some(HostConfig {
                network_mode: Some(s.home.to_string()),
                port_bindings: s.publish.then(|| published_on(key, &self.opts.reach)),
                memory: Some(FORWARDER_MEMORY),
                memory_swap: Some(FORWARDER_MEMORY),
                // It carries the load steps' traffic: a core, so it is never what a
                // latency figure measures.
                nano_cpus: Some(1_000_000_000),
                pids_limit: Some(2048), // one socat process per open connection
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: s.alias.map(|a| self.endpoint(s.home, a)),
            ..Default::default()
        }
    }

    /// Starts a socat container on two networks; returns its published host port.
    async fn start_socat(&self, s: Socat<'_>) -> Result<Option<u16>, DockerError> {
        let name = format!("{}-fwd-{}", self.opts.run_id, s.role);
        let key = format!("{}/tcp", s.listen);
        container::create(&self.docker, &name, self.socat_body(&s, &key)).await?;
        self.docker
            .connect_network(
                s.also,
                NetworkConnectRequest {
                    container: name.clone(),
                    endpoint_config: None,
                },
            )
            .await
            .map_err(api(format!("connecting {name} to {}", s.also)))?;
        if s.publish {
            container::start_published(&self.docker, &name, &self.opts.reach).await?;
        } else {
            container::start(&self.docker, &name).await?;
        }
        if s.publish {
            container::published_port(&self.docker, &name, &key)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
