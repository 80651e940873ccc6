//! The HTTPS admission server and the admin (probes, metrics) server.
//!
//! Lifecycle of `serve`: the admin listener comes up first (`/readyz` 503),
//! the serving certificate is loaded (waiting for a valid pair if needed),
//! the TLS listener is bound, `/readyz` turns 200. On SIGTERM/SIGINT `/readyz`
//! turns 503 at once, serving goes on for `--shutdown-delay` (so the endpoint
//! leaves the Service first), then connections drain within
//! `--shutdown-timeout` and the process exits 0. A second signal exits at once.

pub mod admin;
pub mod connections;
pub mod logging;
pub mod metrics;
pub mod routes;
pub mod shutdown;
pub mod tls;

pub use connections::{ConnectionSettings, Drain, serve_tls};
pub use routes::{AdmissionState, admission_router};
pub use tls::{TlsFiles, TlsSource, server_config_from_files};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Flags of `serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address of the HTTPS admission listener.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_LISTEN", default_value = "0.0.0.0:9443")]
    pub listen: SocketAddr,
    /// Serving certificate (PEM; may hold the chain, leaf first). Reloaded when it changes.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_TLS_CERT_FILE",
        default_value = "certs/tls.crt"
    )]
    pub tls_cert_file: PathBuf,
    /// Private key of the serving certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_TLS_KEY_FILE",
        default_value = "certs/tls.key"
    )]
    pub tls_key_file: PathBuf,
    /// Require client certificates signed by a CA in this PEM bundle. Reloaded when it changes.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_CLIENT_CA_FILE")]
    pub client_ca_file: Option<PathBuf>,
    /// Address of the plain-HTTP admin listener (/livez, /readyz, /metrics).
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_ADMIN_LISTEN",
        default_value = "0.0.0.0:8080"
    )]
    pub admin_listen: SocketAddr,
    /// After a termination signal: how long to keep serving while not ready,
    /// so the endpoint is removed from the Service first.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_SHUTDOWN_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take to finish once accepting stops.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Bound on receiving and answering one request (below the 10s
    /// `timeoutSeconds` default of webhook registrations).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_REQUEST_TIMEOUT", default_value = "8s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// A client that has not completed the TLS handshake by then is dropped.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_TLS_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub tls_handshake_timeout: Duration,
    /// A client that has not sent its request headers by then is dropped
    /// (also how long an idle HTTP/1.1 keep-alive connection is kept).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// How often the certificate, key and client CA files are checked for changes.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_CERT_RELOAD_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub cert_reload_interval: Duration,
    /// Log output format.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: logging::LogFormat,
    /// Log filter, e.g. `info` or `kueue_ray_webhook=debug` (default: RUST_LOG, else info).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_LOG_LEVEL")]
    pub log_level: Option<String>,
    #[command(flatten)]
    pub policy: crate::cli::PolicyArgs,
}

pub fn run(args: ServeArgs) -> ExitCode {
    if let Err(error) = logging::init(args.log_format, args.log_level.as_deref()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    if args.cert_reload_interval.is_zero() {
        eprintln!("error: --cert-reload-interval must be longer than 0s");
        return ExitCode::from(2);
    }
    let policy = match args.policy.policy() {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(warning) = policy.release_warning() {
        tracing::warn!("{warning}");
    }
    tracing::info!(policy = %policy.describe(), "effective policy");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(args, policy));
    runtime.shutdown_timeout(Duration::from_secs(1));
    logging::flush();
    code
}

async fn serve(args: ServeArgs, policy: crate::policy::Policy) -> ExitCode {
    let mut signals = match shutdown::Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!(%error, "cannot listen for termination signals");
            return ExitCode::FAILURE;
        }
    };
    let metrics = Arc::new(metrics::Metrics::new());
    let health = Arc::new(admin::Health::default());

    let admin_listener = match TcpListener::bind(args.admin_listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(addr = %args.admin_listen, %error, "cannot bind the admin listener");
            return ExitCode::FAILURE;
        }
    };
    log_bound(
        &admin_listener,
        "admin",
        "serving probes and metrics over HTTP",
    );
    let admin_stop = CancellationToken::new();
    let admin = tokio::spawn(admin::serve(
        admin_listener,
        admin::admin_router(health.clone(), metrics.clone()),
        args.header_read_timeout,
        admin_stop.clone(),
    ));

    let files = TlsFiles {
        cert: args.tls_cert_file.clone(),
        key: args.tls_key_file.clone(),
        client_ca: args.client_ca_file.clone(),
    };
    let mut reloader = tls::Reloader::new(files, args.cert_reload_interval, metrics.clone());
    let tls = tokio::select! {
        tls = reloader.first_pair() => tls,
        signal = signals.next() => {
            tracing::info!(signal, "stopping before serving: no valid certificate was loaded");
            return ExitCode::SUCCESS;
        }
    };
    tokio::spawn(reloader.run());

    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(addr = %args.listen, %error, "cannot bind the admission listener");
            return ExitCode::FAILURE;
        }
    };
    log_bound(
        &listener,
        "admission",
        "serving admission webhooks over HTTPS",
    );
    let router = admission_router(AdmissionState::new(
        policy,
        metrics.clone(),
        args.request_timeout,
    ))
    .layer(axum::middleware::from_fn_with_state(
        health.clone(),
        close_while_shutting_down,
    ));
    let settings = ConnectionSettings {
        tls_handshake_timeout: args.tls_handshake_timeout,
        header_read_timeout: args.header_read_timeout,
        drain_timeout: args.shutdown_timeout,
    };
    let stop_serving = CancellationToken::new();
    let server = tokio::spawn(serve_tls(
        listener,
        tls,
        router,
        settings,
        stop_serving.clone(),
    ));
    health.set_ready();

    let signal = signals.next().await;
    health.set_shutting_down();
    tracing::info!(
        signal,
        delay = %humantime::format_duration(args.shutdown_delay),
        "shutting down: not ready; still serving during the shutdown delay"
    );
    tokio::spawn(async move {
        let signal = signals.next().await;
        tracing::warn!(signal, "second signal: exiting now");
        logging::flush();
        std::process::exit(1);
    });
    tokio::time::sleep(args.shutdown_delay).await;
    tracing::info!("shutting down: no new connections; draining");
    stop_serving.cancel();
    let drained = server.await;
    admin_stop.cancel();
    let _ = admin.await;
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

/// During the shutdown delay, HTTP/1.1 answers carry `Connection: close`, so
/// clients that pool connections (the apiserver) move to other replicas
/// before this one stops accepting.
async fn close_while_shutting_down(
    axum::extract::State(health): axum::extract::State<Arc<admin::Health>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let http1 = request.version() < axum::http::Version::HTTP_2;
    let mut response = next.run(request).await;
    if http1 && health.is_shutting_down() {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Logs the bound address (tests and operators read it when the port is 0).
fn log_bound(listener: &TcpListener, listener_name: &'static str, message: &'static str) {
    match listener.local_addr() {
        Ok(addr) => tracing::info!(listener = listener_name, %addr, "{message}"),
        Err(error) => tracing::warn!(listener = listener_name, %error, "{message}"),
    }
}
