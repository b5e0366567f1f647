//! Comparisons that follow the standards, against a raw TCP server that writes its
//! answers byte by byte: an absolute `Location` (RFC 9110 §10.2.2), a media type with
//! parameters (§8.3.1), header names in any case (§5.1), a chunked body and an
//! HTTP/1.0 answer delimited by closing the connection (RFC 9112 §6.3).

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::Path;
use std::time::Duration;

use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, Stopped, Target, TargetError, run_checks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a server that answers each connection once, then closes it. Its answers, by
/// path: `POST /chunked` a 201 in chunks with an absolute Location built from the Host
/// header; `POST /http10` an HTTP/1.0 201 with a relative Location and no length;
/// `GET /todos/7` an HTTP/1.0 200; `POST /elsewhere` a Location on another host.
async fn raw_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream));
        }
    });
    port
}

async fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    let host = header("host");
    let target = head.split(' ').nth(1).unwrap_or("").to_string();
    let json = r#"{"id":7,"title":"t","created_at":"2026-01-02T03:04:05+00:00"}"#;
    let reply = match target.as_str() {
        "/chunked" => {
            let (a, b) = json.split_at(10);
            format!(
                "HTTP/1.1 201 Created\r\nlOcAtIoN: http://{host}/todos/7\r\n\
                 content-TYPE: Application/JSON; charset=UTF-8\r\n\
                 Transfer-Encoding: chunked\r\n\r\n\
                 {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            )
        }
        "/http10" => format!(
            "HTTP/1.0 201 Created\r\nContent-Type: application/json;charset=utf-8\r\n\
             Location: /todos/7\r\nConnection: close\r\n\r\n{json}"
        ),
        "/todos/7" => format!(
            "HTTP/1.0 200 OK\r\nServer: WEBrick/1.8.1 (Ruby/3.1.2)\r\n\
             Content-Type: application/json\r\n\r\n{json}"
        ),
        _ => format!(
            "HTTP/1.1 201 Created\r\nLocation: http://other.example/todos/7\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ),
    };
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The raw server as a target with no lifecycle.
struct Raw(u16);

impl Target for Raw {
    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.0)
    }
    fn database_url(&self) -> Option<String> {
        None
    }
    async fn restart(&self, _grace: Duration) -> Result<Stopped, TargetError> {
        Ok(Stopped {
            after: Duration::ZERO,
            killed: false,
        })
    }
    async fn crash(&self) -> Result<(), TargetError> {
        Ok(())
    }
    async fn wait_ready(&self) -> Result<(), TargetError> {
        Ok(())
    }
}

async fn run(checks: &str) -> Vec<CheckResult> {
    let src =
        format!("[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = Raw(raw_server().await);
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    run_checks(&ex, &target, &config, |_| {}).await
}

/// A create answered in the given way: the Location names the todo (by path, then as
/// the exact URL), the body is JSON, and the Location can be followed.
fn create_check(path: &str) -> String {
    format!(
        r#"
[[checks]]
id = "create"
title = "create"
category = "api"
points = 1
[[checks.steps]]
http = "POST {path}"
json = {{ title = "t" }}
expect.status = 201
expect.headers.location = {{ url_path = '^/todos/[0-9]+$' }}
expect.headers.CONTENT-TYPE = {{ media_type = "application/json" }}
expect.jsonpath."$.id" = 7
capture = {{ loc = {{ header = "LOCATION" }}, id = "$.id" }}
[[checks.steps]]
http = "GET {{{{ loc }}}}"
expect.status = 200
expect.headers.Content-Type = {{ media_type = "application/json" }}
expect.jsonpath."$.id" = "{{{{ id }}}}"
[[checks.steps]]
http = "POST {path}"
json = {{ title = "t" }}
expect.headers.Location = {{ url = "/todos/{{{{ id }}}}" }}
"#
    )
}

#[tokio::test]
async fn chunked_and_http10_answers_with_either_location_form_pass() {
    for path in ["/chunked", "/http10"] {
        let results = run(&create_check(path)).await;
        let r = &results[0];
        assert_eq!(r.status, CheckStatus::Passed, "{path}: {:?}", r.failure);
    }
}

#[tokio::test]
async fn a_location_elsewhere_and_another_media_type_fail_with_what_was_expected() {
    let cases = [
        (
            "expect.headers.Location = { url_path = '^/todos/[0-9]+$' }",
            "a URL on http://127.0.0.1:",
            "http://other.example/todos/7",
        ),
        (
            r#"expect.headers.Location = { url = "/todos/7" }"#,
            "the URL <http://127.0.0.1:",
            "http://other.example/todos/7",
        ),
        (
            r#"expect.headers.Content-Type = { media_type = "application/json" }"#,
            "media type application/json (any parameters)",
            "text/plain",
        ),
    ];
    for (assertion, expected, actual) in cases {
        let results = run(&format!(
            "[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n\
             [[checks.steps]]\nhttp = \"POST /elsewhere\"\n{assertion}\n"
        ))
        .await;
        let r = &results[0];
        assert_eq!(r.status, CheckStatus::Failed, "{assertion} should fail");
        let f = r.failure.as_ref().unwrap();
        let (e, a) = (f.expected.clone().unwrap(), f.actual.clone().unwrap());
        assert!(e.starts_with(expected), "{assertion}: expected {e}");
        assert!(a.contains(actual), "{assertion}: actual {a}");
    }
}
