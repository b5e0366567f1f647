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

pub(crate) use super::diff::{
    align, first_difference, json_diff, json_eq, same_kind, type_mismatch, typed, typed_nodes,
};

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
        Predicate::Not(inner) => {
            // Rendered first: a template that cannot render is an error, not "does not hold".
            let expected = describe(p, ctx)?;
            if check(subject, nodes, inner, None, ctx).is_err() {
                return Ok(());
            }
            let got = if nodes.is_empty() {
                "nothing".to_string()
            } else {
                typed_nodes(nodes)
            };
            Err(Mismatch::new(
                format!("{}: expected {expected}, got {got}", subject_name(subject)),
                expected,
                got,
            ))
        }
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
        Predicate::Exists(_) | Predicate::Count(_) | Predicate::Sorted(_) | Predicate::Not(_) => {
            true
        }
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
        Predicate::Not(inner) => {
            let parts = inner
                .iter()
                .map(|q| describe(q, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            match parts.as_slice() {
                [one] => format!("not {one}"),
                many => format!("not ({})", many.join(" and ")),
            }
        }
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

    #[test]
    fn not_holds_when_what_it_wraps_does_not() {
        let re = regex::Regex::new("^tmp").unwrap();
        let not = |ps: Vec<Predicate>| [Predicate::Not(ps)];
        let p = not(vec![Predicate::Matches(re.clone())]);
        assert!(check("$.name", &[json!("final")], &p, None, &mut ctx()).is_ok());
        let err = check("$.name", &[json!("tmp-1")], &p, None, &mut ctx()).unwrap_err();
        assert_eq!(
            err.message,
            "`$.name`: expected not a match of /^tmp/, got string <\"tmp-1\">"
        );
        // Several inside: not all of them at once.
        let p = not(vec![
            Predicate::Type(JsonType::String),
            Predicate::Matches(re),
        ]);
        assert!(check("$.name", &[json!(3)], &p, None, &mut ctx()).is_ok());
        let err = check("$.name", &[json!("tmp")], &p, None, &mut ctx()).unwrap_err();
        assert!(
            err.message
                .contains("expected not (a value of type string and a match of /^tmp/)"),
            "{}",
            err.message
        );
        // A missing value fails `equals`, so `not equals` holds; `not exists` is absence.
        let p = not(vec![Predicate::Equals(TValue::Lit(json!(0)))]);
        assert!(check("$.n", &[], &p, None, &mut ctx()).is_ok());
        let p = not(vec![Predicate::Exists(true)]);
        assert!(check("$.n", &[], &p, None, &mut ctx()).is_ok());
        assert!(check("$.n", &[json!(1)], &p, None, &mut ctx()).is_err());
        // Nested: not not.
        let p = not(vec![Predicate::Not(vec![Predicate::Gt(Num::Lit(1.0))])]);
        assert!(check("$.n", &[json!(2)], &p, None, &mut ctx()).is_ok());
        assert!(check("$.n", &[json!(0)], &p, None, &mut ctx()).is_err());
    }
}
