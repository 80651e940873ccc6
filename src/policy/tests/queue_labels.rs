//! A queue label changes on UPDATE only while the workload is suspended.

use super::helpers::*;

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
