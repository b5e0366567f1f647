//! The load step against a real in-process server: figures, thresholds with partial
//! credit, stages, stalls that only the open model's corrected latency sees, and a dead
//! server that ends the step quickly.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

mod support;

use std::path::Path;

use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, run_checks};

const HEAD: &str = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n";

async fn run(checks: &str) -> Vec<CheckResult> {
    let src = format!("{HEAD}\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let config = RunConfig {
        seed: 7,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    run_checks(&ex, &target, &config, |_| {}).await
}

#[tokio::test]
async fn open_model_meets_thresholds_and_reports_figures() {
    let results = run(r#"
[[checks]]
id = "perf"
title = "perf"
category = "performance"
points = 3
[[checks.steps]]
http = "POST /items"
json = { name = "seed" }
capture = { id = "$.id" }
[[checks.steps]]
load = { rate = 200, duration = "1s", warmup = "200ms", connections = 10, thresholds = ["p95 < 500ms", "error_rate < 1%", "rate >= 0.9 * target"] }
http = "GET /items/{{ id }}"
"#)
    .await;
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
    let l = r.load.as_ref().unwrap();
    assert_eq!(l.model, "open");
    assert_eq!(l.target_rate, Some(200.0));
    assert!((150..=210).contains(&l.requests), "{} requests", l.requests);
    assert_eq!(l.ok, l.requests);
    assert!(l.achieved_rate > 150.0, "{}", l.achieved_rate);
    assert!(l.latency_ms.p50 > 0.0 && l.latency_ms.p50 <= l.latency_ms.p99);
    assert!(l.uncorrected_ms.is_some());
    assert_eq!(l.histogram.iter().map(|b| b.count).sum::<u64>(), l.requests);
    assert_eq!(l.thresholds.len(), 3);
    assert!(l.thresholds.iter().all(|t| t.passed));
}

#[tokio::test]
async fn stalls_show_in_corrected_latency_and_cost_points() {
    let results = run(r#"
[[checks]]
id = "stall"
title = "stall"
category = "performance"
points = 4
[[checks.steps]]
load = { rate = 400, duration = "2s", connections = 4, thresholds = [{ expr = "p99 < 20ms", points = 3 }, { expr = "error_rate < 1%", points = 1 }] }
http = "GET /stally"
"#)
    .await;
    let r = &results[0];
    let l = r.load.as_ref().unwrap();
    // A 100 ms stall each second: the open model sees it from the scheduled send time.
    assert!(
        l.latency_ms.p99 >= 50.0,
        "corrected p99 {} ms",
        l.latency_ms.p99
    );
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.earned, 1.0, "the error-rate threshold's point is earned");
    let f = r.failure.as_ref().unwrap();
    assert!(
        f.message
            .contains("1 of 2 load thresholds failed: p99 < 20ms (measured"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn stages_ramp_and_closed_model() {
    let results = run(r#"
[[checks]]
id = "stages"
title = "stages"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /health"
[checks.steps.load]
rate = 50
connections = 8
stages = [{ name = "ramp", duration = "1s", target = 150 }, { name = "spike", duration = "500ms", rate = 400 }, { name = "after", duration = "1s", rate = 100 }]
thresholds = [{ expr = "p95 < 200ms", stage = "after" }]

[[checks]]
id = "closed"
title = "closed"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /health"
load = { model = "closed", connections = 4, duration = "500ms", thresholds = ["rate > 100"] }
"#)
    .await;
    let l = results[0].load.as_ref().unwrap();
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let names: Vec<_> = l.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ramp", "spike", "after"]);
    assert_eq!(l.stages[0].target_rate, Some(100.0));
    assert!(
        (180..=205).contains(&l.stages[1].requests),
        "{}",
        l.stages[1].requests
    );
    assert_eq!(l.thresholds[0].stage.as_deref(), Some("after"));
    let c = results[1].load.as_ref().unwrap();
    assert_eq!(
        results[1].status,
        CheckStatus::Passed,
        "{:?}",
        results[1].failure
    );
    assert_eq!(c.model, "closed");
    assert!(c.target_rate.is_none() && c.uncorrected_ms.is_none());
    assert!(c.requests > 50);
}

/// One GET load step against the server on `port`; `load` is the step's load table.
async fn load_on(port: u16, load: &str) -> Vec<CheckResult> {
    let src = format!(
        "{HEAD}\n[[checks]]\nid = \"load\"\ntitle = \"load\"\ncategory = \"performance\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /\"\nload = {load}\n"
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap();
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    run_checks(&ex, &support::Port(port), &config, |_| {}).await
}

#[tokio::test]
async fn a_dead_server_ends_the_step_quickly() {
    let start = std::time::Instant::now();
    let results = load_on(
        support::Port::unused().0,
        r#"{ rate = 100, duration = "30s" }"#,
    )
    .await;
    let f = results[0].failure.as_ref().unwrap();
    assert!(
        f.message
            .contains("the load stopped early: no request succeeded within 3s"),
        "{}",
        f.message
    );
    assert!(f.message.contains("refused"), "{}", f.message);
    assert!(
        results[0]
            .load
            .as_ref()
            .unwrap()
            .errors
            .contains_key("refused")
    );
    // Not the configured 30 s. (How long it took is printed, not asserted on.)
    eprintln!("dead server: step ended after {:?}", start.elapsed());
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn requests_to_a_silent_server_time_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let results = load_on(
        port,
        r#"{ rate = 50, duration = "2s", connections = 4, timeout = "300ms" }"#,
    )
    .await;
    let l = results[0].load.as_ref().unwrap();
    assert!(
        l.errors.get("timeout").copied().unwrap_or(0) >= 4,
        "{:?}",
        l.errors
    );
    assert_eq!(l.ok, 0);
    assert!(
        results[0]
            .failure
            .as_ref()
            .unwrap()
            .message
            .contains("timeout")
    );
}

#[tokio::test]
async fn a_weighted_mix_sends_each_request_in_its_share() {
    let src = format!(
        "{HEAD}\n{}",
        r#"
[[checks]]
id = "mix"
title = "mix"
category = "performance"
points = 1
[[checks.steps]]
http = "POST /items"
json = { name = "seed" }
capture = { first = "$.id" }
[[checks.steps]]
http = "POST /items"
json = { name = "seed" }
capture = { second = "$.id" }
[[checks.steps]]
[checks.steps.load]
rate = 400
duration = "1s"
connections = 8
thresholds = ["error_rate < 1%"]
mix = [
  { weight = 9, http = "GET /items/{{ first }}" },
  { weight = 1, http = "POST /items", json = { name = "{{ gen.word }} {{ second }}" } },
]
"#
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let config = RunConfig {
        seed: 3,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let results = run_checks(&ex, &target, &config, |_| {}).await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let l = results[0].load.as_ref().unwrap();
    // The POSTs the load made: every item after the two made in setup.
    let posts = target.server.state.item_count() - 2;
    let share = posts as f64 / l.requests as f64;
    eprintln!(
        "mix: {posts} POSTs of {} requests ({:.1}%)",
        l.requests,
        share * 100.0
    );
    assert!((0.04..=0.17).contains(&share), "POST share {share}");
}

/// A server that answers each connection once and closes it: HTTP/1.0 with the body
/// delimited by the close, or HTTP/1.1 with `Connection: close`.
async fn closing_server(reply: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn servers_that_close_after_each_answer_are_loaded_without_errors() {
    let replies = [
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\": 1}",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 9\r\n\r\n{\"id\": 1}",
        // chunked, with a chunk extension and a trailer
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4;x=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-Sum: 6\r\n\r\n",
        // an interim answer first
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ];
    for reply in replies {
        let port = closing_server(reply).await;
        let results = load_on(
            port,
            r#"{ rate = 200, duration = "1s", connections = 4, thresholds = ["error_rate < 0.1%"] }"#,
        )
        .await;
        let l = results[0].load.as_ref().unwrap();
        assert!(l.errors.is_empty(), "{reply:?}: {:?}", l.errors);
        assert!(l.ok >= 150, "{reply:?}: only {} answers", l.ok);
        assert_eq!(results[0].status, CheckStatus::Passed, "{reply:?}");
    }
}

/// A keep-alive server: answers every request on a connection with `reply` (framed, so
/// the connection stays open) and closes a connection idle for 50 ms, as servers with a
/// short keep-alive timeout do. Counts the connections it accepted.
async fn keep_alive_server(
    reply: &'static str,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        head.drain(..end + 4);
                        if s.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    let idle = std::time::Duration::from_millis(50);
                    match tokio::time::timeout(idle, s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return, // idle too long, or closed: the connection ends
                    }
                }
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn connections_a_server_closes_while_idle_are_replaced_without_errors() {
    // Four connections at 20 requests/s: each is idle about 200 ms between requests,
    // longer than the server keeps it; its answers are chunked.
    let (port, accepted) = keep_alive_server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    )
    .await;
    let results = load_on(
        port,
        r#"{ rate = 20, duration = "2s", connections = 4, thresholds = ["error_rate < 0.1%"] }"#,
    )
    .await;
    let l = results[0].load.as_ref().unwrap();
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    assert!(l.ok >= 35, "only {} answers", l.ok);
    assert_eq!(results[0].status, CheckStatus::Passed);
    let accepted = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        accepted > 8,
        "the idle connections were replaced: {accepted} connections"
    );
}

#[tokio::test]
async fn answers_that_break_http_are_counted_as_errors_of_their_kind() {
    // Too large a body, a broken chunk, a head with a line that is not a header: each
    // request fails with an `other` error; a connection reset before any answer is a
    // `reset`.
    let big: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        )
        .into_boxed_str(),
    );
    let cases: [(&'static str, &str); 3] = [
        (big, "other"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
            "other",
        ),
        ("HTTP/1.1 200 OK\r\nnot a header\r\n\r\n", "other"),
    ];
    for (reply, kind) in cases {
        let port = closing_server(reply).await;
        let results = load_on(
            port,
            r#"{ rate = 20, duration = "1s", connections = 2, thresholds = ["error_rate < 0.1%"] }"#,
        )
        .await;
        let l = results[0].load.as_ref().unwrap();
        assert_eq!(l.ok, 0, "{reply:?}");
        let keys: Vec<&String> = l.errors.keys().collect();
        assert_eq!(keys, [kind], "{reply:?}: {:?}", l.errors);
        assert_eq!(results[0].status, CheckStatus::Failed, "{reply:?}");
    }
}
