//! `serve`: the mutating and validating webhooks over HTTPS.

use super::policy_args::PolicyArgs;
use crate::cluster;
use crate::server;
use crate::server::logging::LogFormat;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `serve`.
#[derive(Clone, Debug, Args)]
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
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_SHUTDOWN_DELAY", default_value_t = server::DEFAULT_SHUTDOWN_DELAY.into(), value_parser = duration)]
    pub shutdown_delay: humantime::Duration,
    /// How long in-flight requests may take to finish once accepting stops.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_SHUTDOWN_TIMEOUT", default_value_t = server::DEFAULT_SHUTDOWN_TIMEOUT.into(), value_parser = duration)]
    pub shutdown_timeout: humantime::Duration,
    /// Bound on receiving the body and answering one request, from its
    /// headers on; keep it below the registrations' timeoutSeconds (5s in
    /// manifests/), so that a 408 reaches the apiserver.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_REQUEST_TIMEOUT", default_value_t = server::DEFAULT_REQUEST_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub request_timeout: humantime::Duration,
    /// A request whose body has not all arrived this long after its headers
    /// gets 408 (within --request-timeout).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_BODY_READ_TIMEOUT", default_value_t = server::DEFAULT_BODY_READ_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub body_read_timeout: humantime::Duration,
    /// A client that has not completed the TLS handshake by then is dropped.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_TLS_HANDSHAKE_TIMEOUT", default_value_t = server::DEFAULT_TLS_HANDSHAKE_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub tls_handshake_timeout: humantime::Duration,
    /// A connection that has not sent a first request's headers this long
    /// after accept (TLS handshake included) is dropped; so is one slower
    /// than this with any request's headers.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_HEADER_READ_TIMEOUT", default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub header_read_timeout: humantime::Duration,
    /// Connections served at once; at the cap the connection doing the
    /// least (handshaking, then idle, then stalled) is closed to make room.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = nonzero_count)]
    pub max_connections: usize,
    /// Connections one source address may hold at once (default: half of
    /// --max-connections); past it, its own connections make room.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_PEER_CONNECTIONS", value_parser = nonzero_count)]
    pub max_peer_connections: Option<usize>,
    /// An HTTP/1.1 or HTTP/2 connection with no request in progress for
    /// this long is closed (after its first request; before it,
    /// --header-read-timeout from accept applies).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_IDLE_TIMEOUT", default_value_t = server::DEFAULT_IDLE_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub idle_timeout: humantime::Duration,
    /// A connection older than this is closed after its current request
    /// (HTTP/1.1 `Connection: close`, HTTP/2 GOAWAY): none lives forever.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_CONNECTION_AGE", default_value_t = server::DEFAULT_MAX_CONNECTION_AGE.into(), value_parser = nonzero_duration)]
    pub max_connection_age: humantime::Duration,
    /// Request body bytes held at once across all connections (a count or a
    /// size such as `64Mi`); one connection may hold a quarter of it (at
    /// least one 7 MiB body). Beyond it requests get 429 with Retry-After.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_INFLIGHT_BYTES", default_value_t = server::DEFAULT_MAX_INFLIGHT_BYTES, value_parser = byte_size)]
    pub max_inflight_bytes: usize,
    /// Request body bytes one source address may hold at once (default:
    /// half of --max-inflight-bytes).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_PEER_INFLIGHT_BYTES", value_parser = byte_size)]
    pub max_peer_inflight_bytes: Option<usize>,
    /// Threads that serve connections and decide reviews up to 64 KiB
    /// (larger ones run on a pool of their own, one per core at most).
    /// One is the fastest at the rates an API server sends (at most
    /// 256).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_WORKER_THREADS", default_value_t = server::DEFAULT_WORKER_THREADS, value_parser = worker_count)]
    pub worker_threads: usize,
    /// How often the certificate, key and client CA files are checked for changes.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_CERT_RELOAD_INTERVAL", default_value_t = server::DEFAULT_CERT_RELOAD_INTERVAL.into(), value_parser = nonzero_duration)]
    pub cert_reload_interval: humantime::Duration,
    /// Log output format.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormatArg,
    /// Log filter, e.g. `info` or `kueue_ray_webhook=debug` (default: RUST_LOG, else info).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Decide with what the cluster holds, from watches (LocalQueues,
    /// managed namespaces, owners, RayCronJobs); needs the in-cluster
    /// ServiceAccount or --kubeconfig, and the ClusterRole of
    /// manifests/rbac.yaml. Off: decide from the request alone.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_API_ACCESS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub api_access: bool,
    /// Kubeconfig for --api-access (default: the in-cluster configuration);
    /// giving it turns --api-access on.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespaces Kueue manages (its managedJobsNamespaceSelector, in the
    /// syntax of `kubectl -l`); --exclude-namespace adds a `notin` on the
    /// name. Read from the namespaces' labels with --api-access.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MANAGED_NAMESPACE_SELECTOR", default_value = cluster::selector::KUEUE_DEFAULT, value_parser = selector)]
    pub managed_namespace_selector: cluster::Selector,
    /// With --api-access: a queue label naming no LocalQueue in the
    /// namespace is denied (without it: a warning).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_REQUIRE_LOCAL_QUEUE")]
    pub require_local_queue: bool,
    /// How long /readyz waits for the first sync of every watch; after it,
    /// ready in a degraded state (logged, and the metric cluster_degraded).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_SYNC_TIMEOUT", default_value_t = cluster::DEFAULT_SYNC_BOUND.into(), value_parser = duration)]
    pub sync_timeout: humantime::Duration,
    /// The most a read of a RayCluster's owner missing from the cache may
    /// take; past it the owner reference is trusted (with a warning).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_OWNER_READ_TIMEOUT", default_value_t = cluster::DEFAULT_OWNER_READ_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub owner_read_timeout: humantime::Duration,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ServeArgs {
    pub(super) fn run(self) -> ExitCode {
        let api_access = self.api_access || self.kubeconfig.is_some();
        let mut policy = match self.policy.serve_policy(api_access) {
            Ok(policy) => policy,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
        policy.require_local_queue = self.require_local_queue;
        let cluster = api_access.then(|| cluster::Config {
            kubeconfig: self.kubeconfig.clone(),
            selector: self
                .managed_namespace_selector
                .clone()
                .excluding(&policy.exclude_namespaces),
            local_queue_version: cluster::local_queue_version(policy.kueue_version),
            sync_bound: self.sync_timeout.into(),
            owner_read_timeout: self.owner_read_timeout.into(),
        });
        let config = crate::server::Config {
            listen: self.listen,
            tls: crate::server::TlsFiles {
                cert: self.tls_cert_file,
                key: self.tls_key_file,
                client_ca: self.client_ca_file,
            },
            admin_listen: self.admin_listen,
            shutdown_delay: self.shutdown_delay.into(),
            shutdown_timeout: self.shutdown_timeout.into(),
            request_timeout: self.request_timeout.into(),
            body_read_timeout: self.body_read_timeout.into(),
            tls_handshake_timeout: self.tls_handshake_timeout.into(),
            header_read_timeout: self.header_read_timeout.into(),
            cert_reload_interval: self.cert_reload_interval.into(),
            max_connections: self.max_connections,
            max_peer_connections: self
                .max_peer_connections
                .unwrap_or(self.max_connections.div_ceil(2)),
            idle_timeout: self.idle_timeout.into(),
            max_connection_age: self.max_connection_age.into(),
            max_inflight_bytes: self.max_inflight_bytes,
            max_peer_inflight_bytes: self
                .max_peer_inflight_bytes
                .unwrap_or(self.max_inflight_bytes / 2),
            worker_threads: self.worker_threads,
            log_format: self.log_format.into(),
            log_level: self.log_level,
            cluster,
        };
        crate::server::run(config, policy)
    }
}

/// `--log-format`: the command line's names for [`LogFormat`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, message, fields), for clusters.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// A duration such as `500ms`, `10s` or `2m`; `0s` allowed.
fn duration(text: &str) -> Result<humantime::Duration, String> {
    text.parse::<humantime::Duration>()
        .map_err(|error| error.to_string())
}

/// A duration that must be longer than zero (a zero timeout would refuse
/// every request; a zero interval would poll without pause).
fn nonzero_duration(text: &str) -> Result<humantime::Duration, String> {
    let duration = duration(text)?;
    if duration.is_zero() {
        return Err("must be longer than 0s".to_owned());
    }
    Ok(duration)
}

/// `--managed-namespace-selector`.
fn selector(text: &str) -> Result<cluster::Selector, String> {
    cluster::Selector::parse(text)
}

/// A count above zero.
fn nonzero_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

/// `--worker-threads`: 1 to [`server::MAX_WORKER_THREADS`].
fn worker_count(text: &str) -> Result<usize, String> {
    match nonzero_count(text)? {
        count if count > server::MAX_WORKER_THREADS => {
            Err(format!("must be at most {}", server::MAX_WORKER_THREADS))
        }
        count => Ok(count),
    }
}

/// A byte count above zero: `1048576`, or with a binary suffix `Ki`, `Mi`,
/// `Gi` (as in Kubernetes quantities).
fn byte_size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let unit: usize = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(format!("unknown unit {unit:?} (use Ki, Mi or Gi)")),
    };
    let count: usize = digits
        .parse()
        .map_err(|_| "expected a byte count such as 67108864 or 64Mi".to_owned())?;
    match count.checked_mul(unit) {
        Some(0) => Err("must be at least 1 byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err("too large".to_owned()),
    }
}
