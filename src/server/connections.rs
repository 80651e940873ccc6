//! Accepting TLS connections and serving HTTP/1.1 and HTTP/2 on them, with
//! bounded handshakes and header reads and a graceful drain.
//!
//! Built on tokio-rustls and hyper-util rather than a ready-made server so
//! that each connection takes the TLS configuration current at accept time
//! (certificate rotation, client CA) and so that shutdown can close idle
//! keep-alive connections while in-flight requests finish.

use crate::server::tls::TlsSource;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Per-connection bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// A client that has not finished the TLS handshake by then is dropped.
    pub tls_handshake_timeout: Duration,
    /// HTTP/1.1: a client that has not sent complete request headers by then
    /// is dropped. hyper also applies it to idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// After shutdown is triggered: how long in-flight requests may take
    /// before the remaining connections are abandoned.
    pub drain_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(20),
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
/// drains: stops accepting (the listener is closed, so new connections are
/// refused), lets in-flight requests finish, closes idle keep-alive
/// connections (HTTP/2 gets a GOAWAY) and returns once all are closed or
/// `settings.drain_timeout` has passed.
///
/// This is exactly the production connection handling: TCP_NODELAY, TLS from
/// `tls` (read per connection, so a reloaded certificate applies to the next
/// handshake), HTTP/1.1 keep-alive or HTTP/2 (by ALPN or preface), the
/// handshake and header-read bounds of `settings`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: TlsSource,
    router: Router,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
) -> Drain {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    http.http2().timer(TokioTimer::new());
    let http = Arc::new(http);
    let connections = TaskTracker::new();

    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = Connection {
            acceptor: TlsAcceptor::from(tls.current()),
            router: router.clone(),
            http: http.clone(),
            settings,
            shutdown: shutdown.clone(),
        };
        connections.spawn(connection.serve(tcp, peer));
    }
    drop(listener);
    connections.close();
    match tokio::time::timeout(settings.drain_timeout, connections.wait()).await {
        Ok(()) => Drain::Complete,
        Err(_) => Drain::TimedOut {
            open_connections: connections.len(),
        },
    }
}

struct Connection {
    acceptor: TlsAcceptor,
    router: Router,
    http: Arc<auto::Builder<TokioExecutor>>,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
}

impl Connection {
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
        let service = TowerToHyperService::new(self.router);
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = self.shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}
