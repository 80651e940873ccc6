//! What the policy's tests share: requests built as the admission layer
//! builds them, the two webhooks run on them, and small objects.

pub(crate) use crate::policy::*;
pub(crate) use serde_json::{Value, json};

pub(crate) const RC: Option<RayKind> = Some(RayKind::RayCluster);
pub(crate) const RS: Option<RayKind> = Some(RayKind::RayService);

/// Reads an object as the admission layer does.
pub(crate) fn wire(json: &str) -> Field<ObjectDoc> {
    serde_json::from_str(json).unwrap()
}

pub(crate) fn request<'a>(
    op: Operation,
    kind: Option<RayKind>,
    obj: &'a str,
    old: Option<&'a str>,
) -> Request<'a> {
    Request {
        operation: op,
        kind,
        sub_resource: None,
        namespace: Some("ns"),
        object: wire(obj),
        old_object: old.map_or(Field::Absent, wire),
    }
}

pub(crate) fn mutate_with(policy: &Policy, kind: Option<RayKind>, obj: &Value) -> Decision {
    let text = obj.to_string();
    mutate(request(Operation::Create, kind, &text, None), policy).unwrap()
}

pub(crate) fn validate_with(
    policy: &Policy,
    op: Operation,
    kind: Option<RayKind>,
    obj: &Value,
    old: Option<&Value>,
) -> Decision {
    let text = obj.to_string();
    let old = old.map(Value::to_string);
    validate(request(op, kind, &text, old.as_deref()), policy).unwrap()
}

pub(crate) fn patch_json(d: &Decision) -> Value {
    serde_json::to_value(&d.patch).unwrap()
}

pub(crate) fn errors(d: &Decision) -> Vec<String> {
    d.violations.iter().map(ToString::to_string).collect()
}

/// Applies the decision's patch and checks that the webhook leaves the result alone.
pub(crate) fn apply_and_rerun(
    policy: &Policy,
    kind: Option<RayKind>,
    obj: &Value,
    d: &Decision,
) -> Value {
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &d.patch).unwrap();
    let again = mutate_with(policy, kind, &patched);
    assert!(
        again.patch.0.is_empty(),
        "not idempotent: {}",
        patch_json(&again)
    );
    assert!(again.allowed());
    patched
}

pub(crate) fn labelled(queue: &str) -> Value {
    json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: queue}}, "spec": {"workerGroupSpecs": [{"groupName": "small-group"}]}})
}

pub(crate) fn service_mode() -> Policy {
    Policy {
        rayservice_workload: RayServiceWorkload::Rayservice,
        ..Policy::default()
    }
}

pub(crate) fn with_groups(mut obj: Value, pointer: &str, names: &[&str]) -> Value {
    let groups: Vec<Value> = names
        .iter()
        .map(|n| json!({"groupName": n, "replicas": 1}))
        .collect();
    *obj.pointer_mut(pointer).unwrap() = Value::from(groups);
    obj
}

pub(crate) fn cluster(queue: Option<&str>, suspend: bool) -> Value {
    let labels = queue.map_or(json!({}), |q| json!({QUEUE_NAME_KEY: q}));
    json!({"metadata": {"labels": labels}, "spec": {"suspend": suspend}})
}

pub(crate) fn with_local_queues(names: &[(&str, &str)], require: bool) -> Policy {
    let mut queues = LocalQueues::default();
    for (namespace, name) in names {
        queues.insert(namespace, name);
    }
    Policy {
        local_queues: Some(queues),
        require_local_queue: require,
        ..Policy::default()
    }
}

pub(crate) const ELASTIC: &str = elastic::ELASTIC_JOB_KEY;

pub(crate) fn release(text: &str) -> Policy {
    Policy::for_release(Release::parse(text).ok())
}

/// A labelled RayCluster with a head container and `groups` worker groups.
pub(crate) fn cluster_with_groups(groups: usize) -> Value {
    let names: Vec<String> = (0..groups).map(|i| format!("g{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut cluster = with_groups(labelled("q"), "/spec/workerGroupSpecs", &names);
    cluster["spec"]["headGroupSpec"] = head();
    cluster
}

/// A head group whose template lists one container.
pub(crate) fn head() -> Value {
    json!({"template": {"spec": {"containers": [{"name": "ray-head"}]}}})
}

/// A labelled, autoscaling RayCluster annotated as elastic.
pub(crate) fn elastic_cluster() -> Value {
    json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: "q"}, "annotations": {ELASTIC: "true"}},
           "spec": {"enableInTreeAutoscaling": true,
                    "headGroupSpec": {"template": {"spec": {"containers": [], "schedulingGates": [{"name": "other"}]}}},
                    "workerGroupSpecs": [{"groupName": "a", "template": {"spec": {}}}, {"groupName": "b"}]}})
}

/// The value at a Kubernetes field path (`spec.workerGroupSpecs[0]`,
/// `metadata.labels[kueue.x-k8s.io/queue-name]`), as `check` reads one.
pub(crate) fn at_field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = value;
    let mut rest = path;
    while !rest.is_empty() {
        let step;
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            step = &inner[..end];
            rest = &inner[end + 1..];
        } else {
            let trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = trimmed.find(['.', '[']).unwrap_or(trimmed.len());
            step = &trimmed[..end];
            rest = &trimmed[end..];
        }
        value = match value {
            Value::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => value.get(step)?,
        };
    }
    Some(value)
}
