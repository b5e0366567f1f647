//! The process runtime (`--runtime process`): a run without Docker, for machines that
//! are already a sandbox (a Gradescope autograder, a CI job's container). The grader
//! starts its own throwaway PostgreSQL and Redis from the machine's programs on free
//! loopback ports, the upstream mock on loopback, and the submission from the command it
//! declares (see `launch`), in a process group of its own, under an account of its own
//! when the grader is root, with rlimits and a memory watch. Restart and crash are
//! SIGTERM and SIGKILL to the group. It does not sandbox: the submission shares the
//! machine's network and file system.

mod account;
mod app;
mod launch;
mod services;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use harness::exercise::Exercise;
use harness::probe::{Mock, Prober, wait_ready};
use harness::{Diagnosis, Stopped, Target, TargetError, Usage};
use nix::sys::signal::Signal;

pub(crate) use app::{App, AppSpec, Output};
pub(crate) use launch::{Launch, Program, resolve};

use crate::docker::{
    LEARNER, Login, PgServer, SandboxRules, ServiceAddrs, StorageWatch, contract_env,
    random_password,
};

/// A run's processes and folder; everything it started is stopped, and the folder
/// removed, by `stop`.
pub(crate) struct Local {
    pub(crate) app: App,
    port: u16,
    db: Option<(PgServer, Login)>,
    storage: Option<StorageWatch>,
    postgres: Option<services::Service>,
    redis: Option<services::Redis>,
    mock: Option<Mock>,
    health: String,
    startup: Duration,
    prober: Prober,
    rules: SandboxRules,
    root: PathBuf,
    starts: std::sync::atomic::AtomicU32,
}

/// Where the run's processes keep their files: `$TMPDIR/grader-RUN_ID`.
pub(crate) fn run_root(run_id: &str) -> PathBuf {
    std::env::temp_dir().join(run_id)
}

/// Copies the submission to `to` (its own copy: the submission writes there, and a
/// variant or a clone may be removed after the run).
fn copy_submission(from: &Path, to: &Path) -> Result<(), String> {
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .map_err(|e| format!("copying the submission: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "copying the submission from {} failed ({status})",
            from.display()
        ))
    }
}

/// What a run needs to start.
pub(crate) struct LocalOptions<'a> {
    pub exercise: &'a Exercise,
    pub run_id: &'a str,
    pub seed: u64,
    pub launch: &'a Launch,
    /// The submission's folder (copied).
    pub source: &'a Path,
    /// Where the submission's output is written.
    pub log: &'a Path,
    pub build_log: &'a Path,
    pub build_timeout: Duration,
}

/// Why a start did not get as far as the checks.
pub(crate) enum StartError {
    /// The grader or the machine (a missing program, a port).
    Grader(String),
    /// The submission's build step failed: the reason and the log's tail.
    Build(String, String),
}

impl Local {
    /// Starts the services and builds the submission (its build step, if declared);
    /// the submission itself is started by `start_app`.
    pub(crate) async fn prepare(
        opts: &LocalOptions<'_>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Local, (Option<Local>, StartError)> {
        let grader = |e: String| (None, StartError::Grader(e));
        let ex = opts.exercise;
        which_prlimit().map_err(grader)?;
        let services_account = account::services().map_err(grader)?;
        let app_account = account::submission().map_err(grader)?;
        let root = run_root(opts.run_id);
        let app_dir = root.join("app");
        std::fs::create_dir_all(&app_dir)
            .map_err(|e| grader(format!("{}: {e}", app_dir.display())))?;
        copy_submission(opts.source, &app_dir).map_err(grader)?;
        account::give_all(&app_dir, app_account.as_ref()).map_err(grader)?;
        let output = Arc::new(
            Output::new(opts.log).map_err(|e| grader(format!("{}: {e}", opts.log.display())))?,
        );
        let port =
            services::free_port().map_err(|e| grader(format!("finding a free port: {e}")))?;
        let mut local = Local {
            app: App::new(
                AppSpec {
                    argv: opts.launch.run.argv(),
                    dir: app_dir.clone(),
                    env: Vec::new(),
                    account: app_account,
                    limits: ex.submission.limits,
                    cpu_seconds: 3600,
                },
                output,
            ),
            port,
            db: None,
            storage: None,
            postgres: None,
            redis: None,
            mock: None,
            health: ex.submission.health.clone(),
            startup: ex.submission.startup_timeout,
            prober: Prober::new(),
            rules: SandboxRules::of(ex),
            root: root.clone(),
            starts: Default::default(),
        };
        let grader_with = |local: Local, e: String| (Some(local), StartError::Grader(e));
        if let Some(pg) = &ex.postgres {
            progress("starting PostgreSQL (initdb)");
            let admin = PgServer::admin_login();
            let started =
                services::start_postgres(&root.join("postgres"), &admin, services_account.as_ref())
                    .await;
            let (service, server) = match started {
                Ok(s) => s,
                Err(e) => return Err(grader_with(local, e)),
            };
            local.postgres = Some(service);
            let login = Login {
                user: pg.user.clone(),
                password: random_password(),
                database: pg.database.clone(),
            };
            let provisioned = async {
                server.prepare().await?;
                server.provision(&login, &LEARNER).await
            }
            .await;
            if let Err(e) = provisioned {
                return Err(grader_with(local, e.to_string()));
            }
            local.storage = Some(server.watch(&login, LEARNER));
            local.db = Some((server, login));
        }
        if ex.redis.is_some() {
            progress("starting Redis");
            match services::Redis::start(&root.join("redis"), services_account.as_ref()).await {
                Ok(r) => local.redis = Some(r),
                Err(e) => return Err(grader_with(local, e)),
            }
        }
        if let Some(upstream) = &ex.upstream {
            progress("starting the upstream mock");
            match Mock::start(([127, 0, 0, 1], 0).into(), upstream, opts.seed).await {
                Ok(m) => local.mock = Some(m),
                Err(e) => {
                    return Err(grader_with(
                        local,
                        format!("starting the upstream mock: {e}"),
                    ));
                }
            }
        }
        let env = local.env(ex, &opts.launch.env);
        local.app.set_env(env);
        if let Some(build) = &opts.launch.build {
            progress("building (the declared build command)");
            if let Err(e) = local.build(build, opts.build_log, opts.build_timeout).await {
                return Err((Some(local), e));
            }
        }
        Ok(local)
    }

    /// The submission's environment: the declaration's own variables, then the
    /// contract's (which win).
    fn env(&self, ex: &Exercise, declared: &[(String, String)]) -> Vec<(String, String)> {
        let db = self
            .db
            .as_ref()
            .map(|(server, login)| (login, "127.0.0.1", server.port));
        let addrs = ServiceAddrs {
            port: self.port,
            db,
            redis: self.redis.as_ref().map(|r| ("127.0.0.1", r.port())),
            upstream: self.mock.as_ref().map(|m| format!("http://{}", m.addr())),
        };
        let mut env: Vec<(String, String)> = declared.to_vec();
        for pair in contract_env(&addrs, &ex.submission.env) {
            if let Some((k, v)) = pair.split_once('=') {
                env.retain(|(name, _)| name != k);
                env.push((k.to_string(), v.to_string()));
            }
        }
        env
    }

    /// Runs the declared build command in the submission's copy, as the submission.
    async fn build(
        &self,
        build: &Program,
        log: &Path,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let output = Arc::new(
            Output::new(log).map_err(|e| StartError::Grader(format!("{}: {e}", log.display())))?,
        );
        let builder = App::new(
            AppSpec {
                argv: build.argv(),
                ..self.app.spec().clone()
            },
            output.clone(),
        );
        builder.start().await.map_err(StartError::Grader)?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(ended) = builder.exited().await {
                if ended.code == 0 {
                    return Ok(());
                }
                return Err(StartError::Build(
                    format!("the build command `{}` {}", build.display(), ended.how),
                    tail(&output.since(None)),
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                builder.kill().await;
                return Err(StartError::Build(
                    format!(
                        "the build command `{}` did not finish within {}s",
                        build.display(),
                        timeout.as_secs()
                    ),
                    tail(&output.since(None)),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the submission (it is then waited for with `wait_ready`).
    pub(crate) async fn start_app(&self) -> Result<(), String> {
        self.starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.app.start().await
    }

    /// The reason the grader shut the learner out of its database, if it did.
    pub(crate) fn shut_out(&self) -> Option<String> {
        self.storage.as_ref().and_then(StorageWatch::exceeded_now)
    }

    /// Resolves once the learner went over its storage cap (never without a database).
    pub(crate) async fn limit_exceeded(&self) -> String {
        match &self.storage {
            Some(s) => s.exceeded().await,
            None => std::future::pending().await,
        }
    }

    /// The causes a failed start shows: the submission's output and how it ended.
    pub(crate) async fn start_causes(&self) -> Vec<grader_report::Cause> {
        let lines = self.app.output.since(None);
        let mut causes = crate::docker::from_log(lines.iter().map(String::as_str), &self.rules);
        crate::docker::merge_causes(&mut causes, self.exit_causes().await);
        causes
    }

    async fn exit_causes(&self) -> Vec<grader_report::Cause> {
        let ended = match self.app.exited().await {
            Some(e) => Some(e),
            None => self.app.last_exit(),
        };
        ended
            .map(|e| {
                crate::docker::from_exit(
                    crate::docker::Ended {
                        code: e.code,
                        oom_killed: e.over_memory,
                        after_restart: self.starts.load(std::sync::atomic::Ordering::SeqCst) > 1,
                    },
                    &self.rules,
                )
            })
            .unwrap_or_default()
    }

    /// The most memory the submission held.
    pub(crate) fn resources(&self) -> grader_report::Resources {
        let limits = self.app.spec().limits;
        grader_report::Resources {
            peak_memory_bytes: self.app.peak_memory(),
            memory_limit_bytes: u64::try_from(limits.memory_bytes).unwrap_or(0),
            peak_cpu_percent: 0.0,
            cpu_limit: limits.cpus,
        }
    }

    /// Stops everything the run started and removes its folder.
    pub(crate) async fn stop(self) {
        // Every end of the submission's process also ends the rest of its account's
        // (`App::ended_with`): a daemon that left the process group too.
        self.app.kill().await;
        drop(self.storage);
        drop(self.mock);
        if let Some(redis) = self.redis {
            redis.stop().await;
        }
        if let Some(pg) = self.postgres {
            // PostgreSQL's immediate shutdown: nothing of the run's data is kept.
            pg.stop(Signal::SIGQUIT).await;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The last lines of a build's output, as a report keeps them.
fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn no_database() -> TargetError {
    TargetError::Infrastructure("this exercise has no database".into())
}

fn which_prlimit() -> Result<(), String> {
    services::on_path("prlimit").map(|_| ()).ok_or_else(|| {
        "the process runtime sets the submission's limits with `prlimit` (util-linux), which is not on PATH: install util-linux".to_string()
    })
}

impl Target for Local {
    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn database_url(&self) -> Option<String> {
        self.db.as_ref().map(|(s, l)| s.checker_url(&l.database))
    }

    fn database_writer_url(&self) -> Option<String> {
        self.db.as_ref().map(|(s, l)| s.writer_url(&l.database))
    }

    fn database_admin_url(&self) -> Option<String> {
        self.db.as_ref().map(|(s, l)| s.admin_url_for(&l.database))
    }

    fn database_role(&self) -> Option<String> {
        self.db.as_ref().map(|(_, l)| l.user.clone())
    }

    fn redis_url(&self) -> Option<String> {
        self.redis.as_ref().map(services::Redis::url)
    }

    fn upstream(&self) -> Option<&Mock> {
        self.mock.as_ref()
    }

    async fn restart(&self, grace: Duration) -> Result<Stopped, TargetError> {
        let stopped = self.app.stop(grace).await;
        self.start_app()
            .await
            .map_err(TargetError::Infrastructure)?;
        Ok(stopped.map_or(
            Stopped {
                after: Duration::ZERO,
                killed: false,
            },
            |(after, killed)| Stopped { after, killed },
        ))
    }

    async fn crash(&self) -> Result<(), TargetError> {
        self.app.kill().await;
        self.start_app().await.map_err(TargetError::Infrastructure)
    }

    async fn wait_ready(&self) -> Result<(), TargetError> {
        let ready = wait_ready(&self.prober, || self.base_url(), &self.health, self.startup);
        let exited = async {
            loop {
                if let Some(e) = self.app.exited().await {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            r = ready => r.map(|_| ()).map_err(|e| TargetError::Submission(format!(
                "the server did not answer GET {} with 2xx within {}s ({e})",
                self.health,
                self.startup.as_secs()
            ))),
            e = exited => Err(TargetError::Submission(format!(
                "the server {} before it answered GET {}",
                e.how, self.health
            ))),
        }
    }

    async fn diagnose(&self, since: SystemTime) -> Diagnosis {
        // The pipe delivers a line a moment after the server printed it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let lines = self.app.output.since(Some(since));
        let mut causes = crate::docker::from_log(lines.iter().map(String::as_str), &self.rules);
        crate::docker::merge_causes(&mut causes, self.exit_causes().await);
        Diagnosis {
            output: crate::docker::output_of(&lines),
            causes,
        }
    }

    /// PostgreSQL refuses the learner's sessions; an exercise whose store is Redis has
    /// its Redis stopped.
    async fn database_stop(&self) -> Result<(), TargetError> {
        match (&self.db, &self.redis) {
            (Some((server, login)), _) => server
                .refuse(login)
                .await
                .map_err(|e| TargetError::Infrastructure(e.to_string())),
            (None, Some(redis)) => {
                redis.stop().await;
                Ok(())
            }
            (None, None) => Err(no_database()),
        }
    }

    /// A learner shut out for its storage stays shut out.
    async fn database_start(&self) -> Result<(), TargetError> {
        match (&self.db, &self.redis) {
            (Some(_), _) if self.shut_out().is_some() => Ok(()),
            (Some((server, login)), _) => server
                .admit(login, &LEARNER)
                .await
                .map_err(|e| TargetError::Infrastructure(e.to_string())),
            (None, Some(redis)) => redis
                .start_again()
                .await
                .map_err(TargetError::Infrastructure),
            (None, None) => Err(no_database()),
        }
    }

    async fn revive(&self) {
        if !self.app.is_running().await {
            let _ = self.start_app().await;
            let _ = self.wait_ready().await;
        }
    }

    async fn usage(&self) -> Option<Usage> {
        let (cpu_ns, memory_bytes) = self.app.usage().await?;
        Some(Usage {
            cpu_ns,
            memory_bytes,
        })
    }
}
