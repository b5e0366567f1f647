//! Broken specs and the errors they must produce: the position, the message and the
//! "did you mean".

#![allow(clippy::unwrap_used)] // tests may panic: that is how they fail

use std::path::Path;

use harness::exercise::parse_exercise;

const HEAD: &str = "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n[submission]\nport = 8080\n";
// HEAD is 5 lines; the check header below takes lines 6-10, so a step starts at 11.
const CHECK: &str = "[[checks]]\nid = \"c\"\ntitle = \"c\"\ncategory = \"api\"\npoints = 1\n";

/// Parses HEAD + CHECK + `step` and returns the rendered errors.
fn errors(step: &str) -> String {
    let src = format!("{HEAD}{CHECK}{step}");
    match parse_exercise(Path::new("bad.toml"), &src) {
        Ok(_) => panic!("expected an error for:\n{step}"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "missing {p:?} in:\n{text}");
    }
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.stauts = 200\n");
    assert_has(
        &text,
        &[
            "unknown field `stauts`",
            "--> bad.toml:13:8",
            "did you mean `status`?",
        ],
    );
}

#[test]
fn wrong_type() {
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nconcurrent = \"many\"\n");
    assert_has(
        &text,
        &[
            "invalid type: string \"many\", expected i64",
            "bad.toml:13:",
        ],
    );
}

#[test]
fn unknown_variable_with_suggestion() {
    let text = errors(
        "vars = { title = \"x\" }\n[[checks.steps]]\nhttp = \"POST /t\"\njson = { title = \"{{ titel }}\" }\n",
    );
    assert_has(
        &text,
        &[
            "unknown variable `titel`",
            "bad.toml:14:",
            "did you mean `title`?",
        ],
    );
}

#[test]
fn variable_used_before_capture() {
    let text = errors(
        "[[checks.steps]]\nhttp = \"GET /t/{{ id }}\"\n[[checks.steps]]\nhttp = \"POST /t\"\ncapture = { id = \"$.id\" }\n",
    );
    assert_has(&text, &["unknown variable `id`", "bad.toml:12:"]);
}

#[test]
fn bad_jsonpath() {
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.jsonpath.\"$..[\" = 1\n");
    assert_has(&text, &["`$..[` is not a valid JSONPath", "bad.toml:13:"]);
}

#[test]
fn bad_regex() {
    let text = errors(
        "[[checks.steps]]\nhttp = \"GET /\"\nexpect.headers.Location = { matches = \"(\" }\n",
    );
    assert_has(&text, &["bad regex", "bad.toml:13:"]);
}

#[test]
fn unknown_generator() {
    let text = errors("[[checks.steps]]\nhttp = \"POST /\"\njson = { a = \"{{ gen.emial }}\" }\n");
    assert_has(
        &text,
        &["unknown generator `gen.emial`", "did you mean `gen.email`?"],
    );
}

#[test]
fn unknown_action_and_predicate() {
    let text = errors("[[checks.steps]]\naction = \"restrat\"\n");
    assert_has(
        &text,
        &[
            "unknown action `restrat`",
            "did you mean `restart`?",
            "bad.toml:12:10",
        ],
    );
    let text =
        errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.jsonpath.\"$.a\" = { equal = 1 }\n");
    assert_has(
        &text,
        &["unknown assertion `equal`", "did you mean `equals`?"],
    );
}

#[test]
fn step_kind_must_be_one() {
    let text = errors("[[checks.steps]]\nexpect.status = 200\n");
    assert_has(
        &text,
        &[
            "a step needs one of `http` (a load is an `http` step with a `load` table), `sql`, `exec`, `action`, `db`, `sleep`, `redis`, `tcp`, `upstream`, `upstream_calls`, `value` or `sequence`",
            "bad.toml:11:1",
        ],
    );
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nsql = \"SELECT 1\"\n");
    assert_has(
        &text,
        &[
            "a step has exactly one kind (`http`, `sql`, `exec`, `action`, `db`, `sleep`, `redis`, `tcp`, `upstream`, `upstream_calls`, `value`, `sequence`), not http and sql",
        ],
    );
}

#[test]
fn bad_method_status_and_duration() {
    let text = errors("[[checks.steps]]\nhttp = \"get /\"\n");
    assert_has(&text, &["`get` is not an HTTP method"]);
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.status = \"2xy\"\n");
    assert_has(
        &text,
        &["expected a status code (201), a class (\"2xx\") or a list"],
    );
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\ntimeout = \"10 parsecs\"\n");
    assert_has(&text, &["expected a duration such as"]);
}

#[test]
fn sql_text_is_not_a_template() {
    let text = errors("[[checks.steps]]\nsql = \"SELECT * FROM t WHERE id = {{ id }}\"\n");
    assert_has(
        &text,
        &["SQL text is not a template: pass values as `params`"],
    );
}

#[test]
fn duplicate_check_ids_and_collects_every_error() {
    let src = format!(
        "{HEAD}{CHECK}[[checks.steps]]\nhttp = \"GET /\"\n{CHECK}[[checks.steps]]\nhttp = \"GET /\"\nexpect.status = 999\n"
    );
    let text = parse_exercise(Path::new("bad.toml"), &src)
        .unwrap_err()
        .to_string();
    assert_has(
        &text,
        &[
            "a check with id `c` already exists",
            "expected a status code",
            "2 errors in the exercise spec",
        ],
    );
}

#[test]
fn not_toml_at_all() {
    let text = parse_exercise(Path::new("bad.toml"), "[exercise\nname = 1")
        .unwrap_err()
        .to_string();
    assert_has(&text, &["--> bad.toml:1:"]);
}

#[test]
fn the_bundled_exercise_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises/todo-api");
    let ex = harness::load_exercise(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ex.name, "todo-api");
    assert!(ex.checks.len() >= 15);
}

#[test]
fn includes_weights_and_their_errors() {
    let dir = std::env::temp_dir().join(format!("grader-spec-include-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let main = format!(
        "{HEAD}[scoring]\nweights = {{ api = 2.5 }}\n{CHECK}[[checks.steps]]\nhttp = \"GET /\"\n"
    )
    .replace(
        "title = \"Toy\"\n",
        "title = \"Toy\"\ninclude = [\"hidden.toml\"]\n",
    );
    std::fs::write(dir.join("spec.toml"), &main).unwrap();
    std::fs::write(
        dir.join("hidden.toml"),
        "[[checks]]\nid = \"h\"\ntitle = \"h\"\ncategory = \"security\"\npoints = 3\nvisibility = \"hidden\"\nneeds = [\"c\"]\n[[checks.steps]]\nhttp = \"GET /\"\n",
    )
    .unwrap();
    let ex = harness::load_exercise(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ex.checks.len(), 2);
    assert_eq!(ex.checks[0].points, 2.5);
    assert_eq!(ex.checks[1].points, 3.0);
    assert!(ex.checks[1].hidden);
    assert!(
        ex.checks[1].location.ends_with("hidden.toml:1"),
        "{}",
        ex.checks[1].location
    );

    // An error in the included file points into that file.
    std::fs::write(
        dir.join("hidden.toml"),
        "[[checks]]\nid = \"h\"\ntitle = \"h\"\ncategory = \"x\"\npoints = 3\nneeds = [\"d\"]\n[[checks.steps]]\nhttp = \"GET /\"\n",
    )
    .unwrap();
    let text = harness::load_exercise(&dir).unwrap_err().to_string();
    assert_has(
        &text,
        &[
            "`needs` names `d`, which is not an earlier check",
            "hidden.toml:6:",
        ],
    );
    std::fs::remove_file(dir.join("hidden.toml")).unwrap();
    let text = harness::load_exercise(&dir).unwrap_err().to_string();
    assert_has(&text, &["cannot read the included file", "spec.toml:4:"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn visibility_weights_and_body_kinds_are_checked() {
    let text = errors("visibility = \"secret\"\n[[checks.steps]]\nhttp = \"GET /\"\n");
    assert_has(&text, &["unknown visibility `secret`"]);
    let text = errors("[[checks.steps]]\nhttp = \"POST /\"\njson = { a = 1 }\nbody = \"x\"\n");
    assert_has(
        &text,
        &["one of `json`, `form`, `body`, `body_base64` or `multipart`, not several"],
    );
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.json_schema = { type = 12 }\n");
    assert_has(&text, &["not a valid JSON Schema"]);
    let src = format!(
        "{HEAD}[scoring]\nweights = {{ apii = 2 }}\n{CHECK}[[checks.steps]]\nhttp = \"GET /\"\n"
    );
    let text = parse_exercise(Path::new("bad.toml"), &src)
        .unwrap_err()
        .to_string();
    assert_has(&text, &["a weight for category `apii`, which no check has"]);
}

/// Parses HEAD + CHECK + `step`, which must be valid.
fn valid(step: &str) -> harness::exercise::Exercise {
    let src = format!("{HEAD}{CHECK}{step}");
    parse_exercise(Path::new("ok.toml"), &src).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_strict_checks_accept_what_they_should() {
    // A header capture on an http step, then for_each over a captured list.
    valid(
        "[[checks.steps]]\nhttp = \"POST /t\"\ncapture = { at = { header = \"Location\" }, ids = \"$[*].id\" }\n\
         [[checks.steps]]\nhttp = \"GET /t/{{ item }}\"\nfor_each = \"ids\"\n",
    );
    // for_each and gen.pick over a list variable, or one lone template (any type).
    valid(
        "vars = { ids = [1, 2], more = \"{{ ids }}\" }\n[[checks.steps]]\nhttp = \"GET /t/{{ item }}\"\nfor_each = \"more\"\n\
         [[checks.steps]]\nhttp = \"GET /t/{{ gen.pick(ids) }}\"\n",
    );
    // One SELECT, with a comment, a CTE or a trailing `;`.
    valid("[[checks.steps]]\nsql = \"-- the rows\\n(SELECT 1 AS n);\"\n");
    valid("[[checks.steps]]\nsql = \"WITH t AS (SELECT 1 AS n) SELECT n FROM t\"\n");
    // Threshold points that add up to the check's points (1 here), and the steady stage.
    valid(
        "[[checks.steps]]\nhttp = \"GET /\"\nload = { rate = 5, duration = \"1s\", thresholds = [\
         { expr = \"p95 < 1s\", points = 0.5, stage = \"steady\" }, { expr = \"max < 2s\", points = 0.5 }] }\n",
    );
}

#[test]
fn url_and_media_type_assertions_are_accepted_where_they_fit() {
    // `url` takes a template (an earlier capture), `url_path` a regex, `media_type` a type
    // with parameters or a wildcard subtype; they work on headers and on JSON values.
    valid(
        "[[checks.steps]]\nhttp = \"POST /t\"\n\
         expect.headers.location = { url_path = '^/t/[0-9]+$' }\n\
         expect.headers.Content-Type = { media_type = \"application/json\" }\n\
         capture = { id = \"$.id\" }\n\
         [[checks.steps]]\nhttp = \"GET /t/{{ id }}\"\n\
         expect.headers.Content-Location = { url = \"/t/{{ id }}\" }\n\
         expect.headers.Content-Type = { media_type = \"text/*; charset=utf-8\" }\n\
         expect.jsonpath.\"$.self\" = { url = \"http://example.com/t/{{ id }}\" }\n",
    );
    let text = errors(
        "[[checks.steps]]\nhttp = \"GET /\"\nexpect.headers.Content-Type = { media_type = \"application\" }\n",
    );
    assert_has(
        &text,
        &[
            "`media_type` takes a media type such as \"application/json\", not \"application\"",
            "bad.toml:13:",
        ],
    );
}

#[test]
fn submission_may_be_left_out() {
    let src = format!(
        "[exercise]\nname = \"toy\"\ntitle = \"Toy\"\n{CHECK}[[checks.steps]]\nhttp = \"GET /\"\n"
    );
    let ex = parse_exercise(Path::new("ok.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ex.submission.port, 8080);
}

/// HEAD with PostgreSQL declared: work figures that count in it are allowed.
fn errors_with_postgres(step: &str) -> String {
    let src =
        format!("{HEAD}[services.postgres]\ndatabase = \"app\"\nuser = \"app\"\n{CHECK}{step}");
    match parse_exercise(Path::new("bad.toml"), &src) {
        Ok(_) => panic!("expected an error for:\n{step}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_work_threshold_takes_no_stage() {
    let text = errors_with_postgres(
        "[[checks.steps]]\nhttp = \"GET /\"\n[checks.steps.load]\nrate = 10\nduration = \"1s\"\nthresholds = [{ expr = \"statements <= 3\", stage = \"steady\" }]\n",
    );
    assert_has(
        &text,
        &[
            "`statements` takes no `stage`: the work counters surround the whole load step",
            "--> bad.toml:19:",
            "drop `stage`",
        ],
    );
}

#[test]
fn an_unknown_work_figure_suggests_the_right_one() {
    let text = errors_with_postgres(
        "[[checks.steps]]\nhttp = \"GET /\"\nexpect.work.statments = { le = 3 }\n",
    );
    assert_has(
        &text,
        &[
            "unknown work figure `statments`",
            "--> bad.toml:16:",
            "did you mean `statements`?",
        ],
    );
    let text = errors_with_postgres(
        "[[checks.steps]]\nhttp = \"GET /\"\n[checks.steps.load]\nrate = 10\nduration = \"1s\"\nthresholds = [\"rows_reed < 10\"]\n",
    );
    assert_has(
        &text,
        &["unknown metric `rows_reed`", "did you mean `rows_read`?"],
    );
}

#[test]
fn a_work_figure_needs_its_service_and_its_unit() {
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.work.statements = { le = 3 }\n");
    assert_has(
        &text,
        &[
            "`statements` is counted in the exercise's [services.postgres]",
            "bad.toml:13:",
        ],
    );
    let text = errors("[[checks.steps]]\nhttp = \"GET /\"\nexpect.work.cpu = { lt = \"fast\" }\n");
    assert_has(&text, &["`cpu` is bounded by a duration such as \"20ms\""]);
    let text = errors(
        "[[checks.steps]]\nhttp = \"GET /\"\n[checks.steps.load]\nrate = 10\nduration = \"1s\"\nthresholds = [\"memory_growth < lots\"]\n",
    );
    assert_has(&text, &["expected a size such as 64MiB"]);
}
