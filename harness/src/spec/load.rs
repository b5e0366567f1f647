//! Reads a spec file and validates it into an `Exercise`, collecting every error with
//! its position rather than stopping at the first.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;
use toml::Spanned;

use super::error::{SpecError, did_you_mean, suggest_for_serde_message};
use super::model::*;
use super::raw::*;
use crate::template::Template;

/// The file name of an exercise's spec inside its folder.
pub const SPEC_FILE: &str = "spec.toml";

/// Every problem found in a spec, in file order.
#[derive(Debug, Clone)]
pub struct SpecErrors(pub Vec<SpecError>);

impl std::fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the exercise spec",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for SpecErrors {}

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
    let mut v = Validator {
        file,
        src,
        errors: Vec::new(),
        services: Declared::default(),
    };
    let exercise = v.exercise(raw);
    if v.errors.is_empty() {
        Ok(exercise)
    } else {
        Err(SpecErrors(v.errors))
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

/// Splits a Redis command into words, as redis-cli does: on spaces outside `{{ ... }}`
/// and outside quotes. `"..."` takes `\"` and `\\` escapes; `'...'` is literal, so
/// `SET k '{"a": 1}'` stores a JSON text.
fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut in_template = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if in_template {
            word.push(c);
            if c == '}' && chars.peek() == Some(&'}') {
                word.push(chars.next().expect("peeked"));
                in_template = false;
            }
        } else if c == '{' && chars.peek() == Some(&'{') {
            word.push(c);
            word.push(chars.next().expect("peeked"));
            in_template = true;
            started = true;
        } else if quote == Some('"') && c == '\\' {
            match chars.next() {
                Some(e @ ('"' | '\\')) => word.push(e),
                Some(other) => {
                    word.push(c);
                    word.push(other);
                }
                None => word.push(c),
            }
        } else if quote == Some(c) {
            quote = None;
        } else if quote.is_none() && (c == '"' || c == '\'') {
            quote = Some(c);
            started = true;
        } else if c.is_whitespace() && quote.is_none() {
            if started {
                words.push(std::mem::take(&mut word));
                started = false;
            }
        } else {
            word.push(c);
            started = true;
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed `{q}` in the Redis command"));
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

/// A TOML or serde error, at its position, with a "did you mean" when one fits.
fn toml_error(file: &Path, src: &str, e: &toml::de::Error) -> SpecError {
    let message = e.message().to_string();
    let span = e.span().unwrap_or(0..0);
    let err = SpecError::at(file, src, span, message.clone());
    match suggest_for_serde_message(&message) {
        Some(help) => err.with_help(help),
        None => err,
    }
}

/// What validating checks accumulates across the spec and its included files.
struct ChecksState<'w> {
    /// Ids of the checks so far, in order.
    seen: Vec<String>,
    weights: &'w IndexMap<String, f64>,
    checks: Vec<Check>,
}

struct Validator<'a> {
    file: &'a Path,
    src: &'a str,
    errors: Vec<SpecError>,
    /// The services the spec declares (steps that need one check it).
    services: Declared,
}

/// Which optional services a spec declares.
#[derive(Debug, Clone, Copy, Default)]
struct Declared {
    redis: bool,
    upstream: bool,
}

const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SQL_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONCURRENT: i64 = 1000;

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut SpecError {
        let err = SpecError::at(self.file, self.src, span, message);
        self.errors.push(err);
        self.errors.last_mut().expect("just pushed")
    }

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
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
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
        let postgres = raw.services.postgres.map(|p| PostgresService {
            user: p.user.unwrap_or_else(|| "grader".into()),
            database: p.database.unwrap_or_else(|| "app".into()),
        });
        let redis = raw.services.redis.as_ref().map(|_| RedisService {});
        let upstream = raw
            .services
            .upstream
            .as_ref()
            .map(|u| self.upstream(u.get_ref()));
        self.services = Declared {
            redis: redis.is_some(),
            upstream: upstream.is_some(),
        };
        let pass_mark = match raw.scoring.pass_mark {
            Some(p) if !(0.0..=100.0).contains(p.get_ref()) => {
                self.error(p.span(), "`pass_mark` is a percentage: expected 0 to 100");
                100.0
            }
            Some(p) => *p.get_ref(),
            None => 100.0,
        };
        let mut weights = IndexMap::new();
        for (category, w) in &raw.scoring.weights {
            if *w.get_ref() > 0.0 && w.get_ref().is_finite() {
                weights.insert(category.clone(), *w.get_ref());
            } else {
                self.error(w.span(), "a weight must be a number above 0");
            }
        }
        let mut state = ChecksState {
            seen: Vec::new(),
            weights: &weights,
            checks: Vec::new(),
        };
        self.checks_of(raw.checks, &mut state);
        for include in &raw.exercise.include {
            let path = dir.join(include.get_ref());
            let src = match std::fs::read_to_string(&path) {
                Ok(src) => src,
                Err(e) => {
                    self.error(
                        include.span(),
                        format!("cannot read the included file `{}`: {e}", path.display()),
                    );
                    continue;
                }
            };
            match toml::from_str::<RawInclude>(&src) {
                Ok(inc) => {
                    let mut sub = Validator {
                        file: &path,
                        src: &src,
                        errors: Vec::new(),
                        services: self.services,
                    };
                    sub.checks_of(inc.checks, &mut state);
                    self.errors.extend(sub.errors);
                }
                Err(e) => self.errors.push(toml_error(&path, &src, &e)),
            }
        }
        for (category, w) in &raw.scoring.weights {
            if !state.checks.iter().any(|c| c.category == *category) {
                self.error(
                    w.span(),
                    format!("a weight for category `{category}`, which no check has"),
                );
            }
        }
        let checks = state.checks;
        if checks.is_empty() && self.errors.is_empty() {
            self.errors.push(SpecError::file(
                self.file,
                "the exercise has no checks: add at least one `[[checks]]`",
            ));
        }
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

    /// The upstream mock's routes.
    fn upstream(&mut self, raw: &RawUpstream) -> UpstreamService {
        let mut routes = Vec::new();
        for r in &raw.routes {
            let span = r.span();
            let r = r.get_ref();
            let method = match &r.method {
                None => http::Method::GET,
                Some(m) => match http::Method::from_bytes(m.get_ref().as_bytes()) {
                    Ok(method) if m.get_ref().chars().all(|c| c.is_ascii_uppercase()) => method,
                    _ => {
                        self.error(
                            m.span(),
                            "expected an HTTP method in capitals, e.g. \"GET\"",
                        );
                        continue;
                    }
                },
            };
            let path = r.path.get_ref().clone();
            if !path.starts_with('/') {
                self.error(
                    r.path.span(),
                    "a route's path starts with `/`, e.g. \"/quotes/{symbol}\"",
                );
                continue;
            }
            let mut segments = Vec::new();
            let mut scope = vec!["calls".to_string()];
            for seg in path.trim_start_matches('/').split('/') {
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        self.error(r.path.span(), format!("`{seg}`: a path parameter is `{{name}}` with letters, digits or `_`"));
                    }
                    scope.push(name.to_string());
                    segments.push(Segment::Param(name.to_string()));
                } else {
                    segments.push(Segment::Literal(seg.to_string()));
                }
            }
            let status = match &r.status {
                None => 200,
                Some(s) if (100..=599).contains(s.get_ref()) => *s.get_ref() as u16,
                Some(s) => {
                    self.error(s.span(), "expected an HTTP status from 100 to 599");
                    200
                }
            };
            let delay = self.duration(r.delay.as_ref()).unwrap_or_default();
            let body = match (&r.json, &r.body) {
                (Some(_), Some(_)) => {
                    self.error(span.clone(), "a route answers `json` or `body`, not both");
                    MockBody::Empty
                }
                (Some(j), None) => match self.tvalue(j.get_ref(), j.span()) {
                    Some(tv) => {
                        self.check_scope(&tv, &scope, j.span());
                        MockBody::Json(tv)
                    }
                    None => MockBody::Empty,
                },
                (None, Some(b)) => match self.template(b) {
                    Some(t) => {
                        self.check_scope(&TValue::Str(t.clone()), &scope, b.span());
                        MockBody::Text(t)
                    }
                    None => MockBody::Empty,
                },
                (None, None) => MockBody::Empty,
            };
            routes.push(MockRoute {
                method,
                path,
                segments,
                status,
                delay,
                body,
            });
        }
        UpstreamService { routes }
    }

    fn submission(&mut self, raw: RawSubmission) -> SubmissionContract {
        let health = match raw.health {
            Some(h) if !h.get_ref().starts_with('/') => {
                self.error(h.span(), "the health path must start with `/`");
                h.into_inner()
            }
            Some(h) => h.into_inner(),
            None => "/health".into(),
        };
        let startup_timeout = self
            .duration(raw.startup_timeout.as_ref())
            .unwrap_or(Duration::from_secs(60));
        let mut env = Vec::new();
        for (name, value) in raw.env {
            if let Some(t) = self.template(&value) {
                for var in t.variables() {
                    if !ENV_VARIABLES.contains(&var) {
                        let help = did_you_mean(var, ENV_VARIABLES.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("known: {}", ENV_VARIABLES.join(", ")));
                        self.error(value.span(), format!("unknown variable `{var}` in `env`"))
                            .help = Some(help);
                    }
                }
                env.push((name, t));
            }
        }
        let mut limits = Limits::default();
        if let Some(m) = &raw.limits.memory {
            match parse_bytes(m.get_ref()) {
                Some(b) if b >= 16 * 1024 * 1024 => limits.memory_bytes = b,
                Some(_) => {
                    self.error(m.span(), "`memory` must be at least 16MiB");
                }
                None => {
                    self.error(m.span(), "expected a size such as \"512MiB\" or \"1GiB\"");
                }
            }
        }
        if let Some(c) = &raw.limits.cpus {
            if *c.get_ref() > 0.0 && *c.get_ref() <= 64.0 {
                limits.cpus = *c.get_ref();
            } else {
                self.error(c.span(), "`cpus` must be above 0 (e.g. 0.5, 1, 2)");
            }
        }
        if let Some(t) = &raw.limits.tmp {
            match parse_bytes(t.get_ref()) {
                Some(b) if b >= 1024 * 1024 => limits.tmp_bytes = b,
                _ => {
                    self.error(
                        t.span(),
                        "`tmp` is a size of at least 1MiB, such as \"64MiB\"",
                    );
                }
            }
        }
        if let Some(r) = raw.limits.read_only {
            limits.read_only = r;
        }
        if let Some(n) = &raw.limits.nofile {
            if (64..=1_048_576).contains(n.get_ref()) {
                limits.nofile = *n.get_ref();
            } else {
                self.error(n.span(), "`nofile` must be 64 to 1048576");
            }
        }
        if let Some(p) = &raw.limits.pids {
            if *p.get_ref() >= 8 {
                limits.pids = *p.get_ref();
            } else {
                self.error(p.span(), "`pids` must be at least 8");
            }
        }
        SubmissionContract {
            port: raw.port.unwrap_or(8080),
            health,
            startup_timeout,
            env,
            limits,
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

    fn tvalue(&mut self, v: &toml::Value, span: Range<usize>) -> Option<TValue> {
        Some(match v {
            toml::Value::String(s) => match Template::parse(s) {
                Ok(t) => TValue::Str(t),
                Err(e) => {
                    self.error(span, e.message).help = e.help;
                    return None;
                }
            },
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

    fn checks_of(&mut self, raw: Vec<Spanned<RawCheck>>, state: &mut ChecksState<'_>) {
        for check in raw {
            let span = check.span();
            let check = check.into_inner();
            let id = check.id.get_ref().clone();
            if state.seen.contains(&id) {
                self.error(
                    check.id.span(),
                    format!("a check with id `{id}` already exists"),
                );
            }
            for need in &check.needs {
                if !state.seen.contains(need.get_ref()) {
                    let help = did_you_mean(need.get_ref(), state.seen.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            "`needs` names checks that come earlier in the spec".into()
                        });
                    self.error(
                        need.span(),
                        format!(
                            "`needs` names `{}`, which is not an earlier check",
                            need.get_ref()
                        ),
                    )
                    .help = Some(help);
                }
            }
            let weight = state
                .weights
                .get(check.category.get_ref())
                .copied()
                .unwrap_or(1.0);
            if let Some(mut c) = self.check(check, span) {
                c.points *= weight;
                state.checks.push(c);
            }
            state.seen.push(id);
        }
    }

    fn check(&mut self, raw: RawCheck, span: Range<usize>) -> Option<Check> {
        let errors_before = self.errors.len();
        let id = raw.id.get_ref().clone();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.error(
                raw.id.span(),
                "a check id must be letters, digits, `-` or `_`",
            );
        }
        let category = raw.category.get_ref().clone();
        if category.is_empty() {
            self.error(raw.category.span(), "the category must not be empty");
        }
        let points = match u32::try_from(*raw.points.get_ref()) {
            Ok(p) if p <= 10_000 => p,
            _ => {
                self.error(
                    raw.points.span(),
                    "`points` must be a whole number from 0 to 10000",
                );
                0
            }
        };
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_CHECK_TIMEOUT);
        let hidden = match raw.visibility.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None | Some((_, "visible")) => false,
            Some((_, "hidden")) => true,
            Some((v, other)) => {
                self.error(
                    v.span(),
                    format!("unknown visibility `{other}`: expected \"visible\" or \"hidden\""),
                );
                false
            }
        };
        let mut scope: Vec<String> = Vec::new();
        let mut vars = Vec::new();
        for (name, value) in &raw.vars {
            if let Some(tv) = self.tvalue(value.get_ref(), value.span()) {
                self.check_scope(&tv, &scope, value.span());
                vars.push((name.clone(), tv));
                scope.push(name.clone());
            }
        }
        if raw.steps.is_empty() {
            self.error(
                raw.id.span(),
                format!("check `{id}` has no steps: add `[[checks.steps]]`"),
            );
        }
        let mut steps = Vec::new();
        for step in raw.steps {
            let span = step.span();
            if let Some(s) = self.step(step.into_inner(), span, &mut scope) {
                steps.push(s);
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Check {
            id,
            title: raw.title,
            category,
            points: f64::from(points),
            timeout,
            hidden,
            needs: raw.needs.iter().map(|n| n.get_ref().clone()).collect(),
            partial: raw.partial,
            vars,
            steps,
            location: self.location(&span),
        })
    }

    /// Reports variables that no earlier var or capture defines.
    fn check_scope(&mut self, tv: &TValue, scope: &[String], span: Range<usize>) {
        let mut used = Vec::new();
        tv.variables(&mut used);
        for var in used {
            if !scope.contains(&var) {
                let help = did_you_mean(&var, scope.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        "define it in the check's `vars` or capture it in an earlier step".into()
                    });
                self.error(span.clone(), format!("unknown variable `{var}`"))
                    .help = Some(help);
            }
        }
    }

    fn template_in_scope(&mut self, s: &Spanned<String>, scope: &[String]) -> Option<Template> {
        let t = self.template(s)?;
        self.check_scope(&TValue::Str(t.clone()), scope, s.span());
        Some(t)
    }

    fn step(&mut self, raw: RawStep, span: Range<usize>, scope: &mut Vec<String>) -> Option<Step> {
        let kinds: Vec<&str> = [
            raw.http
                .as_ref()
                .filter(|_| raw.load.is_none())
                .map(|_| "http"),
            raw.load.as_ref().map(|_| "load"),
            (!raw.sequence.is_empty()).then_some("sequence"),
            raw.sql.as_ref().map(|_| "sql"),
            raw.action.as_ref().map(|_| "action"),
            raw.sleep.as_ref().map(|_| "sleep"),
            raw.redis.as_ref().map(|_| "redis"),
            raw.upstream.as_ref().map(|_| "upstream"),
            raw.upstream_calls.as_ref().map(|_| "upstream_calls"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            let what = if kinds.is_empty() {
                "a step needs one of `http`, `sql`, `action`, `sleep`, `load`, `redis`, `upstream` or `upstream_calls`".to_string()
            } else {
                format!(
                    "a step has exactly one kind (`http`, `sql`, `action`, `sleep`, `load`, `redis`, `upstream`, `upstream_calls`), not {}",
                    kinds.join(" and ")
                )
            };
            self.error(span, what);
            return None;
        }
        let location = self.location(&span);
        if raw.weight.is_some() {
            self.error(
                span.clone(),
                "`weight` belongs in the entries of a load step's `mix`",
            );
        }
        if !raw.sequence.is_empty() {
            let kind = self.sequence_step(&raw, span.clone(), scope)?;
            return Some(Step {
                location,
                hint: raw.hint.clone(),
                kind,
            });
        }
        if let Some(load) = &raw.load {
            let kind = StepKind::Load(Box::new(self.load_step(&raw, load, scope)?));
            return Some(Step {
                location,
                hint: raw.hint.clone(),
                kind,
            });
        }
        let kind = if let Some(http) = &raw.http {
            StepKind::Http(Box::new(self.http_step(&raw, http, scope)?))
        } else if let Some(sql) = &raw.sql {
            StepKind::Sql(Box::new(self.sql_step(&raw, sql, span.clone(), scope)?))
        } else if let Some(sleep) = &raw.sleep {
            self.reject_fields(&raw, "sleep", span.clone());
            let d = self.duration(Some(sleep))?;
            if d > Duration::from_secs(60) {
                self.error(sleep.span(), "a sleep lasts at most \"60s\"");
                return None;
            }
            StepKind::Sleep(d)
        } else if let Some(cmd) = &raw.redis {
            StepKind::Redis(Box::new(self.redis_step(&raw, cmd, span.clone(), scope)?))
        } else if let Some(mode) = &raw.upstream {
            self.reject_fields(&raw, "upstream", span.clone());
            self.need_upstream(mode.span());
            match mode.get_ref().as_str() {
                "ok" => StepKind::Upstream(UpstreamMode::Ok),
                "fail" => StepKind::Upstream(UpstreamMode::Fail),
                "slow" => match &raw.delay {
                    Some(d) => StepKind::Upstream(UpstreamMode::Slow(self.duration(Some(d))?)),
                    None => {
                        self.error(
                            mode.span(),
                            "`upstream = \"slow\"` needs a `delay`, e.g. delay = \"5s\"",
                        );
                        return None;
                    }
                },
                other => {
                    let help = did_you_mean(other, ["ok", "fail", "slow"])
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "expected `ok`, `fail` or `slow`".into());
                    self.error(mode.span(), format!("unknown upstream mode `{other}`"))
                        .help = Some(help);
                    return None;
                }
            }
        } else if let Some(path) = &raw.upstream_calls {
            self.reject_fields(&raw, "upstream_calls", span.clone());
            self.need_upstream(path.span());
            let t = self.template(path)?;
            self.check_scope(&TValue::Str(t.clone()), scope, path.span());
            let expect = self.expect(raw.expect.as_ref(), scope, false, false);
            let captures = self.captures(&raw.capture);
            scope.extend(captures.iter().map(|c| c.name.clone()));
            StepKind::UpstreamCalls(Box::new(UpstreamCallsStep {
                path: t,
                expect,
                captures,
            }))
        } else {
            let action = raw.action.as_ref().expect("one kind is set");
            self.reject_fields(&raw, "action", span.clone());
            match action.get_ref().as_str() {
                "restart" => StepKind::Restart,
                "crash" => StepKind::Crash,
                "wait_ready" => StepKind::WaitReady,
                other => {
                    let names = ["restart", "crash", "wait_ready"];
                    let help = did_you_mean(other, names)
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "expected `restart`, `crash` or `wait_ready`".into());
                    self.error(action.span(), format!("unknown action `{other}`"))
                        .help = Some(help);
                    return None;
                }
            }
        };
        Some(Step {
            location,
            hint: raw.hint.clone(),
            kind,
        })
    }

    /// Fields that only make sense for another kind of step.
    fn reject_fields(&mut self, raw: &RawStep, kind: &str, span: Range<usize>) {
        let mut wrong = Vec::new();
        let is_http = kind == "http";
        let is_sql = kind == "sql";
        if !is_http {
            if !raw.query.is_empty() {
                wrong.push("query");
            }
            if !raw.headers.is_empty() {
                wrong.push("headers");
            }
            if raw.json.is_some() {
                wrong.push("json");
            }
            if raw.body.is_some() {
                wrong.push("body");
            }
            if !raw.form.is_empty() {
                wrong.push("form");
            }
            if raw.concurrent.is_some() {
                wrong.push("concurrent");
            }
            if raw.for_each.is_some() {
                wrong.push("for_each");
            }
        }
        if !is_sql && !raw.params.is_empty() {
            wrong.push("params");
        }
        if kind != "upstream" && raw.delay.is_some() {
            wrong.push("delay");
        }
        let is_doc = is_sql || kind == "redis" || kind == "upstream_calls";
        if !is_http && !is_doc {
            if raw.expect.is_some() {
                wrong.push("expect");
            }
            if !raw.capture.is_empty() {
                wrong.push("capture");
            }
            if raw.timeout.is_some() {
                wrong.push("timeout");
            }
        }
        for field in wrong {
            self.error(
                span.clone(),
                format!("`{field}` does not belong in a `{kind}` step"),
            );
        }
    }

    fn http_step(
        &mut self,
        raw: &RawStep,
        http: &Spanned<String>,
        scope: &mut Vec<String>,
    ) -> Option<HttpStep> {
        self.reject_fields(raw, "http", http.span());
        let text = http.get_ref().trim();
        let Some((method, path)) = text.split_once(char::is_whitespace) else {
            self.error(http.span(), "expected `METHOD /path`, e.g. \"GET /todos\"");
            return None;
        };
        let method = match http::Method::from_bytes(method.as_bytes()) {
            Ok(m) if method.chars().all(|c| c.is_ascii_uppercase()) => m,
            _ => {
                self.error(
                    http.span(),
                    format!("`{method}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE...)"),
                );
                return None;
            }
        };
        let path = path.trim();
        if !path.starts_with('/') && !path.starts_with("{{") {
            self.error(http.span(), "the path must start with `/`");
        }
        let mut local = scope.clone();
        let for_each = raw.for_each.as_ref().map(|f| {
            if !scope.contains(f.get_ref()) {
                self.error(
                    f.span(),
                    format!(
                        "`for_each` names `{}`, which is not defined before this step",
                        f.get_ref()
                    ),
                );
            }
            local.push("item".into());
            f.get_ref().clone()
        });
        let concurrent = match &raw.concurrent {
            Some(c) if (2..=MAX_CONCURRENT).contains(c.get_ref()) => {
                local.push("i".into());
                *c.get_ref() as u32
            }
            Some(c) => {
                self.error(
                    c.span(),
                    format!("`concurrent` must be 2 to {MAX_CONCURRENT}"),
                );
                1
            }
            None => 1,
        };
        let path_span = http.span();
        let path_t = self.template(&Spanned::new(path_span.clone(), path.to_string()));
        if let Some(t) = &path_t {
            self.check_scope(&TValue::Str(t.clone()), &local, path_span);
        }
        let query = self.template_map(&raw.query, &local);
        let headers = self.template_map(&raw.headers, &local);
        let bodies = usize::from(raw.json.is_some())
            + usize::from(raw.body.is_some())
            + usize::from(!raw.form.is_empty());
        if bodies > 1 {
            self.error(
                http.span(),
                "a step sends one of `json`, `form` or `body`, not several",
            );
        }
        let body = if let Some(j) = &raw.json {
            let tv = self.tvalue(j.get_ref(), j.span())?;
            self.check_scope(&tv, &local, j.span());
            Some(Body::Json(tv))
        } else if let Some(b) = &raw.body {
            Some(Body::Raw(self.template_in_scope(b, &local)?))
        } else if !raw.form.is_empty() {
            Some(Body::Form(self.template_map(&raw.form, &local)))
        } else {
            None
        };
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let expect = self.expect(raw.expect.as_ref(), &local, true, concurrent > 1);
        let captures = self.captures(&raw.capture);
        scope.extend(captures.iter().map(|c| c.name.clone()));
        Some(HttpStep {
            method,
            path: path_t?,
            query,
            headers,
            body,
            timeout,
            concurrent,
            for_each,
            expect,
            captures,
        })
    }

    fn load_step(
        &mut self,
        raw: &RawStep,
        load: &Spanned<RawLoad>,
        scope: &mut [String],
    ) -> Option<LoadStep> {
        use crate::load::{LoadOptions, Model, PlannedThreshold, Schedule, Segment, Threshold};
        let l = load.get_ref();
        let span = load.span();
        let closed = match l.model.as_ref().map(|m| (m, m.get_ref().as_str())) {
            None | Some((_, "open")) => false,
            Some((_, "closed")) => true,
            Some((m, other)) => {
                self.error(
                    m.span(),
                    format!("unknown model `{other}`: expected \"open\" or \"closed\""),
                );
                return None;
            }
        };
        let connections = match &l.connections {
            Some(c) if (1..=10_000).contains(c.get_ref()) => *c.get_ref() as usize,
            Some(c) => {
                self.error(c.span(), "`connections` must be 1 to 10000");
                return None;
            }
            None => 50,
        };
        let warmup = match &l.warmup {
            Some(w) => self.duration(Some(w))?,
            None => Duration::ZERO,
        };
        let duration = match &l.duration {
            Some(d) => Some(self.duration(Some(d))?),
            None => None,
        };
        let timeout = match &l.timeout {
            Some(t) => self.duration(Some(t))?,
            None => Duration::from_secs(5),
        };
        let mut names = Vec::new();
        let model = if closed {
            if l.rate.is_some() || !l.stages.is_empty() {
                self.error(
                    span.clone(),
                    "a closed model has `connections` and `duration`, not `rate` or `stages`",
                );
            }
            let Some(d) = duration else {
                self.error(span.clone(), "a closed-model load needs a `duration`");
                return None;
            };
            Model::Closed(d)
        } else {
            let start = match &l.rate {
                Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= 1_000_000.0 => *r.get_ref(),
                Some(r) => {
                    self.error(r.span(), "`rate` is requests per second, above 0");
                    return None;
                }
                None => {
                    self.error(
                        span.clone(),
                        "an open-model load needs a `rate` (requests per second)",
                    );
                    return None;
                }
            };
            let mut segments = Vec::new();
            if !warmup.is_zero() {
                segments.push(Segment::hold(warmup, start));
            }
            let mut current = start;
            if l.stages.is_empty() {
                let Some(d) = duration else {
                    self.error(span.clone(), "a load needs a `duration`, or `stages`");
                    return None;
                };
                segments.push(Segment::hold(d, start));
                names.push("steady".to_string());
            } else {
                if duration.is_some() {
                    self.error(
                        span.clone(),
                        "with `stages`, each stage has its own duration: drop `duration`",
                    );
                }
                for (k, st) in l.stages.iter().enumerate() {
                    let s = st.get_ref();
                    let d = self.duration(Some(&s.duration))?;
                    let (r0, r1) = match (s.rate, s.target) {
                        (Some(r), None) if r >= 0.0 => (r, r),
                        (None, Some(t)) if t >= 0.0 => (current, t),
                        _ => {
                            self.error(
                                st.span(),
                                "a stage has either `rate` (hold) or `target` (ramp to), at least 0",
                            );
                            return None;
                        }
                    };
                    current = r1;
                    segments.push(Segment {
                        duration: d.as_secs_f64(),
                        r0,
                        r1,
                    });
                    names.push(s.name.clone().unwrap_or_else(|| format!("stage {}", k + 1)));
                }
            }
            Model::Open(Schedule::new(segments))
        };
        let mut thresholds = Vec::new();
        for t in &l.thresholds {
            let (expr, points, stage) = match t.get_ref() {
                RawThreshold::Expr(e) => (e.clone(), None, None),
                RawThreshold::Full {
                    expr,
                    points,
                    stage,
                } => (expr.clone(), *points, stage.clone()),
            };
            let threshold = match Threshold::parse(&expr) {
                Ok(th) => th,
                Err(e) => {
                    self.error(t.span(), format!("bad threshold `{expr}`: {e}"));
                    continue;
                }
            };
            let stage = match stage {
                None => None,
                Some(name) => match names.iter().position(|n| *n == name) {
                    Some(k) => Some(k),
                    None => {
                        let help = did_you_mean(&name, names.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("stages: {}", names.join(", ")));
                        self.error(t.span(), format!("no stage named `{name}`"))
                            .help = Some(help);
                        continue;
                    }
                },
            };
            thresholds.push(PlannedThreshold {
                threshold,
                stage,
                points: points.unwrap_or(1.0).max(0.0),
            });
        }
        // The requests: the step's own `http`, or a weighted `mix`.
        let mut mix = Vec::new();
        if let Some(http) = &raw.http {
            if !l.mix.is_empty() {
                self.error(
                    span.clone(),
                    "a load step sends its own `http` request or a `mix`, not both",
                );
            }
            let mut local = scope.to_vec();
            mix.push((1, self.http_step(raw, http, &mut local)?));
        }
        for entry in &l.mix {
            let e = entry.get_ref();
            let Some(http) = &e.http else {
                self.error(entry.span(), "each `mix` entry is an `http` request");
                continue;
            };
            let weight = match &e.weight {
                Some(w) if (1..=1_000_000).contains(w.get_ref()) => *w.get_ref() as u32,
                Some(w) => {
                    self.error(w.span(), "`weight` must be 1 or more");
                    continue;
                }
                None => 1,
            };
            let mut local = scope.to_vec();
            if let Some(step) = self.http_step(e, http, &mut local) {
                mix.push((weight, step));
            }
        }
        if mix.is_empty() {
            self.error(
                span.clone(),
                "a load step needs a request: `http = \"GET /path\"` or a `mix`",
            );
            return None;
        }
        if mix
            .iter()
            .any(|(_, s)| s.concurrent > 1 || s.for_each.is_some() || !s.captures.is_empty())
        {
            self.error(
                span,
                "requests of a load step take no `concurrent`, `for_each` or `capture`",
            );
        }
        Some(LoadStep {
            options: LoadOptions {
                model,
                connections,
                warmup,
                timeout,
                stage_names: names,
                thresholds,
                dead_after: Duration::from_secs(3),
            },
            mix,
        })
    }

    /// `concurrent = N` with a `sequence` of requests: N clients at once, each in order.
    fn sequence_step(
        &mut self,
        raw: &RawStep,
        span: Range<usize>,
        scope: &[String],
    ) -> Option<StepKind> {
        if raw.http.is_some() || raw.sql.is_some() || raw.action.is_some() || raw.load.is_some() {
            self.error(
                span.clone(),
                "a step with a `sequence` has no `http`, `sql`, `action` or `load` of its own",
            );
            return None;
        }
        let copies = match &raw.concurrent {
            Some(c) if (2..=MAX_CONCURRENT).contains(c.get_ref()) => *c.get_ref() as u32,
            Some(c) => {
                self.error(
                    c.span(),
                    format!("`concurrent` must be 2 to {MAX_CONCURRENT}"),
                );
                return None;
            }
            None => {
                self.error(
                    span,
                    "a `sequence` runs as `concurrent = N` copies: add `concurrent`",
                );
                return None;
            }
        };
        let mut local: Vec<String> = scope.to_vec();
        local.push("i".into());
        let mut steps = Vec::new();
        for entry in &raw.sequence {
            let e = entry.get_ref();
            let Some(http) = &e.http else {
                self.error(
                    entry.span(),
                    "each entry of a `sequence` is an `http` request",
                );
                continue;
            };
            if e.concurrent.is_some()
                || e.for_each.is_some()
                || !e.sequence.is_empty()
                || e.load.is_some()
            {
                self.error(entry.span(), "requests in a `sequence` take no `concurrent`, `for_each`, `sequence` or `load`");
                continue;
            }
            // Captures stay inside each copy: later entries of the same copy see them.
            if let Some(s) = self.http_step(e, http, &mut local) {
                steps.push(s);
            }
        }
        Some(StepKind::Sequence { copies, steps })
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

    fn need_upstream(&mut self, span: Range<usize>) {
        if !self.services.upstream {
            self.error(
                span,
                "this step needs the upstream mock: declare `[services.upstream]` with its routes",
            );
        }
    }

    /// The timeout, expectations and captures of a step whose result is a JSON document
    /// (SQL rows, a Redis reply); the captures join the scope.
    fn judged(
        &mut self,
        raw: &RawStep,
        scope: &mut Vec<String>,
    ) -> (Duration, Expect, Vec<Capture>) {
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_SQL_TIMEOUT);
        let expect = self.expect(raw.expect.as_ref(), scope, false, false);
        let captures = self.captures(&raw.capture);
        scope.extend(captures.iter().map(|c| c.name.clone()));
        (timeout, expect, captures)
    }

    fn redis_step(
        &mut self,
        raw: &RawStep,
        cmd: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<RedisStep> {
        self.reject_fields(raw, "redis", span);
        if !self.services.redis {
            self.error(
                cmd.span(),
                "a `redis` step needs a Redis: declare `[services.redis]`",
            );
        }
        let mut command = Vec::new();
        let words = match split_command(cmd.get_ref()) {
            Ok(w) => w,
            Err(e) => {
                self.error(cmd.span(), e);
                return None;
            }
        };
        for word in &words {
            let t = match Template::parse(word) {
                Ok(t) => t,
                Err(e) => {
                    self.error(cmd.span(), e.message).help = e.help;
                    return None;
                }
            };
            self.check_scope(&TValue::Str(t.clone()), scope, cmd.span());
            command.push(t);
        }
        if command.is_empty() {
            self.error(cmd.span(), "expected a Redis command, e.g. \"GET key\"");
            return None;
        }
        let (timeout, expect, captures) = self.judged(raw, scope);
        Some(RedisStep {
            command,
            timeout,
            expect,
            captures,
        })
    }

    fn sql_step(
        &mut self,
        raw: &RawStep,
        sql: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<SqlStep> {
        self.reject_fields(raw, "sql", span);
        if sql.get_ref().contains("{{") {
            self.error(
                sql.span(),
                "SQL text is not a template: pass values as `params` and write $1, $2... in the query",
            );
        }
        let mut params = Vec::new();
        for p in &raw.params {
            let tv = self.tvalue(p.get_ref(), p.span())?;
            self.check_scope(&tv, scope, p.span());
            params.push(tv);
        }
        let (timeout, expect, captures) = self.judged(raw, scope);
        Some(SqlStep {
            query: sql.get_ref().trim().trim_end_matches(';').to_string(),
            params,
            timeout,
            expect,
            captures,
        })
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

    fn expect(
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
        if let Some(status) = &raw.status {
            if !http {
                self.error(status.span(), "`expect.status` is for `http` steps");
            }
            expect.status = self.status(status);
        }
        if !http && !raw.headers.is_empty() {
            self.errors.push(SpecError::file(
                self.file,
                "`expect.headers` is for `http` steps",
            ));
        }
        for (name, value) in &raw.headers {
            let predicates = self.predicates(value, scope);
            expect.headers.push(HeaderAssert {
                name: name.clone(),
                predicates,
            });
        }
        for (path, value) in &raw.jsonpath {
            let Some(query) = self.query(path, value.span()) else {
                continue;
            };
            let predicates = self.predicates(value, scope);
            expect.jsonpath.push(JsonAssert { query, predicates });
        }
        if let Some(rows) = &raw.rows {
            if http {
                self.error(rows.span(), "`expect.rows` is for `sql` steps");
            }
            match u64::try_from(*rows.get_ref()) {
                Ok(r) => expect.rows = Some(r),
                Err(_) => {
                    self.error(rows.span(), "`rows` must be 0 or more");
                }
            }
        }
        if let Some(v) = &raw.json
            && let Some(tv) = self.tvalue(v.get_ref(), v.span())
        {
            self.check_scope(&tv, scope, v.span());
            expect.json = Some(tv);
        }
        if let Some(v) = &raw.json_subset
            && let Some(tv) = self.tvalue(v.get_ref(), v.span())
        {
            self.check_scope(&tv, scope, v.span());
            expect.json_subset = Some(tv);
        }
        if let Some(s) = &raw.json_schema {
            expect.json_schema = self.schema(s);
        }
        if let Some(t) = &raw.body_contains {
            if !http {
                self.error(t.span(), "`body_contains` is for `http` steps");
            }
            expect.body_contains = self.template_in_scope(t, scope);
        }
        if let Some(re) = &raw.body_matches {
            if !http {
                self.error(re.span(), "`body_matches` is for `http` steps");
            }
            match Regex::new(re.get_ref()) {
                Ok(r) => expect.body_matches = Some(r),
                Err(e) => {
                    self.error(re.span(), format!("bad regex: {e}"));
                }
            }
        }
        if let Some(t) = &raw.max_time {
            if !http {
                self.error(t.span(), "`max_time` is for `http` steps");
            }
            expect.max_time = self.duration(Some(t));
        }
        if let Some(d) = &raw.distinct {
            if !concurrent {
                self.error(
                    d.span(),
                    "`expect.distinct` compares the responses of a `concurrent` step",
                );
            }
            expect.distinct = self.query(d.get_ref(), d.span());
        }
        for (key, n) in &raw.statuses {
            if !concurrent {
                self.error(
                    n.span(),
                    "`expect.statuses` counts the responses of a `concurrent` step",
                );
            }
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
            expect.statuses.push((status, count));
        }
        expect
    }

    /// A JSON Schema given inline (a table) or as a file path relative to the spec.
    fn schema(&mut self, s: &Spanned<toml::Value>) -> Option<Schema> {
        let value: Value = match s.get_ref() {
            toml::Value::String(path) => {
                let full = self.file.parent().unwrap_or(Path::new(".")).join(path);
                let text = match std::fs::read_to_string(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        self.error(
                            s.span(),
                            format!("cannot read the schema `{}`: {e}", full.display()),
                        );
                        return None;
                    }
                };
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

    /// A number given as a template, e.g. `count = "{{ k }}"`.
    fn num_template(&mut self, src: &str, scope: &[String], span: Range<usize>) -> Option<Num> {
        match Template::parse(src) {
            Ok(t) => {
                self.check_scope(&TValue::Str(t.clone()), scope, span);
                Some(Num::Var(t))
            }
            Err(e) => {
                self.error(span, e.message).help = e.help;
                None
            }
        }
    }

    fn predicates(&mut self, value: &Spanned<toml::Value>, scope: &[String]) -> Vec<Predicate> {
        let span = value.span();
        let table = match value.get_ref() {
            toml::Value::Table(t) => t,
            other => {
                // A plain value means "equals".
                return self
                    .tvalue(other, span.clone())
                    .map(|tv| {
                        self.check_scope(&tv, scope, span.clone());
                        vec![Predicate::Equals(tv)]
                    })
                    .unwrap_or_default();
            }
        };
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
        ];
        let mut out = Vec::new();
        if table.is_empty() {
            self.error(
                span.clone(),
                format!("an empty assertion: use one of {}", NAMES.join(", ")),
            );
        }
        for (key, v) in table {
            let number =
                |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            let pred = match key.as_str() {
                "equals" | "not_equals" | "contains" | "not_contains" => {
                    let Some(tv) = self.tvalue(v, span.clone()) else {
                        continue;
                    };
                    self.check_scope(&tv, scope, span.clone());
                    match key.as_str() {
                        "equals" => Predicate::Equals(tv),
                        "not_equals" => Predicate::NotEquals(tv),
                        "contains" => Predicate::Contains(tv),
                        _ => Predicate::NotContains(tv),
                    }
                }
                "matches" => match v.as_str().map(Regex::new) {
                    Some(Ok(re)) => Predicate::Matches(re),
                    Some(Err(e)) => {
                        self.error(span.clone(), format!("bad regex: {e}"));
                        continue;
                    }
                    None => {
                        self.error(span.clone(), "`matches` takes a regex string");
                        continue;
                    }
                },
                "type" => match v.as_str().and_then(JsonType::parse) {
                    Some(t) => Predicate::Type(t),
                    None => {
                        let given = v.as_str().unwrap_or("");
                        let help = did_you_mean(given, JsonType::NAMES.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("types: {}", JsonType::NAMES.join(", ")));
                        self.error(span.clone(), "`type` names a JSON type").help = Some(help);
                        continue;
                    }
                },
                "exists" => match v.as_bool() {
                    Some(b) => Predicate::Exists(b),
                    None => {
                        self.error(span.clone(), "`exists` takes true or false");
                        continue;
                    }
                },
                "count" => match v {
                    toml::Value::Integer(i) if *i >= 0 => Predicate::Count(Num::Lit(*i as f64)),
                    toml::Value::String(t) => match self.num_template(t, scope, span.clone()) {
                        Some(n) => Predicate::Count(n),
                        None => continue,
                    },
                    _ => {
                        self.error(
                            span.clone(),
                            "`count` takes a whole number (or a template such as \"{{ n }}\")",
                        );
                        continue;
                    }
                },
                "gt" | "ge" | "lt" | "le" => match number(v).map(Num::Lit).or_else(|| {
                    v.as_str()
                        .and_then(|t| self.num_template(t, scope, span.clone()))
                }) {
                    Some(n) => match key.as_str() {
                        "gt" => Predicate::Gt(n),
                        "ge" => Predicate::Ge(n),
                        "lt" => Predicate::Lt(n),
                        _ => Predicate::Le(n),
                    },
                    None => {
                        self.error(
                            span.clone(),
                            format!(
                                "`{key}` takes a number (or a template such as \"{{{{ n }}}}\")"
                            ),
                        );
                        continue;
                    }
                },
                "sorted" => match v.as_str() {
                    Some("asc") => Predicate::Sorted(SortOrder::Asc),
                    Some("desc") => Predicate::Sorted(SortOrder::Desc),
                    _ => {
                        self.error(span.clone(), "`sorted` takes \"asc\" or \"desc\"");
                        continue;
                    }
                },
                other => {
                    let help = did_you_mean(other, NAMES.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("assertions: {}", NAMES.join(", ")));
                    self.error(span.clone(), format!("unknown assertion `{other}`"))
                        .help = Some(help);
                    continue;
                }
            };
            out.push(pred);
        }
        out
    }

    fn captures(&mut self, raw: &IndexMap<String, Spanned<RawCapture>>) -> Vec<Capture> {
        let mut out = Vec::new();
        for (name, c) in raw {
            let source = match c.get_ref() {
                RawCapture::JsonPath(p) => match self.query(p, c.span()) {
                    Some(q) => CaptureSource::JsonPath(q),
                    None => continue,
                },
                RawCapture::Header { header } => CaptureSource::Header(header.clone()),
            };
            out.push(Capture {
                name: name.clone(),
                source,
            });
        }
        out
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn redis_commands_split_outside_templates_and_quotes() {
        assert_eq!(
            super::split_command(r#"SET  k:{{ id }} "two words" {{ gen.int(1, 2) }}"#).unwrap(),
            ["SET", "k:{{ id }}", "two words", "{{ gen.int(1, 2) }}"]
        );
        assert_eq!(
            super::split_command(r#"SET k """#).unwrap(),
            ["SET", "k", ""]
        );
        assert!(super::split_command(r#"GET "k"#).is_err());
        assert_eq!(
            super::split_command(r#"SET k '{"a": 1}' "say \"hi\" \\ \n""#).unwrap(),
            ["SET", "k", r#"{"a": 1}"#, r#"say "hi" \ \n"#]
        );
    }
}
