//! HTTP steps: rendering a request, sending it (once per `for_each` item, several at
//! once, or as concurrent client sequences) and judging the response.

use futures_util::future::join_all;
use serde_json::Value;

use super::assert::{self, Mismatch, typed};
use super::check::{Runner, StepFail};
use super::document::{EXCERPT_BYTES, capture_json, check_document, parse_json, query};
use super::request::render_request;
use super::seed;
use crate::exercise::{Capture, CaptureSource, Cause, Expect, HttpStep, Query, Sse};
use crate::probe::{ProbeError, ProbeRequest, ProbeResponse, curl_command, excerpt_text};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    pub(super) async fn http(&self, step: &HttpStep, ctx: &mut Context) -> Result<(), StepFail> {
        if let Some(pages) = &step.pages {
            return self.http_pages(step, pages, ctx).await;
        }
        for item in for_each_items(step, ctx)? {
            if let Some(item) = item {
                ctx.set("item", item);
            }
            if step.concurrent > 1 {
                self.http_concurrent(step, ctx).await?;
            } else {
                self.http_once(step, ctx).await?;
            }
        }
        Ok(())
    }

    async fn http_once(&self, step: &HttpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let req = render_request(step, ctx)?;
        let resp = self.send_with(&req, step.sse.as_ref()).await?;
        keep_cookies(&resp, ctx);
        self.judging(&req, ctx);
        let json = expect_response(&step.expect, &resp, ctx)
            .map_err(|m| self.fail_with(m, &req, Some(&resp)))?;
        for c in &step.captures {
            let v = capture(c, &resp, json.as_ref())
                .map_err(|m| self.fail_with(m, &req, Some(&resp)))?;
            ctx.set(&c.name, v);
        }
        Ok(())
    }

    /// Notes the URL of the request whose answer is judged next: the base that URI
    /// references in it resolve against.
    pub(super) fn judging(&self, req: &ProbeRequest, ctx: &mut Context) {
        let base = self.target.base_url();
        ctx.set_request_url(&format!(
            "{}{}",
            base.trim_end_matches('/'),
            req.path_and_query
        ));
    }

    pub(super) async fn send(&self, req: &ProbeRequest) -> Result<ProbeResponse, StepFail> {
        self.send_with(req, None).await
    }

    /// Sends `req`, counted; with `sse`, its body is read as server-sent events.
    async fn send_with(
        &self,
        req: &ProbeRequest,
        sse: Option<&Sse>,
    ) -> Result<ProbeResponse, StepFail> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let base = self.target.base_url();
        let answer = match sse {
            Some(s) => {
                self.prober
                    .send_events(&base, req, s.events as usize, s.within)
                    .await
            }
            None => self.prober.send(&base, req).await,
        };
        answer.map_err(|e| self.no_answer(req, &e))
    }

    /// A request that got no response.
    fn no_answer(&self, req: &ProbeRequest, e: &ProbeError) -> StepFail {
        let mut f = StepFail::new(format!("{} {}: {e}", req.method, req.path_and_query));
        f.fault = e.fault();
        f.cause = Cause::NoAnswer;
        f.failure.request = Some(curl_command(&self.config.public_base_url, req));
        f
    }

    pub(super) fn fail_with(
        &self,
        m: Mismatch,
        req: &ProbeRequest,
        resp: Option<&ProbeResponse>,
    ) -> StepFail {
        let mut f = StepFail::mismatch(m);
        f.failure.message = format!(
            "{} {}: {}",
            req.method, req.path_and_query, f.failure.message
        );
        f.failure.request = Some(curl_command(&self.config.public_base_url, req));
        f.failure.response = resp.map(|r| r.excerpt(EXCERPT_BYTES));
        f
    }

    /// `step.concurrent` copies of the request at once (each with its own `i`).
    async fn http_concurrent(&self, step: &HttpStep, ctx: &mut Context) -> Result<(), StepFail> {
        let n = step.concurrent as usize;
        let mut requests = Vec::with_capacity(n);
        for i in 0..n {
            ctx.set("i", Value::from(i));
            requests.push(render_request(step, ctx)?);
        }
        let base = self.target.base_url();
        self.sent
            .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        let responses = join_all(requests.iter().map(|r| self.prober.send(&base, r))).await;
        for resp in responses.iter().flatten() {
            keep_cookies(resp, ctx);
        }
        let jsons = self.judge_each(&step.expect, &requests, &responses, ctx)?;
        if !step.expect.statuses.is_empty() {
            let got: Vec<u16> = responses.iter().flatten().map(|r| r.status).collect();
            check_statuses(&step.expect, &got, ctx)?;
        }
        if let Some(q) = &step.expect.distinct {
            check_distinct(q, &jsons, n)?;
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

    /// Judges each of the responses to requests sent at once; the first failure tells
    /// how many failed. Returns each body as JSON where it was parsed.
    fn judge_each(
        &self,
        expect: &Expect,
        requests: &[ProbeRequest],
        responses: &[Result<ProbeResponse, ProbeError>],
        ctx: &mut Context,
    ) -> Result<Vec<Option<Value>>, StepFail> {
        let n = requests.len();
        let mut jsons = Vec::with_capacity(n);
        let mut first_fail: Option<StepFail> = None;
        let mut failed = 0;
        for (i, (req, resp)) in requests.iter().zip(responses).enumerate() {
            let outcome = match resp {
                Err(e) => Err(self.no_answer(req, e)),
                Ok(resp) => {
                    self.judging(req, ctx);
                    expect_response(expect, resp, ctx)
                        .map_err(|m| self.fail_with(m, req, Some(resp)))
                }
            };
            match outcome {
                Ok(json) => jsons.push(json),
                Err(mut f) => {
                    failed += 1;
                    jsons.push(None);
                    if first_fail.is_none() {
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
        match first_fail {
            None => Ok(jsons),
            Some(mut f) => {
                f.failure.message = format!(
                    "{failed} of {n} concurrent requests failed; {}",
                    f.failure.message
                );
                Err(f)
            }
        }
    }

    /// `copies` clients at once, each running `steps` in order with its own variables.
    pub(super) async fn sequence(
        &self,
        copies: u32,
        steps: &[HttpStep],
        ctx: &Context,
    ) -> Result<(), StepFail> {
        let runs = (0..copies).map(|i| {
            let mut c = ctx.clone();
            c.set("i", Value::from(i));
            c.reseed(seed::for_index(self.config.seed, u64::from(i)));
            async move {
                for (k, s) in steps.iter().enumerate() {
                    self.http(s, &mut c).await.map_err(|f| (k, f))?;
                }
                Ok::<(), (usize, StepFail)>(())
            }
        });
        let outcomes = join_all(runs).await;
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        let Some((i, (k, mut f))) = outcomes
            .into_iter()
            .enumerate()
            .find_map(|(i, o)| o.err().map(|e| (i, e)))
        else {
            return Ok(());
        };
        f.failure.message = format!(
            "{failed} of {copies} concurrent clients failed; client {} at request {} of the sequence: {}",
            i + 1,
            k + 1,
            f.failure.message
        );
        Err(f)
    }
}

/// The items a `for_each` step runs once for (`None`: a step without `for_each`).
fn for_each_items(step: &HttpStep, ctx: &Context) -> Result<Vec<Option<Value>>, StepFail> {
    let Some(var) = &step.for_each else {
        return Ok(vec![None]);
    };
    match ctx.get(var) {
        Some(Value::Array(items)) => Ok(items.iter().cloned().map(Some).collect()),
        Some(other) => Err(StepFail::new(format!(
            "`for_each = \"{var}\"` needs a list, but `{var}` holds {}",
            typed(other)
        ))),
        None => Err(StepFail::new(format!("variable `{var}` has no value"))),
    }
}

/// `statuses`: how many of the answers to requests sent at once have each status.
fn check_statuses(expect: &Expect, got: &[u16], ctx: &mut Context) -> Result<(), StepFail> {
    let n = got.len();
    let mut tally: std::collections::BTreeMap<u16, usize> = Default::default();
    for s in got {
        *tally.entry(*s).or_default() += 1;
    }
    let shown: Vec<String> = tally.iter().map(|(s, c)| format!("{c} × {s}")).collect();
    for (status, want) in &expect.statuses {
        let want = want.value(ctx)?;
        let count = got.iter().filter(|s| status.matches(**s)).count();
        if count as f64 != want {
            let want = crate::exercise::show_num(want);
            return Err(StepFail::mismatch(Mismatch::new(
                format!(
                    "{n} concurrent requests: {count} answered {status}, expected {want} (all answers: {})",
                    shown.join(", ")
                ),
                format!("{want} × {status}"),
                shown.join(", "),
            )
            .with_cause(Cause::Status)));
        }
    }
    Ok(())
}

/// `distinct`: no two of the answers share the value at `q`.
fn check_distinct(q: &Query, jsons: &[Option<Value>], n: usize) -> Result<(), StepFail> {
    let mut seen: Vec<Value> = Vec::new();
    for json in jsons.iter().flatten() {
        let v = match query(q, json).as_slice() {
            [one] => one.clone(),
            nodes => Value::Array(nodes.to_vec()),
        };
        if let Some(dup) = seen.iter().find(|s| assert::json_eq(s, &v)) {
            return Err(StepFail::mismatch(Mismatch::new(
                format!(
                    "{n} concurrent requests: two responses share {} = {} (each must be distinct)",
                    q.src,
                    typed(dup)
                ),
                format!("{n} distinct values"),
                format!("{} at least twice", typed(dup)),
            )));
        }
        seen.push(v);
    }
    Ok(())
}

/// Checks a response; returns its body as JSON when it was parsed.
pub(super) fn expect_response(
    expect: &Expect,
    resp: &ProbeResponse,
    ctx: &mut Context,
) -> Result<Option<Value>, Mismatch> {
    if let Some(status) = &expect.status
        && !status.matches(resp.status)
    {
        return Err(Mismatch::new(
            format!("status {} where {status} was expected", resp.status),
            format!("status <{status}>"),
            format!("status <{}>", resp.status),
        )
        .with_cause(Cause::Status));
    }
    for h in &expect.headers {
        let values: Vec<Value> = resp
            .headers
            .get_all(h.name.as_str())
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let subject = format!("header {}", h.name);
        assert::check(&subject, &values, &h.predicates, h.hint.as_deref(), ctx)?;
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
    expect_body_text(expect, resp, ctx)?;
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

/// `body_contains` and `body_matches`: the body as text.
fn expect_body_text(
    expect: &Expect,
    resp: &ProbeResponse,
    ctx: &mut Context,
) -> Result<(), Mismatch> {
    if expect.body_contains.is_none() && expect.body_matches.is_none() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&resp.body);
    if let Some(t) = &expect.body_contains {
        let want = t.render_string(ctx)?;
        if !text.contains(&want) {
            return Err(Mismatch::new(
                "the body does not contain the expected text".into(),
                format!("a body containing {}", typed(&Value::String(want))),
                excerpt_text(&resp.body, 300),
            ));
        }
    }
    if let Some(re) = &expect.body_matches
        && !re.is_match(&text)
    {
        return Err(Mismatch::new(
            "the body does not match the expected pattern".into(),
            format!("a body matching /{}/", re.as_str()),
            excerpt_text(&resp.body, 300),
        ));
    }
    Ok(())
}

pub(super) fn capture(
    c: &Capture,
    resp: &ProbeResponse,
    json: Option<&Value>,
) -> Result<Value, Mismatch> {
    let missing = |what: String| {
        Mismatch::new(
            format!("cannot capture `{}`: the response has no {what}", c.name),
            format!("a {what}"),
            "nothing".into(),
        )
        .with_cause(Cause::Missing)
    };
    let value = match &c.source {
        CaptureSource::Header(name) => resp
            .headers
            .get(name.as_str())
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .ok_or_else(|| missing(format!("{name} header")))?,
        CaptureSource::Status => Value::from(resp.status),
        CaptureSource::Cookie(name) => cookie(resp, name)
            .map(Value::String)
            .ok_or_else(|| missing(format!("Set-Cookie for `{name}`")))?,
        CaptureSource::JsonPath(q) => match json {
            Some(json) => capture_json(&c.name, q, json)?,
            None => {
                return Err(parse_json(&resp.body).err().unwrap_or_else(|| {
                    Mismatch::new(
                        "the response body is not JSON".into(),
                        "a JSON body".into(),
                        excerpt_text(&resp.body, 200),
                    )
                    .with_cause(Cause::Type)
                }));
            }
        },
    };
    super::document::regex_group(c, value)
}

/// The value of cookie `name` in the response's `Set-Cookie` headers; the last one
/// wins, as a browser's jar would keep it.
fn cookie(resp: &ProbeResponse, name: &str) -> Option<String> {
    resp.headers
        .get_all("set-cookie")
        .iter()
        .rev()
        .find_map(|v| {
            let text = String::from_utf8_lossy(v.as_bytes());
            let (k, v) = crate::template::cookie_pair(&text)?;
            (k == name).then(|| v.to_string())
        })
}

/// The cookies a response sets, into the check's jar (when it keeps one).
pub(super) fn keep_cookies(resp: &ProbeResponse, ctx: &mut Context) {
    for v in resp.headers.get_all("set-cookie") {
        ctx.set_cookie(&String::from_utf8_lossy(v.as_bytes()));
    }
}
