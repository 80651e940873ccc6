//! The RayJob rules and modes, one test per rule.

use super::helpers::*;

const RJ: Option<RayKind> = Some(RayKind::RayJob);

/// A labelled RayJob Kueue can manage: its own cluster, shut down when done.
fn job(groups: &[&str]) -> Value {
    let groups: Vec<Value> = groups.iter().map(|n| json!({"groupName": n})).collect();
    json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"entrypoint": "python main.py", "shutdownAfterJobFinishes": true,
            "rayClusterSpec": {"workerGroupSpecs": groups}}})
}

fn on_existing_cluster() -> Value {
    json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"entrypoint": "python main.py", "clusterSelector": {"ray.io/cluster": "shared"}}})
}

fn create(policy: &Policy, kind: Option<RayKind>, obj: &Value) -> Decision {
    validate_with(policy, Operation::Create, kind, obj, None)
}

fn raycluster_mode() -> Policy {
    Policy {
        rayjob_workload: RayJobWorkload::Raycluster,
        ..Policy::default()
    }
}

#[test]
fn a_managed_rayjob_is_suspended_through_spec_suspend() {
    let policy = Policy::default();
    let obj = job(&["small-group"]);
    let d = mutate_with(&policy, RJ, &obj);
    assert!(d.allowed(), "{:?}", errors(&d));
    assert_eq!(
        patch_json(&d),
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    assert_eq!(
        d.warnings,
        [Warning::on(
            "spec.suspend",
            "set spec.suspend=true: Kueue starts this RayJob when LocalQueue \"q\" admits it"
                .into()
        )]
    );
    apply_and_rerun(&policy, RJ, &obj, &d);
}

#[test]
fn queue_label_defaults_apply_to_rayjobs() {
    let policy = Policy {
        default_queue: Some("team".into()),
        ..Policy::default()
    };
    let mut obj = job(&["g"]);
    obj["metadata"] = json!({"name": "j"});
    let d = mutate_with(&policy, RJ, &obj);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/metadata/labels", "value": {}},
            {"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "team"},
            {"op": "add", "path": "/spec/suspend", "value": true},
        ])
    );
    let mut obj = job(&["g"]);
    obj["metadata"] = json!({"name": "j", "annotations": {QUEUE_NAME_KEY: "legacy"}});
    let d = mutate_with(&Policy::default(), RJ, &obj);
    assert_eq!(
        d.changes,
        [Change::QueueLabelFromAnnotation, Change::Suspend]
    );
}

#[test]
fn a_job_on_an_existing_cluster_is_left_running_with_a_warning() {
    let obj = on_existing_cluster();
    let d = mutate_with(&Policy::default(), RJ, &obj);
    assert!(d.allowed(), "{:?}", errors(&d));
    assert!(d.patch.0.is_empty(), "{}", patch_json(&d));
    assert_eq!(d.warnings.len(), 1);
    assert!(
        d.warnings[0].message.contains("not suspended"),
        "{:?}",
        d.warnings
    );
    assert!(
        d.warnings[0].message.contains("LocalQueue \"q\""),
        "{:?}",
        d.warnings
    );
    // None of the cluster or clean-up rules apply; the queue label's format does.
    let mut bad_queue = obj.clone();
    bad_queue["metadata"]["labels"][QUEUE_NAME_KEY] = json!("Bad_Queue");
    bad_queue["spec"]["deletionStrategy"] = json!({"deletionRules": [{"policy": "DeleteCluster"}]});
    let d = create(&Policy::default(), RJ, &bad_queue);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        ["metadata.labels[kueue.x-k8s.io/queue-name]"]
    );
    // An empty selector selects nothing: the job needs its cluster spec.
    let mut empty = obj;
    empty["spec"]["clusterSelector"] = json!({});
    let d = create(&Policy::default(), RJ, &empty);
    assert!(errors(&d).contains(
        &"spec.rayClusterSpec: Required value: Kueue admits the RayJob by the resources of its \
          cluster, so it needs the cluster spec (or spec.clusterSelector, to run on an existing \
          cluster that Kueue does not manage)"
            .to_string()
    ));
}

#[test]
fn cluster_selector_and_cluster_spec_together_are_denied() {
    let mut obj = job(&["g"]);
    obj["spec"]["clusterSelector"] = json!({"ray.io/cluster": "shared"});
    let d = mutate_with(&Policy::default(), RJ, &obj);
    assert!(!d.allowed());
    assert!(d.patch.0.is_empty());
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].path, "spec.clusterSelector");
    assert_eq!(d.violations[0].kind, ErrorKind::Forbidden);
}

#[test]
fn shutdown_after_job_finishes_must_be_true() {
    for shutdown in [None, Some(false)] {
        let mut obj = job(&["g"]);
        match shutdown {
            None => obj["spec"] = json!({"rayClusterSpec": obj["spec"]["rayClusterSpec"]}),
            Some(value) => obj["spec"]["shutdownAfterJobFinishes"] = json!(value),
        }
        let d = create(&Policy::default(), RJ, &obj);
        assert_eq!(d.violations.len(), 1, "{shutdown:?}");
        assert!(
            errors(&d)[0].starts_with("spec.shutdownAfterJobFinishes: Invalid value: false: "),
            "{:?}",
            errors(&d)
        );
    }
    // A wrong type is named once, as a wrong type.
    let mut obj = job(&["g"]);
    obj["spec"]["shutdownAfterJobFinishes"] = json!("yes");
    assert_eq!(
        errors(&create(&Policy::default(), RJ, &obj)),
        ["spec.shutdownAfterJobFinishes: Invalid value: \"string\": must be of type boolean"]
    );
}

/// A wrong type of `shutdownAfterJobFinishes` beyond the listed violations
/// (40 bad owner references are read first, so it is only counted) is still
/// known as a wrong type: the job is not also said to have it false.
#[test]
fn a_wrong_shutdown_type_beyond_the_listed_violations_is_not_also_called_false() {
    let mut obj = job(&["g"]);
    obj["metadata"]["ownerReferences"] = json!(vec!["not a reference"; 40]);
    obj["spec"]["shutdownAfterJobFinishes"] = json!("yes");
    let d = create(&Policy::default(), RJ, &obj);
    assert!(!d.allowed());
    // The 40 references, then the shutdown field's type (counted, not listed).
    assert_eq!(d.violations.total(), 41, "{:?}", errors(&d));
    assert_eq!(d.violations.unlisted(), 41 - LISTED_VIOLATIONS);
    assert!(
        !d.violations
            .rules()
            .contains(&Rule::ShutdownAfterJobFinishesOff),
        "{:?}",
        d.violations.rules()
    );
    assert!(
        d.violations
            .iter()
            .all(|v| v.path != "spec.shutdownAfterJobFinishes"),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn deletion_rules_are_denied() {
    let mut obj = job(&["g"]);
    obj["spec"]["deletionStrategy"] = json!({"deletionRules": [{"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}]});
    let d = create(&Policy::default(), RJ, &obj);
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].path, "spec.deletionStrategy.deletionRules");
    assert!(
        d.violations[0]
            .detail
            .contains("use shutdownAfterJobFinishes")
    );
    // No rules (or none listed) is no conflict.
    obj["spec"]["deletionStrategy"] = json!({"deletionRules": []});
    assert!(create(&Policy::default(), RJ, &obj).allowed());
}

#[test]
fn the_submitter_pod_set_counts_in_k8s_job_mode() {
    let seven = ["a", "b", "c", "d", "e", "f", "g"];
    let obj = job(&seven);
    let d = create(&Policy::default(), RJ, &obj);
    assert_eq!(d.violations.len(), 1);
    assert!(
        errors(&d)[0].starts_with(
            "spec.rayClusterSpec.workerGroupSpecs: Too many: 7: must have at most 6 items (in \
             K8sJobMode the submitter Job is a PodSet"
        ),
        "{:?}",
        errors(&d)
    );
    let mut explicit = obj.clone();
    explicit["spec"]["submissionMode"] = json!("K8sJobMode");
    assert!(!create(&Policy::default(), RJ, &explicit).allowed());
    assert!(create(&Policy::default(), RJ, &job(&seven[..6])).allowed());
    for mode in ["HTTPMode", "InteractiveMode", "SidecarMode"] {
        let mut obj = obj.clone();
        obj["spec"]["submissionMode"] = json!(mode);
        assert!(create(&Policy::default(), RJ, &obj).allowed(), "{mode}");
        obj["spec"]["rayClusterSpec"]["workerGroupSpecs"]
            .as_array_mut()
            .unwrap()
            .push(json!({"groupName": "h"}));
        let d = create(&Policy::default(), RJ, &obj);
        assert_eq!(
            errors(&d),
            ["spec.rayClusterSpec.workerGroupSpecs: Too many: 8: must have at most 7 items"],
            "{mode}"
        );
    }
}

#[test]
fn a_group_named_submitter_is_denied_in_k8s_job_mode_only() {
    let obj = job(&["Submitter"]);
    let d = create(&Policy::default(), RJ, &obj);
    assert_eq!(d.violations.len(), 1);
    assert_eq!(
        d.violations[0].path,
        "spec.rayClusterSpec.workerGroupSpecs[0].groupName"
    );
    assert!(d.violations[0].detail.contains("submitter Job's PodSet"));
    let mut sidecar = obj;
    sidecar["spec"]["submissionMode"] = json!("SidecarMode");
    assert!(create(&Policy::default(), RJ, &sidecar).allowed());
    // And in a RayCluster it is an ordinary name.
    let cluster = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"workerGroupSpecs": [{"groupName": "submitter"}]}});
    assert!(create(&Policy::default(), RC, &cluster).allowed());
}

#[test]
fn the_shared_rules_apply_at_the_rayjob_paths() {
    let mut obj = job(&["head", "g"]);
    obj["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] = json!(true);
    obj["spec"]["suspend"] = json!("no");
    let d = create(&Policy::default(), RJ, &obj);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        [
            "spec.suspend",
            "spec.rayClusterSpec.workerGroupSpecs[0].groupName",
            "spec.rayClusterSpec.enableInTreeAutoscaling",
        ]
    );
    // Unmanaged jobs pass whatever they hold.
    obj["metadata"] = json!({"name": "j"});
    assert!(create(&Policy::default(), RJ, &obj).allowed());
    let d = mutate_with(&Policy::default(), RJ, &obj);
    assert!(d.allowed() && d.patch.0.is_empty());
}

#[test]
fn the_queue_label_of_a_running_rayjob_is_fixed() {
    let old = job(&["g"]);
    let mut new = old.clone();
    new["metadata"]["labels"][QUEUE_NAME_KEY] = json!("other");
    let d = validate_with(&Policy::default(), Operation::Update, RJ, &new, Some(&old));
    assert_eq!(d.violations.len(), 1);
    assert!(
        errors(&d)[0].ends_with("set spec.suspend: true in the same update to change it"),
        "{:?}",
        errors(&d)
    );
    new["spec"]["suspend"] = json!(true);
    let d = validate_with(&Policy::default(), Operation::Update, RJ, &new, Some(&old));
    assert!(d.allowed(), "{:?}", errors(&d));
}

#[test]
fn raycluster_mode_leaves_the_rayjob_and_suspends_its_raycluster() {
    let policy = raycluster_mode();
    // The RayJob is not touched or validated.
    let mut obj = job(&["a", "b", "c", "d", "e", "f", "g", "h"]);
    obj["spec"]
        .as_object_mut()
        .unwrap()
        .remove("shutdownAfterJobFinishes");
    let d = mutate_with(&policy, RJ, &obj);
    assert!(d.allowed() && d.patch.0.is_empty() && d.warnings.is_empty());
    assert!(create(&policy, RJ, &obj).allowed());
    // Its RayCluster is a top-level workload: suspended, defaulted, validated.
    let child = json!({"metadata": {"name": "j-raycluster",
            "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayJob", "name": "j", "uid": "1", "controller": true}]},
        "spec": {"workerGroupSpecs": [{"groupName": "g"}]}});
    let defaulted = Policy {
        default_queue: Some("team".into()),
        ..raycluster_mode()
    };
    let d = mutate_with(&defaulted, RC, &child);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/metadata/labels", "value": {}},
            {"op": "add", "path": "/metadata/labels/kueue.x-k8s.io~1queue-name", "value": "team"},
            {"op": "add", "path": "/spec/suspend", "value": true},
        ])
    );
    // In rayjob mode the same child is neither defaulted nor suspended.
    let rayjob_mode = Policy {
        default_queue: Some("team".into()),
        ..Policy::default()
    };
    assert!(mutate_with(&rayjob_mode, RC, &child).patch.0.is_empty());
    // And its queue label is fixed while it runs, in raycluster mode only.
    let mut old = child.clone();
    old["metadata"]["labels"] = json!({QUEUE_NAME_KEY: "q"});
    let mut new = old.clone();
    new["metadata"]["labels"][QUEUE_NAME_KEY] = json!("other");
    let update =
        |policy: &Policy| validate_with(policy, Operation::Update, RC, &new, Some(&old)).allowed();
    assert!(!update(&policy));
    assert!(update(&Policy::default()));
}

/// A managed job with `onSuccess`/`onFailure` legacy deletion policies.
fn with_policies(on_success: Option<&str>, on_failure: Option<&str>) -> Value {
    let mut obj = job(&["small-group"]);
    let policy = |p: Option<&str>| p.map_or(json!({}), |p| json!({"policy": p}));
    obj["spec"]["deletionStrategy"] =
        json!({"onSuccess": policy(on_success), "onFailure": policy(on_failure)});
    obj
}

#[test]
fn deletion_policies_that_keep_pods_are_denied_each_at_its_field() {
    let policy = Policy::default();
    for (on_success, on_failure, denied) in [
        (Some("DeleteCluster"), Some("DeleteSelf"), vec![]),
        (Some("DeleteSelf"), Some("DeleteCluster"), vec![]),
        (None, None, vec![]),
        (Some("DeleteNone"), Some("DeleteCluster"), vec!["onSuccess"]),
        (
            Some("DeleteCluster"),
            Some("DeleteWorkers"),
            vec!["onFailure"],
        ),
        (
            Some("DeleteWorkers"),
            Some("DeleteNone"),
            vec!["onSuccess", "onFailure"],
        ),
        // Not a policy KubeRay knows: the CRD's enum rejects it, not Kueue.
        (Some("deletenone"), Some(""), vec![]),
    ] {
        let obj = with_policies(on_success, on_failure);
        let d = create(&policy, RJ, &obj);
        let paths: Vec<String> = d.violations.iter().map(|v| v.path.clone()).collect();
        let expected: Vec<String> = denied
            .iter()
            .map(|when| format!("spec.deletionStrategy.{when}.policy"))
            .collect();
        assert_eq!(paths, expected, "{on_success:?} {on_failure:?}");
        assert!(
            d.violations
                .iter()
                .all(|v| v.rule == Rule::DeletionPolicyKeepsPods),
            "{:?}",
            errors(&d)
        );
    }
    let d = create(&policy, RJ, &with_policies(Some("DeleteWorkers"), None));
    assert_eq!(
        errors(&d),
        [
            "spec.deletionStrategy.onSuccess.policy: Forbidden: DeleteWorkers takes precedence \
          over shutdownAfterJobFinishes and keeps the head running after the job ends, when \
          Kueue has already released its quota; use DeleteCluster or DeleteSelf"
        ]
    );
}

#[test]
fn deletion_policies_of_unmanaged_or_existing_cluster_jobs_are_not_checked() {
    let mut unmanaged = with_policies(Some("DeleteNone"), Some("DeleteNone"));
    unmanaged["metadata"]["labels"] = json!({});
    assert!(create(&Policy::default(), RJ, &unmanaged).allowed());
    let mut existing = on_existing_cluster();
    existing["spec"]["deletionStrategy"] =
        json!({"onSuccess": {"policy": "DeleteNone"}, "onFailure": {"policy": "DeleteNone"}});
    assert!(create(&Policy::default(), RJ, &existing).allowed());
    // A wrong type is a type error at its path.
    let mut wrong = job(&["g"]);
    wrong["spec"]["deletionStrategy"] = json!({"onSuccess": {"policy": 3}, "onFailure": "x"});
    let d = create(&Policy::default(), RJ, &wrong);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        [
            "spec.deletionStrategy.onSuccess.policy",
            "spec.deletionStrategy.onFailure"
        ]
    );
}
