//! Command line: `serve`, `check`, `review`, `certs`, with one shared group of
//! policy arguments so that every command decides with the same rules.

use crate::admission::Webhook;
use crate::offline::{CheckConfig, OutputFormat, ReviewConfig};
use crate::policy::{Policy, RayServiceWorkload};
use clap::{Args, Parser, Subcommand};
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
    Serve(crate::server::ServeArgs),
    /// Generate a development CA and serving certificate.
    Certs(crate::certs::CertsArgs),
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
    /// Files or directories of Kueue LocalQueue manifests: a queue label must
    /// name one of its namespace (LocalQueues among the checked documents
    /// count too), and a namespace's LocalQueue `default` labels unlabelled objects.
    #[arg(long, value_name = "PATH", num_args = 1..)]
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
    /// Most worker groups a RayCluster or RayService may have (a Kueue
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
}

impl PolicyArgs {
    /// The policy these flags describe; an invalid `--default-queue` is a usage error.
    pub fn policy(&self) -> Result<Policy, String> {
        if let Some(queue) = &self.default_queue {
            crate::policy::check_queue_name(queue)
                .map_err(|why| format!("--default-queue {queue:?}: {why}"))?;
        }
        Ok(Policy {
            max_worker_groups: self.max_worker_groups,
            default_queue: self.default_queue.clone().filter(|q| !q.is_empty()),
            manage_jobs_without_queue_name: self.manage_jobs_without_queue_name,
            rayservice_workload: self.rayservice_workload,
            // Known only from manifests (`check --local-queues`), not a server flag.
            local_queues: None,
            require_local_queue: false,
        })
    }
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Serve(args) => crate::server::run(args),
            Command::Certs(args) => crate::certs::run(args),
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
