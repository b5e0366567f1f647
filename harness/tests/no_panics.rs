//! Property tests: no spec text and no response makes the grader panic. Specs come
//! from random text and from random edits of the real todo-api spec; responses are
//! random JSON checked against every kind of assertion.

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

mod support;

use std::path::Path;

use harness::exercise::parse_exercise;
use proptest::prelude::*;

fn todo_spec() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises/todo-api/spec.toml"),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in "\\PC{0,400}") {
        let _ = parse_exercise(Path::new("fuzz.toml"), &src);
    }

    #[test]
    fn edited_real_specs_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), "\\PC{0,12}", 0usize..40), 1..6)) {
        let mut src = todo_spec();
        for (at, insert, cut) in edits {
            let mut i = at.index(src.len().max(1));
            while !src.is_char_boundary(i) {
                i -= 1;
            }
            let mut end = (i + cut).min(src.len());
            while !src.is_char_boundary(end) {
                end -= 1;
            }
            src.replace_range(i..end, &insert);
        }
        let _ = parse_exercise(Path::new("exercises/todo-api/spec.toml"), &src);
    }

    #[test]
    fn template_text_never_panics(t in "\\PC{0,60}") {
        if let Ok(tpl) = harness::template::Template::parse(&t) {
            let mut ctx = harness::template::Context::new(1, "x");
            let _ = tpl.render(&mut ctx);
        }
    }
}

/// Arbitrary JSON documents.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every assertion kind, against whatever a server might answer.
    #[test]
    fn assertions_never_panic_on_any_response(body in json(), status in 100u16..600) {
        let src = r#"
[exercise]
name = "p"
title = "p"
[submission]
port = 8080
[[checks]]
id = "c"
title = "c"
category = "api"
points = 1
partial = true
vars = { v = 3 }
[[checks.steps]]
http = "POST /echo-json"
body = "x"
expect.status = [200, 201]
expect.headers.X-Any = { matches = "a", contains = "b", exists = true }
expect.jsonpath."$" = { count = 3, sorted = "asc", contains = 1, not_contains = "x" }
expect.jsonpath."$..a" = { type = "integer", gt = 1, le = 5, equals = "{{ v }}", matches = "^[0-9]$" }
expect.jsonpath."$[?@.a > 1]" = { exists = false, not_equals = [] }
expect.json_subset = { a = 1 }
expect.json = [1, 2]
expect.json_schema = { type = "array", items = { type = "integer" } }
expect.body_contains = "a"
expect.body_matches = "^\\["
capture = { w = "$[0]" }
[[checks.steps]]
http = "GET /x/{{ w }}"
"#;
        let ex = parse_exercise(Path::new("p.toml"), src).unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let target = support::Local { server: support::start().await, database_url: None };
            target.server.state.set_echo(status, body.to_string());
            let config = harness::RunConfig { seed: 1, public_base_url: "http://localhost:8080".into(), ..Default::default()
};
            let results = harness::run_checks(&ex, &target, &config, |_| {}).await;
            prop_assert_eq!(results.len(), 1);
            Ok(())
        })?;
    }
}
