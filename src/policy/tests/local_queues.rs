//! Queue labels against the known LocalQueues, and LocalQueue defaulting.

use super::helpers::*;

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
