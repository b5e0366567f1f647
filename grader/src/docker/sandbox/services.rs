//! The services beside the submission: PostgreSQL (a server of its own, or a database on
//! a class's shared server), Redis, and the upstream mock the grader hosts. The
//! PostgreSQL container is described once here for both kinds of server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use rand::Rng;

use super::super::DockerError;
use super::super::container::small_logs;
use super::super::provision::{LEARNER, PgServer, StorageWatch};
use super::{DB_HOST, REDIS_HOST, Sandbox, network};

/// A PostgreSQL role, its password and its database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Login {
    pub user: String,
    pub password: String,
    pub database: String,
}

/// How big a throwaway PostgreSQL server is: sized for the learners it serves at once,
/// each at its limits.
pub(crate) struct PostgresSize {
    max_connections: u32,
    memory_mib: i64,
    /// The tmpfs that holds the data folder.
    data_mib: u32,
    shm_mib: i64,
    cpus: f64,
    pids: i64,
}

/// The data disk's share that is no learner's: catalogs, the write-ahead log (held near
/// `max_wal_size`).
const SERVER_DISK_MIB: u32 = 256;
/// Connections that are no learner's: the grader's admin and its watcher, besides the
/// superuser's reserved slots.
const SERVER_CONNECTIONS: u32 = 8;
const RESERVED_CONNECTIONS: u32 = 5;
/// The grader's own SQL steps, per learner.
const CHECKER_CONNECTIONS: u32 = 4;

impl PostgresSize {
    /// Connections the server accepts, the reserved ones included.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// A server for `learners` at once (1: a run's own server; a class's `--jobs`).
    pub fn for_learners(learners: usize) -> PostgresSize {
        let n = learners.max(1) as u32;
        let max_connections = n * (LEARNER.connections + CHECKER_CONNECTIONS)
            + SERVER_CONNECTIONS
            + RESERVED_CONNECTIONS;
        let data_mib = n * LEARNER.disk_mib() + SERVER_DISK_MIB;
        let host_cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
        PostgresSize {
            max_connections,
            // The tmpfs is memory: the limit holds a full disk, shared buffers and a
            // backend's worth per connection.
            memory_mib: i64::from(data_mib) + 256 + i64::from(max_connections) * 8,
            data_mib,
            shm_mib: 128,
            // One core per learner at once, at most the machine's.
            cpus: learners.clamp(1, host_cpus) as f64,
            // A process per connection, plus the server's own.
            pids: i64::from(max_connections) + 32,
        }
    }
}

const MIB: i64 = 1024 * 1024;

/// What the postgres entrypoints (ours and the official image's) need as root before
/// they switch to the postgres user: own and chmod the data folder, write into it, and
/// change user and group. PostgreSQL itself runs with none.
const POSTGRES_CAPS: [&str; 5] = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"];

/// A PostgreSQL server's container whose superuser is `admin`, its data on a tmpfs.
/// `host` says where it lives (network, published ports); its size and confinement are
/// added here.
pub(in crate::docker) fn postgres_body(
    image: &str,
    admin: &Login,
    size: &PostgresSize,
    host: HostConfig,
    labels: HashMap<String, String>,
) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(vec![
            format!("POSTGRES_USER={}", admin.user),
            format!("POSTGRES_PASSWORD={}", admin.password),
            format!("POSTGRES_DB={}", admin.database),
        ]),
        cmd: Some(throwaway_postgres(size.max_connections)),
        labels: Some(labels),
        host_config: Some(HostConfig {
            memory: Some(size.memory_mib * MIB),
            memory_swap: Some(size.memory_mib * MIB),
            nano_cpus: Some((size.cpus * 1e9) as i64),
            pids_limit: Some(size.pids),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([
                (
                    "/var/lib/postgresql/data".to_string(),
                    format!("rw,size={}m", size.data_mib),
                ),
                ("/var/run/postgresql".to_string(), "rw,size=1m".to_string()),
                ("/tmp".to_string(), "rw,nosuid,nodev,size=16m".to_string()),
            ])),
            shm_size: Some(size.shm_mib * MIB),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(POSTGRES_CAPS.map(String::from).to_vec()),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            log_config: Some(small_logs()),
            ..host
        }),
        ..Default::default()
    }
}

/// What PostgreSQL needs for the work counters: statements counted per role and
/// database, table and database statistics kept, and no autovacuum (plans and counters
/// must not depend on when it ran; `exec` steps ANALYZE instead). The grader's tests
/// start PostgreSQL with the same settings.
pub const COUNTER_SETTINGS: [&str; 4] = [
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.max=10000",
    "autovacuum=off",
    "track_counts=on",
];

/// PostgreSQL's command for a throwaway database: durability against a host crash buys
/// nothing here. The write-ahead log is kept small (it shares the data disk), and slots
/// stay reserved for the grader's admin when learners take every other.
pub(crate) fn throwaway_postgres(max_connections: u32) -> Vec<String> {
    let settings = [
        "fsync=off".to_string(),
        "full_page_writes=off".to_string(),
        "synchronous_commit=off".to_string(),
        "max_wal_size=64MB".to_string(),
        "min_wal_size=32MB".to_string(),
        format!("max_connections={max_connections}"),
        format!("superuser_reserved_connections={RESERVED_CONNECTIONS}"),
    ]
    .into_iter()
    .chain(COUNTER_SETTINGS.map(String::from));
    std::iter::once("postgres".to_string())
        .chain(settings.flat_map(|s| ["-c".to_string(), s]))
        .collect()
}

pub(crate) fn random_password() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    hex::encode(bytes)
}

impl Sandbox {
    /// The run's database, if the exercise has one: on the class's shared server, or a
    /// server of its own behind a forwarder, ready to answer. Returns the learner's login
    /// (the shared server's names differ), its server and the watch over its storage.
    pub(super) async fn start_database(
        &self,
    ) -> Result<Option<(Login, PgServer, StorageWatch)>, DockerError> {
        if self.opts.postgres.is_none() {
            return Ok(None);
        }
        let (server, login) = if let Some(shared) = self.opts.shared_db.clone() {
            shared.attach(&self.opts.run_id, &self.internal_net).await?
        } else {
            let admin = PgServer::admin_login();
            self.start_postgres(&admin).await?;
            let port = self.start_forwarder("db", 5432, DB_HOST).await?;
            let server = PgServer::new(admin, &self.opts.reach, port);
            harness::probe::wait_database(&server.admin_url(), Duration::from_secs(90))
                .await
                .map_err(|e| DockerError::Other(format!("PostgreSQL did not become ready: {e}")))?;
            server.prepare().await?;
            server.provision(&self.db, &LEARNER).await?;
            (server, self.db.clone())
        };
        let storage = server.watch(&login, LEARNER);
        Ok(Some((login, server, storage)))
    }

    async fn start_postgres(&self, admin: &Login) -> Result<(), DockerError> {
        let name = format!("{}-db", self.opts.run_id);
        let host = HostConfig {
            network_mode: Some(self.internal_net.clone()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            networking_config: Some(self.endpoint(&self.internal_net, DB_HOST)),
            ..postgres_body(
                &self.opts.images.postgres_ready(),
                admin,
                &PostgresSize::for_learners(1),
                host,
                self.labels("database"),
            )
        };
        self.create_and_start(&name, body).await
    }

    /// Redis, if the exercise has it, behind a forwarder and answering PING: the
    /// forwarder's port.
    pub(super) async fn start_cache(&self) -> Result<Option<u16>, DockerError> {
        if !self.opts.redis {
            return Ok(None);
        }
        self.start_redis().await?;
        let port = self.start_forwarder("redis", 6379, REDIS_HOST).await?;
        self.wait_redis_on(port, Duration::from_secs(60)).await?;
        Ok(Some(port))
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
            // A throwaway cache writes no file and needs no privilege: it runs as the
            // image's redis user (the official image's entrypoint then switches nothing).
            user: Some("redis".into()),
            host_config: Some(HostConfig {
                network_mode: Some(self.internal_net.clone()),
                memory: Some(512 * MIB),
                memory_swap: Some(512 * MIB),
                nano_cpus: Some(500_000_000),
                pids_limit: Some(64),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                log_config: Some(small_logs()),
                ..Default::default()
            }),
            networking_config: Some(self.endpoint(&self.internal_net, REDIS_HOST)),
            ..Default::default()
        };
        self.create_and_start(&name, body).await
    }

    /// Stops Redis (a `db = "stop"` step of an exercise whose database it is): its
    /// connections close, and its name no longer resolves.
    pub(super) async fn stop_redis(&self) -> Result<(), DockerError> {
        let name = format!("{}-redis", self.opts.run_id);
        let options = bollard::query_parameters::StopContainerOptionsBuilder::new()
            .t(2)
            .build();
        self.docker
            .stop_container(&name, Some(options))
            .await
            .map_err(super::super::api(format!("stopping {name}")))
    }

    /// Starts Redis again and waits until it answers (empty: it keeps nothing on disk).
    pub(super) async fn start_redis_again(&self) -> Result<(), DockerError> {
        let name = format!("{}-redis", self.opts.run_id);
        self.docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(super::super::api(format!("starting {name}")))?;
        let port = self.redis_port.expect("redis port set");
        self.wait_redis_on(port, Duration::from_secs(60)).await
    }

    /// Redis as the grader reaches it, through its forwarder on `port`.
    pub(super) fn redis_url_on(&self, port: u16) -> String {
        format!("redis://{}:{port}/0", self.opts.reach.url_host())
    }

    /// Waits until Redis answers PING through its forwarder on `port`.
    async fn wait_redis_on(&self, port: u16, limit: Duration) -> Result<(), DockerError> {
        let url = self.redis_url_on(port);
        let deadline = Instant::now() + limit;
        loop {
            let last = match harness::probe::RedisProbe::connect(&url, Duration::from_secs(2)).await
            {
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The upstream mock, if the exercise has one: served by the grader on the edge
    /// network's gateway, and reached by the submission through a relay.
    pub(super) async fn start_upstream(&self) -> Result<Option<harness::probe::Mock>, DockerError> {
        let Some(upstream) = self.opts.upstream.clone() else {
            return Ok(None);
        };
        let gateway = network::gateway(&self.docker, &self.edge_net).await?;
        let mock = harness::probe::Mock::start(
            std::net::SocketAddr::new(gateway, 0),
            &upstream,
            self.opts.seed,
        )
        .await
        .map_err(|e| {
            DockerError::Other(format!(
                "cannot serve the upstream mock on {gateway} (the grader must run on the Docker host): {e}"
            ))
        })?;
        self.start_relay(mock.addr()).await?;
        Ok(Some(mock))
    }
}
