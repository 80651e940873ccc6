//! The `kueue-ray-webhook` binary: parse arguments, install the crypto provider, run.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kueue_ray_webhook::cli::Cli::parse();
    // One process-wide rustls provider: ring (no aws-lc, no cmake).
    let _ = rustls::crypto::ring::default_provider().install_default();
    cli.run()
}
