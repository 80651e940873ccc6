//! Every warning names a field of the object as stored.

use super::helpers::*;

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
