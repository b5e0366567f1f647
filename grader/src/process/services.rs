//! The services of a run without Docker: a throwaway PostgreSQL (initdb and postgres
//! from the machine, a folder of the run's own, a free loopback port) and Redis
//! (redis-server from the machine), each a child process of the grader's, under the
//! services' account when the grader runs as root.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::account::Account;
use crate::docker::{Login, PgServer, PostgresSize, throwaway_postgres};

/// A child process that is stopped when dropped (SIGQUIT, then SIGKILL).
#[derive(Debug)]
pub(crate) struct Service {
    name: &'static str,
    child: Child,
}

impl Service {
    /// Stops it: `signal` first (a fast shutdown), SIGKILL if it is still there a
    /// moment later.
    pub(crate) async fn stop(mut self, signal: nix::sys::signal::Signal) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }

    /// Why it is no longer running, if it is not.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            _ => None,
        }
    }
}

/// A free port on 127.0.0.1 (the OS's pick; another process could take it before the
/// service binds it, which then fails to start and says so).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where a program of PostgreSQL's is: on PATH, else in `pg_config --bindir`, else in
/// the newest `/usr/lib/postgresql/N/bin` (Debian's packages put nothing on PATH).
fn postgres_program(name: &str) -> Result<PathBuf, String> {
    if let Some(p) = on_path(name) {
        return Ok(p);
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let p = e.path().join("bin").join(name);
            p.is_file().then_some((v, p))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or_else(|| {
        format!(
            "the process runtime needs PostgreSQL's `{name}` and found none (not on PATH, \
             nor in pg_config --bindir or /usr/lib/postgresql/*/bin): install PostgreSQL \
             (Debian: apt-get install postgresql) or put its bin folder on PATH"
        )
    })
}

/// `name` found on PATH, if it is there.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A command whose output goes to `log`, run as `account` when there is one.
fn command(program: &Path, account: Option<&Account>, log: &Path) -> Result<Command, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C at the terminal reaches the grader, which then
        // stops it in order.
        .process_group(0);
    if let Some(a) = account {
        cmd.uid(a.uid).gid(a.gid);
    }
    Ok(cmd)
}

/// The last lines of a service's log, for an error.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Starts a PostgreSQL server in `dir` (created, and given to `account`), with the
/// grader's admin as its superuser and the settings of the Docker runtime's server.
pub(crate) async fn start_postgres(
    dir: &Path,
    admin: &Login,
    account: Option<&Account>,
) -> Result<(Service, PgServer), String> {
    let initdb = postgres_program("initdb")?;
    let postgres = postgres_program("postgres")?;
    let data = dir.join("data");
    let socket = dir.join("sock");
    for d in [dir, &socket] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        super::account::give(d, account)?;
    }
    let pwfile = dir.join("admin-password");
    std::fs::write(&pwfile, &admin.password).map_err(|e| format!("{}: {e}", pwfile.display()))?;
    super::account::give(&pwfile, account)?;
    let init_log = dir.join("initdb.log");
    let status = command(&initdb, account, &init_log)?
        .arg("--pgdata")
        .arg(&data)
        .args(["--username", &admin.user, "--auth", "scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["--encoding", "UTF8", "--no-locale", "--no-sync"])
        .status()
        .await
        .map_err(|e| format!("running {}: {e}", initdb.display()))?;
    let _ = std::fs::remove_file(&pwfile);
    if !status.success() {
        return Err(format!(
            "initdb failed ({status}):\n{}",
            log_tail(&init_log)
        ));
    }
    let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
    let settings = throwaway_postgres(PostgresSize::for_learners(1).max_connections());
    let log = dir.join("postgres.log");
    let mut cmd = command(&postgres, account, &log)?;
    cmd.arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", socket.display()))
        // The image's first word is the program's name.
        .args(settings.iter().skip(1));
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", postgres.display()))?;
    let mut service = Service {
        name: "PostgreSQL",
        child,
    };
    let server = PgServer::on_loopback(admin.clone(), port);
    let started = Instant::now();
    loop {
        let attempt =
            harness::probe::wait_database(&server.admin_url(), Duration::from_millis(500)).await;
        if attempt.is_ok() {
            break;
        }
        if let Some(exit) = service.exited() {
            return Err(format!("{exit}:\n{}", log_tail(&log)));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "PostgreSQL did not accept connections within 60s:\n{}",
                log_tail(&log)
            ));
        }
    }
    Ok((service, server))
}

/// Redis on a loopback port of its own, a throwaway cache as in the Docker runtime. It
/// can be stopped and started again on the same port (the `database` steps of an
/// exercise whose store is Redis).
#[derive(Debug)]
pub(crate) struct Redis {
    dir: PathBuf,
    port: u16,
    account: Option<Account>,
    service: tokio::sync::Mutex<Option<Service>>,
}

impl Redis {
    /// Starts Redis in `dir` on a free port.
    pub(crate) async fn start(dir: &Path, account: Option<&Account>) -> Result<Redis, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        super::account::give(dir, account)?;
        let redis = Redis {
            dir: dir.to_path_buf(),
            port: free_port().map_err(|e| format!("finding a free port: {e}"))?,
            account: account.copied(),
            service: tokio::sync::Mutex::new(None),
        };
        redis.start_again().await?;
        Ok(redis)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (SIGTERM): its data is gone.
    pub(crate) async fn stop(&self) {
        if let Some(service) = self.service.lock().await.take() {
            service.stop(nix::sys::signal::Signal::SIGTERM).await;
        }
    }

    /// Starts it (again) and waits until it answers PING.
    pub(crate) async fn start_again(&self) -> Result<(), String> {
        let mut slot = self.service.lock().await;
        if slot.is_some() {
            return Ok(());
        }
        let program = on_path("redis-server").ok_or_else(|| {
            "the process runtime needs `redis-server` on PATH for this exercise: install \
             Redis (Debian: apt-get install redis-server)"
                .to_string()
        })?;
        let log = self.dir.join("redis.log");
        let child = command(&program, self.account.as_ref(), &log)?
            .current_dir(&self.dir)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--maxmemory", "256mb"])
            .args(["--protected-mode", "no", "--daemonize", "no"])
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let mut service = Service {
            name: "Redis",
            child,
        };
        let url = self.url();
        let started = Instant::now();
        loop {
            if let Ok(mut probe) =
                harness::probe::RedisProbe::connect(&url, Duration::from_millis(500)).await
                && probe
                    .command(&["PING".to_string()], Duration::from_secs(1))
                    .await
                    .is_ok()
            {
                *slot = Some(service);
                return Ok(());
            }
            if let Some(exit) = service.exited() {
                return Err(format!("{exit}:\n{}", log_tail(&log)));
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "Redis did not answer PING within 30s:\n{}",
                    log_tail(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
