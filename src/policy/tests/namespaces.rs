//! Excluded namespaces, and why an object is left unmanaged.

use super::helpers::*;

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
fn from_v0_15_a_labelled_object_in_an_excluded_namespace_is_left_alone_with_a_warning() {
    let mut obj = cluster_with_groups(1);
    obj["metadata"]["labels"][QUEUE_NAME_KEY] = json!("team-a");
    let excluded = |text: &str| Policy {
        exclude_namespaces: vec!["ns".into()],
        ..release(text)
    };
    // v0.14 (and no --kueue-version): the label still counts there.
    for policy in [
        excluded("v0.14"),
        Policy {
            exclude_namespaces: vec!["ns".into()],
            ..Policy::default()
        },
    ] {
        let d = mutate_with(&policy, RC, &obj);
        assert_eq!(
            patch_json(&d),
            json!([{"op": "add", "path": "/spec/suspend", "value": true}])
        );
    }
    for text in ["v0.15", "v0.17", "v0.19", "v0.20"] {
        let d = mutate_with(&excluded(text), RC, &obj);
        assert!(d.allowed(), "{text}");
        assert!(d.patch.0.is_empty(), "{text}: {}", patch_json(&d));
        assert_eq!(
            d.warnings,
            [Warning::on(
                "metadata.labels[kueue.x-k8s.io/queue-name]",
                format!(
                    "not suspended: namespace \"ns\" is outside Kueue's \
                     managedJobsNamespaceSelector (--exclude-namespace), where Kueue {text} never \
                     gives an object a Workload, queue label or not; the label \
                     kueue.x-k8s.io/queue-name=\"team-a\" is ignored and the RayCluster runs \
                     unmanaged"
                )
            )],
            "{text}"
        );
        // Not managed: its rules do not apply, and check says why.
        let mut bad = obj.clone();
        bad["spec"]["enableInTreeAutoscaling"] = json!(true);
        assert!(
            validate_with(&excluded(text), Operation::Create, RC, &bad, None).allowed(),
            "{text}"
        );
        let text_obj = bad.to_string();
        let reason = unmanaged_reason(
            request(Operation::Create, RC, &text_obj, None),
            &excluded(text),
        )
        .unwrap()
        .unwrap();
        assert!(reason.contains("never given a Workload"), "{reason}");
        // Elsewhere the label counts as before.
        let elsewhere = Policy {
            exclude_namespaces: vec!["other".into()],
            ..release(text)
        };
        assert_eq!(mutate_with(&elsewhere, RC, &obj).changes, [Change::Suspend]);
    }
}
