//! The HTTPS admission server and the admin (probes, metrics) server.
//!
//! Lifecycle of `serve`: the admin listener comes up first (`/readyz` 503),
//! the serving certificate is loaded (waiting for a valid pair if needed),
//! the TLS listener is bound, `/readyz` turns 200. On SIGTERM/SIGINT `/readyz`
//! turns 503 at once, serving goes on for `--shutdown-delay` (so the endpoint
//! leaves the Service first), then connections drain within
//! `--shutdown-timeout` and the process exits 0. A second signal exits at once.

pub mod admin;
pub mod budget;
pub mod connections;
pub mod logging;
pub mod metrics;
pub mod plain;
pub mod routes;
pub mod shutdown;
pub mod slots;
pub mod tls;

pub use connections::{Closing, ConnectionSettings, Drain, Shutdown, serve_plain, serve_tls};
pub use routes::{AdmissionState, admission_router};
pub use tls::{TlsFiles, TlsSource, server_config_from_files};

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Default of `--shutdown-delay`.
pub const DEFAULT_SHUTDOWN_DELAY: Duration = Duration::from_secs(5);
/// Default of `--shutdown-timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);
/// Default of `--request-timeout`: reading the body and deciding. Below
/// the `timeoutSeconds: 5` the manifests register (and the apiserver's 10s
/// default), so a 408 reaches the apiserver before it gives up on its own;
/// docs/serving.md, Timeouts, has the whole budget.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Default of `--body-read-timeout`: the apiserver sends a body at once.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Default of `--tls-handshake-timeout`: loopback and in-cluster handshakes
/// take milliseconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default of `--header-read-timeout`: from accept to a first request's
/// complete headers (the TLS handshake included), and each request's headers.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Default of `--idle-timeout`: a pooled connection of the apiserver is
/// kept this long between reviews.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `--max-connection-age`.
pub const DEFAULT_MAX_CONNECTION_AGE: Duration = Duration::from_secs(5 * 60);
/// Default of `--cert-reload-interval`.
pub const DEFAULT_CERT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Default of `--max-connections`: far more than the apiserver opens (a few
/// per replica), few enough that the connections' own buffers (at most about
/// 150 KiB each, 35 KiB idle) stay a fraction of the Deployment's memory.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default of `--max-inflight-bytes`: room for six 7 MiB bodies; with the
/// process and its connections it fits the Deployment's 128 MiB limit with
/// room to spare.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 48 * 1024 * 1024;

/// Default of `--worker-threads`: one thread runs every connection (TLS,
/// HTTP, reviews of bodies up to 64 KiB); larger reviews go to the blocking
/// pool. Measured on 2 cores at saturation (docs/performance.md): a second
/// worker adds more cross-thread wake-ups than parallelism at the sizes
/// reviews have, 28 against 22 µs of server CPU per request.
pub const DEFAULT_WORKER_THREADS: usize = 1;

/// Most `--worker-threads`: far beyond what helps, short of what a
/// mistyped count would cost in threads and stacks.
pub const MAX_WORKER_THREADS: usize = 256;

/// The async runtime `serve` runs on (the benchmark's floor server uses the
/// same): multi-threaded with `worker_threads` workers, plus tokio's
/// blocking pool for large reviews.
pub fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .enable_all()
        .build()
}

/// What `serve` needs, built by the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address of the HTTPS admission listener.
    pub listen: SocketAddr,
    /// Serving certificate and key, and the optional client CA bundle.
    pub tls: TlsFiles,
    /// Address of the plain-HTTP admin listener.
    pub admin_listen: SocketAddr,
    /// After a termination signal: how long to keep serving while not ready.
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take to finish once accepting stops.
    pub shutdown_timeout: Duration,
    /// Bound on receiving and answering one request.
    pub request_timeout: Duration,
    /// Bound on receiving one request's body.
    pub body_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one source address may hold at once.
    pub max_peer_connections: usize,
    /// How long a connection may have no request in progress.
    pub idle_timeout: Duration,
    /// How long a connection may live.
    pub max_connection_age: Duration,
    /// Bytes of request bodies held at once.
    pub max_inflight_bytes: usize,
    /// Bytes of request bodies one source address may hold at once.
    pub max_peer_inflight_bytes: usize,
    /// Threads that run connections and small reviews.
    pub worker_threads: usize,
    /// How often the certificate, key and client CA files are checked for changes.
    pub cert_reload_interval: Duration,
    pub log_format: logging::LogFormat,
    /// A `RUST_LOG`-style filter; `None` reads `RUST_LOG`, else `info`.
    pub log_level: Option<String>,
    /// `--api-access`: decide with the caches of watches (`None`: off).
    pub cluster: Option<crate::cluster::Config>,
}

/// Serves until a termination signal; the exit code says how serving ended.
pub fn run(config: Config, policy: crate::policy::Policy) -> ExitCode {
    if let Err(error) = logging::init(config.log_format, config.log_level.as_deref()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    if let Some(warning) = policy.release_warning() {
        tracing::warn!("{warning}");
    }
    tracing::info!(policy = %policy.describe(), "effective policy");
    let runtime = match runtime(config.worker_threads) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(config, policy));
    runtime.shutdown_timeout(Duration::from_secs(1));
    logging::flush();
    code
}

/// Bind, serve, wait for a signal, drain.
async fn serve(config: Config, policy: crate::policy::Policy) -> ExitCode {
    let mut signals = match shutdown::Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!(%error, "cannot listen for termination signals");
            return ExitCode::FAILURE;
        }
    };
    let Ok(watched) = start_watches(config.cluster.clone()).await else {
        return ExitCode::from(2);
    };
    let mut metrics = metrics::Metrics::new();
    if let Some(watched) = &watched {
        watched.register(metrics.registry());
    }
    let metrics = Arc::new(metrics);
    let health = Arc::new(admin::Health::default());
    let settings = connection_settings(&config);

    let Some(admin_listener) = bind(
        config.admin_listen,
        "admin",
        "serving probes and metrics over HTTP",
    ) else {
        return ExitCode::FAILURE;
    };
    let admin_stop = CancellationToken::new();
    let admin = tokio::spawn(serve_plain(
        admin_listener,
        admin::admin_router(health.clone(), metrics.clone()),
        ConnectionSettings {
            max_connections: admin::MAX_CONNECTIONS,
            max_peer_connections: admin::MAX_PEER_CONNECTIONS,
            ..settings
        },
        admin_stop.clone(),
        metrics.clone(),
    ));

    let mut reloader = tls::Reloader::new(config.tls, config.cert_reload_interval, metrics.clone());
    let tls = tokio::select! {
        tls = reloader.first_pair() => tls,
        signal = signals.next() => {
            tracing::info!(signal, "stopping before serving: no valid certificate was loaded");
            return ExitCode::SUCCESS;
        }
    };
    tokio::spawn(reloader.run());

    let Some(listener) = bind(
        config.listen,
        "admission",
        "serving admission webhooks over HTTPS",
    ) else {
        return ExitCode::FAILURE;
    };
    let router = admission_router(
        AdmissionState::new(policy, metrics.clone(), config.request_timeout)
            .with_body_read_timeout(config.body_read_timeout)
            .with_cluster(watched.clone()),
    );
    let shutdown = Shutdown::default();
    let server = tokio::spawn(serve_tls(
        listener,
        tls,
        router,
        settings,
        shutdown.clone(),
        metrics,
    ));
    ready_after_first_sync(watched, health.clone());

    wait_for_shutdown(signals, &health, &shutdown.closing, config.shutdown_delay).await;
    tracing::info!("shutting down: no new connections; draining");
    shutdown.stop.cancel();
    let drained = server.await;
    admin_stop.cancel();
    let _ = admin.await;
    exit_code(drained)
}

/// The watches of `--api-access` (`Ok(None)`: off); `Err` after logging why
/// they cannot start.
async fn start_watches(
    cluster: Option<crate::cluster::Config>,
) -> Result<Option<Arc<crate::cluster::Watched>>, ()> {
    let Some(cluster) = cluster else {
        return Ok(None);
    };
    match crate::cluster::Watched::start(cluster).await {
        Ok(watched) => Ok(Some(watched)),
        Err(error) => {
            tracing::error!(%error, "cannot start the API access (--api-access)");
            Err(())
        }
    }
}

/// The admission listener's connection limits and deadlines.
fn connection_settings(config: &Config) -> ConnectionSettings {
    ConnectionSettings {
        tls_handshake_timeout: config.tls_handshake_timeout,
        header_read_timeout: config.header_read_timeout,
        drain_timeout: config.shutdown_timeout,
        max_connections: config.max_connections,
        max_peer_connections: config.max_peer_connections,
        idle_timeout: config.idle_timeout,
        max_connection_age: config.max_connection_age,
        max_inflight_bytes: config.max_inflight_bytes,
        max_peer_inflight_bytes: config.max_peer_inflight_bytes,
    }
}

/// Ready at once without watches; with them, answers from what is cached
/// meanwhile and turns ready (maybe degraded) after the first sync or its
/// bound. A signal first leaves it not ready.
fn ready_after_first_sync(
    watched: Option<Arc<crate::cluster::Watched>>,
    health: Arc<admin::Health>,
) {
    match watched {
        Some(watched) => {
            tokio::spawn(async move {
                watched.first_sync().await;
                health.set_ready();
            });
        }
        None => health.set_ready(),
    }
}

/// Binds `addr` and logs the bound address (tests and operators read it
/// when the port is 0); `None` (after logging why) when it cannot.
fn bind(
    addr: SocketAddr,
    listener_name: &'static str,
    serving: &'static str,
) -> Option<TcpListener> {
    let listener = match listen(addr) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listener = listener_name, %addr, %error, "cannot bind the {listener_name} listener");
            return None;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(listener = listener_name, %addr, "{serving}"),
        Err(error) => tracing::warn!(listener = listener_name, %error, "{serving}"),
    }
    Some(listener)
}

/// Connections the kernel queues before they are accepted (tokio's default
/// is 128): SYNs beyond it are dropped and retried by the client after
/// 1, 3, 7 s, longer than the apiserver waits. Capped by the kernel's
/// `net.core.somaxconn` (4096 on current kernels).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// tokio's own `bind`).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Waits for the first signal, turns not-ready and keeps serving for
/// `delay` (telling HTTP/1.1 clients to close: `closing`); from then on a
/// second signal exits at once.
async fn wait_for_shutdown(
    mut signals: shutdown::Signals,
    health: &admin::Health,
    closing: &Closing,
    delay: Duration,
) {
    let signal = signals.next().await;
    health.set_shutting_down();
    closing.start();
    tracing::info!(
        signal,
        delay = %humantime::format_duration(delay),
        "shutting down: not ready; still serving during the shutdown delay"
    );
    tokio::spawn(async move {
        let signal = signals.next().await;
        tracing::warn!(signal, "second signal: exiting now");
        logging::flush();
        std::process::exit(1);
    });
    tokio::time::sleep(delay).await;
}

/// 0 when every in-flight request was answered, 1 otherwise.
fn exit_code(drained: Result<Drain, tokio::task::JoinError>) -> ExitCode {
    match drained {
        Ok(Drain::Complete) => {
            tracing::info!("shutdown complete");
            ExitCode::SUCCESS
        }
        Ok(Drain::TimedOut { open_connections }) => {
            tracing::warn!(
                open_connections,
                "shutdown timeout passed with requests still in flight"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            tracing::error!(%error, "admission server task failed");
            ExitCode::FAILURE
        }
    }
}
