//! What a step expects of an answer and what it captures from it: statuses, header and
//! JSONPath assertions, predicates, numbers, JSON types and templated values.

use std::time::Duration;

use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::MediaType;
use crate::template::Template;

/// What a step's response (or query result) must satisfy.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub status: Option<StatusExpect>,
    pub headers: Vec<HeaderAssert>,
    pub jsonpath: Vec<JsonAssert>,
    pub rows: Option<u64>,
    /// A JSONPath whose values must all differ across a concurrent step's responses.
    pub distinct: Option<Query>,
    /// How many of a concurrent step's responses must have each status (or class).
    pub statuses: Vec<(StatusExpect, Num)>,
    /// The whole JSON body, exactly.
    pub json: Option<TValue>,
    /// Keys and values the JSON body must contain (objects recursively).
    pub json_subset: Option<TValue>,
    pub json_schema: Option<Schema>,
    pub body_contains: Option<Template>,
    pub body_matches: Option<Regex>,
    pub max_time: Option<Duration>,
    /// Bounds on the work the server did for the step (counted around it).
    pub work: Vec<WorkAssert>,
}

/// `expect.work.NAME = { le = 3 }`: a work figure and the bounds it must keep.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkAssert {
    pub figure: crate::probe::work::Figure,
    pub bounds: Vec<WorkBound>,
}

/// One bound, in the figure's unit (a count; `cpu` in milliseconds; `memory_growth` in
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkBound {
    pub op: WorkOp,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl WorkBound {
    pub fn holds(&self, actual: f64) -> bool {
        let b = self.value;
        match self.op {
            WorkOp::Lt => actual < b,
            WorkOp::Le => actual <= b,
            WorkOp::Gt => actual > b,
            WorkOp::Ge => actual >= b,
            // Per-request figures are quotients: equal within rounding.
            WorkOp::Eq => (actual - b).abs() <= 1e-9 * b.abs().max(1.0),
        }
    }

    /// Whether exceeding it means the server did too much (advice applies).
    pub fn is_upper(&self) -> bool {
        matches!(self.op, WorkOp::Lt | WorkOp::Le | WorkOp::Eq)
    }
}

/// A compiled JSON Schema.
#[derive(Clone)]
pub struct Schema(pub std::sync::Arc<jsonschema::Validator>);

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusExpect {
    Exact(u16),
    /// `2xx`: the first digit.
    Class(u16),
    /// Any of these codes or classes: `[201, "4xx"]`.
    OneOf(Vec<StatusExpect>),
}

impl StatusExpect {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusExpect::Exact(s) => *s == status,
            StatusExpect::Class(c) => status / 100 == *c,
            StatusExpect::OneOf(list) => list.iter().any(|e| e.matches(status)),
        }
    }
}

impl std::fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusExpect::Exact(s) => write!(f, "{s}"),
            StatusExpect::Class(c) => write!(f, "{c}xx"),
            StatusExpect::OneOf(list) => {
                let list: Vec<String> = list.iter().map(ToString::to_string).collect();
                write!(f, "one of {}", list.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct HeaderAssert {
    pub name: String,
    pub predicates: Vec<Predicate>,
    /// Shown when this assertion fails (see `assert::check` for which failures).
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JsonAssert {
    pub query: Query,
    pub predicates: Vec<Predicate>,
    /// Shown when this assertion fails (see `assert::check` for which failures).
    pub hint: Option<String>,
}

/// A compiled JSONPath with its source text.
#[derive(Debug, Clone)]
pub struct Query {
    pub src: String,
    pub path: JsonPath,
}

#[derive(Debug, Clone)]
pub enum Predicate {
    Equals(TValue),
    NotEquals(TValue),
    Matches(Regex),
    Contains(TValue),
    NotContains(TValue),
    Type(JsonType),
    Exists(bool),
    Count(Num),
    Gt(Num),
    Ge(Num),
    Lt(Num),
    Le(Num),
    Sorted(SortOrder),
    /// `url`: the value, a URI reference resolved against the request's URL, names the
    /// same URL as the template resolved against the same base (RFC 3986 §5, with the
    /// `url` crate's normalisation): `/todos/2` and `http://host:port/todos/2` are equal.
    Url(Template),
    /// `url_path`: the value, resolved against the request's URL, is on the request's
    /// own origin and its path matches the regex.
    UrlPath(Regex),
    /// `media_type`: a `Content-Type` that is this media type (RFC 9110 §8.3.1).
    MediaType(MediaType),
    /// `not`: the predicates inside (a plain value: equals) do not all hold.
    Not(Vec<Predicate>),
}

/// A number in an assertion: written out, or a template (`"{{ k }}"`) whose value is
/// a number when the step runs.
#[derive(Debug, Clone)]
pub enum Num {
    Lit(f64),
    Var(Template),
}

impl Num {
    pub fn value(
        &self,
        ctx: &mut crate::template::Context,
    ) -> Result<f64, crate::template::RenderError> {
        match self {
            Num::Lit(n) => Ok(*n),
            Num::Var(t) => {
                let v = t.render(ctx)?;
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .ok_or_else(|| {
                        crate::template::RenderError(format!(
                            "a number was expected here, but the template gave {v}"
                        ))
                    })
            }
        }
    }
}

/// A number as a person writes it: `3`, not `3.0`.
pub fn show_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Integer,
    Number,
    Boolean,
    Null,
    Array,
    Object,
}

impl JsonType {
    pub const NAMES: &'static [&'static str] = &[
        "string", "integer", "number", "boolean", "null", "array", "object",
    ];

    pub fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "string" => JsonType::String,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            "null" => JsonType::Null,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }

    pub fn of(value: &Value) -> JsonType {
        match value {
            Value::String(_) => JsonType::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::Bool(_) => JsonType::Boolean,
            Value::Null => JsonType::Null,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    pub fn accepts(self, value: &Value) -> bool {
        let actual = JsonType::of(value);
        actual == self || (self == JsonType::Number && actual == JsonType::Integer)
    }

    /// The type as a phrase: `a string`, `an integer`, `null`.
    pub fn phrase(self) -> &'static str {
        match self {
            JsonType::String => "a string",
            JsonType::Integer => "an integer",
            JsonType::Number => "a number",
            JsonType::Boolean => "a boolean",
            JsonType::Null => "null",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone)]
pub enum TValue {
    Lit(Value),
    Str(Template),
    Array(Vec<TValue>),
    Object(Vec<(String, TValue)>),
}

impl TValue {
    pub fn render(
        &self,
        ctx: &mut crate::template::Context,
    ) -> Result<Value, crate::template::RenderError> {
        Ok(match self {
            TValue::Lit(v) => v.clone(),
            TValue::Str(t) => t.render(ctx)?,
            TValue::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(ctx))
                    .collect::<Result<_, _>>()?,
            ),
            TValue::Object(fields) => {
                let mut map = serde_json::Map::new();
                for (k, v) in fields {
                    map.insert(k.clone(), v.render(ctx)?);
                }
                Value::Object(map)
            }
        })
    }

    /// Every template inside this value, in order.
    pub(crate) fn templates<'t>(&'t self, out: &mut Vec<&'t Template>) {
        match self {
            TValue::Lit(_) => {}
            TValue::Str(t) => out.push(t),
            TValue::Array(items) => items.iter().for_each(|i| i.templates(out)),
            TValue::Object(fields) => fields.iter().for_each(|(_, v)| v.templates(out)),
        }
    }
}

/// Saves a value from a response into a variable for later steps.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub source: CaptureSource,
    /// `regex`: the source's text is matched and the first group (the whole match when
    /// the regex has no group) is captured, as a string.
    pub regex: Option<regex::Regex>,
}

#[derive(Debug, Clone)]
pub enum CaptureSource {
    JsonPath(Query),
    Header(String),
    /// `status = true`: the response's status code, an integer.
    Status,
    /// `cookie = "NAME"`: the value of the cookie the response sets (`Set-Cookie`).
    Cookie(String),
}
