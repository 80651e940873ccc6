//! `review`: answer one AdmissionReview request from a file, as the server would.

use super::policy_args::PolicyArgs;
use crate::admission::Webhook;
use crate::offline::ReviewConfig;
use clap::Args;
use std::path::PathBuf;

/// Flags of `review`.
#[derive(Clone, Debug, Args)]
pub struct ReviewArgs {
    /// An AdmissionReview request (JSON), or `-` for standard input.
    #[arg(default_value = crate::offline::load::STDIN, value_name = "FILE|-")]
    pub file: PathBuf,
    /// The webhook that receives the request.
    #[arg(long, value_enum, default_value_t)]
    pub webhook: WebhookArg,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl ReviewArgs {
    pub(super) fn config(self) -> Result<ReviewConfig, String> {
        Ok(ReviewConfig {
            policy: self.policy.policy()?,
            file: self.file,
            webhook: self.webhook.into(),
        })
    }
}

/// `--webhook`: the command line's names for [`Webhook`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WebhookArg {
    /// Defaults (queue label, suspend), then validates the result; may patch.
    #[default]
    Mutate,
    /// Validates only; never patches.
    Validate,
}

impl From<WebhookArg> for Webhook {
    fn from(arg: WebhookArg) -> Self {
        match arg {
            WebhookArg::Mutate => Webhook::Mutate,
            WebhookArg::Validate => Webhook::Validate,
        }
    }
}
