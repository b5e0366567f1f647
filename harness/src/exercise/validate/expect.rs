//! What a step's result must satisfy (`expect`), and what it captures for later steps.
//! Some expectations belong to one kind of step only (`status` to HTTP, `rows` to
//! SQL, `statuses` to concurrent requests): the caller says which it is.

use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;
use toml::Spanned;

use super::{Validator, a_type};
use crate::exercise::model::*;
use crate::exercise::raw::*;

impl Validator<'_> {
    /// `http`: the step is an HTTP request; `concurrent`: it sends several copies.
    pub(super) fn expect(
        &mut self,
        raw: Option<&RawExpect>,
        scope: &[String],
        http: bool,
        concurrent: bool,
    ) -> Expect {
        let Some(raw) = raw else {
            return Expect::default();
        };
        let mut expect = Expect::default();
        self.expect_document(raw, scope, http, &mut expect);
        self.expect_response(raw, scope, http, &mut expect);
        if let Some(d) = &raw.distinct {
            self.belongs(
                concurrent,
                d.span(),
                "`expect.distinct` compares the responses of a `concurrent` step",
            );
            expect.distinct = self.query(d.get_ref(), d.span());
        }
        expect.statuses = self.statuses(&raw.statuses, scope, concurrent);
        expect.work = self.work_asserts(&raw.work, http);
        if let Some(a) = &raw.affected {
            self.error(a.span(), "`expect.affected` is for `exec` steps");
        }
        expect
    }

    /// Reports `message` at `span` unless the expectation is `allowed` in this step.
    fn belongs(&mut self, allowed: bool, span: Range<usize>, message: &str) {
        if !allowed {
            self.error(span, message);
        }
    }

    /// Status, headers, and what the JSON document (a body, rows, a reply) holds.
    fn expect_document(
        &mut self,
        raw: &RawExpect,
        scope: &[String],
        http: bool,
        expect: &mut Expect,
    ) {
        if let Some(status) = &raw.status {
            self.belongs(http, status.span(), "`expect.status` is for `http` steps");
            expect.status = self.status(status);
        }
        if let Some((_, first)) = raw.headers.first().filter(|_| !http) {
            self.error(first.span(), "`expect.headers` is for `http` steps")
                .help = Some(
                "this step's result is a JSON document (rows, a reply, a count): check it with `expect.jsonpath`, `expect.json` or `expect.json_subset`".into(),
            );
        }
        for (name, value) in &raw.headers {
            let predicates = self.predicates(value, scope);
            let hint = self.assertion_hint(value);
            expect.headers.push(HeaderAssert {
                name: name.clone(),
                predicates,
                hint,
            });
        }
        for (path, value) in &raw.jsonpath {
            let Some(query) = self.query(path, value.span()) else {
                continue;
            };
            let predicates = self.predicates(value, scope);
            let hint = self.assertion_hint(value);
            expect.jsonpath.push(JsonAssert {
                query,
                predicates,
                hint,
            });
        }
        if let Some(rows) = &raw.rows {
            self.belongs(!http, rows.span(), "`expect.rows` is for `sql` steps");
            match u64::try_from(*rows.get_ref()) {
                Ok(r) => expect.rows = Some(r),
                Err(_) => {
                    self.error(rows.span(), "`rows` must be 0 or more");
                }
            }
        }
        if let Some(v) = &raw.json {
            expect.json = self.tvalue_in_scope(v.get_ref(), scope, v.span());
        }
        if let Some(v) = &raw.json_subset {
            expect.json_subset = self.tvalue_in_scope(v.get_ref(), scope, v.span());
        }
        if let Some(s) = &raw.json_schema {
            expect.json_schema = self.schema(s);
        }
    }

    /// What only an HTTP response has: a body as text, and a time it took.
    fn expect_response(
        &mut self,
        raw: &RawExpect,
        scope: &[String],
        http: bool,
        expect: &mut Expect,
    ) {
        if let Some(t) = &raw.body_contains {
            self.belongs(http, t.span(), "`body_contains` is for `http` steps");
            expect.body_contains = self.template_in_scope(t, scope);
        }
        if let Some(re) = &raw.body_matches {
            self.belongs(http, re.span(), "`body_matches` is for `http` steps");
            match Regex::new(re.get_ref()) {
                Ok(r) => expect.body_matches = Some(r),
                Err(e) => {
                    self.error(re.span(), format!("bad regex: {e}"));
                }
            }
        }
        if let Some(t) = &raw.max_time {
            self.belongs(http, t.span(), "`max_time` is for `http` steps");
            expect.max_time = self.duration(Some(t));
        }
    }

    /// How many of a concurrent step's responses have each status: `{ "201" = 1 }`.
    fn statuses(
        &mut self,
        raw: &IndexMap<String, Spanned<toml::Value>>,
        scope: &[String],
        concurrent: bool,
    ) -> Vec<(StatusExpect, Num)> {
        let mut statuses = Vec::new();
        for (key, n) in raw {
            self.belongs(
                concurrent,
                n.span(),
                "`expect.statuses` counts the responses of a `concurrent` step",
            );
            let key_value = key
                .parse::<i64>()
                .map(toml::Value::Integer)
                .unwrap_or_else(|_| toml::Value::String(key.clone()));
            let Some(status) = status_pattern(&key_value) else {
                self.error(
                    n.span(),
                    format!("`{key}` is not a status code (\"201\") or class (\"4xx\")"),
                );
                continue;
            };
            let count = match n.get_ref() {
                toml::Value::Integer(i) if *i >= 0 => Num::Lit(*i as f64),
                toml::Value::String(t) => match self.num_template(t, scope, n.span()) {
                    Some(c) => c,
                    None => continue,
                },
                _ => {
                    self.error(n.span(), "a count of responses: a whole number");
                    continue;
                }
            };
            statuses.push((status, count));
        }
        statuses
    }

    /// A JSON Schema given inline (a table) or as a file path relative to the spec.
    fn schema(&mut self, s: &Spanned<toml::Value>) -> Option<Schema> {
        let value: Value = match s.get_ref() {
            toml::Value::String(path) => {
                let full = self.file.parent().unwrap_or(Path::new(".")).join(path);
                let text = self.read(&full, s.span(), "the schema")?;
                match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => {
                        self.error(
                            s.span(),
                            format!("the schema `{}` is not JSON: {e}", full.display()),
                        );
                        return None;
                    }
                }
            }
            toml::Value::Table(_) => match serde_json::to_value(s.get_ref()) {
                Ok(v) => v,
                Err(e) => {
                    self.error(s.span(), format!("cannot convert the schema to JSON: {e}"));
                    return None;
                }
            },
            _ => {
                self.error(
                    s.span(),
                    "`json_schema` is a table or the path of a JSON file",
                );
                return None;
            }
        };
        match jsonschema::validator_for(&value) {
            Ok(v) => Some(Schema(std::sync::Arc::new(v))),
            Err(e) => {
                self.error(s.span(), format!("not a valid JSON Schema: {e}"));
                None
            }
        }
    }

    fn status(&mut self, status: &Spanned<toml::Value>) -> Option<StatusExpect> {
        let result = match status.get_ref() {
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(status_pattern)
                .collect::<Option<Vec<_>>>()
                .map(StatusExpect::OneOf),
            other => status_pattern(other),
        };
        if result.is_none() {
            self.error(
                status.span(),
                "expected a status code (201), a class (\"2xx\") or a list of them ([200, \"4xx\"])",
            );
        }
        result
    }

    /// The captures of a step; their names join `scope` for the steps after it. Only an
    /// `http` step has headers to capture.
    pub(super) fn captures_into(
        &mut self,
        raw: &IndexMap<String, Spanned<toml::Value>>,
        scope: &mut Vec<String>,
        http: bool,
    ) -> Vec<Capture> {
        let mut out = Vec::new();
        for (name, c) in raw {
            let Some((source, regex)) = self.capture(c, http) else {
                continue;
            };
            // What a JSONPath finds is only known at run time; the rest is one value.
            self.scalars.retain(|(n, _)| n != name);
            let scalar = match (&source, &regex) {
                (_, Some(_)) => Some("a regex group's text"),
                (CaptureSource::Header(_), _) => Some("a header's text"),
                (CaptureSource::Cookie(_), _) => Some("a cookie's value"),
                (CaptureSource::Status, _) => Some("a status code"),
                (CaptureSource::JsonPath(_), None) => None,
            };
            if let Some(what) = scalar {
                self.scalars.push((name.clone(), what));
            }
            out.push(Capture {
                name: name.clone(),
                source,
                regex,
            });
        }
        scope.extend(out.iter().map(|c| c.name.clone()));
        out
    }

    /// One capture: a JSONPath string, or a table of one source (`jsonpath`, and on an
    /// `http` step `header`, `cookie`, `status`) and an optional `regex`.
    fn capture(
        &mut self,
        c: &Spanned<toml::Value>,
        http: bool,
    ) -> Option<(CaptureSource, Option<regex::Regex>)> {
        const FORMS: &str = "a capture is a JSONPath string (\"$.id\") or a table of one source, `{ jsonpath = \"$.id\" }` or, on an `http` step, `{ header = \"Location\" }`, `{ cookie = \"session\" }`, `{ status = true }`, with an optional `regex = '/(\\d+)$'` (its first group is captured)";
        const SOURCES: [&str; 4] = ["jsonpath", "header", "cookie", "status"];
        let span = c.span();
        let table = match c.get_ref() {
            toml::Value::String(p) => {
                return self
                    .query(p, span)
                    .map(|q| (CaptureSource::JsonPath(q), None));
            }
            toml::Value::Table(t) => t,
            other => {
                self.error(
                    span,
                    format!("a capture is a string or a table, not {}", a_type(other)),
                )
                .help = Some(FORMS.into());
                return None;
            }
        };
        let valid = ["jsonpath", "header", "cookie", "status", "regex"];
        if !self.known_keys(table, span.clone(), "a capture", &valid, FORMS) {
            return None;
        }
        let named: Vec<&str> = SOURCES
            .iter()
            .copied()
            .filter(|k| table.contains_key(*k))
            .collect();
        let key = match named.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    span,
                    "a capture names its source: `jsonpath`, `header`, `cookie` or `status`",
                )
                .help = Some(FORMS.into());
                return None;
            }
            many => {
                self.error(
                    span,
                    format!("a capture takes one source, not {}", many.join(" and ")),
                )
                .help = Some(FORMS.into());
                return None;
            }
        };
        let value = &table[key];
        let source = match (key, value) {
            ("jsonpath", toml::Value::String(p)) => {
                CaptureSource::JsonPath(self.query(p, span.clone())?)
            }
            ("header", toml::Value::String(h)) => CaptureSource::Header(h.clone()),
            ("cookie", toml::Value::String(n)) if !n.is_empty() => CaptureSource::Cookie(n.clone()),
            ("status", toml::Value::Boolean(true)) => CaptureSource::Status,
            ("status", _) => {
                self.error(
                    span,
                    "`status = true` captures the status code (nothing else is a form of it)",
                )
                .help = Some(FORMS.into());
                return None;
            }
            _ => {
                let what = match key {
                    "jsonpath" => "a JSONPath",
                    "header" => "a response header",
                    _ => "a cookie",
                };
                self.error(span, format!("`{key}` names {what}, as a string"))
                    .help = Some(FORMS.into());
                return None;
            }
        };
        if !http && !matches!(source, CaptureSource::JsonPath(_)) {
            self.error(
                span,
                format!("only an `http` step has a status, headers and cookies: `{key}` cannot be captured here"),
            )
            .help =
                Some("capture a JSONPath of the step's result instead, e.g. \"$[0].id\"".into());
            return None;
        }
        let regex = match table.get("regex") {
            None => None,
            Some(toml::Value::String(r)) => match regex::Regex::new(r) {
                Ok(re) => Some(re),
                Err(e) => {
                    self.error(span, format!("bad regex: {e}"));
                    return None;
                }
            },
            Some(_) => {
                self.error(span, "`regex` takes a regex string, e.g. '/(\\d+)$'");
                return None;
            }
        };
        Some((source, regex))
    }
}

/// A status code (`201`) or class (`"2xx"`).
fn status_pattern(v: &toml::Value) -> Option<StatusExpect> {
    match v {
        toml::Value::Integer(n) => u16::try_from(*n)
            .ok()
            .filter(|n| (100..=599).contains(n))
            .map(StatusExpect::Exact),
        toml::Value::String(s) => {
            let b = s.as_bytes();
            (b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && &s[1..] == "xx")
                .then(|| StatusExpect::Class(u16::from(b[0] - b'0')))
        }
        _ => None,
    }
}
