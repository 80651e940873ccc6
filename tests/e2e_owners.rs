//! Owners and RayCronJob runs with the webhook API-aware (issue 20), against
//! the real KubeRay operator v1.6 (RayCronJob gate on) and Kueue v0.17
//! (`make e2e-up OPERATORS=1`, the webhook run with `--api-access`).
//!
//! - A RayCluster the operator creates for a RayJob or RayService is a
//!   genuine child: never suspended by us and never warned about as forged,
//!   every time. The operator records the cluster's name in the owner's
//!   status one reconcile before it creates the cluster (docs/serving.md),
//!   so our watch of the owner may be behind at the CREATE: many owners at
//!   once make that race likely, and the bounded live read must cover it.
//! - A run the operator creates for a queue-labelled RayCronJob gets that
//!   label from us (KubeRay copies none) and is suspended and queued.
//!
//! Our warnings to the operator are in its log (controller-runtime logs
//! every API warning). Every wait is bounded polling; nothing is timed.
//! `test = false`: `make e2e-operators` runs it.

mod e2e_support;
mod kueue_e2e;

use kueue_e2e::*;
use serde_json::Value;

/// RayJobs created at once (one `kubectl create`): the operator reconciles
/// them concurrently, as many chances of the record-then-create race.
const RAYJOBS: usize = 20;
/// RayServices created at once (each also makes a second cluster when Kueue
/// unsuspends it after the first was made: two creates per owner).
const RAYSERVICES: usize = 4;
/// Every warning of ours about a controller reference starts with this
/// (`policy::owners::OWNER_FIELD`).
const OWNER_WARNING: &str = "metadata.ownerReferences: ";
/// The schedule of the test RayCronJobs. KubeRay parses it with robfig/cron's
/// `ParseStandard`, which takes the `@every DURATION` descriptor besides the
/// five fields (whose finest step is a minute): a run within seconds.
const SCHEDULE: &str = "@every 5s";

/// The webhook's owner meters, read from its `/metrics`.
#[derive(Debug, PartialEq)]
struct OwnerMeters {
    fallbacks: f64,
    found: f64,
    not_found: f64,
    failed: f64,
}

fn owner_meters(webhook: &e2e_support::Cluster) -> OwnerMeters {
    let text = webhook.webhook_metrics();
    let reads = |result: &str| {
        e2e_support::metric_sum(
            &text,
            "kueue_ray_webhook_cluster_owner_reads_total",
            &[("result", result)],
        )
    };
    OwnerMeters {
        fallbacks: e2e_support::metric_sum(
            &text,
            "kueue_ray_webhook_cluster_owner_fallbacks_total",
            &[],
        ),
        found: reads("found"),
        not_found: reads("not_found"),
        failed: reads("error") + reads("timeout"),
    }
}

/// The served webhook, which must be API-aware with its RayJob, RayService
/// and RayCronJob watches synced (otherwise these tests prove nothing).
fn aware_webhook() -> e2e_support::Cluster {
    let webhook = e2e_support::Cluster::up();
    wait_for("the webhook's owner watches synced (--api-access)", || {
        let text = webhook.webhook_metrics();
        let synced = |watch: &str| {
            e2e_support::metric_sum(
                &text,
                "kueue_ray_webhook_cluster_watch_synced",
                &[("watch", watch)],
            ) == 1.0
        };
        ["rayjobs", "rayservices", "raycronjobs"]
            .into_iter()
            .all(synced)
            .then_some(())
    });
    webhook
}

/// The operator's log lines carrying one of our owner warnings about OWNER.
fn owner_warnings(cluster: &Cluster, owner: &str) -> Vec<String> {
    // Owner names are zero-padded: no name is a prefix of another.
    cluster
        .log("ray-operator")
        .lines()
        .filter(|line| line.contains(OWNER_WARNING) && line.contains(owner))
        .map(str::to_owned)
        .collect()
}

/// The RayClusters whose controller is KIND/NAME.
fn children(cluster: &Cluster, ns: &str, kind: &str, name: &str) -> Vec<Value> {
    cluster
        .list(ns, "rayclusters")
        .into_iter()
        .filter(|rc| owned_by(rc, kind, name))
        .collect()
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("{prefix}-{}-{i:03}", std::process::id()))
        .collect()
}

/// RAYJOBS queue-labelled RayJobs at once: Kueue admits and unsuspends each,
/// the operator creates each one's RayCluster, and every one of those is a
/// child to us: not suspended, not warned about.
#[test]
fn every_rayjob_child_the_operator_creates_is_exempt() {
    let cluster = Cluster::get();
    let webhook = aware_webhook();
    let ns = cluster.namespace("owners-rj");
    let before = owner_meters(&webhook);
    let jobs = names("rj", RAYJOBS);
    let yaml: Vec<String> = jobs
        .iter()
        .map(|name| rayjob(name, &[(QUEUE_LABEL, QUEUE)], 1))
        .collect();
    cluster.ok(
        &["create", "-n", &ns.name, "-f", "-"],
        Some(&yaml.join("---\n")),
    );
    let clusters = wait_for("a RayCluster for every RayJob", || {
        let all = cluster.list(&ns.name, "rayclusters");
        let found: Vec<Value> = jobs
            .iter()
            .filter_map(|job| all.iter().find(|rc| owned_by(rc, "RayJob", job)).cloned())
            .collect();
        (found.len() == jobs.len()).then_some(found)
    });
    let after = owner_meters(&webhook);
    eprintln!("owner meters before {before:?}, after {after:?}");
    for (job, child) in jobs.iter().zip(&clusters) {
        assert!(
            !suspended(child),
            "the child of RayJob {job} was suspended: {child}"
        );
        let warned = owner_warnings(&cluster, job);
        assert!(
            warned.is_empty(),
            "the child of RayJob {job} was warned about: {warned:#?}"
        );
    }
    assert_eq!(
        after.fallbacks, before.fallbacks,
        "an owner reference was trusted without a check"
    );
    assert_eq!(after.failed, before.failed, "a live owner read failed");
}

/// RAYSERVICES queue-labelled RayServices at once: every RayCluster the
/// operator creates for them is a child to us (no warning), and each
/// RayService ends with a running child once Kueue has admitted it (a first
/// cluster made while the RayService was still suspended copies its
/// `suspend: true`; the operator replaces it by an unsuspended one).
#[test]
fn every_rayservice_child_the_operator_creates_is_exempt() {
    let cluster = Cluster::get();
    let webhook = aware_webhook();
    let ns = cluster.namespace("owners-rs");
    let before = owner_meters(&webhook);
    let services = names("rs", RAYSERVICES);
    let yaml: Vec<String> = services
        .iter()
        .map(|name| rayservice(name, &[(QUEUE_LABEL, QUEUE)], 1))
        .collect();
    cluster.ok(
        &["create", "-n", &ns.name, "-f", "-"],
        Some(&yaml.join("---\n")),
    );
    for service in &services {
        wait_for(&format!("a running child of RayService {service}"), || {
            children(&cluster, &ns.name, "RayService", service)
                .iter()
                .any(|rc| !suspended(rc))
                .then_some(())
        });
    }
    let after = owner_meters(&webhook);
    eprintln!("owner meters before {before:?}, after {after:?}");
    for service in &services {
        let warned = owner_warnings(&cluster, service);
        assert!(
            warned.is_empty(),
            "a child of RayService {service} was warned about: {warned:#?}"
        );
    }
    assert_eq!(
        after.fallbacks, before.fallbacks,
        "an owner reference was trusted without a check"
    );
    assert_eq!(after.failed, before.failed, "a live owner read failed");
}

/// A RayCronJob in the shape of KubeRay v1.6's sample
/// (`config/samples/ray-cronjob.sample.yaml`), runs every [`SCHEDULE`].
fn raycronjob(name: &str, labels: &[(&str, &str)]) -> String {
    format!(
        "apiVersion: ray.io/v1\nkind: RayCronJob\n{}spec:\n  schedule: {SCHEDULE:?}\n  jobTemplate:\n    \
         entrypoint: python -c 'print(1)'\n    shutdownAfterJobFinishes: true\n    ttlSecondsAfterFinished: 600\n    \
         rayClusterSpec:\n{}",
        metadata(name, labels, &[]),
        cluster_spec(6, 1)
    )
}

/// The first run of RayCronJob NAME, then the cron job suspended (no more runs).
fn first_run(cluster: &Cluster, ns: &str, name: &str) -> Value {
    let run = wait_for(&format!("a run of RayCronJob {name}"), || {
        cluster
            .list(ns, "rayjobs")
            .into_iter()
            .find(|job| owned_by(job, "RayCronJob", name))
    });
    cluster.ok(
        &[
            "patch",
            "-n",
            ns,
            "raycronjob",
            name,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
        None,
    );
    run
}

/// A RayCronJob labelled with a queue: its run, created by the operator,
/// carries the label (ours: KubeRay sets only `ray.io/cronjob-name`) and is
/// suspended and queued: a Workload in that queue, pending without quota,
/// admitted (and the run unsuspended) with it. Without our label the run
/// would go to the e2e webhook's `--default-queue`, `user-queue`.
#[test]
fn a_labelled_raycronjobs_runs_carry_its_queue_and_are_queued() {
    let cluster = Cluster::get();
    aware_webhook();
    let ns = cluster.namespace("cron");
    let crons = [("cron-pending", EMPTY_QUEUE), ("cron-admitted", QUEUE)];
    for (name, queue) in crons {
        cluster
            .create(&ns.name, &raycronjob(name, &[(QUEUE_LABEL, queue)]))
            .unwrap();
    }
    for (name, queue) in crons {
        let run = first_run(&cluster, &ns.name, name);
        let labels = &run["metadata"]["labels"];
        assert_eq!(labels[QUEUE_LABEL], queue, "the run's queue label: {run}");
        assert_eq!(
            labels["ray.io/cronjob-name"], name,
            "KubeRay's own label: {run}"
        );
        let run_name = run["metadata"]["name"].as_str().unwrap().to_owned();
        let workload = cluster.workload_of(&ns.name, "RayJob", &run_name);
        assert_eq!(workload["spec"]["queueName"], queue, "{workload}");
        if queue == EMPTY_QUEUE {
            let pending = wait_for("the run's Workload pending (QuotaReserved False)", || {
                let w = cluster.workload_of(&ns.name, "RayJob", &run_name);
                let reserved = condition(&w, "QuotaReserved")?;
                (reserved["status"] == "False").then_some(w)
            });
            assert!(!is_true(&pending, "Admitted"), "{pending}");
            let stored = cluster.get_json(&ns.name, "rayjob", &run_name).unwrap();
            assert!(suspended(&stored), "the run waits, suspended: {stored}");
        } else {
            wait_for(
                "the run's Workload admitted and the run unsuspended",
                || {
                    let w = cluster.workload_of(&ns.name, "RayJob", &run_name);
                    let job = cluster.get_json(&ns.name, "rayjob", &run_name)?;
                    (is_true(&w, "Admitted") && !suspended(&job)).then_some(())
                },
            );
        }
    }
}
