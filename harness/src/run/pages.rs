//! `pages`: an `http` step that follows a paged list to its last page.

use serde_json::Value;

use super::assert::Mismatch;
use super::check::{Runner, StepFail};
use super::http::{capture, expect_response, keep_cookies};
use super::request::{path_and_query, render_request};
use crate::exercise::{Cause, HttpStep, PageNext, Pages};
use crate::probe::{ProbeRequest, ProbeResponse};
use crate::target::Target;
use crate::template::Context;

impl<T: Target> Runner<'_, T> {
    /// The step's request, then each next page until there is none: every page is
    /// judged, `page` is its number (from 1), and each capture is what it found on
    /// every page, in order (lists joined).
    pub(super) async fn http_pages(
        &self,
        step: &HttpStep,
        pages: &Pages,
        ctx: &mut Context,
    ) -> Result<(), StepFail> {
        let mut collected: Vec<Vec<Value>> = vec![Vec::new(); step.captures.len()];
        let mut next: Option<String> = None;
        for page in 1..=pages.max {
            ctx.set("page", Value::from(page));
            let mut req = render_request(step, ctx)?;
            if let Some(path) = next.take() {
                req.path_and_query = path;
            }
            let resp = self.send(&req).await?;
            keep_cookies(&resp, ctx);
            self.judging(&req, ctx);
            let json = expect_response(&step.expect, &resp, ctx)
                .map_err(|m| self.fail_with(m, &req, Some(&resp)))?;
            for (k, c) in step.captures.iter().enumerate() {
                match capture(c, &resp, json.as_ref())
                    .map_err(|m| self.fail_with(m, &req, Some(&resp)))?
                {
                    Value::Array(items) => collected[k].extend(items),
                    one => collected[k].push(one),
                }
            }
            let Some(url) = next_page(&pages.next, &resp, json.as_ref()) else {
                for (c, values) in step.captures.iter().zip(collected) {
                    ctx.set(&c.name, Value::Array(values));
                }
                return Ok(());
            };
            next = Some(self.same_origin(&url, &req, &resp, ctx)?);
        }
        let mut f = StepFail::new(format!(
            "{} {}: still a next page after {} pages: the last page's next should be missing or null (or raise `max`)",
            step.method,
            step.path.render_string(ctx).unwrap_or_default(),
            pages.max
        ));
        f.cause = Cause::Other;
        Err(f)
    }

    /// The next page's URL, resolved against the page's, as a path on the server; on
    /// another origin the step fails.
    fn same_origin(
        &self,
        url: &str,
        req: &ProbeRequest,
        resp: &ProbeResponse,
        ctx: &Context,
    ) -> Result<String, StepFail> {
        let here = super::uri::base(ctx);
        let there = super::uri::resolve(&here, url);
        match there {
            Some(u) if u.origin() == here.origin() => Ok(path_and_query(&u)),
            _ => Err(self.fail_with(
                Mismatch::new(
                    format!(
                        "the next page <{url}> is not on the server's own origin ({})",
                        super::uri::origin(&here)
                    ),
                    format!("a URL on {}", super::uri::origin(&here)),
                    url.to_string(),
                ),
                req,
                Some(resp),
            )),
        }
    }
}

/// Where the next page is: the string at the JSONPath, or the `Link` header's
/// `rel="next"` target (RFC 8288 §3); none (the last page) when missing, null or empty.
fn next_page(next: &PageNext, resp: &ProbeResponse, json: Option<&Value>) -> Option<String> {
    match next {
        PageNext::JsonPath(q) => match json.map(|j| super::document::query(q, j)) {
            Some(nodes) => match nodes.as_slice() {
                [Value::String(s)] if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            },
            None => None,
        },
        PageNext::Link => resp.headers.get_all("link").iter().find_map(|v| {
            let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
            text.split(',').find_map(|link| {
                let (target, params) = link.trim().split_once('>')?;
                let target = target.trim().strip_prefix('<')?;
                params
                    .split(';')
                    .filter_map(|p| p.trim().split_once('='))
                    .any(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("rel")
                            && v.trim()
                                .trim_matches('"')
                                .split_whitespace()
                                .any(|r| r.eq_ignore_ascii_case("next"))
                    })
                    .then(|| target.to_string())
            })
        }),
    }
}
