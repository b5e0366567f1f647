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
    let checks = format!(
        "[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n[[checks.steps]]\n{step}\n"
    );
    let results = run_echo(&checks, body).await;
    let r = only(&results);
    assert_eq!(r.status, CheckStatus::Failed, "{step} should fail");
    r.failure.clone().unwrap()
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
