//! The AdmissionReview bodies every benchmark sends: KubeRay's own samples and
//! this repository's fixtures, wrapped the way kube-apiserver wraps a
//! `kubectl apply` (client-side apply, so the object carries its
//! `last-applied-configuration` annotation, as most objects in a cluster do).

use kueue_ray_webhook::admission::{ReviewRequest, Webhook};
use kueue_ray_webhook::policy::{Operation, RayKind};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// KubeRay's sample manifests, shared beside the repository (see its SOURCE.md).
pub const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples/kuberay");
/// This repository's benchmark fixtures.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fixtures");

const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One request body and where it goes.
#[derive(Clone, Debug)]
pub struct Body {
    /// Short, stable name used in tables, JSON and Criterion ids.
    pub name: &'static str,
    /// The webhook that does the work for this request: the mutating one for
    /// CREATE (it defaults, then validates), the validating one for UPDATE.
    pub webhook: Webhook,
    /// The AdmissionReview, serialised as the apiserver sends it.
    pub bytes: Vec<u8>,
    /// `request.uid`, echoed in every well-formed answer.
    pub uid: String,
    /// A path other than `/mutate` or `/validate` (the peer benchmark sends
    /// the same bytes to Kueue's per-kind paths, which ours also serves).
    pub route: Option<&'static str>,
}

impl Body {
    /// The request path, with the query string the apiserver appends.
    pub fn path(&self) -> &'static str {
        if let Some(route) = self.route {
            return route;
        }
        match self.webhook {
            Webhook::Mutate => "/mutate?timeout=10s",
            Webhook::Validate => "/validate?timeout=10s",
        }
    }
}

/// Every body, smallest first: two KubeRay RayCluster samples, KubeRay's
/// Kueue RayJob sample, the RayService fixture as a CREATE and as an UPDATE
/// (object and oldObject), and a denial.
pub fn all() -> Result<Vec<Body>, String> {
    let samples = Path::new(SAMPLES);
    if !samples.is_dir() {
        return Err(format!(
            "the KubeRay samples are missing: {} is not a directory (the benchmarks \
             need the shared/ folder beside the repository, see its SOURCE.md)",
            samples.display()
        ));
    }
    let fixtures = Path::new(FIXTURES);
    let small = with_queue(load(&samples.join("ray-cluster.sample.yaml"))?, "research");
    let complete = with_queue(
        load(&samples.join("ray-cluster.complete.yaml"))?,
        "research",
    );
    let job = with_queue(
        load(&samples.join("ray-job.kueue-toy-sample.yaml"))?,
        "research",
    );
    let service = load(&fixtures.join("rayservice-7-groups.yaml"))?;
    let denied = load(&fixtures.join("raycluster-8-groups-autoscaling.yaml"))?;

    let mut scaled = service.clone();
    if let Some(replicas) = scaled.pointer_mut("/spec/rayClusterConfig/workerGroupSpecs/0/replicas")
    {
        *replicas = json!(4);
    }
    Ok(vec![
        create("small", small, 1),
        create("complete", complete, 2),
        create("rayjob", job, 6),
        create("rayservice-7g", service.clone(), 3),
        update("update-rayservice", service, scaled, 4),
        create("denied-8g-autoscaling", denied, 5),
    ])
}

/// Reads the first RayCluster, RayService or RayJob of a (possibly multi-document) YAML file.
pub fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if matches!(
            value["kind"].as_str(),
            Some("RayCluster" | "RayService" | "RayJob")
        ) {
            return Ok(value);
        }
    }
    Err(format!(
        "{}: no RayCluster, RayService or RayJob in it",
        path.display()
    ))
}

fn with_queue(mut object: Value, queue: &str) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(QUEUE_LABEL.into(), json!(queue));
        }
    }
    object
}

/// The object as stored by the apiserver after `kubectl apply`: server-set
/// metadata and the applied manifest in the last-applied annotation.
fn as_applied(object: Value, generation: u64) -> Value {
    let applied = object.to_string() + "\n";
    let mut object = object;
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".into(), json!("ml"));
        metadata.insert("uid".into(), json!("5f0c2a4e-9a63-4b1e-8f3a-0d6c1b7e2a91"));
        metadata.insert("generation".into(), json!(generation));
        metadata.insert("creationTimestamp".into(), json!("2026-11-25T20:00:00Z"));
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(LAST_APPLIED.into(), json!(applied));
        }
    }
    object
}

/// The review kube-apiserver sends for `kubectl apply` by a user in a group,
/// built by the library's `ReviewRequest`, with the apply's options added.
fn review(uid: &str, operation: Operation, object: &Value, old: Option<&Value>) -> Value {
    let kind = object["kind"]
        .as_str()
        .and_then(RayKind::named)
        .unwrap_or(RayKind::RayCluster);
    let mut review = ReviewRequest {
        uid,
        namespace: "ml",
        old_object: old,
        username: "alice@example.com",
        ..ReviewRequest::new(kind, operation, Some(object))
    }
    .to_json();
    let request = &mut review["request"];
    request["userInfo"]["groups"] = json!(["system:authenticated", "ml-engineers"]);
    request["options"]["fieldManager"] = json!("kubectl-client-side-apply");
    request["options"]["fieldValidation"] = json!("Strict");
    review
}

fn uid(n: u8) -> String {
    format!("0b1e2c3d-4f50-4617-8829-3a4b5c6d7e{n:02x}")
}

fn create(name: &'static str, object: Value, n: u8) -> Body {
    let uid = uid(n);
    let bytes = review(&uid, Operation::Create, &as_applied(object, 1), None)
        .to_string()
        .into_bytes();
    Body {
        name,
        webhook: Webhook::Mutate,
        bytes,
        uid,
        route: None,
    }
}

fn update(name: &'static str, old: Value, new: Value, n: u8) -> Body {
    let uid = uid(n);
    let (old, new) = (as_applied(old, 1), as_applied(new, 2));
    let bytes = review(&uid, Operation::Update, &new, Some(&old))
        .to_string()
        .into_bytes();
    Body {
        name,
        webhook: Webhook::Validate,
        bytes,
        uid,
        route: None,
    }
}

/// Checks that `answer` is a well-formed AdmissionReview answer to `body`.
pub fn check_answer(body: &Body, answer: &[u8]) -> Result<(), String> {
    let review: Value = serde_json::from_slice(answer)
        .map_err(|e| format!("{}: answer is not JSON: {e}", body.name))?;
    let well_formed = review["apiVersion"] == "admission.k8s.io/v1"
        && review["kind"] == "AdmissionReview"
        && review["response"]["uid"] == body.uid.as_str()
        && review["response"]["allowed"].is_boolean();
    if well_formed {
        Ok(())
    } else {
        let shown: String = String::from_utf8_lossy(answer).chars().take(300).collect();
        Err(format!(
            "{}: not an AdmissionReview answer to uid {}: {shown}",
            body.name, body.uid
        ))
    }
}

/// Where benchmark results go: `target/bench/`.
pub fn output_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("bench")
}

/// Cores, CPU model and load average, to put beside the numbers (a busy
/// shared machine moves absolute times; the ratios hold better).
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|line| {
        let (_, model) = line.strip_prefix("model name")?.split_once(':')?;
        Some(model.trim().to_owned())
    });
    let cpus = std::thread::available_parallelism().map(usize::from).ok();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    json!({ "cpus": cpus, "cpu_model": model, "loadavg_1_5_15": load.join(" ") })
}
