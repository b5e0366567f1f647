//! An `http` step's request, rendered: its path and query, headers (the cookie jar's
//! included), and its body (JSON, a form, raw text, bytes or multipart).

use bytes::Bytes;

use crate::exercise::{Body, HttpStep, Part, PartData};
use crate::probe::http::has_header;
use crate::probe::{ProbeRequest, encode_component};
use crate::template::{Context, RenderError};

/// Renders an HTTP step's request with the check's variables.
pub(super) fn render_request(
    step: &HttpStep,
    ctx: &mut Context,
) -> Result<ProbeRequest, RenderError> {
    let mut path = path_of(step.path.render_string(ctx)?);
    let query = encode_pairs(&step.query, ctx)?;
    if !query.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&query);
    }
    let mut headers = Vec::new();
    for (k, t) in &step.headers {
        headers.push((k.clone(), t.render_string(ctx)?));
    }
    // The jar's cookies, unless the step sends its own `Cookie`.
    if let Some(cookies) = ctx.cookie_header()
        && !has_header(&headers, "cookie")
    {
        headers.push(("Cookie".into(), cookies));
    }
    let mut content_type = |t: &str| {
        if !has_header(&headers, "content-type") {
            headers.push(("Content-Type".into(), t.into()));
        }
    };
    let body = match &step.body {
        None => None,
        Some(Body::Json(tv)) => {
            content_type("application/json");
            Some(Bytes::from(tv.render(ctx)?.to_string()))
        }
        Some(Body::Form(fields)) => {
            content_type("application/x-www-form-urlencoded");
            Some(Bytes::from(encode_pairs(fields, ctx)?))
        }
        Some(Body::Raw(t)) => Some(Bytes::from(t.render_string(ctx)?)),
        Some(Body::Bytes(b)) => {
            content_type("application/octet-stream");
            Some(b.clone())
        }
        Some(Body::Multipart(parts)) => {
            let (boundary, body) = multipart(parts, ctx)?;
            content_type(&format!("multipart/form-data; boundary={boundary}"));
            Some(body)
        }
    };
    Ok(ProbeRequest {
        method: step.method.clone(),
        path_and_query: path,
        headers,
        body,
        timeout: step.timeout,
    })
}

/// The path and query to send for a rendered step path. An absolute URL (a captured
/// `Location: http://host:port/todos/2`) is sent to the submission by its path and
/// query: the grader only ever talks to the submission, and a `url` or `url_path`
/// assertion is what judges where such a URL points.
fn path_of(rendered: String) -> String {
    let lower = rendered.get(..8).unwrap_or(&rendered).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return rendered;
    }
    match url::Url::parse(&rendered) {
        Ok(u) => path_and_query(&u),
        Err(_) => rendered,
    }
}

/// What is sent for a URL on the server: its path and query.
pub(super) fn path_and_query(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// `k=v&k=v`, rendered and percent-encoded (a query string or a form body).
fn encode_pairs<'a>(
    pairs: impl IntoIterator<Item = &'a (String, crate::template::Template)>,
    ctx: &mut Context,
) -> Result<String, RenderError> {
    let mut out = Vec::new();
    for (k, t) in pairs {
        let v = t.render_string(ctx)?;
        out.push(format!("{}={}", encode_component(k), encode_component(&v)));
    }
    Ok(out.join("&"))
}

/// A `multipart/form-data` body (RFC 7578) and its boundary: a part per field, a file
/// part with its file name and content type. The boundary is fixed (so a replay sends
/// the same bytes) and made longer in the rare body that contains it.
fn multipart(parts: &[Part], ctx: &mut Context) -> Result<(String, Bytes), RenderError> {
    let mut data = Vec::with_capacity(parts.len());
    for p in parts {
        data.push(match &p.data {
            PartData::Text(t) => Bytes::from(t.render_string(ctx)?),
            PartData::Bytes(b) => b.clone(),
        });
    }
    let mut boundary = "grader-boundary-5f3a9c1e7b2d".to_string();
    while data
        .iter()
        .any(|d| d.windows(boundary.len()).any(|w| w == boundary.as_bytes()))
    {
        boundary.push('x');
    }
    // Quotes and line breaks in a name would end the header early: escaped as RFC 7578
    // §2 allows (percent-encoding).
    let quoted = |s: &str| {
        s.replace('%', "%25")
            .replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let mut body = Vec::new();
    for (p, d) in parts.iter().zip(&data) {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quoted(&p.name)
        );
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename=\"{}\"", quoted(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(d);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((boundary, Bytes::from(body)))
}
