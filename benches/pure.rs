//! Criterion micro-benchmarks of the pure path: one AdmissionReview body in,
//! answer bytes out (`admission::review`), beside two in-process floors:
//! `scan`, serde_json reading the body once without keeping anything
//! (`IgnoredAny`: what any single-pass reader must at least do), and `parse`,
//! the naive way, the body into a `serde_json::Value`.
//!
//! `cargo bench --bench pure`; a summary lands in `target/bench/pure.json`.

mod support;

use criterion::{BenchmarkId, Criterion, Throughput};
use kueue_ray_webhook::admission;
use kueue_ray_webhook::policy::Policy;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use support::bodies::{self, Body};

const GROUP: &str = "pure";

fn bench(c: &mut Criterion, bodies: &[Body], policy: &Policy) {
    let mut group = c.benchmark_group(GROUP);
    for body in bodies {
        group.throughput(Throughput::Bytes(body.bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("review", body.name), body, |b, body| {
            b.iter(|| admission::review(body.webhook, black_box(&body.bytes), policy))
        });
        group.bench_with_input(BenchmarkId::new("scan", body.name), body, |b, body| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(&body.bytes)))
        });
        group.bench_with_input(BenchmarkId::new("parse", body.name), body, |b, body| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&body.bytes)))
        });
    }
    group.finish();
}

/// Criterion's median estimate for one benchmark, in nanoseconds.
fn median_ns(criterion_dir: &Path, function: &str, body: &str) -> Option<f64> {
    let path = criterion_dir
        .join(GROUP)
        .join(function)
        .join(body)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// Prints the per-body table (with ns per KiB, to see the cost grow linearly)
/// and writes it as JSON.
fn summarise(criterion_dir: &Path, bodies: &[Body]) -> std::io::Result<()> {
    println!("\npure path (median of Criterion's samples)");
    println!(
        "{:<24} {:>9} {:>10} {:>10} {:>10} {:>12} {:>14}",
        "body", "bytes", "review µs", "scan µs", "parse µs", "review/scan", "review ns/KiB"
    );
    let mut rows = Vec::new();
    for body in bodies {
        let median = |function| median_ns(criterion_dir, function, body.name);
        let (Some(review), Some(scan), Some(parse)) =
            (median("review"), median("scan"), median("parse"))
        else {
            continue; // filtered out on the command line
        };
        let kib = body.bytes.len() as f64 / 1024.0;
        println!(
            "{:<24} {:>9} {:>10.2} {:>10.2} {:>10.2} {:>12.2} {:>14.0}",
            body.name,
            body.bytes.len(),
            review / 1e3,
            scan / 1e3,
            parse / 1e3,
            review / scan,
            review / kib
        );
        rows.push(json!({
            "body": body.name,
            "bytes": body.bytes.len(),
            "webhook": body.webhook.as_str(),
            "review_median_ns": review,
            "scan_median_ns": scan,
            "parse_value_median_ns": parse,
            "review_ns_per_kib": review / kib,
        }));
    }
    let out = bodies::output_dir();
    std::fs::create_dir_all(&out)?;
    let path = out.join("pure.json");
    let report = json!({ "machine": bodies::machine(), "pure": rows });
    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    println!("written to {}", path.display());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let bodies = match bodies::all() {
        Ok(bodies) => bodies,
        Err(why) => {
            eprintln!("pure benchmark: {why}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let criterion_dir = bodies::output_dir().with_file_name("criterion");
    let mut c = Criterion::default()
        .output_directory(&criterion_dir)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c, &bodies, &Policy::default());
    c.final_summary();
    if let Err(why) = summarise(&criterion_dir, &bodies) {
        eprintln!("pure benchmark: cannot write the summary: {why}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
