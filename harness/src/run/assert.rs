//! Evaluates assertions against values taken from a response or a query result, and
//! says what differed in the typed `actual: int <200>` / `expected: int <201>` form.

use std::cmp::Ordering;

use serde_json::Value;

use crate::exercise::{JsonType, Predicate, SortOrder, show_num};
use crate::template::{Context, RenderError, value_to_text};

/// What an assertion found, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub diff: Option<String>,
}

impl Mismatch {
    pub(crate) fn new(message: String, expected: String, actual: String) -> Mismatch {
        Mismatch {
            message,
            expected: Some(expected),
            actual: Some(actual),
            diff: None,
        }
    }
}

impl From<RenderError> for Mismatch {
    fn from(e: RenderError) -> Self {
        Mismatch {
            message: e.0,
            expected: None,
            actual: None,
            diff: None,
        }
    }
}

/// Expected against actual, as a unified diff of pretty-printed JSON.
pub(crate) fn json_diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).unwrap_or_default() + "\n";
    let a = serde_json::to_string_pretty(actual).unwrap_or_default() + "\n";
    similar::TextDiff::from_lines(&e, &a)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// Where `actual` fails to contain `expected` (objects: these keys at least, recursively;
/// anything else: equal). Returns the JSONPath of the first difference.
pub(crate) fn subset_mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, v)| {
            let p = format!("{path}.{k}");
            match a.get(k) {
                Some(w) => subset_mismatch(v, w, &p),
                None => Some(p),
            }
        }),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (v, w))| subset_mismatch(v, w, &format!("{path}[{i}]"))),
        _ if json_eq(expected, actual) => None,
        _ => Some(path.to_string()),
    }
}

/// A value with its type, as shown to learners: `int <3>`, `string <"a">`.
pub(crate) fn typed(value: &Value) -> String {
    let text = value.to_string();
    let text = if text.chars().count() > 300 {
        let cut: String = text.chars().take(300).collect();
        format!("{cut}...")
    } else {
        text
    };
    match JsonType::of(value) {
        JsonType::Null => "null".into(),
        JsonType::Integer => format!("int <{text}>"),
        JsonType::Number => format!("float <{text}>"),
        t => format!("{} <{text}>", t.name()),
    }
}

fn typed_nodes(nodes: &[Value]) -> String {
    match nodes {
        [] => "nothing".into(),
        [one] => typed(one),
        many => format!(
            "{} values: {}",
            many.len(),
            typed(&Value::Array(many.to_vec()))
        ),
    }
}

/// JSON equality where 1 and 1.0 are the same number.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Checks every predicate against the nodes found at `subject` (a JSONPath or a header
/// name). Several nodes are compared as one array.
pub(crate) fn check(
    subject: &str,
    nodes: &[Value],
    predicates: &[Predicate],
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    for p in predicates {
        check_one(subject, nodes, p, ctx)?;
    }
    Ok(())
}

fn list_of(nodes: &[Value]) -> Vec<Value> {
    match nodes {
        [Value::Array(items)] => items.clone(),
        _ => nodes.to_vec(),
    }
}

fn check_one(
    subject: &str,
    nodes: &[Value],
    p: &Predicate,
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    match p {
        Predicate::Exists(want) => check_exists(subject, nodes, *want),
        Predicate::Count(n) => {
            let n = n.value(ctx)?;
            let count = list_of(nodes).len();
            if count as f64 == n {
                return Ok(());
            }
            let n = show_num(n);
            Err(Mismatch::new(
                format!("{subject} has {count} item(s), expected {n}"),
                format!("count <{n}>"),
                format!("count <{count}>"),
            ))
        }
        Predicate::Sorted(order) => check_sorted(subject, nodes, *order),
        _ => check_value(subject, nodes, p, ctx),
    }
}

fn check_exists(subject: &str, nodes: &[Value], want: bool) -> Result<(), Mismatch> {
    if nodes.is_empty() != want {
        return Ok(());
    }
    Err(if want {
        Mismatch::new(
            format!("{subject} is missing"),
            "a value".into(),
            "nothing".into(),
        )
    } else {
        Mismatch::new(
            format!("{subject} should be absent"),
            "nothing".into(),
            typed_nodes(nodes),
        )
    })
}

fn check_sorted(subject: &str, nodes: &[Value], order: SortOrder) -> Result<(), Mismatch> {
    let list = list_of(nodes);
    for w in list.windows(2) {
        let bad = matches!(
            (compare(&w[0], &w[1]), order),
            (None, _)
                | (Some(Ordering::Greater), SortOrder::Asc)
                | (Some(Ordering::Less), SortOrder::Desc)
        );
        if bad {
            let dir = if order == SortOrder::Asc {
                "ascending"
            } else {
                "descending"
            };
            return Err(Mismatch::new(
                format!(
                    "{subject} is not in {dir} order: {} comes before {}",
                    w[0], w[1]
                ),
                format!("{dir} order"),
                typed(&Value::Array(list.clone())),
            ));
        }
    }
    Ok(())
}

/// The predicates on the value itself (several nodes are one array).
fn check_value(
    subject: &str,
    nodes: &[Value],
    p: &Predicate,
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    let actual = match nodes {
        [] => {
            return Err(Mismatch::new(
                format!("{subject} is missing"),
                describe(p, ctx)?,
                "nothing".into(),
            ));
        }
        [one] => one.clone(),
        many => Value::Array(many.to_vec()),
    };
    if holds(p, &actual, nodes, ctx)? {
        return Ok(());
    }
    let expected = describe(p, ctx)?;
    Err(Mismatch::new(
        format!("{subject}: expected {expected}, got {}", typed(&actual)),
        expected,
        typed(&actual),
    ))
}

/// Whether `actual` (the `nodes` found, as one value) satisfies `p`.
fn holds(
    p: &Predicate,
    actual: &Value,
    nodes: &[Value],
    ctx: &mut Context,
) -> Result<bool, RenderError> {
    Ok(match p {
        Predicate::Equals(tv) => json_eq(actual, &tv.render(ctx)?),
        Predicate::NotEquals(tv) => !json_eq(actual, &tv.render(ctx)?),
        Predicate::Matches(re) => match actual {
            Value::String(s) => re.is_match(s),
            Value::Number(_) | Value::Bool(_) => re.is_match(&actual.to_string()),
            _ => false,
        },
        Predicate::Contains(tv) | Predicate::NotContains(tv) => {
            let want = tv.render(ctx)?;
            // One string: a substring. One list: an element. Otherwise the values the
            // JSONPath found are the list (one match of `$[*].id` is a list of one).
            let found = match actual {
                Value::String(s) if nodes.len() == 1 => s.contains(&value_to_text(&want)),
                Value::Array(items) if nodes.len() == 1 => items.iter().any(|i| json_eq(i, &want)),
                _ => nodes.iter().any(|n| json_eq(n, &want)),
            };
            found == matches!(p, Predicate::Contains(_))
        }
        Predicate::Type(t) => t.accepts(actual),
        Predicate::Gt(n) | Predicate::Ge(n) | Predicate::Lt(n) | Predicate::Le(n) => {
            let n = n.value(ctx)?;
            match actual.as_f64() {
                Some(a) => match p {
                    Predicate::Gt(_) => a > n,
                    Predicate::Ge(_) => a >= n,
                    Predicate::Lt(_) => a < n,
                    _ => a <= n,
                },
                None => false,
            }
        }
        Predicate::Url(t) => {
            let want = t.render_string(ctx)?;
            actual
                .as_str()
                .is_some_and(|a| super::uri::same(&super::uri::base(ctx), a, &want))
        }
        Predicate::UrlPath(re) => actual
            .as_str()
            .is_some_and(|a| super::uri::path_matches(&super::uri::base(ctx), a, re)),
        Predicate::MediaType(m) => actual.as_str().is_some_and(|a| m.accepts(a)),
        Predicate::Exists(_) | Predicate::Count(_) | Predicate::Sorted(_) => true,
    })
}

/// The expectation in words, e.g. `int <201>` or `matches /^\d+$/`.
fn describe(p: &Predicate, ctx: &mut Context) -> Result<String, RenderError> {
    Ok(match p {
        Predicate::Equals(tv) => typed(&tv.render(ctx)?),
        Predicate::NotEquals(tv) => format!("not {}", typed(&tv.render(ctx)?)),
        Predicate::Matches(re) => format!("a match of /{}/", re.as_str()),
        Predicate::Contains(tv) => format!("something containing {}", typed(&tv.render(ctx)?)),
        Predicate::NotContains(tv) => format!("nothing containing {}", typed(&tv.render(ctx)?)),
        Predicate::Type(t) => format!("a value of type {}", t.name()),
        Predicate::Exists(true) => "a value".into(),
        Predicate::Exists(false) => "nothing".into(),
        Predicate::Count(n) => format!("count <{}>", show_num(n.value(ctx)?)),
        Predicate::Gt(n) => format!("a number > {}", show_num(n.value(ctx)?)),
        Predicate::Ge(n) => format!("a number >= {}", show_num(n.value(ctx)?)),
        Predicate::Lt(n) => format!("a number < {}", show_num(n.value(ctx)?)),
        Predicate::Le(n) => format!("a number <= {}", show_num(n.value(ctx)?)),
        Predicate::Sorted(SortOrder::Asc) => "ascending order".into(),
        Predicate::Sorted(SortOrder::Desc) => "descending order".into(),
        Predicate::Url(t) => {
            let want = t.render_string(ctx)?;
            let base = super::uri::base(ctx);
            match super::uri::resolve(&base, &want) {
                Some(u) => format!("the URL <{u}> (absolute, or relative to the request)"),
                None => format!("the URL <{want}>"),
            }
        }
        Predicate::UrlPath(re) => format!(
            "a URL on {} whose path matches /{}/",
            super::uri::origin(&super::uri::base(ctx)),
            re.as_str()
        ),
        Predicate::MediaType(m) if m.params.is_empty() => {
            format!("media type {m} (any parameters)")
        }
        Predicate::MediaType(m) => format!("media type {m}"),
    })
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::Num;
    use crate::exercise::TValue;
    use serde_json::json;

    fn ctx() -> Context {
        Context::new(0, "t")
    }

    #[test]
    fn equals_shows_types() {
        let p = [Predicate::Equals(TValue::Lit(json!(201)))];
        let err = check("status", &[json!(200)], &p, &mut ctx()).unwrap_err();
        assert_eq!(err.expected.as_deref(), Some("int <201>"));
        assert_eq!(err.actual.as_deref(), Some("int <200>"));
        assert!(check("status", &[json!(201.0)], &p, &mut ctx()).is_ok());
    }

    #[test]
    fn count_and_sorted_use_the_array() {
        let one =
            |subject: &str, nodes: &[Value], p: Predicate| check(subject, nodes, &[p], &mut ctx());
        let nodes = [json!([1, 2, 5])];
        assert!(one("$", &nodes, Predicate::Count(Num::Lit(3.0))).is_ok());
        assert!(one("$", &nodes, Predicate::Sorted(SortOrder::Asc)).is_ok());
        let err = one("$", &nodes, Predicate::Sorted(SortOrder::Desc)).unwrap_err();
        assert!(err.message.contains("descending"), "{}", err.message);
        let many = [json!(3), json!(1)];
        assert!(one("$[*].id", &many, Predicate::Sorted(SortOrder::Asc)).is_err());
        assert!(one("$[*].id", &many, Predicate::Count(Num::Lit(2.0))).is_ok());
    }

    #[test]
    fn contains_treats_a_single_match_as_a_list_of_one() {
        // `$[*].id` matching one todo gives one node: it still "contains" that id.
        let p = [Predicate::Contains(TValue::Lit(json!(7)))];
        assert!(check("$[*].id", &[json!(7)], &p, &mut ctx()).is_ok());
        let p = [Predicate::NotContains(TValue::Lit(json!(7)))];
        assert!(check("$[*].id", &[json!(7)], &p, &mut ctx()).is_err());
        assert!(check("$[*].id", &[json!(8)], &p, &mut ctx()).is_ok());
    }

    #[test]
    fn missing_value_is_reported() {
        let err = check(
            "$.id",
            &[],
            &[Predicate::Type(JsonType::Integer)],
            &mut ctx(),
        )
        .unwrap_err();
        assert_eq!(err.message, "$.id is missing");
        assert!(check("$.x", &[], &[Predicate::Exists(false)], &mut ctx()).is_ok());
    }
}
