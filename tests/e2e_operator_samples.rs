//! `check --kueue-version v0.19` and `v0.20` over every sample of the
//! ray-operator module the end-to-end wing pins (e2e/assets/go.mod,
//! `config/samples`), each Ray object given a queue label: every verdict
//! and every denied field must match [`TABLE`], and the table must name
//! every sample that holds a Ray object. The samples that change verdict
//! between the two releases are named in docs/policy.md with the reason.
//!
//! No cluster is needed, but the module comes from the Go module cache
//! (`go mod download`, verified against e2e/assets/go.sum), so this runs
//! with the end-to-end tests (`make e2e`, `test = false` here), which need
//! Go anyway.

mod e2e_support;
mod offline_support;

use e2e_support::{documents, operator_module_dir};
use offline_support::ByRelease;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";

const ADMITTED: &[&str] = &[];
const AUTOSCALING: &[&str] = &["spec.enableInTreeAutoscaling"];
const SHUTDOWN: &[&str] = &["spec.shutdownAfterJobFinishes"];
const UPGRADE: &[&str] = &["spec.upgradeStrategy"];

/// ray-operator v1.6.0. v0.20 denies every RayService that leaves
/// `spec.upgradeStrategy` unset: KubeRay then upgrades it with zero
/// downtime (a second RayCluster beside the admitted one), which Kueue
/// v0.20 refuses for a RayService that is not elastic.
const TABLE: &[ByRelease] = &[
    (
        "pytorch-mnist/ray-job.pytorch-mnist.yaml",
        SHUTDOWN,
        SHUTDOWN,
    ),
    (
        "pytorch-resnet-image-classifier/ray-job.pytorch-image-classifier.yaml",
        ADMITTED,
        ADMITTED,
    ),
    (
        "pytorch-text-classifier/ray-job.pytorch-distributed-training.yaml",
        ADMITTED,
        ADMITTED,
    ),
    ("ray-cluster-label-selector.yaml", AUTOSCALING, AUTOSCALING),
    (
        "ray-cluster-resource-isolation-with-overrides.gke.yaml",
        ADMITTED,
        ADMITTED,
    ),
    (
        "ray-cluster-resource-isolation.gke.yaml",
        ADMITTED,
        ADMITTED,
    ),
    ("ray-cluster.auth-manual.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.auth.secret-ref.yaml", AUTOSCALING, AUTOSCALING),
    ("ray-cluster.auth.yaml", AUTOSCALING, AUTOSCALING),
    ("ray-cluster.autoscaler-v2.yaml", AUTOSCALING, AUTOSCALING),
    ("ray-cluster.autoscaler.yaml", AUTOSCALING, AUTOSCALING),
    ("ray-cluster.complete.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.custom-head-service.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.deprecate-gcs-ft.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.embed-grafana.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.external-redis-uri.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.external-redis.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.fluentbit.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.gke-bucket.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.head-command.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.kai-gpu-sharing.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.kai-scheduler.yaml", ADMITTED, ADMITTED),
    (
        "ray-cluster.kubernetes.auth-manual.yaml",
        ADMITTED,
        ADMITTED,
    ),
    ("ray-cluster.kubernetes.auth.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.overwrite-command.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.persistent-redis.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.py-spy.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.sample.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.scheduler-plugins.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.separate-ingress.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tls.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tpu-v4-multihost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tpu-v4-singlehost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tpu-v6e-16-multihost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tpu-v6e-256-multihost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.tpu-v6e-singlehost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.uv.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.verl.yaml", ADMITTED, ADMITTED),
    (
        "ray-cluster.volcano-scheduler-queue.yaml",
        ADMITTED,
        ADMITTED,
    ),
    ("ray-cluster.volcano-scheduler.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.yunikorn-scheduler.yaml", ADMITTED, ADMITTED),
    // Checked with --cron-runs-labelled, as the Deployment serves: its runs
    // carry its label and pass the RayJob rules.
    ("ray-cronjob.sample.yaml", ADMITTED, ADMITTED),
    (
        "ray-data-image-resize/ray-data-image-resize-gcsfusecsi-job.yaml",
        ADMITTED,
        ADMITTED,
    ),
    (
        "ray-data-image-resize/ray-job.image-resize.yaml",
        SHUTDOWN,
        SHUTDOWN,
    ),
    ("ray-job.batch-inference.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.custom-head-svc.yaml", SHUTDOWN, SHUTDOWN),
    (
        "ray-job.deletion-rules.yaml",
        &[
            "spec.shutdownAfterJobFinishes",
            "spec.deletionStrategy.deletionRules",
        ],
        &[
            "spec.shutdownAfterJobFinishes",
            "spec.deletionStrategy.deletionRules",
        ],
    ),
    ("ray-job.interactive-mode.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.kueue-toy-sample.yaml", ADMITTED, ADMITTED),
    ("ray-job.light-weight-submitter.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.modin.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.resources.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.sample.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.shutdown.yaml", ADMITTED, ADMITTED),
    ("ray-job.sidecar-mode.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.tpu-v6e-16-multihost.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.tpu-v6e-256-multihost.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.tpu-v6e-singlehost.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.use-existing-raycluster.yaml", ADMITTED, ADMITTED),
    ("ray-job.volcano-scheduler-queue.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.yunikorn-scheduler.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-service.custom-serve-service.yaml", ADMITTED, UPGRADE),
    ("ray-service.deepseek.yaml", ADMITTED, UPGRADE),
    ("ray-service.different-port.yaml", ADMITTED, UPGRADE),
    ("ray-service.high-availability.yaml", ADMITTED, UPGRADE),
    (
        "ray-service.incremental-upgrade.yaml",
        &["spec.rayClusterConfig.enableInTreeAutoscaling"],
        &[
            "spec.rayClusterConfig.enableInTreeAutoscaling",
            "spec.upgradeStrategy",
        ],
    ),
    ("ray-service.llm-serve.yaml", ADMITTED, UPGRADE),
    ("ray-service.mobilenet.yaml", ADMITTED, UPGRADE),
    ("ray-service.no-ray-serve-replica.yaml", ADMITTED, UPGRADE),
    ("ray-service.sample.yaml", ADMITTED, UPGRADE),
    ("ray-service.stable-diffusion.yaml", ADMITTED, UPGRADE),
    ("ray-service.text-ml.yaml", ADMITTED, UPGRADE),
    ("ray-service.text-summarizer.yaml", ADMITTED, UPGRADE),
    ("ray-service.tpu-single-host.yaml", ADMITTED, UPGRADE),
    (
        "vllm/ray-service.vllm-tpu-v6e-singlehost.yaml",
        ADMITTED,
        UPGRADE,
    ),
];

/// Every `.yaml` below `dir`, as paths relative to it.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The `ray.io` objects of a sample file, each with the queue label.
fn labelled_ray_objects(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    documents(&text)
        .into_iter()
        .filter(|doc| {
            doc["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("ray.io/"))
        })
        .map(|mut doc| {
            doc["metadata"]["labels"][QUEUE_LABEL] = json!("user-queue");
            doc
        })
        .collect()
}

#[test]
fn check_gives_every_operator_sample_its_verdict_under_kueue_v0_19_and_v0_20() {
    let samples = operator_module_dir().join("config/samples");
    let labelled = tempfile::tempdir().unwrap();
    let mut with_ray_objects = BTreeSet::new();
    for file in yaml_files(&samples) {
        let objects = labelled_ray_objects(&samples.join(&file));
        if objects.is_empty() {
            continue;
        }
        assert_eq!(objects.len(), 1, "{}: one Ray object", file.display());
        offline_support::write_labelled(labelled.path(), &file.to_string_lossy(), &objects);
        with_ray_objects.insert(file.to_string_lossy().into_owned());
    }
    let named: BTreeSet<String> = TABLE.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(
        with_ray_objects, named,
        "TABLE must name exactly the samples that hold a Ray object"
    );

    offline_support::check_by_release(labelled.path(), TABLE);
}
