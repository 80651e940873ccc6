//! Command line: `serve`, `check`, `review`, `certs`, with one shared group of
//! policy arguments so that every command decides with the same rules.

use crate::admission::Webhook;
use crate::offline::{CheckConfig, OutputFormat, ReviewConfig};
use crate::policy::{Policy, RayJobWorkload, RayServiceWorkload};
use crate::server;
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "kueue-ray-webhook", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the mutating and validating webhooks over HTTPS.
    Serve(ServeArgs),
    /// Generate a development CA and serving certificate.
    Certs(CertsArgs),
    /// Admit manifests offline, as a CREATE would be (a CI dry run).
    Check(CheckArgs),
    /// Answer one AdmissionReview request from a file, as the server would.
    Review(ReviewArgs),
}

/// Flags of `check`.
#[derive(Clone, Debug, Args)]
pub struct CheckArgs {
    /// Manifest files, directories (searched recursively for *.yaml, *.yml,
    /// *.json) or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Namespace of objects whose manifest names none.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Write the admitted objects, mutated, as YAML: one file per object in
    /// this directory, or a stream on standard output for `-` (the report
    /// then goes to standard error).
    #[arg(long, value_name = "DIR|-")]
    pub patched: Option<PathBuf>,
    /// Largest manifest file (or standard input) read, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::offline::load::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Fail (exit 1) on a Ray object that Kueue would not manage (no queue
    /// label, --manage-jobs-without-queue-name off).
    #[arg(long)]
    pub require_managed: bool,
    /// Pass when no ray.io object is found (by default that is exit 2).
    #[arg(long)]
    pub allow_empty: bool,
    /// A file or directory of Kueue LocalQueue manifests (repeat for more):
    /// a queue label must name a LocalQueue of its namespace (LocalQueues
    /// among the checked documents count too), and a namespace's LocalQueue
    /// `default` labels unlabelled objects.
    #[arg(long, value_name = "PATH")]
    pub local_queues: Vec<PathBuf>,
    /// With --local-queues: a queue label naming no LocalQueue is a denial, not a warning.
    #[arg(long, requires = "local_queues")]
    pub require_local_queue: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl CheckArgs {
    fn config(self) -> Result<CheckConfig, String> {
        let mut policy = self.policy.policy()?;
        policy.require_local_queue = self.require_local_queue;
        Ok(CheckConfig {
            policy,
            paths: self.paths,
            namespace: self.namespace,
            output: self.output,
            patched: self.patched,
            max_file_size: self.max_file_size,
            require_managed: self.require_managed,
            allow_empty: self.allow_empty,
            local_queues: self.local_queues,
        })
    }
}

/// Flags of `review`.
#[derive(Clone, Debug, Args)]
pub struct ReviewArgs {
    /// An AdmissionReview request (JSON), or `-` for standard input.
    #[arg(default_value = crate::offline::load::STDIN, value_name = "FILE|-")]
    pub file: PathBuf,
    /// The webhook that receives the request.
    #[arg(long, value_enum, default_value_t)]
    pub webhook: Webhook,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ReviewArgs {
    fn config(self) -> Result<ReviewConfig, String> {
        Ok(ReviewConfig {
            policy: self.policy.policy()?,
            file: self.file,
            webhook: self.webhook,
        })
    }
}

/// The policy flags, shared by every command that decides.
#[derive(Clone, Debug, Args)]
pub struct PolicyArgs {
    /// Most worker groups a RayCluster, RayService or RayJob may have (a Kueue
    /// Workload holds 8 PodSets: the head and 7 groups).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS", default_value_t = 7)]
    pub max_worker_groups: usize,
    /// Queue label given to top-level objects that arrive without one.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DEFAULT_QUEUE")]
    pub default_queue: Option<String>,
    /// Manage every object, with or without a queue label.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MANAGE_JOBS_WITHOUT_QUEUE_NAME")]
    pub manage_jobs_without_queue_name: bool,
    /// Which object Kueue admits for a RayService.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_RAYSERVICE_WORKLOAD",
        value_enum,
        default_value_t
    )]
    pub rayservice_workload: RayServiceWorkload,
    /// Which object Kueue admits for a RayJob: the RayJob itself (Kueue's
    /// `ray.io/rayjob` integration on) or the RayCluster KubeRay creates for it.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_RAYJOB_WORKLOAD",
        value_enum,
        default_value_t
    )]
    pub rayjob_workload: RayJobWorkload,
}

impl PolicyArgs {
    /// The policy these flags describe; an invalid `--default-queue` is a usage error.
    pub fn policy(&self) -> Result<Policy, String> {
        if let Some(queue) = &self.default_queue {
            crate::policy::names::dns1123_subdomain(queue)
                .map_err(|why| format!("--default-queue {queue:?}: {why}"))?;
        }
        Ok(Policy {
            max_worker_groups: self.max_worker_groups,
            default_queue: self.default_queue.clone().filter(|q| !q.is_empty()),
            manage_jobs_without_queue_name: self.manage_jobs_without_queue_name,
            rayservice_workload: self.rayservice_workload,
            rayjob_workload: self.rayjob_workload,
            // Known only from manifests (`check --local-queues`), not a server flag.
            local_queues: None,
            require_local_queue: false,
        })
    }
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(args) => args.run(),
            Command::Certs(args) => crate::certs::run(args.config()),
            Command::Check(args) => args
                .config()
                .map_or_else(usage_error, crate::offline::run_check),
            Command::Review(args) => args
                .config()
                .map_or_else(usage_error, crate::offline::run_review),
        }
    }
}

/// A flag value that parses but cannot be used: exit status 2, as clap's own errors.
fn usage_error(message: String) -> ExitCode {
    eprintln!("kueue-ray-webhook: {message}");
    ExitCode::from(2)
}

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
    /// Bound on receiving and answering one request (below the 10s
    /// `timeoutSeconds` default of webhook registrations).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_REQUEST_TIMEOUT", default_value_t = server::DEFAULT_REQUEST_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub request_timeout: humantime::Duration,
    /// A client that has not completed the TLS handshake by then is dropped.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_TLS_HANDSHAKE_TIMEOUT", default_value_t = server::DEFAULT_TLS_HANDSHAKE_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub tls_handshake_timeout: humantime::Duration,
    /// A client that has not sent its request headers by then is dropped
    /// (also how long an idle HTTP/1.1 keep-alive connection is kept).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_HEADER_READ_TIMEOUT", default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.into(), value_parser = nonzero_duration)]
    pub header_read_timeout: humantime::Duration,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = nonzero_count)]
    pub max_connections: usize,
    /// Request body bytes held at once across all connections (a count or a
    /// size such as `64Mi`); one connection may hold a quarter of it (at
    /// least one 7 MiB body). Beyond it requests get 429 with Retry-After.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_INFLIGHT_BYTES", default_value_t = server::DEFAULT_MAX_INFLIGHT_BYTES, value_parser = byte_size)]
    pub max_inflight_bytes: usize,
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
    pub log_format: crate::server::logging::LogFormat,
    /// Log filter, e.g. `info` or `kueue_ray_webhook=debug` (default: RUST_LOG, else info).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_LOG_LEVEL")]
    pub log_level: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ServeArgs {
    fn run(self) -> ExitCode {
        let policy = match self.policy.policy() {
            Ok(policy) => policy,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
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
            tls_handshake_timeout: self.tls_handshake_timeout.into(),
            header_read_timeout: self.header_read_timeout.into(),
            cert_reload_interval: self.cert_reload_interval.into(),
            max_connections: self.max_connections,
            max_inflight_bytes: self.max_inflight_bytes,
            log_format: self.log_format,
            log_level: self.log_level,
        };
        crate::server::run(config, policy)
    }
}

/// Flags of `certs`.
#[derive(Clone, Debug, Args)]
pub struct CertsArgs {
    /// Directory that receives `ca.crt`, `tls.crt` and `tls.key` (created if missing).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_OUT", default_value = "certs")]
    pub out: PathBuf,
    /// DNS name of the serving certificate; repeat for several (replaces the defaults).
    #[arg(
        long = "dns",
        env = "KUEUE_RAY_WEBHOOK_DNS",
        value_delimiter = ',',
        default_values_t = crate::certs::default_dns_names()
    )]
    pub dns: Vec<String>,
    /// IP address of the serving certificate; repeat for several (replaces the default).
    #[arg(
        long = "ip",
        env = "KUEUE_RAY_WEBHOOK_IP",
        value_delimiter = ',',
        default_values_t = [IpAddr::from([127, 0, 0, 1])]
    )]
    pub ip: Vec<IpAddr>,
    /// Validity of the CA and the serving certificate, in days.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DAYS", default_value_t = 365)]
    pub days: u32,
}

impl CertsArgs {
    fn config(self) -> crate::certs::Config {
        crate::certs::Config {
            out: self.out,
            dns: self.dns,
            ip: self.ip,
            days: self.days,
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

/// A count above zero.
fn nonzero_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
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
