//! A RayCronJob: judged by its runs (the RayJob rules at `spec.jobTemplate.*`),
//! warned or denied when its queue label will not reach them, never patched.

use super::helpers::*;
use crate::policy::ray::queue_label_path;

const CRON: Option<RayKind> = Some(RayKind::RayCronJob);

/// A RayCronJob whose runs would pass the RayJob rules, labelled `queue`
/// (`None`: no labels; `Some("")`: an empty label).
fn cron(queue: Option<&str>) -> Value {
    let mut obj = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *",
        "suspend": false,
        "jobTemplate": {"entrypoint": "python main.py", "shutdownAfterJobFinishes": true,
            "rayClusterSpec": {"headGroupSpec": {"template": {"spec": {"containers": [{}]}}},
                "workerGroupSpecs": [{"groupName": "small-group"}]}}}});
    if let Some(queue) = queue {
        obj["metadata"]["labels"] = json!({QUEUE_NAME_KEY: queue});
    }
    obj
}

fn labelled_runs() -> Policy {
    Policy {
        cron_runs_labelled: true,
        ..Policy::default()
    }
}

fn deny() -> Policy {
    Policy {
        deny_unqueued_cron_runs: true,
        ..Policy::default()
    }
}

/// The decisions of both webhooks on CREATE, and of the validating one on UPDATE.
fn decisions(policy: &Policy, obj: &Value) -> [Decision; 3] {
    [
        mutate_with(policy, CRON, obj),
        validate_with(policy, Operation::Create, CRON, obj, None),
        validate_with(policy, Operation::Update, CRON, obj, Some(&cron(None))),
    ]
}

fn messages(d: &Decision) -> Vec<&str> {
    d.warnings.iter().map(|w| w.message.as_str()).collect()
}

#[test]
fn a_label_its_runs_will_not_carry_is_warned_and_never_patched() {
    for d in decisions(&Policy::default(), &cron(Some("team"))) {
        assert!(d.allowed(), "{:?}", errors(&d));
        assert!(d.patch.0.is_empty() && d.changes.is_empty());
        let warnings = messages(&d);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(d.warnings[0].field.as_deref(), Some(&*queue_label_path()));
        let warning = warnings[0];
        assert!(
            warning.contains("will not carry this label")
                && warning.contains("they are not queued at all")
                && warning.contains("serve the webhook with --api-access"),
            "{warning}"
        );
    }
}

#[test]
fn the_warning_says_what_queues_the_runs_instead() {
    let with_default = Policy {
        default_queue: Some("fallback".into()),
        ..Policy::default()
    };
    let d = mutate_with(&with_default, CRON, &cron(Some("team")));
    assert!(
        messages(&d)[0].contains("queued by --default-queue \"fallback\" instead"),
        "{:?}",
        messages(&d)
    );
    let manage_all = Policy {
        manage_jobs_without_queue_name: true,
        ..Policy::default()
    };
    let d = mutate_with(&manage_all, CRON, &cron(Some("team")));
    assert!(
        messages(&d)[0].contains("--manage-jobs-without-queue-name"),
        "{:?}",
        messages(&d)
    );
    let mut known = LocalQueues::default();
    known.insert("ns", "default");
    known.insert("ns", "team");
    let queues = Policy {
        local_queues: Some(known),
        ..Policy::default()
    };
    let d = mutate_with(&queues, CRON, &cron(Some("team")));
    assert!(
        messages(&d)[0].contains("LocalQueue \"default\" instead"),
        "{:?}",
        messages(&d)
    );
}

#[test]
fn the_deny_flag_makes_it_a_denial_at_the_label() {
    for d in decisions(&deny(), &cron(Some("team"))) {
        assert_eq!(d.violations.rules(), [Rule::CronQueueLabelNotCarried]);
        assert_eq!(d.violations[0].path, queue_label_path());
        assert!(d.warnings.is_empty() && d.patch.0.is_empty());
    }
}

#[test]
fn in_an_excluded_namespace_the_label_is_ignored_whatever_serves_the_runs() {
    // Kueue v0.15+ gives no Workload there: neither --api-access (the advice)
    // nor a denial would queue the runs; the warning says they run unmanaged.
    for knobs in [Policy::default(), deny(), labelled_runs()] {
        let policy = Policy {
            exclude_namespaces: vec!["ns".into()],
            ..Policy {
                rules: release("v0.20").rules,
                ..knobs
            }
        };
        for d in decisions(&policy, &cron(Some("team"))) {
            assert!(d.allowed(), "{:?}", errors(&d));
            assert!(d.patch.0.is_empty());
            let warnings = messages(&d);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].contains("run unmanaged, outside any quota")
                    && warnings[0].contains("namespace \"ns\"")
                    && !warnings[0].contains("--api-access"),
                "{}",
                warnings[0]
            );
        }
    }
}

#[test]
fn with_labelled_runs_a_labelled_cron_job_is_clean() {
    let policy = Policy {
        deny_unqueued_cron_runs: true,
        ..labelled_runs()
    };
    for d in decisions(&policy, &cron(Some("team"))) {
        assert!(d.allowed(), "{:?}", errors(&d));
        assert!(d.warnings.is_empty(), "{:?}", messages(&d));
        assert!(d.patch.0.is_empty());
    }
}

#[test]
fn absent_and_empty_labels_are_no_label() {
    for queue in [None, Some("")] {
        for d in decisions(&deny(), &cron(queue)) {
            assert!(d.allowed(), "{queue:?}: {:?}", errors(&d));
            assert!(d.warnings.is_empty(), "{queue:?}: {:?}", messages(&d));
        }
    }
}

#[test]
fn the_job_template_is_checked_as_a_run_at_its_own_paths() {
    let mut obj = cron(Some("team"));
    obj["spec"]["jobTemplate"]
        .as_object_mut()
        .unwrap()
        .remove("shutdownAfterJobFinishes");
    obj["spec"]["jobTemplate"]["rayClusterSpec"]["enableInTreeAutoscaling"] = json!(true);
    for d in decisions(&labelled_runs(), &obj) {
        let paths: Vec<&str> = d.violations.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.jobTemplate.rayClusterSpec.enableInTreeAutoscaling",
                "spec.jobTemplate.shutdownAfterJobFinishes",
            ]
        );
        assert!(d.patch.0.is_empty());
    }
    // Runs nothing queues are not Kueue's: the rules do not apply.
    for d in decisions(&Policy::default(), &obj) {
        assert!(d.allowed(), "{:?}", errors(&d));
    }
    // A default queue queues them, label or not.
    let with_default = Policy {
        default_queue: Some("fallback".into()),
        ..Policy::default()
    };
    obj["metadata"] = json!({"name": "nightly"});
    let d = mutate_with(&with_default, CRON, &obj);
    assert_eq!(d.violations.len(), 2, "{:?}", errors(&d));
}

#[test]
fn wrong_types_in_the_template_are_reported_at_its_paths() {
    let mut obj = cron(Some("team"));
    obj["spec"]["jobTemplate"]["shutdownAfterJobFinishes"] = json!("yes");
    let d = mutate_with(&labelled_runs(), CRON, &obj);
    assert_eq!(
        errors(&d),
        [
            "spec.jobTemplate.shutdownAfterJobFinishes: Invalid value: \"string\": must be of type boolean"
        ]
    );
    obj["spec"]["jobTemplate"] = json!([]);
    let d = mutate_with(&labelled_runs(), CRON, &obj);
    let paths: Vec<&str> = d.violations.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.jobTemplate",
            "spec.jobTemplate.rayClusterSpec",
            "spec.jobTemplate.shutdownAfterJobFinishes"
        ]
    );
}

#[test]
fn the_cron_job_itself_is_never_suspended_even_when_suspended() {
    for suspend in [json!(false), json!(true), Value::Null] {
        let mut obj = cron(Some("team"));
        obj["spec"]["suspend"] = suspend.clone();
        let d = mutate_with(&labelled_runs(), CRON, &obj);
        assert!(d.allowed() && d.patch.0.is_empty(), "{suspend}");
    }
}

#[test]
fn check_calls_it_by_its_runs() {
    let unmanaged = |policy: &Policy, obj: &Value| {
        let text = obj.to_string();
        unmanaged_reason(request(Operation::Create, CRON, &text, None), policy).unwrap()
    };
    let why = unmanaged(&Policy::default(), &cron(Some("team"))).unwrap();
    assert!(why.contains("KubeRay copies none"), "{why}");
    let why = unmanaged(&Policy::default(), &cron(None)).unwrap();
    assert!(why.contains("the RayCronJob has none"), "{why}");
    assert_eq!(unmanaged(&labelled_runs(), &cron(Some("team"))), None);
    let with_default = Policy {
        default_queue: Some("fallback".into()),
        ..Policy::default()
    };
    assert_eq!(unmanaged(&with_default, &cron(None)), None);
}

#[test]
fn with_the_rayjob_integration_off_it_is_left_alone() {
    let policy = Policy {
        rayjob_workload: RayJobWorkload::Raycluster,
        deny_unqueued_cron_runs: true,
        ..Policy::default()
    };
    for d in decisions(&policy, &cron(Some("team"))) {
        assert!(d.allowed() && d.warnings.is_empty() && d.patch.0.is_empty());
    }
}

#[test]
fn the_suspend_step_never_touches_a_cron_job() {
    // Not reached through the webhooks (a RayCronJob is decided by its runs):
    // the guard for any future caller.
    let text = cron(Some("team")).to_string();
    let mut obj = RayObject::from_wire(RayKind::RayCronJob, wire(&text), "object")
        .unwrap()
        .unwrap();
    let policy = labelled_runs();
    assert!(!workload::is_suspended_workload(&obj, &policy));
    let mut out = mutate::Mutation::default();
    mutate::suspend(&mut obj, &policy, &mut out);
    assert!(out.patch.is_empty() && out.changes.is_empty());
}

#[test]
fn topology_annotations_of_the_template_are_checked_at_its_paths_even_unqueued() {
    // Kueue checks them on every object, managed or not.
    let mut obj = cron(None);
    obj["spec"]["jobTemplate"]["rayClusterSpec"]["headGroupSpec"]["template"]["metadata"] =
        json!({"annotations": {"kueue.x-k8s.io/podset-slice-size": "2"}});
    let d = mutate_with(
        &Policy::for_release(Release::parse("v0.20").ok()),
        CRON,
        &obj,
    );
    let paths: Vec<&str> = d.violations.iter().map(|e| e.path.as_str()).collect();
    assert!(!paths.is_empty(), "{:?}", errors(&d));
    for path in paths {
        assert!(
            path.starts_with(
                "spec.jobTemplate.rayClusterSpec.headGroupSpec.template.metadata.annotations["
            ),
            "{path}"
        );
    }
}
