//! The load benchmark: the real `kueue-ray-webhook serve` (release build)
//! against the floor server over loopback TLS, every shape × body, with the
//! webhook/floor ratios as the headline. A table on stdout, JSON in
//! `target/bench/load.json`.
//!
//! `cargo bench --bench load`; environment knobs: `BENCH_SECONDS` (measured
//! seconds per server per shape × body, default 3), `BENCH_BODIES` (comma
//! separated body names, default all), `BENCH_SHAPES` (comma separated, matched
//! against the shape names without spaces: `h1x8`, `h2`, `handshake`),
//! `BENCH_WEBHOOK_BIN` (another build of the webhook to measure).

mod support;

use std::process::ExitCode;
use std::time::Duration;
use support::{bodies, floor, load};

fn config() -> Result<load::Config, String> {
    let mut config = load::Config::bench();
    if let Ok(seconds) = std::env::var("BENCH_SECONDS") {
        let seconds: f64 = seconds
            .parse()
            .map_err(|e| format!("BENCH_SECONDS={seconds}: {e}"))?;
        config.duration =
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("BENCH_SECONDS: {e}"))?;
    }
    if let Ok(names) = std::env::var("BENCH_SHAPES") {
        let wanted: Vec<String> = names
            .split(',')
            .map(|n| n.replace(' ', ""))
            .filter(|n| !n.is_empty())
            .collect();
        config.shapes.retain(|shape| {
            wanted
                .iter()
                .any(|w| shape.name().replace(' ', "").contains(w.as_str()))
        });
    }
    if let Ok(names) = std::env::var("BENCH_BODIES") {
        config.bodies = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
    }
    Ok(config)
}

fn bench() -> Result<(), String> {
    let config = config()?;
    // Another build of the webhook can be measured against the same floor,
    // to compare a change: BENCH_WEBHOOK_BIN=/path/to/kueue-ray-webhook.
    let binary = std::env::var_os("BENCH_WEBHOOK_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kueue-ray-webhook").into());
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The client gets the same two workers as each server: on a 2-core
    // machine everything shares the cores, as in the floor's runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime.block_on(load::run(&config, &binary, work.path()))?;
    println!("{}", report.table());
    let out = bodies::output_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join("load.json");
    let json = serde_json::to_vec_pretty(&report.to_json(&config)).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written to {}", path.display());
    let failed = report.failures(None);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

fn main() -> ExitCode {
    if let Some(code) = floor::serve_if_asked() {
        return code;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("load benchmark: {why}");
            ExitCode::FAILURE
        }
    }
}
