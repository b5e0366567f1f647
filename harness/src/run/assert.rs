//! Evaluates assertions against values taken from a response or a query result, and
//! says what differed in the typed `actual: int <200>` / `expected: int <201>` form. A
//! value of another JSON type is named as such (`` `$.hits` is a string ("100"), an
//! integer was expected``), never as a wrong value.

use std::cmp::Ordering;

use serde_json::Value;

use crate::exercise::{Cause, JsonType, Predicate, SortOrder, show_num};
use crate::template::{Context, RenderError, value_to_text};

/// What an assertion found, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub diff: Option<String>,
    /// What kind of failure it is: decides which hint is shown.
    pub cause: Cause,
    /// A type mismatch the step states (a `type` predicate, a schema's `type`), rather
    /// than one found while comparing values: a plain hint is about it.
    pub stated: bool,
    /// The failed assertion's own hint, when it is about this failure (boxed: a
    /// `Result` of a `Mismatch` stays small).
    pub hint: Option<Box<str>>,
}

impl Mismatch {
    /// A wrong value; `with_cause` says when it is another kind of failure.
    pub(crate) fn new(message: String, expected: String, actual: String) -> Mismatch {
        Mismatch {
            message,
            expected: Some(expected),
            actual: Some(actual),
            diff: None,
            cause: Cause::Value,
            stated: false,
            hint: None,
        }
    }

    pub(crate) fn with_cause(mut self, cause: Cause) -> Mismatch {
        self.cause = cause;
        self
    }
}

impl From<RenderError> for Mismatch {
    fn from(e: RenderError) -> Self {
        Mismatch {
            message: e.0,
            expected: None,
            actual: None,
            diff: None,
            cause: Cause::Other,
            stated: false,
            hint: None,
        }
    }
}

/// How a subject is named in a message: a JSONPath in backticks, a header as it is.
pub(crate) fn subject_name(subject: &str) -> String {
    if subject.starts_with('$') {
        format!("`{subject}`")
    } else {
        subject.to_string()
    }
}

/// A value as a phrase with its type: `a string ("100")`, `an integer (3)`, `null`.
pub(crate) fn phrase(value: &Value) -> String {
    let t = JsonType::of(value);
    if t == JsonType::Null {
        return "null".into();
    }
    format!("{} ({})", t.phrase(), short(value))
}

/// A type mismatch: `` `$.hits` is a string ("100"), an integer was expected``.
pub(crate) fn type_mismatch(
    subject: &str,
    actual: &Value,
    wanted: &str,
    expected: String,
) -> Mismatch {
    Mismatch::new(
        format!(
            "{} is {}, {wanted} was expected",
            subject_name(subject),
            phrase(actual)
        ),
        expected,
        typed(actual),
    )
    .with_cause(Cause::Type)
}

/// Whether two values are of the same JSON kind (any two numbers are).
pub(crate) fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
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

/// Expected against actual with the parts that are equal taken from `expected`, so
/// that a line diff marks only what differs: object keys in the expected order, 1.0
/// where 1 was expected, and (for a subset) none of the keys the expectation leaves out.
pub(crate) fn align(expected: &Value, actual: &Value, subset: bool) -> Value {
    if json_eq(expected, actual) {
        return expected.clone();
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in e {
                if let Some(w) = a.get(k) {
                    out.insert(k.clone(), align(v, w, subset));
                }
            }
            if !subset {
                for (k, w) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                    out.insert(k.clone(), w.clone());
                }
            }
            Value::Object(out)
        }
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, w)| e.get(i).map_or_else(|| w.clone(), |v| align(v, w, subset)))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// The first place where a JSON document differs from what is expected: exactly
/// (`subset` false), or at least these keys with these values (objects recursively,
/// lists element by element).
pub(crate) fn first_difference(
    expected: &Value,
    actual: &Value,
    path: &str,
    subset: bool,
) -> Option<Mismatch> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let inner = e.iter().find_map(|(k, v)| {
                let p = member(path, k);
                match a.get(k) {
                    Some(w) => first_difference(v, w, &p, subset),
                    None => Some(
                        Mismatch::new(
                            format!("{} is missing", subject_name(&p)),
                            typed(v),
                            "nothing".into(),
                        )
                        .with_cause(Cause::Missing),
                    ),
                }
            });
            inner.or_else(|| {
                let (k, w) = a.iter().find(|(k, _)| !subset && !e.contains_key(*k))?;
                let p = member(path, k);
                Some(Mismatch::new(
                    format!(
                        "{} is not expected: the body has {} there",
                        subject_name(&p),
                        phrase(w)
                    ),
                    "nothing".into(),
                    typed(w),
                ))
            })
        }
        (Value::Array(e), Value::Array(a)) if e.len() != a.len() => Some(Mismatch::new(
            format!(
                "{} has {} item(s), expected {}",
                subject_name(path),
                a.len(),
                e.len()
            ),
            format!("count <{}>", e.len()),
            format!("count <{}>", a.len()),
        )),
        (Value::Array(e), Value::Array(a)) => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]"), subset)),
        _ if json_eq(expected, actual) => None,
        _ if !same_kind(expected, actual) => Some(type_mismatch(
            path,
            actual,
            JsonType::of(expected).phrase(),
            typed(expected),
        )),
        _ => Some(Mismatch::new(
            format!(
                "{}: expected {}, got {}",
                subject_name(path),
                typed(expected),
                typed(actual)
            ),
            typed(expected),
            typed(actual),
        )),
    }
}

/// `$.a` and a key: `$.a.b`, or `$.a["two words"]` for a key that is not a name.
fn member(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// A value with its type, as shown to learners: `int <3>`, `string <"a">`.
pub(crate) fn typed(value: &Value) -> String {
    let text = short(value);
    match JsonType::of(value) {
        JsonType::Null => "null".into(),
        JsonType::Integer => format!("int <{text}>"),
        JsonType::Number => format!("float <{text}>"),
        t => format!("{} <{text}>", t.name()),
    }
}

/// A value's JSON text, cut after 300 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(300).collect();
        format!("{cut}...")
    } else {
        text
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
/// name). Several nodes are compared as one array. The assertion's `hint` goes with a
/// failure it is about: any but a type mismatch found while comparing values (a failed
/// `type` predicate is what the assertion states, so its hint is shown).
pub(crate) fn check(
    subject: &str,
    nodes: &[Value],
    predicates: &[Predicate],
    hint: Option<&str>,
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    for p in predicates {
        if let Err(mut m) = check_one(subject, nodes, p, ctx) {
            m.stated = matches!(p, Predicate::Type(_));
            if m.cause != Cause::Type || m.stated {
                m.hint = hint.map(Box::from);
            }
            return Err(m);
        }
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
                format!(
                    "{} has {count} item(s), expected {n}",
                    subject_name(subject)
                ),
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
            format!("{} is missing", subject_name(subject)),
            "a value".into(),
            "nothing".into(),
        )
        .with_cause(Cause::Missing)
    } else {
        Mismatch::new(
            format!("{} should be absent", subject_name(subject)),
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
                    "{} is not in {dir} order: {} comes before {}",
                    subject_name(subject),
                    w[0],
                    w[1]
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
                format!("{} is missing", subject_name(subject)),
                describe(p, ctx)?,
                "nothing".into(),
            )
            .with_cause(Cause::Missing));
        }
        [one] => one.clone(),
        many => Value::Array(many.to_vec()),
    };
    if holds(p, &actual, nodes, ctx)? {
        return Ok(());
    }
    if let Some(wanted) = wanted_type(p, &actual, ctx)? {
        return Err(type_mismatch(subject, &actual, wanted, describe(p, ctx)?));
    }
    let expected = describe(p, ctx)?;
    Err(Mismatch::new(
        format!(
            "{}: expected {expected}, got {}",
            subject_name(subject),
            typed(&actual)
        ),
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

/// The type `p` needs when `actual` (which fails it) is of another one: the failure is
/// then a type mismatch, not a wrong value.
fn wanted_type(
    p: &Predicate,
    actual: &Value,
    ctx: &mut Context,
) -> Result<Option<&'static str>, RenderError> {
    Ok(match p {
        Predicate::Equals(tv) => {
            let want = tv.render(ctx)?;
            (!same_kind(&want, actual)).then(|| JsonType::of(&want).phrase())
        }
        Predicate::Type(t) => Some(t.phrase()),
        Predicate::Matches(_) => {
            matches!(actual, Value::Null | Value::Array(_) | Value::Object(_)).then_some("a string")
        }
        Predicate::Gt(_) | Predicate::Ge(_) | Predicate::Lt(_) | Predicate::Le(_) => {
            (!actual.is_number()).then_some("a number")
        }
        _ => None,
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
        let err = check("status", &[json!(200)], &p, None, &mut ctx()).unwrap_err();
        assert_eq!(err.expected.as_deref(), Some("int <201>"));
        assert_eq!(err.actual.as_deref(), Some("int <200>"));
        assert!(check("status", &[json!(201.0)], &p, None, &mut ctx()).is_ok());
    }

    #[test]
    fn count_and_sorted_use_the_array() {
        let one = |subject: &str, nodes: &[Value], p: Predicate| {
            check(subject, nodes, &[p], None, &mut ctx())
        };
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
        assert!(check("$[*].id", &[json!(7)], &p, None, &mut ctx()).is_ok());
        let p = [Predicate::NotContains(TValue::Lit(json!(7)))];
        assert!(check("$[*].id", &[json!(7)], &p, None, &mut ctx()).is_err());
        assert!(check("$[*].id", &[json!(8)], &p, None, &mut ctx()).is_ok());
    }

    #[test]
    fn missing_value_is_reported() {
        let err = check(
            "$.id",
            &[],
            &[Predicate::Type(JsonType::Integer)],
            None,
            &mut ctx(),
        )
        .unwrap_err();
        assert_eq!(err.message, "`$.id` is missing");
        assert!(check("$.x", &[], &[Predicate::Exists(false)], None, &mut ctx()).is_ok());
    }
}
