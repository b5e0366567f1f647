//! Runs an exercise's checks against a target, one check after another, and reports
//! each as an event. The runner never prints: the caller renders events as it likes.

use std::time::Instant;

use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::Value;

use crate::assert::{self, Mismatch, typed};
use crate::http::{self, ProbeRequest, ProbeResponse, Prober, curl_command, encode_component};
use crate::spec::{
    Body, Capture, CaptureSource, Check, Exercise, Expect, HttpStep, RedisStep, SqlStep, StepKind,
    UpstreamCallsStep, UpstreamMode,
};
use crate::sql::SqlProbe;
use crate::target::{Target, TargetError};
use crate::template::{Context, RenderError};
use grader_report::{CheckResult, CheckStatus, Failure};

/// How much of a response body a failure shows.
const EXCERPT_BYTES: usize = 2048;

/// Settings of one run.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Seed of all random data.
    pub seed: u64,
    /// The base URL printed in curl commands: where the learner runs the server
    /// (e.g. `http://localhost:8080`), not where the grader reached it.
    pub public_base_url: String,
    /// Shared by runs in one process (batch grading): one load step at a time, so
    /// that loads do not disturb each other's latency figures.
    pub load_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// What the runner reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    CheckStarted {
        index: usize,
        total: usize,
        check: &'a Check,
    },
    CheckFinished {
        index: usize,
        total: usize,
        result: &'a CheckResult,
    },
}

/// A step that did not pass.
struct StepFail {
    failure: Failure,
    /// The grader or Docker failed, not the submission.
    infrastructure: bool,
    /// The share of the check's points earned anyway (load thresholds with points).
    credit: Option<f64>,
}

impl StepFail {
    fn new(message: impl Into<String>) -> StepFail {
        StepFail {
            failure: Failure::message(message),
            infrastructure: false,
            credit: None,
        }
    }

    fn mismatch(m: Mismatch) -> StepFail {
        let mut f = StepFail::new(m.message);
        f.failure.expected = m.expected;
        f.failure.actual = m.actual;
        f.failure.diff = m.diff;
        f
    }
}

impl From<RenderError> for StepFail {
    fn from(e: RenderError) -> Self {
        StepFail::new(e.0)
    }
}

/// Runs every check of `exercise` in order against `target`.
pub async fn run_checks<T: Target>(
    exercise: &Exercise,
    target: &T,
    config: &RunConfig,
    mut on_event: impl FnMut(Event<'_>),
) -> Vec<CheckResult> {
    let mut runner = Runner {
        target,
        config,
        prober: Prober::new(),
        sql: None,
        redis: None,
        last_load: None,
    };
    let total = exercise.checks.len();
    let mut results: Vec<CheckResult> = Vec::with_capacity(total);
    for (index, check) in exercise.checks.iter().enumerate() {
        on_event(Event::CheckStarted {
            index,
            total,
            check,
        });
        let unmet: Vec<String> = check
            .needs
            .iter()
            .filter(|n| {
                !results
                    .iter()
                    .any(|r| r.id == **n && r.status == CheckStatus::Passed)
            })
            .map(|n| format!("`{n}`"))
            .collect();
        let result = if unmet.is_empty() {
            runner.check(check).await
        } else {
            not_run(
                check,
                format!("skipped: it needs {} to pass first", unmet.join(", ")),
            )
        };
        on_event(Event::CheckFinished {
            index,
            total,
            result: &result,
        });
        results.push(result);
    }
    if let Some(sql) = &runner.sql {
        sql.close().await;
    }
    results
}

/// The result of a check that did not run.
pub fn not_run(check: &Check, why: String) -> CheckResult {
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        category: check.category.clone(),
        status: CheckStatus::Skipped,
        hidden: check.hidden,
        points: check.points,
        earned: 0.0,
        duration_ms: 0,
        location: check.location.clone(),
        failure: Some(Failure::message(why)),
        load: None,
    }
}

struct Runner<'a, T> {
    target: &'a T,
    config: &'a RunConfig,
    prober: Prober,
    sql: Option<SqlProbe>,
    redis: Option<crate::kv::RedisProbe>,
    /// The figures of the current check's load step.
    last_load: Option<grader_report::LoadReport>,
}

impl<T: Target> Runner<'_, T> {
    async fn check(&mut self, check: &Check) -> CheckResult {
        let start = Instant::now();
        let timeout = check.timeout;
        let mut passed_steps = 0;
        let outcome =
            match tokio::time::timeout(timeout, self.steps(check, &mut passed_steps)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(StepFail::new(format!(
                    "the check did not finish within {}s (is the server hanging?)",
                    timeout.as_secs_f64()
                ))),
            };
        let total = check.steps.len().max(1);
        let mut failure_credit = None;
        let (status, failure) = match outcome {
            Ok(()) => (CheckStatus::Passed, None),
            Err(f) if f.infrastructure => (CheckStatus::Error, Some(f.failure)),
            Err(mut f) => {
                failure_credit = f.credit;
                if check.partial {
                    f.failure.message = format!(
                        "{passed_steps} of {total} steps passed; {}",
                        f.failure.message
                    );
                }
                (CheckStatus::Failed, Some(f.failure))
            }
        };
        let credit = failure_credit;
        let earned = match status {
            CheckStatus::Passed => check.points,
            CheckStatus::Failed if credit.is_some() => check.points * credit.unwrap_or(0.0),
            CheckStatus::Failed if check.partial => {
                check.points * passed_steps as f64 / total as f64
            }
            _ => 0.0,
        };
        CheckResult {
            id: check.id.clone(),
            title: check.title.clone(),
            category: check.category.clone(),
            status,
            hidden: check.hidden,
            points: check.points,
            earned,
            duration_ms: start.elapsed().as_millis() as u64,
            location: check.location.clone(),
            failure,
            load: self.last_load.take(),
        }
    }

    /// Runs the steps, counting those that pass. A check stops at its first failing
    /// step; a partial-credit check runs them all.
    async fn steps(&mut self, check: &Check, passed: &mut usize) -> Result<(), StepFail> {
        let mut ctx = Context::new(self.config.seed, &check.id);
        if let Some(mock) = self.target.upstream() {
            mock.set_mode(UpstreamMode::Ok);
        }
        for (name, value) in &check.vars {
            let v = value.render(&mut ctx)?;
            ctx.set(name, v);
        }
        let mut first: Option<StepFail> = None;
        for (i, step) in check.steps.iter().enumerate() {
            let outcome = match &step.kind {
                StepKind::Http(h) => self.http(h, &mut ctx).await,
                StepKind::Sql(s) => self.sql(s, &mut ctx).await,
                StepKind::Restart => self.lifecycle("restart", self.target.restart()).await,
                StepKind::Crash => self.lifecycle("crash", self.target.crash()).await,
                StepKind::WaitReady => self.lifecycle("wait_ready", async { Ok(()) }).await,
                StepKind::Sleep(d) => {
                    tokio::time::sleep(*d).await;
                    Ok(())
                }
                StepKind::Redis(r) => self.redis(r, &mut ctx).await,
                StepKind::Upstream(mode) => self.upstream_mode(*mode).await,
                StepKind::UpstreamCalls(u) => self.upstream_calls(u, &mut ctx).await,
                StepKind::Load(l) => self.load(l, &ctx).await,
                StepKind::Sequence { copies, steps } => self.sequence(*copies, steps, &ctx).await,
            };
            match outcome {
                Ok(()) => *passed += 1,
                Err(mut f) => {
                    f.failure.step = i + 1;
                    f.failure.location = step.location.clone();
                    f.failure.hint = step.hint.clone();
                    if !check.partial || f.infrastructure {
                        return Err(f);
                    }
                    first.get_or_insert(f);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn lifecycle(
        &self,
        what: &str,
        op: impl std::future::Future<Output = Result<(), TargetError>>,
    ) -> Result<(), StepFail> {
        let result = match op.await {
            Ok(()) => self.target.wait_ready().await,
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            let infrastructure = matches!(e, TargetError::Infrastructure(_));
            let message = match what {
                "restart" => format!("after a graceful restart (SIGTERM, then start): {e}"),
                "crash" => format!("after a crash (SIGKILL, then start): {e}"),
                _ => e.to_string(),
            };
            StepFail {
                failure: Failure::message(message),
                infrastructure,
                credit: None,
            }
        })
    }

    /// `copies` clients at once, each running `steps` in order with its own variables.
    async fn sequence(
        &self,
        copies: u32,
        steps: &[HttpStep],
        ctx: &Context,
    ) -> Result<(), StepFail> {
        let runs = (0..copies).map(|i| {
            let mut c = ctx.clone();
            c.set("i", Value::from(i));
            c.reseed(self.config.seed ^ u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            async move {
                for (k, s) in steps.iter().enumerate() {
                    self.http(s, &mut c).await.map_err(|f| (k, f))?;
                }
                Ok::<(), (usize, StepFail)>(())
            }
        });
        let outcomes = join_all(runs).await;
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        match outcomes
            .into_iter()
            .enumerate()
            .find_map(|(i, o)| o.err().map(|e| (i, e)))
        {
            None => Ok(()),
            Some((i, (k, mut f))) => {
                f.failure.message = format!(
                    "{failed} of {copies} concurrent clients failed; client {} at request {} of the sequence: {}",
                    i + 1,
                    k + 1,
                    f.failure.message
                );
                Err(f)
            }
        }
    }

    async fn load(&mut self, step: &crate::spec::LoadStep, ctx: &Context) -> Result<(), StepFail> {
        use rand::Rng;
        let total_weight: u32 = step.mix.iter().map(|(w, _)| *w).sum();
        let mix = step.mix.clone();
        let base = ctx.clone();
        let make: std::sync::Arc<crate::load::MakeRequest> = std::sync::Arc::new(move |_, rng| {
            let mut pick = rng.random_range(0..total_weight.max(1));
            let entry = mix
                .iter()
                .find(|(w, _)| {
                    let hit = pick < *w;
                    pick = pick.saturating_sub(*w);
                    hit
                })
                .map_or(&mix[0].1, |(_, s)| s);
            let mut c = base.clone();
            c.reseed(rng.random());
            render_request(entry, &mut c).map_err(|e| e.0)
        });
        let seed = self.config.seed ^ crate::template::fnv1a(b"load");
        let _permit = match &self.config.load_gate {
            Some(gate) => gate.clone().acquire_owned().await.ok(),
            None => None,
        };
        let report = crate::load::run(&step.options, &self.target.base_url(), seed, make).await;
        let failed: Vec<&grader_report::ThresholdResult> =
            report.thresholds.iter().filter(|t| !t.passed).collect();
        let all_points: f64 = report.thresholds.iter().map(|t| t.points).sum();
        let passed_points: f64 = report
            .thresholds
            .iter()
            .filter(|t| t.passed)
            .map(|t| t.points)
            .sum();
        let outcome = if let Some(why) = &report.aborted {
            Err(StepFail::new(format!("the load stopped early: {why}")))
        } else if failed.is_empty() {
            Ok(())
        } else {
            let list: Vec<String> = failed
                .iter()
                .map(|t| match &t.stage {
                    Some(s) => format!("{} in stage `{s}` (measured {})", t.expr, t.actual),
                    None => format!("{} (measured {})", t.expr, t.actual),
                })
                .collect();
            let mut f = StepFail::new(format!(
                "{} of {} load thresholds failed: {}",
                failed.len(),
                report.thresholds.len(),
                list.join("; ")
            ));
            f.failure.expected = Some(
                failed
                    .iter()
                    .map(|t| t.expr.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            f.failure.actual = Some(
                failed
                    .iter()
                    .map(|t| t.actual.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            if all_points > 0.0 {
                f.credit = Some(passed_points / all_points);
            }
            Err(f)
        };
        self.last_load = Some(report);
        outcome
    }

    fn render_request(
        &self,
        step: &HttpStep,
        ctx: &mut Context,
    ) -> Result<ProbeRequest, RenderError> {
        render_request(step, ctx)
    }

    async fn http(&self, step: &HttpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let items = match &step.for_each {
            None => vec![None],
            Some(var) => match ctx.get(var) {
                Some(Value::Array(items)) => items.iter().cloned().map(Some).collect(),
                Some(other) => {
                    return Err(StepFail::new(format!(
                        "`for_each = \"{var}\"` needs a list, but `{var}` holds {}",
                        typed(other)
                    )));
                }
                None => return Err(StepFail::new(format!("variable `{var}` has no value"))),
            },
        };
        for item in items {
            if let Some(item) = item {
                ctx.set("item", item);
            }
            if step.concurrent > 1 {
                self.http_concurrent(step, ctx).await?;
            } else {
                let req = self.render_request(step, ctx)?;
                let resp = self.send(&req).await?;
                let json = self
                    .expect_response(&step.expect, &resp, ctx)
                    .map_err(|m| self.fail_with(m, &req, Some(&resp)))?;
                for c in &step.captures {
                    let v = capture(c, &resp, json.as_ref())
                        .map_err(|m| self.fail_with(m, &req, Some(&resp)))?;
                    ctx.set(&c.name, v);
                }
            }
        }
        Ok(())
    }

    async fn send(&self, req: &ProbeRequest) -> Result<ProbeResponse, StepFail> {
        let base = self.target.base_url();
        self.prober.send(&base, req).await.map_err(|e| {
            let mut f = StepFail::new(format!("{} {}: {e}", req.method, req.path_and_query));
            f.failure.request = Some(curl_command(&self.config.public_base_url, req));
            f
        })
    }

    fn fail_with(&self, m: Mismatch, req: &ProbeRequest, resp: Option<&ProbeResponse>) -> StepFail {
        let mut f = StepFail::mismatch(m);
        f.failure.message = format!(
            "{} {}: {}",
            req.method, req.path_and_query, f.failure.message
        );
        f.failure.request = Some(curl_command(&self.config.public_base_url, req));
        f.failure.response = resp.map(|r| r.excerpt(EXCERPT_BYTES));
        f
    }

    async fn http_concurrent(&self, step: &HttpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let n = step.concurrent as usize;
        let mut requests = Vec::with_capacity(n);
        for i in 0..n {
            ctx.set("i", Value::from(i));
            requests.push(self.render_request(step, ctx)?);
        }
        let base = self.target.base_url();
        let responses = join_all(requests.iter().map(|r| self.prober.send(&base, r))).await;
        let mut jsons = Vec::with_capacity(n);
        let mut first_fail: Option<StepFail> = None;
        let mut failed = 0;
        for (i, (req, resp)) in requests.iter().zip(&responses).enumerate() {
            let outcome = match resp {
                Err(e) => Err(StepFail::new(format!(
                    "{} {}: {e}",
                    req.method, req.path_and_query
                ))),
                Ok(resp) => self
                    .expect_response(&step.expect, resp, ctx)
                    .map_err(|m| self.fail_with(m, req, Some(resp))),
            };
            match outcome {
                Ok(json) => jsons.push(json),
                Err(mut f) => {
                    failed += 1;
                    jsons.push(None);
                    if first_fail.is_none() {
                        f.failure.request = Some(curl_command(&self.config.public_base_url, req));
                        f.failure.message = format!(
                            "request {} of {n} sent at once: {}",
                            i + 1,
                            f.failure.message
                        );
                        first_fail = Some(f);
                    }
                }
            }
        }
        if let Some(mut f) = first_fail {
            f.failure.message = format!(
                "{failed} of {n} concurrent requests failed; {}",
                f.failure.message
            );
            return Err(f);
        }
        if !step.expect.statuses.is_empty() {
            let got: Vec<u16> = responses.iter().flatten().map(|r| r.status).collect();
            let mut tally: std::collections::BTreeMap<u16, usize> = Default::default();
            for s in &got {
                *tally.entry(*s).or_default() += 1;
            }
            let shown: Vec<String> = tally.iter().map(|(s, c)| format!("{c} × {s}")).collect();
            for (status, want) in &step.expect.statuses {
                let want = want.value(ctx)?;
                let count = got.iter().filter(|s| status.matches(**s)).count();
                if count as f64 != want {
                    let want = crate::spec::show_num(want);
                    return Err(StepFail::mismatch(Mismatch {
                        message: format!(
                            "{n} concurrent requests: {count} answered {status}, expected {want} (all answers: {})",
                            shown.join(", ")
                        ),
                        expected: Some(format!("{want} × {status}")),
                        actual: Some(shown.join(", ")),
                        diff: None,
                    }));
                }
            }
        }
        if let Some(q) = &step.expect.distinct {
            let mut seen: Vec<Value> = Vec::new();
            for json in jsons.iter().flatten() {
                let nodes: Vec<Value> = q.path.query(json).all().into_iter().cloned().collect();
                let v = match nodes.as_slice() {
                    [one] => one.clone(),
                    _ => Value::Array(nodes),
                };
                if let Some(dup) = seen.iter().find(|s| assert::json_eq(s, &v)) {
                    return Err(StepFail::mismatch(Mismatch {
                        message: format!(
                            "{n} concurrent requests: two responses share {} = {} (each must be distinct)",
                            q.src,
                            typed(dup)
                        ),
                        expected: Some(format!("{n} distinct values")),
                        actual: Some(format!("{} at least twice", typed(dup))),
                        diff: None,
                    }));
                }
                seen.push(v);
            }
        }
        for c in &step.captures {
            let mut values = Vec::with_capacity(n);
            for (resp, json) in responses.iter().zip(&jsons) {
                let Ok(resp) = resp else { continue };
                values.push(capture(c, resp, json.as_ref()).map_err(StepFail::mismatch)?);
            }
            ctx.set(&c.name, Value::Array(values));
        }
        Ok(())
    }

    /// Checks a response; returns its body as JSON when it was parsed.
    fn expect_response(
        &self,
        expect: &Expect,
        resp: &ProbeResponse,
        ctx: &mut Context,
    ) -> Result<Option<Value>, Mismatch> {
        if let Some(status) = &expect.status
            && !status.matches(resp.status)
        {
            return Err(Mismatch {
                message: format!("status {} where {status} was expected", resp.status),
                expected: Some(format!("status <{status}>")),
                actual: Some(format!("status <{}>", resp.status)),
                diff: None,
            });
        }
        for h in &expect.headers {
            let values: Vec<Value> = resp
                .headers
                .get_all(h.name.as_str())
                .iter()
                .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            assert::check(&format!("header {}", h.name), &values, &h.predicates, ctx)?;
        }
        if let Some(max) = expect.max_time
            && resp.elapsed > max
        {
            return Err(Mismatch::new(
                format!(
                    "the response took {} ms, more than the {} ms allowed",
                    resp.elapsed.as_millis(),
                    max.as_millis()
                ),
                format!("time <= {} ms", max.as_millis()),
                format!("time <{} ms>", resp.elapsed.as_millis()),
            ));
        }
        if expect.body_contains.is_some() || expect.body_matches.is_some() {
            let text = String::from_utf8_lossy(&resp.body);
            if let Some(t) = &expect.body_contains {
                let want = t.render_string(ctx)?;
                if !text.contains(&want) {
                    return Err(Mismatch::new(
                        "the body does not contain the expected text".into(),
                        format!("a body containing {}", typed(&Value::String(want))),
                        http::excerpt_text(&resp.body, 300),
                    ));
                }
            }
            if let Some(re) = &expect.body_matches
                && !re.is_match(&text)
            {
                return Err(Mismatch::new(
                    "the body does not match the expected pattern".into(),
                    format!("a body matching /{}/", re.as_str()),
                    http::excerpt_text(&resp.body, 300),
                ));
            }
        }
        let needs_json = !expect.jsonpath.is_empty()
            || expect.distinct.is_some()
            || expect.json.is_some()
            || expect.json_subset.is_some()
            || expect.json_schema.is_some();
        let json = if needs_json {
            Some(parse_json(&resp.body)?)
        } else {
            parse_json(&resp.body).ok()
        };
        if let Some(json) = &json {
            check_document(expect, json, ctx)?;
        }
        Ok(json)
    }

    async fn sql(&mut self, step: &SqlStep, ctx: &mut Context) -> Result<(), StepFail> {
        let mut params = Vec::with_capacity(step.params.len());
        for p in &step.params {
            params.push(p.render(ctx)?);
        }
        let shown = if params.is_empty() {
            step.query.clone()
        } else {
            format!(
                "{}  -- params: {}",
                step.query,
                Value::Array(params.clone())
            )
        };
        if self.sql.is_none() {
            let url = self.target.database_url().ok_or_else(|| StepFail {
                failure: Failure::message("this exercise has no database service for SQL steps"),
                infrastructure: true,
                credit: None,
            })?;
            self.sql = Some(SqlProbe::connect_lazy(&url).map_err(|e| StepFail {
                failure: Failure::message(e.message),
                infrastructure: true,
                credit: None,
            })?);
        }
        let probe = self.sql.as_ref().expect("just set");
        let rows = probe
            .rows(&step.query, &params, step.timeout)
            .await
            .map_err(|e| StepFail {
                failure: Failure {
                    request: Some(shown.clone()),
                    ..Failure::message(format!("the query failed: {}", e.message))
                },
                infrastructure: e.infrastructure,
                credit: None,
            })?;
        judge_document(&step.expect, &step.captures, &rows, &shown, ctx).await
    }
}

impl<T: Target> Runner<'_, T> {
    async fn redis(&mut self, step: &RedisStep, ctx: &mut Context) -> Result<(), StepFail> {
        let mut words = Vec::with_capacity(step.command.len());
        for w in &step.command {
            words.push(w.render_string(ctx)?);
        }
        let shown = format!("redis-cli {}", words.join(" "));
        let infra = |message: String| StepFail {
            failure: Failure {
                request: Some(shown.clone()),
                ..Failure::message(message)
            },
            infrastructure: true,
            credit: None,
        };
        if self.redis.is_none() {
            let url = self
                .target
                .redis_url()
                .ok_or_else(|| infra("this exercise has no Redis service".into()))?;
            self.redis = Some(
                crate::kv::RedisProbe::connect(&url, step.timeout)
                    .await
                    .map_err(infra)?,
            );
        }
        let probe = self.redis.as_mut().expect("just set");
        let reply = match probe.command(&words, step.timeout).await {
            Ok(v) => v,
            Err(e) => {
                // A broken connection is reopened by the next step.
                self.redis = None;
                return Err(infra(e));
            }
        };
        judge_document(&step.expect, &step.captures, &reply, &shown, ctx).await
    }

    async fn upstream_mode(&self, mode: UpstreamMode) -> Result<(), StepFail> {
        let mock = self.target.upstream().ok_or_else(|| StepFail {
            failure: Failure::message("this exercise has no upstream mock"),
            infrastructure: true,
            credit: None,
        })?;
        mock.set_mode(mode);
        Ok(())
    }

    async fn upstream_calls(
        &self,
        step: &UpstreamCallsStep,
        ctx: &mut Context,
    ) -> Result<(), StepFail> {
        let mock = self.target.upstream().ok_or_else(|| StepFail {
            failure: Failure::message("this exercise has no upstream mock"),
            infrastructure: true,
            credit: None,
        })?;
        let path = step.path.render_string(ctx)?;
        let count = mock.calls(&path);
        let doc = serde_json::json!({ "path": path, "count": count });
        let shown = format!("requests the upstream received for {path}");
        judge_document(&step.expect, &step.captures, &doc, &shown, ctx).await
    }
}

/// Judges a JSON document (SQL rows, a Redis reply, the mock's counts) and takes its
/// captures. (async like the other steps: a large error type is fine in a future)
async fn judge_document(
    expect: &Expect,
    captures: &[Capture],
    doc: &Value,
    shown: &str,
    ctx: &mut Context,
) -> Result<(), StepFail> {
    let fail = |m: Mismatch| {
        let mut f = StepFail::mismatch(m);
        f.failure.request = Some(shown.to_string());
        f.failure.response = Some(crate::http::excerpt_text(
            doc.to_string().as_bytes(),
            EXCERPT_BYTES,
        ));
        f
    };
    let count = doc.as_array().map_or(0, Vec::len) as u64;
    if let Some(want) = expect.rows
        && want != count
    {
        return Err(fail(Mismatch {
            message: format!("the query returned {count} row(s), expected {want}"),
            expected: Some(format!("rows <{want}>")),
            actual: Some(format!("rows <{count}>")),
            diff: None,
        }));
    }
    check_document(expect, doc, ctx).map_err(fail)?;
    for c in captures {
        let CaptureSource::JsonPath(q) = &c.source else {
            return Err(StepFail::new(
                "this step captures with JSONPath, not headers",
            ));
        };
        let v = capture_json(&c.name, q, doc).map_err(fail)?;
        ctx.set(&c.name, v);
    }
    Ok(())
}

/// Renders an HTTP step's request with the check's variables.
fn render_request(step: &HttpStep, ctx: &mut Context) -> Result<ProbeRequest, RenderError> {
    let mut path = step.path.render_string(ctx)?;
    let mut pairs = Vec::new();
    for (k, t) in &step.query {
        pairs.push(format!(
            "{}={}",
            encode_component(k),
            encode_component(&t.render_string(ctx)?)
        ));
    }
    if !pairs.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&pairs.join("&"));
    }
    let mut headers = Vec::new();
    for (k, t) in &step.headers {
        headers.push((k.clone(), t.render_string(ctx)?));
    }
    let body = match &step.body {
        None => None,
        Some(Body::Json(tv)) => {
            if !http::has_header(&headers, "content-type") {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Some(Bytes::from(tv.render(ctx)?.to_string()))
        }
        Some(Body::Form(fields)) => {
            if !http::has_header(&headers, "content-type") {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            let mut pairs = Vec::with_capacity(fields.len());
            for (k, t) in fields {
                let v = t.render_string(ctx)?;
                pairs.push(format!("{}={}", encode_component(k), encode_component(&v)));
            }
            Some(Bytes::from(pairs.join("&")))
        }
        Some(Body::Raw(t)) => Some(Bytes::from(t.render_string(ctx)?)),
    };
    Ok(ProbeRequest {
        method: step.method.clone(),
        path_and_query: path,
        headers,
        body,
        timeout: step.timeout,
    })
}

/// The assertions on a JSON document (a response body, or a query's rows).
fn check_document(expect: &Expect, doc: &Value, ctx: &mut Context) -> Result<(), Mismatch> {
    if let Some(tv) = &expect.json {
        let want = tv.render(ctx)?;
        if !assert::json_eq(&want, doc) {
            let mut m = Mismatch::new(
                "the JSON body differs from the expected one".into(),
                typed(&want),
                typed(doc),
            );
            m.diff = Some(assert::json_diff(&want, doc));
            return Err(m);
        }
    }
    if let Some(tv) = &expect.json_subset {
        let want = tv.render(ctx)?;
        if let Some(path) = assert::subset_mismatch(&want, doc, "$") {
            let mut m = Mismatch::new(
                format!("the JSON body lacks what is expected at {path}"),
                typed(&want),
                typed(doc),
            );
            m.diff = Some(assert::json_diff(&want, doc));
            return Err(m);
        }
    }
    if let Some(schema) = &expect.json_schema {
        let errors: Vec<String> = schema
            .0
            .iter_errors(doc)
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at {at}: {e}")
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(Mismatch::new(
                format!(
                    "the JSON body does not match the schema: {}",
                    errors.join("; ")
                ),
                "a body matching the JSON Schema".into(),
                typed(doc),
            ));
        }
    }
    for a in &expect.jsonpath {
        let nodes: Vec<Value> = a.query.path.query(doc).all().into_iter().cloned().collect();
        assert::check(&a.query.src, &nodes, &a.predicates, ctx)?;
    }
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<Value, Mismatch> {
    serde_json::from_slice(body).map_err(|e| Mismatch {
        message: format!("the response body is not JSON ({e})"),
        expected: Some("a JSON body".into()),
        actual: Some(if body.is_empty() {
            "an empty body".into()
        } else {
            http::excerpt_text(body, 200)
        }),
        diff: None,
    })
}

fn capture(c: &Capture, resp: &ProbeResponse, json: Option<&Value>) -> Result<Value, Mismatch> {
    match &c.source {
        CaptureSource::Header(name) => resp
            .headers
            .get(name.as_str())
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .ok_or_else(|| Mismatch {
                message: format!(
                    "cannot capture `{}`: the response has no {name} header",
                    c.name
                ),
                expected: Some(format!("a {name} header")),
                actual: Some("nothing".into()),
                diff: None,
            }),
        CaptureSource::JsonPath(q) => match json {
            Some(json) => capture_json(&c.name, q, json),
            None => Err(parse_json(&resp.body).err().unwrap_or(Mismatch {
                message: "the response body is not JSON".into(),
                expected: None,
                actual: None,
                diff: None,
            })),
        },
    }
}

fn capture_json(name: &str, q: &crate::spec::Query, json: &Value) -> Result<Value, Mismatch> {
    let nodes: Vec<Value> = q.path.query(json).all().into_iter().cloned().collect();
    match nodes.len() {
        0 => Err(Mismatch {
            message: format!("cannot capture `{name}`: nothing at {}", q.src),
            expected: Some(format!("a value at {}", q.src)),
            actual: Some("nothing".into()),
            diff: None,
        }),
        1 => Ok(nodes.into_iter().next().expect("one node")),
        _ => Ok(Value::Array(nodes)),
    }
}
