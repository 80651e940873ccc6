//! Kueue v0.20: the head's pod template lists containers.

use super::helpers::*;

const RJ: Option<RayKind> = Some(RayKind::RayJob);

fn create(policy: &Policy, kind: Option<RayKind>, obj: &Value) -> Decision {
    validate_with(policy, Operation::Create, kind, obj, None)
}

#[test]
fn from_v0_20_a_head_without_containers_is_denied_absent_or_empty() {
    let containers = "spec.headGroupSpec.template.spec.containers";
    let no_head = cluster_with_groups(1);
    let mut empty = no_head.clone();
    empty["spec"]["headGroupSpec"]["template"]["spec"]["containers"] = json!([]);
    let mut no_template = no_head.clone();
    no_template["spec"]["headGroupSpec"] = json!({});
    let mut no_list = no_head.clone();
    no_list["spec"]["headGroupSpec"]["template"]["spec"] = json!({"nodeSelector": {}});
    let mut absent = no_head.clone();
    absent["spec"]
        .as_object_mut()
        .unwrap()
        .remove("headGroupSpec");
    for obj in [&empty, &no_list, &no_template, &absent] {
        let d = create(&release("v0.20"), RC, obj);
        assert_eq!(
            errors(&d),
            [format!(
                "{containers}: Required value: the head's pod template needs at least one \
                 container: Kueue builds the head's PodSet from it"
            )],
            "{obj}"
        );
        assert_eq!(d.violations.rules(), [Rule::HeadContainersMissing]);
        // Before v0.20 (and without --kueue-version) the rule is not Kueue's.
        assert!(create(&release("v0.19"), RC, obj).allowed());
        assert!(create(&Policy::default(), RC, obj).allowed());
    }
    // Exactly one container is enough.
    assert!(create(&release("v0.20"), RC, &no_head).allowed());
    assert!(create(&release("v0.21"), RC, &no_head).allowed());
}

#[test]
fn the_path_follows_the_kind_and_a_rayjob_without_a_cluster_is_denied_once() {
    let service = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"upgradeStrategy": {"type": "None"}, "rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containers": []}}}}}});
    let d = create(&release("v0.20"), RS, &service);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        ["spec.rayClusterConfig.headGroupSpec.template.spec.containers"]
    );
    let job = json!({"metadata": {"name": "j", "labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"shutdownAfterJobFinishes": true, "rayClusterSpec": {}}});
    let d = create(&release("v0.20"), RJ, &job);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        ["spec.rayClusterSpec.headGroupSpec.template.spec.containers"]
    );
    let mut without_cluster = job.clone();
    without_cluster["spec"]
        .as_object_mut()
        .unwrap()
        .remove("rayClusterSpec");
    let d = create(&release("v0.20"), RJ, &without_cluster);
    assert_eq!(d.violations.rules(), [Rule::ClusterSpecMissing]);
}

#[test]
fn an_unmanaged_cluster_is_not_checked() {
    let mut obj = cluster_with_groups(1);
    obj["metadata"]["labels"] = json!({});
    obj["spec"].as_object_mut().unwrap().remove("headGroupSpec");
    assert!(create(&release("v0.20"), RC, &obj).allowed());
}
