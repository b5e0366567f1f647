//! The upstream mock: a small HTTP API that the grader hosts for exercises whose
//! submission calls another service (`[services.upstream]`). It answers from the spec's
//! routes, counts the requests each path receives, and can be switched to fail or to
//! answer slowly by `upstream` steps. The grader binds it where the submission's network
//! can reach it (and a forwarder gives it a name there); tests bind it on loopback.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::exercise::{MockBody, MockRoute, Segment, UpstreamMode, UpstreamService};
use crate::template::Context;

/// The most requests per path the mock remembers counts for (it counts paths, not bodies).
const MAX_PATHS: usize = 100_000;

#[derive(Debug, Default)]
struct State {
    mode: UpstreamMode,
    calls: HashMap<String, u64>,
}

/// A running mock. Dropping it stops it.
#[derive(Debug)]
pub struct Mock {
    addr: SocketAddr,
    routes: Arc<Vec<MockRoute>>,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    /// Starts the mock on `bind` (port 0 picks a free port); `seed` feeds the routes'
    /// generators.
    pub async fn start(
        bind: SocketAddr,
        service: &UpstreamService,
        seed: u64,
    ) -> std::io::Result<Mock> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let routes = Arc::new(service.routes.clone());
        let state: Arc<Mutex<State>> = Default::default();
        let (r, s) = (routes.clone(), state.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (r, s) = (r.clone(), s.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (r, s) = (r.clone(), s.clone());
                        async move { Ok::<_, Infallible>(answer(req, &r, &s, seed).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Mock {
            addr,
            routes,
            state,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches how the mock answers from now on.
    pub fn set_mode(&self, mode: UpstreamMode) {
        self.state.lock().expect("not poisoned").mode = mode;
    }

    /// How many requests `path` (without its query) has received.
    pub fn calls(&self, path: &str) -> u64 {
        let path = path.split('?').next().unwrap_or(path);
        let state = self.state.lock().expect("not poisoned");
        state.calls.get(path).copied().unwrap_or(0)
    }

    /// Requests received in all.
    pub fn total_calls(&self) -> u64 {
        self.state
            .lock()
            .expect("not poisoned")
            .calls
            .values()
            .sum()
    }

    /// The routes, for messages.
    pub fn routes(&self) -> &[MockRoute] {
        &self.routes
    }
}

async fn answer(
    req: Request<Incoming>,
    routes: &[MockRoute],
    state: &Mutex<State>,
    seed: u64,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let (mode, calls) = {
        let mut st = state.lock().expect("not poisoned");
        let n = if st.calls.len() < MAX_PATHS || st.calls.contains_key(&path) {
            let n = st.calls.entry(path.clone()).or_insert(0);
            *n += 1;
            *n
        } else {
            0
        };
        (st.mode, n)
    };
    match mode {
        UpstreamMode::Fail => {
            return json_response(503, &serde_json::json!({"error": "upstream unavailable"}));
        }
        UpstreamMode::Slow(d) => tokio::time::sleep(d).await,
        UpstreamMode::Ok => {}
    }
    let Some((route, params)) = routes
        .iter()
        .filter(|r| r.method == req.method())
        .find_map(|r| matches(r, &path).map(|p| (r, p)))
    else {
        return json_response(404, &serde_json::json!({"error": "no such route"}));
    };
    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    // Each answer draws from its own scope: the same call gets the same data.
    let mut ctx = Context::new(seed, &format!("upstream {path} {calls}"));
    for (name, value) in params {
        ctx.set(&name, Value::String(value));
    }
    ctx.set("calls", calls.into());
    match &route.body {
        MockBody::Json(tv) => match tv.render(&mut ctx) {
            Ok(v) => json_response(route.status, &v),
            Err(e) => json_response(500, &serde_json::json!({"error": e.0})),
        },
        MockBody::Text(t) => match t.render_string(&mut ctx) {
            Ok(text) => response(route.status, "text/plain; charset=utf-8", text.into()),
            Err(e) => json_response(500, &serde_json::json!({"error": e.0})),
        },
        MockBody::Empty => response(route.status, "text/plain", Bytes::new()),
    }
}

/// The route's parameters when `path` matches it.
fn matches(route: &MockRoute, path: &str) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.len() != route.segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (seg, part) in route.segments.iter().zip(parts) {
        match seg {
            Segment::Literal(l) if l == part => {}
            Segment::Literal(_) => return None,
            Segment::Param(_) if part.is_empty() => return None,
            Segment::Param(name) => params.push((name.clone(), percent_decode(part))),
        }
    }
    Some(params)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn json_response(status: u16, v: &Value) -> Response<Full<Bytes>> {
    response(status, "application/json", Bytes::from(v.to_string()))
}

fn response(status: u16, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
