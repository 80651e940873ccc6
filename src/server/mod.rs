//! The HTTPS admission server and the admin (probes, metrics) server.

use std::process::ExitCode;

/// Flags of `serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub policy: crate::cli::PolicyArgs,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let _ = args;
    ExitCode::FAILURE
}
