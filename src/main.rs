//! The `kueue-ray-webhook` binary: parse arguments, install the crypto provider, run.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kueue_ray_webhook::cli::Cli::parse();
    // One process-wide rustls provider: ring (no aws-lc, no cmake). Installing
    // fails only if another provider got there first: never serve with it.
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("kueue-ray-webhook: another rustls crypto provider was installed before ring");
        return ExitCode::FAILURE;
    }
    cli.run()
}
