//! The services beside the submission: PostgreSQL (a server of its own, or a database on
//! a class's shared server), Redis, and the upstream mock the grader hosts. The
//! PostgreSQL container is described once here for both kinds of server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use harness::Target;
use rand::Rng;

use super::super::DockerError;
use super::super::container::small_logs;
use super::{DB_HOST, REDIS_HOST, Sandbox, network};

/// A PostgreSQL role, its password and its database.
#[derive(Debug, Clone, Default)]
pub(in crate::docker) struct Login {
    pub user: String,
    pub password: String,
    pub database: String,
}

/// How big a throwaway PostgreSQL server is.
pub(in crate::docker) struct PostgresSize {
    max_connections: u32,
    memory_mib: i64,
    /// The tmpfs that holds the data folder.
    data_mib: u32,
    shm_mib: i64,
}

impl PostgresSize {
    /// One run's server.
    pub const RUN: PostgresSize = PostgresSize {
        max_connections: 200,
        memory_mib: 1024,
        data_mib: 512,
        shm_mib: 128,
    };
    /// A class's shared server, with a database per learner.
    pub const CLASS: PostgresSize = PostgresSize {
        max_connections: 500,
        memory_mib: 2048,
        data_mib: 1536,
        shm_mib: 256,
    };
}

const MIB: i64 = 1024 * 1024;

/// A PostgreSQL server's container whose first role is `login`, its data on a tmpfs.
/// `host` says where it lives (network, published ports, logs); its size is added here.
pub(in crate::docker) fn postgres_body(
    image: &str,
    login: &Login,
    size: &PostgresSize,
    host: HostConfig,
    labels: HashMap<String, String>,
) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(image.to_string()),
        env: Some(vec![
            format!("POSTGRES_USER={}", login.user),
            format!("POSTGRES_PASSWORD={}", login.password),
            format!("POSTGRES_DB={}", login.database),
        ]),
        cmd: Some(throwaway_postgres(size.max_connections)),
        labels: Some(labels),
        host_config: Some(HostConfig {
            memory: Some(size.memory_mib * MIB),
            memory_swap: Some(size.memory_mib * MIB),
            tmpfs: Some(HashMap::from([(
                "/var/lib/postgresql/data".to_string(),
                format!("rw,size={}m", size.data_mib),
            )])),
            shm_size: Some(size.shm_mib * MIB),
            ..host
        }),
        ..Default::default()
    }
}

/// PostgreSQL's command for a throwaway database: durability against a host crash buys
/// nothing here.
fn throwaway_postgres(max_connections: u32) -> Vec<String> {
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

pub(in crate::docker) fn random_password() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    hex::encode(bytes)
}

impl Sandbox {
    /// The run's database, if the exercise has one: on the class's shared server, or a
    /// server of its own behind a forwarder, ready to answer.
    pub(super) async fn start_database(
        &mut self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        if self.opts.postgres.is_none() {
            return Ok(());
        }
        if let Some(shared) = self.opts.shared_db.clone() {
            progress("creating a database on the class's PostgreSQL");
            let db = shared.attach(&self.opts.run_id, &self.internal_net).await?;
            self.db = db.login;
            self.db_port = Some(db.host_port);
            return Ok(());
        }
        progress("starting PostgreSQL");
        self.start_postgres().await?;
        let port = self.start_forwarder("db", 5432, DB_HOST).await?;
        self.db_port = Some(port);
        let url = self.database_url().expect("db port set");
        harness::probe::wait_database(&url, Duration::from_secs(90))
            .await
            .map_err(|e| DockerError::Other(format!("PostgreSQL did not become ready: {e}")))
    }

    async fn start_postgres(&self) -> Result<(), DockerError> {
        let name = format!("{}-db", self.opts.run_id);
        let host = HostConfig {
            network_mode: Some(self.internal_net.clone()),
            log_config: Some(small_logs()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            networking_config: Some(self.endpoint(&self.internal_net, DB_HOST)),
            ..postgres_body(
                &self.opts.images.postgres,
                &self.db,
                &PostgresSize::RUN,
                host,
                self.labels("database"),
            )
        };
        self.create_and_start(&name, body).await
    }

    /// Redis, if the exercise has it, behind a forwarder and answering PING.
    pub(super) async fn start_cache(
        &mut self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        if !self.opts.redis {
            return Ok(());
        }
        progress("starting Redis");
        self.start_redis().await?;
        let port = self.start_forwarder("redis", 6379, REDIS_HOST).await?;
        self.redis_port = Some(port);
        self.wait_redis(Duration::from_secs(60)).await
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
                memory: Some(512 * MIB),
                memory_swap: Some(512 * MIB),
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
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The upstream mock, if the exercise has one: served by the grader on the edge
    /// network's gateway, and reached by the submission through a relay.
    pub(super) async fn start_upstream(
        &mut self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        let Some(upstream) = self.opts.upstream.clone() else {
            return Ok(());
        };
        progress("starting the upstream mock");
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
        self.mock = Some(mock);
        Ok(())
    }
}
