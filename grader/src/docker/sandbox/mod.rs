//! One grading run's Docker world: a private network with no route out, the services
//! (a fresh PostgreSQL, Redis, the upstream mock), the submission, and forwarders that
//! publish the submission's port and the services on one address (127.0.0.1 for a local
//! engine, see `Reach`). Everything carries the
//! `grader.run` label, so `clean_run` removes it all.

mod app;
mod diagnose;
mod forwarder;
mod network;
pub(super) mod services;
mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, EndpointSettings, NetworkingConfig};
use harness::exercise::{Limits, PostgresService, UpstreamService};
use harness::probe::Prober;
use harness::template::Template;
use tokio_util::sync::CancellationToken;

use super::container::{self, role_labels};
use super::provision::{PgServer, StorageWatch};
use super::rules::SandboxRules;
use super::{DockerError, Reach, SharedPostgres, images::ImageNames};

pub(crate) use app::{ServiceAddrs, contract_env};
pub(crate) use diagnose::{merge as merge_causes, output_of};
pub(super) use network::create_network;
pub use network::private_network;
pub(crate) use services::{Login, PostgresSize, random_password, throwaway_postgres};

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
    pub shared_db: Option<Arc<SharedPostgres>>,
    /// Where the engine publishes ports and the grader reaches them.
    pub reach: Reach,
}

/// Alias of the database on the private network.
const DB_HOST: &str = "db";
/// Alias of the submission on the private network.
const APP_HOST: &str = "app";
/// Alias of Redis on the private network.
const REDIS_HOST: &str = "redis";
/// Alias of the upstream mock's relay on the private network, and its port.
const UPSTREAM_HOST: &str = "upstream";
const UPSTREAM_PORT: u16 = 8080;

pub struct Sandbox {
    docker: Docker,
    opts: SandboxOptions,
    internal_net: String,
    edge_net: String,
    app: String,
    /// The learner's database login (the exercise's names, or the shared server's).
    db: Login,
    /// The server that holds it, as the grader administers it.
    db_server: Option<PgServer>,
    /// The grader's watch over the learner's database.
    storage: Option<StorageWatch>,
    http_port: Mutex<u16>,
    redis_port: Option<u16>,
    mock: Option<harness::probe::Mock>,
    prober: Prober,
    peaks: Arc<Mutex<stats::Peaks>>,
    stats_stop: CancellationToken,
    /// The rules it runs under, as causes name them.
    rules: SandboxRules,
    /// Times the submission was started (a restart or a crash step starts it again).
    starts: AtomicU32,
    /// It answered its health check since it was last started.
    ready: AtomicBool,
    /// What its sockets showed when it did not answer, for the report.
    listen_cause: Mutex<Option<grader_report::Cause>>,
}

impl Sandbox {
    /// Creates the networks, the services and the forwarders. The submission is started
    /// apart (`start_app`), since its failures are the submission's, not the grader's.
    pub async fn start(
        docker: &Docker,
        opts: SandboxOptions,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Sandbox, DockerError> {
        let mut sandbox = Sandbox::new(docker, opts);
        let id = &sandbox.opts.run_id;
        tokio::try_join!(
            create_network(docker, &sandbox.internal_net, id, true),
            create_network(docker, &sandbox.edge_net, id, false),
        )?;
        // The services and the submission's forwarder start side by side: each is a
        // container start and a wait, and the database's (initdb, provisioning) is the
        // longest.
        let mut starting = Vec::new();
        if sandbox.opts.postgres.is_some() {
            starting.push(if sandbox.opts.shared_db.is_some() {
                "a database on the class's PostgreSQL"
            } else {
                "PostgreSQL"
            });
        }
        if sandbox.opts.redis {
            starting.push("Redis");
        }
        if sandbox.opts.upstream.is_some() {
            starting.push("the upstream mock");
        }
        if !starting.is_empty() {
            progress(&format!("starting {}", starting.join(", ")));
        }
        let port = sandbox.opts.port;
        let (database, redis_port, mock, http_port) = tokio::try_join!(
            sandbox.start_database(),
            sandbox.start_cache(),
            sandbox.start_upstream(),
            sandbox.start_forwarder("http", port, APP_HOST),
        )?;
        if let Some((login, server, storage)) = database {
            sandbox.db = login;
            sandbox.storage = Some(storage);
            sandbox.db_server = Some(server);
        }
        sandbox.redis_port = redis_port;
        sandbox.mock = mock;
        *sandbox.http_port.lock().expect("not poisoned") = http_port;
        Ok(sandbox)
    }

    fn new(docker: &Docker, opts: SandboxOptions) -> Sandbox {
        let id = &opts.run_id;
        let pg = opts.postgres.as_ref();
        Sandbox {
            docker: docker.clone(),
            internal_net: private_network(id),
            edge_net: network::edge_network(id),
            app: format!("{id}-app"),
            db: Login {
                user: pg.map(|p| p.user.clone()).unwrap_or_default(),
                password: random_password(),
                database: pg.map(|p| p.database.clone()).unwrap_or_default(),
            },
            http_port: Mutex::new(0),
            db_server: None,
            storage: None,
            redis_port: None,
            mock: None,
            prober: Prober::new(),
            peaks: Default::default(),
            stats_stop: CancellationToken::new(),
            rules: SandboxRules::new(opts.limits, opts.postgres.is_some()),
            starts: AtomicU32::new(0),
            ready: AtomicBool::new(false),
            listen_cause: Mutex::new(None),
            opts,
        }
    }

    fn labels(&self, role: &str) -> HashMap<String, String> {
        role_labels(&self.opts.run_id, role)
    }

    async fn create_and_start(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<(), DockerError> {
        container::create_and_start(&self.docker, name, body).await
    }

    /// Joins `net` under `alias`.
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

    /// Why the grader shut the learner out of its database, if it has.
    pub fn shut_out(&self) -> Option<String> {
        self.storage.as_ref()?.exceeded_now()
    }

    /// Resolves when the grader shut the learner out of its database for going over a
    /// limit (its storage cap): why. Never resolves otherwise.
    pub async fn limit_exceeded(&self) -> String {
        match &self.storage {
            Some(watch) => watch.exceeded().await,
            None => std::future::pending().await,
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("run_id", &self.opts.run_id)
            .finish()
    }
}
