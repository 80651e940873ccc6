//! Command line: `serve`, `check`, `review`, `certs`, with one shared group of
//! policy arguments so that every command decides with the same rules.

use crate::policy::{Policy, RayJobWorkload, RayServiceWorkload};
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    Check(crate::offline::CheckArgs),
    /// Answer one AdmissionReview request from a file, as the server would.
    Review(crate::offline::ReviewArgs),
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
        })
    }
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(args) => args.run(),
            Command::Certs(args) => crate::certs::run(args.config()),
            Command::Check(args) => crate::offline::run_check(args),
            Command::Review(args) => crate::offline::run_review(args),
        }
    }
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
    pub log_format: crate::server::logging::LogFormat,
    /// Log filter, e.g. `info` or `kueue_ray_webhook=debug` (default: RUST_LOG, else info).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_LOG_LEVEL")]
    pub log_level: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ServeArgs {
    fn run(self) -> ExitCode {
        if self.cert_reload_interval.is_zero() {
            eprintln!("error: --cert-reload-interval must be longer than 0s");
            return ExitCode::from(2);
        }
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
            shutdown_delay: self.shutdown_delay,
            shutdown_timeout: self.shutdown_timeout,
            request_timeout: self.request_timeout,
            tls_handshake_timeout: self.tls_handshake_timeout,
            header_read_timeout: self.header_read_timeout,
            cert_reload_interval: self.cert_reload_interval,
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
