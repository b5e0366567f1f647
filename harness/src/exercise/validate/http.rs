//! HTTP steps: the request line, `for_each` and `concurrent`, query, headers, the one
//! body, and what the response must satisfy. Load steps and sequences reuse it for
//! each of their requests.

use indexmap::IndexMap;
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
        let pages = raw
            .pages
            .as_ref()
            .and_then(|p| self.pages(p, raw, concurrent));
        let sse = raw.sse.as_ref().and_then(|s| self.sse(s, raw, concurrent));
        if pages.is_some() {
            local.push("page".into());
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
            pages,
            sse,
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
            + usize::from(!raw.form.is_empty())
            + usize::from(raw.body_base64.is_some())
            + usize::from(!raw.multipart.is_empty());
        if bodies > 1 {
            self.error(
                http.span(),
                "a step sends one of `json`, `form`, `body`, `body_base64` or `multipart`, not several",
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
        } else if let Some(b) = &raw.body_base64 {
            Some(Body::Bytes(self.base64(b.get_ref(), b.span())?))
        } else if !raw.multipart.is_empty() {
            Some(Body::Multipart(self.multipart(&raw.multipart, scope)?))
        } else {
            None
        })
    }
}

/// The forms of a `multipart` part, for errors.
const PART_FORMS: &str = "a part is text (`title = \"{{ title }}\"`) or a file: `{ file = \"TEXT\" }` or `{ base64 = \"...\" }`, with an optional `filename` and `content_type` (a file's default: application/octet-stream)";

impl Validator<'_> {
    /// Bytes from base64 (standard alphabet; padding and line breaks optional).
    fn base64(&mut self, text: &str, span: std::ops::Range<usize>) -> Option<bytes::Bytes> {
        use base64::Engine as _;
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let engine = base64::engine::general_purpose::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        match engine.decode(clean) {
            Ok(b) => Some(bytes::Bytes::from(b)),
            Err(e) => {
                self.error(span, format!("not base64: {e}")).help = Some(
                    "base64 of the bytes, e.g. \"iVBORw0KGgo=\" (`base64 -w0 FILE` prints it)"
                        .into(),
                );
                None
            }
        }
    }

    /// The parts of a `multipart` body, in spec order.
    fn multipart(
        &mut self,
        raw: &IndexMap<String, Spanned<toml::Value>>,
        scope: &[String],
    ) -> Option<Vec<Part>> {
        let mut parts = Vec::new();
        let mut ok = true;
        for (name, v) in raw {
            let span = v.span();
            let part = match v.get_ref().clone() {
                toml::Value::String(t) => self.template_at(&t, span.clone()).map(|t| {
                    self.check_scope(&TValue::Str(t.clone()), scope, span.clone());
                    Part {
                        name: name.clone(),
                        filename: None,
                        content_type: None,
                        data: PartData::Text(t),
                    }
                }),
                toml::Value::Table(t) => self.file_part(name, &t, span.clone(), scope),
                _ => {
                    self.error(span, "a part is a string or a table").help =
                        Some(PART_FORMS.into());
                    None
                }
            };
            match part {
                Some(p) => parts.push(p),
                None => ok = false,
            }
        }
        ok.then_some(parts)
    }

    fn file_part(
        &mut self,
        name: &str,
        t: &toml::Table,
        span: std::ops::Range<usize>,
        scope: &[String],
    ) -> Option<Part> {
        let valid = ["file", "base64", "filename", "content_type"];
        if !self.known_keys(t, span.clone(), "a multipart part", &valid, PART_FORMS) {
            return None;
        }
        let text = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_string);
        for k in valid {
            if t.contains_key(k) && text(k).is_none() {
                self.error(span, format!("`{k}` is a string")).help = Some(PART_FORMS.into());
                return None;
            }
        }
        let data = match (text("file"), text("base64")) {
            (Some(f), None) => {
                let tpl = self.template_at(&f, span.clone())?;
                self.check_scope(&TValue::Str(tpl.clone()), scope, span.clone());
                PartData::Text(tpl)
            }
            (None, Some(b)) => PartData::Bytes(self.base64(&b, span.clone())?),
            _ => {
                self.error(
                    span,
                    "a file part has one of `file` (text) or `base64` (bytes)",
                )
                .help = Some(PART_FORMS.into());
                return None;
            }
        };
        Some(Part {
            name: name.to_string(),
            filename: text("filename"),
            content_type: Some(
                text("content_type").unwrap_or_else(|| "application/octet-stream".into()),
            ),
            data,
        })
    }
}

impl Validator<'_> {
    /// The table of an option that shapes one request (`pages`, `sse`): an error, and
    /// none, when the step sends several (`several` says why), when it is no table, or
    /// when it has a key not in `valid`.
    fn one_request_table<'v>(
        &mut self,
        v: &'v Spanned<toml::Value>,
        name: &str,
        several: Option<&str>,
        valid: &[&str],
        forms: &str,
    ) -> Option<&'v toml::Table> {
        let span = v.span();
        if let Some(why) = several {
            self.error(span, why);
            return None;
        }
        let Some(t) = v.get_ref().as_table() else {
            self.error(span, format!("`{name}` is a table")).help = Some(forms.into());
            return None;
        };
        let what = format!("`{name}`");
        self.known_keys(t, span, &what, valid, forms).then_some(t)
    }
}

/// The forms of `pages`, for errors.
const PAGES_FORMS: &str = "pages = { next = \"$.next\" } (the next page's URL at a JSONPath) or pages = { next = \"link\" } (the Link header's rel=\"next\"), with an optional `max` (default 100, at most 1000)";

impl Validator<'_> {
    /// `pages`: where the next page's URL is, and how many pages at most; not with
    /// `concurrent`, `for_each` or a load.
    fn pages(&mut self, p: &Spanned<toml::Value>, raw: &RawStep, concurrent: u32) -> Option<Pages> {
        let span = p.span();
        let several = concurrent > 1 || raw.for_each.is_some() || raw.load.is_some();
        let t = self.one_request_table(
            p,
            "pages",
            several.then_some(
                "`pages` follows one request's pages: not with `concurrent`, `for_each` or a load",
            ),
            &["next", "max"],
            PAGES_FORMS,
        )?;
        let next = match t.get("next").and_then(toml::Value::as_str) {
            Some("link") => PageNext::Link,
            Some(path) => PageNext::JsonPath(self.query(path, span.clone())?),
            None => {
                self.error(span, "`pages` needs `next`: where the next page's URL is")
                    .help = Some(PAGES_FORMS.into());
                return None;
            }
        };
        let max = match t.get("max") {
            None => 100,
            Some(toml::Value::Integer(n)) if (1..=1000).contains(n) => *n as u32,
            Some(_) => {
                self.error(span, "`max` is a whole number of pages from 1 to 1000");
                return None;
            }
        };
        Some(Pages { next, max })
    }
}

/// The forms of `sse`, for errors.
const SSE_FORMS: &str = "sse = { events = 3, within = \"5s\" }: read server-sent events until 3 have come or 5 s have passed (events 1 to 1000, within at most 60s)";

impl Validator<'_> {
    /// `sse`: how many events to wait for, and how long; one plain request only.
    fn sse(&mut self, v: &Spanned<toml::Value>, raw: &RawStep, concurrent: u32) -> Option<Sse> {
        let span = v.span();
        let several =
            concurrent > 1 || raw.for_each.is_some() || raw.load.is_some() || raw.pages.is_some();
        let t = self.one_request_table(
            v,
            "sse",
            several.then_some(
                "`sse` reads one request's stream: not with `concurrent`, `for_each`, `pages` or a load",
            ),
            &["events", "within"],
            SSE_FORMS,
        )?;
        let events = match t.get("events") {
            Some(toml::Value::Integer(n)) if (1..=1000).contains(n) => *n as u32,
            _ => {
                self.error(span, "`events` is how many events to read: 1 to 1000")
                    .help = Some(SSE_FORMS.into());
                return None;
            }
        };
        let within = match t.get("within").and_then(toml::Value::as_str) {
            Some(w) => self.duration(Some(&Spanned::new(span.clone(), w.to_string())))?,
            None => std::time::Duration::from_secs(10),
        };
        if within > std::time::Duration::from_secs(60) {
            self.error(span, "`within` is at most \"60s\"");
            return None;
        }
        Some(Sse { events, within })
    }
}
