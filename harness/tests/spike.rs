//! Load that fluctuates, scored: servers that get slow during a spike and recover, that
//! never recover, and that die mid-spike, against `recovery` and `error_rate` by stage;
//! and the timeline the profile is drawn from. The servers' slowness is large (300 ms
//! sleeps) against small bounds, so a busy machine does not change the verdicts.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

#[allow(dead_code)] // the shared module serves other test binaries too
mod support;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, run_checks};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const HEAD: &str = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n";

/// What the server does with a request that arrives this long after its first one.
#[derive(Clone, Copy)]
enum Phase {
    Fast,
    Slow,
    /// The listener closes and every connection is dropped: the server is gone.
    Dead,
}

/// A server whose behaviour follows the clock, from its first request on.
async fn phased(plan: fn(Duration) -> Phase) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first: Arc<std::sync::OnceLock<Instant>> = Arc::default();
    let (die, dead) = tokio::sync::watch::channel(false);
    let die = Arc::new(die);
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        let mut dead = dead;
        loop {
            let stream = tokio::select! {
                a = listener.accept() => match a {
                    Ok((s, _)) => s,
                    Err(_) => return,
                },
                _ = dead.changed() => break,
            };
            let (first, die) = (first.clone(), die.clone());
            conns.spawn(async move {
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let (first, die) = (first.clone(), die.clone());
                    async move {
                        let at = first.get_or_init(Instant::now).elapsed();
                        match plan(at) {
                            Phase::Fast => {}
                            Phase::Slow => tokio::time::sleep(Duration::from_millis(300)).await,
                            Phase::Dead => {
                                let _ = die.send(true);
                                std::future::pending::<()>().await;
                            }
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
        // Gone: the listener is dropped with this task, and every connection with it.
        conns.abort_all();
    });
    port
}

async fn grade(port: u16, checks: &str) -> (Vec<CheckResult>, Duration) {
    let src = format!("{HEAD}\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let config = RunConfig {
        seed: 5,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let start = Instant::now();
    let results = run_checks(&ex, &support::Port(port), &config, |_| {}).await;
    (results, start.elapsed())
}

/// A base of 40/s for 1 s, a spike, then 40/s again; thresholds on the spike's errors
/// and on the recovery after it.
fn spike_check(spike_rate: u32, after: &str, recovery: &str) -> String {
    format!(
        r#"
[[checks]]
id = "spike"
title = "spike"
category = "performance"
points = 2
[[checks.steps]]
http = "GET /"
[checks.steps.load]
rate = 40
connections = 100
timeout = "3s"
stages = [
  {{ name = "base", duration = "1s", rate = 40 }},
  {{ name = "spike", duration = "1s", rate = {spike_rate} }},
  {{ name = "after", duration = "{after}", rate = 40 }},
]
thresholds = [
  {{ expr = "error_rate < 1%", stage = "spike" }},
  {{ expr = "recovery < {recovery}", stage = "after" }},
]
"#
    )
}

#[tokio::test]
async fn a_server_slow_in_the_spike_that_recovers_gives_a_finite_recovery() {
    // Slow from 1 s (the spike) until 2.5 s: the first half second of `after`.
    let port = phased(|t| {
        if (1000..2500).contains(&t.as_millis()) {
            Phase::Slow
        } else {
            Phase::Fast
        }
    })
    .await;
    let (results, _) = grade(port, &spike_check(100, "4s", "3500ms")).await;
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
    let l = r.load.as_ref().unwrap();
    let after = &l.stages[2];
    let recovery = after.recovery_ms.expect("recovered");
    eprintln!("recovered {recovery} ms into `after`");
    assert!(
        (250..3500).contains(&recovery),
        "slow for the first 500 ms of `after`: {recovery} ms"
    );
    assert_eq!(
        l.stages[0].recovery_ms, None,
        "only named stages are measured"
    );
    assert_eq!(l.thresholds[1].actual, format!("{recovery}ms"));
    // The spike's slowness is on the timeline, in the windows it was due in.
    let t = l.timeline.as_ref().unwrap();
    assert_eq!(t.window_ms, 250);
    assert_eq!(t.windows.len(), 24, "6 s in windows of 250 ms");
    let names: Vec<_> = t.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["base", "spike", "after"]);
    assert_eq!((t.stages[1].start_ms, t.stages[1].end_ms), (1000, 2000));
    let slow = t.windows[5].p95_ms.unwrap();
    assert!(slow >= 250.0, "a spike window's p95: {slow} ms");
    assert_eq!(t.windows.iter().map(|w| w.due).sum::<u64>(), l.requests);
    assert_eq!(
        t.windows.iter().map(|w| w.answered).sum::<u64>(),
        l.requests
    );
    assert!(t.windows[4..8].iter().all(|w| w.due >= 20), "100/s asked");
}

#[tokio::test]
async fn a_hiccup_of_a_few_requests_late_in_after_is_not_a_lost_recovery() {
    // Slow in the spike only, and for 60 ms near the end of `after` (two or three
    // requests of a window of ten, as a busy machine's scheduler delays them).
    let port = phased(|t| match t.as_millis() {
        1000..2000 | 3200..3260 => Phase::Slow,
        _ => Phase::Fast,
    })
    .await;
    let (results, _) = grade(port, &spike_check(40, "1500ms", "1s")).await;
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
    let l = r.load.as_ref().unwrap();
    let t = l.timeline.as_ref().unwrap();
    let hiccup = t.windows[12..14]
        .iter()
        .filter_map(|w| w.p95_ms)
        .fold(0.0, f64::max);
    assert!(hiccup >= 250.0, "the hiccup's window: p95 {hiccup} ms");
    let recovery = l.stages[2].recovery_ms.expect("recovered");
    assert!(recovery < 1000, "{recovery} ms");
}

#[tokio::test]
async fn a_server_that_never_recovers_fails_recovery_and_says_so() {
    // Fast for the base stage, then slow for ever.
    let port = phased(|t| {
        if t.as_millis() < 1000 {
            Phase::Fast
        } else {
            Phase::Slow
        }
    })
    .await;
    let (results, _) = grade(port, &spike_check(100, "1500ms", "1s")).await;
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.earned, 1.0, "the spike's error-rate point holds");
    let l = r.load.as_ref().unwrap();
    assert_eq!(l.stages[2].recovery_ms, None);
    let t = &l.thresholds[1];
    assert!(!t.passed);
    assert_eq!(t.actual, "never");
    let message = &r.failure.as_ref().unwrap().message;
    assert!(
        message.contains(
            "recovery < 1s in stage `after` (measured never): latency did not come back after `spike`: the median was "
        ),
        "{message}"
    );
    assert!(message.contains("at the end of `after`, "), "{message}");
    assert!(message.contains(" in `base`"), "{message}");
}

#[tokio::test]
async fn a_server_that_dies_mid_spike_ends_in_bound_with_refused_errors_counted() {
    let port = phased(|t| {
        if t.as_millis() < 1250 {
            Phase::Fast
        } else {
            Phase::Dead
        }
    })
    .await;
    let later = r#"
[[checks]]
id = "later"
title = "later"
category = "api"
points = 1
[[checks.steps]]
http = "GET /"
expect.status = 200
"#;
    let checks = format!("{}{later}", spike_check(200, "1s", "1s"));
    let (results, took) = grade(port, &checks).await;
    eprintln!("the run took {took:?}");
    // 3 s of schedule, 3 s of request timeout, 2 s of slack; the later check's own
    // request fails at once (refused).
    assert!(took < Duration::from_secs(12), "{took:?}");
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.earned, 0.0);
    let l = r.load.as_ref().unwrap();
    assert!(
        l.aborted.is_none(),
        "the base stage succeeded: {:?}",
        l.aborted
    );
    let spike = &l.stages[1];
    let refused = spike.errors_by_kind.get("refused").copied().unwrap_or(0);
    assert!(refused >= 50, "{:?}", spike.errors_by_kind);
    assert!(l.stages[2].errors_by_kind.contains_key("refused"));
    assert_eq!(l.errors.values().sum::<u64>(), l.requests - l.ok);
    let message = &r.failure.as_ref().unwrap().message;
    assert!(
        message.contains("error_rate < 1% in stage `spike` (measured ")
            && message.contains("%): the server stopped answering: "),
        "{message}"
    );
    assert!(
        message.contains("the server did not come back after `spike`: ")
            && message.contains("the server stopped answering: ")
            && message.contains(" connection refused"),
        "{message}"
    );
    // The check after it runs and fails on its own.
    let next = &results[1];
    assert_eq!(next.id, "later");
    assert_eq!(next.status, CheckStatus::Failed);
    assert!(next.load.is_none());
}

#[tokio::test]
async fn the_timeline_covers_the_warmup_and_a_closed_model() {
    let port = phased(|_| Phase::Fast).await;
    let (results, _) = grade(
        port,
        r#"
[[checks]]
id = "steady"
title = "steady"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /"
load = { rate = 100, warmup = "500ms", duration = "1s", thresholds = ["error_rate < 1%"] }

[[checks]]
id = "closed"
title = "closed"
category = "performance"
points = 1
[[checks.steps]]
http = "GET /"
load = { model = "closed", connections = 2, duration = "600ms", thresholds = ["error_rate < 1%"] }
"#,
    )
    .await;
    let l = results[0].load.as_ref().unwrap();
    let t = l.timeline.as_ref().unwrap();
    let names: Vec<_> = t.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["warm-up", "steady"]);
    assert_eq!(t.windows.len(), 6);
    // The warm-up's requests are on the timeline, not in the figures.
    let all: u64 = t.windows.iter().map(|w| w.due).sum();
    assert_eq!(all, 150);
    assert_eq!(l.requests, 100);
    let c = results[1].load.as_ref().unwrap();
    let t = c.timeline.as_ref().unwrap();
    assert!(t.stages.is_empty());
    assert_eq!(t.windows.iter().map(|w| w.due).sum::<u64>(), c.requests);
}
