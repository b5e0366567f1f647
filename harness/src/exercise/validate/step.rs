//! A check's steps. The kind of a step is decided once, from the one field that names
//! it (`Kind`); a table says which optional fields each kind takes. HTTP, load, SQL and
//! TCP steps have files of their own; the small kinds (Redis, sleep, upstream, actions,
//! sequences) are here.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Validator;
use crate::exercise::model::*;
use crate::exercise::raw::*;

const DEFAULT_SQL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `db = "restart"` keeps the database down, unless `down` says.
const DEFAULT_DOWN: Duration = Duration::from_secs(2);

/// What a step does, with the field that says so. Decided once per step by
/// `Validator::kind`; everything after matches on it.
#[derive(Clone, Copy)]
pub(super) enum Kind<'r> {
    Http(&'r Spanned<String>),
    Load(&'r Spanned<RawLoad>),
    Sequence,
    Sql(&'r Spanned<String>),
    Exec(&'r Spanned<String>),
    Action(&'r Spanned<String>),
    Db(&'r Spanned<String>),
    Sleep(&'r Spanned<String>),
    Redis(&'r Spanned<String>),
    Tcp(&'r Spanned<String>),
    Upstream(&'r Spanned<String>),
    UpstreamCalls(&'r Spanned<String>),
    Value(&'r Spanned<String>),
}

impl<'r> Kind<'r> {
    /// The field that names the kind, as the spec writes it.
    fn name(&self) -> &'static str {
        match self {
            Kind::Http(_) => "http",
            Kind::Load(_) => "load",
            Kind::Sequence => "sequence",
            Kind::Sql(_) => "sql",
            Kind::Exec(_) => "exec",
            Kind::Action(_) => "action",
            Kind::Db(_) => "db",
            Kind::Sleep(_) => "sleep",
            Kind::Redis(_) => "redis",
            Kind::Tcp(_) => "tcp",
            Kind::Upstream(_) => "upstream",
            Kind::UpstreamCalls(_) => "upstream_calls",
            Kind::Value(_) => "value",
        }
    }

    /// The name with its article: "a `sql`", "an `exec`".
    pub(super) fn a_name(&self) -> String {
        let name = self.name();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} `{name}`")
    }

    /// Every kind `raw` names, in the order errors list them. A load step's `http` is
    /// its request, not a kind of its own.
    fn named(raw: &'r RawStep) -> Vec<Kind<'r>> {
        [
            raw.http
                .as_ref()
                .filter(|_| raw.load.is_none())
                .map(Kind::Http),
            raw.load.as_ref().map(Kind::Load),
            (!raw.sequence.is_empty()).then_some(Kind::Sequence),
            raw.sql.as_ref().map(Kind::Sql),
            raw.exec.as_ref().map(Kind::Exec),
            raw.action.as_ref().map(Kind::Action),
            raw.db.as_ref().map(Kind::Db),
            raw.sleep.as_ref().map(Kind::Sleep),
            raw.redis.as_ref().map(Kind::Redis),
            raw.tcp.as_ref().map(Kind::Tcp),
            raw.upstream.as_ref().map(Kind::Upstream),
            raw.upstream_calls.as_ref().map(Kind::UpstreamCalls),
            raw.value.as_ref().map(Kind::Value),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The actions a step can take on the submission's container.
#[derive(Clone, Copy)]
enum ActionKind {
    Restart,
    Crash,
    WaitReady,
}

/// Which kinds may set an optional field of a step.
#[derive(Clone, Copy)]
enum Takes {
    Http,
    /// `sql` and `exec`: statements with `$N` parameters.
    Sql,
    Upstream,
    /// `restart` and `crash` actions (the action step checks which).
    Action,
    Db,
    Tcp,
    /// Steps whose result is judged: HTTP, and the JSON documents of SQL, Redis and
    /// `upstream_calls`.
    Judged,
    /// Judged steps, and `exec` (which says itself what of them it takes: its count of
    /// affected rows, a timeout, no capture).
    JudgedOrExec,
    /// What judges a document or takes from it (`expect`, `capture`): judged steps,
    /// `exec`, and a computed `value`.
    Document,
}

impl Takes {
    fn admits(self, kind: &Kind<'_>) -> bool {
        let judged = matches!(
            kind,
            Kind::Http(_) | Kind::Sql(_) | Kind::Redis(_) | Kind::Tcp(_) | Kind::UpstreamCalls(_)
        );
        let exec = matches!(kind, Kind::Exec(_));
        match self {
            Takes::Http => matches!(kind, Kind::Http(_)),
            Takes::Sql => matches!(kind, Kind::Sql(_)) || exec,
            Takes::Upstream => matches!(kind, Kind::Upstream(_)),
            Takes::Action => matches!(kind, Kind::Action(_)),
            Takes::Db => matches!(kind, Kind::Db(_)),
            Takes::Tcp => matches!(kind, Kind::Tcp(_)),
            Takes::Judged => judged,
            Takes::JudgedOrExec => judged || exec,
            Takes::Document => judged || exec || matches!(kind, Kind::Value(_)),
        }
    }
}

/// The optional fields of a step: its name, whether `raw` sets it, and which kinds take
/// it, in the order their errors are reported.
fn optional_fields(raw: &RawStep) -> [(&'static str, bool, Takes); 21] {
    [
        ("query", !raw.query.is_empty(), Takes::Http),
        ("headers", !raw.headers.is_empty(), Takes::Http),
        ("json", raw.json.is_some(), Takes::Http),
        ("body", raw.body.is_some(), Takes::Http),
        ("form", !raw.form.is_empty(), Takes::Http),
        ("body_base64", raw.body_base64.is_some(), Takes::Http),
        ("multipart", !raw.multipart.is_empty(), Takes::Http),
        ("concurrent", raw.concurrent.is_some(), Takes::Http),
        ("for_each", raw.for_each.is_some(), Takes::Http),
        ("pages", raw.pages.is_some(), Takes::Http),
        ("sse", raw.sse.is_some(), Takes::Http),
        ("params", !raw.params.is_empty(), Takes::Sql),
        ("delay", raw.delay.is_some(), Takes::Upstream),
        ("send", raw.send.is_some(), Takes::Tcp),
        ("expect", raw.expect.is_some(), Takes::Document),
        ("capture", !raw.capture.is_empty(), Takes::Document),
        ("timeout", raw.timeout.is_some(), Takes::JudgedOrExec),
        ("retry", raw.retry.is_some(), Takes::Judged),
        ("grace", raw.grace.is_some(), Takes::Action),
        ("ready", raw.ready.is_some(), Takes::Action),
        ("down", raw.down.is_some(), Takes::Db),
    ]
}

impl Validator<'_> {
    pub(super) fn step(
        &mut self,
        raw: RawStep,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<Step> {
        let kind = self.kind(&raw, span.clone())?;
        let location = self.location(&span);
        let hint = self.hint(&raw);
        if raw.weight.is_some() {
            self.error(
                span.clone(),
                "`weight` belongs in the entries of a load step's `mix`",
            );
        }
        if let (Some(r), Kind::Load(_) | Kind::Sequence) = (&raw.retry, &kind) {
            self.error(
                r.span(),
                format!("`retry` does not belong in {} step", kind.a_name()),
            );
        }
        let kind = match kind {
            Kind::Sequence => self.sequence_step(&raw, span, scope)?,
            Kind::Load(load) => StepKind::Load(Box::new(self.load_step(&raw, load, scope)?)),
            Kind::Http(http) => StepKind::Http(Box::new(self.http_step(&raw, http, scope)?)),
            Kind::Sql(sql) => StepKind::Sql(Box::new(self.sql_step(&raw, sql, span, scope)?)),
            Kind::Exec(sql) => StepKind::Exec(Box::new(self.exec_step(&raw, sql, span, scope)?)),
            Kind::Sleep(sleep) => self.sleep_step(&raw, sleep, span)?,
            Kind::Redis(cmd) => StepKind::Redis(Box::new(self.redis_step(&raw, cmd, span, scope)?)),
            Kind::Tcp(data) => StepKind::Tcp(Box::new(self.tcp_step(&raw, data, span, scope)?)),
            Kind::Upstream(mode) => self.upstream_step(&raw, mode, span)?,
            Kind::UpstreamCalls(path) => self.upstream_calls_step(&raw, path, span, scope)?,
            Kind::Value(value) => self.value_step(&raw, value, span, scope)?,
            Kind::Action(action) => self.action_step(&raw, action, span)?,
            Kind::Db(db) => self.db_step(&raw, db, span)?,
        };
        let retry = self.retry(raw.retry.as_ref());
        Some(Step {
            location,
            hint,
            retry,
            kind,
        })
    }

    /// The step's one kind, or an error when it names none or several.
    fn kind<'r>(&mut self, raw: &'r RawStep, span: Range<usize>) -> Option<Kind<'r>> {
        let mut kinds = Kind::named(raw);
        if kinds.len() == 1 {
            return kinds.pop();
        }
        let what = if kinds.is_empty() {
            "a step needs one of `http` (a load is an `http` step with a `load` table), `sql`, `exec`, `action`, `db`, `sleep`, `redis`, `tcp`, `upstream`, `upstream_calls`, `value` or `sequence`".to_string()
        } else {
            let names: Vec<&str> = kinds.iter().map(Kind::name).collect();
            format!(
                "a step has exactly one kind (`http`, `sql`, `exec`, `action`, `db`, `sleep`, `redis`, `tcp`, `upstream`, `upstream_calls`, `value`, `sequence`), not {}",
                names.join(" and ")
            )
        };
        self.error(span, what);
        None
    }

    /// Fields that only make sense for another kind of step.
    pub(super) fn reject_fields(&mut self, raw: &RawStep, kind: &Kind<'_>, span: Range<usize>) {
        for (field, set, takes) in optional_fields(raw) {
            if set && !takes.admits(kind) {
                self.error(
                    span.clone(),
                    format!("`{field}` does not belong in {} step", kind.a_name()),
                );
            }
        }
    }

    fn sleep_step(
        &mut self,
        raw: &RawStep,
        sleep: &Spanned<String>,
        span: Range<usize>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::Sleep(sleep), span);
        let d = self.duration(Some(sleep))?;
        if d > Duration::from_secs(60) {
            self.error(sleep.span(), "a sleep lasts at most \"60s\"");
            return None;
        }
        Some(StepKind::Sleep(d))
    }

    fn action_step(
        &mut self,
        raw: &RawStep,
        action: &Spanned<String>,
        span: Range<usize>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::Action(action), span);
        let actions = [
            ("restart", ActionKind::Restart),
            ("crash", ActionKind::Crash),
            ("wait_ready", ActionKind::WaitReady),
        ];
        let chosen = self.keyword(action, "action", &actions)?;
        let ready = raw.ready.as_ref().is_none_or(|r| *r.get_ref());
        if let (ActionKind::WaitReady, Some(r)) = (chosen, &raw.ready) {
            self.error(
                r.span(),
                "`ready` belongs to `restart` and `crash`: `wait_ready` always waits",
            );
        }
        if let (ActionKind::Crash | ActionKind::WaitReady, Some(g)) = (chosen, &raw.grace) {
            self.error(
                g.span(),
                "`grace` belongs to `restart`: only a graceful stop (SIGTERM) has a grace period",
            );
        }
        Some(match chosen {
            ActionKind::Restart => {
                let grace = self.grace(raw.grace.as_ref())?;
                StepKind::Restart { grace, ready }
            }
            ActionKind::Crash => StepKind::Crash { ready },
            ActionKind::WaitReady => StepKind::WaitReady,
        })
    }

    /// A `restart`'s grace period: `DEFAULT_GRACE`, or a duration from 1s to 60s.
    fn grace(&mut self, raw: Option<&Spanned<String>>) -> Option<Duration> {
        let Some(raw) = raw else {
            return Some(DEFAULT_GRACE);
        };
        let d = self.duration(Some(raw))?;
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&d) {
            self.error(raw.span(), "a grace period lasts from \"1s\" to \"60s\"");
            return None;
        }
        Some(d)
    }

    /// A judged step's `retry`: `"20s"` (every 0.5 s), or `{ for = "40s", every =
    /// "2s" }`; at most two minutes, at least every 100 ms. Where it does not belong,
    /// `reject_fields` has said so.
    fn retry(&mut self, raw: Option<&Spanned<toml::Value>>) -> Option<Retry> {
        const FORMS: &str =
            "retry = \"20s\" (tried every 0.5 s) or retry = { for = \"40s\", every = \"2s\" }";
        let raw = raw?;
        let span = raw.span();
        let text = |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).map(str::to_string);
        let (limit, every) = match raw.get_ref() {
            toml::Value::String(s) => (Some(s.clone()), None),
            toml::Value::Table(t) => {
                if !self.known_keys(t, span.clone(), "`retry`", &["for", "every"], FORMS) {
                    return None;
                }
                let limit = text(t.get("for"));
                if limit.is_none() {
                    self.error(
                        span,
                        "`retry` needs `for`, a duration string such as \"40s\"",
                    )
                    .help = Some(FORMS.into());
                    return None;
                }
                if t.contains_key("every") && text(t.get("every")).is_none() {
                    self.error(span, "`every` is a duration string such as \"2s\"")
                        .help = Some(FORMS.into());
                    return None;
                }
                (limit, text(t.get("every")))
            }
            _ => {
                self.error(span, "`retry` is a duration or a table").help = Some(FORMS.into());
                return None;
            }
        };
        let limit = self.duration(Some(&Spanned::new(span.clone(), limit?)))?;
        if limit > Duration::from_secs(120) {
            self.error(span, "a step is retried for at most \"120s\"");
            return None;
        }
        let every = match every {
            None => Retry::EVERY,
            Some(e) => self.duration(Some(&Spanned::new(span.clone(), e)))?,
        };
        if every < Duration::from_millis(100) || every > limit {
            self.error(span, "`every` lasts from \"100ms\" to the retry's `for`");
            return None;
        }
        Some(Retry { limit, every })
    }

    /// `db = "stop"`, `"start"` or `"restart"` (with `down`, default 2s).
    fn db_step(
        &mut self,
        raw: &RawStep,
        db: &Spanned<String>,
        span: Range<usize>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::Db(db), span);
        if !self.services.postgres && !self.services.redis {
            self.error(
                db.span(),
                "a `db` step needs a database: declare `[services.postgres]` (or `[services.redis]`, the database of an exercise without PostgreSQL)",
            );
        }
        let actions = [
            ("stop", DatabaseAction::Stop),
            ("start", DatabaseAction::Start),
            (
                "restart",
                DatabaseAction::Restart {
                    down: Duration::ZERO,
                },
            ),
        ];
        let chosen = self.keyword(db, "database action", &actions)?;
        if let (DatabaseAction::Stop | DatabaseAction::Start, Some(d)) = (chosen, &raw.down) {
            self.error(
                d.span(),
                "`down` belongs to `db = \"restart\"`: after `db = \"stop\"` the database stays down until a `db = \"start\"` step",
            );
        }
        Some(StepKind::Database(match chosen {
            DatabaseAction::Restart { .. } => {
                let down = match &raw.down {
                    Some(d) => self.duration(Some(d))?,
                    None => DEFAULT_DOWN,
                };
                if down > Duration::from_secs(60) {
                    self.error(
                        raw.down.as_ref().map_or(db.span(), Spanned::span),
                        "a database stays down for at most \"60s\"",
                    );
                    return None;
                }
                DatabaseAction::Restart { down }
            }
            other => other,
        }))
    }

    fn upstream_step(
        &mut self,
        raw: &RawStep,
        mode: &Spanned<String>,
        span: Range<usize>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::Upstream(mode), span);
        self.need_upstream(mode.span());
        // `slow` takes its delay from the step's `delay`.
        let modes = [
            ("ok", UpstreamMode::Ok),
            ("fail", UpstreamMode::Fail),
            ("slow", UpstreamMode::Slow(Duration::ZERO)),
        ];
        let chosen = match self.keyword(mode, "upstream mode", &modes)? {
            UpstreamMode::Slow(_) => match &raw.delay {
                Some(d) => UpstreamMode::Slow(self.duration(Some(d))?),
                None => {
                    self.error(
                        mode.span(),
                        "`upstream = \"slow\"` needs a `delay`, e.g. delay = \"5s\"",
                    );
                    return None;
                }
            },
            other => other,
        };
        Some(StepKind::Upstream(chosen))
    }

    fn upstream_calls_step(
        &mut self,
        raw: &RawStep,
        path: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::UpstreamCalls(path), span);
        self.need_upstream(path.span());
        let path = self.template_in_scope(path, scope)?;
        let expect = self.expect(raw.expect.as_ref(), scope, false, false);
        let captures = self.captures_into(&raw.capture, scope, false);
        Some(StepKind::UpstreamCalls(Box::new(UpstreamCallsStep {
            path,
            expect,
            captures,
        })))
    }

    /// `value = "{{ ... }}"`: a computed value (date math, arithmetic on captures)
    /// judged like any JSON document, under `expect.jsonpath."$"`.
    fn value_step(
        &mut self,
        raw: &RawStep,
        value: &Spanned<String>,
        span: Range<usize>,
        scope: &mut Vec<String>,
    ) -> Option<StepKind> {
        self.reject_fields(raw, &Kind::Value(value), span.clone());
        let template = self.template_in_scope(value, scope)?;
        if raw.expect.is_none() && raw.capture.is_empty() {
            self.error(
                span,
                "a `value` step judges nothing: add what it must hold (expect.jsonpath.\"$\" = { ge = 5, le = 7 }) or a capture",
            );
        }
        let expect = self.expect(raw.expect.as_ref(), scope, false, false);
        let captures = self.captures_into(&raw.capture, scope, false);
        Some(StepKind::Value(Box::new(ValueStep {
            value: template,
            shown: value.get_ref().clone(),
            expect,
            captures,
        })))
    }

    fn need_upstream(&mut self, span: Range<usize>) {
        if !self.services.upstream {
            self.error(
                span,
                "this step needs the upstream mock: declare `[services.upstream]` with its routes",
            );
        }
    }

    /// `concurrent = N` with a `sequence` of requests: N clients at once, each in order.
    fn sequence_step(
        &mut self,
        raw: &RawStep,
        span: Range<usize>,
        scope: &[String],
    ) -> Option<StepKind> {
        // `Kind::named` saw `sequence` and nothing else: no `http`, `sql`, `action` or
        // `load` of the step's own.
        let copies = match &raw.concurrent {
            Some(c) => self.copies(c)?,
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
            let Some(http) = self.entry_request(entry, "a `sequence`") else {
                continue;
            };
            if e.concurrent.is_some() || e.for_each.is_some() || e.weight.is_some() {
                self.error(
                    entry.span(),
                    "requests in a `sequence` take no `concurrent`, `for_each` or `weight`",
                );
                continue;
            }
            // Captures stay inside each copy: later entries of the same copy see them.
            if let Some(s) = self.http_step(e, http, &mut local) {
                steps.push(s);
            }
        }
        Some(StepKind::Sequence { copies, steps })
    }

    /// The request of an entry of a `sequence` or a load's `mix` (`what`): one `http`
    /// and no other kind, and no `hint` (the step's own hint is the one shown).
    pub(super) fn entry_request<'r>(
        &mut self,
        entry: &'r Spanned<RawStep>,
        what: &str,
    ) -> Option<&'r Spanned<String>> {
        let e = entry.get_ref();
        let kinds = Kind::named(e);
        if let [Kind::Http(http)] = kinds.as_slice() {
            if e.hint.is_some() {
                self.error(
                    entry.span(),
                    format!("a `hint` on an entry of {what} is never shown: give it to the step"),
                );
            }
            return Some(http);
        }
        let names: Vec<String> = kinds.iter().map(|k| format!("`{}`", k.name())).collect();
        let got = if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(" and ")
        };
        self.error(
            entry.span(),
            format!("each entry of {what} is one `http` request, not {got}"),
        )
        .help = Some(
            "an entry has `http = \"METHOD /path\"` and what a request takes: `query`, `headers`, one of `json`, `body` or `form`".into(),
        );
        None
    }

    /// The timeout, expectations and captures of a step whose result is a JSON document
    /// (SQL rows, a Redis reply); the captures join the scope.
    pub(super) fn judged(
        &mut self,
        raw: &RawStep,
        scope: &mut Vec<String>,
    ) -> (Duration, Expect, Vec<Capture>) {
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_SQL_TIMEOUT);
        let expect = self.expect(raw.expect.as_ref(), scope, false, false);
        let captures = self.captures_into(&raw.capture, scope, false);
        (timeout, expect, captures)
    }
}
