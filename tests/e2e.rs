//! End to end: the real kube-apiserver (built from e2e/go.mod) calls the
//! release webhook registered through manifests/ (`make e2e`, docs/e2e.md).
//! Everything is driven with the built kubectl, as a user would.
//!
//! Not part of plain `cargo test` (`test = false`): it needs `make e2e-up`.

mod e2e_support;

use e2e_support::{
    Cluster, QUEUE_LABEL, WEBHOOK_DOMAIN, documents, metric_sum, namespace, sample_files,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// Fields the API server sets on every stored object; `check --patched`
/// cannot know them.
const SERVER_SET: [&str; 5] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
];

/// The fields KubeRay v1.6.0's CRD schemas default that `check` does not
/// know (docs/e2e.md lists them): a stored object may have these, with the
/// array indices written `[*]`, beyond `check --patched`. Nothing else may
/// differ.
const CRD_DEFAULTS: [&str; 19] = [
    ".spec.backoffLimit",
    ".spec.headGroupSpec.headService.spec.ports[*].protocol",
    ".spec.headGroupSpec.template.metadata (null dropped)",
    ".spec.headGroupSpec.template.spec.containers[*].ports[*].protocol",
    ".spec.jobTemplate.backoffLimit",
    ".spec.jobTemplate.rayClusterSpec.headGroupSpec.template.spec.containers[*].ports[*].protocol",
    ".spec.jobTemplate.rayClusterSpec.workerGroupSpecs[*].numOfHosts",
    ".spec.jobTemplate.submissionMode",
    ".spec.rayClusterConfig.headGroupSpec.template.spec.containers[*].ports[*].protocol",
    ".spec.rayClusterConfig.workerGroupSpecs[*].numOfHosts",
    ".spec.rayClusterConfig.workerGroupSpecs[*].template.spec.containers[*].ports[*].protocol",
    ".spec.rayClusterSpec.headGroupSpec.template.spec.containers[*].ports[*].protocol",
    ".spec.rayClusterSpec.workerGroupSpecs[*].numOfHosts",
    ".spec.serveService.spec.ports[*].protocol",
    ".spec.submissionMode",
    ".spec.ttlSecondsAfterFinished",
    ".spec.workerGroupSpecs[*].maxReplicas",
    ".spec.workerGroupSpecs[*].numOfHosts",
    ".spec.workerGroupSpecs[*].template.spec.containers[*].ports[*].protocol",
];

#[test]
fn the_shipped_registration_is_accepted_as_written() {
    let cluster = Cluster::up();
    let rendered = cluster.kubectl_ok(
        &[
            "kustomize",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("manifests/base")
                .to_str()
                .unwrap(),
        ],
        None,
    );
    let shipped: Vec<Value> = documents(&rendered)
        .into_iter()
        .filter(|doc| {
            doc["kind"]
                .as_str()
                .unwrap_or("")
                .ends_with("WebhookConfiguration")
        })
        .collect();
    assert_eq!(shipped.len(), 2, "{rendered}");
    for config in shipped {
        let kind = config["kind"].as_str().unwrap().to_lowercase();
        let name = config["metadata"]["name"].as_str().unwrap();
        let stored: Value =
            serde_json::from_str(&cluster.kubectl_ok(&["get", &kind, name, "-o", "json"], None))
                .unwrap();
        let hooks = config["webhooks"].as_array().unwrap();
        assert_eq!(stored["webhooks"].as_array().unwrap().len(), hooks.len());
        for (shipped, stored) in hooks.iter().zip(stored["webhooks"].as_array().unwrap()) {
            for (field, value) in shipped.as_object().unwrap() {
                if field == "clientConfig" {
                    let path = value["service"]["path"].as_str().unwrap();
                    let url = stored["clientConfig"]["url"].as_str().unwrap();
                    assert!(
                        url.starts_with("https://127.0.0.1:") && url.ends_with(path),
                        "{url}"
                    );
                    assert!(stored["clientConfig"].get("service").is_none());
                } else {
                    assert_eq!(&stored[field], value, "{kind} {name}: {field} as shipped");
                }
            }
        }
    }
}

#[test]
fn the_api_server_calls_both_webhooks() {
    let cluster = Cluster::up();
    let ns = namespace(&cluster, "calls");
    let count = |webhook: &str| {
        metric_sum(
            &cluster.webhook_metrics(),
            "kueue_ray_webhook_admission_requests_total",
            &[("webhook", webhook), ("kind", "RayCluster")],
        )
    };
    let (mutate, validate) = (count("mutate"), count("validate"));
    cluster.kubectl_ok(
        &["-n", &ns, "create", "-f", "-"],
        Some(&cluster_yaml("calls", "")),
    );
    assert!(
        count("mutate") > mutate,
        "the mutating webhook was not called"
    );
    assert!(
        count("validate") > validate,
        "the validating webhook was not called"
    );
}

/// A RayCluster with one worker group; `extra` goes under `metadata:`.
fn cluster_yaml(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: {name}
{extra}spec:
  headGroupSpec:
    rayStartParams: {{}}
    template:
      spec:
        containers: [{{name: ray-head, image: rayproject/ray:2.46.0}}]
  workerGroupSpecs:
    - groupName: workers
      replicas: 1
      rayStartParams: {{}}
      template:
        spec:
          containers: [{{name: ray-worker, image: rayproject/ray:2.46.0}}]
"
    )
}

/// Every KubeRay sample's ray.io objects, one at a time: the server-side
/// dry run and the real create give `check`'s verdict, warnings and denial
/// paths, and an admitted object is stored as `check --patched` wrote it
/// (up to server-set fields and the CRD defaults listed in [`CRD_DEFAULTS`]).
#[test]
fn every_sample_is_admitted_as_check_says() {
    let cluster = Cluster::up();
    let served: BTreeSet<String> = cluster
        .kubectl_ok(&["api-resources", "--api-group=ray.io", "-o", "name"], None)
        .lines()
        .map(String::from)
        .collect();
    let work = tempfile::tempdir().unwrap();
    let mut defaults = BTreeSet::new();
    let mut seen = 0;
    let mut failed = Vec::new();
    let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
    for file in sample_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        // Each document as written (kubectl and check read the same bytes).
        for (index, source) in split_documents(&text).into_iter().enumerate() {
            let Some(doc) = documents(&source).into_iter().next() else {
                continue;
            };
            let api_version = doc["apiVersion"].as_str().unwrap_or("");
            if !api_version.starts_with("ray.io/") {
                continue;
            }
            let kind = doc["kind"].as_str().unwrap().to_string();
            let resource = format!("{}s.ray.io", kind.to_lowercase());
            let what = format!("{}#{index} ({kind})", file.display());
            assert!(
                served.contains(&resource),
                "{what}: the pinned KubeRay CRDs do not serve {resource}; pin a KubeRay that does"
            );
            seen += 1;
            // Every sample is tried; the failures are counted at the end
            // (each printed as it happens).
            let once = std::panic::AssertUnwindSafe(|| {
                sample_once(&cluster, &work, &what, &source, &doc, &mut defaults)
            });
            match std::panic::catch_unwind(once) {
                Ok(verdict) => *verdicts.entry(verdict).or_default() += 1,
                Err(_) => failed.push(what),
            }
        }
    }
    eprintln!("{seen} sample objects: {verdicts:?}");
    // The API server's view of our latency (docs/e2e.md), kept with the logs.
    let latency: String = cluster
        .apiserver_metrics()
        .lines()
        .filter(|line| {
            line.starts_with("apiserver_admission_webhook_admission_duration_seconds")
                && line.contains(WEBHOOK_DOMAIN)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        !latency.is_empty(),
        "no admission latency of our webhooks in the API server's /metrics"
    );
    std::fs::write(
        cluster.dir.join("logs/apiserver-webhook-latency.txt"),
        latency,
    )
    .unwrap();
    assert!(
        failed.is_empty(),
        "{} samples failed: {failed:#?}",
        failed.len()
    );
    assert!(seen >= 60, "only {seen} sample objects found");
    let unknown: Vec<_> = defaults
        .iter()
        .filter(|path| !CRD_DEFAULTS.contains(&path.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "CRD defaults not in CRD_DEFAULTS (and docs/e2e.md): {unknown:#?}"
    );
}

/// One sample object through `check`, `kubectl --dry-run=server` and a
/// real create; returns the verdict.
fn sample_once(
    cluster: &Cluster,
    work: &tempfile::TempDir,
    what: &str,
    source: &str,
    doc: &Value,
    defaults: &mut BTreeSet<String>,
) -> String {
    // The sample's own namespace when it names one (`default`), else a new one.
    let ns = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => ns.to_string(),
        None => namespace(cluster, "sample"),
    };
    let dir = work.path().join(format!("{ns}-{}", work_counter()));
    std::fs::create_dir_all(dir.join("patched")).unwrap();
    let manifest = dir.join("object.yaml");
    std::fs::write(&manifest, source).unwrap();
    let manifest = manifest.to_str().unwrap();

    let mut args = vec!["check", "-o", "json", "-n", &ns, "--patched"];
    let patched_dir = dir.join("patched");
    args.push(patched_dir.to_str().unwrap());
    // The sample's namespace has no LocalQueue: an API-aware webhook warns
    // (or denies) the queue label, and `check` is told the same.
    let flags = cluster.check_flags(&dir);
    args.extend(flags.iter().map(String::as_str));
    args.push(manifest);
    let checked = cluster.webhook_binary(&args, None);
    let report: Value = serde_json::from_str(&checked.stdout)
        .unwrap_or_else(|e| panic!("{what}: check -o json: {e}\n{}", checked.stderr));
    // A kind `check` skips (not one this webhook admits, e.g. RayCronJob
    // before its rules) is not reported: the webhook is not called for it, so
    // the server must pass it warning-free and store it as written.
    let skipped = report["summary"]["skipped"] == 1 && report["objects"][0].is_null();
    let object = &report["objects"][0];
    let verdict = match object["verdict"].as_str() {
        Some(verdict) => verdict.to_string(),
        None if skipped => "skipped".to_string(),
        None => panic!("{what}: check reported no verdict: {report:#}"),
    };
    let generated = doc["metadata"].get("generateName").is_some();

    // kubectl apply cannot use generateName; create can.
    let dry_run = if generated {
        cluster.kubectl(
            &["-n", &ns, "create", "--dry-run=server", "-f", manifest],
            None,
        )
    } else {
        cluster.kubectl(
            &["-n", &ns, "apply", "--dry-run=server", "-f", manifest],
            None,
        )
    };
    let created = cluster.kubectl(&["-n", &ns, "create", "-o", "json", "-f", manifest], None);
    for (how, out) in [("dry run", &dry_run), ("create", &created)] {
        if verdict == "denied" {
            assert_ne!(
                out.code, 0,
                "{what}: {how} passed, check denied it: {report:#}"
            );
            assert!(
                out.stderr.contains(WEBHOOK_DOMAIN) && out.stderr.contains("denied the request"),
                "{what}: {how}: the error does not name the webhook:\n{}",
                out.stderr
            );
            for violation in object["violations"].as_array().unwrap() {
                let path = violation["path"].as_str().unwrap();
                assert!(
                    out.stderr.contains(path),
                    "{what}: {how}: {path} missing from:\n{}",
                    out.stderr
                );
            }
        } else {
            assert_eq!(
                out.code, 0,
                "{what}: {how} failed, check said {verdict}:\n{}",
                out.stderr
            );
            if skipped {
                assert!(
                    !out.stderr.contains("Warning:"),
                    "{what}: {how}: a warning for a kind check skips:\n{}",
                    out.stderr
                );
            }
            for warning in object["warnings"].as_array().into_iter().flatten() {
                let line = format!("Warning: {}", warning["message"].as_str().unwrap());
                assert!(
                    out.stderr.lines().any(|l| l == line),
                    "{what}: {how}: no line {line:?} in:\n{}",
                    out.stderr
                );
            }
        }
    }
    if verdict == "denied" {
        return verdict;
    }
    let mut stored: Value = serde_json::from_str(&created.stdout).unwrap();
    let mut patched = if skipped {
        let mut doc = doc.clone();
        doc["metadata"]["namespace"] = Value::String(ns.clone());
        doc
    } else {
        let patched_file = std::fs::read_dir(&patched_dir)
            .unwrap()
            .next()
            .unwrap_or_else(|| panic!("{what}: check --patched wrote nothing"))
            .unwrap()
            .path();
        documents(&std::fs::read_to_string(&patched_file).unwrap()).remove(0)
    };
    let meta = stored["metadata"].as_object_mut().unwrap();
    for field in SERVER_SET {
        meta.remove(field);
    }
    if generated {
        meta.remove("name");
        patched["metadata"].as_object_mut().unwrap().remove("name");
    }
    let mut changed = Vec::new();
    diff("", &patched, &stored, defaults, &mut changed);
    assert!(
        changed.is_empty(),
        "{what}: stored differs from check --patched (removed or changed): {changed:#?}\nstored: {stored:#}"
    );
    verdict
}

fn work_counter() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The documents of a YAML stream as text, split at `---` lines.
fn split_documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    docs
}

/// Walks `expected` (check's) against `actual` (stored): a field only in
/// `actual` goes to `added` (indices as `[*]`), anything removed or changed
/// to `changed`.
fn diff(
    path: &str,
    expected: &Value,
    actual: &Value,
    added: &mut BTreeSet<String>,
    changed: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                match a.get(key) {
                    Some(other) => diff(&here, value, other, added, changed),
                    // The API server drops a null where the schema does not
                    // say nullable (before the webhook sees the object).
                    None if value.is_null() => {
                        added.insert(format!("{here} (null dropped)"));
                    }
                    None => changed.push(format!("{here}: removed (was {value})")),
                }
            }
            for key in a.keys().filter(|key| !e.contains_key(*key)) {
                added.insert(format!("{path}.{key}"));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (x, y) in e.iter().zip(a) {
                diff(&format!("{path}[*]"), x, y, added, changed);
            }
        }
        (e, a) if numbers_equal(e, a) || e == a => {}
        (e, a) => changed.push(format!("{path}: {e} became {a}")),
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

/// What a patch adds survives the CRD's structural schema (no pruning).
#[test]
fn patches_survive_the_crd() {
    let cluster = Cluster::up();
    let ns = namespace(&cluster, "prune");
    // No labels at all: the patch creates metadata.labels.
    cluster.kubectl_ok(
        &["-n", &ns, "create", "-f", "-"],
        Some(&cluster_yaml("bare", "")),
    );
    let stored = cluster.get(&ns, "raycluster", "bare");
    assert_eq!(
        stored["metadata"]["labels"][QUEUE_LABEL], "user-queue",
        "{stored:#}"
    );
    assert_eq!(stored["spec"]["suspend"], true, "{stored:#}");

    let service = format!(
        "apiVersion: ray.io/v1
kind: RayService
metadata:
  name: serve
spec:
  rayClusterConfig:
{}",
        indent(&cluster_spec(), 4)
    );
    cluster.kubectl_ok(&["-n", &ns, "create", "-f", "-"], Some(&service));
    let stored = cluster.get(&ns, "rayservice", "serve");
    assert_eq!(
        stored["metadata"]["labels"][QUEUE_LABEL], "user-queue",
        "{stored:#}"
    );
    assert_eq!(
        stored["spec"]["rayClusterConfig"]["suspend"], true,
        "{stored:#}"
    );

    let job = format!(
        "apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: job
spec:
  entrypoint: python -c 'print(1)'
  shutdownAfterJobFinishes: true
  rayClusterSpec:
{}",
        indent(&cluster_spec(), 4)
    );
    cluster.kubectl_ok(&["-n", &ns, "create", "-f", "-"], Some(&job));
    let stored = cluster.get(&ns, "rayjob", "job");
    assert_eq!(stored["spec"]["suspend"], true, "{stored:#}");

    assert!(
        cluster.webhook_has("--elastic-jobs"),
        "the elastic gates need --elastic-jobs in the webhook's flags (make e2e-up's default)"
    );
    let elastic = cluster_yaml(
        "elastic",
        "  annotations:\n    kueue.x-k8s.io/elastic-job: \"true\"\n",
    )
    .replace(
        "spec:\n  headGroupSpec",
        "spec:\n  enableInTreeAutoscaling: true\n  headGroupSpec",
    );
    cluster.kubectl_ok(&["-n", &ns, "create", "-f", "-"], Some(&elastic));
    let stored = cluster.get(&ns, "raycluster", "elastic");
    let gate = json!([{"name": "kueue.x-k8s.io/elastic-job"}]);
    assert_eq!(
        stored["spec"]["headGroupSpec"]["template"]["spec"]["schedulingGates"], gate,
        "{stored:#}"
    );
    assert_eq!(
        stored["spec"]["workerGroupSpecs"][0]["template"]["spec"]["schedulingGates"], gate,
        "{stored:#}"
    );
}

/// The `spec:` body of [`cluster_yaml`].
fn cluster_spec() -> String {
    let yaml = cluster_yaml("x", "");
    let (_, spec) = yaml.split_once("spec:\n").unwrap();
    spec.to_string()
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|line| format!("{}{line}\n", " ".repeat(by)))
        .collect()
}

/// UPDATE as kubectl sends it (label, patch, apply, annotate): the queue
/// label, priority-class, max-exec-time and elastic-annotation rules hold;
/// the status subresource, finalizer removal and deletion are never blocked.
#[test]
fn updates_follow_the_rules_and_never_block_status_finalizers_or_delete() {
    let cluster = Cluster::up();
    let ns = namespace(&cluster, "update");
    let at = |args: &[&str]| {
        let mut all = vec!["-n", ns.as_str()];
        all.extend_from_slice(args);
        cluster.kubectl(&all, None)
    };
    let denied = |args: &[&str], field: &str| {
        let out = at(args);
        assert_ne!(out.code, 0, "{args:?} passed");
        assert!(
            out.stderr.contains(WEBHOOK_DOMAIN) && out.stderr.contains(field),
            "{args:?}: the error does not name the webhook and {field}:\n{}",
            out.stderr
        );
    };
    let passed = |args: &[&str]| {
        let out = at(args);
        assert_eq!(out.code, 0, "{args:?} failed:\n{}", out.stderr);
    };
    let manifest = cluster_yaml(
        "upd",
        "  labels:\n    kueue.x-k8s.io/queue-name: team-a\n    kueue.x-k8s.io/max-exec-time-seconds: \"600\"\n",
    );
    let out = cluster.kubectl(&["-n", &ns, "apply", "-f", "-"], Some(&manifest));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Suspended (as created): the queue and max-exec-time may change.
    passed(&[
        "label",
        "raycluster",
        "upd",
        "--overwrite",
        &format!("{QUEUE_LABEL}=team-b"),
    ]);
    passed(&[
        "label",
        "raycluster",
        "upd",
        "--overwrite",
        "kueue.x-k8s.io/max-exec-time-seconds=900",
    ]);
    // Kueue admits it.
    passed(&[
        "patch",
        "raycluster",
        "upd",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    // Running: none of these may change.
    denied(
        &[
            "label",
            "raycluster",
            "upd",
            "--overwrite",
            &format!("{QUEUE_LABEL}=team-c"),
        ],
        QUEUE_LABEL,
    );
    denied(
        &[
            "label",
            "raycluster",
            "upd",
            "--overwrite",
            "kueue.x-k8s.io/max-exec-time-seconds=60",
        ],
        "kueue.x-k8s.io/max-exec-time-seconds",
    );
    denied(
        &[
            "label",
            "raycluster",
            "upd",
            "kueue.x-k8s.io/priority-class=high",
        ],
        "kueue.x-k8s.io/priority-class",
    );
    // The same through apply (a three-way merge patch).
    let relabelled = manifest
        .replace("team-a", "team-d")
        .replace("\"600\"", "\"900\"");
    let out = cluster.kubectl(&["-n", &ns, "apply", "-f", "-"], Some(&relabelled));
    assert_ne!(out.code, 0, "apply changed the queue of a running cluster");
    assert!(out.stderr.contains(WEBHOOK_DOMAIN), "{}", out.stderr);
    if cluster.webhook_has("--elastic-jobs") {
        denied(
            &[
                "annotate",
                "raycluster",
                "upd",
                "kueue.x-k8s.io/elastic-job=true",
            ],
            "kueue.x-k8s.io/elastic-job",
        );
    }
    // Never blocked: status, finalizers, delete.
    passed(&[
        "patch",
        "raycluster",
        "upd",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"state":"ready"}}"#,
    ]);
    passed(&[
        "patch",
        "raycluster",
        "upd",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.example.com/hold"]}}"#,
    ]);
    passed(&["delete", "raycluster", "upd", "--wait=false"]);
    passed(&[
        "patch",
        "raycluster",
        "upd",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    e2e_support::poll("the deleted RayCluster to go", || {
        (at(&["get", "raycluster", "upd"]).code != 0).then_some(())
    });
}
