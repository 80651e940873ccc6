//! The bounds that keep one client from taking admission down,
//! against the real binary over TLS on loopback: the in-flight body budget
//! under the HTTP/2 many-streams and the HTTP/1.1 many-connections attacks
//! (memory read from `/proc/<pid>/status`), memory given back afterwards, and
//! idle HTTP/2 connections closed. Generous bounds, no timings asserted.

mod common;

use axum::body::Bytes;
use common::*;
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MIB: u64 = 1024 * 1024;
/// The budget the attacked servers run with.
const BUDGET: u64 = 16 * MIB;
/// What the attack's bodies declare: just under the 7 MiB body limit.
const DECLARED: u64 = 7 * MIB - 1;
/// What each attacking request sends before it stalls.
const SENT: usize = 1024 * 1024;
/// Memory beyond the budget the server may use under attack: its own idle
/// size, TLS and HTTP buffers of the attacking connections, allocator slack.
const ALLOWANCE: u64 = 48 * MIB;

fn attacked_server() -> (CertDir, Server) {
    let certs = CertDir::new();
    let server = Server::start(
        &certs.cert(),
        &certs.key(),
        &["--max-inflight-bytes", "16Mi", "--request-timeout", "3s"],
    );
    (certs, server)
}

/// A body that declares more than it sends: `SENT` bytes in 64 KiB chunks,
/// then nothing, forever.
struct Stalling {
    left: usize,
}

impl Body for Stalling {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Pending;
        }
        let chunk = self.left.min(64 * 1024);
        self.left -= chunk;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; chunk])))))
    }
}

/// While the attack holds the server: an ordinary review on a fresh
/// connection is answered, and the server's memory stays within the budget
/// plus the allowance. Returns the peak RSS seen.
async fn check_under_attack(server: &Server, certs: &CertDir) -> u64 {
    let mut peak = 0;
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        peak = peak.max(rss(server.pid()));
        let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
            .await
            .unwrap();
        let uid = format!("ordinary-{round}");
        let reply = client.post("/validate", create_review(&uid)).await.unwrap();
        assert_review_answer(&reply, &uid, false);
        peak = peak.max(rss(server.pid()));
    }
    assert!(
        peak < BUDGET + ALLOWANCE,
        "RSS {} MiB under attack, over the budget ({} MiB) + {} MiB",
        peak / MIB,
        BUDGET / MIB,
        ALLOWANCE / MIB
    );
    peak
}

/// After the attack: RSS comes back to within 24 MiB of the idle figure.
fn check_settles(server: &Server, idle: u64) {
    let settled = poll(
        || Some(rss(server.pid())).filter(|&now| now < idle + 24 * MIB),
        || {
            format!(
                "RSS {} MiB did not come back to within 24 MiB of idle ({} MiB)",
                rss(server.pid()) / MIB,
                idle / MIB
            )
        },
    );
    println!(
        "idle {:.1} MiB, settled {:.1} MiB",
        idle as f64 / MIB as f64,
        settled as f64 / MIB as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_many_stalled_streams_are_refused_within_the_budget_and_memory_returns() {
    install_crypto_provider();
    let (certs, server) = attacked_server();
    let idle = rss(server.pid());
    let stream = connect(server.addr, h2_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake::<_, _, Stalling>(
        TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(connection);
    let mut attack = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let mut sender = sender.clone();
        attack.spawn(async move {
            let request = hyper::Request::post("/validate")
                .header("host", "localhost")
                .header("content-length", DECLARED.to_string())
                .body(Stalling { left: SENT })
                .unwrap();
            // Streams beyond the server's limit may be refused: that is fine.
            let response = sender.send_request(request).await.ok()?;
            let status = response.status();
            let _ = response.into_body().collect().await;
            Some(status)
        });
    }
    let peak = check_under_attack(&server, &certs).await;
    let mut statuses = Vec::new();
    while let Some(status) = attack.join_next().await {
        statuses.extend(status.unwrap());
    }
    assert!(!statuses.is_empty(), "no attacking stream was answered");
    for status in &statuses {
        assert!(
            [StatusCode::TOO_MANY_REQUESTS, StatusCode::REQUEST_TIMEOUT].contains(status),
            "{statuses:?}"
        );
    }
    drop(sender);
    driver.abort();
    println!(
        "HTTP/2: peak {:.1} MiB; {} streams answered",
        peak as f64 / MIB as f64,
        statuses.len()
    );
    check_settles(&server, idle);
    let metrics = server.metrics();
    assert!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="429"}"#
        ) > 0.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_many_stalled_connections_are_refused_within_the_budget_and_memory_returns() {
    install_crypto_provider();
    let (certs, server) = attacked_server();
    let idle = rss(server.pid());
    let mut attack = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let config = http11_config(&certs.ca.cert_pem);
        let addr = server.addr;
        attack.spawn(async move {
            let mut stream = connect(addr, config).await.ok()?;
            let head = format!(
                "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: {DECLARED}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.ok()?;
            // The server may refuse before all is sent: stop writing then.
            let _ = stream.write_all(&vec![b' '; SENT]).await;
            let _ = stream.flush().await;
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(
                PATIENCE,
                tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
            )
            .await;
            let answer = String::from_utf8_lossy(&answer).into_owned();
            answer
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse::<u16>().ok())
        });
    }
    let peak = check_under_attack(&server, &certs).await;
    let mut statuses = Vec::new();
    while let Some(status) = attack.join_next().await {
        statuses.extend(status.unwrap());
    }
    assert!(!statuses.is_empty(), "no attacking connection was answered");
    for status in &statuses {
        assert!([429, 408].contains(status), "{statuses:?}");
    }
    println!(
        "HTTP/1.1: peak {:.1} MiB; {} connections answered",
        peak as f64 / MIB as f64,
        statuses.len()
    );
    check_settles(&server, idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &["--idle-timeout", "1s"]);
    let stream = connect(server.addr, h2_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(post_request("/validate", create_review("before-idle")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The client keeps answering the server's pings; only the server's idle
    // rule can end the connection.
    let ended = tokio::time::timeout(PATIENCE, driver).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the idle HTTP/2 connection was not closed: {ended:?}"
    );
}
