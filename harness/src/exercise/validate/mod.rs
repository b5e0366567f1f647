//! Reads a spec file and validates it into an `Exercise`, collecting every error with
//! its position rather than stopping at the first. One file per part of the spec:
//! the submission and its services, the checks, their steps (HTTP, load, SQL), what a step
//! expects, and assertions; this file holds the entry points and the shared pieces
//! (durations, templates, variables in scope).

mod check;
mod exec;
mod expect;
mod hint;
mod http;
mod load;
mod predicate;
mod redis;
mod sql;
mod step;
mod submission;
mod tcp;
mod work;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json_path::JsonPath;
use toml::Spanned;

use super::error::{SpecError, SpecErrors, help_for, toml_error};
use super::model::*;
use super::raw::*;
use crate::template::Template;

/// The file name of an exercise's spec inside its folder.
pub const SPEC_FILE: &str = "spec.toml";

/// Loads an exercise from its folder (containing `spec.toml`) or from a spec file.
pub fn load_exercise(path: &Path) -> Result<Exercise, SpecErrors> {
    let file = if path.is_dir() {
        path.join(SPEC_FILE)
    } else {
        path.to_path_buf()
    };
    let src = std::fs::read_to_string(&file).map_err(|e| {
        let msg = if e.kind() == std::io::ErrorKind::NotFound {
            format!("no exercise spec here ({e})")
        } else {
            format!("cannot read the exercise spec: {e}")
        };
        SpecErrors(vec![SpecError::file(&file, msg)])
    })?;
    parse_exercise(&file, &src)
}

/// Parses and validates a spec's text; `file` is used for error messages and to find
/// the files the spec names.
pub fn parse_exercise(file: &Path, src: &str) -> Result<Exercise, SpecErrors> {
    let raw: RawSpec =
        toml::from_str(src).map_err(|e| SpecErrors(vec![toml_error(file, src, &e)]))?;
    let mut v = Validator::new(file, src, Declared::default());
    let exercise = v.exercise(raw);
    if v.errors.is_empty() {
        Ok(exercise)
    } else {
        Err(SpecErrors(v.errors))
    }
}

/// The most copies a `concurrent` step (or a `sequence`) may send at once.
const MAX_CONCURRENT: i64 = 1000;

/// Validates one source text (the spec, or a file it includes), gathering its errors.
struct Validator<'a> {
    file: &'a Path,
    src: &'a str,
    errors: Vec<SpecError>,
    /// The services the spec declares (steps that need one check it).
    services: Declared,
    /// The variables of the current check known not to hold a list, with what they
    /// hold: `for_each` and `gen.pick` over them could only fail at run time.
    scalars: Vec<(String, &'static str)>,
}

/// Which optional services a spec declares.
#[derive(Debug, Clone, Copy, Default)]
struct Declared {
    postgres: bool,
    redis: bool,
    upstream: bool,
}

impl<'a> Validator<'a> {
    fn new(file: &'a Path, src: &'a str, services: Declared) -> Self {
        Validator {
            file,
            src,
            errors: Vec::new(),
            services,
            scalars: Vec::new(),
        }
    }
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut SpecError {
        let err = SpecError::at(self.file, self.src, span, message);
        self.errors.push(err);
        self.errors.last_mut().expect("just pushed")
    }

    /// `file:line` of a span, for the model's `location` fields.
    fn location(&self, span: &Range<usize>) -> String {
        let line = self.src[..span.start.min(self.src.len())]
            .matches('\n')
            .count()
            + 1;
        format!("{}:{}", self.file.display(), line)
    }

    fn exercise(&mut self, raw: RawSpec) -> Exercise {
        let dir = self
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let name = raw.exercise.name.get_ref().clone();
        if !is_identifier(&name) {
            self.error(
                raw.exercise.name.span(),
                "the exercise name must be letters, digits, `-` or `_`",
            );
        }
        let readme = raw.exercise.readme.as_ref().map(|r| {
            let path = dir.join(r.get_ref());
            if !path.is_file() {
                self.error(
                    r.span(),
                    format!("the README `{}` does not exist", path.display()),
                );
            }
            path
        });
        let submission = self.submission(raw.submission);
        let (postgres, redis, upstream) = self.services(raw.services);
        let pass_mark = self.pass_mark(raw.scoring.pass_mark.as_ref());
        let checks = self.all_checks(
            raw.setup,
            raw.checks,
            &raw.exercise.include,
            &raw.scoring,
            &dir,
        );
        Exercise {
            name,
            title: raw.exercise.title,
            version: raw.exercise.version.unwrap_or_else(|| "1".into()),
            description: raw.exercise.description.unwrap_or_default(),
            dir,
            spec_path: self.file.to_path_buf(),
            readme,
            submission,
            postgres,
            redis,
            upstream,
            pass_mark,
            checks,
        }
    }

    fn duration(&mut self, raw: Option<&Spanned<String>>) -> Option<Duration> {
        let raw = raw?;
        match parse_duration(raw.get_ref()) {
            Some(d) => Some(d),
            None => {
                self.error(
                    raw.span(),
                    "expected a duration such as \"500ms\", \"10s\" or \"2m\"",
                );
                None
            }
        }
    }

    /// A template written as a TOML string: an error points at the `{{` inside it.
    fn template(&mut self, s: &Spanned<String>) -> Option<Template> {
        match Template::parse(s.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                // +1 skips the opening quote of the TOML string.
                let start = s.span().start + 1 + e.offset;
                let err = self.error(start..start + 2, e.message);
                err.help = e.help;
                None
            }
        }
    }

    /// A template that is one word of a longer text (a Redis command): an error points
    /// at the whole text.
    fn template_at(&mut self, src: &str, span: Range<usize>) -> Option<Template> {
        match Template::parse(src) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(span, e.message).help = e.help;
                None
            }
        }
    }

    fn tvalue(&mut self, v: &toml::Value, span: Range<usize>) -> Option<TValue> {
        Some(match v {
            toml::Value::String(s) => TValue::Str(self.template_at(s, span)?),
            toml::Value::Integer(i) => TValue::Lit(Value::from(*i)),
            toml::Value::Float(f) => TValue::Lit(Value::from(*f)),
            toml::Value::Boolean(b) => TValue::Lit(Value::Bool(*b)),
            toml::Value::Datetime(d) => TValue::Lit(Value::String(d.to_string())),
            toml::Value::Array(items) => TValue::Array(
                items
                    .iter()
                    .map(|i| self.tvalue(i, span.clone()))
                    .collect::<Option<_>>()?,
            ),
            toml::Value::Table(t) => TValue::Object(
                t.iter()
                    .map(|(k, v)| Some((k.clone(), self.tvalue(v, span.clone())?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }

    /// A value whose templates may use only the variables in `scope`.
    fn tvalue_in_scope(
        &mut self,
        v: &toml::Value,
        scope: &[String],
        span: Range<usize>,
    ) -> Option<TValue> {
        let tv = self.tvalue(v, span.clone())?;
        self.check_scope(&tv, scope, span);
        Some(tv)
    }

    /// What a variable holds when it is known not to be a list.
    fn scalar(&self, name: &str) -> Option<&'static str> {
        self.scalars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, what)| *what)
    }

    /// Reports variables that no earlier var or capture defines, and `gen.pick` over a
    /// variable that is not a list.
    fn check_scope(&mut self, tv: &TValue, scope: &[String], span: Range<usize>) {
        let mut templates = Vec::new();
        tv.templates(&mut templates);
        let picked: Vec<String> = templates
            .iter()
            .flat_map(|t| t.picked().map(str::to_string))
            .collect();
        for var in picked {
            if let Some(what) = self.scalar(&var) {
                self.error(
                    span.clone(),
                    format!(
                        "`gen.pick({var})` draws an item from a list, but `{var}` holds {what}"
                    ),
                )
                .help = Some(format!(
                    "give `{var}` a list, e.g. `{var} = [\"a\", \"b\"]`, or capture one (\"$[*].id\")"
                ));
            }
        }
        let used: Vec<String> = templates
            .iter()
            .flat_map(|t| t.variables().map(str::to_string))
            .collect();
        for var in used {
            if !scope.contains(&var) {
                let fallback = "define it in the check's `vars` or capture it in an earlier step";
                self.error(span.clone(), format!("unknown variable `{var}`"))
                    .help = help_for(
                    &var,
                    scope.iter().map(String::as_str),
                    Some(fallback.into()),
                );
            }
        }
    }

    fn template_in_scope(&mut self, s: &Spanned<String>, scope: &[String]) -> Option<Template> {
        let t = self.template(s)?;
        self.check_scope(&TValue::Str(t.clone()), scope, s.span());
        Some(t)
    }

    fn template_map(
        &mut self,
        map: &IndexMap<String, Spanned<String>>,
        scope: &[String],
    ) -> Vec<(String, Template)> {
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), self.template_in_scope(v, scope)?)))
            .collect()
    }

    /// A number given as a template, e.g. `count = "{{ k }}"`.
    fn num_template(&mut self, src: &str, scope: &[String], span: Range<usize>) -> Option<Num> {
        let t = self.template_at(src, span.clone())?;
        self.check_scope(&TValue::Str(t.clone()), scope, span);
        Some(Num::Var(t))
    }

    /// A file the spec names (`what` it is, for the error).
    fn read(&mut self, path: &Path, span: Range<usize>, what: &str) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(
                    span,
                    format!("cannot read {what} `{}`: {e}", path.display()),
                );
                None
            }
        }
    }

    /// A setting with two values, `off` (the default) or `on`: whether it is `on`, or
    /// `None` (with an error) for anything else.
    fn switch(
        &mut self,
        raw: Option<&Spanned<String>>,
        what: &str,
        off: &str,
        on: &str,
    ) -> Option<bool> {
        let Some(raw) = raw else {
            return Some(false);
        };
        match raw.get_ref().as_str() {
            word if word == off => Some(false),
            word if word == on => Some(true),
            other => {
                self.error(
                    raw.span(),
                    format!("unknown {what} `{other}`: expected \"{off}\" or \"{on}\""),
                );
                None
            }
        }
    }

    /// One of a few keywords, each standing for a value; anything else is an error with
    /// a "did you mean" (or the list of keywords).
    fn keyword<T: Copy>(
        &mut self,
        raw: &Spanned<String>,
        what: &str,
        choices: &[(&'static str, T)],
    ) -> Option<T> {
        let word = raw.get_ref().as_str();
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == word) {
            return Some(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let list = match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        self.error(raw.span(), format!("unknown {what} `{word}`"))
            .help = help_for(word, names, Some(format!("expected {list}")));
        None
    }

    /// Reports each key of an inline `table` (a capture, a threshold) that is not one of
    /// `valid`, with a "did you mean" or the valid `forms`; whether there was none.
    fn known_keys(
        &mut self,
        table: &toml::Table,
        span: Range<usize>,
        what: &str,
        valid: &[&str],
        forms: &str,
    ) -> bool {
        let mut ok = true;
        for key in table.keys().filter(|k| !valid.contains(&k.as_str())) {
            self.error(span.clone(), format!("unknown key `{key}` in {what}"))
                .help = help_for(key, valid.iter().copied(), Some(forms.into()));
            ok = false;
        }
        ok
    }

    fn query(&mut self, src: &str, span: Range<usize>) -> Option<Query> {
        match JsonPath::parse(src) {
            Ok(path) => Some(Query {
                src: src.to_string(),
                path,
            }),
            Err(e) => {
                self.error(span, format!("`{src}` is not a valid JSONPath: {e}"))
                    .help =
                    Some("JSONPath starts with `$`, e.g. \"$.id\" or \"$[0].title\"".into());
                None
            }
        }
    }
}

/// A TOML value's type with its article, for "a capture is ..., not an integer".
fn a_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Names of exercises and checks: letters, digits, `-` or `_`, not empty.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// "500ms", "10s", "2m", "1h".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0 && secs < 86_400.0).then(|| Duration::from_secs_f64(secs))
}

/// "512MiB", "1GiB", "256MB", "64k".
pub fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult: i64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}
