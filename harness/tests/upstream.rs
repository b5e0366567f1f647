//! The upstream mock on loopback: routes, templates, call counts and modes.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use harness::exercise::{UpstreamMode, parse_exercise};
use harness::probe::Mock;
use harness::probe::{ProbeRequest, Prober};

const SPEC: &str = r#"
[exercise]
name = "mock"
title = "mock"
[submission]
[services.upstream]
[[services.upstream.routes]]
path = "/quotes/{symbol}"
json = { symbol = "{{ symbol }}", version = "{{ calls }}" }
[[services.upstream.routes]]
method = "POST"
path = "/slow"
status = 202
delay = "300ms"
body = "later"
[[checks]]
id = "c"
title = "c"
category = "api"
points = 1
[[checks.steps]]
upstream_calls = "/quotes/x"
expect.jsonpath."$.count" = 0
"#;

fn get(path: &str) -> ProbeRequest {
    ProbeRequest {
        method: http::Method::GET,
        path_and_query: path.into(),
        headers: vec![],
        body: None,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn the_mock_answers_counts_and_switches_modes() {
    let ex = parse_exercise(std::path::Path::new("mock.toml"), SPEC).unwrap();
    let mock = Mock::start(
        "127.0.0.1:0".parse().unwrap(),
        ex.upstream.as_ref().unwrap(),
        7,
    )
    .await
    .unwrap();
    let base = format!("http://{}", mock.addr());
    let p = Prober::new();

    for version in 1..=2 {
        let r = p.send(&base, &get("/quotes/ab%20c?x=1")).await.unwrap();
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, serde_json::json!({"symbol": "ab c", "version": version}));
    }
    assert_eq!(mock.calls("/quotes/ab%20c"), 2);
    assert_eq!(mock.calls("/quotes/other"), 0);

    let r = p.send(&base, &get("/nothing/here")).await.unwrap();
    assert_eq!(r.status, 404);
    // The method matters.
    let r = p.send(&base, &get("/slow")).await.unwrap();
    assert_eq!(r.status, 404);
    let mut post = get("/slow");
    post.method = http::Method::POST;
    let start = Instant::now();
    let r = p.send(&base, &post).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (202, &b"later"[..]));
    assert!(start.elapsed() >= Duration::from_millis(300));

    mock.set_mode(UpstreamMode::Fail);
    let r = p.send(&base, &get("/quotes/abc")).await.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(mock.calls("/quotes/abc"), 1, "failed calls count too");

    mock.set_mode(UpstreamMode::Slow(Duration::from_millis(400)));
    let start = Instant::now();
    let r = p.send(&base, &get("/quotes/abc")).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(400));

    mock.set_mode(UpstreamMode::Ok);
    assert_eq!(mock.total_calls(), 7);
}

#[test]
fn upstream_steps_need_the_service() {
    let spec = r#"
[exercise]
name = "x"
title = "x"
[submission]
[[checks]]
id = "c"
title = "c"
category = "api"
points = 1
[[checks.steps]]
upstream = "slw"
[[checks.steps]]
redis = "GET k"
"#;
    let err = parse_exercise(std::path::Path::new("x.toml"), spec)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown upstream mode `slw`"), "{err}");
    assert!(err.contains("did you mean `slow`?"), "{err}");
    assert!(err.contains("declare `[services.redis]`"), "{err}");
}
