//! The functional HTTP prober: one request at a time (or a few at once), with a timeout
//! on every call and a cap on what it reads, because the server is untrusted.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use grader_report::Fault;

/// The most of a response body the prober reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request, fully rendered.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    pub method: Method,
    /// Path and query, e.g. `/todos?limit=2`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    pub timeout: Duration,
}

/// A response, read in full (up to `MAX_BODY_BYTES`).
#[derive(Debug, Clone)]
pub struct ProbeResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl ProbeResponse {
    /// Status line, headers and the start of the body, for a learner to read.
    pub fn excerpt(&self, max_body: usize) -> String {
        let mut out = format!("HTTP {}\n", self.status);
        for (name, value) in &self.headers {
            out.push_str(&format!(
                "{}: {}\n",
                name,
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        if !self.body.is_empty() {
            out.push('\n');
            out.push_str(&excerpt_text(&self.body, max_body));
        }
        out
    }
}

/// The start of some bytes as text, with a note of how much was left out.
pub fn excerpt_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned();
    if bytes.len() > max {
        format!("{text}... ({} more bytes)", bytes.len() - max)
    } else {
        text
    }
}

/// Why a request got no usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("connection refused: nothing is listening (did the server stop or crash?)")]
    Refused,
    #[error("the server closed the connection without a complete response ({0})")]
    Closed(String),
    #[error("the response body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A `Content-Encoding` the body is not in, or one the grader does not decode.
    #[error("{0}")]
    Encoding(String),
    #[error("{0}")]
    Other(String),
}

impl ProbeError {
    /// A request that got no usable answer counts against the submission: it stopped,
    /// hung, closed the connection or sent too much. (A request the grader could not
    /// build comes from the submission's captured values, so it counts the same way.)
    pub fn fault(&self) -> Fault {
        Fault::Submission
    }
}

/// An HTTP/1.1 client for probes. It keeps no idle connections, so a restarted server
/// never sees a stale one.
#[derive(Clone)]
pub struct Prober {
    client: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    pub fn new() -> Prober {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .http1_max_headers(200)
            .build(connector);
        Prober { client }
    }

    /// Sends `req` to `base_url` (e.g. `http://127.0.0.1:8080`).
    pub async fn send(
        &self,
        base_url: &str,
        req: &ProbeRequest,
    ) -> Result<ProbeResponse, ProbeError> {
        let request = build(base_url, req)?;
        let start = Instant::now();
        let work = async {
            let response = self.client.request(request).await.map_err(classify)?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        ProbeError::TooLarge
                    } else {
                        ProbeError::Closed(e.to_string())
                    }
                })?
                .to_bytes();
            let body = decode(&parts.headers, body)?;
            Ok(ProbeResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
                elapsed: start.elapsed(),
            })
        };
        tokio::time::timeout(req.timeout, work)
            .await
            .unwrap_or(Err(ProbeError::Timeout(req.timeout)))
    }
}

/// The body with its `Content-Encoding` undone (RFC 9110 §8.4: codings listed in the
/// order they were applied): `gzip` (`x-gzip`) and `deflate` (zlib, or raw deflate as
/// some servers send it) are decoded, `identity` is nothing; the decoded body is capped
/// at `MAX_BODY_BYTES` like any other. The headers stay as the server sent them.
fn decode(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ProbeError> {
    use std::io::Read;
    let codings: Vec<String> = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty() && c != "identity")
                .collect::<Vec<_>>()
        })
        .collect();
    let mut body = body;
    for coding in codings.iter().rev() {
        let read = |r: &mut dyn Read| -> std::io::Result<Vec<u8>> {
            let mut out = Vec::new();
            r.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut out)?;
            Ok(out)
        };
        let decoded = match coding.as_str() {
            "gzip" | "x-gzip" => read(&mut flate2::read::MultiGzDecoder::new(&body[..])),
            "deflate" => read(&mut flate2::read::ZlibDecoder::new(&body[..]))
                .or_else(|_| read(&mut flate2::read::DeflateDecoder::new(&body[..]))),
            other => {
                return Err(ProbeError::Encoding(format!(
                    "the body is in Content-Encoding `{other}`, which the grader does not decode: send it as gzip, deflate or unencoded"
                )));
            }
        }
        .map_err(|e| {
            ProbeError::Encoding(format!(
                "the body says Content-Encoding `{coding}` but is not valid {coding}: {e}"
            ))
        })?;
        if decoded.len() > MAX_BODY_BYTES {
            return Err(ProbeError::TooLarge);
        }
        body = Bytes::from(decoded);
    }
    Ok(body)
}

fn build(base_url: &str, req: &ProbeRequest) -> Result<Request<Full<Bytes>>, ProbeError> {
    let uri = format!("{}{}", base_url.trim_end_matches('/'), req.path_and_query);
    let mut builder = Request::builder().method(req.method.clone()).uri(&uri);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = req.body.clone().unwrap_or_default();
    builder
        .body(Full::new(body))
        .map_err(|e| ProbeError::BadRequest(e.to_string()))
}

impl Prober {
    /// Sends `req` and reads its body as server-sent events (the HTML standard's
    /// `text/event-stream`) until `want` events have come, the stream ends, or `within`
    /// has passed since the answer began; then closes the connection. The response's
    /// body is those events as a JSON list: `[{"event", "data", "id"}]`.
    pub async fn send_events(
        &self,
        base_url: &str,
        req: &ProbeRequest,
        want: usize,
        within: Duration,
    ) -> Result<ProbeResponse, ProbeError> {
        let request = build(base_url, req)?;
        let start = Instant::now();
        let response = tokio::time::timeout(req.timeout, self.client.request(request))
            .await
            .map_err(|_| ProbeError::Timeout(req.timeout))?
            .map_err(classify)?;
        let (parts, mut body) = response.into_parts();
        let deadline = tokio::time::Instant::now() + within;
        let mut stream = super::sse::Stream::default();
        while stream.events().len() < want {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) | Ok(None) => break,
                Ok(Some(Err(e))) => return Err(ProbeError::Closed(e.to_string())),
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        stream.push(data);
                    }
                    if stream.buffered() > MAX_BODY_BYTES {
                        return Err(ProbeError::TooLarge);
                    }
                }
            }
        }
        let mut events = stream.into_events();
        events.truncate(want);
        Ok(ProbeResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: Bytes::from(serde_json::Value::Array(events).to_string()),
            elapsed: start.elapsed(),
        })
    }
}

fn classify(err: hyper_util::client::legacy::Error) -> ProbeError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut text = err.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => ProbeError::Refused,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    ProbeError::Closed("connection reset".into())
                }
                std::io::ErrorKind::TimedOut => ProbeError::Other("connect timed out".into()),
                _ => ProbeError::Other(io.to_string()),
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                return ProbeError::Closed(h.to_string());
            }
            text = h.to_string();
        }
        source = e.source();
    }
    ProbeError::Other(text)
}

/// The request as a curl command, aimed at `base` (what the learner runs locally).
pub fn curl_command(base: &str, req: &ProbeRequest) -> String {
    let mut cmd = String::from("curl -i");
    if req.method != Method::GET || req.body.is_some() {
        cmd.push_str(&format!(" -X {}", req.method));
    }
    cmd.push(' ');
    cmd.push_str(&shell_quote(&format!(
        "{}{}",
        base.trim_end_matches('/'),
        req.path_and_query
    )));
    for (name, value) in &req.headers {
        cmd.push_str(" -H ");
        cmd.push_str(&shell_quote(&format!("{name}: {value}")));
    }
    if let Some(body) = &req.body {
        cmd.push_str(" --data-raw ");
        cmd.push_str(&shell_quote(&excerpt_text(body, 4096)));
    }
    cmd
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/:.-_=?&,%+@".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Percent-encodes a query-string component.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The last thing a readiness poll saw before it gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// The server answered, but not 2xx.
    #[error("status {0}")]
    Status(u16),
    /// No HTTP answer came (refused, reset, timed out), or none yet (`None`).
    #[error("{}", .0.as_ref().map_or_else(|| "no answer yet".to_string(), ToString::to_string))]
    NoAnswer(Option<ProbeError>),
}

/// Polls `health` until it answers 2xx or `timeout` passes. When it gives up, returns
/// the last problem it saw (a status, or why no response came).
pub async fn wait_ready(
    prober: &Prober,
    base_url: impl Fn() -> String,
    health: &str,
    timeout: Duration,
) -> Result<Duration, NotReady> {
    let start = Instant::now();
    // Within a few milliseconds of the server being up (every start, restart and crash
    // step waits here), without a busy loop while it builds caches: a poll is a refused
    // connection or one small request, 40 a second at most.
    let mut delay = Duration::from_millis(5);
    let mut last = NotReady::NoAnswer(None);
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(last);
        }
        let req = ProbeRequest {
            method: Method::GET,
            path_and_query: health.to_string(),
            headers: Vec::new(),
            body: None,
            timeout: left.min(Duration::from_secs(2)),
        };
        match prober.send(&base_url(), &req).await {
            Ok(r) if (200..300).contains(&r.status) => return Ok(start.elapsed()),
            Ok(r) => last = NotReady::Status(r.status),
            Err(e) => last = NotReady::NoAnswer(Some(e)),
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_millis(25));
    }
}

pub(crate) fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod decode_tests {
    use std::io::Write;

    use super::*;

    fn headers(coding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_ENCODING, coding.parse().unwrap());
        h
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded() {
        let json = br#"{"id":1}"#;
        assert_eq!(decode(&headers("gzip"), gzip(json)).unwrap(), &json[..]);
        assert_eq!(decode(&headers("X-Gzip"), gzip(json)).unwrap(), &json[..]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(json).unwrap();
        let zlib = Bytes::from(z.finish().unwrap());
        assert_eq!(decode(&headers("deflate"), zlib).unwrap(), &json[..]);
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        d.write_all(json).unwrap();
        let raw = Bytes::from(d.finish().unwrap());
        assert_eq!(decode(&headers("deflate"), raw).unwrap(), &json[..]);
        // Applied in order: gzip, then gzip again.
        let twice = gzip(&gzip(json));
        assert_eq!(decode(&headers("gzip, gzip"), twice).unwrap(), &json[..]);
        let plain = Bytes::from_static(json);
        assert_eq!(decode(&headers("identity"), plain.clone()).unwrap(), plain);
        assert_eq!(decode(&HeaderMap::new(), plain.clone()).unwrap(), plain);
    }

    #[test]
    fn a_wrong_or_unknown_coding_and_a_bomb_are_named() {
        let e = decode(&headers("gzip"), Bytes::from_static(b"{}")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the body says Content-Encoding `gzip` but is not valid gzip"),
            "{e}"
        );
        let e = decode(&headers("br"), Bytes::from_static(b"x")).unwrap_err();
        assert!(
            e.to_string()
                .contains("`br`, which the grader does not decode"),
            "{e}"
        );
        let bomb = gzip(&vec![0u8; MAX_BODY_BYTES + 1]);
        assert!(bomb.len() < 10_000);
        assert_eq!(decode(&headers("gzip"), bomb), Err(ProbeError::TooLarge));
    }
}
