//! Accepting TLS connections and serving HTTP/1.1 and HTTP/2 on them, with
//! bounded handshakes and header reads and a graceful drain.
//!
//! Built on tokio-rustls and hyper-util rather than a ready-made server so
//! that each connection takes the TLS configuration current at accept time
//! (certificate rotation, client CA) and so that shutdown can close idle
//! keep-alive connections while in-flight requests finish.

use crate::server::budget::{Budget, ConnectionShare};
use crate::server::metrics::Metrics;
use crate::server::routes::MAX_BODY_BYTES;
use crate::server::slots::{Limits, Slot, Slots};
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
    /// dropped; a connection that has begun no request this long after
    /// accept is closed (the TLS handshake included).
    pub header_read_timeout: Duration,
    /// After shutdown is triggered: how long in-flight requests may take
    /// before the remaining connections are abandoned.
    pub drain_timeout: Duration,
    /// Connections served at once; at the cap the connection doing the
    /// least is evicted ([`Slots`]).
    pub max_connections: usize,
    /// Connections one source address may hold at once.
    pub max_peer_connections: usize,
    /// A connection with no request in progress for this long (after its
    /// first request) is closed (HTTP/2 with a GOAWAY).
    pub idle_timeout: Duration,
    /// A connection older than this closes after its current request.
    pub max_connection_age: Duration,
    /// Bytes of request bodies held at once, across all connections
    /// ([`Budget`]); handed to the routes as each connection's
    /// [`ConnectionShare`] request extension.
    pub max_inflight_bytes: usize,
    /// Of which one source address may hold this much.
    pub max_peer_inflight_bytes: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: super::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            header_read_timeout: super::DEFAULT_HEADER_READ_TIMEOUT,
            drain_timeout: super::DEFAULT_SHUTDOWN_TIMEOUT,
            max_connections: super::DEFAULT_MAX_CONNECTIONS,
            max_peer_connections: super::DEFAULT_MAX_CONNECTIONS / 2,
            idle_timeout: super::DEFAULT_IDLE_TIMEOUT,
            max_connection_age: super::DEFAULT_MAX_CONNECTION_AGE,
            max_inflight_bytes: super::DEFAULT_MAX_INFLIGHT_BYTES,
            max_peer_inflight_bytes: super::DEFAULT_MAX_INFLIGHT_BYTES / 2,
        }
    }
}

/// Streams one HTTP/2 connection may have open at once.
pub const MAX_CONCURRENT_STREAMS: u32 = 8;

/// What hyper buffers per connection before the routes read it (outside
/// the body budget, so small): HTTP/1.1 read buffer (request headers and
/// body bytes in passing), HTTP/2 flow-control windows.
const HTTP1_MAX_BUFFER: usize = 64 * 1024;
const HTTP2_STREAM_WINDOW: u32 = 64 * 1024;
const HTTP2_CONNECTION_WINDOW: u32 = 128 * 1024;

/// How the TLS listener stops, in two steps: from `closing` on (the
/// shutdown delay), HTTP/1.1 answers carry `Connection: close`, so clients
/// that pool connections (the apiserver) move to other replicas; from
/// `stop` on, accepting stops and the open connections drain.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    pub closing: Closing,
    pub stop: CancellationToken,
}

/// A flag read after every HTTP/1.1 answer: one atomic load (a
/// `CancellationToken` takes a lock to be cloned, read and dropped).
#[derive(Clone, Debug, Default)]
pub struct Closing(Arc<AtomicBool>);

impl Closing {
    /// From now on, answers ask HTTP/1.1 clients to close.
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn started(&self) -> bool {
        self.0.load(Ordering::Acquire)
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

/// Serves `router` over TLS on `listener` until `shutdown.stop` is
/// cancelled, then drains (see [`accept_and_drain`]).
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
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let budget = Budget::new(settings.max_inflight_bytes, MAX_BODY_BYTES)
        .with_peer_limit(settings.max_peer_inflight_bytes);
    metrics.watch_budget(budget.clone());
    let stop = shutdown.stop.clone();
    let listening = Listening {
        name: "admission",
        tls: true,
        metrics,
    };
    accept_and_drain(listener, listening, &stop, &settings, {
        move |tcp, peer, slot| {
            let connection = TlsConnection {
                acceptor: TlsAcceptor::from(tls.current()),
                router: router.clone(),
                http: http.clone(),
                settings,
                shutdown: shutdown.clone(),
                share: budget.connection_from(peer.ip()),
            };
            connection.serve(tcp, peer, slot)
        }
    })
    .await
}

/// Serves `router` over plain HTTP/1.1 on `listener` (the admin listener)
/// with the bounds of `settings`, until `shutdown`; then drains. Bodies are
/// not budgeted: the admin routes read none.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let stop = shutdown.clone();
    let listening = Listening {
        name: "admin",
        tls: false,
        metrics,
    };
    accept_and_drain(listener, listening, &stop, &settings, {
        move |tcp, peer, slot| {
            let http = http.clone();
            let router = router.clone();
            let shutdown = shutdown.clone();
            async move {
                let io = TokioIo::new(tcp);
                let connection = Connection {
                    settings: &settings,
                    shutdown: &shutdown,
                    closing: None,
                    share: None,
                    peer,
                    slot,
                };
                serve_http(&http.http1, io, router, connection).await;
            }
        }
    })
    .await
}

/// The listener an accept loop serves, for its logs and metrics.
pub struct Listening {
    pub name: &'static str,
    /// Connections start in the TLS handshake.
    pub tls: bool,
    pub metrics: Arc<Metrics>,
}

/// The one accept loop: hands each connection accepted on `listener` to
/// `serve` on a task of its own, with its [`Slot`]. It never stops
/// accepting: at `settings.max_connections` (or a peer's
/// `max_peer_connections`) the connection doing the least is evicted, or
/// the new one closed when none may go ([`Slots`]). On `shutdown` it drains:
/// stops accepting (the listener is closed, so new connections are refused)
/// and waits up to `settings.drain_timeout` for the open connections, which finish
/// their in-flight requests and close (HTTP/2 with a GOAWAY) on the same
/// signal.
pub async fn accept_and_drain<S, F>(
    listener: TcpListener,
    listening: Listening,
    shutdown: &CancellationToken,
    settings: &ConnectionSettings,
    mut serve: S,
) -> Drain
where
    S: FnMut(TcpStream, SocketAddr, Slot) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let connections = TaskTracker::new();
    let slots = Slots::new(Limits {
        connections: settings.max_connections,
        per_peer: settings.max_peer_connections,
    });
    listening
        .metrics
        .watch_connections(listening.name, slots.clone());
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let admission = slots.admit(peer.ip(), listening.tls);
                if let Some(reason) = admission.eviction {
                    listening.metrics.connection_evicted(listening.name, reason);
                }
                // Turned away: dropping the socket closes it.
                let Some(slot) = admission.slot else { continue };
                let connection = serve(tcp, peer, slot);
                connections.spawn(connection);
            }
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(listener = listening.name, %error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
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
            .max_buf_size(HTTP1_MAX_BUFFER)
            .keep_alive(true);
        let mut http2 = auto::Builder::new(TokioExecutor::new()).http2_only();
        // Pings find HTTP/2 peers that vanished without closing; idle ones
        // are closed by `serve_http`. Few streams per connection: the
        // apiserver uses HTTP/1.1, and every stream may hold a body.
        http2
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .initial_stream_window_size(HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
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
    shutdown: Shutdown,
    share: ConnectionShare,
}

impl TlsConnection {
    async fn serve(self, tcp: TcpStream, peer: SocketAddr, slot: Slot) {
        // Reviews are small request/response exchanges: no Nagle delay.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let handshake = tokio::time::timeout(
            self.settings.tls_handshake_timeout,
            self.acceptor.accept(tcp),
        );
        let stream = tokio::select! {
            () = self.shutdown.stop.cancelled() => return,
            () = slot.tracked().evicted() => {
                tracing::debug!(%peer, "evicted during the TLS handshake");
                return;
            }
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
        slot.tracked().handshake_done();
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let http = if h2 {
            &self.http.http2
        } else {
            &self.http.http1
        };
        let io = TokioIo::new(stream);
        let connection = Connection {
            settings: &self.settings,
            shutdown: &self.shutdown.stop,
            closing: Some(&self.shutdown.closing),
            share: Some(self.share),
            peer,
            slot,
        };
        serve_http(http, io, self.router, connection).await;
    }
}

/// What [`serve_http`] needs of one connection besides its I/O.
struct Connection<'a> {
    settings: &'a ConnectionSettings,
    /// Finish the in-flight requests, then close.
    shutdown: &'a CancellationToken,
    /// Once started, HTTP/1.1 answers say `Connection: close`.
    closing: Option<&'a Closing>,
    /// Carried by every request as an extension.
    share: Option<ConnectionShare>,
    peer: SocketAddr,
    /// Its place among the listener's connections; released when it ends.
    slot: Slot,
}

/// Serves HTTP on one connection until the client closes it, it has had no
/// request in progress for the header read timeout (HTTP/2: GOAWAY), or
/// `shutdown` is cancelled (in-flight requests finish, then it closes).
async fn serve_http<I>(
    http: &auto::Builder<TokioExecutor>,
    io: TokioIo<I>,
    router: Router,
    connection: Connection<'_>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Connection {
        settings,
        shutdown,
        closing,
        share,
        peer,
        slot,
    } = connection;
    let tracked = slot.tracked().clone();
    let service = service_fn({
        let tracked = tracked.clone();
        let closing = closing.cloned();
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            let active = tracked.begin();
            let http1 = request.version() < hyper::Version::HTTP_2;
            if let Some(share) = &share {
                request.extensions_mut().insert(share.clone());
                request.extensions_mut().insert(tracked.clone());
            }
            let response = router.clone().oneshot(request);
            let closing = closing.clone().filter(|_| http1);
            async move {
                let mut response = response.await;
                drop(active);
                if let (Some(closing), Ok(response)) = (closing, &mut response)
                    && closing.started()
                {
                    response.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                }
                response
            }
        }
    });
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = tracked.evicted() => {
            tracing::debug!(%peer, "evicted to make room for a new connection");
            return;
        }
        () = tracked.idle_for(settings.header_read_timeout, settings.idle_timeout) => {
            tracing::debug!(%peer, "no request in progress for the idle timeout; closing");
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(settings.header_read_timeout, connection).await {
                Ok(result) => result,
                Err(_) => return,
            }
        }
        () = tokio::time::sleep_until((tracked.opened() + settings.max_connection_age).into()) => {
            tracing::debug!(%peer, "connection reached --max-connection-age; closing after its requests");
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(settings.idle_timeout, connection).await {
                Ok(result) => result,
                Err(_) => return,
            }
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
    drop(slot);
}
