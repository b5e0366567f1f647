//! One raw HTTP/1.1 connection per slot: connect, write the request, read the answer
//! and its body (discarded, under a cap). The load's own client, not the probes' hyper
//! one: a request costs one write and usually one read, with no task between the worker
//! and its socket, no header map and no allocation once the connection's buffers have
//! grown (hyper's client, driven from a task of its own, took about 20,000 instructions
//! a request against nginx; see bench/load.sh). httparse, hyper's own parser, reads the
//! answer's head. Failures are typed, and each maps to the kind of error the report
//! counts.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::probe::{MAX_BODY_BYTES, ProbeRequest};

/// The most an answer's head (status line and headers) may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 100;

/// How a load request failed, as the report counts it (`errors` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ErrorKind {
    Status4xx,
    Status5xx,
    Timeout,
    Refused,
    Reset,
    Other,
}

impl ErrorKind {
    /// The name in the report's `errors` map.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Status4xx => "4xx",
            ErrorKind::Status5xx => "5xx",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Refused => "refused",
            ErrorKind::Reset => "reset",
            ErrorKind::Other => "other",
        }
    }

    /// The kind of an answer with this status; `None` for a success (below 400).
    pub fn of_status(status: u16) -> Option<ErrorKind> {
        match status {
            0..400 => None,
            400..500 => Some(ErrorKind::Status4xx),
            _ => Some(ErrorKind::Status5xx),
        }
    }
}

/// Why a load request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("connect timeout")]
    ConnectTimeout,
    #[error("{}", .0.to_string().to_lowercase())]
    Connect(#[source] std::io::Error),
    /// Writing the request or reading the answer failed.
    #[error("{}", .0.to_string().to_lowercase())]
    Io(#[source] std::io::Error),
    /// The connection closed before the answer was complete.
    #[error("connection closed before the answer was complete")]
    Closed,
    /// The answer is not HTTP/1.x as the grader reads it.
    #[error("{0}")]
    Malformed(String),
    /// The body is larger than the probe's cap.
    #[error("the body is larger than {} bytes", MAX_BODY_BYTES)]
    TooLarge,
    /// The request cannot be written (a header or path with a line break, say).
    #[error("{0}")]
    Build(String),
    /// The request was out longer than the per-request timeout.
    #[error("timeout")]
    Timeout,
}

impl RequestError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RequestError::ConnectTimeout | RequestError::Timeout => ErrorKind::Timeout,
            RequestError::Connect(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    ErrorKind::Reset
                }
                _ => ErrorKind::Other,
            },
            RequestError::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
                _ => ErrorKind::Other,
            },
            RequestError::Closed => ErrorKind::Reset,
            RequestError::Malformed(_) | RequestError::TooLarge | RequestError::Build(_) => {
                ErrorKind::Other
            }
        }
    }
}

/// One keep-alive connection and its buffers.
pub(crate) struct Conn {
    stream: TcpStream,
    /// What has been read and not yet consumed.
    input: BytesMut,
    /// The request being written.
    output: Vec<u8>,
    /// It has carried an answer: a failure before the next answer's first byte may be
    /// the server closing an idle connection, and is tried again on a new one.
    used: bool,
}

pub(crate) async fn connect(authority: &str, timeout: Duration) -> Result<Conn, RequestError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(authority))
        .await
        .map_err(|_| RequestError::ConnectTimeout)?
        .map_err(RequestError::Connect)?;
    let _ = stream.set_nodelay(true);
    Ok(Conn {
        stream,
        input: BytesMut::with_capacity(8 * 1024),
        output: Vec::with_capacity(512),
        used: false,
    })
}

/// What an answer's head says of what follows it.
struct Head {
    status: u16,
    body: Framing,
    /// The connection may carry another request.
    keep_alive: bool,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// How an attempt on a connection ended.
pub(crate) enum Sent {
    /// An answer with this status; whether the connection can carry another request.
    Answered(u16, bool),
    /// A reused connection failed before any byte of the answer came back: the server
    /// had closed it while idle (keep-alive timeouts), so the request was not served.
    Stale,
}

impl Conn {
    /// Sends `req` and reads its answer (the body up to the probe's cap).
    pub(crate) async fn send(
        &mut self,
        host: &str,
        req: &ProbeRequest,
    ) -> Result<Sent, RequestError> {
        write_request(&mut self.output, host, req)?;
        self.input.clear();
        let reused = self.used;
        self.used = true;
        if let Err(e) = self.stream.write_all(&self.output).await {
            return if reused {
                Ok(Sent::Stale)
            } else {
                Err(RequestError::Io(e))
            };
        }
        let head = loop {
            match self.head(req.method == http::Method::HEAD)? {
                Some(head) => break head,
                None => match self.fill().await {
                    Ok(()) => {}
                    Err(RequestError::Closed | RequestError::Io(_))
                        if reused && self.input.is_empty() =>
                    {
                        return Ok(Sent::Stale);
                    }
                    Err(e) => return Err(e),
                },
            }
        };
        let framed = self.body(&head.body).await?;
        // Anything after the answer is not HTTP as the grader speaks it (no pipelining).
        let keep_alive = head.keep_alive && framed && self.input.is_empty();
        Ok(Sent::Answered(head.status, keep_alive))
    }

    /// Reads more of the answer; `Closed` at the end of the stream.
    async fn fill(&mut self) -> Result<(), RequestError> {
        if self.input.capacity() - self.input.len() < 4096 {
            self.input.reserve(8 * 1024);
        }
        match self.stream.read_buf(&mut self.input).await {
            Ok(0) => Err(RequestError::Closed),
            Ok(_) => Ok(()),
            Err(e) => Err(RequestError::Io(e)),
        }
    }

    /// The answer's head once it is all here (interim 1xx answers skipped), consumed
    /// from the input; `None` while more is needed.
    fn head(&mut self, head_request: bool) -> Result<Option<Head>, RequestError> {
        loop {
            // Left uninitialised: httparse writes the ones it finds (zeroing 100 headers
            // for every answer cost more than parsing it).
            let mut headers =
                [std::mem::MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
            let mut response = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut response, &self.input, &mut headers)
                .map_err(|e| RequestError::Malformed(format!("bad answer head: {e}")))?;
            let httparse::Status::Complete(len) = parsed else {
                if self.input.len() > MAX_HEAD_BYTES {
                    return Err(RequestError::Malformed(format!(
                        "the answer's head is larger than {MAX_HEAD_BYTES} bytes"
                    )));
                }
                return Ok(None);
            };
            let status = response.code.unwrap_or(0);
            let http11 = response.version == Some(1);
            let (mut length, mut chunked, mut close, mut keep_alive) = (None, false, false, false);
            for h in response.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    let n = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .ok_or_else(|| RequestError::Malformed("bad Content-Length".into()))?;
                    if length.is_some_and(|l| l != n) {
                        return Err(RequestError::Malformed(
                            "two different Content-Length headers".into(),
                        ));
                    }
                    length = Some(n);
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    // Chunked when it is the last coding named.
                    chunked = h
                        .value
                        .rsplit(|b| *b == b',')
                        .next()
                        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
                } else if h.name.eq_ignore_ascii_case("connection") {
                    for token in h.value.split(|b| *b == b',') {
                        let token = token.trim_ascii();
                        close |= token.eq_ignore_ascii_case(b"close");
                        keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
            }
            self.input.advance(len);
            if (100..200).contains(&status) && status != 101 {
                continue; // an interim answer: the real one follows
            }
            let body = if head_request || status == 204 || status == 304 || status < 200 {
                Framing::None
            } else if chunked {
                Framing::Chunked
            } else if let Some(n) = length {
                Framing::Length(n)
            } else {
                Framing::UntilClose
            };
            let keep_alive = if http11 { !close } else { keep_alive && !close };
            return Ok(Some(Head {
                status,
                body,
                keep_alive: keep_alive && status != 101,
            }));
        }
    }

    /// Reads (and drops) the body; whether its end was framed (else the server closed).
    async fn body(&mut self, framing: &Framing) -> Result<bool, RequestError> {
        match framing {
            Framing::None => Ok(true),
            Framing::Length(n) => {
                if *n > MAX_BODY_BYTES as u64 {
                    return Err(RequestError::TooLarge);
                }
                self.skip(*n as usize).await?;
                Ok(true)
            }
            Framing::Chunked => {
                let mut total = 0usize;
                loop {
                    let (len, size) = loop {
                        match httparse::parse_chunk_size(&self.input) {
                            Ok(httparse::Status::Complete(found)) => break found,
                            Ok(httparse::Status::Partial) if self.input.len() < 4096 => {
                                self.fill().await?;
                            }
                            _ => return Err(RequestError::Malformed("bad chunk size".into())),
                        }
                    };
                    self.input.advance(len);
                    if size == 0 {
                        break;
                    }
                    total = total.saturating_add(size as usize);
                    if total > MAX_BODY_BYTES {
                        return Err(RequestError::TooLarge);
                    }
                    self.skip(size as usize).await?;
                    self.expect_crlf().await?;
                }
                // Trailers, up to the empty line.
                loop {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(&self.input, &mut headers) {
                        Ok(httparse::Status::Complete((len, _))) => {
                            self.input.advance(len);
                            return Ok(true);
                        }
                        Ok(httparse::Status::Partial) if self.input.len() <= MAX_HEAD_BYTES => {
                            self.fill().await?;
                        }
                        _ => return Err(RequestError::Malformed("bad chunked trailer".into())),
                    }
                }
            }
            Framing::UntilClose => {
                loop {
                    if self.input.len() > MAX_BODY_BYTES {
                        return Err(RequestError::TooLarge);
                    }
                    match self.fill().await {
                        Ok(()) => {}
                        Err(RequestError::Closed) => break,
                        Err(e) => return Err(e),
                    }
                }
                self.input.clear();
                Ok(false)
            }
        }
    }

    /// Drops the next `n` bytes of the answer, reading as needed.
    async fn skip(&mut self, mut n: usize) -> Result<(), RequestError> {
        loop {
            let here = n.min(self.input.len());
            self.input.advance(here);
            n -= here;
            if n == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// The CRLF after a chunk's data.
    async fn expect_crlf(&mut self) -> Result<(), RequestError> {
        while self.input.len() < 2 {
            self.fill().await?;
        }
        if &self.input[..2] != b"\r\n" {
            return Err(RequestError::Malformed(
                "a chunk does not end with CRLF".into(),
            ));
        }
        self.input.advance(2);
        Ok(())
    }
}

/// Writes `req` as HTTP/1.1 into `out`: request line, Host, its headers, and a
/// Content-Length for a body (or for an empty one where a body is expected).
fn write_request(out: &mut Vec<u8>, host: &str, req: &ProbeRequest) -> Result<(), RequestError> {
    let path = req.path_and_query.as_str();
    if path.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(RequestError::Build(format!(
            "bad request target `{}`",
            path.escape_debug()
        )));
    }
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // The connection's own Host, unless the request names one.
    if !req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut has_length = false;
    for (name, value) in &req.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(RequestError::Build(format!(
                "bad header `{}: {}`",
                name.escape_debug(),
                value.escape_debug()
            )));
        }
        has_length |= name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = req.body.as_deref().unwrap_or_default();
    let wants_body = matches!(
        req.method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    );
    if !has_length && (!body.is_empty() || wants_body) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> ProbeRequest {
        ProbeRequest {
            method,
            path_and_query: path.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: (!body.is_empty()).then(|| bytes::Bytes::from(body.to_string())),
            timeout: Duration::from_secs(1),
        }
    }

    fn written(req: &ProbeRequest) -> Result<String, RequestError> {
        let mut out = Vec::new();
        write_request(&mut out, "127.0.0.1:8080", req)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn requests_are_written_as_http_1_1_with_host_and_length() {
        let get = request(
            http::Method::GET,
            "/todos?limit=2",
            &[("accept", "application/json")],
            "",
        );
        assert_eq!(
            written(&get).unwrap(),
            "GET /todos?limit=2 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\naccept: application/json\r\n\r\n"
        );
        let post = request(
            http::Method::POST,
            "/todos",
            &[("content-type", "application/json")],
            "{}",
        );
        assert_eq!(
            written(&post).unwrap(),
            "POST /todos HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        // An empty POST still says its length; a request's own Host replaces the
        // connection's.
        let empty = request(http::Method::POST, "/x", &[("Host", "example.test")], "");
        assert_eq!(
            written(&empty).unwrap(),
            "POST /x HTTP/1.1\r\nHost: example.test\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn line_breaks_cannot_reach_the_request() {
        let bad = [
            request(http::Method::GET, "/a b", &[], ""),
            request(http::Method::GET, "/a\r\nX-Evil: 1", &[], ""),
            request(http::Method::GET, "/", &[("x-id", "1\r\nX-Evil: 1")], ""),
            request(http::Method::GET, "/", &[("bad name", "1")], ""),
            request(http::Method::GET, "", &[], ""),
        ];
        for req in &bad {
            let e = written(req).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Other, "{e}");
        }
    }

    #[test]
    fn errors_are_counted_by_kind_under_the_report_names() {
        let io = |k: std::io::ErrorKind| RequestError::Connect(std::io::Error::from(k)).kind();
        assert_eq!(
            io(std::io::ErrorKind::ConnectionRefused),
            ErrorKind::Refused
        );
        assert_eq!(io(std::io::ErrorKind::ConnectionReset), ErrorKind::Reset);
        assert_eq!(io(std::io::ErrorKind::BrokenPipe), ErrorKind::Reset);
        assert_eq!(io(std::io::ErrorKind::AddrNotAvailable), ErrorKind::Other);
        assert_eq!(RequestError::Timeout.kind(), ErrorKind::Timeout);
        assert_eq!(RequestError::ConnectTimeout.kind(), ErrorKind::Timeout);
        let names: Vec<&str> = [
            ErrorKind::of_status(404),
            ErrorKind::of_status(503),
            Some(ErrorKind::Timeout),
            Some(ErrorKind::Refused),
            Some(ErrorKind::Reset),
            Some(ErrorKind::Other),
        ]
        .into_iter()
        .flatten()
        .map(ErrorKind::name)
        .collect();
        assert_eq!(
            names,
            ["4xx", "5xx", "timeout", "refused", "reset", "other"]
        );
        assert_eq!(ErrorKind::of_status(302), None);
    }

    #[test]
    fn connect_errors_read_as_before() {
        let e = RequestError::Connect(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(e.to_string(), "connection refused");
    }
}
