//! Criterion micro-benchmarks of the pure path: one AdmissionReview body in,
//! answer bytes out (`admission::review`), beside two in-process floors:
//! `scan`, serde_json reading the body once without keeping anything
//! (`IgnoredAny`: what any single-pass reader must at least do), and `parse`,
//! the naive way, the body into a `serde_json::Value`.
//!
//! `cargo bench --bench pure`; a summary lands in `target/bench/pure.json`.
//!
//! `cargo bench --bench pure -- --instructions` counts instructions instead
//! of time: it runs itself under `valgrind --tool=callgrind`, calls `review`
//! a fixed number of times per body, and reports instructions per call and
//! per KiB, a measure that a busy shared machine does not move
//! (`target/bench/pure-instructions.json`).

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
    bounds(c);
}

/// What the server's bounds add to one request (the target allows < 1 µs): a
/// budget reservation of a 3.3 KB body grown once and given back, the
/// connection share put into the request's extensions, and the rate check
/// of an allowed answer's log line.
fn bounds(c: &mut Criterion) {
    use kueue_ray_webhook::server::budget::Budget;
    use kueue_ray_webhook::server::logging::PerSecond;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let budget = Budget::new(48 << 20, 7 << 20);
    let share = budget.connection();
    let lines = PerSecond::new(10);
    c.bench_function("bounds/per-request", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                let started = std::time::Instant::now();
                for _ in 0..iterations {
                    let mut request = hyper::Request::new(());
                    request.extensions_mut().insert(share.clone());
                    let mut held = share.reservation();
                    held.grow_to(black_box(3309), deadline).await.unwrap();
                    held.grow_to(black_box(4096), deadline).await.unwrap();
                    black_box(lines.admit());
                    drop(held);
                    black_box(request);
                }
                started.elapsed()
            })
        })
    });
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

/// Calls per body in `--instructions` mode.
const COUNTED_CALLS: u32 = 200;
/// Set in the child that callgrind runs.
const COUNT_ENV: &str = "PURE_COUNT_CALLS";

/// For body `$i`: `review` (`pure::review_$i`) and the `IgnoredAny` scan
/// (`pure::scan_$i`), `calls` times each, in functions of their own so that
/// callgrind's inclusive cost of each is that body's.
macro_rules! counters {
    ($($review:ident $scan:ident = $i:literal),*) => {
        $(
            #[inline(never)]
            fn $review(bodies: &[Body], policy: &Policy, calls: u32) {
                if let Some(body) = bodies.get($i) {
                    for _ in 0..calls {
                        black_box(admission::review(body.webhook, black_box(&body.bytes), policy));
                    }
                }
            }
            #[inline(never)]
            fn $scan(bodies: &[Body], _: &Policy, calls: u32) {
                if let Some(body) = bodies.get($i) {
                    for _ in 0..calls {
                        let _ = black_box(serde_json::from_slice::<IgnoredAny>(black_box(&body.bytes)));
                    }
                }
            }
        )*
        /// (review, scan) counter names and functions, in body order.
        const COUNTERS: &[[(&str, Counter); 2]] =
            &[$([(stringify!($review), $review), (stringify!($scan), $scan)]),*];
    };
}
type Counter = fn(&[Body], &Policy, u32);
counters!(
    review_0 scan_0 = 0,
    review_1 scan_1 = 1,
    review_2 scan_2 = 2,
    review_3 scan_3 = 3,
    review_4 scan_4 = 4,
    review_5 scan_5 = 5,
    review_6 scan_6 = 6
);

fn count_all(bodies: &[Body], calls: u32) {
    let policy = Policy::default();
    for (_, counter) in COUNTERS.iter().flatten() {
        counter(bodies, &policy, calls);
    }
}

/// Runs this binary under callgrind in counting mode and reads back the
/// inclusive instruction count of each counter function.
fn instructions(bodies: &[Body]) -> Result<(), String> {
    let out = bodies::output_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let profile = out.join("pure.callgrind");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(&exe)
        .env(COUNT_ENV, COUNTED_CALLS.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run valgrind (apt-get install valgrind): {e}"))?;
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    let annotated = std::process::Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(&profile)
        .output()
        .map_err(|e| format!("cannot run callgrind_annotate: {e}"))?;
    let text = String::from_utf8_lossy(&annotated.stdout);
    println!("\npure path, instructions per call (callgrind, {COUNTED_CALLS} calls per body)");
    println!(
        "{:<24} {:>9} {:>14} {:>12} {:>12} {:>12}",
        "body", "bytes", "review instr", "per KiB", "scan instr", "review/scan"
    );
    // A line reads `1,234,567 (12.3%)  file:pure::review_0 [binary]`; the
    // first is the largest, the function's whole inclusive cost.
    let per_call = |counter: &str| -> Result<f64, String> {
        let symbol = format!("pure::{counter} ");
        text.lines()
            .find(|line| line.contains(&symbol))
            .and_then(|line| line.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse::<f64>().ok())
            .map(|total| total / f64::from(COUNTED_CALLS))
            .ok_or(format!(
                "no {symbol} in the callgrind profile {}",
                profile.display()
            ))
    };
    let mut rows = Vec::new();
    for (body, [(review, _), (scan, _)]) in bodies.iter().zip(COUNTERS) {
        let (review, scan) = (per_call(review)?, per_call(scan)?);
        let per_kib = review / (body.bytes.len() as f64 / 1024.0);
        println!(
            "{:<24} {:>9} {:>14.0} {:>12.0} {:>12.0} {:>12.2}",
            body.name,
            body.bytes.len(),
            review,
            per_kib,
            scan,
            review / scan
        );
        rows.push(json!({
            "body": body.name,
            "bytes": body.bytes.len(),
            "review_instructions": review,
            "review_instructions_per_kib": per_kib,
            "scan_instructions": scan,
        }));
    }
    let path = out.join("pure-instructions.json");
    let json = serde_json::to_vec_pretty(&json!({ "calls_per_body": COUNTED_CALLS, "pure": rows }))
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
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
    if let Some(calls) = std::env::var(COUNT_ENV).ok().and_then(|n| n.parse().ok()) {
        count_all(&bodies, calls);
        return std::process::ExitCode::SUCCESS;
    }
    if std::env::args().any(|arg| arg == "--instructions") {
        return match instructions(&bodies) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("pure benchmark: {why}");
                std::process::ExitCode::FAILURE
            }
        };
    }
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
