//! The work counters against a real PostgreSQL and Redis (the grader's own images, built
//! locally, started with testcontainers and the grader's settings): each figure is
//! exact, and the grader's own reads count for nothing. Then the runner: an `expect.work`
//! bound and a load's work threshold pass on a server that batches its queries and fail
//! on one that runs a query per row.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::convert::Infallible;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::exercise::parse_exercise;
use harness::probe::work::{PgCounters, RedisCounters};
use harness::{CheckResult, CheckStatus, RunConfig, Stopped, Target, TargetError, run_checks};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The grader's images (`grader images` builds them).
const POSTGRES: (&str, &str) = ("postgres", "15-bookworm");
const REDIS: (&str, &str) = ("redis", "7-bookworm");
/// As the grader starts PostgreSQL (grader/src/docker/sandbox/services.rs).
const SETTINGS: [&str; 4] = [
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.max=10000",
    "autovacuum=off",
    "track_counts=on",
];
const ADMIN_PASSWORD: &str = "admin-secret";

struct Postgres {
    _container: ContainerAsync<GenericImage>,
    port: u16,
}

impl Postgres {
    fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }
    fn admin(&self) -> String {
        self.url("grader_admin", ADMIN_PASSWORD, "app")
    }
    fn app(&self) -> String {
        self.url("app", "app-secret", "app")
    }
}

/// PostgreSQL with the learner's role `app`, its database `app` (with
/// pg_stat_statements), and a table of 1,000 rows, analyzed.
async fn postgres() -> Postgres {
    let cmd: Vec<String> = std::iter::once("postgres".to_string())
        .chain(
            SETTINGS
                .iter()
                .flat_map(|s| ["-c".to_string(), (*s).to_string()]),
        )
        .collect();
    let container = GenericImage::new(POSTGRES.0, POSTGRES.1)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_either_std(
            "ready to accept connections",
        ))
        .with_env_var("POSTGRES_USER", "grader_admin")
        .with_env_var("POSTGRES_PASSWORD", ADMIN_PASSWORD)
        .with_env_var("POSTGRES_DB", "postgres")
        .with_label("grader.run", "harness-tests-work")
        .with_cmd(cmd)
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .expect("the grader's postgres image (run `grader images`)");
    let port = container.get_host_port_ipv4(5432.tcp()).await.unwrap();
    let pg = Postgres {
        _container: container,
        port,
    };
    let server = pg.url("grader_admin", ADMIN_PASSWORD, "postgres");
    harness::probe::wait_database(&server, Duration::from_secs(60))
        .await
        .unwrap();
    let exec = |url: String, sql: &[&str]| {
        let sql: Vec<String> = sql.iter().map(|s| (*s).to_string()).collect();
        async move {
            harness::probe::admin_exec(&url, &sql, Duration::from_secs(30))
                .await
                .unwrap();
        }
    };
    exec(
        server,
        &[
            "CREATE ROLE app LOGIN PASSWORD 'app-secret'",
            "CREATE DATABASE app OWNER app",
        ],
    )
    .await;
    exec(pg.admin(), &["CREATE EXTENSION pg_stat_statements"]).await;
    exec(
        pg.app(),
        &[
            "CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)",
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g",
            "ANALYZE items",
        ],
    )
    .await;
    pg
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect_with(&PgConnectOptions::from_str(url).unwrap())
        .await
        .unwrap()
}

async fn run(conn: &mut PgConnection, sql: &'static str) {
    sqlx::raw_sql(sql).execute(conn).await.unwrap();
}

/// Each counter, counted exactly, on one server (each wait for the counts to be flushed
/// costs about 10 s, so the cases share it).
#[tokio::test]
async fn postgres_counters_are_exact() {
    let pg = postgres().await;
    let mut counters = PgCounters::open(&pg.admin(), "app").await.unwrap();
    let limit = Duration::from_secs(15);

    // Nothing happened: the grader's own reads count for nothing.
    let (before, settled) = counters.settle(limit).await.unwrap();
    assert!(settled);
    let (after, _) = counters.settle(limit).await.unwrap();
    let d = after.since(&before);
    assert_eq!(d.statements, Ok(0));
    assert_eq!((d.rows_read, d.transactions, d.sessions), (0, 0, 0));
    assert!(d.own_transactions > 0, "the grader's own were subtracted");

    // A pooled connection, opened before: 20 requests of one transaction with three
    // index lookups each. Its counts stay with it until its idle flush (about 10 s).
    let mut app = connect(&pg.app()).await;
    let (before, _) = counters.settle(limit).await.unwrap();
    for i in 0..20 {
        let mut tx = app.begin().await.unwrap();
        for k in 1..=3 {
            sqlx::query("SELECT v FROM items WHERE id = $1")
                .bind(i * 3 + k)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let (after, settled) = counters.settle(limit).await.unwrap();
    assert!(settled);
    let d = after.since(&before);
    assert_eq!(d.statements, Ok(60), "BEGIN and COMMIT are not statements");
    assert_eq!(d.rows_read, 60, "one row fetched per index lookup");
    // An index lookup touches the index's root and leaf and the row's heap page.
    let pages = d.pages.clone().unwrap();
    assert!((60..=240).contains(&pages), "{pages} pages for 60 lookups");
    assert_eq!(d.transactions, 20);
    assert_eq!(d.sessions, 0);
    assert_eq!(
        d.top[0],
        ("SELECT v FROM items WHERE id = $1".to_string(), 60)
    );

    // A sequential scan of the table reads all of it, every page once.
    let (table_pages,): (i64,) =
        sqlx::query_as("SELECT (pg_relation_size('items') / 8192)::bigint")
            .fetch_one(&mut app)
            .await
            .unwrap();
    let (before, _) = counters.settle(limit).await.unwrap();
    run(&mut app, "SELECT count(*) FROM items WHERE v LIKE '%x%'").await;
    let (after, _) = counters.settle(limit).await.unwrap();
    let d = after.since(&before);
    assert_eq!(
        (d.statements, d.rows_read, d.transactions),
        (Ok(1), 1000, 1)
    );
    assert_eq!(d.pages, Ok(table_pages as u64));

    // A connection per request: each one is a new session.
    let (before, _) = counters.settle(limit).await.unwrap();
    for _ in 0..5 {
        let mut c = connect(&pg.app()).await;
        run(&mut c, "SELECT 1").await;
        c.close().await.unwrap();
    }
    let (after, _) = counters.settle(limit).await.unwrap();
    let d = after.since(&before);
    assert_eq!(d.sessions, 5);
    assert_eq!(d.statements, Ok(5));
    counters.close().await;
}

#[tokio::test]
async fn redis_commands_are_counted_exactly() {
    let container = GenericImage::new(REDIS.0, REDIS.1)
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
        .with_label("grader.run", "harness-tests-work")
        .start()
        .await
        .expect("the grader's redis image (run `grader images`)");
    let port = container.get_host_port_ipv4(6379.tcp()).await.unwrap();
    let url = format!("redis://127.0.0.1:{port}/0");
    let mut counters = RedisCounters::open(&url).await.unwrap();
    let a = counters.read().await.unwrap();
    let b = counters.read().await.unwrap();
    assert_eq!(b.commands_since(&a), 0, "the grader's INFO is subtracted");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut app = client.get_multiplexed_async_connection().await.unwrap();
    let before = counters.read().await.unwrap();
    for i in 0..3 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query_async(&mut app)
            .await
            .unwrap();
    }
    for i in 0..4 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query_async(&mut app)
            .await
            .unwrap();
    }
    let after = counters.read().await.unwrap();
    assert_eq!(after.commands_since(&before), 7);
}

/// A server of items backed by PostgreSQL: `/batched` reads a page in one query,
/// `/n-plus-one` a query for the ids then one per row.
async fn items_server(pool: PgPool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let pool = pool.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| items(pool.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn items(
    pool: PgPool,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let rows: Vec<String> = match req.uri().path() {
        "/batched" => sqlx::query_scalar("SELECT v FROM items WHERE id <= 10 ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap(),
        "/n-plus-one" => {
            let ids: Vec<i32> =
                sqlx::query_scalar("SELECT id FROM items WHERE id <= 10 ORDER BY id")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let mut out = Vec::new();
            for id in ids {
                out.push(
                    sqlx::query_scalar("SELECT v FROM items WHERE id = $1")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .unwrap(),
                );
            }
            out
        }
        _ => Vec::new(),
    };
    let body = serde_json::to_string(&rows).unwrap();
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

struct Items {
    addr: std::net::SocketAddr,
    admin_url: String,
}

impl Target for Items {
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn database_url(&self) -> Option<String> {
        None
    }
    fn database_role(&self) -> Option<String> {
        Some("app".into())
    }
    fn database_admin_url(&self) -> Option<String> {
        Some(self.admin_url.clone())
    }
    async fn restart(&self, _grace: Duration) -> Result<Stopped, TargetError> {
        Err(TargetError::Infrastructure("no restarts here".into()))
    }
    async fn crash(&self) -> Result<(), TargetError> {
        Err(TargetError::Infrastructure("no crashes here".into()))
    }
    async fn wait_ready(&self) -> Result<(), TargetError> {
        Ok(())
    }
}

const SPEC: &str = r#"
[exercise]
name = "items"
title = "Items"
[submission]
port = 8080
[services.postgres]
database = "app"
user = "app"

[[checks]]
id = "batched-page"
title = "a page in one query"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /batched"
concurrent = 4
expect.status = 200
expect.work.statements = { le = 1 }
expect.work.rows_read = { le = 10 }

[[checks]]
id = "n-plus-one-page"
title = "a page in one query"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /n-plus-one"
expect.status = 200
expect.work.statements = { le = 3 }

[[checks]]
id = "batched-load"
title = "a page in one query, under load"
category = "performance"
points = 2
[[checks.steps]]
http = "GET /batched"
[checks.steps.load]
model = "closed"
connections = 2
duration = "1s"
thresholds = [
  { expr = "statements <= 1", points = 1 },
  { expr = "connections_opened <= 2", points = 1 },
]

[[checks]]
id = "n-plus-one-load"
title = "a page in one query, under load"
category = "performance"
points = 2
[[checks.steps]]
http = "GET /n-plus-one"
[checks.steps.load]
model = "closed"
connections = 2
duration = "1s"
thresholds = [
  { expr = "statements <= 1", points = 1 },
  { expr = "connections_opened <= 2", points = 1 },
]
"#;

fn check<'r>(results: &'r [CheckResult], id: &str) -> &'r CheckResult {
    results.iter().find(|c| c.id == id).unwrap()
}

fn figure(c: &CheckResult, name: &str) -> (f64, i64) {
    let f = c.work[0].figures.iter().find(|f| f.name == name).unwrap();
    (f.value, f.count)
}

#[tokio::test]
async fn work_bounds_pass_on_one_query_and_fail_on_a_query_per_row() {
    let pg = postgres().await;
    let options = PgConnectOptions::from_str(&pg.app()).unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .min_connections(2)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    let target = Arc::new(Items {
        addr: items_server(pool).await,
        admin_url: pg.admin(),
    });
    let ex = parse_exercise(Path::new("items.toml"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let config = RunConfig {
        seed: 7,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let results = run_checks(&ex, target.as_ref(), &config, |_| {}).await;

    let ok = check(&results, "batched-page");
    assert_eq!(ok.status, CheckStatus::Passed, "{:?}", ok.failure);
    assert_eq!(ok.work[0].requests, 4, "concurrent = 4 sends 4");
    assert_eq!(figure(ok, "statements"), (1.0, 4));
    assert_eq!(figure(ok, "rows_read"), (10.0, 40));
    let (pages, count) = figure(ok, "pages_read");
    assert!(pages > 0.0 && count > 0, "counted without a bound: {pages}");
    assert_eq!(figure(ok, "connections_opened"), (0.0, 0));

    let bad = check(&results, "n-plus-one-page");
    assert_eq!(bad.status, CheckStatus::Failed);
    assert_eq!(figure(bad, "statements"), (11.0, 11));
    let f = bad.failure.as_ref().unwrap();
    assert!(
        f.message.contains(
            "`statements` was 11 per request (11 statements over 1 requests), at most 3 expected: a query per row (N+1)?"
        ),
        "{}",
        f.message
    );
    let actual = f.actual.as_deref().unwrap();
    assert!(
        actual.contains("10× SELECT v FROM items WHERE id = $1"),
        "{actual}"
    );

    let ok = check(&results, "batched-load");
    assert_eq!(ok.status, CheckStatus::Passed, "{:?}", ok.failure);
    let w = &ok.work[0];
    assert!(w.requests >= ok.load.as_ref().unwrap().requests);
    assert!(w.requests > 10, "{}", w.requests);
    assert_eq!(figure(ok, "statements").0, 1.0);

    let bad = check(&results, "n-plus-one-load");
    assert_eq!(bad.status, CheckStatus::Failed);
    assert_eq!(bad.earned, 1.0, "the connections threshold still holds");
    assert_eq!(figure(bad, "statements").0, 11.0);
    let t = &bad.load.as_ref().unwrap().thresholds[0];
    assert!(
        !t.passed && t.actual.starts_with("11 per request ("),
        "{}",
        t.actual
    );
    assert!(
        bad.failure
            .as_ref()
            .unwrap()
            .message
            .contains("a query per row (N+1)?"),
        "{:?}",
        bad.failure
    );
}
