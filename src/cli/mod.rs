//! Command line: `serve`, `check`, `review`, `certs`, with one shared group of
//! policy arguments so that every command decides with the same rules.
//!
//! Only this module knows clap: each command's flags map to the plain config
//! types of the module that runs it (`server::Config`, `offline::CheckConfig`,
//! `offline::ReviewConfig`, `certs::Config`, `policy::Policy`).

mod certs;
mod check;
mod policy_args;
mod review;
mod serve;

pub use certs::CertsArgs;
pub use check::{CheckArgs, OutputArg};
pub use policy_args::{PolicyArgs, policy_from_flags};
pub use review::{ReviewArgs, WebhookArg};
pub use serve::{LogFormatArg, ServeArgs};

use clap::{Parser, Subcommand};
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
