//! Raw requests over TCP (`tcp` steps): bytes a client library would never send (a
//! broken request line, a bad header, a truncated body), and what came back, parsed as
//! an HTTP response where it is one.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::MAX_BODY_BYTES;
use crate::exercise::Pace;

/// Why the grader could not even try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpError {
    #[error("the server's address {0} is not host:port")]
    Address(String),
    #[error("connection refused: nothing is listening (did the server stop or crash?)")]
    Refused,
    #[error("cannot connect: {0}")]
    Connect(String),
}

/// Sends `data` on a new connection to the server at `base_url` (all at once, or paced
/// as a slow client) and reads until the server closes it, a whole HTTP response has
/// come (by its `Content-Length`, or the end of a chunked body), or `timeout` passes.
/// The answer as a JSON document: `{"status", "reason", "headers", "body", "closed",
/// "timed_out", "bytes", "sent"}`; `status` is null when no HTTP status line came.
pub async fn exchange(
    base_url: &str,
    data: &[u8],
    pace: Option<Pace>,
    timeout: Duration,
) -> Result<Value, TcpError> {
    let addr = url::Url::parse(base_url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .ok_or_else(|| TcpError::Address(base_url.to_string()))?;
    let mut stream =
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(TcpError::Refused);
            }
            Ok(Err(e)) => return Err(TcpError::Connect(e.to_string())),
            Err(_) => {
                return Err(TcpError::Connect(format!(
                    "no connection within {timeout:?}"
                )));
            }
        };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = Vec::new();
    let sending = send(&mut stream, data, pace, deadline, &mut got).await;
    let (closed, timed_out) = match sending.end {
        SendEnd::Closed => (true, false),
        SendEnd::TimedOut => (false, true),
        SendEnd::Done => read_rest(&mut stream, deadline, &mut got).await,
    };
    Ok(document(&got, closed, timed_out, sending.sent))
}

/// How the sending ended: every byte written (or the server answered first, or it
/// refused more), the server closed, or the time ran out.
enum SendEnd {
    Done,
    Closed,
    TimedOut,
}

struct Sending {
    sent: usize,
    end: SendEnd,
}

/// Writes `data` in chunks of the pace (one chunk without it), reading what the server
/// sends meanwhile into `got`. The server may answer or close before it has read
/// everything: that is an answer, and sending stops there.
async fn send(
    stream: &mut tokio::net::TcpStream,
    data: &[u8],
    pace: Option<Pace>,
    deadline: tokio::time::Instant,
    got: &mut Vec<u8>,
) -> Sending {
    let size = pace.map_or(data.len(), |p| p.bytes.max(1)).max(1);
    let mut sent = 0;
    let mut buf = [0u8; 8192];
    for (i, chunk) in data.chunks(size).enumerate() {
        if i > 0
            && let Some(p) = pace
        {
            let next = tokio::time::Instant::now() + p.every;
            // Listen while pausing: a close or a whole answer ends the sending.
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return Sending { sent, end: SendEnd::Closed },
                        Ok(n) => {
                            got.extend_from_slice(&buf[..n]);
                            if complete(got) || got.len() > MAX_BODY_BYTES {
                                return Sending { sent, end: SendEnd::Done };
                            }
                        }
                    },
                    () = tokio::time::sleep_until(next.min(deadline)) => break,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Sending {
                    sent,
                    end: SendEnd::TimedOut,
                };
            }
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            match tokio::time::timeout_at(deadline, stream.write(rest)).await {
                Ok(Ok(n)) if n > 0 => {
                    sent += n;
                    rest = &rest[n..];
                }
                // Refused (a reset, a closed socket): what came back may still be read.
                Ok(_) => {
                    return Sending {
                        sent,
                        end: SendEnd::Done,
                    };
                }
                Err(_) => {
                    return Sending {
                        sent,
                        end: SendEnd::TimedOut,
                    };
                }
            }
        }
    }
    Sending {
        sent,
        end: SendEnd::Done,
    }
}

/// Reads until the close, a whole answer or the deadline: whether the server closed
/// and whether the time ran out.
async fn read_rest(
    stream: &mut tokio::net::TcpStream,
    deadline: tokio::time::Instant,
    got: &mut Vec<u8>,
) -> (bool, bool) {
    let mut buf = [0u8; 8192];
    loop {
        if complete(got) || got.len() > MAX_BODY_BYTES {
            return (false, false);
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (true, false),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (false, true),
        }
    }
}

/// Whether `got` holds a whole HTTP response.
fn complete(got: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = resp.parse(got) else {
        return false;
    };
    let body = &got[head..];
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        return body.len() >= n;
    }
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return body.windows(5).any(|w| w == b"0\r\n\r\n");
    }
    // 1xx, 204 and 304 have no body; anything else without a length ends at the close.
    matches!(resp.code, Some(100..=199 | 204 | 304))
}

fn document(got: &[u8], closed: bool, timed_out: bool, sent: usize) -> Value {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let parsed = resp.parse(got);
    let (status, reason, head, body_at) = match parsed {
        Ok(httparse::Status::Complete(n)) => (
            resp.code.map(Value::from).unwrap_or(Value::Null),
            resp.reason
                .map_or(Value::Null, |r| Value::from(r.to_string())),
            resp.headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        Value::from(String::from_utf8_lossy(h.value).into_owned()),
                    )
                })
                .collect::<Map<String, Value>>(),
            n,
        ),
        _ => (Value::Null, Value::Null, Map::new(), 0),
    };
    let body = String::from_utf8_lossy(&got[body_at.min(got.len())..]).into_owned();
    json!({
        "status": status,
        "reason": reason,
        "headers": head,
        "body": body,
        "closed": closed,
        "timed_out": timed_out,
        "bytes": got.len(),
        "sent": sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_and_complete_by_length_or_chunks() {
        let whole = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad";
        assert!(complete(whole));
        assert!(!complete(&whole[..whole.len() - 1]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        assert!(complete(chunked));
        assert!(complete(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(!complete(b"HTTP/1.0 200 OK\r\n\r\nuntil the close"));
        let d = document(whole, false, false, 10);
        assert_eq!(d["status"], 400);
        assert_eq!(d["reason"], "Bad Request");
        assert_eq!(d["headers"]["content-length"], "3");
        assert_eq!(d["body"], "bad");
        let d = document(b"", true, false, 0);
        assert_eq!(
            (d["status"].clone(), d["closed"].clone()),
            (Value::Null, json!(true))
        );
        let d = document(b"garbage", false, true, 3);
        assert_eq!(
            (d["status"].clone(), d["timed_out"].clone()),
            (Value::Null, json!(true))
        );
    }
}
