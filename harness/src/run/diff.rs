//! How two JSON values differ, for failure messages: the first difference by path, a
//! line diff of the pretty-printed values (aligned, so only what differs shows), and
//! values phrased with their types.

use serde_json::Value;

use super::assert::{Mismatch, subject_name};
use crate::exercise::{Cause, JsonType};

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

pub(crate) fn typed_nodes(nodes: &[Value]) -> String {
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
