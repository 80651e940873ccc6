//! Kueue v0.20's RayService upgrade strategy and the MultiKueue autoscaling
//! rule of v0.19 (RayCluster) and v0.20 (every kind).

use super::helpers::*;

const RJ: Option<RayKind> = Some(RayKind::RayJob);

/// A labelled RayService with a head, and `upgradeStrategy` when given.
fn service(strategy: Option<Value>) -> Value {
    let mut obj = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"rayClusterConfig": {"headGroupSpec": head(), "workerGroupSpecs": [{"groupName": "g"}]}}});
    if let Some(strategy) = strategy {
        obj["spec"]["upgradeStrategy"] = strategy;
    }
    obj
}

fn create(policy: &Policy, kind: Option<RayKind>, obj: &Value) -> Decision {
    validate_with(policy, Operation::Create, kind, obj, None)
}

#[test]
fn a_zero_downtime_upgrade_is_denied_from_v0_20_offering_both_fixes() {
    let policy = release("v0.20");
    for (strategy, value) in [
        (None, "null"),
        (Some(json!({})), "null"),
        (Some(json!({"type": null})), "null"),
        (Some(json!({"type": "NewCluster"})), "\"NewCluster\""),
        (
            Some(json!({"type": "NewClusterWithIncrementalUpgrade"})),
            "\"NewClusterWithIncrementalUpgrade\"",
        ),
    ] {
        let obj = service(strategy.clone());
        let d = create(&policy, RS, &obj);
        assert_eq!(
            errors(&d),
            [format!(
                "spec.upgradeStrategy: Invalid value: {value}: a zero-downtime upgrade (the \
                 default when the type is unset) runs a second RayCluster beside the admitted \
                 one, outside the quota Kueue admitted; set spec.upgradeStrategy.type: None, or \
                 annotate it kueue.x-k8s.io/elastic-job: \"true\" to make it elastic"
            )],
            "{strategy:?}"
        );
        // UPDATE is checked as CREATE is.
        let update = validate_with(&policy, Operation::Update, RS, &obj, Some(&obj));
        assert_eq!(update.violations.rules(), [Rule::ZeroDowntimeUpgrade]);
        // Before v0.20, and when Kueue admits the RayService's RayCluster instead, no rule.
        assert!(create(&release("v0.19"), RS, &obj).allowed());
        let cluster_mode = Policy {
            rayservice_workload: RayServiceWorkload::Raycluster,
            ..release("v0.20")
        };
        assert!(create(&cluster_mode, RS, &obj).allowed());
    }
    // Exactly the opt-out passes, and an elastic RayService.
    assert!(create(&policy, RS, &service(Some(json!({"type": "None"})))).allowed());
    let mut elastic = service(None);
    elastic["metadata"]["annotations"] = json!({ELASTIC: "true"});
    assert!(mutate_with(&policy, RS, &elastic).allowed());
    // With elastic jobs off, the message says how to turn them on.
    let off = Policy {
        elastic_jobs: false,
        ..release("v0.20")
    };
    assert!(errors(&create(&off, RS, &elastic))[0].ends_with(
        "set spec.upgradeStrategy.type: None, or make it elastic (--elastic-jobs, and the \
         annotation kueue.x-k8s.io/elastic-job: \"true\")"
    ));
}

#[test]
fn the_upgrade_type_decides_whether_the_upgrade_is_zero_downtime() {
    use crate::policy::release_rules::zero_downtime;
    for zero in [
        None,
        Some("NewCluster"),
        Some("NewClusterWithIncrementalUpgrade"),
    ] {
        assert!(zero_downtime(zero), "{zero:?}");
    }
    for other in [Some("None"), Some("none"), Some(""), Some("Recreate")] {
        assert!(!zero_downtime(other), "{other:?}");
    }
}

/// An elastic, autoscaling object of `kind`, dispatched by MultiKueue when `multikueue`.
fn elastic_autoscaling(kind: RayKind, multikueue: bool) -> Value {
    let cluster = json!({"enableInTreeAutoscaling": true, "headGroupSpec": head(),
        "workerGroupSpecs": [{"groupName": "g", "template": {"spec": {}}}]});
    let mut obj = json!({"metadata": {"name": "o", "labels": {QUEUE_NAME_KEY: "q"},
        "annotations": {ELASTIC: "true"}}, "spec": {}});
    match kind {
        RayKind::RayCluster => obj["spec"] = cluster,
        RayKind::RayService => obj["spec"]["rayClusterConfig"] = cluster,
        RayKind::RayJob => {
            obj["spec"]["rayClusterSpec"] = cluster;
            obj["spec"]["shutdownAfterJobFinishes"] = json!(true);
        }
        RayKind::RayCronJob => panic!("a RayCronJob is not a workload"),
    }
    if multikueue {
        obj["spec"]["managedBy"] = json!("kueue.x-k8s.io/multikueue");
    }
    obj
}

#[test]
fn multikueue_elastic_autoscaling_is_denied_by_release_and_kind_unless_allowed() {
    let kinds = [RayKind::RayCluster, RayKind::RayService, RayKind::RayJob];
    // (release, kinds denied)
    for (text, denied) in [
        ("v0.18", &[][..]),
        ("v0.19", &[RayKind::RayCluster][..]),
        ("v0.20", &kinds[..]),
    ] {
        for kind in kinds {
            let policy = release(text);
            let obj = elastic_autoscaling(kind, true);
            let d = mutate_with(&policy, Some(kind), &obj);
            let rules: Vec<Rule> = d.violations.rules().to_vec();
            if denied.contains(&kind) {
                assert_eq!(rules, [Rule::MultiKueueAutoscaling], "{text} {kind:?}");
                assert_eq!(
                    d.violations[0].path,
                    format!("{}.enableInTreeAutoscaling", kind.cluster_spec_path())
                );
            } else {
                assert!(d.allowed(), "{text} {kind:?}: {:?}", errors(&d));
            }
            // The worker clusters allow it; or MultiKueue does not manage it.
            let allowed = Policy {
                multikueue_ray_autoscaling: true,
                ..release(text)
            };
            assert!(mutate_with(&allowed, Some(kind), &obj).allowed());
            let local = elastic_autoscaling(kind, false);
            assert!(mutate_with(&policy, Some(kind), &local).allowed());
        }
    }
    let d = mutate_with(
        &release("v0.20"),
        RJ,
        &elastic_autoscaling(RayKind::RayJob, true),
    );
    assert_eq!(
        errors(&d),
        [
            "spec.rayClusterSpec.enableInTreeAutoscaling: Forbidden: in-tree autoscaling is not \
          supported for an elastic RayJob that MultiKueue manages (spec.managedBy: \
          kueue.x-k8s.io/multikueue) unless the worker clusters run with \
          MultiKueueRayInTreeAutoscaling (--multikueue-ray-autoscaling)"
        ]
    );
}

#[test]
fn multikueue_without_autoscaling_or_elasticity_is_not_this_rule() {
    let policy = release("v0.20");
    let mut still = elastic_autoscaling(RayKind::RayCluster, true);
    still["spec"]["enableInTreeAutoscaling"] = json!(false);
    assert!(mutate_with(&policy, RC, &still).allowed());
    // Not elastic: the plain autoscaling rule, not the MultiKueue one.
    let mut plain = elastic_autoscaling(RayKind::RayCluster, true);
    plain["metadata"]["annotations"] = json!({});
    let d = mutate_with(&policy, RC, &plain);
    assert_eq!(d.violations.rules(), [Rule::AutoscalingEnabled]);
}
