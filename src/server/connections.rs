//! Accepting TLS connections and serving HTTP/1.1 and HTTP/2 on them, with
//! bounded handshakes and header reads and a graceful drain.
//!
//! Built on tokio-rustls and hyper-util rather than a ready-made server so
//! that each connection takes the TLS configuration current at accept time
//! (certificate rotation, client CA) and so that shutdown can close idle
//! keep-alive connections while in-flight requests finish.

use crate::server::budget::{Budget, ConnectionShare};
use crate::server::routes::MAX_BODY_BYTES;
use crate::server::tls::TlsSource;
use axum::Router;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
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
    /// dropped; a connection (HTTP/1.1 or HTTP/2) with no request in
    /// progress for this long is closed (HTTP/2 with a GOAWAY).
    pub header_read_timeout: Duration,
    /// After shutdown is triggered: how long in-flight requests may take
    /// before the remaining connections are abandoned.
    pub drain_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Bytes of request bodies held at once, across all connections
    /// ([`Budget`]); handed to the routes as each connection's
    /// [`ConnectionShare`] request extension.
    pub max_inflight_bytes: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: super::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            header_read_timeout: super::DEFAULT_HEADER_READ_TIMEOUT,
            drain_timeout: super::DEFAULT_SHUTDOWN_TIMEOUT,
            max_connections: super::DEFAULT_MAX_CONNECTIONS,
            max_inflight_bytes: super::DEFAULT_MAX_INFLIGHT_BYTES,
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
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let budget = Budget::new(settings.max_inflight_bytes, MAX_BODY_BYTES);
    let stop = shutdown.stop.clone();
    accept_and_drain(listener, "admission", &stop, &settings, {
        move |tcp, peer| {
            let connection = TlsConnection {
                acceptor: TlsAcceptor::from(tls.current()),
                router: router.clone(),
                http: http.clone(),
                settings,
                shutdown: shutdown.clone(),
                share: budget.connection(),
            };
            connection.serve(tcp, peer)
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
) -> Drain {
    let http = Arc::new(HttpBuilders::new(&settings));
    let stop = shutdown.clone();
    accept_and_drain(listener, "admin", &stop, &settings, {
        move |tcp, peer| {
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
                };
                serve_http(&http.http1, io, router, connection).await;
            }
        }
    })
    .await
}

/// The one accept loop: hands each connection accepted on `listener` to
/// `serve` on a task of its own, at most `settings.max_connections` at once
/// (the next is accepted when one closes), until `shutdown` is cancelled,
/// then drains:
/// stops accepting (the listener is closed, so new connections are refused)
/// and waits up to `settings.drain_timeout` for the open connections, which finish
/// their in-flight requests and close (HTTP/2 with a GOAWAY) on the same
/// signal.
pub async fn accept_and_drain<S, F>(
    listener: TcpListener,
    listener_name: &'static str,
    shutdown: &CancellationToken,
    settings: &ConnectionSettings,
    mut serve: S,
) -> Drain
where
    S: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    loop {
        let slot = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let connection = serve(tcp, peer);
                connections.spawn(async move {
                    connection.await;
                    drop(slot);
                });
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
            () = self.shutdown.stop.cancelled() => return,
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
        let connection = Connection {
            settings: &self.settings,
            shutdown: &self.shutdown.stop,
            closing: Some(&self.shutdown.closing),
            share: Some(self.share),
            peer,
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
    } = connection;
    let activity = Arc::new(Activity::new());
    let service = service_fn({
        let activity = activity.clone();
        let closing = closing.cloned();
        move |mut request: hyper::Request<hyper::body::Incoming>| {
            let active = activity.begin();
            let http1 = request.version() < hyper::Version::HTTP_2;
            if let Some(share) = &share {
                request.extensions_mut().insert(share.clone());
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
        () = activity.idle_for(settings.header_read_timeout) => {
            tracing::debug!(%peer, "no request in progress for the header read timeout; closing");
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(settings.header_read_timeout, connection).await {
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
}

/// Requests in progress on one connection, and since when it has had none.
struct Activity {
    opened: Instant,
    in_progress: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_progress: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> Active {
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        Active(self.clone())
    }

    /// Returns once no request has been in progress for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let wake = if self.in_progress.load(Ordering::Acquire) == 0 {
                let since =
                    self.opened + Duration::from_millis(self.idle_since.load(Ordering::Acquire));
                let until = since + timeout;
                if Instant::now() >= until && self.in_progress.load(Ordering::Acquire) == 0 {
                    return;
                }
                until
            } else {
                Instant::now() + timeout
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

/// One request in progress; its end is the connection's latest activity.
struct Active(Arc<Activity>);

impl Drop for Active {
    fn drop(&mut self) {
        let since_open = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since.store(since_open, Ordering::Release);
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}
