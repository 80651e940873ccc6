//! `check`: admit manifests offline, as a CREATE would be (a CI dry run).

use super::policy_args::PolicyArgs;
use crate::offline::{CheckConfig, OutputFormat};
use clap::Args;
use std::path::PathBuf;

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
    pub output: OutputArg,
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
    pub(super) fn config(self) -> Result<CheckConfig, String> {
        let mut policy = self.policy.policy()?;
        policy.require_local_queue = self.require_local_queue;
        Ok(CheckConfig {
            policy,
            paths: self.paths,
            namespace: self.namespace,
            output: self.output.into(),
            patched: self.patched,
            max_file_size: self.max_file_size,
            require_managed: self.require_managed,
            allow_empty: self.allow_empty,
            local_queues: self.local_queues,
        })
    }
}

/// `--output`: the command line's names for [`OutputFormat`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputArg {
    /// One line per object, its findings as `file:line:column: ...`, a summary line.
    #[default]
    Text,
    /// One JSON report.
    Json,
    /// JUnit XML, one test case per object and skipped document.
    Junit,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// SARIF 2.1.0, for code-scanning upload.
    Sarif,
    /// A Markdown summary table per file (`$GITHUB_STEP_SUMMARY`, PR comments).
    Markdown,
}

impl From<OutputArg> for OutputFormat {
    fn from(arg: OutputArg) -> Self {
        match arg {
            OutputArg::Text => OutputFormat::Text,
            OutputArg::Json => OutputFormat::Json,
            OutputArg::Junit => OutputFormat::Junit,
            OutputArg::Github => OutputFormat::Github,
            OutputArg::Sarif => OutputFormat::Sarif,
            OutputArg::Markdown => OutputFormat::Markdown,
        }
    }
}
