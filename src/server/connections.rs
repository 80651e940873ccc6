//! Accepting TLS connections and serving HTTP/1.1 and HTTP/2 on them, with
//! bounded handshakes and header reads and a graceful drain.
//!
//! Built on tokio-rustls and hyper-util rather than a ready-made server so
//! that each connection takes the TLS configuration current at accept time
//! (certificate rotation, client CA) and so that shutdown can close idle
//! keep-alive connections while in-flight requests finish.

use crate::server::tls::TlsSource;
use axum::Router;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Per-connection bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// A client that has not finished the TLS handshake by then is dropped.
    pub tls_handshake_timeout: Duration,
    /// A client that has not sent complete request headers by then is
    /// dropped; so is a new connection (HTTP/1.1 or HTTP/2) without a first
    /// request. hyper also applies it to idle HTTP/1.1 keep-alive connections.
    pub header_read_timeout: Duration,
    /// After shutdown is triggered: how long in-flight requests may take
    /// before the remaining connections are abandoned.
    pub drain_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: super::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            header_read_timeout: super::DEFAULT_HEADER_READ_TIMEOUT,
            drain_timeout: super::DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// Every connection closed after its in-flight requests were answered.
    Complete,
    /// `drain_timeout` passed with this many connections still open.
    TimedOut { open_connections: usize },
}

/// Serves `router` over TLS on `listener` until `shutdown` is cancelled, then
/// drains (see [`accept_and_drain`]).
///
/// This is exactly the production connection handling: TCP_NODELAY, TLS from
/// `tls` (read per connection, so a reloaded certificate applies to the next
/// handshake), HTTP/1.1 keep-alive or HTTP/2 (by ALPN), the
/// handshake and header-read bounds of `settings`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: TlsSource,
    router: Router,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let stop = shutdown.clone();
    accept_and_drain(listener, "admission", &stop, settings.drain_timeout, {
        move |tcp, peer| {
            let connection = TlsConnection {
                acceptor: TlsAcceptor::from(tls.current()),
                router: router.clone(),
                http: http.clone(),
                settings,
                shutdown: shutdown.clone(),
            };
            connection.serve(tcp, peer)
        }
    })
    .await
}

/// Serves `router` over plain HTTP/1.1 on `listener` (the admin listener)
/// with the header-read bound of `settings`, until `shutdown`; then drains.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let stop = shutdown.clone();
    accept_and_drain(listener, "admin", &stop, settings.drain_timeout, {
        move |tcp, peer| {
            let http = http.clone();
            let router = router.clone();
            let shutdown = shutdown.clone();
            async move {
                let io = TokioIo::new(tcp);
                serve_http(&http.http1, io, router, &settings, &shutdown, peer).await;
            }
        }
    })
    .await
}

/// The one accept loop: hands each connection accepted on `listener` to
/// `serve` on a task of its own until `shutdown` is cancelled, then drains:
/// stops accepting (the listener is closed, so new connections are refused)
/// and waits up to `drain_timeout` for the open connections, which finish
/// their in-flight requests and close (HTTP/2 with a GOAWAY) on the same
/// signal.
pub async fn accept_and_drain<S, F>(
    listener: TcpListener,
    listener_name: &'static str,
    shutdown: &CancellationToken,
    drain_timeout: Duration,
    mut serve: S,
) -> Drain
where
    S: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                connections.spawn(serve(tcp, peer));
            }
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(listener = listener_name, %error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    connections.close();
    match tokio::time::timeout(drain_timeout, connections.wait()).await {
        Ok(()) => Drain::Complete,
        Err(_) => Drain::TimedOut {
            open_connections: connections.len(),
        },
    }
}

/// One hyper builder per protocol, chosen by the ALPN result: no sniffing
/// of the first bytes (which has no timeout of its own).
struct HttpBuilders {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl HttpBuilders {
    fn new(settings: &ConnectionSettings) -> Self {
        let mut http1 = auto::Builder::new(TokioExecutor::new()).http1_only();
        http1
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .keep_alive(true);
        let mut http2 = auto::Builder::new(TokioExecutor::new()).http2_only();
        // Pings find HTTP/2 peers that vanished without closing (HTTP/1.1
        // idle connections end with the header read timeout instead).
        http2
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        Self { http1, http2 }
    }
}

struct TlsConnection {
    acceptor: TlsAcceptor,
    router: Router,
    http: Arc<HttpBuilders>,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
}

impl TlsConnection {
    async fn serve(self, tcp: TcpStream, peer: SocketAddr) {
        // Reviews are small request/response exchanges: no Nagle delay.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let handshake = tokio::time::timeout(
            self.settings.tls_handshake_timeout,
            self.acceptor.accept(tcp),
        );
        let stream = tokio::select! {
            () = self.shutdown.cancelled() => return,
            handshake = handshake => match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
        };
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let http = if h2 {
            &self.http.http2
        } else {
            &self.http.http1
        };
        let io = TokioIo::new(stream);
        serve_http(http, io, self.router, &self.settings, &self.shutdown, peer).await;
    }
}

/// Serves HTTP on one connection until the client closes it or `shutdown`
/// is cancelled (then in-flight requests finish and the connection closes).
async fn serve_http<I>(
    http: &auto::Builder<TokioExecutor>,
    io: TokioIo<I>,
    router: Router,
    settings: &ConnectionSettings,
    shutdown: &CancellationToken,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // hyper bounds HTTP/1.1 header reads itself; an HTTP/2 client that
    // completes the handshake and never sends a request is dropped here.
    let served_a_request = Arc::new(AtomicBool::new(false));
    let service = service_fn({
        let served_a_request = served_a_request.clone();
        move |request| {
            served_a_request.store(true, Ordering::Relaxed);
            router.clone().oneshot(request)
        }
    });
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let first_request_deadline = async {
        tokio::time::sleep(settings.header_read_timeout).await;
        if served_a_request.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = first_request_deadline => {
            tracing::debug!(%peer, "no request within the header read timeout");
            return;
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}
