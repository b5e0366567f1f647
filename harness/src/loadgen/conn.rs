//! One raw HTTP/1.1 connection per slot (like oha): connect, send, read the body under
//! a cap. Failures are typed, and each maps to the kind of error the report counts.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use crate::probe::{MAX_BODY_BYTES, ProbeRequest};

pub(crate) type Sender = http1::SendRequest<Full<Bytes>>;

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
    #[error("{0}")]
    Http(#[source] hyper::Error),
    #[error("{0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Build(#[source] http::Error),
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
            RequestError::Http(h) => hyper_kind(h),
            RequestError::Body(e) => e
                .downcast_ref::<hyper::Error>()
                .map_or(ErrorKind::Other, hyper_kind),
            RequestError::Build(_) => ErrorKind::Other,
        }
    }
}

/// A connection that closed before the answer was complete is a reset.
fn hyper_kind(h: &hyper::Error) -> ErrorKind {
    if h.is_incomplete_message() || h.is_closed() {
        ErrorKind::Reset
    } else {
        ErrorKind::Other
    }
}

pub(crate) async fn connect(authority: &str, timeout: Duration) -> Result<Sender, RequestError> {
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority))
        .await
        .map_err(|_| RequestError::ConnectTimeout)?
        .map_err(RequestError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(RequestError::Http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends `req` and reads its body (up to the probe's cap); returns the status.
pub(crate) async fn send(
    sender: &mut Sender,
    host: &http::HeaderValue,
    req: ProbeRequest,
) -> Result<u16, RequestError> {
    sender.ready().await.map_err(RequestError::Http)?;
    let mut builder = http::Request::builder()
        .method(req.method)
        .uri(req.path_and_query)
        .header(http::header::HOST, host.clone());
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(req.body.unwrap_or_default()))
        .map_err(RequestError::Build)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(RequestError::Http)?;
    let status = response.status().as_u16();
    Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(RequestError::Body)?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

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
