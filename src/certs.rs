//! Serving certificates: generation for development (`certs`).

use std::process::ExitCode;

/// Flags of `certs`.
#[derive(Clone, Debug, clap::Args)]
pub struct CertsArgs {}

pub fn run(args: CertsArgs) -> ExitCode {
    let _ = args;
    ExitCode::FAILURE
}
