//! `tcp` steps that send like a slow client (`send = { bytes, every }`), against real
//! in-process servers: one that waits for the whole request and answers it, and one
//! that closes a connection whose request is not finished within a short limit.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, Target, run_checks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEAD: &str = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n";

/// A whole request to `/health`: 38 bytes.
const REQUEST: &str = r#"GET /health HTTP/1.1\r\nHost: grader\r\n\r\n"#;
const REQUEST_BYTES: usize = 38;

async fn run_on(target: &impl Target, steps: &str) -> CheckResult {
    let src = format!(
        "{HEAD}[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\n{steps}\n"
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let mut results = run_checks(&ex, target, &config, |_| {}).await;
    assert_eq!(results.len(), 1);
    results.remove(0)
}

fn passed(r: &CheckResult) {
    assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
}

/// A server that reads the request however slowly it comes answers it: the grader sends
/// every byte, paced, and reads the whole answer.
#[tokio::test]
async fn a_slow_request_is_sent_byte_by_byte_and_answered() {
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let started = Instant::now();
    let r = run_on(
        &target,
        &format!(
            r#"tcp = "{REQUEST}"
send = {{ bytes = 1, every = "20ms" }}
timeout = "5s"
expect.jsonpath."$.status" = 200
expect.jsonpath."$.body" = {{ contains = "ok" }}
expect.jsonpath."$.closed" = false
expect.jsonpath."$.timed_out" = false
expect.jsonpath."$.sent" = {REQUEST_BYTES}"#
        ),
    )
    .await;
    passed(&r);
    // 37 pauses of 20 ms: the bytes really went one by one (no upper bound: the
    // machine may be busy).
    assert!(
        started.elapsed() >= Duration::from_millis(37 * 20),
        "{:?}",
        started.elapsed()
    );
}

/// A server that gives a request 300 ms to arrive whole, then closes the connection
/// without an answer.
async fn impatient_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                let limit = tokio::time::Instant::now() + Duration::from_millis(300);
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout_at(limit, s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => return, // too slow, or gone: close
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    port
}

/// A server that closes a slow client's connection: the close is the answer (`closed`,
/// no status), the grader stops sending there (`sent` short of the request), and the
/// same request sent at once is answered.
#[tokio::test]
async fn a_server_that_closes_a_slow_client_is_judged_by_its_close() {
    let target = support::Port(impatient_server().await);
    let slow = format!(
        r#"tcp = "{REQUEST}"
send = {{ bytes = 1, every = "100ms" }}
timeout = "8s""#
    );
    let started = Instant::now();
    let r = run_on(
        &target,
        &format!(
            r#"{slow}
expect.jsonpath."$.closed" = true
expect.jsonpath."$.timed_out" = false
expect.jsonpath."$.status" = {{ type = "null" }}
expect.jsonpath."$.bytes" = 0
expect.jsonpath."$.sent" = {{ ge = 1, lt = {REQUEST_BYTES} }}
[[checks.steps]]
tcp = "{REQUEST}"
expect.jsonpath."$.status" = 200
expect.jsonpath."$.sent" = {REQUEST_BYTES}"#
        ),
    )
    .await;
    passed(&r);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "sending stops at the close, not after the 3.7 s the whole request takes: {:?}",
        started.elapsed()
    );

    // Expecting an answer: the failure shows the document and the slow client as a
    // command to paste.
    let r = run_on(
        &target,
        &format!(
            r#"{slow}
expect.jsonpath."$.status" = 408"#
        ),
    )
    .await;
    assert_eq!(r.status, CheckStatus::Failed);
    let f = r.failure.unwrap();
    assert!(
        f.message
            .contains("`$.status` is null, an integer was expected"),
        "{}",
        f.message
    );
    let shown = f.response.unwrap_or_default();
    assert!(
        shown.contains(r#""closed":true"#) && shown.contains(r#""status":null"#),
        "{shown}"
    );
    let request = f.request.unwrap();
    assert!(
        request.starts_with(
            "# a slow client: 1 byte every 100ms\nprintf 'GET /health HTTP/1.1\\r\\nHost: grader\\r\\n\\r\\n' | perl -e '$| = 1; while (read STDIN, $c, 1) { print $c; select undef, undef, undef, 0.1 }' | nc 127.0.0.1 "
        ),
        "{request}"
    );
}

/// docs/spec.md's slow-client example is a valid step.
#[test]
fn the_documented_slow_client_parses() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec.md"))
            .unwrap();
    let example = docs
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("send = {"))
        .expect("docs/spec.md has a `send` example");
    let src = format!(
        "{HEAD}[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n{example}"
    );
    let ex = parse_exercise(Path::new("spec.md"), &src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ex.checks[0].steps.len(), 1);
}
