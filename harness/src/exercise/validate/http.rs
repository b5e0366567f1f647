//! HTTP steps: the request line, `for_each` and `concurrent`, query, headers, the one
//! body, and what the response must satisfy. Load steps and sequences reuse it for
//! each of their requests.

use toml::Spanned;

use super::step::Kind;
use super::{MAX_CONCURRENT, Validator};
use crate::exercise::model::*;
use crate::exercise::raw::*;

const DEFAULT_HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Validator<'_> {
    /// The request of `raw` (whose `http` field is `http`); its captures join `scope`.
    pub(super) fn http_step(
        &mut self,
        raw: &RawStep,
        http: &Spanned<String>,
        scope: &mut Vec<String>,
    ) -> Option<HttpStep> {
        self.reject_fields(raw, &Kind::Http(http), http.span());
        let (method, path) = self.request_line(http)?;
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
            } else if let Some(what) = self.scalar(f.get_ref()) {
                self.error(
                    f.span(),
                    format!(
                        "`for_each` sends the request once per item of a list, but `{}` holds {what}",
                        f.get_ref()
                    ),
                )
                .help = Some("give it a list, e.g. `vars = { titles = [\"a\", \"b\"] }`, or capture one (\"$[*].id\")".into());
            }
            local.push("item".into());
            f.get_ref().clone()
        });
        // 1: a plain request (also when `concurrent` is wrong, which is reported).
        let concurrent = raw
            .concurrent
            .as_ref()
            .map_or(1, |c| self.copies(c).unwrap_or(1));
        if concurrent > 1 {
            local.push("i".into());
        }
        // The path's errors point at the whole `http` text.
        let path_t = self.template_in_scope(&Spanned::new(http.span(), path.to_string()), &local);
        let query = self.template_map(&raw.query, &local);
        let headers = self.template_map(&raw.headers, &local);
        let body = self.body(raw, http, &local)?;
        let timeout = self
            .duration(raw.timeout.as_ref())
            .unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let expect = self.expect(raw.expect.as_ref(), &local, true, concurrent > 1);
        let captures = self.captures_into(&raw.capture, scope, true);
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

    /// `METHOD /path`: the method, and the path as written (trimmed).
    fn request_line<'s>(&mut self, http: &'s Spanned<String>) -> Option<(http::Method, &'s str)> {
        let text = http.get_ref().trim();
        let Some((method, path)) = text.split_once(char::is_whitespace) else {
            self.error(http.span(), "expected `METHOD /path`, e.g. \"GET /todos\"");
            return None;
        };
        match http::Method::from_bytes(method.as_bytes()) {
            Ok(m) if method.chars().all(|c| c.is_ascii_uppercase()) => Some((m, path.trim())),
            _ => {
                self.error(
                    http.span(),
                    format!("`{method}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE...)"),
                );
                None
            }
        }
    }

    /// The value of a `concurrent` field: how many copies to send at once.
    pub(super) fn copies(&mut self, c: &Spanned<i64>) -> Option<u32> {
        if (2..=MAX_CONCURRENT).contains(c.get_ref()) {
            return Some(*c.get_ref() as u32);
        }
        self.error(
            c.span(),
            format!("`concurrent` must be 2 to {MAX_CONCURRENT}"),
        );
        None
    }

    /// The one body a request sends: `json`, `body` or `form`. The outer `None` means
    /// the body is unusable and the step is dropped.
    fn body(
        &mut self,
        raw: &RawStep,
        http: &Spanned<String>,
        scope: &[String],
    ) -> Option<Option<Body>> {
        let bodies = usize::from(raw.json.is_some())
            + usize::from(raw.body.is_some())
            + usize::from(!raw.form.is_empty());
        if bodies > 1 {
            self.error(
                http.span(),
                "a step sends one of `json`, `form` or `body`, not several",
            );
        }
        Some(if let Some(j) = &raw.json {
            Some(Body::Json(self.tvalue_in_scope(
                j.get_ref(),
                scope,
                j.span(),
            )?))
        } else if let Some(b) = &raw.body {
            Some(Body::Raw(self.template_in_scope(b, scope)?))
        } else if !raw.form.is_empty() {
            Some(Body::Form(self.template_map(&raw.form, scope)))
        } else {
            None
        })
    }
}
