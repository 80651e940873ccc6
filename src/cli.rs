//! Command line: `serve`, `check`, `review`, `certs`, with one shared group of
//! policy arguments so that every command decides with the same rules.

use crate::admission::Webhook;
use crate::offline::{CheckConfig, OutputFormat, ReviewConfig};
use crate::policy::{
    KUBE_SYSTEM, Policy, Provenance, RayJobWorkload, RayServiceWorkload, Release, Source,
};
use crate::server;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "kueue-ray-webhook", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at startup: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
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

/// The policy flags, shared by every command that decides, with where each
/// value came from (read off clap's matches while parsing).
#[derive(Clone, Debug)]
pub struct PolicyArgs {
    flags: PolicyFlags,
    sources: Sources,
}

/// The knobs without a clap default: an absent one takes the release
/// profile's value (`--kueue-version`), else the plain default.
#[derive(Clone, Debug, Args)]
struct PolicyFlags {
    /// The Kueue release the cluster runs, e.g. v0.19 or 0.18.2: sets the
    /// defaults of --max-worker-groups, --rayservice-workload and
    /// --elastic-jobs to that release's (explicit flags still win). Without
    /// it, the defaults match Kueue v0.14 - v0.16.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_KUEUE_VERSION", value_name = "RELEASE", value_parser = Release::parse)]
    kueue_version: Option<Release>,
    /// Most worker groups a RayCluster, RayService or RayJob may have: a Kueue
    /// Workload's PodSets minus the head's [default: 7, or the release's]
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS", value_name = "N")]
    max_worker_groups: Option<usize>,
    /// Queue label given to top-level objects that arrive without one.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DEFAULT_QUEUE")]
    default_queue: Option<String>,
    /// Manage every object, with or without a queue label.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MANAGE_JOBS_WITHOUT_QUEUE_NAME")]
    manage_jobs_without_queue_name: bool,
    /// Which object Kueue admits for a RayService [default: raycluster, or the release's]
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_RAYSERVICE_WORKLOAD", value_enum)]
    rayservice_workload: Option<RayServiceWorkload>,
    /// Which object Kueue admits for a RayJob: the RayJob itself (Kueue's
    /// `ray.io/rayjob` integration on) or the RayCluster KubeRay creates for it.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_RAYJOB_WORKLOAD",
        value_enum,
        default_value_t
    )]
    rayjob_workload: RayJobWorkload,
    /// Kueue's ElasticJobsViaWorkloadSlices: objects annotated
    /// kueue.x-k8s.io/elastic-job: "true" may autoscale (--elastic-jobs=false
    /// turns it off) [default: false, or the release's]
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_ELASTIC_JOBS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    elastic_jobs: Option<bool>,
    /// A namespace where --default-queue and --manage-jobs-without-queue-name
    /// do not apply (repeatable; the environment variable is comma-separated;
    /// --exclude-namespace= excludes none) [default: kube-system and
    /// $POD_NAMESPACE, the webhook's own]
    #[arg(
        long = "exclude-namespace",
        env = "KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE",
        value_name = "NAMESPACE",
        value_delimiter = ','
    )]
    exclude_namespaces: Option<Vec<String>>,
}

/// Where each flag's value came from: clap's `ValueSource` per argument id
/// (the field names of [`PolicyFlags`]).
#[derive(Clone, Debug, Default)]
struct Sources(Vec<(&'static str, Source)>);

impl Sources {
    const IDS: [&'static str; 8] = [
        "kueue_version",
        "max_worker_groups",
        "default_queue",
        "manage_jobs_without_queue_name",
        "rayservice_workload",
        "rayjob_workload",
        "elastic_jobs",
        "exclude_namespaces",
    ];

    fn read(matches: &ArgMatches) -> Self {
        Self(
            Self::IDS
                .iter()
                .filter_map(|id| {
                    let source = match matches.value_source(id)? {
                        ValueSource::CommandLine => Source::Flag,
                        ValueSource::EnvVariable => Source::Environment,
                        _ => Source::Default,
                    };
                    Some((*id, source))
                })
                .collect(),
        )
    }

    /// The source of a given flag's value (`Default` when absent).
    fn of(&self, id: &str) -> Source {
        self.0
            .iter()
            .find_map(|(known, source)| (*known == id).then_some(*source))
            .unwrap_or_default()
    }

    /// A knob's value and source: the flag's, else the profile's when a
    /// release was named, else the plain default.
    fn pick<T>(&self, id: &str, flag: Option<T>, profile: Option<T>, default: T) -> (T, Source) {
        match (flag, profile) {
            (Some(value), _) => (value, self.of(id)),
            (None, Some(value)) => (value, Source::Profile),
            (None, None) => (default, Source::Default),
        }
    }
}

impl FromArgMatches for PolicyArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            flags: PolicyFlags::from_arg_matches(matches)?,
            sources: Sources::read(matches),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.flags.update_from_arg_matches(matches)?;
        self.sources = Sources::read(matches);
        Ok(())
    }
}

impl Args for PolicyArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        PolicyFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        PolicyFlags::augment_args_for_update(cmd)
    }
}

/// Where the Deployment puts the webhook's own namespace (downward API).
const POD_NAMESPACE: &str = "POD_NAMESPACE";

impl PolicyArgs {
    /// The policy these flags describe; an invalid `--default-queue` or
    /// `--exclude-namespace` is a usage error.
    pub fn policy(&self) -> Result<Policy, String> {
        let flags = &self.flags;
        if let Some(queue) = &flags.default_queue {
            crate::policy::names::dns1123_subdomain(queue)
                .map_err(|why| format!("--default-queue {queue:?}: {why}"))?;
        }
        let profile = flags.kueue_version.map(Release::profile);
        let plain = crate::policy::profile::PLAIN;
        let (max_worker_groups, max_worker_groups_source) = self.sources.pick(
            "max_worker_groups",
            flags.max_worker_groups,
            profile.map(|p| p.max_worker_groups),
            plain.max_worker_groups,
        );
        let (rayservice_workload, rayservice_workload_source) = self.sources.pick(
            "rayservice_workload",
            flags.rayservice_workload,
            profile.map(|p| p.rayservice_workload),
            plain.rayservice_workload,
        );
        let (elastic_jobs, elastic_jobs_source) = self.sources.pick(
            "elastic_jobs",
            flags.elastic_jobs,
            profile.map(|p| p.elastic_jobs),
            plain.elastic_jobs,
        );
        let exclude_namespaces = match &flags.exclude_namespaces {
            Some(given) => given.iter().filter(|ns| !ns.is_empty()).cloned().collect(),
            None => default_excluded_namespaces(std::env::var(POD_NAMESPACE).ok()),
        };
        for namespace in &exclude_namespaces {
            crate::policy::names::dns1123_label(namespace)
                .map_err(|why| format!("--exclude-namespace {namespace:?}: {why}"))?;
        }
        Ok(Policy {
            kueue_version: flags.kueue_version,
            max_worker_groups,
            default_queue: flags.default_queue.clone().filter(|q| !q.is_empty()),
            manage_jobs_without_queue_name: flags.manage_jobs_without_queue_name,
            rayservice_workload,
            rayjob_workload: flags.rayjob_workload,
            elastic_jobs,
            exclude_namespaces,
            provenance: Provenance {
                kueue_version: self.sources.of("kueue_version"),
                max_worker_groups: max_worker_groups_source,
                rayservice_workload: rayservice_workload_source,
                rayjob_workload: self.sources.of("rayjob_workload"),
                elastic_jobs: elastic_jobs_source,
                default_queue: self.sources.of("default_queue"),
                manage_jobs_without_queue_name: self.sources.of("manage_jobs_without_queue_name"),
                exclude_namespaces: self.sources.of("exclude_namespaces"),
            },
            // Known only from manifests (`check --local-queues`), not a server flag.
            local_queues: None,
            require_local_queue: false,
        })
    }
}

/// Only the policy flags, for [`policy_from_flags`].
#[derive(Debug, Parser)]
#[command(name = "policy", no_binary_name = true)]
struct PolicyOnly {
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The policy that `flags` (policy flags as on a command line, e.g.
/// `--kueue-version=v0.19`) describe, with their environment twins applied
/// as for any command: for tools and tests that decide without a command.
pub fn policy_from_flags<I, S>(flags: I) -> Result<Policy, String>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let parsed = PolicyOnly::try_parse_from(flags).map_err(|e| e.to_string())?;
    parsed.policy.policy()
}

/// `kube-system` and the webhook's own namespace, when known.
fn default_excluded_namespaces(pod_namespace: Option<String>) -> Vec<String> {
    let mut namespaces = vec![KUBE_SYSTEM.to_string()];
    namespaces.extend(pod_namespace.filter(|ns| !ns.is_empty() && ns != KUBE_SYSTEM));
    namespaces
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy of `flags` (environment variables of the test process
    /// apply too; none of ours is set under `cargo test`).
    fn policy(flags: &[&str]) -> Result<Policy, String> {
        policy_from_flags(flags)
    }

    #[test]
    fn every_command_that_decides_takes_the_policy_flags() {
        for command in [&["check", "x.yaml"][..], &["review"]] {
            let args = ["kueue-ray-webhook"].iter().chain(command).chain(&[
                "--kueue-version",
                "v0.18",
                "--elastic-jobs=false",
            ]);
            assert!(Cli::try_parse_from(args).is_ok(), "{command:?}");
        }
    }

    #[test]
    fn without_a_release_the_plain_defaults_apply() {
        let policy = policy(&[]).unwrap();
        assert_eq!(
            (
                policy.max_worker_groups,
                policy.rayservice_workload,
                policy.elastic_jobs
            ),
            (7, RayServiceWorkload::Raycluster, false)
        );
        assert_eq!(policy.provenance, Provenance::default());
        assert_eq!(policy.kueue_version, None);
    }

    #[test]
    fn a_release_sets_the_defaults_of_its_row() {
        let policy = policy(&["--kueue-version", "v0.19.3"]).unwrap();
        assert_eq!(
            policy,
            Policy {
                provenance: Provenance {
                    kueue_version: Source::Flag,
                    ..Policy::for_release(policy.kueue_version).provenance
                },
                exclude_namespaces: policy.exclude_namespaces.clone(),
                ..Policy::for_release(Release::parse("v0.19").ok())
            }
        );
        assert_eq!(policy.max_worker_groups, 17);
        assert_eq!(policy.provenance.max_worker_groups, Source::Profile);
        assert_eq!(policy.provenance.elastic_jobs, Source::Profile);
    }

    #[test]
    fn an_explicit_flag_beats_the_profile() {
        let policy = policy(&[
            "--kueue-version=0.18",
            "--max-worker-groups",
            "5",
            "--elastic-jobs=false",
            "--rayservice-workload",
            "raycluster",
        ])
        .unwrap();
        assert_eq!(policy.max_worker_groups, 5);
        assert!(!policy.elastic_jobs);
        assert_eq!(policy.rayservice_workload, RayServiceWorkload::Raycluster);
        let p = &policy.provenance;
        assert_eq!(
            [p.max_worker_groups, p.elastic_jobs, p.rayservice_workload],
            [Source::Flag; 3]
        );
        // A bare --elastic-jobs turns it on.
        let policy = self::policy(&["--elastic-jobs"]).unwrap();
        assert!(policy.elastic_jobs);
        assert_eq!(policy.provenance.elastic_jobs, Source::Flag);
    }

    #[test]
    fn releases_before_the_table_and_non_versions_are_usage_errors() {
        for bad in ["v0.13", "0.9.1", "latest"] {
            let error = policy(&["--kueue-version", bad]).unwrap_err();
            assert!(
                error.contains("known releases are v0.14 to v0.19"),
                "{error}"
            );
        }
    }

    #[test]
    fn excluded_namespaces_repeat_split_on_commas_and_can_be_none() {
        let policy = policy(&["--exclude-namespace", "a", "--exclude-namespace=b,c"]).unwrap();
        assert_eq!(policy.exclude_namespaces, ["a", "b", "c"]);
        assert_eq!(policy.provenance.exclude_namespaces, Source::Flag);
        assert!(
            self::policy(&["--exclude-namespace="])
                .unwrap()
                .exclude_namespaces
                .is_empty()
        );
        let error = self::policy(&["--exclude-namespace", "Not_A_Namespace"]).unwrap_err();
        assert!(
            error.starts_with("--exclude-namespace \"Not_A_Namespace\": "),
            "{error}"
        );
    }

    #[test]
    fn the_default_exclusions_are_kube_system_and_the_webhooks_namespace() {
        assert_eq!(default_excluded_namespaces(None), ["kube-system"]);
        assert_eq!(
            default_excluded_namespaces(Some(String::new())),
            ["kube-system"]
        );
        assert_eq!(
            default_excluded_namespaces(Some("kueue-ray-webhook".into())),
            ["kube-system", "kueue-ray-webhook"]
        );
        assert_eq!(
            default_excluded_namespaces(Some("kube-system".into())),
            ["kube-system"]
        );
    }
}
