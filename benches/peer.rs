//! The peer benchmark (`make bench-peer`, after `make e2e-up OPERATORS=1`):
//! Kueue's own webhook server and ours on the same review bytes, HTTP/1.1
//! keep-alive on 8 connections, each server pinned to one core; throughput,
//! p99 and server CPU per request. A table on stdout, JSON in
//! `target/bench/peer.json`.
//!
//! Environment knobs: `BENCH_SECONDS` (measured seconds per server per body ×
//! path, default 3), `BENCH_BODIES` (comma separated body names, default all),
//! `PEER_SERVER_CORE` (default: the last core; the client runs on the others).

mod support;

use std::process::ExitCode;
use std::time::Duration;
use support::{bodies, load, peer};

fn bench() -> Result<(), String> {
    let mut config = load::Config::bench();
    if let Ok(seconds) = std::env::var("BENCH_SECONDS") {
        let seconds: f64 = seconds
            .parse()
            .map_err(|e| format!("BENCH_SECONDS={seconds}: {e}"))?;
        config.duration =
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("BENCH_SECONDS: {e}"))?;
    }
    if let Ok(names) = std::env::var("BENCH_BODIES") {
        config.bodies = names.split(',').map(str::trim).map(String::from).collect();
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let server_core = std::env::var("PEER_SERVER_CORE").unwrap_or_else(|_| (cores - 1).to_string());
    // The client (this process: its runtime threads start below) on the other cores.
    if cores > 1 {
        let others: Vec<String> = (0..cores)
            .map(|c| c.to_string())
            .filter(|c| *c != server_core)
            .collect();
        peer::pin(std::process::id(), &others.join(","))?;
    }
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    let kueue = peer::Kueue::find(&e2e)?;
    let binary = std::env::var_os("BENCH_WEBHOOK_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kueue-ray-webhook").into());
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(1).max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime.block_on(peer::run(
        &config,
        &binary,
        work.path(),
        &kueue,
        &server_core,
    ))?;
    println!("{}", report.table());
    let out = bodies::output_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join("peer.json");
    let json = serde_json::to_vec_pretty(&report.to_json()).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written to {}", path.display());
    let failed = report.failures();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("peer benchmark: {why}");
            ExitCode::FAILURE
        }
    }
}
