//! A panic in a handler is answered with 500, counted, and the connection and
//! the server survive. The panic is injected through the router's reviewer,
//! so this runs the library's production router and connection handling
//! (`serve_tls`) in-process over real TLS on loopback.

mod common;

use common::*;
use kueue_ray_webhook::admission::{Answer, Webhook};
use kueue_ray_webhook::policy::Policy;
use kueue_ray_webhook::server::metrics::Metrics;
use kueue_ray_webhook::server::{
    AdmissionState, ConnectionSettings, Drain, Shutdown, TlsFiles, TlsSource, admission_router,
    serve_tls, server_config_from_files,
};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The production router and connection handling (`serve_tls`) in-process
/// over real TLS on loopback, deciding with `reviewer`.
struct InProcess {
    certs: CertDir,
    metrics: Arc<Metrics>,
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Drain>,
}

impl InProcess {
    async fn start(
        request_timeout: Duration,
        reviewer: fn(Webhook, &[u8], &Policy) -> Answer,
    ) -> Self {
        install_crypto_provider();
        let certs = CertDir::new();
        let config = server_config_from_files(&TlsFiles {
            cert: certs.cert(),
            key: certs.key(),
            client_ca: None,
        })
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let state = AdmissionState::new(Policy::default(), metrics.clone(), request_timeout)
            .with_reviewer(reviewer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_tls(
            listener,
            TlsSource::fixed(config),
            admission_router(state),
            ConnectionSettings::default(),
            Shutdown {
                stop: shutdown.clone(),
                ..Shutdown::default()
            },
            metrics.clone(),
        ));
        Self {
            certs,
            metrics,
            addr,
            shutdown,
            server,
        }
    }
}

/// `admission::review`, except that a body containing `PANIC` panics.
fn review_or_panic(webhook: Webhook, body: &[u8], policy: &Policy) -> Answer {
    if body.windows(5).any(|window| window == b"PANIC") {
        panic!("injected panic");
    }
    kueue_ray_webhook::admission::review(webhook, body, policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_answered_500_and_counted_and_serving_goes_on() {
    let InProcess {
        certs,
        metrics,
        addr,
        shutdown,
        server,
    } = InProcess::start(Duration::from_secs(8), review_or_panic).await;

    for config in [
        http11_config(&certs.ca.cert_pem),
        h2_config(&certs.ca.cert_pem),
    ] {
        let mut client = Client::connect(addr, config).await.unwrap();
        let reply = client.post("/validate", "PANIC").await.unwrap();
        assert_eq!(reply.status, 500);
        assert!(reply.text().contains("internal error"), "{}", reply.text());
        // The same connection goes on serving.
        let reply = client
            .post("/validate", create_review("after-panic"))
            .await
            .unwrap();
        assert_review_answer(&reply, "after-panic", false);
    }
    let text = metrics.encode();
    assert_eq!(
        metric(&text, r#"kueue_ray_webhook_http_errors_total{code="500"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "kueue_ray_webhook_requests_in_flight"),
        0.0,
        "{text}"
    );

    shutdown.cancel();
    assert_eq!(server.await.unwrap(), Drain::Complete);
}

/// `admission::review`, except that a body containing `SLOW` takes 3 s.
fn review_slowly(webhook: Webhook, body: &[u8], policy: &Policy) -> Answer {
    if body.windows(4).any(|window| window == b"SLOW") {
        std::thread::sleep(Duration::from_secs(3));
    }
    kueue_ray_webhook::admission::review(webhook, body, policy)
}

/// A large body's decision runs off the async workers and within the
/// request timeout: a decision that outlives it is answered 408 at the
/// deadline, and the server goes on answering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_outliving_the_request_timeout_is_answered_408_and_serving_goes_on() {
    let InProcess {
        certs,
        addr,
        shutdown,
        server,
        ..
    } = InProcess::start(Duration::from_millis(500), review_slowly).await;

    // Over 64 KiB: decided on the blocking pool.
    let mut slow_body = b"SLOW".to_vec();
    slow_body.resize(100 * 1024, b' ');
    let mut slow = Client::connect(addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let slow = tokio::spawn(async move { slow.post("/validate", slow_body).await.unwrap() });
    let mut client = Client::connect(addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let reply = client
        .post("/validate", create_review("beside-slow"))
        .await
        .unwrap();
    assert_review_answer(&reply, "beside-slow", false);
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 408, "{}", reply.text());
    assert!(reply.text().contains("request timeout"), "{}", reply.text());

    shutdown.cancel();
    assert_eq!(server.await.unwrap(), Drain::Complete);
}
