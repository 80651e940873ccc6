//! The real KubeRay sample manifests (../shared/samples/kuberay, see its
//! SOURCE.md), each RayCluster, RayService, RayJob and RayCronJob given a queue label and
//! sent as the CREATE review kube-apiserver would send, to the real server over TLS.

mod common;
mod offline_support;

use base64::Engine as _;
use common::{CertDir, Client, Server, http11_config, review};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const QUEUE: &str = "user-queue";
const QUEUE_KEY: &str = "kueue.x-k8s.io/queue-name";

/// What each sample must get, from SOURCE.md's table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Admitted with `spec.suspend: true` added.
    Suspended,
    /// Admitted unchanged (a RayService in `raycluster` mode).
    Unchanged,
    /// Denied: the in-tree autoscaler is on.
    AutoscalingDenied,
    /// A RayJob denied because it leaves `shutdownAfterJobFinishes` unset
    /// (most KubeRay samples do): Kueue would never get its quota back.
    /// Admitted (and suspended) once it is set to true.
    ShutdownUnsetDenied,
    /// A RayJob on an existing cluster (`clusterSelector`): admitted
    /// unchanged, with a warning, never suspended (KubeRay cannot suspend it).
    LeftRunning,
    /// A RayJob with `deletionStrategy.deletionRules` and
    /// `shutdownAfterJobFinishes` unset: denied at both. Admitted (and
    /// suspended) once the rules go and shutdown is set to true.
    DeletionRulesDenied,
    /// A RayCronJob: never patched. Served without API access, its queue
    /// label never reaches its runs: a warning at the label, a denial there
    /// with --deny-unqueued-cron-runs.
    CronLabelNotCarried,
}

const EXPECTED: &[(&str, &str, Expect)] = &[
    ("ray-cluster.sample.yaml", "RayCluster", Expect::Suspended),
    ("ray-cluster.complete.yaml", "RayCluster", Expect::Suspended),
    (
        "ray-cluster.autoscaler.yaml",
        "RayCluster",
        Expect::AutoscalingDenied,
    ),
    (
        "ray-cluster.autoscaler-v2.yaml",
        "RayCluster",
        Expect::AutoscalingDenied,
    ),
    (
        "ray-cluster-label-selector.yaml",
        "RayCluster",
        Expect::AutoscalingDenied,
    ),
    (
        "ray-cluster.tpu-v6e-16-multihost.yaml",
        "RayCluster",
        Expect::Suspended,
    ),
    (
        "ray-cluster.custom-head-service.yaml",
        "RayCluster",
        Expect::Suspended,
    ),
    ("ray-service.sample.yaml", "RayService", Expect::Unchanged),
    (
        "ray-service.incremental-upgrade.yaml",
        "RayService",
        Expect::AutoscalingDenied,
    ),
    (
        "v1.4.2/ray-service.sample.yaml",
        "RayService",
        Expect::Unchanged,
    ),
    (
        "v1.2.2/ray-cluster.heterogeneous.yaml",
        "RayCluster",
        Expect::Suspended,
    ),
    ("ray-job.sample.yaml", "RayJob", Expect::ShutdownUnsetDenied),
    ("ray-job.kueue-toy-sample.yaml", "RayJob", Expect::Suspended),
    (
        "ray-job.sidecar-mode.yaml",
        "RayJob",
        Expect::ShutdownUnsetDenied,
    ),
    (
        "ray-job.use-existing-raycluster.yaml",
        "RayJob",
        Expect::LeftRunning,
    ),
    (
        "ray-job.deletion-rules.yaml",
        "RayJob",
        Expect::DeletionRulesDenied,
    ),
    ("ray-job.shutdown.yaml", "RayJob", Expect::Suspended),
    (
        "ray-cronjob.sample.yaml",
        "RayCronJob",
        Expect::CronLabelNotCarried,
    ),
];

/// The samples (a test that reads them is ignored without `../shared` outside CI).
fn samples_dir() -> PathBuf {
    offline_support::samples()
}

/// Every `ray.io` RayCluster, RayService, RayJob or RayCronJob document of `file`, with a queue label.
fn ray_objects(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .filter(|doc| {
            doc["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("ray.io/"))
                && matches!(
                    doc["kind"].as_str(),
                    Some("RayCluster" | "RayService" | "RayJob" | "RayCronJob")
                )
        })
        .map(|mut doc| {
            let labels = doc["metadata"]
                .as_object_mut()
                .unwrap()
                .entry("labels")
                .or_insert_with(|| json!({}));
            labels[QUEUE_KEY] = json!(QUEUE);
            doc
        })
        .collect()
}

fn decoded_patch(response: &Value) -> Option<Value> {
    let patch = response.get("patch")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

async fn admit(client: &mut Client, path: &str, object: &Value, uid: &str) -> Value {
    let body = serde_json::to_vec(&review(uid, "CREATE", Some(object.clone()), None)).unwrap();
    let reply = client.post(path, body).await.unwrap();
    common::assert_review_answer(&reply, uid, path.starts_with("/mutate"))
}

#[tokio::test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
async fn every_sample_gets_its_expected_verdict() {
    common::install_crypto_provider();
    let dir = samples_dir();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &[]);
    let service_mode = Server::start(
        &certs.cert(),
        &certs.key(),
        &["--rayservice-workload", "rayservice"],
    );
    let config = http11_config(&certs.ca.cert_pem);
    // One keep-alive connection per server serves every review, as the apiserver's pool does.
    // With Kueue's RayJob integration off, RayJobs pass untouched.
    let job_cluster_mode = Server::start(
        &certs.cert(),
        &certs.key(),
        &["--rayjob-workload", "raycluster"],
    );
    let mut client = Client::connect(server.addr, config.clone()).await.unwrap();
    let mut service_client = Client::connect(service_mode.addr, config.clone())
        .await
        .unwrap();
    let deny_cron = Server::start(&certs.cert(), &certs.key(), &["--deny-unqueued-cron-runs"]);
    let mut job_cluster_client = Client::connect(job_cluster_mode.addr, config.clone())
        .await
        .unwrap();
    let mut deny_cron_client = Client::connect(deny_cron.addr, config.clone())
        .await
        .unwrap();
    let with_default = Server::start(
        &certs.cert(),
        &certs.key(),
        &["--default-queue", "fallback"],
    );
    let mut default_client = Client::connect(with_default.addr, config).await.unwrap();

    for (i, (file, kind, expect)) in EXPECTED.iter().enumerate() {
        let objects = ray_objects(&dir.join(file));
        assert_eq!(objects.len(), 1, "{file}: expected one {kind}");
        let object = &objects[0];
        assert_eq!(object["kind"], *kind, "{file}");
        let resource = kind.to_lowercase();
        let uid = format!("sample-{i}");

        let mutated = admit(
            &mut client,
            &format!("/mutate-ray-io-v1-{resource}"),
            object,
            &uid,
        )
        .await;
        let validated = admit(
            &mut client,
            &format!("/validate-ray-io-v1-{resource}"),
            object,
            &uid,
        )
        .await;
        let field = match *kind {
            "RayService" => "spec.rayClusterConfig.enableInTreeAutoscaling",
            "RayJob" => "spec.rayClusterSpec.enableInTreeAutoscaling",
            _ => "spec.enableInTreeAutoscaling",
        };
        if *kind == "RayJob" || *kind == "RayCronJob" {
            let path = format!("/mutate-ray-io-v1-{resource}");
            let response = admit(&mut job_cluster_client, &path, object, &uid).await;
            assert_eq!(response["allowed"], true, "{file}: {response}");
            assert!(response.get("patch").is_none(), "{file}: {response}");
            assert!(response.get("warnings").is_none(), "{file}: {response}");
        }
        match expect {
            Expect::AutoscalingDenied => {
                for response in [&mutated, &validated] {
                    assert_eq!(response["allowed"], false, "{file}: {response}");
                    assert_eq!(response["status"]["code"], 403, "{file}");
                    let causes = response["status"]["details"]["causes"].as_array().unwrap();
                    assert_eq!(causes.len(), 1, "{file}: {causes:?}");
                    assert_eq!(causes[0]["field"], field, "{file}");
                    assert!(
                        response.get("patch").is_none(),
                        "{file}: a denial carries no patch"
                    );
                }
            }
            Expect::Suspended => {
                assert_eq!(mutated["allowed"], true, "{file}: {mutated}");
                assert_eq!(
                    decoded_patch(&mutated),
                    Some(json!([{"op": "add", "path": "/spec/suspend", "value": true}])),
                    "{file}"
                );
                assert!(
                    mutated["warnings"][0].as_str().unwrap().contains(QUEUE),
                    "{file}"
                );
                assert_eq!(validated["allowed"], true, "{file}: {validated}");
                // The patched object passes both webhooks unchanged.
                let mut patched = object.clone();
                let patch: json_patch::Patch =
                    serde_json::from_value(decoded_patch(&mutated).unwrap()).unwrap();
                json_patch::patch(&mut patched, &patch).unwrap();
                let again = admit(
                    &mut client,
                    &format!("/mutate-ray-io-v1-{resource}"),
                    &patched,
                    &uid,
                )
                .await;
                assert_eq!(again["allowed"], true, "{file}");
                assert!(
                    again.get("patch").is_none(),
                    "{file}: not idempotent: {again}"
                );
            }
            Expect::ShutdownUnsetDenied => {
                for response in [&mutated, &validated] {
                    assert_eq!(response["allowed"], false, "{file}: {response}");
                    let causes = response["status"]["details"]["causes"].as_array().unwrap();
                    assert_eq!(causes.len(), 1, "{file}: {causes:?}");
                    assert_eq!(
                        causes[0]["field"], "spec.shutdownAfterJobFinishes",
                        "{file}"
                    );
                }
                // Set, the job is admitted and suspended.
                let mut fixed = object.clone();
                fixed["spec"]["shutdownAfterJobFinishes"] = json!(true);
                let path = format!("/mutate-ray-io-v1-{resource}");
                let response = admit(&mut client, &path, &fixed, &uid).await;
                assert_eq!(response["allowed"], true, "{file}: {response}");
                assert_eq!(
                    decoded_patch(&response),
                    Some(json!([{"op": "add", "path": "/spec/suspend", "value": true}])),
                    "{file}"
                );
            }
            Expect::DeletionRulesDenied => {
                for response in [&mutated, &validated] {
                    assert_eq!(response["allowed"], false, "{file}: {response}");
                    let causes = response["status"]["details"]["causes"].as_array().unwrap();
                    let fields: Vec<&str> = causes
                        .iter()
                        .map(|c| c["field"].as_str().unwrap())
                        .collect();
                    assert_eq!(
                        fields,
                        [
                            "spec.shutdownAfterJobFinishes",
                            "spec.deletionStrategy.deletionRules"
                        ],
                        "{file}"
                    );
                }
                // Without the rules and with shutdown set, the job is admitted and suspended.
                let mut fixed = object.clone();
                fixed["spec"]["shutdownAfterJobFinishes"] = json!(true);
                fixed["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("deletionStrategy");
                let path = format!("/mutate-ray-io-v1-{resource}");
                let response = admit(&mut client, &path, &fixed, &uid).await;
                assert_eq!(
                    decoded_patch(&response),
                    Some(json!([{"op": "add", "path": "/spec/suspend", "value": true}])),
                    "{file}: {response}"
                );
            }
            Expect::LeftRunning => {
                assert_eq!(mutated["allowed"], true, "{file}: {mutated}");
                assert!(mutated.get("patch").is_none(), "{file}: {mutated}");
                let warning = mutated["warnings"][0].as_str().unwrap();
                assert!(warning.contains("not suspended"), "{file}: {warning}");
                assert_eq!(validated["allowed"], true, "{file}: {validated}");
            }
            Expect::CronLabelNotCarried => {
                let label = format!("metadata.labels[{QUEUE_KEY}]");
                for response in [&mutated, &validated] {
                    assert_eq!(response["allowed"], true, "{file}: {response}");
                    assert!(response.get("patch").is_none(), "{file}: {response}");
                    let warnings = response["warnings"].as_array().unwrap();
                    assert_eq!(warnings.len(), 1, "{file}: {response}");
                    let warning = warnings[0].as_str().unwrap();
                    assert!(
                        warning.starts_with(&label) && warning.contains("--api-access"),
                        "{file}: {warning}"
                    );
                }
                // With a default queue its runs are queued (and suspended) by
                // it: the RayCronJob itself is still not patched.
                for webhook in ["mutate", "validate"] {
                    let path = format!("/{webhook}-ray-io-v1-{resource}");
                    let response = admit(&mut default_client, &path, object, &uid).await;
                    assert_eq!(response["allowed"], true, "{file}: {response}");
                    assert!(response.get("patch").is_none(), "{file}: {response}");
                    let warning = response["warnings"][0].as_str().unwrap();
                    assert!(
                        warning.contains("queued by --default-queue \"fallback\" instead"),
                        "{file}: {warning}"
                    );
                }
                for webhook in ["mutate", "validate"] {
                    let path = format!("/{webhook}-ray-io-v1-{resource}");
                    let response = admit(&mut deny_cron_client, &path, object, &uid).await;
                    assert_eq!(response["allowed"], false, "{file}: {response}");
                    assert_eq!(response["status"]["code"], 403, "{file}");
                    let causes = response["status"]["details"]["causes"].as_array().unwrap();
                    assert_eq!(causes.len(), 1, "{file}: {causes:?}");
                    assert_eq!(causes[0]["field"], label.as_str(), "{file}");
                }
            }
            Expect::Unchanged => {
                assert_eq!(mutated["allowed"], true, "{file}: {mutated}");
                assert!(mutated.get("patch").is_none(), "{file}: {mutated}");
                assert_eq!(validated["allowed"], true, "{file}");
                // In rayservice mode, Kueue admits the RayService itself: it is suspended.
                let path = format!("/mutate-ray-io-v1-{resource}");
                let response = admit(&mut service_client, &path, object, &uid).await;
                assert_eq!(
                    decoded_patch(&response),
                    Some(
                        json!([{"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true}])
                    ),
                    "{file}"
                );
            }
        }
    }
}

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn the_expected_table_covers_every_ray_sample() {
    let dir = samples_dir();
    let mut found = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml")
                && !ray_objects(&path).is_empty()
            {
                found.push(
                    path.strip_prefix(&dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    let mut expected: Vec<String> = EXPECTED.iter().map(|(f, _, _)| f.to_string()).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "a RayCluster/RayService/RayJob/RayCronJob sample without an expected verdict"
    );
}

/// What `check` says of each labelled sample under Kueue v0.19 and v0.20:
/// the verdict and the violated fields.
const ADMITTED: &[&str] = &[];
const CLUSTER_AUTOSCALING: &[&str] = &["spec.enableInTreeAutoscaling"];
const SHUTDOWN: &[&str] = &["spec.shutdownAfterJobFinishes"];
const UPGRADE: &[&str] = &["spec.upgradeStrategy"];

const BY_RELEASE: &[offline_support::ByRelease] = &[
    ("ray-cluster.sample.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.complete.yaml", ADMITTED, ADMITTED),
    (
        "ray-cluster.autoscaler.yaml",
        CLUSTER_AUTOSCALING,
        CLUSTER_AUTOSCALING,
    ),
    (
        "ray-cluster.autoscaler-v2.yaml",
        CLUSTER_AUTOSCALING,
        CLUSTER_AUTOSCALING,
    ),
    (
        "ray-cluster-label-selector.yaml",
        CLUSTER_AUTOSCALING,
        CLUSTER_AUTOSCALING,
    ),
    ("ray-cluster.tpu-v6e-16-multihost.yaml", ADMITTED, ADMITTED),
    ("ray-cluster.custom-head-service.yaml", ADMITTED, ADMITTED),
    // v0.20: the strategy is unset, so KubeRay upgrades with zero downtime.
    ("ray-service.sample.yaml", ADMITTED, UPGRADE),
    (
        "ray-service.incremental-upgrade.yaml",
        &["spec.rayClusterConfig.enableInTreeAutoscaling"],
        &[
            "spec.rayClusterConfig.enableInTreeAutoscaling",
            "spec.upgradeStrategy",
        ],
    ),
    ("v1.4.2/ray-service.sample.yaml", ADMITTED, UPGRADE),
    ("v1.2.2/ray-cluster.heterogeneous.yaml", ADMITTED, ADMITTED),
    ("ray-job.sample.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.kueue-toy-sample.yaml", ADMITTED, ADMITTED),
    ("ray-job.sidecar-mode.yaml", SHUTDOWN, SHUTDOWN),
    ("ray-job.use-existing-raycluster.yaml", ADMITTED, ADMITTED),
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
    ("ray-job.shutdown.yaml", ADMITTED, ADMITTED),
    // Checked with --cron-runs-labelled: its runs carry its label and pass
    // the RayJob rules (shutdownAfterJobFinishes: true).
    ("ray-cronjob.sample.yaml", ADMITTED, ADMITTED),
];

#[test]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
fn check_gives_every_sample_its_verdict_under_kueue_v0_19_and_v0_20() {
    let dir = samples_dir();
    let labelled = tempfile::tempdir().unwrap();
    for (file, _, _) in BY_RELEASE {
        offline_support::write_labelled(labelled.path(), file, &ray_objects(&dir.join(file)));
    }
    offline_support::check_by_release(labelled.path(), BY_RELEASE);
}

#[test]
fn the_release_table_covers_the_expected_table() {
    let mut by_release: Vec<&str> = BY_RELEASE.iter().map(|(f, _, _)| *f).collect();
    let mut expected: Vec<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();
    by_release.sort();
    expected.sort();
    assert_eq!(by_release, expected);
}
