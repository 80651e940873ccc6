//! The rules that read the cluster view: owners that did or did not create
//! their RayCluster, RayCronJob runs, unmanaged namespaces, LocalQueues.

use super::helpers::*;

const RJ: Option<RayKind> = Some(RayKind::RayJob);

/// A cluster view from plain data, as a server's caches would answer.
#[derive(Default)]
struct View {
    claim: Option<Claim>,
    cron_queue: Option<String>,
    unmanaged: Vec<&'static str>,
    queues: Vec<(&'static str, &'static str)>,
    /// What `claim` was asked: (namespace, owner, cluster).
    asked: std::cell::RefCell<Vec<(String, Controller, String)>>,
}

impl Cluster for View {
    fn local_queue(&self, namespace: &str, name: &str) -> Option<bool> {
        let known = !self.queues.is_empty();
        known.then(|| self.queues.contains(&(namespace, name)))
    }
    fn namespace_managed(&self, namespace: &str) -> Option<bool> {
        Some(!self.unmanaged.contains(&namespace))
    }
    fn claim(&self, namespace: &str, owner: &Controller, cluster: &str) -> Claim {
        let asked = (namespace.to_owned(), owner.clone(), cluster.to_owned());
        self.asked.borrow_mut().push(asked);
        self.claim.clone().unwrap_or(Claim::Unknown)
    }
    fn cron_queue(&self, _: &str, owner: &Controller) -> Option<String> {
        (owner.uid == "cron-uid")
            .then(|| self.cron_queue.clone())
            .flatten()
    }
}

fn child_of(kind: &str) -> Value {
    json!({"metadata": {"name": "job-raycluster-abcde", "labels": {QUEUE_NAME_KEY: "q"},
        "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": kind, "name": "job",
            "uid": "uid-1", "controller": true}]},
        "spec": {"workerGroupSpecs": [{"groupName": "g"}]}})
}

fn create(view: &View, kind: Option<RayKind>, obj: &Value) -> Decision {
    let text = obj.to_string();
    let req = request(Operation::Create, kind, &text, None);
    mutate_in(req, &Policy::default(), view).unwrap()
}

fn suspends(d: &Decision) -> bool {
    d.changes.contains(&Change::Suspend)
}

#[test]
fn a_claimed_child_is_exempt_and_the_view_is_asked_about_its_owner() {
    let view = View {
        claim: Some(Claim::Claimed),
        ..View::default()
    };
    let d = create(&view, RC, &child_of("RayJob"));
    assert!(d.allowed() && !suspends(&d), "{:?}", d.changes);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(d.owner_read.is_none());
    let asked = view.asked.borrow();
    let (namespace, owner, cluster) = &asked[0];
    assert_eq!(namespace, "ns");
    assert_eq!(cluster, "job-raycluster-abcde");
    let expected = Controller {
        kind: OwnerKind::RayJob,
        name: "job".into(),
        uid: "uid-1".into(),
    };
    assert_eq!(owner, &expected);
}

#[test]
fn a_disowned_cluster_is_suspended_with_a_warning_that_says_why() {
    for kind in ["RayJob", "RayService"] {
        let view = View {
            claim: Some(Claim::Disowned("does not exist".into())),
            ..View::default()
        };
        let d = create(&view, RC, &child_of(kind));
        assert!(suspends(&d), "{kind}: {:?}", d.changes);
        let warning = &d.warnings[0];
        assert_eq!(warning.field.as_deref(), Some(owners::OWNER_FIELD));
        assert!(
            warning
                .message
                .contains(&format!("{kind} \"job\" does not exist"))
                && warning.message.contains("not its child"),
            "{}",
            warning.message
        );
        assert_eq!(
            patch_json(&d)[0]["path"],
            "/spec/suspend",
            "{}",
            patch_json(&d)
        );
    }
}

#[test]
fn an_owner_missing_from_the_cache_is_read_and_meanwhile_trusted() {
    let view = View {
        claim: Some(Claim::Miss),
        ..View::default()
    };
    let d = create(&view, RC, &child_of("RayJob"));
    assert!(!suspends(&d) && d.warnings.is_empty());
    let read = d.owner_read.expect("an owner to read");
    assert_eq!(read.namespace, "ns");
    assert_eq!(read.controller.name, "job");
}

#[test]
fn an_owner_that_cannot_be_checked_is_trusted_with_a_warning() {
    let why = "the API server is unreachable".to_string();
    let view = View {
        claim: Some(Claim::Trusted(why.clone())),
        ..View::default()
    };
    let d = create(&view, RC, &child_of("RayJob"));
    assert!(!suspends(&d) && d.owner_read.is_none());
    assert!(d.warnings[0].message.contains(&why), "{:?}", d.warnings);
}

#[test]
fn only_ray_controllers_of_clusters_are_checked() {
    let view = View {
        claim: Some(Claim::Disowned("does not exist".into())),
        ..View::default()
    };
    // A top-level cluster, and a RayJob naming a RayJob, are not asked about.
    let top = json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: "q"}}});
    create(&view, RC, &top);
    let mut not_controller = child_of("RayJob");
    not_controller["metadata"]["ownerReferences"][0]["controller"] = json!(false);
    create(&view, RC, &not_controller);
    create(&view, RJ, &child_of("RayJob"));
    assert!(view.asked.borrow().is_empty());
}

#[test]
fn a_cluster_named_only_by_generate_name_is_asked_about_with_no_name() {
    let view = View::default();
    let mut obj = child_of("RayJob");
    obj["metadata"]["generateName"] = obj["metadata"]["name"].take();
    create(&view, RC, &obj);
    assert_eq!(view.asked.borrow()[0].2, "");
}

fn cron_run(uid: &str) -> Value {
    json!({"metadata": {"name": "run-1",
        "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayCronJob", "name": "nightly",
            "uid": uid, "controller": true}]},
        "spec": {"shutdownAfterJobFinishes": true,
            "rayClusterSpec": {"workerGroupSpecs": [{"groupName": "g"}]}}})
}

#[test]
fn a_run_of_a_labelled_raycronjob_gets_its_label_and_is_suspended() {
    let view = View {
        cron_queue: Some("team-a".into()),
        ..View::default()
    };
    let d = create(&view, RJ, &cron_run("cron-uid"));
    assert_eq!(d.changes, [Change::CronJobQueueLabel, Change::Suspend]);
    let patch = patch_json(&d);
    assert_eq!(patch[0]["path"], "/metadata/labels");
    assert_eq!(patch[0]["value"], json!({}));
    assert_eq!(
        patch[1]["path"],
        "/metadata/labels/kueue.x-k8s.io~1queue-name"
    );
    assert_eq!(patch[1]["value"], "team-a");
    assert!(
        d.warnings[0].message.contains("RayCronJob \"nightly\""),
        "{:?}",
        d.warnings
    );
}

#[test]
fn a_run_keeps_its_own_label_and_an_unknown_raycronjob_gives_none() {
    let view = View {
        cron_queue: Some("team-a".into()),
        ..View::default()
    };
    let mut own = cron_run("cron-uid");
    own["metadata"]["labels"] = json!({QUEUE_NAME_KEY: "mine"});
    assert!(
        !create(&view, RJ, &own)
            .changes
            .contains(&Change::CronJobQueueLabel)
    );
    let d = create(&view, RJ, &cron_run("other-uid"));
    assert!(d.changes.is_empty(), "{:?}", d.changes);
}

#[test]
fn an_unmanaged_namespace_gets_no_default_queue() {
    let policy = Policy {
        default_queue: Some("dq".into()),
        ..Policy::default()
    };
    let obj = json!({"metadata": {"name": "c"}});
    let text = obj.to_string();
    let view = View {
        unmanaged: vec!["ns"],
        ..View::default()
    };
    let req = request(Operation::Create, RC, &text, None);
    assert!(mutate_in(req, &policy, &view).unwrap().changes.is_empty());
    let req = request(Operation::Create, RC, &text, None);
    let managed = mutate_in(req, &policy, &View::default()).unwrap();
    assert_eq!(
        managed.changes,
        [Change::DefaultQueueLabel, Change::Suspend]
    );
}

#[test]
fn the_view_s_local_queues_warn_and_default() {
    let labelled = json!({"metadata": {"name": "c", "labels": {QUEUE_NAME_KEY: "missing"}}});
    let view = View {
        queues: vec![("ns", "other")],
        ..View::default()
    };
    let d = create(&view, RC, &labelled);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.message.contains("no LocalQueue \"missing\"")),
        "{:?}",
        d.warnings
    );
    let view = View {
        queues: vec![("ns", "default")],
        ..View::default()
    };
    let d = create(&view, RC, &json!({"metadata": {"name": "c"}}));
    assert_eq!(d.changes, [Change::LocalQueueDefaultLabel, Change::Suspend]);
}
