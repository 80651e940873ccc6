//! The peer benchmark: Kueue's own webhook server (the controller manager
//! `make e2e-up OPERATORS=1` runs) and ours, side by side on the same review
//! bytes sent to the same per-kind paths, runs interleaved like the load
//! benchmark's. Each server pinned to one core (`taskset`), the client kept
//! off it; HTTP/1.1 keep-alive on 8 connections.

use super::bodies::{self, Body};
use super::client::{self, Limits, RunResult, Shape, Tls};
use super::procstat;
use super::servers::{self, Certs};
use kueue_ray_webhook::admission::Webhook;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The connections the issue asks for.
pub const SHAPE: Shape = Shape::Http1 { connections: 8 };
/// Our flags equivalent to the Kueue that runs (e2e/operators.sh's Configuration).
pub const OUR_FLAGS: [&str; 3] = [
    "--kueue-version=v0.17",
    "--elastic-jobs",
    "--worker-threads=1",
];

/// What `make e2e-up OPERATORS=1` left: Kueue's webhook address, CA and pid.
pub struct Kueue {
    pub addr: SocketAddr,
    pub ca: PathBuf,
    pub pid: u32,
    pub version: String,
}

impl Kueue {
    pub fn find(e2e: &Path) -> Result<Self, String> {
        let env_file = e2e.join("operators.env");
        let text = std::fs::read_to_string(&env_file).map_err(|e| {
            format!(
                "{}: {e}: the peer benchmark needs Kueue running (make e2e-up OPERATORS=1)",
                env_file.display()
            )
        })?;
        let env: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| {
            env.get(k)
                .copied()
                .ok_or_else(|| format!("{} has no {k}", env_file.display()))
        };
        let addr = get("KUEUE_WEBHOOK_URL")?
            .trim_start_matches("https://")
            .parse()
            .map_err(|e| format!("KUEUE_WEBHOOK_URL: {e}"))?;
        let pid_file = e2e.join("run/kueue.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .map_err(|e| format!("{}: {e}", pid_file.display()))?
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{}: no pid", pid_file.display()))?;
        Ok(Self {
            addr,
            ca: PathBuf::from(get("KUEUE_CA")?),
            pid,
            version: get("KUEUE_VERSION")?.to_owned(),
        })
    }
}

/// Pins every thread of `pid` to `core`.
pub fn pin(pid: u32, core: &str) -> Result<(), String> {
    let out = Command::new("taskset")
        .args(["-a", "-p", "-c", core, &pid.to_string()])
        .output()
        .map_err(|e| format!("taskset: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "taskset -a -p -c {core} {pid}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Kueue's path for a body: per kind, the mutating one for a CREATE.
fn kueue_path(body: &Body, webhook: Webhook) -> &'static str {
    let text = String::from_utf8_lossy(&body.bytes);
    let kind = ["RayService", "RayJob"]
        .into_iter()
        .find(|k| text.contains(&format!("\"kind\":\"{k}\"")))
        .unwrap_or("RayCluster");
    match (kind, webhook) {
        ("RayService", Webhook::Mutate) => "/mutate-ray-io-v1-rayservice?timeout=10s",
        ("RayService", Webhook::Validate) => "/validate-ray-io-v1-rayservice?timeout=10s",
        ("RayJob", Webhook::Mutate) => "/mutate-ray-io-v1-rayjob?timeout=10s",
        ("RayJob", Webhook::Validate) => "/validate-ray-io-v1-rayjob?timeout=10s",
        (_, Webhook::Mutate) => "/mutate-ray-io-v1-raycluster?timeout=10s",
        (_, Webhook::Validate) => "/validate-ray-io-v1-raycluster?timeout=10s",
    }
}

/// One server's share of one body × path.
#[derive(Clone, Debug)]
pub struct Side {
    pub result: RunResult,
    pub cpu: Duration,
}

impl Side {
    fn cpu_us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (self.result.ok.max(1) as f64)
    }
    fn to_json(&self) -> Value {
        let r = &self.result;
        json!({
            "requests": r.ok, "errors": r.errors, "first_error": r.first_error,
            "requests_per_second": r.requests_per_second(),
            "latency_us": {"p50": r.quantile_us(0.5), "p99": r.quantile_us(0.99)},
            "cpu_us_per_request": self.cpu_us_per_request(),
        })
    }
}

pub struct Row {
    pub body: &'static str,
    pub path: &'static str,
    pub ours: Side,
    pub kueue: Side,
}

pub struct Report {
    pub machine_before: Value,
    pub machine_after: Value,
    pub kueue_version: String,
    pub rows: Vec<Row>,
}

struct Target<'a> {
    addr: SocketAddr,
    tls: &'a Tls,
    pid: u32,
}

async fn measure(
    target: &Target<'_>,
    body: &Body,
    limits: Limits,
    into: &mut Side,
) -> Result<(), String> {
    let before = procstat::cpu_time(target.pid)?;
    let result = client::run(target.addr, target.tls, body, SHAPE, limits).await;
    let after = procstat::cpu_time(target.pid)?;
    into.cpu += after.saturating_sub(before);
    into.result.merge(&result);
    into.result.elapsed += result.elapsed;
    Ok(())
}

/// Runs the peer benchmark: `binary` is ours, `work` a scratch folder,
/// `server_core` the core both servers are pinned to.
pub async fn run(
    config: &super::load::Config,
    binary: &Path,
    work: &Path,
    kueue: &Kueue,
    server_core: &str,
) -> Result<Report, String> {
    let machine_before = bodies::machine();
    let all = bodies::all()?;
    let certs = Certs::generate(binary, work)?;
    let our_tls = Tls::from_ca_file(&certs.ca())?;
    let kueue_tls = Tls::from_ca_file(&kueue.ca)?;
    let probe = all.first().ok_or("no body")?.clone();
    let ours =
        servers::start_webhook_with(binary, &certs, work, &our_tls, &probe, &OUR_FLAGS).await?;
    pin(ours.pid(), server_core)?;
    pin(kueue.pid, server_core)?;
    let ours_target = Target {
        addr: ours.addr,
        tls: &our_tls,
        pid: ours.pid(),
    };
    let kueue_target = Target {
        addr: kueue.addr,
        tls: &kueue_tls,
        pid: kueue.pid,
    };

    // A CREATE goes through both of each side's webhooks (the API server calls
    // the mutating one, then the validating one); an UPDATE through the validating one.
    let mut cells = Vec::new();
    for body in &all {
        if !config.bodies.is_empty() && !config.bodies.iter().any(|n| n == body.name) {
            continue;
        }
        let webhooks: &[Webhook] = match body.webhook {
            Webhook::Mutate => &[Webhook::Mutate, Webhook::Validate],
            Webhook::Validate => &[Webhook::Validate],
        };
        for &webhook in webhooks {
            let mut routed = body.clone();
            routed.route = Some(kueue_path(body, webhook));
            cells.push(routed);
        }
    }
    let rounds = config.rounds.max(1);
    let limits = Limits {
        duration: config.duration / rounds,
        max_requests: config.max_requests,
        check_every_answer: false,
    };
    let mut rows = Vec::new();
    for body in &cells {
        let warmup = Limits {
            duration: config.warmup,
            ..limits
        };
        for target in [&ours_target, &kueue_target] {
            client::run(target.addr, target.tls, body, SHAPE, warmup).await;
        }
        let new = || Side {
            result: RunResult::empty(),
            cpu: Duration::ZERO,
        };
        let (mut o, mut k) = (new(), new());
        for round in 0..rounds {
            if round % 2 == 0 {
                measure(&ours_target, body, limits, &mut o).await?;
                measure(&kueue_target, body, limits, &mut k).await?;
            } else {
                measure(&kueue_target, body, limits, &mut k).await?;
                measure(&ours_target, body, limits, &mut o).await?;
            }
        }
        rows.push(Row {
            body: body.name,
            path: body.path(),
            ours: o,
            kueue: k,
        });
    }
    drop(ours);
    Ok(Report {
        machine_before,
        machine_after: bodies::machine(),
        kueue_version: kueue.version.clone(),
        rows,
    })
}

impl Report {
    pub fn failures(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for row in &self.rows {
            for (name, side) in [("ours", &row.ours), ("kueue", &row.kueue)] {
                if side.result.errors > 0 || side.result.ok == 0 {
                    failed.push(format!(
                        "{} {} {name}: {} answered, {} errors (first: {})",
                        row.body,
                        row.path,
                        side.result.ok,
                        side.result.errors,
                        side.result.first_error.as_deref().unwrap_or("none")
                    ));
                }
            }
        }
        failed
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "machine: {} CPUs, {}; load average {} before, {} after; Kueue {}\n\n",
            self.machine_before["cpus"],
            self.machine_before["cpu_model"]
                .as_str()
                .unwrap_or("unknown CPU"),
            self.machine_before["loadavg_1_5_15"]
                .as_str()
                .unwrap_or("?"),
            self.machine_after["loadavg_1_5_15"].as_str().unwrap_or("?"),
            self.kueue_version,
        );
        out += "| body | path | req/s ours | req/s Kueue | p99 µs ours | p99 µs Kueue | CPU µs/req ours | CPU µs/req Kueue |\n";
        out += "|---|---|---|---|---|---|---|---|\n";
        for r in &self.rows {
            let path = r.path.split('?').next().unwrap_or(r.path);
            out += &format!(
                "| {} | `{}` | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
                r.body,
                path,
                r.ours.result.requests_per_second(),
                r.kueue.result.requests_per_second(),
                r.ours.result.quantile_us(0.99),
                r.kueue.result.quantile_us(0.99),
                r.ours.cpu_us_per_request(),
                r.kueue.cpu_us_per_request(),
            );
        }
        out += "\nHTTP/1.1 keep-alive, 8 connections; each server pinned to one core (taskset), the client off it; \
                latency client-side (HDR histogram); CPU = the server process's user+system time per answered request \
                (Kueue's includes its idle controllers).\n";
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "machine": self.machine_before,
            "loadavg_after": self.machine_after["loadavg_1_5_15"],
            "kueue_version": self.kueue_version,
            "rows": self.rows.iter().map(|r| json!({
                "body": r.body, "path": r.path,
                "ours": r.ours.to_json(), "kueue": r.kueue.to_json(),
            })).collect::<Vec<_>>(),
        })
    }
}
