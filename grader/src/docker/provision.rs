//! The one way a learner gets a database, on a run's own server and on a class's shared
//! one alike: the server's superuser is the grader's own admin (a random password the
//! submission never sees); the learner's role is an ordinary one that owns its database
//! and nothing else, with a connection limit, timeouts and a storage cap that the grader
//! watches; the grader's SQL steps read through a role of their own, and its `exec` steps
//! write through another (never the superuser: a learner's trigger runs as the writer).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::sandbox::services::{Login, random_password};
use super::{DockerError, Reach};

/// The server's superuser: the grader's, never the submission's.
pub(crate) const ADMIN: &str = "grader_admin";
/// The role the grader's SQL steps use: it reads every table, writes none.
const CHECKER: &str = "grader_checks";
/// The role `exec` steps write as: every table of a database it may connect to (the
/// learner's), nothing outside it, no superuser (a learner's trigger runs as it).
const WRITER: &str = "grader_writer";
/// How often the grader looks at a learner's database.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// What a learner may write between two looks, at most (allowed for in the disk's size).
const OVERSHOOT_MIB: u32 = 128;
const MIB: i64 = 1024 * 1024;

/// What a learner's role may use (the contract in every exercise's README says the same).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LearnerLimits {
    pub connections: u32,
    pub statement_timeout: Duration,
    pub idle_in_transaction: Duration,
    /// Per session.
    pub temp_file_mib: u32,
    pub storage_mib: u32,
}

/// Every learner's limits.
pub(crate) const LEARNER: LearnerLimits = LearnerLimits {
    connections: 32,
    statement_timeout: Duration::from_secs(5),
    idle_in_transaction: Duration::from_secs(10),
    temp_file_mib: 8,
    storage_mib: 64,
};

impl LearnerLimits {
    /// The most of the data disk one learner can take: its cap, what it can write before
    /// the grader's next look, and every one of its sessions' temporary files.
    pub fn disk_mib(&self) -> u32 {
        self.storage_mib + OVERSHOOT_MIB + self.connections * self.temp_file_mib
    }

    /// The report's reason when the cap was enforced.
    pub fn storage_reason(&self) -> String {
        format!(
            "used more than {} MiB of database storage: the grader ended its database sessions and refused new ones",
            self.storage_mib
        )
    }
}

/// A PostgreSQL server the grader administers, published on the reach's bind address
/// (127.0.0.1 for a local engine) and reached at its probe host.
#[derive(Debug, Clone)]
pub(crate) struct PgServer {
    pub admin: Login,
    checker_password: String,
    writer_password: String,
    /// The probe host, as it goes in a URL.
    host: String,
    pub port: u16,
}

/// `"name"`, with any double quote doubled.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with any quote doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl PgServer {
    /// The admin's login for a server about to be created (its superuser).
    pub fn admin_login() -> Login {
        Login {
            user: ADMIN.into(),
            password: random_password(),
            database: "postgres".into(),
        }
    }

    pub fn new(admin: Login, reach: &Reach, port: u16) -> PgServer {
        PgServer {
            admin,
            checker_password: random_password(),
            writer_password: random_password(),
            host: reach.url_host(),
            port,
        }
    }

    /// A server on this machine's loopback (the process runtime's).
    pub fn on_loopback(admin: Login, port: u16) -> PgServer {
        PgServer {
            admin,
            checker_password: random_password(),
            writer_password: random_password(),
            host: "127.0.0.1".into(),
            port,
        }
    }

    fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@{}:{}/{database}",
            self.host, self.port
        )
    }

    pub fn admin_url(&self) -> String {
        self.url(&self.admin.user, &self.admin.password, &self.admin.database)
    }

    /// The grader's SQL steps' URL for a learner's database.
    pub fn checker_url(&self, database: &str) -> String {
        self.url(CHECKER, &self.checker_password, database)
    }

    /// The `exec` steps' URL for a learner's database.
    pub fn writer_url(&self, database: &str) -> String {
        self.url(WRITER, &self.writer_password, database)
    }

    /// The admin's URL for a learner's database: the work counters read every
    /// statistic through it, and `exec` steps `ANALYZE` it.
    pub fn admin_url_for(&self, database: &str) -> String {
        self.url(&self.admin.user, &self.admin.password, database)
    }

    async fn exec(&self, what: &str, statements: &[String]) -> Result<(), DockerError> {
        harness::probe::admin_exec(&self.admin_url(), statements, Duration::from_secs(30))
            .await
            .map_err(|e| DockerError::Other(format!("{what}: {e}")))
    }

    /// Once per server, when it answers: the checker's role, and no database but its
    /// own open to a learner.
    pub async fn prepare(&self) -> Result<(), DockerError> {
        self.exec(
            "preparing the database server",
            &[
                format!(
                    "CREATE ROLE {CHECKER} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
                    literal(&self.checker_password)
                ),
                format!("GRANT pg_read_all_data TO {CHECKER}"),
                format!(
                    "CREATE ROLE {WRITER} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
                    literal(&self.writer_password)
                ),
                // Reads too: an UPDATE's WHERE, an INSERT ... SELECT from the learner's rows.
                format!("GRANT pg_read_all_data, pg_write_all_data TO {WRITER}"),
                format!("GRANT pg_read_all_stats TO {CHECKER}"),
                "REVOKE ALL ON DATABASE postgres FROM PUBLIC".into(),
                // Where a dropped learner's statements are forgotten (`drop_learner`).
                "CREATE EXTENSION IF NOT EXISTS pg_stat_statements".into(),
                "REVOKE ALL ON DATABASE template1 FROM PUBLIC".into(),
            ],
        )
        .await
    }

    /// The learner's role and database, as the contract says.
    pub async fn provision(
        &self,
        login: &Login,
        limits: &LearnerLimits,
    ) -> Result<(), DockerError> {
        if [ADMIN, CHECKER, WRITER].contains(&login.user.as_str()) {
            return Err(DockerError::Other(format!(
                "the exercise's database user may not be named {}: the grader uses that role",
                login.user
            )));
        }
        let (role, db) = (ident(&login.user), ident(&login.database));
        self.exec(
            "creating the learner's database",
            &[
                format!(
                    "CREATE ROLE {role} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {}",
                    literal(&login.password),
                    limits.connections
                ),
                format!("CREATE DATABASE {db} OWNER {role}"),
                // Other learners' roles cannot even connect to it; the grader's roles can.
                format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"),
                format!("GRANT CONNECT ON DATABASE {db} TO {CHECKER}, {WRITER}"),
                format!(
                    "ALTER ROLE {role} SET statement_timeout = '{}ms'",
                    limits.statement_timeout.as_millis()
                ),
                format!(
                    "ALTER ROLE {role} SET idle_in_transaction_session_timeout = '{}ms'",
                    limits.idle_in_transaction.as_millis()
                ),
                format!(
                    "ALTER ROLE {role} SET temp_file_limit = '{}MB'",
                    limits.temp_file_mib
                ),
            ],
        )
        .await?;
        // The work counters read pg_stat_statements in the learner's database; the
        // extension is created there by the admin (the learner cannot drop it: it does
        // not own it).
        harness::probe::admin_exec(
            &self.admin_url_for(&login.database),
            &["CREATE EXTENSION IF NOT EXISTS pg_stat_statements".to_string()],
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| DockerError::Other(format!("creating pg_stat_statements: {e}")))
    }

    /// Drops the learner's database and role (a shared server outlives its learners),
    /// and forgets the statements it ran (pg_stat_statements outlives a dropped role:
    /// its entries would take room from the next learners').
    pub async fn drop_learner(&self, login: &Login) {
        // No row matched: no call (a reset of 0, 0, 0 would forget every learner's).
        let reset = format!(
            "SELECT pg_stat_statements_reset(r.oid, 0, 0) FROM pg_roles r WHERE r.rolname = {}; \
             SELECT pg_stat_statements_reset(0, d.oid, 0) FROM pg_database d WHERE d.datname = {}",
            literal(&login.user),
            literal(&login.database)
        );
        let _ = self
            .exec(
                "dropping the learner's database",
                &[
                    reset,
                    format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        ident(&login.database)
                    ),
                    format!("DROP ROLE IF EXISTS {}", ident(&login.user)),
                ],
            )
            .await;
    }

    /// Watches the learner's database until the returned watch is dropped.
    pub fn watch(&self, login: &Login, limits: LearnerLimits) -> StorageWatch {
        let watch = StorageWatch {
            exceeded: CancellationToken::new(),
            stop: CancellationToken::new(),
            limits,
        };
        let (server, login) = (self.clone(), login.clone());
        let (exceeded, stop) = (watch.exceeded.clone(), watch.stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(LOOK_EVERY) => {}
                }
                let look = harness::probe::admin_scalar(
                    &server.admin_url(),
                    &look_query(&login, &limits),
                    Duration::from_secs(5),
                )
                .await;
                // A look that fails is tried again at the next tick.
                if look.is_ok_and(|bytes| bytes > i64::from(limits.storage_mib) * MIB) {
                    server.shut_out(&login).await;
                    exceeded.cancel();
                    return;
                }
            }
        });
        watch
    }

    /// The learner's database "goes down" for it alone: no new session, and every
    /// session ended (as at a server's fast shutdown). Twice, for a session that was
    /// being opened while the limit changed.
    pub async fn refuse(&self, login: &Login) -> Result<(), DockerError> {
        let end = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}",
            literal(&login.user)
        );
        self.exec(
            "stopping the learner's database",
            &[
                format!("ALTER ROLE {} CONNECTION LIMIT 0", ident(&login.user)),
                end.clone(),
                "SELECT pg_sleep(0.2)".into(),
                end,
            ],
        )
        .await
    }

    /// The learner's database accepts its sessions again (after `refuse`).
    pub async fn admit(&self, login: &Login, limits: &LearnerLimits) -> Result<(), DockerError> {
        self.exec(
            "starting the learner's database again",
            &[format!(
                "ALTER ROLE {} CONNECTION LIMIT {}",
                ident(&login.user),
                limits.connections
            )],
        )
        .await
    }

    /// Stops the learner's writes: no new session, and every session ended.
    async fn shut_out(&self, login: &Login) {
        let _ = self
            .exec(
                "enforcing the storage cap",
                &[
                    format!("ALTER ROLE {} CONNECTION LIMIT 0", ident(&login.user)),
                    format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}",
                        literal(&login.user)
                    ),
                ],
            )
            .await;
    }
}

/// One look at a learner: its database's size, after cancelling statements that ran past
/// the statement timeout and ending sessions idle in a transaction past theirs (a role's
/// defaults are only defaults: a session may `SET` them away; these bind anyway).
fn look_query(login: &Login, limits: &LearnerLimits) -> String {
    let user = literal(&login.user);
    let grace = 1;
    format!(
        "WITH slow AS (SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
           WHERE usename = {user} AND state = 'active' \
           AND now() - query_start > interval '{} seconds'), \
         stale AS (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
           WHERE usename = {user} AND state LIKE 'idle in transaction%' \
           AND now() - state_change > interval '{} seconds') \
         SELECT pg_database_size({})::bigint \
           + 0 * ((SELECT count(*) FROM slow) + (SELECT count(*) FROM stale))",
        limits.statement_timeout.as_secs() + grace,
        limits.idle_in_transaction.as_secs() + grace,
        literal(&login.database)
    )
}

/// A learner's database under watch; dropping it stops the watching.
#[derive(Debug)]
pub(crate) struct StorageWatch {
    exceeded: CancellationToken,
    stop: CancellationToken,
    limits: LearnerLimits,
}

impl Drop for StorageWatch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl StorageWatch {
    /// The reason, if the learner has gone over its cap already.
    pub fn exceeded_now(&self) -> Option<String> {
        self.exceeded
            .is_cancelled()
            .then(|| self.limits.storage_reason())
    }

    /// Resolves once the learner went over its cap (and was shut out): the reason.
    pub async fn exceeded(&self) -> String {
        self.exceeded.cancelled().await;
        self.limits.storage_reason()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_probe_host() {
        let admin = Login {
            user: ADMIN.into(),
            password: "pw".into(),
            database: "postgres".into(),
        };
        let local = PgServer::new(admin.clone(), &Reach::default(), 49153);
        assert_eq!(
            local.admin_url(),
            "postgres://grader_admin:pw@127.0.0.1:49153/postgres"
        );
        let remote = crate::docker::ReachOptions {
            probe_host: Some("172.18.0.1".into()),
            ..Default::default()
        }
        .reach()
        .expect("an address");
        let server = PgServer::new(admin, &remote, 49153);
        assert!(server.checker_url("app").contains("@172.18.0.1:49153/app"));
        assert!(server.writer_url("app").contains("@172.18.0.1:49153/app"));
    }

    #[test]
    fn names_and_texts_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn a_learner_fits_its_disk_share() {
        assert_eq!(LEARNER.disk_mib(), 64 + 128 + 32 * 8);
        assert!(
            LEARNER
                .storage_reason()
                .starts_with("used more than 64 MiB")
        );
    }
}
