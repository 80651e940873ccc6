//! Elastic jobs: the scheduling gate, autoscaling, the immutable annotation.

use super::helpers::*;

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

#[test]
fn an_elastic_rayjobs_raycluster_is_gated_as_kueues_raycluster_webhook_does() {
    let mut obj = elastic_cluster();
    obj["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "ray.io/v1", "kind": "RayJob", "controller": true}]);
    let policy = release("v0.19");
    let d = mutate_with(&policy, RC, &obj);
    assert!(d.allowed(), "{:?}", errors(&d));
    assert_eq!(d.changes, [Change::ElasticJobGate]);
    let gated = apply_and_rerun(&policy, RC, &obj, &d);
    for template in [
        &gated["spec"]["headGroupSpec"]["template"],
        &gated["spec"]["workerGroupSpecs"][0]["template"],
        &gated["spec"]["workerGroupSpecs"][1]["template"],
    ] {
        let gates = template["spec"]["schedulingGates"].as_array().unwrap();
        assert!(gates.contains(&json!({"name": ELASTIC})), "{template}");
    }
    // Ungated, the validating webhook denies it.
    let v = validate_with(&policy, Operation::Create, RC, &obj, None);
    assert_eq!(v.violations.rules(), [Rule::ElasticJobGateMissing]);
}
