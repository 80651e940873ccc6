//! The mutating webhook on CREATE: the queue label, suspension, and what passes untouched.

use super::helpers::*;

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
