//! A small in-process HTTP server (a toy items API) and a `Target` for it, so the
//! runner is tested against a real server without Docker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use harness::{Stopped, Target, TargetError};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

pub struct State {
    born: std::time::Instant,
    /// What `POST /echo-json` answers: a status and a body.
    echo: Mutex<(u16, String)>,
    items: Mutex<Vec<Value>>,
    pub restarts: AtomicUsize,
    pub crashes: AtomicUsize,
    /// A SIGTERM does nothing: every restart ends in a kill after the grace period.
    pub ignores_sigterm: std::sync::atomic::AtomicBool,
    /// `db` steps: how often the database was stopped and started.
    pub db_stops: AtomicUsize,
    pub db_starts: AtomicUsize,
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

/// Starts the toy server on an ephemeral loopback port.
pub async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State {
        born: std::time::Instant::now(),
        echo: Mutex::new((200, "{}".into())),
        items: Mutex::default(),
        restarts: AtomicUsize::default(),
        crashes: AtomicUsize::default(),
        ignores_sigterm: Default::default(),
        db_stops: AtomicUsize::default(),
        db_starts: AtomicUsize::default(),
    });
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(st.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, state }
}

fn json_response(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(
    st: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let cookie = req
        .headers()
        .get("cookie")
        .map(|v| v.to_str().unwrap_or("").to_string());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(resp) = session_routes(method.as_str(), path.as_str(), cookie) {
        return Ok(resp);
    }
    if let Some(resp) = page_routes(method.as_str(), path.as_str(), &query) {
        return Ok(resp);
    }
    let resp = match (method.as_str(), path.as_str()) {
        ("GET", "/health") => json_response(200, json!({"status": "ok"})),
        ("GET", "/text") => Response::builder()
            .status(200)
            .header("Content-Type", "text/plain")
            .header("X-Trace", "abc-123")
            .body(Full::new(Bytes::from("hello world")))
            .unwrap(),
        ("GET", "/stally") => {
            // The first 100 ms of every second, the server stalls.
            let ms = st.born.elapsed().as_millis() % 1000;
            if ms < 100 {
                tokio::time::sleep(Duration::from_millis((100 - ms) as u64)).await;
            }
            json_response(200, json!({}))
        }
        ("GET", "/slow") => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_response(200, json!({}))
        }
        ("GET", "/echo-query") => json_response(200, json!({ "query": query })),
        ("POST", "/echo-json") => {
            let (status, body) = st.echo.lock().unwrap().clone();
            Response::builder()
                .status(status)
                .header("Content-Type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        }
        ("POST", "/echo") => json_response(
            200,
            json!({ "body": String::from_utf8_lossy(&body), "content_type": content_type }),
        ),
        ("POST", "/items") => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(obj)) if obj.get("name").is_some_and(Value::is_string) => {
                let mut items = st.items.lock().unwrap();
                let id = items.len() as i64 + 1;
                let item = json!({ "id": id, "name": obj["name"], "tags": ["a", "b"] });
                items.push(item.clone());
                let mut r = json_response(201, item);
                r.headers_mut()
                    .insert("Location", format!("/items/{id}").parse().unwrap());
                r
            }
            _ => json_response(400, json!({"error": "name is required"})),
        },
        ("GET", "/items") => json_response(200, Value::Array(st.items.lock().unwrap().clone())),
        ("GET", p) if p.starts_with("/items/") => {
            let id: i64 = p["/items/".len()..].parse().unwrap_or(-1);
            let items = st.items.lock().unwrap();
            match items.iter().find(|i| i["id"] == json!(id)) {
                Some(item) => json_response(200, item.clone()),
                None => json_response(404, json!({"error": "not found"})),
            }
        }
        _ => json_response(404, json!({"error": "no route"})),
    };
    Ok(resp)
}

impl State {
    #[allow(dead_code)] // used by some of the test binaries that share this module
    pub fn item_count(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    #[allow(dead_code)] // used by some of the test binaries that share this module
    pub fn set_echo(&self, status: u16, body: String) {
        *self.echo.lock().unwrap() = (status, body);
    }
}

/// The toy server as a grading target: restarts and crashes only count.
pub struct Local {
    pub server: Server,
    pub database_url: Option<String>,
}

impl Target for Local {
    fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }
    fn database_url(&self) -> Option<String> {
        self.database_url.clone()
    }
    async fn restart(&self, grace: std::time::Duration) -> Result<Stopped, TargetError> {
        self.server.state.restarts.fetch_add(1, Ordering::SeqCst);
        let killed = self.server.state.ignores_sigterm.load(Ordering::SeqCst);
        let after = if killed {
            grace
        } else {
            std::time::Duration::from_millis(30)
        };
        Ok(Stopped { after, killed })
    }
    async fn crash(&self) -> Result<(), TargetError> {
        self.server.state.crashes.fetch_add(1, Ordering::SeqCst);
        Err(TargetError::Submission(
            "the server exited with code 137".into(),
        ))
    }
    async fn wait_ready(&self) -> Result<(), TargetError> {
        Ok(())
    }
    async fn database_stop(&self) -> Result<(), TargetError> {
        self.server.state.db_stops.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn database_start(&self) -> Result<(), TargetError> {
        self.server.state.db_starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A target at a loopback port, with no lifecycle of its own.
#[allow(dead_code)] // used by some of the test binaries that share this module
pub struct Port(pub u16);

impl Port {
    /// A loopback port nothing listens on: bound, read, closed.
    #[allow(dead_code)]
    pub fn unused() -> Port {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Port(listener.local_addr().unwrap().port())
    }
}

impl Target for Port {
    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.0)
    }
    fn database_url(&self) -> Option<String> {
        None
    }
    async fn restart(&self, _grace: std::time::Duration) -> Result<Stopped, TargetError> {
        Ok(Stopped {
            after: std::time::Duration::ZERO,
            killed: false,
        })
    }
    async fn crash(&self) -> Result<(), TargetError> {
        Ok(())
    }
    async fn wait_ready(&self) -> Result<(), TargetError> {
        Ok(())
    }
}

/// Cookies, redirects by header and a compressed body.
fn session_routes(
    method: &str,
    path: &str,
    cookie: Option<String>,
) -> Option<Response<Full<Bytes>>> {
    Some(match (method, path) {
        ("GET", "/gzip") => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(br#"{"items":[1,2,3]}"#).unwrap();
            Response::builder()
                .status(200)
                .header("Content-Type", "application/json")
                .header("Content-Encoding", "gzip")
                .body(Full::new(Bytes::from(e.finish().unwrap())))
                .unwrap()
        }
        ("GET", "/whoami") => json_response(200, json!({ "cookie": cookie })),
        ("POST", "/logout") => Response::builder()
            .status(204)
            .header("Set-Cookie", "session=; Max-Age=0; Path=/")
            .header(
                "Set-Cookie",
                "theme=dark; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            )
            .body(Full::new(Bytes::new()))
            .unwrap(),
        ("POST", "/login") => Response::builder()
            .status(201)
            .header("Content-Type", "application/json")
            .header("Set-Cookie", "theme=dark; Path=/")
            .header("Set-Cookie", "session=s3cr3t-42; HttpOnly; Path=/")
            .header("Location", "/sessions/42")
            .body(Full::new(Bytes::from(
                r#"{"expires":"2026-12-01T10:00:00Z"}"#,
            )))
            .unwrap(),
        _ => return None,
    })
}

/// Pages of three items: `/pages?n=N` names the next in its body, `/linked?n=N` in a
/// `Link` header; `/endless` always has a next page.
fn page_routes(method: &str, path: &str, query: &str) -> Option<Response<Full<Bytes>>> {
    let n: u64 = query
        .strip_prefix("n=")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let items: Vec<u64> = (1..=3).map(|i| (n - 1) * 3 + i).collect();
    Some(match (method, path) {
        ("GET", "/pages") => {
            let next = (n < 3).then(|| format!("/pages?n={}", n + 1));
            json_response(200, json!({ "items": items, "next": next }))
        }
        ("GET", "/linked") => {
            let mut b = Response::builder()
                .status(200)
                .header("Content-Type", "application/json");
            if n < 3 {
                b = b.header(
                    "Link",
                    format!(
                        "</linked?n=1>; rel=\"first\", <linked?n={}>; rel=\"next\"",
                        n + 1
                    ),
                );
            }
            b.body(Full::new(Bytes::from(
                json!({ "items": items }).to_string(),
            )))
            .unwrap()
        }
        ("GET", "/endless") => json_response(200, json!({ "items": [], "next": "/endless" })),
        _ => return None,
    })
}
