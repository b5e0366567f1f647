//! The submission's container: its environment (the service URLs and the exercise's
//! templated variables), its limits, and the `Target` the probes drive (URLs, restart,
//! crash, readiness).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    KillContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use grader_report::CauseKind;
use harness::probe::{NotReady, wait_ready};
use harness::template::{Context, Template};
use harness::{Diagnosis, Stopped, Target, TargetError, Usage};

use super::super::DockerError;
use super::super::container::small_logs;
use super::super::provision::LEARNER;
use super::{APP_HOST, DB_HOST, REDIS_HOST, Sandbox, UPSTREAM_HOST, UPSTREAM_PORT};

/// Where the submission finds its services: the ports and hosts its environment names.
pub(crate) struct ServiceAddrs<'a> {
    /// The port it listens on (`PORT`).
    pub port: u16,
    /// Its database role and database, at this host and port.
    pub db: Option<(&'a super::services::Login, &'a str, u16)>,
    /// Redis, at this host and port.
    pub redis: Option<(&'a str, u16)>,
    /// The upstream's base URL.
    pub upstream: Option<String>,
}

/// The submission's environment as every exercise's contract states it: `PORT`, the
/// services' URLs, then the exercise's own variables (templates that may use those URLs).
/// The Docker sandbox and the process runtime differ only in the addresses.
pub(crate) fn contract_env(addrs: &ServiceAddrs<'_>, extra: &[(String, Template)]) -> Vec<String> {
    let port = addrs.port;
    let mut ctx = Context::new(0, "env");
    ctx.set("port", port.into());
    let mut env = vec![format!("PORT={port}")];
    if let Some((db, host, db_port)) = addrs.db {
        let url = format!(
            "postgres://{}:{}@{host}:{db_port}/{}",
            db.user, db.password, db.database
        );
        env.extend([
            format!("DATABASE_URL={url}"),
            format!("PGHOST={host}"),
            format!("PGPORT={db_port}"),
            format!("PGUSER={}", db.user),
            format!("PGPASSWORD={}", db.password),
            format!("PGDATABASE={}", db.database),
        ]);
        ctx.set("database_url", url.into());
        ctx.set("db_host", host.into());
        ctx.set("db_port", db_port.into());
        ctx.set("db_user", db.user.clone().into());
        ctx.set("db_password", db.password.clone().into());
        ctx.set("db_name", db.database.clone().into());
    }
    if let Some((host, redis_port)) = addrs.redis {
        let url = format!("redis://{host}:{redis_port}/0");
        env.extend([
            format!("REDIS_URL={url}"),
            format!("REDIS_HOST={host}"),
            format!("REDIS_PORT={redis_port}"),
        ]);
        ctx.set("redis_url", url.into());
    }
    if let Some(url) = &addrs.upstream {
        env.push(format!("UPSTREAM_URL={url}"));
        ctx.set("upstream_url", url.clone().into());
    }
    for (name, t) in extra {
        match t.render_string(&mut ctx) {
            Ok(v) => env.push(format!("{name}={v}")),
            Err(_) => env.push(format!("{name}=")),
        }
    }
    env
}

impl Sandbox {
    /// The submission's environment, with the private network's names.
    fn app_env(&self) -> Vec<String> {
        let upstream = self
            .opts
            .upstream
            .is_some()
            .then(|| format!("http://{UPSTREAM_HOST}:{UPSTREAM_PORT}"));
        let addrs = ServiceAddrs {
            port: self.opts.port,
            db: self.pg().is_some().then_some((&self.db, DB_HOST, 5432)),
            redis: self.opts.redis.then_some((REDIS_HOST, 6379)),
            upstream,
        };
        contract_env(&addrs, &self.opts.env)
    }

    fn app_body(&self) -> ContainerCreateBody {
        let limits = self.opts.limits;
        ContainerCreateBody {
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
        }
    }

    /// Creates and starts the submission's container. It does not wait for it to be
    /// ready: see `wait_ready`.
    pub async fn start_app(&self) -> Result<(), DockerError> {
        self.create_and_start(&self.app, self.app_body()).await?;
        self.starts.store(1, Ordering::SeqCst);
        self.follow_stats();
        Ok(())
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

    /// The submission's exit code, if it has exited.
    async fn exit_code(&self) -> Result<Option<i64>, TargetError> {
        let info = self
            .docker
            .inspect_container(&self.app, None)
            .await
            .map_err(|e| TargetError::Infrastructure(format!("inspecting the submission: {e}")))?;
        Ok(info
            .state
            .filter(|s| s.running != Some(true))
            .and_then(|s| s.exit_code))
    }

    async fn start_again(&self) -> Result<(), TargetError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.ready.store(false, Ordering::SeqCst);
        self.docker
            .start_container(&self.app, None::<StartContainerOptions>)
            .await
            .map_err(|e| TargetError::Infrastructure(format!("starting the submission again: {e}")))
    }
}

fn no_database() -> TargetError {
    TargetError::Infrastructure("this run has no database".into())
}

impl Target for Sandbox {
    fn base_url(&self) -> String {
        format!(
            "http://{}:{}",
            self.opts.reach.url_host(),
            *self.http_port.lock().expect("not poisoned")
        )
    }

    /// The grader's own role (it reads every table, it is not the learner's).
    fn database_url(&self) -> Option<String> {
        self.pg()?;
        Some(self.db_server.as_ref()?.checker_url(&self.db.database))
    }

    /// The grader's writer: the learner's tables, no superuser.
    fn database_writer_url(&self) -> Option<String> {
        self.pg()?;
        Some(self.db_server.as_ref()?.writer_url(&self.db.database))
    }

    fn redis_url(&self) -> Option<String> {
        Some(self.redis_url_on(self.redis_port?))
    }

    fn database_role(&self) -> Option<String> {
        self.pg()?;
        self.db_server.as_ref()?;
        Some(self.db.user.clone())
    }

    /// The server's admin in the learner's database.
    fn database_admin_url(&self) -> Option<String> {
        self.pg()?;
        Some(self.db_server.as_ref()?.admin_url_for(&self.db.database))
    }

    fn usage(&self) -> impl Future<Output = Option<Usage>> + Send {
        self.usage_now()
    }

    fn upstream(&self) -> Option<&harness::probe::Mock> {
        self.mock.as_ref()
    }

    /// Docker sends SIGTERM, waits `grace`, then SIGKILL; a server that was killed
    /// exits with 137 (128 + SIGKILL) once the grace period is over.
    async fn restart(&self, grace: Duration) -> Result<Stopped, TargetError> {
        let secs = grace.as_secs().max(1);
        let options = StopContainerOptionsBuilder::new().t(secs as i32).build();
        let start = Instant::now();
        self.docker
            .stop_container(&self.app, Some(options))
            .await
            .map_err(|e| TargetError::Infrastructure(format!("stopping the submission: {e}")))?;
        let after = start.elapsed();
        let code = self.exit_code().await?;
        let killed = code == Some(137) && after + Duration::from_millis(200) >= grace;
        self.start_again().await?;
        Ok(Stopped { after, killed })
    }

    /// PostgreSQL (a run's own or the class's) refuses the learner's role alone; an
    /// exercise with Redis and no PostgreSQL has its Redis stopped.
    async fn database_stop(&self) -> Result<(), TargetError> {
        let result = match &self.db_server {
            Some(server) => server.refuse(&self.db).await,
            None if self.opts.redis => self.stop_redis().await,
            None => return Err(no_database()),
        };
        result.map_err(|e| TargetError::Infrastructure(e.to_string()))
    }

    /// A learner shut out for its storage stays shut out.
    async fn database_start(&self) -> Result<(), TargetError> {
        let result = match &self.db_server {
            Some(_) if self.shut_out().is_some() => Ok(()),
            Some(server) => server.admit(&self.db, &LEARNER).await,
            None if self.opts.redis => self.start_redis_again().await,
            None => return Err(no_database()),
        };
        result.map_err(|e| TargetError::Infrastructure(e.to_string()))
    }

    async fn revive(&self) {
        if matches!(self.exit_reason().await, Ok(Some(_))) && self.start_again().await.is_ok() {
            let _ = self.wait_ready().await;
        }
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
        let outcome = self.poll_ready().await;
        self.ready.store(outcome.is_ok(), Ordering::SeqCst);
        outcome
    }

    fn diagnose(&self, since: SystemTime) -> impl Future<Output = Diagnosis> + Send {
        self.diagnosis(since)
    }
}

/// How long a server may go without answering before the grader looks at its sockets.
const LOOK_AT_SOCKETS_AFTER: Duration = Duration::from_secs(3);

impl Sandbox {
    /// Polls the health endpoint until it answers 2xx, the server exits or the start-up
    /// time is over. A server that does not answer is looked at once: one bound to
    /// loopback on its port can never answer, so the wait ends there, with that cause.
    async fn poll_ready(&self) -> Result<(), TargetError> {
        let began = Instant::now();
        let mut looked = false;
        let deadline = began + self.opts.startup_timeout;
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
                        NotReady::NoAnswer(_) => match self.socket_cause().await {
                            Some(cause) => format!(" ({})", cause.message),
                            None => {
                                format!(" (is it listening on 0.0.0.0:{port}, the port in $PORT?)")
                            }
                        },
                    };
                    return Err(TargetError::Submission(format!(
                        "the server did not become ready within {}s: GET {} never answered 2xx; last: {last}{hint}",
                        self.opts.startup_timeout.as_secs(),
                        self.opts.health
                    )));
                }
                Err(NotReady::NoAnswer(_))
                    if !looked && began.elapsed() >= LOOK_AT_SOCKETS_AFTER =>
                {
                    looked = true;
                    if let Some(cause) = self.socket_cause().await
                        && cause.kind == CauseKind::ListensOnLoopback
                    {
                        return Err(TargetError::Submission(format!(
                            "the server never answered GET {}: {}",
                            self.opts.health, cause.message
                        )));
                    }
                }
                Err(_) => {}
            }
        }
    }
}
