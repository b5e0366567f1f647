//! One grading run's Docker world: a private network with no route out, a fresh
//! PostgreSQL, the submission, and forwarders that publish the submission's port and
//! the database on 127.0.0.1 (so probes work even where the host cannot reach container
//! IPs, as on Docker Desktop). Everything carries the `grader.run` label.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, HostConfigLogConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    StartContainerOptions, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use harness::http::{NotReady, Prober, wait_ready};
use harness::spec::{Limits, PostgresService, UpstreamService};
use harness::template::{Context, Template};
use harness::{Target, TargetError};
use rand::Rng;

use super::{DockerError, api, images::ImageNames, run_labels};

/// What the sandbox runs, and how.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub run_id: String,
    pub images: ImageNames,
    pub submission_image: String,
    pub port: u16,
    pub health: String,
    pub startup_timeout: Duration,
    pub env: Vec<(String, Template)>,
    pub limits: Limits,
    pub postgres: Option<PostgresService>,
    /// A Redis beside the submission.
    pub redis: bool,
    /// The upstream mock the grader hosts for the submission.
    pub upstream: Option<UpstreamService>,
    /// Feeds the upstream mock's generators.
    pub seed: u64,
    /// A class's shared PostgreSQL server: the run gets a database on it instead of a
    /// server of its own.
    pub shared_db: Option<std::sync::Arc<super::SharedPostgres>>,
}

/// The name of a run's private network.
pub fn private_network(run_id: &str) -> String {
    format!("{run_id}-private")
}

/// The most log bytes the grader keeps from the submission.
pub const MAX_LOG_BYTES: usize = 64 * 1024;

/// Alias of the database on the private network.
const DB_HOST: &str = "db";
/// Alias of the submission on the private network.
const APP_HOST: &str = "app";
/// Alias of Redis on the private network.
const REDIS_HOST: &str = "redis";
/// Alias of the upstream mock's relay on the private network, and its port.
const UPSTREAM_HOST: &str = "upstream";
const UPSTREAM_PORT: u16 = 8080;

/// A socat relay: listens on `listen` in `home` (as `alias`), also joins `also`, and
/// forwards every connection `to` a host:port; `publish` puts it on 127.0.0.1.
struct Socat<'a> {
    role: &'a str,
    listen: u16,
    to: String,
    home: &'a str,
    alias: Option<&'a str>,
    also: &'a str,
    publish: bool,
}

/// Peaks of the submission's resource use, updated by a background task.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    memory: u64,
    cpu_percent: f64,
}

pub struct Sandbox {
    docker: Docker,
    opts: SandboxOptions,
    internal_net: String,
    edge_net: String,
    app: String,
    db_password: String,
    db_user: String,
    db_name: String,
    http_port: Mutex<u16>,
    db_port: Option<u16>,
    redis_port: Option<u16>,
    mock: Option<harness::upstream::Mock>,
    prober: Prober,
    peaks: std::sync::Arc<Mutex<Peaks>>,
    stats_stop: tokio_util::sync::CancellationToken,
}

impl Sandbox {
    /// Creates the networks, the database and the forwarders. The submission is started
    /// apart (`start_app`), since its failures are the submission's, not the grader's.
    pub async fn start(
        docker: &Docker,
        opts: SandboxOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Sandbox, DockerError> {
        let id = opts.run_id.clone();
        let mut sandbox = Sandbox {
            docker: docker.clone(),
            internal_net: private_network(&id),
            edge_net: format!("{id}-edge"),
            app: format!("{id}-app"),
            db_password: random_password(),
            db_user: opts
                .postgres
                .as_ref()
                .map(|p| p.user.clone())
                .unwrap_or_default(),
            db_name: opts
                .postgres
                .as_ref()
                .map(|p| p.database.clone())
                .unwrap_or_default(),
            http_port: Mutex::new(0),
            db_port: None,
            redis_port: None,
            mock: None,
            prober: Prober::new(),
            peaks: Default::default(),
            stats_stop: tokio_util::sync::CancellationToken::new(),
            opts,
        };
        sandbox.create_network(&sandbox.internal_net, true).await?;
        sandbox.create_network(&sandbox.edge_net, false).await?;
        if let (Some(_), Some(shared)) = (&sandbox.opts.postgres, sandbox.opts.shared_db.clone()) {
            progress("creating a database on the class's PostgreSQL");
            let db = shared.attach(&id, &sandbox.internal_net).await?;
            sandbox.db_user = db.user;
            sandbox.db_name = db.database;
            sandbox.db_password = db.password;
            sandbox.db_port = Some(db.host_port);
        } else if sandbox.opts.postgres.is_some() {
            progress("starting PostgreSQL");
            sandbox.start_postgres().await?;
            let port = sandbox.start_forwarder("db", 5432, DB_HOST).await?;
            sandbox.db_port = Some(port);
            let url = sandbox.database_url().expect("db port set");
            harness::sql::wait_database(&url, Duration::from_secs(90))
                .await
                .map_err(|e| DockerError::Other(format!("PostgreSQL did not become ready: {e}")))?;
        }
        if sandbox.opts.redis {
            progress("starting Redis");
            sandbox.start_redis().await?;
            let port = sandbox.start_forwarder("redis", 6379, REDIS_HOST).await?;
            sandbox.redis_port = Some(port);
            sandbox.wait_redis(Duration::from_secs(60)).await?;
        }
        if let Some(upstream) = sandbox.opts.upstream.clone() {
            progress("starting the upstream mock");
            let gateway = sandbox.edge_gateway().await?;
            let mock = harness::upstream::Mock::start(
                std::net::SocketAddr::new(gateway, 0),
                &upstream,
                sandbox.opts.seed,
            )
            .await
            .map_err(|e| {
                DockerError::Other(format!(
                    "cannot serve the upstream mock on {gateway} (the grader must run on the Docker host): {e}"
                ))
            })?;
            sandbox.start_relay(mock.addr()).await?;
            sandbox.mock = Some(mock);
        }
        let port = sandbox.opts.port;
        let http_port = sandbox.start_forwarder("http", port, APP_HOST).await?;
        *sandbox.http_port.lock().expect("not poisoned") = http_port;
        Ok(sandbox)
    }

    async fn create_network(&self, name: &str, internal: bool) -> Result<(), DockerError> {
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
            labels: Some(run_labels(&self.opts.run_id)),
            ..Default::default()
        };
        self.docker
            .create_network(req)
            .await
            .map_err(api(format!("creating network {name}")))?;
        Ok(())
    }

    fn labels(&self, role: &str) -> HashMap<String, String> {
        let mut labels = run_labels(&self.opts.run_id);
        labels.insert("grader.role".into(), role.into());
        labels
    }

    async fn create_and_start(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<(), DockerError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(api(format!("creating container {name}")))?;
        self.docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(api(format!("starting container {name}")))?;
        Ok(())
    }

    fn endpoint(&self, net: &str, alias: &str) -> NetworkingConfig {
        NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.to_string(),
                EndpointSettings {
                    aliases: Some(vec![alias.to_string()]),
                    ..Default::default()
                },
            )])),
        }
    }

    fn pg(&self) -> Option<&PostgresService> {
        self.opts.postgres.as_ref()
    }

    async fn start_postgres(&self) -> Result<(), DockerError> {
        let name = format!("{}-db", self.opts.run_id);
        let body = ContainerCreateBody {
            image: Some(self.opts.images.postgres.clone()),
            env: Some(vec![
                format!("POSTGRES_USER={}", self.db_user),
                format!("POSTGRES_PASSWORD={}", self.db_password),
                format!("POSTGRES_DB={}", self.db_name),
            ]),
            cmd: Some(throwaway_postgres(200)),
            labels: Some(self.labels("database")),
            host_config: Some(HostConfig {
                network_mode: Some(self.internal_net.clone()),
                memory: Some(1024 * 1024 * 1024),
                memory_swap: Some(1024 * 1024 * 1024),
                tmpfs: Some(HashMap::from([(
                    "/var/lib/postgresql/data".to_string(),
                    "rw,size=512m".to_string(),
                )])),
                shm_size: Some(128 * 1024 * 1024),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: Some(self.endpoint(&self.internal_net, DB_HOST)),
            ..Default::default()
        };
        self.create_and_start(&name, body).await
    }

    async fn start_redis(&self) -> Result<(), DockerError> {
        let name = format!("{}-redis", self.opts.run_id);
        let body = ContainerCreateBody {
            image: Some(self.opts.images.redis.clone()),
            // A throwaway cache: no snapshots, no append-only file.
            cmd: Some(
                [
                    "redis-server",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                    "--maxmemory",
                    "256mb",
                ]
                .map(String::from)
                .to_vec(),
            ),
            labels: Some(self.labels("redis")),
            host_config: Some(HostConfig {
                network_mode: Some(self.internal_net.clone()),
                memory: Some(512 * 1024 * 1024),
                memory_swap: Some(512 * 1024 * 1024),
                pids_limit: Some(256),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: Some(self.endpoint(&self.internal_net, REDIS_HOST)),
            ..Default::default()
        };
        self.create_and_start(&name, body).await
    }

    /// Waits until Redis answers PING through its forwarder.
    async fn wait_redis(&self, limit: Duration) -> Result<(), DockerError> {
        let url = self.redis_url().expect("redis port set");
        let deadline = Instant::now() + limit;
        loop {
            let last = match harness::kv::RedisProbe::connect(&url, Duration::from_secs(2)).await {
                Ok(mut probe) => match probe
                    .command(&["PING".to_string()], Duration::from_secs(2))
                    .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(DockerError::Other(format!(
                    "Redis did not become ready: {last}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The edge network's gateway: the host's address on it, where the upstream mock
    /// listens (containers on that network reach the host there).
    async fn edge_gateway(&self) -> Result<std::net::IpAddr, DockerError> {
        let info = self
            .docker
            .inspect_network(
                &self.edge_net,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .map_err(api(format!("inspecting network {}", self.edge_net)))?;
        info.ipam
            .and_then(|i| i.config)
            .into_iter()
            .flatten()
            .filter_map(|c| c.gateway?.parse::<std::net::IpAddr>().ok())
            .find(std::net::IpAddr::is_ipv4)
            .ok_or_else(|| DockerError::Other(format!("network {} has no gateway", self.edge_net)))
    }

    /// A socat container named `upstream` on the private network that relays to the
    /// mock on the host (through the edge network): the submission reaches the mock
    /// and nothing else.
    async fn start_relay(&self, mock: std::net::SocketAddr) -> Result<(), DockerError> {
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

    /// A socat container on the edge network, publishing `port` on 127.0.0.1 and
    /// forwarding to `target:port` on the private network. Returns the host port.
    async fn start_forwarder(
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

    /// Starts a socat container on two networks; returns its published host port.
    async fn start_socat(&self, s: Socat<'_>) -> Result<Option<u16>, DockerError> {
        let name = format!("{}-fwd-{}", self.opts.run_id, s.role);
        let key = format!("{}/tcp", s.listen);
        let body = ContainerCreateBody {
            image: Some(self.opts.images.socat.clone()),
            cmd: Some(vec![
                // socat listens with a backlog of 5 unless told: a burst of concurrent
                // requests would wait a SYN retransmit (a second) past the fifth.
                format!("TCP-LISTEN:{},fork,reuseaddr,backlog=1024", s.listen),
                format!("TCP:{},connect-timeout=5", s.to),
            ]),
            exposed_ports: s.publish.then(|| vec![key.clone()]),
            labels: Some(self.labels("forwarder")),
            host_config: Some(HostConfig {
                network_mode: Some(s.home.to_string()),
                port_bindings: s.publish.then(|| {
                    HashMap::from([(
                        key.clone(),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        }]),
                    )])
                }),
                memory: Some(256 * 1024 * 1024),
                pids_limit: Some(2048), // one socat process per open connection
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: s.alias.map(|a| self.endpoint(s.home, a)),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(api(format!("creating container {name}")))?;
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
        self.docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .map_err(api(format!("starting container {name}")))?;
        if s.publish {
            super::published_port(&self.docker, &name, &key)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }

    fn app_env(&self) -> Vec<String> {
        let port = self.opts.port;
        let mut ctx = Context::new(0, "env");
        ctx.set("port", port.into());
        let mut env = vec![format!("PORT={port}")];
        if self.pg().is_some() {
            let (user, name) = (&self.db_user, &self.db_name);
            let url = format!(
                "postgres://{user}:{}@{DB_HOST}:5432/{name}",
                self.db_password
            );
            env.extend([
                format!("DATABASE_URL={url}"),
                format!("PGHOST={DB_HOST}"),
                "PGPORT=5432".to_string(),
                format!("PGUSER={user}"),
                format!("PGPASSWORD={}", self.db_password),
                format!("PGDATABASE={name}"),
            ]);
            ctx.set("database_url", url.into());
            ctx.set("db_host", DB_HOST.into());
            ctx.set("db_port", 5432.into());
            ctx.set("db_user", user.clone().into());
            ctx.set("db_password", self.db_password.clone().into());
            ctx.set("db_name", name.clone().into());
        }
        if self.opts.redis {
            let url = format!("redis://{REDIS_HOST}:6379/0");
            env.extend([
                format!("REDIS_URL={url}"),
                format!("REDIS_HOST={REDIS_HOST}"),
                "REDIS_PORT=6379".to_string(),
            ]);
            ctx.set("redis_url", url.into());
        }
        if self.opts.upstream.is_some() {
            let url = format!("http://{UPSTREAM_HOST}:{UPSTREAM_PORT}");
            env.push(format!("UPSTREAM_URL={url}"));
            ctx.set("upstream_url", url.into());
        }
        for (name, t) in &self.opts.env {
            match t.render_string(&mut ctx) {
                Ok(v) => env.push(format!("{name}={v}")),
                Err(_) => env.push(format!("{name}=")),
            }
        }
        env
    }

    /// Creates and starts the submission's container. It does not wait for it to be
    /// ready: see `wait_ready`.
    pub async fn start_app(&self) -> Result<(), DockerError> {
        let limits = self.opts.limits;
        let body = ContainerCreateBody {
            image: Some(self.opts.submission_image.clone()),
            env: Some(self.app_env()),
            labels: Some(self.labels("submission")),
            stop_timeout: Some(10),
            host_config: Some(HostConfig {
                network_mode: Some(self.internal_net.clone()),
                memory: Some(limits.memory_bytes),
                memory_swap: Some(limits.memory_bytes),
                nano_cpus: Some((limits.cpus * 1e9) as i64),
                pids_limit: Some(limits.pids),
                ulimits: Some(vec![bollard::models::ResourcesUlimits {
                    name: Some("nofile".into()),
                    soft: Some(limits.nofile),
                    hard: Some(limits.nofile),
                }]),
                readonly_rootfs: Some(limits.read_only),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={}", limits.tmp_bytes),
                )])),
                init: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: Some(self.endpoint(&self.internal_net, APP_HOST)),
            ..Default::default()
        };
        self.create_and_start(&self.app, body).await?;
        self.follow_stats();
        Ok(())
    }

    /// Samples the submission's memory and CPU until `resources` is called, across
    /// restarts (each ends the engine's stats stream).
    fn follow_stats(&self) {
        let docker = self.docker.clone();
        let app = self.app.clone();
        let peaks = self.peaks.clone();
        let stop = self.stats_stop.clone();
        tokio::spawn(async move {
            let mut last: Option<(u64, std::time::Instant)> = None;
            while !stop.is_cancelled() {
                let options = StatsOptionsBuilder::new().stream(true).build();
                let mut stream = docker.stats(&app, Some(options));
                loop {
                    let item = tokio::select! {
                        item = stream.next() => item,
                        () = stop.cancelled() => return,
                    };
                    let Some(Ok(s)) = item else { break };
                    let mut p = peaks.lock().expect("not poisoned");
                    if let Some(m) = &s.memory_stats {
                        let cache = m.stats.as_ref().and_then(|st| {
                            st.get("inactive_file")
                                .or_else(|| st.get("total_inactive_file"))
                                .copied()
                        });
                        let used = m.usage.unwrap_or(0).saturating_sub(cache.unwrap_or(0));
                        p.memory = p.memory.max(used);
                    }
                    // CPU: our own deltas of the container's CPU time over wall time
                    // (100 = one core), so the first samples count too.
                    let total = s
                        .cpu_stats
                        .as_ref()
                        .and_then(|c| c.cpu_usage.as_ref())
                        .and_then(|u| u.total_usage);
                    if let Some(total) = total {
                        let now = std::time::Instant::now();
                        if let Some((t0, at)) = last
                            && total >= t0
                        {
                            let wall = now.duration_since(at).as_nanos() as f64;
                            if wall > 2e8 {
                                p.cpu_percent =
                                    p.cpu_percent.max((total - t0) as f64 / wall * 100.0);
                            }
                        }
                        last = Some((total, now));
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
    }

    /// Stops sampling and returns the peaks seen.
    pub fn resources(&self) -> harness::Resources {
        self.stats_stop.cancel();
        let p = *self.peaks.lock().expect("not poisoned");
        harness::Resources {
            peak_memory_bytes: p.memory,
            memory_limit_bytes: self.opts.limits.memory_bytes.max(0) as u64,
            peak_cpu_percent: (p.cpu_percent * 10.0).round() / 10.0,
            cpu_limit: self.opts.limits.cpus,
        }
    }

    /// The end of the submission's output (stdout and stderr), at most `MAX_LOG_BYTES`.
    pub async fn logs(&self) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("200")
            .build();
        let mut stream = self.docker.logs(&self.app, Some(options));
        let mut out: Vec<u8> = Vec::new();
        let work = async {
            while let Some(Ok(chunk)) = stream.next().await {
                out.extend_from_slice(&chunk.into_bytes());
                if out.len() > 4 * MAX_LOG_BYTES {
                    let cut = out.len() - MAX_LOG_BYTES;
                    out.drain(..cut);
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
        let start = out.len().saturating_sub(MAX_LOG_BYTES);
        String::from_utf8_lossy(&out[start..]).into_owned()
    }

    /// Why the submission is not running, if it is not.
    pub async fn exit_reason(&self) -> Result<Option<String>, TargetError> {
        let info = self
            .docker
            .inspect_container(&self.app, None)
            .await
            .map_err(|e| TargetError::Infrastructure(format!("inspecting the submission: {e}")))?;
        let Some(state) = info.state else {
            return Ok(None);
        };
        if state.running == Some(true) {
            return Ok(None);
        }
        let code = state.exit_code.unwrap_or(-1);
        let oom = state.oom_killed == Some(true) || code == 137;
        let mut reason = format!("the server exited with code {code}");
        if oom {
            reason.push_str(&format!(
                " (killed: out of memory? the limit is {} MiB)",
                self.opts.limits.memory_bytes / 1024 / 1024
            ));
        }
        Ok(Some(reason))
    }

    async fn start_again(&self) -> Result<(), TargetError> {
        self.docker
            .start_container(&self.app, None::<StartContainerOptions>)
            .await
            .map_err(|e| TargetError::Infrastructure(format!("starting the submission again: {e}")))
    }

    fn run_id(&self) -> &str {
        &self.opts.run_id
    }
}

impl Target for Sandbox {
    fn base_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}",
            *self.http_port.lock().expect("not poisoned")
        )
    }

    fn database_url(&self) -> Option<String> {
        self.pg()?;
        Some(format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            self.db_user, self.db_password, self.db_port?, self.db_name
        ))
    }

    fn redis_url(&self) -> Option<String> {
        Some(format!("redis://127.0.0.1:{}/0", self.redis_port?))
    }

    fn upstream(&self) -> Option<&harness::upstream::Mock> {
        self.mock.as_ref()
    }

    async fn restart(&self) -> Result<(), TargetError> {
        let options = StopContainerOptionsBuilder::new().t(10).build();
        self.docker
            .stop_container(&self.app, Some(options))
            .await
            .map_err(|e| TargetError::Infrastructure(format!("stopping the submission: {e}")))?;
        self.start_again().await
    }

    async fn crash(&self) -> Result<(), TargetError> {
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        self.docker
            .kill_container(&self.app, Some(options))
            .await
            .map_err(|e| TargetError::Infrastructure(format!("killing the submission: {e}")))?;
        // `kill` returns before the container has stopped.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.exit_reason().await?.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.start_again().await
    }

    async fn wait_ready(&self) -> Result<(), TargetError> {
        let deadline = Instant::now() + self.opts.startup_timeout;
        loop {
            if let Some(reason) = self.exit_reason().await? {
                return Err(TargetError::Submission(format!(
                    "{reason} before it answered GET {}",
                    self.opts.health
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let slice = left.min(Duration::from_secs(1));
            match wait_ready(&self.prober, || self.base_url(), &self.opts.health, slice).await {
                Ok(_) => return Ok(()),
                Err(last) if left <= slice => {
                    let port = self.opts.port;
                    let hint = match last {
                        NotReady::Status(_) => String::new(),
                        NotReady::NoAnswer(_) => {
                            format!(" (is it listening on 0.0.0.0:{port}, the port in $PORT?)")
                        }
                    };
                    return Err(TargetError::Submission(format!(
                        "the server did not become ready within {}s: GET {} never answered 2xx; last: {last}{hint}",
                        self.opts.startup_timeout.as_secs(),
                        self.opts.health
                    )));
                }
                Err(_) => {}
            }
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("run_id", &self.run_id())
            .finish()
    }
}

fn small_logs() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([
            ("max-size".to_string(), "10m".to_string()),
            ("max-file".to_string(), "1".to_string()),
        ])),
    }
}

/// PostgreSQL's command for a throwaway database: durability against a host crash buys
/// nothing here.
pub(super) fn throwaway_postgres(max_connections: u32) -> Vec<String> {
    [
        "postgres",
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "synchronous_commit=off",
        "-c",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("max_connections={max_connections}")])
    .collect()
}

pub(super) fn random_password() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    hex::encode(bytes)
}
