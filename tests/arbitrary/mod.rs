//! Generators shared by the property tests: arbitrary JSON, and realistic
//! AdmissionReviews with arbitrary JSON set at (or removed from) a few places,
//! biased towards the places the rules read.
#![allow(dead_code)] // each test binary uses a different subset

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys the rules read, so that generated objects hit them often.
const KEYS: &[&str] = &[
    "metadata",
    "labels",
    "annotations",
    "kueue.x-k8s.io/queue-name",
    "ownerReferences",
    "apiVersion",
    "kind",
    "controller",
    "deletionTimestamp",
    "name",
    "spec",
    "suspend",
    "workerGroupSpecs",
    "groupName",
    "enableInTreeAutoscaling",
    "rayClusterConfig",
    "kueue.x-k8s.io/elastic-job",
    "kueue.x-k8s.io/priority-class",
    "kueue.x-k8s.io/max-exec-time-seconds",
    "headGroupSpec",
    "template",
    "schedulingGates",
    "rayClusterSpec",
    "clusterSelector",
    "submissionMode",
    "shutdownAfterJobFinishes",
    "deletionStrategy",
    "deletionRules",
    "uid",
    "request",
    "object",
    "oldObject",
    "operation",
    "subResource",
    "group",
    "x",
];

/// Strings that mean something to the policy or the wire format.
const WORDS: &[&str] = &[
    "",
    "true",
    "3600",
    "kueue.x-k8s.io/elastic-job",
    "ray.io",
    "ray.io/v1",
    "RayCluster",
    "RayService",
    "RayJob",
    "K8sJobMode",
    "SidecarMode",
    "submitter",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CONNECT",
    "status",
    "head",
    "Head",
    "user-queue",
    "Bad_Queue",
    "a/b~c",
    "admission.k8s.io/v1",
    "AdmissionReview",
    "2026-01-01T00:00:00Z",
];

pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        proptest::sample::select(WORDS).prop_map(Value::from),
        "[a-zA-Z0-9_./~-]{0,10}".prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            proptest::sample::select(KEYS).prop_map(String::from),
            "[a-z~/]{1,6}"
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn base_object(kind: &str) -> Value {
    let groups: Vec<Value> = (0..3)
        .map(|i| json!({"groupName": format!("g{i}"), "replicas": 1, "template": {"spec": {"containers": [{"name": "w"}]}}}))
        .collect();
    let cluster = json!({"suspend": false, "enableInTreeAutoscaling": false, "workerGroupSpecs": groups,
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "h"}]}}}});
    let job = json!({"rayClusterSpec": cluster, "shutdownAfterJobFinishes": true,
        "entrypoint": "python main.py"});
    let spec = match kind {
        "RayService" => json!({"rayClusterConfig": cluster}),
        "RayJob" => job,
        "RayCronJob" => json!({"schedule": "0 3 * * *", "suspend": false, "jobTemplate": job}),
        _ => cluster,
    };
    json!({"apiVersion": "ray.io/v1", "kind": kind,
        "metadata": {"name": "n", "labels": {"kueue.x-k8s.io/queue-name": "q"},
            "annotations": {"kueue.x-k8s.io/queue-name": "legacy", "kueue.x-k8s.io/elastic-job": "true"},
            "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayService", "name": "o", "uid": "1", "controller": true}]},
        "spec": spec})
}

pub fn base_review(kind: &str, operation: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "operation": operation, "name": "n", "namespace": "ns",
        "kind": {"group": "ray.io", "version": "v1", "kind": kind},
        "resource": {"group": "ray.io", "version": "v1", "resource": kueue_ray_webhook::policy::RayKind::named(kind).map_or("pods", |k| k.plural())},
        "userInfo": {"username": "u"}, "dryRun": false,
        "object": base_object(kind), "oldObject": base_object(kind)}})
}

/// Every JSON pointer inside `value` (objects and arrays, not the root).
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{prefix}/{}", escape(k));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

/// Places the rules read, hit more often than a uniform choice would.
const HOT: &[&str] = &[
    "/request/object",
    "/request/object/metadata",
    "/request/object/metadata/labels",
    "/request/object/metadata/labels/kueue.x-k8s.io~1queue-name",
    "/request/object/metadata/annotations",
    "/request/object/metadata/annotations/kueue.x-k8s.io~1queue-name",
    "/request/object/metadata/ownerReferences",
    "/request/object/metadata/ownerReferences/0/kind",
    "/request/object/metadata/deletionTimestamp",
    "/request/object/spec",
    "/request/object/spec/suspend",
    "/request/object/spec/enableInTreeAutoscaling",
    "/request/object/spec/workerGroupSpecs",
    "/request/object/spec/workerGroupSpecs/0",
    "/request/object/spec/workerGroupSpecs/1/groupName",
    "/request/object/spec/rayClusterConfig",
    "/request/object/spec/rayClusterConfig/suspend",
    "/request/object/spec/rayClusterConfig/workerGroupSpecs",
    "/request/object/spec/rayClusterSpec",
    "/request/object/spec/rayClusterSpec/workerGroupSpecs",
    "/request/object/spec/clusterSelector",
    "/request/object/spec/submissionMode",
    "/request/object/spec/shutdownAfterJobFinishes",
    "/request/object/spec/deletionStrategy",
    "/request/object/spec/jobTemplate",
    "/request/object/spec/jobTemplate/shutdownAfterJobFinishes",
    "/request/object/spec/jobTemplate/rayClusterSpec",
    "/request/object/spec/jobTemplate/rayClusterSpec/enableInTreeAutoscaling",
    "/request/oldObject",
    "/request/oldObject/metadata/labels",
    "/request/uid",
    "/request/kind",
    "/request/operation",
    "/request/subResource",
];

#[derive(Clone, Debug)]
enum Edit {
    /// Set the value at a pointer (when its parent exists).
    Set(Value),
    /// Remove the key or item at a pointer.
    Remove,
}

fn arb_edit() -> impl Strategy<Value = (bool, prop::sample::Index, Edit)> {
    let edit = prop_oneof![3 => arb_json().prop_map(Edit::Set), 1 => Just(Edit::Remove)];
    (any::<bool>(), any::<prop::sample::Index>(), edit)
}

fn apply_edit(review: &mut Value, pointer: &str, edit: Edit) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match (review.pointer_mut(parent), edit) {
        (Some(Value::Object(map)), Edit::Set(value)) => {
            map.insert(key, value);
        }
        (Some(Value::Object(map)), Edit::Remove) => {
            map.remove(&key);
        }
        (Some(Value::Array(items)), edit) => {
            if let Ok(i) = key.parse::<usize>()
                && i < items.len()
            {
                match edit {
                    Edit::Set(value) => items[i] = value,
                    Edit::Remove => {
                        items.remove(i);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A base review with up to four places set to arbitrary JSON or removed.
pub fn arb_review() -> impl Strategy<Value = Value> {
    // Weighted towards the requests that produce patches.
    arb_review_of(&[
        "RayCluster",
        "RayCluster",
        "RayCluster",
        "RayService",
        "RayService",
        "RayJob",
        "RayJob",
        "RayCronJob",
        "Pod",
    ])
}

/// [`arb_review`] of one of `kinds`.
pub fn arb_review_of(kinds: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let base = (
        proptest::sample::select(kinds),
        proptest::sample::select(
            &[
                "CREATE", "CREATE", "CREATE", "CREATE", "UPDATE", "UPDATE", "DELETE", "CONNECT",
            ][..],
        ),
    )
        .prop_map(|(kind, op)| base_review(kind, op));
    (base, proptest::collection::vec(arb_edit(), 0..5)).prop_map(|(mut review, edits)| {
        for (hot, index, edit) in edits {
            let pointer = if hot {
                HOT[index.index(HOT.len())].to_string()
            } else {
                let mut all = Vec::new();
                pointers(&review, String::new(), &mut all);
                if all.is_empty() {
                    continue;
                }
                all[index.index(all.len())].clone()
            };
            apply_edit(&mut review, &pointer, edit);
        }
        review
    })
}

/// A CREATE review that the mutating webhook must patch under the default
/// policy: a top-level RayCluster or RayJob (the workloads Kueue suspends by
/// default; a RayService is not) with a queue (its label, or the legacy
/// annotation only) that is not suspended, so that it gets at least
/// `spec.suspend: true` (and, from the annotation, the label). Arbitrary only
/// where the decision does not depend on it: the kind among the two, the
/// name, the uid, and whether `spec.suspend` is false or absent.
pub fn arb_patched_review() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&["RayCluster", "RayJob"][..]),
        any::<bool>(),
        any::<bool>(),
        "[a-z][a-z0-9-]{0,20}",
        "[a-z0-9-]{1,36}",
    )
        .prop_map(|(kind, legacy, explicit_false, name, uid)| {
            let mut review = base_review(kind, "CREATE");
            let request = &mut review["request"];
            request["uid"] = Value::from(uid);
            request["name"] = Value::from(name.as_str());
            let object = &mut request["object"];
            let metadata = &mut object["metadata"];
            metadata["name"] = Value::from(name);
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.remove("ownerReferences");
                if legacy {
                    metadata.remove("labels");
                }
            }
            if let Some(annotations) = metadata["annotations"].as_object_mut() {
                annotations.remove("kueue.x-k8s.io/elastic-job");
                if !legacy {
                    annotations.remove("kueue.x-k8s.io/queue-name");
                }
            }
            if let Some(Value::Object(parent)) = object.get_mut("spec") {
                if explicit_false {
                    parent.insert("suspend".into(), Value::Bool(false));
                } else {
                    parent.remove("suspend");
                }
            }
            review
        })
}
