//! `exec` steps against a real PostgreSQL (the grader's image, started with
//! testcontainers and set up as the grader sets up a learner's database): bulk data is
//! written fast as the grader's writer, `ANALYZE` runs after it, and a failure is
//! blamed on the exercise's SQL or on the learner's schema, as it is.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::Path;
use std::time::{Duration, Instant};

use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, Stopped, Target, TargetError, run_checks};
use sqlx::{Connection, PgConnection, Row};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The grader's PostgreSQL image (`grader images` builds it), started as the grader
/// starts a learner's (grader/src/docker/sandbox/services.rs), with trust
/// authentication; removed on drop.
struct Cluster {
    _container: ContainerAsync<GenericImage>,
    port: u16,
}

impl Cluster {
    async fn start() -> Cluster {
        let cmd: Vec<String> = [
            "postgres",
            "-c",
            "shared_preload_libraries=pg_stat_statements",
            "-c",
            "autovacuum=off",
            "-c",
            "fsync=off",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let container = GenericImage::new("postgres", "15-bookworm")
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_either_std(
                "ready to accept connections",
            ))
            .with_env_var("POSTGRES_USER", "grader_admin")
            .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
            // initdb wants a password even where every connection is trusted.
            .with_env_var("POSTGRES_PASSWORD", "unused-with-trust")
            .with_env_var("POSTGRES_DB", "postgres")
            .with_label("grader.run", "harness-tests-exec")
            .with_cmd(cmd)
            .with_startup_timeout(Duration::from_secs(120))
            .start()
            .await
            .expect("the grader's postgres image (run `grader images`)");
        let port = container.get_host_port_ipv4(5432.tcp()).await.unwrap();
        let cluster = Cluster {
            _container: container,
            port,
        };
        harness::probe::wait_database(
            &cluster.url("grader_admin", "postgres"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        cluster
    }

    fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }
}

async fn run_sql(url: &str, statements: &[&str]) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*s))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    conn.close().await.unwrap();
}

/// The learner's database as the grader provisions one: an ordinary role that owns
/// it, the read-only checker and the writer, as in grader's provision.rs.
async fn learner_database(cluster: &Cluster, schema: &[&str]) {
    run_sql(
        &cluster.url("grader_admin", "postgres"),
        &[
            "CREATE ROLE app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 32",
            "CREATE DATABASE app OWNER app",
            "REVOKE ALL ON DATABASE app FROM PUBLIC",
            "CREATE ROLE grader_checks LOGIN NOSUPERUSER",
            "GRANT pg_read_all_data TO grader_checks",
            "CREATE ROLE grader_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
            "GRANT pg_read_all_data, pg_write_all_data TO grader_writer",
            "GRANT CONNECT ON DATABASE app TO app, grader_checks, grader_writer",
        ],
    )
    .await;
    run_sql(&cluster.url("app", "app"), schema).await;
}

/// The learner's database, reached as the grader reaches it.
struct Db<'c>(&'c Cluster);

impl Target for Db<'_> {
    fn base_url(&self) -> String {
        "http://127.0.0.1:9".into()
    }
    fn database_url(&self) -> Option<String> {
        Some(self.0.url("grader_checks", "app"))
    }
    fn database_admin_url(&self) -> Option<String> {
        Some(self.0.url("grader_admin", "app"))
    }
    fn database_writer_url(&self) -> Option<String> {
        Some(self.0.url("grader_writer", "app"))
    }
    async fn restart(&self, _grace: Duration) -> Result<Stopped, TargetError> {
        Err(TargetError::Infrastructure("no server".into()))
    }
    async fn crash(&self) -> Result<(), TargetError> {
        Err(TargetError::Infrastructure("no server".into()))
    }
    async fn wait_ready(&self) -> Result<(), TargetError> {
        Ok(())
    }
}

const TODOS: &str = "CREATE TABLE todos (id bigserial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false)";

async fn run(cluster: &Cluster, checks: &str) -> Vec<CheckResult> {
    let src = format!("[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[services.postgres]\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    run_checks(&ex, &Db(cluster), &RunConfig::default(), |_| {}).await
}

#[tokio::test]
async fn exec_writes_100000_rows_and_analyzes() {
    let cluster = Cluster::start().await;
    learner_database(&cluster, &[TODOS]).await;
    let start = Instant::now();
    let results = run(
        &cluster,
        r#"
[[checks]]
id = "bulk"
title = "bulk"
category = "performance"
points = 1
[[checks.steps]]
exec = "INSERT INTO todos (title, done) SELECT 'todo ' || g, g % 3 = 0 FROM generate_series(1, 100000) g"
expect.affected = 100000
[[checks.steps]]
sql = "SELECT count(*)::int AS n, count(*) FILTER (WHERE done)::int AS done FROM todos"
expect.jsonpath."$[0].n" = 100000
expect.jsonpath."$[0].done" = 33333
[[checks.steps]]
exec = "UPDATE todos SET title = $1 WHERE id <= $2"
params = ["renamed", 10]
expect.affected = { ge = 10, le = 10 }
[[checks.steps]]
exec = "DELETE FROM todos WHERE id > 99990; INSERT INTO todos (title) VALUES ('a;b');"
expect.affected = 11
"#,
    )
    .await;
    let took = start.elapsed();
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let mut conn = PgConnection::connect(&cluster.url("grader_admin", "app"))
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT last_analyze IS NOT NULL AS analyzed, (SELECT reltuples FROM pg_class WHERE relname = 'todos') AS tuples FROM pg_stat_user_tables WHERE relname = 'todos'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        row.get::<bool, _>("analyzed"),
        "ANALYZE did not run on todos"
    );
    // The planner's estimate is the analysed count, not a guess from the table's size.
    assert_eq!(row.get::<f32, _>("tuples"), 99_991.0);
    let renamed: i64 = sqlx::query_scalar("SELECT count(*) FROM todos WHERE title = 'renamed'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(renamed, 10);
    eprintln!("100,000 rows written and analysed (with three more steps) in {took:?}");
}

#[tokio::test]
async fn exec_failures_are_blamed_on_the_schema_or_the_exercise() {
    let cluster = Cluster::start().await;
    // The learner's table has no `done` column, and a trigger that records who wrote.
    learner_database(
        &cluster,
        &[
            "CREATE TABLE todos (id bigserial PRIMARY KEY, title varchar(8) NOT NULL)",
            "CREATE TABLE writers (who text, superuser boolean)",
            "CREATE FUNCTION who() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO writers SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user; RETURN NEW; END $$",
            "CREATE TRIGGER who AFTER INSERT ON todos FOR EACH STATEMENT EXECUTE FUNCTION who()",
        ],
    )
    .await;
    let results = run(
        &cluster,
        r#"
[[checks]]
id = "column"
title = "column"
category = "performance"
points = 1
[[checks.steps]]
exec = "INSERT INTO todos (title, done) VALUES ('x', true)"

[[checks]]
id = "too-long"
title = "too-long"
category = "performance"
points = 1
[[checks.steps]]
exec = "INSERT INTO todos (title) VALUES ('a title longer than eight')"

[[checks]]
id = "syntax"
title = "syntax"
category = "performance"
points = 1
[[checks.steps]]
exec = "INSRT INTO todos (title) VALUES ('x')"

[[checks]]
id = "count"
title = "count"
category = "performance"
points = 1
[[checks.steps]]
exec = "INSERT INTO todos (title) VALUES ('x')"
expect.affected = 2

[[checks]]
id = "writer"
title = "writer"
category = "performance"
points = 1
[[checks.steps]]
sql = "SELECT who, superuser FROM writers"
expect.json = [{ who = "grader_writer", superuser = false }]
"#,
    )
    .await;
    let failure = |i: usize| results[i].failure.as_ref().unwrap().message.clone();
    assert_eq!(results[0].status, CheckStatus::Failed);
    assert!(
        failure(0).starts_with(
            "the statements failed: column \"done\" of relation \"todos\" does not exist; the grader writes this data into the tables the exercise's contract describes: your schema differs from it"
        ),
        "{}",
        failure(0)
    );
    assert_eq!(results[1].status, CheckStatus::Failed);
    assert!(
        failure(1).contains("value too long for type character varying(8)"),
        "{}",
        failure(1)
    );
    assert_eq!(results[2].status, CheckStatus::Error);
    assert_eq!(
        failure(2),
        "the statements failed: syntax error at or near \"INSRT\" (the exercise's SQL is wrong)"
    );
    assert_eq!(results[3].status, CheckStatus::Failed);
    assert!(failure(3).contains("affected"), "{}", failure(3));
    // The learner's trigger ran as the writer, which is no superuser.
    assert_eq!(
        results[4].status,
        CheckStatus::Passed,
        "{:?}",
        results[4].failure
    );
}
