//! The load benchmark: the webhook and the floor server side by side, every
//! shape × body, runs interleaved (webhook, floor, floor, webhook, …) so that
//! noise on a shared machine hits both; results as a table and as JSON.

use super::bodies::{self, Body};
use super::client::{self, Limits, RunResult, Shape, Tls};
use super::procstat;
use super::servers::{self, Certs, Server};
use kueue_ray_webhook::admission;
use kueue_ray_webhook::policy::Policy;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// What to run, and how long.
#[derive(Clone, Debug)]
pub struct Config {
    pub shapes: Vec<Shape>,
    /// Body names to send; empty means all.
    pub bodies: Vec<String>,
    /// Measured time per server per shape × body, split over `rounds`.
    pub duration: Duration,
    pub rounds: u32,
    /// Unmeasured run before each server's first round.
    pub warmup: Duration,
    /// Cap on requests per run.
    pub max_requests: u64,
    pub check_every_answer: bool,
    /// How many times the webhook is started to time its readiness.
    pub starts: u32,
}

impl Config {
    /// `make bench`: about three minutes. Many short alternating runs
    /// rather than two long ones: on a shared machine the load of others
    /// comes and goes within seconds, and it should fall on both servers.
    pub fn bench() -> Self {
        Self {
            shapes: Shape::ALL.to_vec(),
            bodies: Vec::new(),
            duration: Duration::from_secs(3),
            rounds: 6,
            warmup: Duration::from_millis(200),
            max_requests: 500_000,
            check_every_answer: false,
            starts: 5,
        }
    }
}

/// One server's share of one shape × body.
#[derive(Clone, Debug)]
pub struct Measured {
    pub result: RunResult,
    pub cpu: Duration,
    /// Highest peak RSS over the rounds (`None` where it cannot be read).
    pub peak_rss: Option<u64>,
}

impl Measured {
    fn new() -> Self {
        Self {
            result: RunResult::empty(),
            cpu: Duration::ZERO,
            peak_rss: None,
        }
    }

    fn cpu_ms_per_1k(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 * 1000.0 / (self.result.ok.max(1) as f64)
    }

    fn to_json(&self) -> Value {
        let r = &self.result;
        json!({
            "requests": r.ok,
            "errors": r.errors,
            "first_error": r.first_error,
            "seconds": r.elapsed.as_secs_f64(),
            "requests_per_second": r.requests_per_second(),
            "latency_us": {
                "p50": r.quantile_us(0.5), "p90": r.quantile_us(0.9),
                "p99": r.quantile_us(0.99), "p99.9": r.quantile_us(0.999),
                "max": r.latency.max() as f64 / 1e3,
            },
            "cpu_seconds_per_1000": self.cpu_ms_per_1k() / 1e3,
            "peak_rss_mib": self.peak_rss.map(procstat::mib),
        })
    }
}

/// One shape × body: webhook beside floor.
#[derive(Clone, Debug)]
pub struct Cell {
    pub shape: Shape,
    pub body: &'static str,
    pub body_bytes: usize,
    pub webhook: Measured,
    pub floor: Measured,
}

impl Cell {
    pub fn throughput_ratio(&self) -> f64 {
        self.webhook.result.requests_per_second()
            / self.floor.result.requests_per_second().max(1e-9)
    }
    pub fn latency_ratio(&self, q: f64) -> f64 {
        self.webhook.result.quantile_us(q) / self.floor.result.quantile_us(q).max(1e-9)
    }
}

/// Start-up facts of a server.
#[derive(Clone, Debug)]
pub struct Startup {
    /// Time to ready of each start.
    pub ready: Vec<Duration>,
    pub ready_by: &'static str,
    pub idle_rss: u64,
}

#[derive(Clone, Debug)]
pub struct Report {
    /// The machine, with its load average before and after the runs.
    pub machine_before: Value,
    pub machine_after: Value,
    pub webhook: Startup,
    pub floor: Startup,
    pub cells: Vec<Cell>,
}

/// Runs the benchmark. `binary` is `kueue-ray-webhook`; `work` a scratch folder.
pub async fn run(config: &Config, binary: &Path, work: &Path) -> Result<Report, String> {
    let machine_before = bodies::machine();
    let mut bodies = bodies::all()?;
    if !config.bodies.is_empty() {
        bodies.retain(|body| config.bodies.iter().any(|name| name == body.name));
    }
    let probe = bodies.first().ok_or("no body selected")?.clone();
    let certs = Certs::generate(binary, work)?;
    let tls = Tls::from_ca_file(&certs.ca())?;

    // The floor answers exactly what the webhook answers, byte for byte.
    let policy = Policy::default();
    let answers: Vec<(String, Vec<u8>)> = bodies
        .iter()
        .map(|body| {
            (
                body.name.to_owned(),
                admission::review(body.webhook, &body.bytes, &policy).body,
            )
        })
        .collect();

    let mut ready = Vec::new();
    let mut webhook = None;
    for _ in 0..config.starts.max(1) {
        drop(webhook.take()); // one at a time
        let server = servers::start_webhook(binary, &certs, work, &tls, &probe).await?;
        ready.push(server.ready_after);
        webhook = Some(server);
    }
    let webhook = webhook.ok_or("the webhook was never started")?;
    let webhook_startup = Startup {
        ready,
        ready_by: webhook.ready_by.as_str(),
        idle_rss: servers::idle_rss(&webhook).await?,
    };
    let floor = servers::start_floor(&certs, work, &answers, &tls, &probe).await?;
    let floor_startup = Startup {
        ready: vec![floor.ready_after],
        ready_by: floor.ready_by.as_str(),
        idle_rss: servers::idle_rss(&floor).await?,
    };

    let mut cells = Vec::new();
    for &shape in &config.shapes {
        for body in &bodies {
            cells.push(measure_cell(config, shape, body, &tls, &webhook, &floor).await?);
        }
    }
    Ok(Report {
        machine_before,
        machine_after: bodies::machine(),
        webhook: webhook_startup,
        floor: floor_startup,
        cells,
    })
}

async fn measure_cell(
    config: &Config,
    shape: Shape,
    body: &Body,
    tls: &Tls,
    webhook: &Server,
    floor: &Server,
) -> Result<Cell, String> {
    let rounds = config.rounds.max(1);
    let per_run = config.duration / rounds;
    let limits = Limits {
        duration: per_run,
        max_requests: config.max_requests,
        check_every_answer: config.check_every_answer,
    };
    if !config.warmup.is_zero() {
        let warmup = Limits {
            duration: config.warmup,
            ..limits
        };
        for server in [webhook, floor] {
            client::run(server.addr, tls, body, shape, warmup).await;
        }
    }
    let (mut w, mut f) = (Measured::new(), Measured::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [(webhook, &mut w), (floor, &mut f)]
        } else {
            [(floor, &mut f), (webhook, &mut w)]
        };
        for (server, measured) in order {
            measure_run(server, tls, body, shape, limits, measured).await?;
        }
    }
    Ok(Cell {
        shape,
        body: body.name,
        body_bytes: body.bytes.len(),
        webhook: w,
        floor: f,
    })
}

async fn measure_run(
    server: &Server,
    tls: &Tls,
    body: &Body,
    shape: Shape,
    limits: Limits,
    into: &mut Measured,
) -> Result<(), String> {
    let pid = server.pid();
    let peak_is_per_run = procstat::reset_peak_rss(pid);
    let cpu_before = procstat::cpu_time(pid)?;
    let result = client::run(server.addr, tls, body, shape, limits).await;
    if !procstat::alive(pid) {
        return Err(format!(
            "the {} server exited during {} {}; its log ends with:\n{}",
            server.name,
            shape.name(),
            body.name,
            server.log_tail()
        ));
    }
    let cpu_after = procstat::cpu_time(pid)?;
    let peak = procstat::peak_rss(pid).ok().filter(|_| peak_is_per_run);
    into.cpu += cpu_after.saturating_sub(cpu_before);
    into.peak_rss = into.peak_rss.max(peak);
    into.result.merge(&result);
    into.result.elapsed += result.elapsed;
    Ok(())
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report {
    /// One line per server run that had errors, or answered other than
    /// `expected_ok` requests when that is given (the smoke test's fixed count).
    pub fn failures(&self, expected_ok: Option<u64>) -> Vec<String> {
        let mut failed = Vec::new();
        for cell in &self.cells {
            for (server, measured) in [("webhook", &cell.webhook), ("floor", &cell.floor)] {
                let r = &measured.result;
                if r.errors > 0 || expected_ok.is_some_and(|n| r.ok != n) {
                    failed.push(format!(
                        "{} {} {server}: {} answered, {} errors (first: {})",
                        cell.shape.name(),
                        cell.body,
                        r.ok,
                        r.errors,
                        r.first_error.as_deref().unwrap_or("none")
                    ));
                }
            }
        }
        failed
    }

    /// The table printed to stdout (and pasted into docs/performance.md).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let (before, after) = (&self.machine_before, &self.machine_after);
        out += &format!(
            "machine: {} CPUs, {}; load average {} before, {} after\n",
            before["cpus"],
            before["cpu_model"].as_str().unwrap_or("unknown CPU"),
            before["loadavg_1_5_15"].as_str().unwrap_or("?"),
            after["loadavg_1_5_15"].as_str().unwrap_or("?"),
        );
        let w = &self.webhook;
        out += &format!(
            "webhook: ready in {:.1} ms (median of {}, by {}), idle RSS {:.1} MiB\nfloor:   ready in {:.1} ms (by {}), idle RSS {:.1} MiB\n\n",
            ms(median(&w.ready)),
            w.ready.len(),
            w.ready_by,
            procstat::mib(w.idle_rss),
            ms(median(&self.floor.ready)),
            self.floor.ready_by,
            procstat::mib(self.floor.idle_rss),
        );
        out += &format!(
            "| {:<14} | {:<21} | {:>6} | {:>8} | {:>8} | {:>5} | {:>7} | {:>7} | {:>5} | {:>7} | {:>7} | {:>5} | {:>7} | {:>7} | {:>6} | {:>6} | {:>5} |\n",
            "shape",
            "body",
            "KB",
            "req/s W",
            "req/s F",
            "W/F",
            "p50 W",
            "p50 F",
            "W/F",
            "p99 W",
            "p99 F",
            "W/F",
            "p99.9 W",
            "p99.9 F",
            "cpu W",
            "cpu F",
            "RSS W"
        );
        out += &format!("|{}|\n", ["---"; 17].map(|d| format!("{d:->3}")).join("|"));
        for c in &self.cells {
            let (wr, fr) = (&c.webhook.result, &c.floor.result);
            out += &format!(
                "| {:<14} | {:<21} | {:>6.1} | {:>8.0} | {:>8.0} | {:>5.2} | {:>7.0} | {:>7.0} | {:>5.2} | {:>7.0} | {:>7.0} | {:>5.2} | {:>7.0} | {:>7.0} | {:>6.1} | {:>6.1} | {:>5.1} |\n",
                c.shape.name(),
                c.body,
                c.body_bytes as f64 / 1000.0,
                wr.requests_per_second(),
                fr.requests_per_second(),
                c.throughput_ratio(),
                wr.quantile_us(0.5),
                fr.quantile_us(0.5),
                c.latency_ratio(0.5),
                wr.quantile_us(0.99),
                fr.quantile_us(0.99),
                c.latency_ratio(0.99),
                wr.quantile_us(0.999),
                fr.quantile_us(0.999),
                c.webhook.cpu_ms_per_1k(),
                c.floor.cpu_ms_per_1k(),
                c.webhook.peak_rss.map(procstat::mib).unwrap_or(f64::NAN),
            );
        }
        out += "\nW = webhook, F = floor server; latency in µs (client-side, HDR histogram); \
                cpu = server CPU ms per 1,000 requests (µs per request); RSS W = webhook peak MiB during the run.\n";
        out
    }

    pub fn to_json(&self, config: &Config) -> Value {
        let startup = |s: &Startup| {
            json!({
                "ready_ms": s.ready.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                "ready_median_ms": ms(median(&s.ready)),
                "ready_by": s.ready_by,
                "idle_rss_mib": procstat::mib(s.idle_rss),
            })
        };
        json!({
            "machine": self.machine_before,
            "loadavg_after": self.machine_after["loadavg_1_5_15"],
            "config": {
                "seconds_per_server_per_cell": config.duration.as_secs_f64(),
                "rounds": config.rounds,
                "warmup_seconds": config.warmup.as_secs_f64(),
                "max_requests_per_run": config.max_requests,
            },
            "webhook": startup(&self.webhook),
            "floor": startup(&self.floor),
            "cells": self.cells.iter().map(|c| json!({
                "shape": c.shape.name(),
                "body": c.body,
                "body_bytes": c.body_bytes,
                "webhook": c.webhook.to_json(),
                "floor": c.floor.to_json(),
                "ratio": {
                    "throughput": c.throughput_ratio(),
                    "p50": c.latency_ratio(0.5),
                    "p99": c.latency_ratio(0.99),
                },
            })).collect::<Vec<_>>(),
        })
    }
}
