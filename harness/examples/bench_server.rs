//! A trivial HTTP server on loopback for the load benchmark (bench/load.sh).
//! Usage: bench_server PORT [STALL_MS]: with STALL_MS, the first STALL_MS of every
//! second are a stall: no response leaves the server until it ends.

#![allow(clippy::unwrap_used)] // a benchmark fixture: failing loudly is right

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(18080);
    let stall_ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let born = Instant::now();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                if stall_ms > 0 {
                    let ms = (born.elapsed().as_millis() % 1000) as u64;
                    if ms < stall_ms {
                        tokio::time::sleep(Duration::from_millis(stall_ms - ms)).await;
                    }
                }
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
