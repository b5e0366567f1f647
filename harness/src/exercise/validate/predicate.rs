//! Assertions on a value: a plain value means "equals"; a table names one or more
//! predicates (`{ gt = 0, type = "integer" }`).

use std::ops::Range;

use regex::Regex;
use toml::Spanned;

use super::Validator;
use crate::exercise::error::help_for;
use crate::exercise::model::*;

/// The predicates a table may name.
const NAMES: &[&str] = &[
    "equals",
    "not_equals",
    "matches",
    "contains",
    "not_contains",
    "type",
    "exists",
    "count",
    "gt",
    "ge",
    "lt",
    "le",
    "sorted",
    "url",
    "url_path",
    "media_type",
    "not",
];

impl Validator<'_> {
    pub(super) fn predicates(
        &mut self,
        value: &Spanned<toml::Value>,
        scope: &[String],
    ) -> Vec<Predicate> {
        let span = value.span();
        let table = match value.get_ref() {
            toml::Value::Table(t) => t,
            // A plain value means "equals".
            other => {
                return self
                    .tvalue_in_scope(other, scope, span)
                    .map(|tv| vec![Predicate::Equals(tv)])
                    .unwrap_or_default();
            }
        };
        if table.is_empty() {
            self.error(
                span.clone(),
                format!("an empty assertion: use one of {}", NAMES.join(", ")),
            );
        }
        // `hint` is the assertion's advice, not a predicate (see `assertion_hint`).
        table
            .iter()
            .filter(|(key, _)| *key != "hint")
            .filter_map(|(key, v)| self.predicate(key, v, scope, span.clone()))
            .collect()
    }

    /// One predicate of a table; `None` (with an error) when it is unusable.
    fn predicate(
        &mut self,
        key: &str,
        v: &toml::Value,
        scope: &[String],
        span: Range<usize>,
    ) -> Option<Predicate> {
        let pred = match key {
            "equals" => Predicate::Equals(self.tvalue_in_scope(v, scope, span)?),
            "not_equals" => Predicate::NotEquals(self.tvalue_in_scope(v, scope, span)?),
            "contains" => Predicate::Contains(self.tvalue_in_scope(v, scope, span)?),
            "not_contains" => Predicate::NotContains(self.tvalue_in_scope(v, scope, span)?),
            "matches" => match v.as_str().map(Regex::new) {
                Some(Ok(re)) => Predicate::Matches(re),
                Some(Err(e)) => return self.refuse(span, format!("bad regex: {e}")),
                None => return self.refuse(span, "`matches` takes a regex string"),
            },
            "type" => match v.as_str().and_then(JsonType::parse) {
                Some(t) => Predicate::Type(t),
                None => {
                    let given = v.as_str().unwrap_or("");
                    let fallback = format!("types: {}", JsonType::NAMES.join(", "));
                    self.error(span, "`type` names a JSON type").help =
                        help_for(given, JsonType::NAMES.iter().copied(), Some(fallback));
                    return None;
                }
            },
            "exists" => match v.as_bool() {
                Some(b) => Predicate::Exists(b),
                None => return self.refuse(span, "`exists` takes true or false"),
            },
            "count" => Predicate::Count(self.count(v, scope, span)?),
            "gt" => Predicate::Gt(self.bound(key, v, scope, span)?),
            "ge" => Predicate::Ge(self.bound(key, v, scope, span)?),
            "lt" => Predicate::Lt(self.bound(key, v, scope, span)?),
            "le" => Predicate::Le(self.bound(key, v, scope, span)?),
            "sorted" => match v.as_str() {
                Some("asc") => Predicate::Sorted(SortOrder::Asc),
                Some("desc") => Predicate::Sorted(SortOrder::Desc),
                _ => return self.refuse(span, "`sorted` takes \"asc\" or \"desc\""),
            },
            "url" => match v.as_str() {
                Some(t) => {
                    let t = self.template_at(t, span.clone())?;
                    self.check_scope(&TValue::Str(t.clone()), scope, span);
                    Predicate::Url(t)
                }
                None => {
                    return self.refuse(
                        span,
                        "`url` takes a URL or a path, e.g. \"/todos/{{ id }}\" (resolved against the request's URL)",
                    );
                }
            },
            "url_path" => match v.as_str().map(Regex::new) {
                Some(Ok(re)) => Predicate::UrlPath(re),
                Some(Err(e)) => return self.refuse(span, format!("bad regex: {e}")),
                None => {
                    return self.refuse(span, "`url_path` takes a regex string for the URL's path");
                }
            },
            "media_type" => match v.as_str().map(|t| (t, MediaType::parse(t))) {
                Some((_, Some(m))) => Predicate::MediaType(m),
                Some((t, None)) => {
                    return self.refuse(
                        span,
                        format!("`media_type` takes a media type such as \"application/json\", not {t:?}"),
                    );
                }
                None => {
                    return self.refuse(
                        span,
                        "`media_type` takes a media type such as \"application/json\"",
                    );
                }
            },
            "not" => {
                if v.as_table().is_some_and(|t| t.contains_key("hint")) {
                    return self.refuse(
                        span,
                        "a `hint` goes beside `not`, not inside it: { not = { equals = 0 }, hint = \"...\" }",
                    );
                }
                let inner = self.predicates(&Spanned::new(span.clone(), v.clone()), scope);
                if inner.is_empty() {
                    return None;
                }
                Predicate::Not(inner)
            }
            other => {
                let fallback = format!("assertions: {}", NAMES.join(", "));
                self.error(span, format!("unknown assertion `{other}`"))
                    .help = help_for(other, NAMES.iter().copied(), Some(fallback));
                return None;
            }
        };
        Some(pred)
    }

    /// Reports an unusable predicate, which is then left out.
    fn refuse(&mut self, span: Range<usize>, message: impl Into<String>) -> Option<Predicate> {
        self.error(span, message);
        None
    }

    /// `count`: a whole number, or a template whose value is one.
    fn count(&mut self, v: &toml::Value, scope: &[String], span: Range<usize>) -> Option<Num> {
        match v {
            toml::Value::Integer(i) if *i >= 0 => Some(Num::Lit(*i as f64)),
            toml::Value::String(t) => self.num_template(t, scope, span),
            _ => {
                self.error(
                    span,
                    "`count` takes a whole number (or a template such as \"{{ n }}\")",
                );
                None
            }
        }
    }

    /// The number of `gt`, `ge`, `lt` or `le`: written out, or a template.
    fn bound(
        &mut self,
        key: &str,
        v: &toml::Value,
        scope: &[String],
        span: Range<usize>,
    ) -> Option<Num> {
        let number = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        let bound = number.map(Num::Lit).or_else(|| {
            v.as_str()
                .and_then(|t| self.num_template(t, scope, span.clone()))
        });
        if bound.is_none() {
            self.error(
                span,
                format!("`{key}` takes a number (or a template such as \"{{{{ n }}}}\")"),
            );
        }
        bound
    }
}
