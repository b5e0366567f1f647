//! The runner against a real in-process HTTP server: each assertion kind passes when it
//! should and fails with a message that says what differed.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

mod support;

use std::path::Path;

use harness::exercise::parse_exercise;
use harness::{CheckResult, CheckStatus, RunConfig, run_checks};

const HEAD: &str = r#"
[exercise]
name = "toy"
title = "Toy"
[submission]
port = 8080
"#;

async fn run(checks: &str) -> (Vec<CheckResult>, support::Local) {
    let src = format!("{HEAD}\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let config = RunConfig {
        seed: 42,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let results = run_checks(&ex, &target, &config, |_| {}).await;
    (results, target)
}

fn only(results: &[CheckResult]) -> &CheckResult {
    assert_eq!(results.len(), 1);
    &results[0]
}

/// A spec's one check (id `c`), with `keys` for the check (`cookies = true`) and its
/// `steps`, the first of which the `[[checks.steps]]` header here opens.
fn check_of(keys: &str, steps: &str) -> String {
    format!(
        "[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n{keys}[[checks.steps]]\n{steps}\n"
    )
}

fn one_check(steps: &str) -> String {
    check_of("", steps)
}

/// The one check passed.
fn passed(results: &[CheckResult]) {
    let r = only(results);
    assert_eq!(r.status, CheckStatus::Passed, "{}: {:?}", r.id, r.failure);
}

/// The failure of the one check, which must have failed.
fn failed(results: &[CheckResult], what: &str) -> harness::Failure {
    let r = only(results);
    assert_eq!(r.status, CheckStatus::Failed, "{what} should fail");
    r.failure.clone().unwrap()
}

#[tokio::test]
async fn status_header_and_jsonpath_pass() {
    let (results, _) = run(r#"
[[checks]]
id = "create"
title = "create"
category = "api"
points = 2
vars = { name = "{{ gen.word }}" }
[[checks.steps]]
http = "POST /items"
json = { name = "{{ name }}" }
expect.status = 201
expect.headers.Location = { matches = '^/items/\d+$' }
expect.headers.Content-Type = "application/json"
expect.headers.X-Missing = { exists = false }
expect.jsonpath."$.id" = { type = "integer", ge = 1 }
expect.jsonpath."$.name" = "{{ name }}"
expect.jsonpath."$.tags" = { count = 2, contains = "a", not_contains = "z", sorted = "asc" }
capture = { id = "$.id", loc = { header = "Location" } }
[[checks.steps]]
http = "GET {{ loc }}"
expect.status = "2xx"
expect.jsonpath."$.id" = "{{ id }}"
[[checks.steps]]
http = "GET /text"
expect.status = [200, 203]
expect.headers.X-Trace = { contains = "abc", not_equals = "x" }
"#)
    .await;
    let r = only(&results);
    assert_eq!(r.status, CheckStatus::Passed, "{:?}", r.failure);
    assert_eq!(r.earned, 2.0);
}

#[tokio::test]
async fn wrong_status_names_expected_and_actual_with_curl() {
    let (results, _) = run(r#"
[[checks]]
id = "create"
title = "create"
category = "api"
points = 2
[[checks.steps]]
http = "POST /items"
json = { name = "x" }
expect.status = 200
"#)
    .await;
    let r = only(&results);
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.earned, 0.0);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.step, 1);
    assert_eq!(f.location, "toy.toml:14");
    assert_eq!(f.expected.as_deref(), Some("status <200>"));
    assert_eq!(f.actual.as_deref(), Some("status <201>"));
    assert_eq!(
        f.request.as_deref(),
        Some(
            r#"curl -i -X POST http://localhost:8080/items -H 'Content-Type: application/json' --data-raw '{"name":"x"}'"#
        )
    );
    assert!(
        f.response.as_deref().unwrap().starts_with("HTTP 201\n"),
        "{:?}",
        f.response
    );
}

#[tokio::test]
async fn each_failing_assertion_kind_is_reported() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"expect.jsonpath."$.name" = "y""#,
            r#"string <"y">"#,
            r#"string <"x">"#,
        ),
        (
            r#"expect.jsonpath."$.id" = { type = "string" }"#,
            "a value of type string",
            "int <1>",
        ),
        (
            r#"expect.jsonpath."$.nope" = { exists = true }"#,
            "a value",
            "nothing",
        ),
        (
            r#"expect.jsonpath."$.tags" = { count = 3 }"#,
            "count <3>",
            "count <2>",
        ),
        (
            r#"expect.jsonpath."$.tags" = { sorted = "desc" }"#,
            "descending order",
            r#"array <["a","b"]>"#,
        ),
        (
            r#"expect.jsonpath."$.tags" = { contains = "q" }"#,
            r#"something containing string <"q">"#,
            r#"array <["a","b"]>"#,
        ),
        (
            r#"expect.jsonpath."$.id" = { gt = 5 }"#,
            "a number > 5",
            "int <1>",
        ),
        (
            r#"expect.jsonpath."$.name" = { matches = "^z" }"#,
            "a match of /^z/",
            r#"string <"x">"#,
        ),
        (
            r#"expect.headers.Location = "/elsewhere""#,
            r#"string <"/elsewhere">"#,
            r#"string <"/items/1">"#,
        ),
        (
            r#"expect.headers.X-Nope = { exists = true }"#,
            "a value",
            "nothing",
        ),
    ];
    for (assertion, expected, actual) in cases {
        let (results, _) = run(&format!(
            "[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"POST /items\"\njson = {{ name = \"x\" }}\n{assertion}\n"
        ))
        .await;
        let r = only(&results);
        assert_eq!(r.status, CheckStatus::Failed, "{assertion} should fail");
        let f = r.failure.as_ref().unwrap();
        assert_eq!(
            f.expected.as_deref(),
            Some(*expected),
            "{assertion}: {}",
            f.message
        );
        assert_eq!(
            f.actual.as_deref(),
            Some(*actual),
            "{assertion}: {}",
            f.message
        );
    }
}

#[tokio::test]
async fn non_json_body_and_timeouts_fail_clearly() {
    let (results, _) = run(r#"
[[checks]]
id = "text"
title = "text"
category = "api"
points = 1
[[checks.steps]]
http = "GET /text"
expect.jsonpath."$.x" = 1

[[checks]]
id = "slow"
title = "slow"
category = "api"
points = 1
[[checks.steps]]
http = "GET /slow"
timeout = "300ms"

[[checks]]
id = "slow-check"
title = "slow check"
category = "api"
points = 1
timeout = "500ms"
[[checks.steps]]
http = "GET /slow"
"#)
    .await;
    let f = results[0].failure.as_ref().unwrap();
    assert!(
        f.message.contains("the response body is not JSON"),
        "{}",
        f.message
    );
    assert_eq!(f.actual.as_deref(), Some("hello world"));
    let f = results[1].failure.as_ref().unwrap();
    assert_eq!(f.message, "GET /slow: no response within 300ms");
    let f = results[2].failure.as_ref().unwrap();
    assert!(
        f.message.contains("did not finish within 0.5s"),
        "{}",
        f.message
    );
    assert!(results.iter().all(|r| r.status == CheckStatus::Failed));
}

#[tokio::test]
async fn concurrent_distinct_capture_and_for_each() {
    let (results, target) = run(r#"
[[checks]]
id = "many"
title = "many"
category = "concurrency"
points = 3
[[checks.steps]]
http = "POST /items"
concurrent = 20
json = { name = "n{{ i }}" }
expect.status = 201
expect.distinct = "$.id"
capture = { ids = "$.id" }
[[checks.steps]]
http = "GET /items/{{ item }}"
for_each = "ids"
expect.status = 200
expect.jsonpath."$.id" = "{{ item }}"
[[checks.steps]]
http = "GET /items"
expect.jsonpath."$" = { count = 20 }
expect.jsonpath."$[*].name" = { contains = "n19" }

[[checks]]
id = "dupes"
title = "dupes"
category = "concurrency"
points = 1
[[checks.steps]]
http = "POST /items"
concurrent = 3
json = { name = "same" }
expect.distinct = "$.name"
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let f = results[1].failure.as_ref().unwrap();
    assert!(
        f.message.contains("two responses share $.name"),
        "{}",
        f.message
    );
    drop(target);
}

#[tokio::test]
async fn query_parameters_are_encoded() {
    let (results, _) = run(r#"
[[checks]]
id = "q"
title = "q"
category = "api"
points = 1
[[checks.steps]]
http = "GET /echo-query"
query = { a = "x y&z", b = "1" }
expect.jsonpath."$.query" = "a=x%20y%26z&b=1"
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
}

#[tokio::test]
async fn lifecycle_steps_call_the_target() {
    let (results, target) = run(r#"
[[checks]]
id = "restart"
title = "restart"
category = "persistence"
points = 1
[[checks.steps]]
action = "restart"
[[checks.steps]]
action = "wait_ready"

[[checks]]
id = "crash"
title = "crash"
category = "persistence"
points = 1
[[checks.steps]]
action = "crash"
"#)
    .await;
    assert_eq!(results[0].status, CheckStatus::Passed);
    assert_eq!(
        target
            .server
            .state
            .restarts
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let f = results[1].failure.as_ref().unwrap();
    assert_eq!(
        f.message,
        "after a crash (SIGKILL, then start): the server exited with code 137"
    );
}

#[tokio::test]
async fn connection_refused_is_named() {
    let src = format!(
        "{HEAD}\n[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\nhttp = \"GET /health\"\n"
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap();
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let results = run_checks(&ex, &support::Port::unused(), &config, |_| {}).await;
    let f = results[0].failure.as_ref().unwrap();
    assert!(f.message.contains("connection refused"), "{}", f.message);
    assert_eq!(
        f.request.as_deref(),
        Some("curl -i http://localhost:8080/health")
    );
}

#[tokio::test]
async fn same_seed_same_requests() {
    let checks = r#"
[[checks]]
id = "r"
title = "r"
category = "api"
points = 1
[[checks.steps]]
http = "POST /items"
json = { name = "{{ gen.name }} {{ gen.int(1, 1000000) }}" }
expect.status = 500
"#;
    let (a, _) = run(checks).await;
    let (b, _) = run(checks).await;
    let fa = a[0].failure.as_ref().unwrap();
    let fb = b[0].failure.as_ref().unwrap();
    assert_eq!(fa.request, fb.request);
}

#[tokio::test]
async fn whole_body_assertions_pass_and_fail_with_a_diff() {
    let ok = r#"
[[checks]]
id = "body"
title = "body"
category = "api"
points = 1
[[checks.steps]]
http = "POST /items"
json = { name = "x" }
expect.json = { id = 1, name = "x", tags = ["a", "b"] }
expect.json_subset = { name = "x", tags = ["a", "b"] }
expect.json_schema = { type = "object", required = ["id", "name"], properties = { id = { type = "integer" } } }
"#;
    let (results, _) = run(ok).await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );

    let (results, _) = run(&ok.replace(
        r#"expect.json = { id = 1, name = "x","#,
        r#"expect.json = { id = 1, name = "y","#,
    ))
    .await;
    let f = results[0].failure.as_ref().unwrap();
    assert!(f.message.contains("the JSON body differs"), "{}", f.message);
    let diff = f.diff.as_deref().unwrap();
    assert!(
        diff.contains("-  \"name\": \"y\"") && diff.contains("+  \"name\": \"x\""),
        "{diff}"
    );

    let (results, _) = run(&ok.replace(
        r#"expect.json_subset = { name = "x", tags = ["a", "b"] }"#,
        r#"expect.json_subset = { tags = ["a"] }"#,
    ))
    .await;
    let f = results[0].failure.as_ref().unwrap();
    assert_eq!(
        f.message,
        "POST /items: the JSON body lacks what is expected: `$.tags` has 2 item(s), expected 1"
    );

    let (results, _) = run(&ok.replace(
        r#"required = ["id", "name"]"#,
        r#"required = ["id", "email"]"#,
    ))
    .await;
    let f = results[0].failure.as_ref().unwrap();
    assert!(
        f.message.contains("does not match the schema") && f.message.contains("email"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn body_text_time_and_form() {
    let (results, _) = run(r#"
[[checks]]
id = "text"
title = "text"
category = "api"
points = 1
[[checks.steps]]
http = "GET /text"
expect.body_contains = "world"
expect.body_matches = '^hello'
expect.max_time = "2s"
[[checks.steps]]
http = "POST /echo"
form = { a = "1 2", b = "x" }
expect.jsonpath."$.body" = "a=1%202&b=x"
expect.jsonpath."$.content_type" = "application/x-www-form-urlencoded"

[[checks]]
id = "contains"
title = "contains"
category = "api"
points = 1
[[checks.steps]]
http = "GET /text"
expect.body_contains = "bye"

[[checks]]
id = "slow"
title = "slow"
category = "api"
points = 1
[[checks.steps]]
http = "GET /slow"
expect.max_time = "1s"
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let f = results[1].failure.as_ref().unwrap();
    assert_eq!(
        f.expected.as_deref(),
        Some(r#"a body containing string <"bye">"#)
    );
    assert_eq!(f.actual.as_deref(), Some("hello world"));
    let f = results[2].failure.as_ref().unwrap();
    assert!(
        f.message.contains("more than the 1000 ms allowed"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn needs_partial_credit_and_hidden() {
    let (results, _) = run(r#"
[[checks]]
id = "broken"
title = "broken"
category = "api"
points = 1
[[checks.steps]]
http = "GET /health"
expect.status = 500

[[checks]]
id = "ok"
title = "ok"
category = "api"
points = 1
[[checks.steps]]
http = "GET /health"

[[checks]]
id = "dependent"
title = "dependent"
category = "api"
points = 2
needs = ["ok", "broken"]
[[checks.steps]]
http = "GET /health"

[[checks]]
id = "runs"
title = "runs"
category = "api"
points = 1
needs = ["ok"]
visibility = "hidden"
[[checks.steps]]
http = "GET /health"

[[checks]]
id = "partial"
title = "partial"
category = "api"
points = 4
partial = true
[[checks.steps]]
http = "GET /health"
[[checks.steps]]
http = "GET /health"
expect.status = 418
[[checks.steps]]
http = "GET /health"
[[checks.steps]]
http = "GET /health"
"#)
    .await;
    assert_eq!(results[2].status, CheckStatus::Skipped);
    assert_eq!(
        results[2].failure.as_ref().unwrap().message,
        "skipped: it needs `broken` to pass first"
    );
    assert_eq!(results[3].status, CheckStatus::Passed);
    assert!(results[3].hidden && !results[0].hidden);
    let p = &results[4];
    assert_eq!(p.status, CheckStatus::Failed);
    assert_eq!(p.earned, 3.0);
    let f = p.failure.as_ref().unwrap();
    assert!(
        f.message
            .starts_with("3 of 4 steps passed; GET /health: status 200"),
        "{}",
        f.message
    );
    assert_eq!(f.step, 2);
}

#[tokio::test]
async fn concurrent_sequences_keep_their_own_captures() {
    let (results, _) = run(r#"
[[checks]]
id = "seq"
title = "seq"
category = "concurrency"
points = 1
[[checks.steps]]
concurrent = 8
sequence = [
  { http = "POST /items", json = { name = "client {{ i }}" }, expect.status = 201, capture = { id = "$.id", name = "$.name" } },
  { http = "GET /items/{{ id }}", expect.status = 200, expect.jsonpath."$.name" = "{{ name }}" },
]
[[checks.steps]]
http = "GET /items"
expect.jsonpath."$" = { count = 8 }

[[checks]]
id = "seq-fails"
title = "seq fails"
category = "concurrency"
points = 1
[[checks.steps]]
concurrent = 3
sequence = [{ http = "GET /health" }, { http = "GET /nope", expect.status = 200 }]
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let f = results[1].failure.as_ref().unwrap();
    assert!(
        f.message.starts_with("3 of 3 concurrent clients failed; client 1 at request 2 of the sequence: GET /nope: status 404"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn numbers_from_templates_status_lists_with_classes_and_sleep() {
    let (results, _) = run(r#"
[[checks]]
id = "ok"
title = "ok"
category = "api"
points = 1
vars = { two = 2, one = "1" }
[[checks.steps]]
http = "POST /items"
json = { name = "a" }
expect.status = [200, "2xx"]
expect.jsonpath."$.tags" = { count = "{{ two }}" }
expect.jsonpath."$.id" = { ge = "{{ one }}", lt = "{{ gen.int(1000, 2000) }}" }
[[checks.steps]]
sleep = "50ms"
[[checks.steps]]
http = "GET /items/999999"
expect.status = ["4xx", 500]

[[checks]]
id = "bad"
title = "bad"
category = "api"
points = 1
vars = { three = 3 }
[[checks.steps]]
http = "POST /items"
json = { name = "a" }
expect.jsonpath."$.tags" = { count = "{{ three }}" }
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let f = results[1].failure.as_ref().unwrap();
    assert_eq!(results[1].status, CheckStatus::Failed);
    assert!(
        f.message.contains("has 2 item(s), expected 3"),
        "{}",
        f.message
    );
    assert_eq!(f.expected.as_deref(), Some("count <3>"));
}

#[tokio::test]
async fn concurrent_steps_count_statuses() {
    let (results, _) = run(r#"
[[checks]]
id = "counts"
title = "counts"
category = "api"
points = 1
vars = { five = 5 }
[[checks.steps]]
http = "POST /items"
concurrent = 5
json = { name = "n{{ i }}" }
expect.statuses = { "201" = "{{ five }}", "4xx" = 0 }

[[checks]]
id = "wrong"
title = "wrong"
category = "api"
points = 1
[[checks.steps]]
http = "POST /items"
concurrent = 4
json = { name = "n{{ i }}" }
expect.statuses = { "201" = 1, "409" = 3 }
"#)
    .await;
    assert_eq!(
        results[0].status,
        CheckStatus::Passed,
        "{:?}",
        results[0].failure
    );
    let f = results[1].failure.as_ref().unwrap();
    assert!(
        f.message
            .contains("4 concurrent requests: 4 answered 201, expected 1 (all answers: 4 × 201)"),
        "{}",
        f.message
    );
    assert_eq!(f.expected.as_deref(), Some("1 × 201"));
}

#[test]
fn statuses_belong_to_concurrent_steps() {
    let src = format!(
        "{HEAD}\n{}",
        r#"
[[checks]]
id = "c"
title = "c"
category = "api"
points = 1
[[checks.steps]]
http = "GET /health"
expect.statuses = { "2x1" = 1 }
"#
    );
    let err = parse_exercise(Path::new("toy.toml"), &src)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("counts the responses of a `concurrent` step"),
        "{err}"
    );
    assert!(err.contains("`2x1` is not a status code"), "{err}");
}

/// Runs `checks` against the toy server answering `body` to `POST /echo-json`.
async fn run_echo(checks: &str, body: &str) -> Vec<CheckResult> {
    let src = format!("{HEAD}\n{checks}");
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    target.server.state.set_echo(200, body.to_string());
    let config = RunConfig {
        seed: 42,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    run_checks(&ex, &target, &config, |_| {}).await
}

/// The one failure of a one-check run of `step` against `body`.
async fn failure_of(step: &str, body: &str) -> harness::Failure {
    failed(&run_echo(&one_check(step), body).await, step)
}

/// The one failure of a one-check run of `step` against the toy server.
async fn failure_of_run(step: &str) -> harness::Failure {
    failed(&run(&one_check(step)).await.0, step)
}

const LINK: &str =
    r#"{"code": "abc", "url": "https://x.example/", "hits": "100", "tags": ["a"], "n": null}"#;

/// A value of another JSON type is named as such wherever values are compared, never as
/// a wrong or missing value.
#[tokio::test]
async fn a_type_mismatch_says_so_wherever_values_are_compared() {
    let int = r#"POST /echo-json: `$.hits` is a string ("100"), an integer was expected"#;
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            r#"expect.jsonpath."$.hits" = 100"#,
            int,
            "int <100>",
            r#"string <"100">"#,
        ),
        (
            r#"expect.jsonpath."$.hits" = { type = "integer" }"#,
            int,
            "a value of type integer",
            r#"string <"100">"#,
        ),
        (
            r#"expect.jsonpath."$.hits" = { ge = 1 }"#,
            r#"POST /echo-json: `$.hits` is a string ("100"), a number was expected"#,
            "a number >= 1",
            r#"string <"100">"#,
        ),
        (
            r#"expect.json_subset = { url = "https://x.example/", hits = 100 }"#,
            int,
            "int <100>",
            r#"string <"100">"#,
        ),
        (
            r#"expect.json = { code = "abc", url = "https://x.example/", hits = 100, tags = ["a"], n = 1 }"#,
            int,
            "int <100>",
            r#"string <"100">"#,
        ),
        (
            r#"expect.jsonpath."$.n" = { matches = "^x" }"#,
            "POST /echo-json: `$.n` is null, a string was expected",
            "a match of /^x/",
            "null",
        ),
        (
            r#"expect.jsonpath."$.tags" = "a""#,
            r#"POST /echo-json: `$.tags` is an array (["a"]), a string was expected"#,
            r#"string <"a">"#,
            r#"array <["a"]>"#,
        ),
    ];
    for (assertion, message, expected, actual) in cases {
        let f = failure_of(&format!("http = \"POST /echo-json\"\n{assertion}"), LINK).await;
        assert_eq!(f.message, *message, "{assertion}");
        assert_eq!(f.expected.as_deref(), Some(*expected), "{assertion}");
        assert_eq!(f.actual.as_deref(), Some(*actual), "{assertion}");
    }
    // A wrong value of the right type is still a wrong value; a missing key is missing.
    let f = failure_of(
        "http = \"POST /echo-json\"\nexpect.json_subset = { code = \"abd\" }",
        LINK,
    )
    .await;
    assert_eq!(
        f.message,
        r#"POST /echo-json: the JSON body lacks what is expected: `$.code`: expected string <"abd">, got string <"abc">"#
    );
    let f = failure_of(
        "http = \"POST /echo-json\"\nexpect.json_subset = { created_at = \"x\" }",
        LINK,
    )
    .await;
    assert_eq!(f.message, "POST /echo-json: `$.created_at` is missing");
}

/// The diff of a whole-body comparison marks only what differs: not the keys a subset
/// leaves out, not keys in another order, not 1.0 where 1 was expected.
#[tokio::test]
async fn a_body_diff_marks_only_what_differs() {
    let changed = |diff: &str| -> Vec<String> {
        diff.lines()
            .filter(|l| {
                (l.starts_with('-') || l.starts_with('+'))
                    && !l.starts_with("---")
                    && !l.starts_with("+++")
            })
            .map(str::to_string)
            .collect()
    };
    let f = failure_of(
        "http = \"POST /echo-json\"\nexpect.json_subset = { url = \"https://x.example/\", hits = 100 }",
        LINK,
    )
    .await;
    let diff = f.diff.unwrap();
    assert_eq!(
        changed(&diff),
        [r#"-  "hits": 100"#, r#"+  "hits": "100""#],
        "{diff}"
    );
    assert!(!diff.contains("code") && !diff.contains("tags"), "{diff}");

    let body = r#"{"n": 1.0, "hits": 2, "code": "abc"}"#;
    let f = failure_of(
        "http = \"POST /echo-json\"\nexpect.json = { code = \"abc\", hits = 3, n = 1 }",
        body,
    )
    .await;
    assert_eq!(
        f.message,
        "POST /echo-json: the JSON body differs from the expected one: `$.hits`: expected int <3>, got int <2>"
    );
    let diff = f.diff.unwrap();
    assert_eq!(
        changed(&diff),
        [r#"-  "hits": 3,"#, r#"+  "hits": 2,"#],
        "{diff}"
    );

    let f = failure_of(
        "http = \"POST /echo-json\"\nexpect.json = { code = \"abc\" }",
        r#"{"code": "abc", "extra": true}"#,
    )
    .await;
    assert_eq!(
        f.message,
        "POST /echo-json: the JSON body differs from the expected one: `$.extra` is not expected: the body has a boolean (true) there"
    );
}

/// A hint is shown only for the failures it is about.
#[tokio::test]
async fn hints_follow_the_evidence() {
    let step = |expect: &str, hint: &str| {
        format!("http = \"POST /echo-json\"\ntimeout = \"300ms\"\nhint = {hint}\n{expect}")
    };
    let plain = r#""Count each hit.""#;
    let cases: &[(String, Option<&str>)] = &[
        // A plain hint: a status, a wrong value, a missing value, a stated type.
        (step("expect.status = 201", plain), Some("Count each hit.")),
        (
            step(r#"expect.jsonpath."$.code" = "x""#, plain),
            Some("Count each hit."),
        ),
        (
            step(r#"expect.jsonpath."$.nope" = 1"#, plain),
            Some("Count each hit."),
        ),
        (
            step(r#"expect.jsonpath."$.hits" = { type = "integer" }"#, plain),
            Some("Count each hit."),
        ),
        // ...never a type mismatch found while comparing values.
        (step(r#"expect.jsonpath."$.hits" = 100"#, plain), None),
        (step("expect.json_subset = { hits = 100 }", plain), None),
        // An assertion's own hint wins, for the failures it is about.
        (
            step(
                r#"expect.jsonpath."$.code" = { equals = "x", hint = "Keep the code." }"#,
                plain,
            ),
            Some("Keep the code."),
        ),
        (
            step(
                r#"expect.jsonpath."$.hits" = { equals = 100, hint = "Count atomically." }"#,
                plain,
            ),
            None,
        ),
        // A table: the text of the failure's kind only.
        (
            step(
                r#"expect.status = 200
expect.jsonpath."$.hits" = 100"#,
                r#"{ status = "Answer 200.", type = "hits is a number." }"#,
            ),
            Some("hits is a number."),
        ),
        (
            step(
                "expect.status = 201",
                r#"{ status = "Answer 201.", value = "Count each hit." }"#,
            ),
            Some("Answer 201."),
        ),
        (
            step(
                r#"expect.status = 200
expect.jsonpath."$.code" = "x""#,
                r#"{ status = "Answer 200." }"#,
            ),
            None,
        ),
    ];
    for (s, hint) in cases {
        let f = failure_of(s, LINK).await;
        assert_eq!(f.hint.as_deref(), *hint, "{s}\n{}", f.message);
    }
    // No answer: no hint, whatever it says.
    let f = failure_of(
        "http = \"GET /slow\"\ntimeout = \"300ms\"\nhint = \"Count each hit.\"\nexpect.status = 200",
        LINK,
    )
    .await;
    assert_eq!(f.message, "GET /slow: no response within 300ms");
    assert_eq!(f.hint, None);
}

#[tokio::test]
async fn a_server_killed_after_sigterm_loses_the_check_with_the_reason() {
    let src = format!(
        r#"{HEAD}
[[checks]]
id = "restart"
title = "restart"
category = "persistence"
points = 2
[[checks.steps]]
http = "GET /health"
[[checks.steps]]
action = "restart"
grace = "3s"

[[checks]]
id = "again"
title = "again"
category = "persistence"
points = 1
[[checks.steps]]
action = "restart"
"#
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap();
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let config = RunConfig::default();
    let ignores = &target.server.state.ignores_sigterm;
    ignores.store(true, std::sync::atomic::Ordering::SeqCst);
    let results = run_checks(&ex, &target, &config, |_| {}).await;
    let r = &results[0];
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.earned, 0.0);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(
        f.message,
        "did not exit within 3s of SIGTERM: it was killed; handle SIGTERM: stop accepting, finish in-flight requests, exit"
    );
    assert_eq!(f.step, 2);
    assert_eq!(r.shutdowns.len(), 1);
    assert_eq!(
        (
            r.shutdowns[0].step,
            r.shutdowns[0].exit_ms,
            r.shutdowns[0].killed
        ),
        (2, 3000, true)
    );
    // The default grace period is 5s.
    assert!(
        results[1]
            .failure
            .as_ref()
            .unwrap()
            .message
            .starts_with("did not exit within 5s of SIGTERM")
    );

    ignores.store(false, std::sync::atomic::Ordering::SeqCst);
    let results = run_checks(&ex, &target, &config, |_| {}).await;
    assert_eq!(results[0].status, CheckStatus::Passed);
    assert_eq!(results[0].shutdowns[0].exit_ms, 30);
    assert!(!results[0].shutdowns[0].killed);
}

#[tokio::test]
async fn a_database_left_down_is_started_at_the_check_end() {
    let src = format!(
        r#"{HEAD}
[services.postgres]

[[checks]]
id = "down"
title = "down"
category = "persistence"
points = 1
[[checks.steps]]
db = "stop"
[[checks.steps]]
http = "GET /missing"
expect.status = 200

[[checks]]
id = "bounce"
title = "bounce"
category = "persistence"
points = 1
[[checks.steps]]
db = "restart"
down = "10ms"
[[checks.steps]]
http = "GET /health"
retry = "2s"
"#
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap();
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let results = run_checks(&ex, &target, &RunConfig::default(), |_| {}).await;
    let state = &target.server.state;
    let count = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(results[0].status, CheckStatus::Failed);
    assert_eq!(results[1].status, CheckStatus::Passed);
    // Stopped by each check; started by the first's end and by the second's step.
    assert_eq!((count(&state.db_stops), count(&state.db_starts)), (2, 2));
}

#[tokio::test]
async fn a_retried_step_reports_its_last_failure() {
    let started = std::time::Instant::now();
    let (results, _) = run(r#"
[[checks]]
id = "retry"
title = "retry"
category = "api"
points = 1
[[checks.steps]]
http = "GET /missing"
expect.status = 200
retry = "1s"
"#)
    .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let f = results[0].failure.as_ref().unwrap();
    assert!(
        f.message.starts_with("still failing after 1s of retries: "),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn only_runs_the_chosen_checks_and_what_they_need() {
    let src = format!(
        "{HEAD}\n{}",
        r#"
[[checks]]
id = "base"
title = "base"
category = "api"
points = 1
[[checks.steps]]
http = "GET /health"
expect.status = 200

[[checks]]
id = "other"
title = "other"
category = "api"
points = 1
[[checks.steps]]
http = "GET /health"
expect.status = 200

[[checks]]
id = "chosen"
title = "chosen"
category = "api"
points = 1
needs = ["base"]
[[checks.steps]]
http = "GET /health"
expect.status = 200
"#
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let target = support::Local {
        server: support::start().await,
        database_url: None,
    };
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        only: Some(vec!["chosen".into()]),
        ..Default::default()
    };
    let results = run_checks(&ex, &target, &config, |_| {}).await;
    let got: Vec<(&str, CheckStatus)> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
    assert_eq!(
        got,
        [
            ("base", CheckStatus::Passed),
            ("other", CheckStatus::Skipped),
            ("chosen", CheckStatus::Passed)
        ]
    );
    assert_eq!(
        results[1].failure.as_ref().unwrap().message,
        harness::NOT_SELECTED
    );
}

/// `not` over a real answer: it holds where what it wraps does not, and its failure says
/// what was not wanted and what came, with the request.
#[tokio::test]
async fn not_negates_any_assertion() {
    let steps = r#"http = "POST /echo-json"
expect.jsonpath."$.code" = { not = { matches = "^tmp" }, type = "string" }
expect.jsonpath."$.tags" = { not = { count = 0 } }
expect.jsonpath."$.gone" = { not = { exists = true } }"#;
    passed(&run_echo(&one_check(steps), LINK).await);
    let f = failure_of(
        r#"http = "POST /echo-json"
expect.jsonpath."$.code" = { not = "abc", hint = "codes are never abc" }"#,
        LINK,
    )
    .await;
    assert!(
        f.message
            .contains(r#"`$.code`: expected not string <"abc">, got string <"abc">"#),
        "{}",
        f.message
    );
    assert_eq!(f.hint.as_deref(), Some("codes are never abc"));
}

/// Captures of the status, a cookie, part of a header and part of a JSON value, used
/// by the next step; a regex that does not match names the capture and the value.
#[tokio::test]
async fn status_cookie_and_regex_captures() {
    let steps = r#"http = "POST /login"
capture = { code = { status = true }, session = { cookie = "session" }, id = { header = "Location", regex = '/(\d+)$' }, day = { jsonpath = "$.expires", regex = '^\d{4}-\d{2}-\d{2}' } }
[[checks.steps]]
http = "GET /echo-query"
query = { code = "{{ code }}", session = "{{ session }}", id = "{{ id }}", day = "{{ day }}" }
expect.jsonpath."$.query" = "code=201&session=s3cr3t-42&id=42&day=2026-12-01""#;
    passed(&run(&one_check(steps)).await.0);

    let bad = r#"http = "POST /login"
capture = { id = { header = "Location", regex = '/users/(\d+)' } }"#;
    let f = failure_of_run(bad).await;
    assert!(
        f.message.contains(
            r#"cannot capture `id`: //users/(\d+)/ does not match string <"/sessions/42">"#
        ),
        "{}",
        f.message
    );
    let missing = bad.replace(
        r#"{ header = "Location", regex = '/users/(\d+)' }"#,
        r#"{ cookie = "token" }"#,
    );
    let f = failure_of_run(&missing).await;
    assert!(
        f.message
            .contains("cannot capture `id`: the response has no Set-Cookie for `token`"),
        "{}",
        f.message
    );
}

/// `retry = { for, every }`: tried again at that interval until it passes or the time is
/// up (each try here creates an item, so the items are the tries).
#[tokio::test]
async fn a_retry_table_sets_the_interval() {
    let (results, target) = run(&one_check(
        r#"http = "POST /items"
json = { name = "x" }
expect.status = 200
retry = { for = "2s", every = "1s" }"#,
    ))
    .await;
    let f = failed(&results, "a step that never passes");
    assert!(
        f.message.starts_with("still failing after 2s of retries: "),
        "{}",
        f.message
    );
    let tries = target.server.state.item_count();
    assert!(
        (2..=3).contains(&tries),
        "{tries} tries in 2 s, one a second (every 0.5 s would be 5)"
    );
}

/// A gzip-encoded answer is judged on what it says, not on its compressed bytes.
#[tokio::test]
async fn a_gzip_body_is_judged_decoded() {
    let steps = r#"http = "GET /gzip"
headers = { Accept-Encoding = "gzip" }
expect.headers.Content-Encoding = "gzip"
expect.jsonpath."$.items" = { count = 3 }"#;
    passed(&run(&one_check(steps)).await.0);
}

/// Computed values from captures go into the next request.
#[tokio::test]
async fn computed_values_use_captures() {
    let steps = r#"http = "GET /gzip"
capture = { items = "$.items", first = "$.items[0]" }
[[checks.steps]]
http = "GET /echo-query"
query = { n = "{{ len(items) * 10 }}", next = "{{ first + len(items) }}" }
expect.jsonpath."$.query" = "n=30&next=4""#;
    passed(&run(&one_check(steps)).await.0);
}

/// `cookies = true`: what a response sets goes with the check's later requests, a
/// cookie that expires leaves the jar, and without it no cookie is sent.
#[tokio::test]
async fn a_check_with_cookies_keeps_a_jar() {
    let steps = r#"http = "POST /login"
[[checks.steps]]
http = "GET /whoami"
expect.jsonpath."$.cookie" = "theme=dark; session=s3cr3t-42"
[[checks.steps]]
http = "GET /whoami"
headers = { Cookie = "mine=1" }
expect.jsonpath."$.cookie" = "mine=1"
[[checks.steps]]
http = "POST /logout"
[[checks.steps]]
http = "GET /whoami"
expect.jsonpath."$.cookie" = { type = "null" }"#;
    passed(&run(&check_of("cookies = true\n", steps)).await.0);
    let f = failed(&run(&one_check(steps)).await.0, "without a jar");
    assert!(
        f.message
            .contains("GET /whoami: `$.cookie` is null, a string was expected"),
        "{}",
        f.message
    );
}

/// Binary and multipart bodies reach a real server as the standards spell them.
#[tokio::test]
async fn binary_and_multipart_bodies() {
    let steps = r#"http = "POST /echo"
body_base64 = "AP9oaQ=="
expect.jsonpath."$.content_type" = "application/octet-stream"
expect.jsonpath."$.body" = "\u0000\uFFFDhi"
[[checks.steps]]
http = "POST /echo"
multipart = { title = "{{ title }}", upload = { file = "line one\nline two", filename = "notes.txt", content_type = "text/plain" }, raw = { base64 = "AAE=" } }
expect.jsonpath."$.content_type" = "multipart/form-data; boundary=grader-boundary-5f3a9c1e7b2d"
expect.jsonpath."$.body" = "--grader-boundary-5f3a9c1e7b2d\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\na \"quoted\" title\r\n--grader-boundary-5f3a9c1e7b2d\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\nline two\r\n--grader-boundary-5f3a9c1e7b2d\r\nContent-Disposition: form-data; name=\"raw\"\r\nContent-Type: application/octet-stream\r\n\r\n\u0000\u0001\r\n--grader-boundary-5f3a9c1e7b2d--\r\n""#;
    let vars = "vars = { title = \"a \\\"quoted\\\" title\" }\n";
    passed(&run(&check_of(vars, steps)).await.0);
}

/// A `[[setup]]` runs first in each check that names it, and what it captures is the
/// check's.
#[tokio::test]
async fn a_setup_runs_first_in_each_check_that_names_it() {
    let checks = r#"[[setup]]
id = "two-items"
vars = { name = "first" }
[[setup.steps]]
http = "POST /items"
json = { name = "{{ name }}" }
capture = { first = "$.id" }
[[setup.steps]]
http = "POST /items"
json = { name = "second" }

[[checks]]
id = "a"
title = "a"
category = "api"
points = 1
setup = ["two-items"]
[[checks.steps]]
http = "GET /items/{{ first }}"
expect.jsonpath."$.name" = "{{ name }}"

[[checks]]
id = "b"
title = "b"
category = "api"
points = 1
setup = ["two-items"]
[[checks.steps]]
http = "GET /items"
expect.jsonpath."$" = { count = 4 }
"#;
    let (results, target) = run(checks).await;
    for r in &results {
        assert_eq!(r.status, CheckStatus::Passed, "{}: {:?}", r.id, r.failure);
    }
    assert_eq!(target.server.state.item_count(), 4, "two items per check");
    let err = parse_exercise(
        Path::new("toy.toml"),
        &format!(
            "{HEAD}\n{}",
            checks.replace(
                "setup = [\"two-items\"]\n[[checks.steps]]\nhttp = \"GET /items\"\n",
                "setup = [\"two-item\"]\n[[checks.steps]]\nhttp = \"GET /items\"\n"
            )
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`setup` names `two-item`, which is no earlier [[setup]]")
            && err.contains("did you mean `two-items`?"),
        "{err}"
    );
}

/// `pages`: each next page in turn, by a body's URL or a Link header; captures join
/// over the pages; a next page that never ends fails with the reason.
#[tokio::test]
async fn pages_are_followed_until_the_last() {
    let steps = r#"http = "GET /pages"
pages = { next = "$.next" }
expect.jsonpath."$.items" = { count = 3 }
capture = { ids = "$.items[*]", next = "$.next" }
[[checks.steps]]
http = "GET /echo-query"
query = { n = "{{ len(ids) }}", last = "{{ gen.pick(ids) }}" }
expect.jsonpath."$.query" = { matches = '^n=9&last=[1-9]$' }
[[checks.steps]]
http = "GET /linked"
pages = { next = "link", max = 3 }
capture = { linked = "$.items[*]" }
[[checks.steps]]
http = "GET /echo-query"
query = { n = "{{ len(linked) }}" }
expect.jsonpath."$.query" = "n=9""#;
    passed(&run(&one_check(steps)).await.0);
    let f = failure_of_run(
        r#"http = "GET /endless"
pages = { next = "$.next", max = 5 }"#,
    )
    .await;
    assert!(
        f.message
            .contains("GET /endless: still a next page after 5 pages"),
        "{}",
        f.message
    );
}

/// `tcp`: raw bytes to a real server; its answer (or its silence) judged as JSON.
#[tokio::test]
async fn raw_tcp_requests_are_judged_by_what_came_back() {
    let steps = r#"tcp = "GET /health HTTP/1.1\r\nHost: grader\r\n\r\n"
expect.jsonpath."$.status" = 200
expect.jsonpath."$.headers['content-type']" = "application/json"
expect.jsonpath."$.body" = { contains = "ok" }
capture = { code = "$.status" }
[[checks.steps]]
tcp = "NOT A REQUEST LINE\r\n\r\n"
expect.jsonpath."$.status" = { ge = 400, lt = 500 }
[[checks.steps]]
tcp = "GET /health HTTP/1.1\r\nHost: grader\r\n"
timeout = "300ms"
expect.jsonpath."$.timed_out" = true
expect.jsonpath."$.bytes" = 0"#;
    passed(&run(&one_check(steps)).await.0);
    let f = failure_of_run(
        r#"tcp = "NOT A REQUEST LINE\r\n\r\n"
expect.jsonpath."$.status" = 200"#,
    )
    .await;
    assert!(
        f.message
            .contains("`$.status`: expected int <200>, got int <400>"),
        "{}",
        f.message
    );
    assert!(
        f.request
            .as_deref()
            .unwrap()
            .starts_with("printf 'NOT A REQUEST LINE\\r\\n\\r\\n' | nc 127.0.0.1 "),
        "{:?}",
        f.request
    );
}

/// `sse`: a real event stream that never ends is read until enough events have come
/// (or the time is up), and the events are what the step judges.
#[tokio::test]
async fn server_sent_events_are_read_and_judged() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for i in 1..=3 {
                    let ev = format!(": tick\nevent: job\nid: {i}\ndata: {{\"n\": {i}}}\n\n");
                    if s.write_all(ev.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                // Then silence, the connection open: a stream never ends by itself.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    let src = format!(
        "{HEAD}\n{}",
        one_check(
            r#"http = "GET /events"
sse = { events = 2, within = "5s" }
expect.headers.Content-Type = { media_type = "text/event-stream" }
expect.jsonpath."$" = { count = 2 }
expect.jsonpath."$[1].event" = "job"
expect.jsonpath."$[1].id" = "2"
capture = { first = "$[0].data" }
[[checks.steps]]
http = "GET /events"
sse = { events = 5, within = "400ms" }
expect.jsonpath."$" = { count = 5 }"#
        )
    );
    let ex = parse_exercise(Path::new("toy.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    let config = RunConfig {
        seed: 1,
        public_base_url: "http://localhost:8080".into(),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let results = run_checks(&ex, &support::Port(port), &config, |_| {}).await;
    let f = only(&results).failure.clone().unwrap();
    assert!(
        f.message
            .contains("GET /events: `$` has 3 item(s), expected 5"),
        "the first step passed, the second saw only the 3 events sent: {}",
        f.message
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "it stops at `within`, not at the end of the 30 s of silence"
    );
}

/// A `value` step judges a computed value (date math, arithmetic on captures) like any
/// JSON document: it passes when its value holds, and a failure names the value, what
/// was expected and the expression.
#[tokio::test]
async fn a_value_step_judges_date_math_on_captures() {
    let lease = r#"{"created_at": "2026-12-07T10:00:00Z", "lease_expires_at": "2026-12-07T10:00:06.5Z", "ids": [4, 5, 6]}"#;
    let capture = r#"http = "POST /echo-json"
capture = { created = "$.created_at", expires = "$.lease_expires_at", ids = "$.ids" }"#;
    let holds = one_check(&format!(
        r#"{capture}
[[checks.steps]]
value = "{{{{ date(expires) - date(created) }}}}"
expect.jsonpath."$" = {{ ge = 6, le = 7 }}
[[checks.steps]]
value = "{{{{ len(ids) * 10 }}}}"
expect.jsonpath."$" = 30
capture = {{ n = "$" }}
[[checks.steps]]
value = "{{{{ n + 1 }}}}"
expect.jsonpath."$" = {{ not = 30 }}"#
    ));
    passed(&run_echo(&holds, lease).await);

    let short = one_check(&format!(
        r#"{capture}
[[checks.steps]]
value = "{{{{ date(expires) - date(created) }}}}"
expect.jsonpath."$" = {{ ge = 20, hint = "A lease lasts LEASE_SECONDS." }}"#
    ));
    let f = failed(&run_echo(&short, lease).await, "a lease of 6.5 s, not 20");
    assert_eq!(f.message, "`$`: expected a number >= 20, got float <6.5>");
    assert_eq!(f.expected.as_deref(), Some("a number >= 20"), "{f:?}");
    assert_eq!(
        f.request.as_deref(),
        Some("the value {{ date(expires) - date(created) }}"),
        "{f:?}"
    );
    assert_eq!(f.hint.as_deref(), Some("A lease lasts LEASE_SECONDS."));
}

/// A `value` step that judges nothing, or carries what belongs to a request, is an error.
#[test]
fn a_value_step_must_judge_and_takes_no_request_fields() {
    let err = |step: &str| {
        let src = format!("{HEAD}\n{}", one_check(step));
        parse_exercise(Path::new("toy.toml"), &src)
            .expect_err("an error")
            .to_string()
    };
    let e = err(r#"value = "{{ 1 + 2 }}""#);
    assert!(e.contains("a `value` step judges nothing"), "{e}");
    let e = err("value = \"{{ 1 + 2 }}\"\nexpect.jsonpath.\"$\" = 3\nretry = \"5s\"");
    assert!(
        e.contains("`retry` does not belong in a `value` step"),
        "{e}"
    );
    let e = err("value = \"{{ 1 + 2 }}\"\nexpect.jsonpath.\"$\" = 3\ntimeout = \"5s\"");
    assert!(
        e.contains("`timeout` does not belong in a `value` step"),
        "{e}"
    );
    let e = err("value = \"{{ nothing }}\"\nexpect.jsonpath.\"$\" = 3");
    assert!(e.contains("nothing"), "{e}");
}
