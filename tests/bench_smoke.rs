//! Keeps the load benchmark working: its real code (client shapes, floor
//! server process, `/proc` readings, report) against the real binary over
//! loopback TLS, for a few hundred requests. It times nothing: it checks that
//! every request was answered 200 with a well-formed AdmissionReview.
//!
//! A `harness = false` test so that it can start itself again as the floor
//! server (`--floor`), as the benchmark does.

#[path = "../benches/support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::Duration;
use support::client::Shape;
use support::{floor, load};

const NAME: &str = "bench_smoke";
/// Requests per server per shape × body.
const REQUESTS: u64 = 10;

fn smoke() -> Result<(), String> {
    let config = load::Config {
        shapes: Shape::ALL.to_vec(),
        bodies: Vec::new(),
        duration: Duration::from_secs(30),
        rounds: 1,
        warmup: Duration::ZERO,
        max_requests: REQUESTS,
        check_every_answer: true,
        starts: 1,
    };
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kueue-ray-webhook"));
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime.block_on(load::run(&config, binary, work.path()))?;

    let mut problems = report.failures(Some(REQUESTS));
    let cells = Shape::ALL.len() * support::bodies::all()?.len();
    if report.cells.len() != cells {
        problems.push(format!(
            "expected {cells} shape × body cells, got {}",
            report.cells.len()
        ));
    }
    // The report renders (the benchmark prints and writes these).
    let table = report.table();
    let json = report.to_json(&config);
    if !table.contains("h1 x8")
        || json["cells"].as_array().map(Vec::len) != Some(report.cells.len())
    {
        problems.push(format!("malformed report:\n{table}\n{json}"));
    }
    if report.webhook.idle_rss == 0 || report.floor.idle_rss == 0 {
        problems.push("idle RSS not read from /proc".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn main() -> ExitCode {
    if let Some(code) = floor::serve_if_asked() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Behave like a libtest binary towards `cargo test` options and filters.
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n"
        );
        return ExitCode::SUCCESS;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!("\nrunning 1 test");
    // A plain clone without ../shared skips (reason printed); in CI the
    // samples are always there, and their absence fails.
    let samples = std::path::Path::new(support::bodies::SAMPLES);
    if !samples.is_dir() && std::env::var_os("CI").is_none() {
        println!(
            "test {NAME} ... ignored, the KubeRay samples are missing ({} is not a directory; \
             the shared/ folder beside the repository); set CI to fail instead\n\n\
             test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n",
            samples.display()
        );
        return ExitCode::SUCCESS;
    }
    match smoke() {
        Ok(()) => {
            println!(
                "test {NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n"
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!(
                "test {NAME} ... FAILED\n\n{why}\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"
            );
            ExitCode::FAILURE
        }
    }
}
