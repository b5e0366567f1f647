//! Judging a JSON document (an HTTP body, SQL rows, a Redis reply, the mock's counts):
//! the `json`, `json_subset`, `json_schema` and `jsonpath` expectations, and captures.

use serde_json::Value;

use super::assert::{self, Mismatch, typed};
use super::check::StepFail;
use crate::exercise::{Capture, CaptureSource, Cause, Expect, Query};
use crate::probe::excerpt_text;
use crate::template::Context;

/// How much of a response body or document a failure shows.
pub(super) const EXCERPT_BYTES: usize = 2048;

/// Judges a document that is not an HTTP response and takes its captures; `shown` is
/// what was asked (the query, the Redis command) for the failure's `request`.
pub(super) fn judge_document(
    expect: &Expect,
    captures: &[Capture],
    doc: &Value,
    shown: &str,
    ctx: &mut Context,
) -> Result<(), StepFail> {
    let fail = |m: Mismatch| {
        let mut f = StepFail::mismatch(m);
        f.failure.request = Some(shown.to_string());
        f.failure.response = Some(excerpt_text(doc.to_string().as_bytes(), EXCERPT_BYTES));
        f
    };
    let count = doc.as_array().map_or(0, Vec::len) as u64;
    if let Some(want) = expect.rows
        && want != count
    {
        return Err(fail(Mismatch::new(
            format!("the query returned {count} row(s), expected {want}"),
            format!("rows <{want}>"),
            format!("rows <{count}>"),
        )));
    }
    check_document(expect, doc, ctx).map_err(fail)?;
    for c in captures {
        let CaptureSource::JsonPath(q) = &c.source else {
            return Err(StepFail::new(
                "this step captures with JSONPath, not headers",
            ));
        };
        let v = capture_json(&c.name, q, doc)
            .and_then(|v| regex_group(c, v))
            .map_err(fail)?;
        ctx.set(&c.name, v);
    }
    Ok(())
}

/// The assertions on a JSON document (a response body, or a query's rows).
pub(super) fn check_document(
    expect: &Expect,
    doc: &Value,
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    if let Some(tv) = &expect.json {
        let want = tv.render(ctx)?;
        if let Some(m) = assert::first_difference(&want, doc, "$", false) {
            return Err(differs(
                "the JSON body differs from the expected one",
                m,
                &want,
                doc,
                false,
            ));
        }
    }
    if let Some(tv) = &expect.json_subset {
        let want = tv.render(ctx)?;
        if let Some(m) = assert::first_difference(&want, doc, "$", true) {
            return Err(differs(
                "the JSON body lacks what is expected",
                m,
                &want,
                doc,
                true,
            ));
        }
    }
    if let Some(schema) = &expect.json_schema {
        check_schema(&schema.0, doc)?;
    }
    for a in &expect.jsonpath {
        let nodes = query(&a.query, doc);
        assert::check(&a.query.src, &nodes, &a.predicates, a.hint.as_deref(), ctx)?;
    }
    Ok(())
}

/// The first difference of a whole-body comparison (`what` failed), with a diff that
/// marks only what differs: the parts of the body that match are shown as expected, and
/// a subset's diff leaves out the keys it does not name.
fn differs(what: &str, mut m: Mismatch, want: &Value, doc: &Value, subset: bool) -> Mismatch {
    // A type mismatch or a missing key says so first; a wrong value says where.
    if m.cause == Cause::Value {
        m.message = format!("{what}: {}", m.message);
    }
    m.diff = Some(assert::json_diff(want, &assert::align(want, doc, subset)));
    m
}

fn check_schema(schema: &jsonschema::Validator, doc: &Value) -> Result<(), Mismatch> {
    let mut cause = None;
    let errors: Vec<String> = schema
        .iter_errors(doc)
        .take(3)
        .map(|e| {
            // The first problem decides the kind: a wrong type, a missing property, or
            // a value out of its bounds.
            cause.get_or_insert(match e.kind() {
                jsonschema::error::ValidationErrorKind::Type { .. } => Cause::Type,
                jsonschema::error::ValidationErrorKind::Required { .. } => Cause::Missing,
                _ => Cause::Value,
            });
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("at {at}: {e}")
            }
        })
        .collect();
    let Some(cause) = cause else {
        return Ok(());
    };
    let mut m = Mismatch::new(
        format!(
            "the JSON body does not match the schema: {}",
            errors.join("; ")
        ),
        "a body matching the JSON Schema".into(),
        typed(doc),
    )
    .with_cause(cause);
    // The schema states the types it expects.
    m.stated = true;
    Err(m)
}

/// The nodes a JSONPath finds in `doc`.
pub(super) fn query(q: &Query, doc: &Value) -> Vec<Value> {
    q.path.query(doc).all().into_iter().cloned().collect()
}

/// A body as JSON, or why it is not.
pub(super) fn parse_json(body: &[u8]) -> Result<Value, Mismatch> {
    serde_json::from_slice(body).map_err(|e| {
        Mismatch::new(
            format!("the response body is not JSON ({e})"),
            "a JSON body".into(),
            if body.is_empty() {
                "an empty body".into()
            } else {
                excerpt_text(body, 200)
            },
        )
        .with_cause(Cause::Type)
    })
}

/// The value a JSONPath capture takes: one node as itself, several as a list.
pub(super) fn capture_json(name: &str, q: &Query, json: &Value) -> Result<Value, Mismatch> {
    let nodes = query(q, json);
    match nodes.len() {
        0 => Err(Mismatch::new(
            format!("cannot capture `{name}`: nothing at {}", q.src),
            format!("a value at {}", q.src),
            "nothing".into(),
        )
        .with_cause(Cause::Missing)),
        1 => Ok(nodes.into_iter().next().expect("one node")),
        _ => Ok(Value::Array(nodes)),
    }
}

/// A capture's `regex` over the value's text (a string as it is, anything else as
/// JSON): its first group, or the whole match when it has none, as a string.
pub(super) fn regex_group(c: &Capture, value: Value) -> Result<Value, Mismatch> {
    let Some(re) = &c.regex else {
        return Ok(value);
    };
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let found = re
        .captures(&text)
        .and_then(|m| m.get(1).or_else(|| m.get(0)))
        .map(|g| g.as_str().to_string());
    found.map(Value::String).ok_or_else(|| {
        Mismatch::new(
            format!(
                "cannot capture `{}`: /{}/ does not match {}",
                c.name,
                re.as_str(),
                super::assert::typed(&value)
            ),
            format!("a match of /{}/", re.as_str()),
            super::assert::typed(&value),
        )
        .with_cause(Cause::Missing)
    })
}
