//! Every rule and mode of the policy, and the patches it builds.

use super::*;
use serde_json::{Value, json};

const RC: Option<RayKind> = Some(RayKind::RayCluster);
const RS: Option<RayKind> = Some(RayKind::RayService);

/// Reads an object as the admission layer does.
pub(super) fn wire(json: &str) -> Field<ObjectDoc> {
    serde_json::from_str(json).unwrap()
}

pub(super) fn request<'a>(
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

pub(super) fn mutate_with(policy: &Policy, kind: Option<RayKind>, obj: &Value) -> Decision {
    let text = obj.to_string();
    mutate(request(Operation::Create, kind, &text, None), policy).unwrap()
}

pub(super) fn validate_with(
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

pub(super) fn patch_json(d: &Decision) -> Value {
    serde_json::to_value(&d.patch).unwrap()
}

pub(super) fn errors(d: &Decision) -> Vec<String> {
    d.violations.iter().map(ToString::to_string).collect()
}

/// Applies the decision's patch and checks that the webhook leaves the result alone.
pub(super) fn apply_and_rerun(
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

fn labelled(queue: &str) -> Value {
    json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: queue}}, "spec": {"workerGroupSpecs": [{"groupName": "small-group"}]}})
}

fn service_mode() -> Policy {
    Policy {
        rayservice_workload: RayServiceWorkload::Rayservice,
        ..Policy::default()
    }
}

fn with_groups(mut obj: Value, pointer: &str, names: &[&str]) -> Value {
    let groups: Vec<Value> = names
        .iter()
        .map(|n| json!({"groupName": n, "replicas": 1}))
        .collect();
    *obj.pointer_mut(pointer).unwrap() = Value::from(groups);
    obj
}

// --- Mutation -------------------------------------------------------------

#[test]
fn labelled_raycluster_is_suspended() {
    let policy = Policy::default();
    let obj = labelled("user-queue");
    let d = mutate_with(&policy, RC, &obj);
    assert!(d.allowed());
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    assert_eq!(d.changes, [Change::Suspend]);
    assert_eq!(
        d.warnings,
        [Warning::on(
            "spec.suspend",
            "set spec.suspend=true: Kueue starts this RayCluster when LocalQueue \"user-queue\" admits it".into()
        )]
    );
    let patched = apply_and_rerun(&policy, RC, &obj, &d);
    assert_eq!(patched["spec"]["suspend"], true);
    assert_eq!(
        patched["spec"]["workerGroupSpecs"],
        obj["spec"]["workerGroupSpecs"]
    );
}

#[test]
fn suspend_false_is_replaced_and_suspend_true_is_left_alone() {
    let mut obj = labelled("q");
    obj["spec"]["suspend"] = json!(false);
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    obj["spec"]["suspend"] = json!(true);
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert!(d.patch.0.is_empty() && d.warnings.is_empty() && d.allowed());
}

#[test]
fn legacy_annotation_becomes_the_label_with_an_escaped_path() {
    let policy = Policy::default();
    let obj =
        json!({"metadata": {"name": "c", "annotations": {QUEUE_NAME_KEY: "team-a"}}, "spec": {}});
    let d = mutate_with(&policy, RC, &obj);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/metadata/labels", "value": {}},
            {"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "team-a"},
            {"op": "add", "path": "/spec/suspend", "value": true},
        ])
    );
    assert_eq!(
        d.changes,
        [Change::QueueLabelFromAnnotation, Change::Suspend]
    );
    assert!(
        d.warnings[0].message.contains("legacy annotation"),
        "{:?}",
        d.warnings
    );
    let patched = apply_and_rerun(&policy, RC, &obj, &d);
    assert_eq!(patched["metadata"]["annotations"][QUEUE_NAME_KEY], "team-a");
    assert_eq!(patched["metadata"]["labels"][QUEUE_NAME_KEY], "team-a");
}

#[test]
fn missing_parents_are_created_first() {
    let policy = Policy {
        default_queue: Some("default-q".into()),
        ..Policy::default()
    };
    for obj in [json!({}), json!({"metadata": null, "spec": null})] {
        let d = mutate_with(&policy, RC, &obj);
        assert_eq!(
            patch_json(&d),
            json!([
                {"op": "add", "path": "/metadata", "value": {}},
                {"op": "add", "path": "/metadata/labels", "value": {}},
                {"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "default-q"},
                {"op": "add", "path": "/spec", "value": {}},
                {"op": "add", "path": "/spec/suspend", "value": true},
            ])
        );
        apply_and_rerun(&policy, RC, &obj, &d);
    }
}

#[test]
fn default_queue_goes_to_top_level_objects_only() {
    let policy = Policy {
        default_queue: Some("default-q".into()),
        ..Policy::default()
    };
    let top = json!({"metadata": {"labels": {"app": "x"}}, "spec": {}});
    let d = mutate_with(&policy, RC, &top);
    assert_eq!(d.changes, [Change::DefaultQueueLabel, Change::Suspend]);
    assert_eq!(
        patch_json(&d)[0]["path"],
        "/metadata/labels/kueue.x-k8s.io~1queue-name"
    );
    apply_and_rerun(&policy, RC, &top, &d);
    // The RayService itself is top-level; in raycluster mode it is not suspended.
    let d = mutate_with(&policy, RS, &top);
    assert_eq!(d.changes, [Change::DefaultQueueLabel]);
    for owner in ["RayJob", "RayService"] {
        let child = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "ray.io/v1", "kind": owner, "name": "o", "uid": "1", "controller": true}
        ]}, "spec": {}});
        let d = mutate_with(&policy, RC, &child);
        assert!(d.patch.0.is_empty(), "{owner}: {}", patch_json(&d));
    }
}

#[test]
fn an_existing_label_wins_over_annotation_and_default() {
    let policy = Policy {
        default_queue: Some("default-q".into()),
        ..Policy::default()
    };
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "mine"}, "annotations": {QUEUE_NAME_KEY: "old"}}, "spec": {"suspend": true}});
    assert!(mutate_with(&policy, RC, &obj).patch.0.is_empty());
    // The annotation wins over the default.
    let obj =
        json!({"metadata": {"annotations": {QUEUE_NAME_KEY: "old"}}, "spec": {"suspend": true}});
    assert_eq!(
        patch_json(&mutate_with(&policy, RC, &obj))[1]["value"],
        "old"
    );
}

#[test]
fn unmanaged_objects_are_left_alone() {
    let obj = json!({"metadata": {"name": "c"}, "spec": {"enableInTreeAutoscaling": true, "workerGroupSpecs": [
        {"groupName": "head"}, {"groupName": "a"}, {"groupName": "a"}, {"groupName": "b"},
        {"groupName": "c"}, {"groupName": "d"}, {"groupName": "e"}, {"groupName": "f"}]}});
    for kind in [RC, RS] {
        let d = mutate_with(&Policy::default(), kind, &obj);
        assert!(d.allowed() && d.patch.0.is_empty() && d.warnings.is_empty());
        let d = validate_with(&Policy::default(), Operation::Create, kind, &obj, None);
        assert!(d.allowed());
    }
}

#[test]
fn manage_jobs_without_queue_name_suspends_and_validates_everything() {
    let policy = Policy {
        manage_jobs_without_queue_name: true,
        ..Policy::default()
    };
    let obj = json!({"spec": {"workerGroupSpecs": []}});
    let d = mutate_with(&policy, RC, &obj);
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    assert!(d.warnings[0].message.ends_with("when Kueue admits it"));
    let obj = json!({"spec": {"enableInTreeAutoscaling": true}});
    let d = validate_with(&policy, Operation::Create, RC, &obj, None);
    assert_eq!(d.violations[0].rule, Rule::AutoscalingEnabled);
}

#[test]
fn children_follow_the_rayservice_mode() {
    let child = |owner: &str| {
        json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}, "ownerReferences": [
            {"apiVersion": "ray.io/v1", "kind": owner, "name": "o", "uid": "1", "controller": true}
        ]}, "spec": {}})
    };
    let cluster_mode = Policy::default();
    let d = mutate_with(&cluster_mode, RC, &child("RayService"));
    assert_eq!(d.changes, [Change::Suspend]);
    assert!(
        mutate_with(&service_mode(), RC, &child("RayService"))
            .patch
            .0
            .is_empty()
    );
    for policy in [cluster_mode, service_mode()] {
        assert!(
            mutate_with(&policy, RC, &child("RayJob"))
                .patch
                .0
                .is_empty()
        );
    }
}

#[test]
fn rayservice_is_suspended_only_in_rayservice_mode() {
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {"headGroupSpec": {}}}});
    let d = mutate_with(&Policy::default(), RS, &obj);
    assert!(d.patch.0.is_empty() && d.allowed());
    let d = mutate_with(&service_mode(), RS, &obj);
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true}])
    );
    assert!(
        d.warnings[0]
            .message
            .starts_with("set spec.rayClusterConfig.suspend=true: Kueue starts this RayService")
    );
    apply_and_rerun(&service_mode(), RS, &obj, &d);
    let bare = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {}});
    let d = mutate_with(&service_mode(), RS, &bare);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/spec/rayClusterConfig", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true},
        ])
    );
    apply_and_rerun(&service_mode(), RS, &bare, &d);
}

#[test]
fn the_mutating_webhook_denies_what_validation_denies_and_then_patches_nothing() {
    let obj = json!({"metadata": {"annotations": {QUEUE_NAME_KEY: "Bad_Queue"}}, "spec": {"enableInTreeAutoscaling": true}});
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        errors(&d)
            .iter()
            .map(|e| e.split(':').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        [
            "metadata.labels[kueue.x-k8s.io/queue-name]",
            "spec.enableInTreeAutoscaling"
        ]
    );
    assert!(d.patch.0.is_empty() && d.warnings.is_empty() && d.changes.is_empty());
}

#[test]
fn mutating_webhook_passes_everything_but_create() {
    let obj = labelled("q");
    let text = obj.to_string();
    for op in [Operation::Update, Operation::Delete, Operation::Connect] {
        let d = mutate(request(op, RC, &text, None), &Policy::default()).unwrap();
        assert!(d.allowed() && d.patch.0.is_empty());
    }
    let mut req = request(Operation::Create, RC, &text, None);
    req.sub_resource = Some("status");
    assert!(mutate(req, &Policy::default()).unwrap().patch.0.is_empty());
    // Other kinds, however odd their object.
    let req = request(Operation::Create, None, "[1,2]", None);
    assert!(mutate(req, &Policy::default()).unwrap().allowed());
}

// --- Validation -----------------------------------------------------------

#[test]
fn too_many_worker_groups() {
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let obj = with_groups(labelled("q"), "/spec/workerGroupSpecs", &names);
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        errors(&d),
        ["spec.workerGroupSpecs: Too many: 8: must have at most 7 items"]
    );
    assert_eq!(d.violations[0].kind, ErrorKind::TooMany);
    let seven = with_groups(labelled("q"), "/spec/workerGroupSpecs", &names[..7]);
    assert!(validate_with(&Policy::default(), Operation::Create, RC, &seven, None).allowed());
    let roomier = Policy {
        max_worker_groups: 8,
        ..Policy::default()
    };
    assert!(validate_with(&roomier, Operation::Create, RC, &obj, None).allowed());
    let service = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"rayClusterConfig": {"workerGroupSpecs": []}}});
    let service = with_groups(service, "/spec/rayClusterConfig/workerGroupSpecs", &names);
    let d = validate_with(&Policy::default(), Operation::Create, RS, &service, None);
    assert_eq!(
        errors(&d),
        ["spec.rayClusterConfig.workerGroupSpecs: Too many: 8: must have at most 7 items"]
    );
}

#[test]
fn autoscaling_must_be_off() {
    let mut obj = labelled("q");
    obj["spec"]["enableInTreeAutoscaling"] = json!(true);
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].path, "spec.enableInTreeAutoscaling");
    assert!(errors(&d)[0].starts_with("spec.enableInTreeAutoscaling: Invalid value: true: "));
    obj["spec"]["enableInTreeAutoscaling"] = json!(false);
    assert!(validate_with(&Policy::default(), Operation::Create, RC, &obj, None).allowed());
}

#[test]
fn group_names_become_pod_set_names() {
    let long = "x".repeat(64);
    let obj = with_groups(
        labelled("q"),
        "/spec/workerGroupSpecs",
        &["Head", "GPU", "cpu", "gpu", "gpu_a", &long, "ok-Group"],
    );
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    let found: Vec<(String, ErrorKind)> = d
        .violations
        .iter()
        .map(|v| (v.path.clone(), v.kind))
        .collect();
    assert_eq!(
        found,
        [
            (
                "spec.workerGroupSpecs[0].groupName".to_string(),
                ErrorKind::Invalid
            ),
            (
                "spec.workerGroupSpecs[3].groupName".to_string(),
                ErrorKind::Duplicate
            ),
            (
                "spec.workerGroupSpecs[4].groupName".to_string(),
                ErrorKind::Invalid
            ),
            (
                "spec.workerGroupSpecs[5].groupName".to_string(),
                ErrorKind::Invalid
            ),
        ]
    );
    assert!(
        errors(&d)[1].contains("same PodSet name \"gpu\" as spec.workerGroupSpecs[1].groupName")
    );
    assert!(errors(&d)[3].contains("must be no more than 63 characters"));
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::InvalidGroupName)
    );
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"workerGroupSpecs": [{"replicas": 1}, null]}});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(d.violations.len(), 2);
    assert!(d.violations.iter().all(|v| v.kind == ErrorKind::Required));
}

#[test]
fn queue_name_must_be_a_dns_subdomain() {
    let d = validate_with(
        &Policy::default(),
        Operation::Create,
        RC,
        &labelled("Team_A"),
        None,
    );
    assert_eq!(d.violations.len(), 1);
    assert!(errors(&d)[0].starts_with("metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"Team_A\": a lowercase RFC 1123 subdomain"));
    assert!(names::dns1123_subdomain("team-a.gpu").is_ok());
    assert!(names::dns1123_subdomain("Team").is_err());
}

#[test]
fn wrong_types_are_denials_that_name_the_field() {
    let mut obj = labelled("q");
    obj["spec"]["enableInTreeAutoscaling"] = json!("yes");
    obj["spec"]["suspend"] = json!(1);
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        errors(&d),
        [
            "spec.suspend: Invalid value: \"number\": must be of type boolean",
            "spec.enableInTreeAutoscaling: Invalid value: \"string\": must be of type boolean",
        ]
    );
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::WrongFieldType && v.kind == ErrorKind::TypeInvalid)
    );
    // Unmanaged: not this webhook's business.
    obj["metadata"]["labels"] = json!({});
    assert!(mutate_with(&Policy::default(), RC, &obj).allowed());
    // A queue label of the wrong type: whether it is managed cannot be known.
    obj["metadata"]["labels"] = json!({QUEUE_NAME_KEY: ["q"]});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        errors(&d)[0],
        "metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"array\": must be of type string"
    );
    obj["metadata"] = json!("c");
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        errors(&d),
        ["metadata: Invalid value: \"string\": must be of type object"]
    );
}

#[test]
fn all_violations_are_reported_together() {
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {
        "enableInTreeAutoscaling": true,
        "workerGroupSpecs": [{"groupName": "head"}, {"groupName": "a"}, {"groupName": "A"},
            {"groupName": "b"}, {"groupName": "c"}, {"groupName": "d"}, {"groupName": "e"}, {"groupName": "f"}]
    }}});
    let d = validate_with(&Policy::default(), Operation::Create, RS, &obj, None);
    let rules: Vec<Rule> = d.violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [
            Rule::TooManyWorkerGroups,
            Rule::InvalidGroupName,
            Rule::InvalidGroupName,
            Rule::AutoscalingEnabled
        ]
    );
}

#[test]
fn deletes_connects_subresources_and_terminating_objects_pass() {
    let bad = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}, "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"enableInTreeAutoscaling": true}});
    let text = bad.to_string();
    for op in [Operation::Delete, Operation::Connect] {
        assert!(
            validate(request(op, RC, &text, Some(&text)), &Policy::default())
                .unwrap()
                .allowed()
        );
    }
    // Finalizers must always be removable, even without oldObject.
    let req = request(Operation::Update, RC, &text, None);
    assert!(validate(req, &Policy::default()).unwrap().allowed());
    let mut req = request(Operation::Create, RC, &text, None);
    req.sub_resource = Some("status");
    assert!(validate(req, &Policy::default()).unwrap().allowed());
}

#[test]
fn undecidable_requests_are_errors() {
    let req = Request {
        operation: Operation::Create,
        kind: RC,
        sub_resource: None,
        namespace: None,
        object: Field::Absent,
        old_object: Field::Absent,
    };
    assert_eq!(
        mutate(req, &Policy::default()).unwrap_err(),
        RequestError::MissingObject {
            operation: "CREATE"
        }
    );
    let text = labelled("q").to_string();
    let req = request(Operation::Update, RC, &text, None);
    assert_eq!(
        validate(req, &Policy::default()).unwrap_err(),
        RequestError::MissingOldObject
    );
    let req = request(Operation::Update, RC, &text, Some("[]"));
    assert!(matches!(
        validate(req, &Policy::default()).unwrap_err(),
        RequestError::UnreadableObject {
            field: "oldObject",
            ..
        }
    ));
}

// --- Queue label changes on UPDATE ------------------------------------------

fn cluster(queue: Option<&str>, suspend: bool) -> Value {
    let labels = queue.map_or(json!({}), |q| json!({QUEUE_NAME_KEY: q}));
    json!({"metadata": {"labels": labels}, "spec": {"suspend": suspend}})
}

#[test]
fn queue_label_is_fixed_while_a_raycluster_runs() {
    let p = Policy::default();
    let update =
        |new: &Value, old: &Value| validate_with(&p, Operation::Update, RC, new, Some(old));
    let d = update(&cluster(Some("b"), false), &cluster(Some("a"), false));
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].rule, Rule::QueueNameImmutable);
    assert!(errors(&d)[0].contains("was \"a\""), "{:?}", errors(&d));
    // Added or removed while running: denied too.
    assert!(!update(&cluster(Some("b"), false), &cluster(None, false)).allowed());
    assert!(!update(&cluster(None, false), &cluster(Some("a"), false)).allowed());
    // Suspended in the same update: allowed.
    assert!(update(&cluster(Some("b"), true), &cluster(Some("a"), false)).allowed());
    assert!(update(&cluster(None, true), &cluster(Some("a"), true)).allowed());
    // Unchanged, or never labelled: allowed.
    assert!(update(&cluster(Some("a"), false), &cluster(Some("a"), false)).allowed());
    assert!(update(&cluster(None, false), &cluster(None, false)).allowed());
    // Empty is the same as absent.
    let mut empty = cluster(None, false);
    empty["metadata"]["labels"][QUEUE_NAME_KEY] = json!("");
    assert!(update(&empty, &cluster(None, false)).allowed());
}

#[test]
fn raycluster_children_are_exempt_where_their_owner_is_the_workload() {
    let child = |queue: &str, owner: &str| {
        let mut c = cluster(Some(queue), false);
        c["metadata"]["ownerReferences"] = json!([{"apiVersion": "ray.io/v1", "kind": owner, "name": "o", "uid": "1", "controller": true}]);
        c
    };
    let update = |p: &Policy, owner: &str| {
        validate_with(
            p,
            Operation::Update,
            RC,
            &child("b", owner),
            Some(&child("a", owner)),
        )
        .allowed()
    };
    assert!(update(&Policy::default(), "RayJob"));
    assert!(!update(&Policy::default(), "RayService"));
    assert!(update(&service_mode(), "RayService"));
}

#[test]
fn rayservice_queue_label_follows_the_mode() {
    let service = |queue: &str, suspend: bool| json!({"metadata": {"labels": {QUEUE_NAME_KEY: queue}}, "spec": {"rayClusterConfig": {"suspend": suspend}}});
    let update = |p: &Policy, suspend: bool| {
        validate_with(
            p,
            Operation::Update,
            RS,
            &service("b", suspend),
            Some(&service("a", false)),
        )
    };
    let d = update(&Policy::default(), true);
    assert_eq!(d.violations[0].rule, Rule::QueueNameImmutable);
    assert!(errors(&d)[0].contains("delete and recreate the RayService"));
    assert!(!update(&service_mode(), false).allowed());
    assert!(update(&service_mode(), true).allowed());
}

fn with_local_queues(names: &[(&str, &str)], require: bool) -> Policy {
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

#[test]
fn a_queue_label_naming_no_local_queue_is_a_warning_or_with_require_a_denial() {
    let obj = json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: "team-a"}}});
    // Present in the request's namespace ("ns"): nothing to say.
    let d = mutate_with(&with_local_queues(&[("ns", "team-a")], false), RC, &obj);
    assert!(
        d.allowed()
            && d.warnings
                .iter()
                .all(|w| !w.message.contains("no LocalQueue"))
    );
    // Only in another namespace: absent here.
    let d = mutate_with(&with_local_queues(&[("other", "team-a")], false), RC, &obj);
    assert!(d.allowed());
    assert!(
        d.warnings.contains(&Warning::on(
            "metadata.labels[kueue.x-k8s.io/queue-name]",
            "metadata.labels[kueue.x-k8s.io/queue-name]: no LocalQueue \"team-a\" in namespace \"ns\": \
             Kueue would leave the workload pending forever"
                .to_string()
        )),
        "{:?}",
        d.warnings
    );
    let d = mutate_with(&with_local_queues(&[], true), RC, &obj);
    assert_eq!(
        errors(&d),
        [
            "metadata.labels[kueue.x-k8s.io/queue-name]: Not found: \"team-a\": no LocalQueue \
          \"team-a\" in namespace \"ns\": Kueue would leave the workload pending forever"
        ]
    );
    let d = validate_with(
        &with_local_queues(&[], true),
        Operation::Create,
        RC,
        &obj,
        None,
    );
    assert!(!d.allowed());
    // Unknown LocalQueues (no --local-queues): any name passes.
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert!(d.allowed());
}

#[test]
fn a_namespace_with_a_default_local_queue_labels_unlabelled_top_level_objects() {
    let obj = json!({"metadata": {"name": "c", "labels": {}}, "spec": {}});
    let d = mutate_with(&with_local_queues(&[("ns", "default")], false), RC, &obj);
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "default"},
               {"op": "add", "path": "/spec/suspend", "value": true}])
    );
    assert_eq!(d.changes, [Change::LocalQueueDefaultLabel, Change::Suspend]);
    // --default-queue says otherwise.
    let policy = Policy {
        default_queue: Some("user-queue".into()),
        ..with_local_queues(&[("ns", "default"), ("ns", "user-queue")], false)
    };
    let d = mutate_with(&policy, RC, &obj);
    assert_eq!(d.changes, [Change::DefaultQueueLabel, Change::Suspend]);
    // No `default` LocalQueue in this namespace: unmanaged, unchanged.
    let d = mutate_with(&with_local_queues(&[("other", "default")], false), RC, &obj);
    assert!(d.patch.0.is_empty());
}

#[test]
fn unmanaged_reason_says_why_kueue_leaves_an_object_alone() {
    let reason = |policy: &Policy, kind: Option<RayKind>, obj: &Value| {
        let text = obj.to_string();
        unmanaged_reason(request(Operation::Create, kind, &text, None), policy).unwrap()
    };
    let labelled = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}});
    let bare = json!({"metadata": {"name": "c"}});
    assert_eq!(reason(&Policy::default(), RC, &labelled), None);
    assert!(
        reason(&Policy::default(), RC, &bare)
            .unwrap()
            .starts_with("no kueue.x-k8s.io/queue-name label")
    );
    let manage_all = Policy {
        manage_jobs_without_queue_name: true,
        ..Policy::default()
    };
    assert_eq!(reason(&manage_all, RS, &bare), None);
    let job_cluster = Policy {
        rayjob_workload: RayJobWorkload::Raycluster,
        ..Policy::default()
    };
    assert!(
        reason(&job_cluster, Some(RayKind::RayJob), &labelled)
            .unwrap()
            .contains("--rayjob-workload raycluster")
    );
}

// --- Release profiles, elastic jobs, workload labels, excluded namespaces ---

const ELASTIC: &str = elastic::ELASTIC_JOB_KEY;

fn release(text: &str) -> Policy {
    Policy::for_release(Release::parse(text).ok())
}

/// A labelled RayCluster with `groups` worker groups.
fn cluster_with_groups(groups: usize) -> Value {
    let names: Vec<String> = (0..groups).map(|i| format!("g{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    with_groups(labelled("q"), "/spec/workerGroupSpecs", &names)
}

#[test]
fn every_release_row_limits_the_worker_groups() {
    // (release, most groups allowed)
    for (text, limit) in [
        ("v0.14", 7),
        ("v0.16", 7),
        ("v0.17", 7),
        ("v0.18", 9),
        ("v0.19", 17),
        ("v0.25", 17),
    ] {
        let policy = release(text);
        for groups in [8, 9, 10, 17, 18] {
            let d = validate_with(
                &policy,
                Operation::Create,
                RC,
                &cluster_with_groups(groups),
                None,
            );
            assert_eq!(
                d.allowed(),
                groups <= limit,
                "{text} with {groups} groups: {:?}",
                errors(&d)
            );
        }
    }
}

#[test]
fn every_release_row_picks_who_is_suspended_for_a_rayservice() {
    let service = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {}}});
    for (text, suspended) in [
        ("v0.14", false),
        ("v0.16", false),
        ("v0.17", true),
        ("v0.18", true),
        ("v0.19", true),
    ] {
        let d = mutate_with(&release(text), RS, &service);
        let expected = if suspended {
            json!([{"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true}])
        } else {
            json!([])
        };
        assert_eq!(patch_json(&d), expected, "{text}");
    }
}

/// A labelled, autoscaling RayCluster annotated as elastic.
fn elastic_cluster() -> Value {
    json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: "q"}, "annotations": {ELASTIC: "true"}},
           "spec": {"enableInTreeAutoscaling": true,
                    "headGroupSpec": {"template": {"spec": {"containers": [], "schedulingGates": [{"name": "other"}]}}},
                    "workerGroupSpecs": [{"groupName": "a", "template": {"spec": {}}}, {"groupName": "b"}]}})
}

#[test]
fn an_elastic_job_is_gated_once_and_may_autoscale() {
    let policy = release("v0.19");
    let obj = elastic_cluster();
    let d = mutate_with(&policy, RC, &obj);
    assert!(d.allowed(), "{:?}", errors(&d));
    let gate = json!({"name": elastic::ELASTIC_JOB_GATE});
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/spec/suspend", "value": true},
            {"op": "add", "path": "/spec/headGroupSpec/template/spec/schedulingGates/-", "value": gate},
            {"op": "add", "path": "/spec/workerGroupSpecs/0/template/spec/schedulingGates", "value": [gate]},
            {"op": "add", "path": "/spec/workerGroupSpecs/1/template", "value": {}},
            {"op": "add", "path": "/spec/workerGroupSpecs/1/template/spec", "value": {}},
            {"op": "add", "path": "/spec/workerGroupSpecs/1/template/spec/schedulingGates", "value": [gate]},
        ])
    );
    assert_eq!(d.changes, [Change::Suspend, Change::ElasticJobGate]);
    assert_eq!(
        d.warnings.len(),
        2,
        "one warning for the gates: {:?}",
        d.warnings
    );
    let patched = apply_and_rerun(&policy, RC, &obj, &d);
    assert_eq!(
        patched["spec"]["headGroupSpec"]["template"]["spec"]["schedulingGates"],
        json!([{"name": "other"}, gate])
    );
    // The gated object passes validation, autoscaler on.
    assert!(validate_with(&policy, Operation::Create, RC, &patched, None).allowed());
}

#[test]
fn an_elastic_rayservice_without_a_cluster_spec_gets_the_whole_path() {
    let policy = Policy {
        elastic_jobs: true,
        ..Policy::default()
    };
    // raycluster mode: the RayService is not suspended, only gated.
    let obj = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}, "annotations": {ELASTIC: "true"}}});
    let d = mutate_with(&policy, RS, &obj);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/spec", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig/headGroupSpec", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig/headGroupSpec/template", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig/headGroupSpec/template/spec", "value": {}},
            {"op": "add", "path": "/spec/rayClusterConfig/headGroupSpec/template/spec/schedulingGates",
             "value": [{"name": elastic::ELASTIC_JOB_GATE}]},
        ])
    );
    apply_and_rerun(&policy, RS, &obj, &d);
    // rayservice mode: suspend creates the cluster spec, the gate goes below it.
    let policy = release("v0.18");
    let d = mutate_with(&policy, RS, &obj);
    let paths: Vec<String> = d.patch.0.iter().map(|op| op.path().to_string()).collect();
    assert_eq!(
        paths[..3],
        [
            "/spec",
            "/spec/rayClusterConfig",
            "/spec/rayClusterConfig/suspend"
        ]
    );
    apply_and_rerun(&policy, RS, &obj, &d);
}

#[test]
fn an_ungated_elastic_template_is_denied_by_the_validating_webhook() {
    let d = validate_with(
        &release("v0.19"),
        Operation::Create,
        RC,
        &elastic_cluster(),
        None,
    );
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        [
            "spec.headGroupSpec.template.spec.schedulingGates",
            "spec.workerGroupSpecs[0].template.spec.schedulingGates",
            "spec.workerGroupSpecs[1].template.spec.schedulingGates",
        ]
    );
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::ElasticJobGateMissing)
    );
}

#[test]
fn with_elastic_jobs_off_the_annotation_changes_nothing() {
    let policy = Policy::default();
    let obj = elastic_cluster();
    let d = mutate_with(&policy, RC, &obj);
    assert_eq!(errors(&d).len(), 1, "{:?}", errors(&d));
    assert_eq!(d.violations[0].rule, Rule::AutoscalingEnabled);
    assert!(
        d.violations[0].detail.ends_with("Kueue's elastic jobs, which may autoscale, are off in this configuration (--elastic-jobs)"),
        "{}",
        d.violations[0].detail
    );
    // Without autoscaling: no gates, and the annotation may change on UPDATE.
    let mut quiet = obj.clone();
    quiet["spec"]["enableInTreeAutoscaling"] = json!(false);
    let d = mutate_with(&policy, RC, &quiet);
    assert_eq!(d.changes, [Change::Suspend]);
    let mut old = quiet.clone();
    old["metadata"]["annotations"] = json!({});
    assert!(validate_with(&policy, Operation::Update, RC, &quiet, Some(&old)).allowed());
}

#[test]
fn the_elastic_annotation_is_immutable_with_elastic_jobs_on() {
    let policy = release("v0.19");
    let gated = {
        let d = mutate_with(&policy, RC, &elastic_cluster());
        apply_and_rerun(&policy, RC, &elastic_cluster(), &d)
    };
    let mut removed = gated.clone();
    removed["metadata"]["annotations"] = json!({});
    removed["spec"]["enableInTreeAutoscaling"] = json!(false);
    let d = validate_with(&policy, Operation::Update, RC, &removed, Some(&gated));
    assert_eq!(
        errors(&d),
        [
            "metadata.annotations[kueue.x-k8s.io/elastic-job]: Invalid value: \"\": field is immutable (was \"true\"): whether a job is elastic is fixed when it is created; delete and recreate it to change that"
        ]
    );
    let mut changed = gated.clone();
    changed["metadata"]["annotations"][ELASTIC] = json!("false");
    let d = validate_with(&policy, Operation::Update, RC, &changed, Some(&gated));
    assert_eq!(
        d.violations.iter().map(|v| v.rule).collect::<Vec<_>>(),
        [Rule::AutoscalingEnabled, Rule::ElasticJobImmutable]
    );
    assert!(validate_with(&policy, Operation::Update, RC, &gated, Some(&gated)).allowed());
}

#[test]
fn template_type_errors_count_only_for_elastic_jobs() {
    let mut obj = labelled("q");
    obj["spec"]["workerGroupSpecs"][0]["template"] = json!({"spec": {"schedulingGates": "gate"}});
    assert!(validate_with(&release("v0.19"), Operation::Create, RC, &obj, None).allowed());
    obj["metadata"]["annotations"] = json!({ELASTIC: "true"});
    obj["spec"]["headGroupSpec"] =
        json!({"template": {"spec": {"schedulingGates": [{"name": elastic::ELASTIC_JOB_GATE}]}}});
    let d = validate_with(&release("v0.19"), Operation::Create, RC, &obj, None);
    assert_eq!(
        errors(&d),
        [
            "spec.workerGroupSpecs[0].template.spec.schedulingGates: Invalid value: \"string\": must be of type array"
        ]
    );
    // Nothing to patch there: the type error denies the object.
    let d = mutate_with(&release("v0.19"), RC, &obj);
    assert!(!d.allowed() && d.patch.0.is_empty());
}

#[test]
fn a_child_raycluster_is_not_gated_its_owner_is() {
    let mut obj = elastic_cluster();
    obj["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "ray.io/v1", "kind": "RayService", "controller": true}]);
    let d = mutate_with(&release("v0.19"), RC, &obj);
    assert!(d.allowed(), "{:?}", errors(&d));
    assert!(d.patch.0.is_empty(), "{}", patch_json(&d));
}

#[test]
fn workload_labels_follow_kueues_update_rules() {
    use labels::{MAX_EXEC_TIME_KEY, PRIORITY_CLASS_KEY};
    let policy = Policy::default();
    let with = |labels: Value, suspend: bool| {
        let mut obj = labelled("q");
        for (key, value) in labels.as_object().unwrap() {
            obj["metadata"]["labels"][key] = value.clone();
        }
        obj["spec"]["suspend"] = json!(suspend);
        obj
    };
    let rules = |new: &Value, old: &Value| -> Vec<Rule> {
        validate_with(&policy, Operation::Update, RC, new, Some(old))
            .violations
            .iter()
            .map(|v| v.rule)
            .collect()
    };
    let high = with(json!({PRIORITY_CLASS_KEY: "high"}), false);
    let none = with(json!({}), false);
    assert_eq!(rules(&none, &high), [Rule::PriorityClassImmutable]);
    assert_eq!(rules(&high, &none), [Rule::PriorityClassImmutable]);
    assert!(rules(&with(json!({PRIORITY_CLASS_KEY: "high"}), true), &none).is_empty());
    assert!(rules(&with(json!({PRIORITY_CLASS_KEY: "low"}), false), &high).is_empty());
    let hour = |suspend| with(json!({MAX_EXEC_TIME_KEY: "3600"}), suspend);
    let two = |suspend| with(json!({MAX_EXEC_TIME_KEY: "7200"}), suspend);
    assert!(rules(&two(true), &hour(true)).is_empty());
    assert_eq!(
        rules(&two(false), &hour(true)),
        [Rule::MaxExecTimeImmutable]
    );
    assert_eq!(
        rules(&two(true), &hour(false)),
        [Rule::MaxExecTimeImmutable]
    );
    // Formats, on CREATE too.
    let bad = with(
        json!({PRIORITY_CLASS_KEY: "A", MAX_EXEC_TIME_KEY: "-1"}),
        true,
    );
    let d = validate_with(&policy, Operation::Create, RC, &bad, None);
    assert_eq!(
        d.violations.iter().map(|v| v.rule).collect::<Vec<_>>(),
        [Rule::InvalidPriorityClass, Rule::InvalidMaxExecTime]
    );
    // Unmanaged objects: not this webhook's business.
    let mut unmanaged = bad.clone();
    unmanaged["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove(QUEUE_NAME_KEY);
    assert!(validate_with(&policy, Operation::Create, RC, &unmanaged, None).allowed());
    // A RayService's RayCluster (raycluster mode) or a RayJob's: the owner's labels rule.
    let mut child = none.clone();
    child["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "ray.io/v1", "kind": "RayJob", "controller": true}]);
    let mut old_child = high.clone();
    old_child["metadata"]["ownerReferences"] = child["metadata"]["ownerReferences"].clone();
    assert!(rules(&child, &old_child).is_empty());
}

#[test]
fn excluded_namespaces_get_no_default_queue_and_are_not_managed_without_a_label() {
    let policy = Policy {
        default_queue: Some("team-default".into()),
        manage_jobs_without_queue_name: true,
        ..Policy::default()
    };
    let unlabelled = json!({"metadata": {"name": "c"}, "spec": {"enableInTreeAutoscaling": true}});
    let in_namespace =
        |namespace: &'static str,
         obj: &Value,
         webhook: fn(Request, &Policy) -> Result<Decision, RequestError>| {
            let text = obj.to_string();
            let mut req = request(Operation::Create, RC, &text, None);
            req.namespace = Some(namespace);
            webhook(req, &policy).unwrap()
        };
    // kube-system is excluded by default: left alone.
    let d = in_namespace("kube-system", &unlabelled, mutate);
    assert!(d.allowed() && d.patch.0.is_empty(), "{}", patch_json(&d));
    assert!(in_namespace("kube-system", &unlabelled, validate).allowed());
    // Elsewhere: labelled with the default queue, and managed (denied).
    assert!(!in_namespace("team-a", &unlabelled, mutate).allowed());
    assert!(!in_namespace("team-a", &unlabelled, validate).allowed());
    // A queue label of its own is managed anywhere.
    let mut labelled = unlabelled.clone();
    labelled["metadata"]["labels"] = json!({QUEUE_NAME_KEY: "q"});
    assert!(!in_namespace("kube-system", &labelled, validate).allowed());
}

#[test]
fn an_elastic_rayjob_may_autoscale_and_is_not_gated() {
    const RJ: Option<RayKind> = Some(RayKind::RayJob);
    let job = json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}, "annotations": {ELASTIC: "true"}},
                     "spec": {"shutdownAfterJobFinishes": true,
                              "rayClusterSpec": {"enableInTreeAutoscaling": true, "headGroupSpec": {"template": {"spec": {}}},
                                                 "workerGroupSpecs": [{"groupName": "g", "template": {"spec": {}}}]}}});
    let policy = release("v0.19");
    let d = mutate_with(&policy, RJ, &job);
    assert!(d.allowed(), "{:?}", errors(&d));
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    // Not elastic without the annotation (or with elastic jobs off).
    let mut plain = job.clone();
    plain["metadata"]["annotations"] = json!({});
    let d = validate_with(&policy, Operation::Create, RJ, &plain, None);
    assert_eq!(
        d.violations.iter().map(|v| v.rule).collect::<Vec<_>>(),
        [Rule::AutoscalingEnabled]
    );
    assert!(!validate_with(&Policy::default(), Operation::Create, RJ, &job, None).allowed());
    // The annotation is immutable on a RayJob too.
    let d = validate_with(&policy, Operation::Update, RJ, &plain, Some(&job));
    assert!(
        d.violations
            .iter()
            .any(|v| v.rule == Rule::ElasticJobImmutable),
        "{:?}",
        errors(&d)
    );
}

// --- Warnings name their field ----------------------------------------------

/// The value at a Kubernetes field path (`spec.workerGroupSpecs[0]`,
/// `metadata.labels[kueue.x-k8s.io/queue-name]`), as `check` reads one.
fn at_field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
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

#[test]
fn every_warning_names_a_field_of_the_object_as_stored() {
    let label = "metadata.labels[kueue.x-k8s.io/queue-name]";
    let unlabelled = json!({"metadata": {"name": "c"}, "spec": {"workerGroupSpecs": []}});
    let legacy =
        json!({"metadata": {"name": "c", "annotations": {QUEUE_NAME_KEY: "old"}}, "spec": {}});
    let default_queue = Policy {
        default_queue: Some("team".into()),
        ..Policy::default()
    };
    let elastic_service = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"},
        "annotations": {ELASTIC: "true"}},
        "spec": {"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {}}}}}});
    let rj = Some(RayKind::RayJob);
    let on_existing_cluster = json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"entrypoint": "python main.py", "clusterSelector": {"ray.io/cluster": "shared"}}});
    let job = json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"entrypoint": "python main.py", "shutdownAfterJobFinishes": true,
                 "rayClusterSpec": {"workerGroupSpecs": []}}});
    // One case per warning the rules emit: (policy, kind, object, the field of each warning).
    let cases: Vec<(Policy, Option<RayKind>, Value, Vec<&str>)> = vec![
        (
            default_queue,
            RC,
            unlabelled.clone(),
            vec![label, "spec.suspend"],
        ),
        (Policy::default(), RC, legacy, vec![label, "spec.suspend"]),
        (
            with_local_queues(&[("ns", "default")], false),
            RC,
            unlabelled,
            vec![label, "spec.suspend"],
        ),
        (
            with_local_queues(&[("ns", "other")], false),
            RC,
            labelled("team-a"),
            vec!["spec.suspend", label],
        ),
        (
            service_mode(),
            RS,
            json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {}}}),
            vec!["spec.rayClusterConfig.suspend"],
        ),
        (
            release("v0.19"),
            RC,
            elastic_cluster(),
            vec!["spec.suspend", "spec"],
        ),
        (
            release("v0.19"),
            RS,
            elastic_service,
            vec!["spec.rayClusterConfig.suspend", "spec.rayClusterConfig"],
        ),
        (Policy::default(), rj, job, vec!["spec.suspend"]),
        (
            Policy::default(),
            rj,
            on_existing_cluster,
            vec!["spec.clusterSelector"],
        ),
    ];
    for (policy, kind, obj, expected) in cases {
        let d = mutate_with(&policy, kind, &obj);
        assert!(d.allowed(), "{obj}: {:?}", errors(&d));
        let fields: Vec<Option<&str>> = d.warnings.iter().map(|w| w.field.as_deref()).collect();
        let expected: Vec<Option<&str>> = expected.into_iter().map(Some).collect();
        assert_eq!(fields, expected, "{obj}: {:?}", d.warnings);
        let mut stored = obj.clone();
        json_patch::patch(&mut stored, &d.patch).unwrap();
        for warning in &d.warnings {
            let field = warning.field.as_deref().unwrap_or_default();
            assert!(
                at_field(&stored, field).is_some(),
                "{obj}: {field:?} is not a field of the stored object: {warning:?}"
            );
        }
    }
}
