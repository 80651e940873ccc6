//! The validating webhook: worker groups, autoscaling, names, wrong types, undecidable requests.

use super::helpers::*;

#[test]
fn too_many_worker_groups() {
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let obj = with_groups(labelled("q"), "/spec/workerGroupSpecs", &names);
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        errors(&d),
        ["spec.workerGroupSpecs: Too many: 8: must have at most 7 items"]
    );
    assert_eq!(d.violations[0].kind, ErrorKind::TooMany);
    let seven = with_groups(labelled("q"), "/spec/workerGroupSpecs", &names[..7]);
    assert!(validate_with(&Policy::default(), Operation::Create, RC, &seven, None).allowed());
    let roomier = Policy {
        max_worker_groups: 8,
        ..Policy::default()
    };
    assert!(validate_with(&roomier, Operation::Create, RC, &obj, None).allowed());
    let service = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}},
        "spec": {"rayClusterConfig": {"workerGroupSpecs": []}}});
    let service = with_groups(service, "/spec/rayClusterConfig/workerGroupSpecs", &names);
    let d = validate_with(&Policy::default(), Operation::Create, RS, &service, None);
    assert_eq!(
        errors(&d),
        ["spec.rayClusterConfig.workerGroupSpecs: Too many: 8: must have at most 7 items"]
    );
}

#[test]
fn autoscaling_must_be_off() {
    let mut obj = labelled("q");
    obj["spec"]["enableInTreeAutoscaling"] = json!(true);
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(d.violations.len(), 1);
    assert_eq!(d.violations[0].path, "spec.enableInTreeAutoscaling");
    assert!(errors(&d)[0].starts_with("spec.enableInTreeAutoscaling: Invalid value: true: "));
    obj["spec"]["enableInTreeAutoscaling"] = json!(false);
    assert!(validate_with(&Policy::default(), Operation::Create, RC, &obj, None).allowed());
}

#[test]
fn group_names_become_pod_set_names() {
    let long = "x".repeat(64);
    let obj = with_groups(
        labelled("q"),
        "/spec/workerGroupSpecs",
        &["Head", "GPU", "cpu", "gpu", "gpu_a", &long, "ok-Group"],
    );
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    let found: Vec<(String, ErrorKind)> = d
        .violations
        .iter()
        .map(|v| (v.path.clone(), v.kind))
        .collect();
    assert_eq!(
        found,
        [
            (
                "spec.workerGroupSpecs[0].groupName".to_string(),
                ErrorKind::Invalid
            ),
            (
                "spec.workerGroupSpecs[3].groupName".to_string(),
                ErrorKind::Duplicate
            ),
            (
                "spec.workerGroupSpecs[4].groupName".to_string(),
                ErrorKind::Invalid
            ),
            (
                "spec.workerGroupSpecs[5].groupName".to_string(),
                ErrorKind::Invalid
            ),
        ]
    );
    assert!(
        errors(&d)[1].contains("same PodSet name \"gpu\" as spec.workerGroupSpecs[1].groupName")
    );
    assert!(errors(&d)[3].contains("must be no more than 63 characters"));
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::InvalidGroupName)
    );
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"workerGroupSpecs": [{"replicas": 1}, null]}});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(d.violations.len(), 2);
    assert!(d.violations.iter().all(|v| v.kind == ErrorKind::Required));
}

#[test]
fn queue_name_must_be_a_dns_subdomain() {
    let d = validate_with(
        &Policy::default(),
        Operation::Create,
        RC,
        &labelled("Team_A"),
        None,
    );
    assert_eq!(d.violations.len(), 1);
    assert!(errors(&d)[0].starts_with("metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"Team_A\": a lowercase RFC 1123 subdomain"));
    assert!(names::dns1123_subdomain("team-a.gpu").is_ok());
    assert!(names::dns1123_subdomain("Team").is_err());
}

#[test]
fn wrong_types_are_denials_that_name_the_field() {
    let mut obj = labelled("q");
    obj["spec"]["enableInTreeAutoscaling"] = json!("yes");
    obj["spec"]["suspend"] = json!(1);
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        errors(&d),
        [
            "spec.suspend: Invalid value: \"number\": must be of type boolean",
            "spec.enableInTreeAutoscaling: Invalid value: \"string\": must be of type boolean",
        ]
    );
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::WrongFieldType && v.kind == ErrorKind::TypeInvalid)
    );
    // Unmanaged: not this webhook's business.
    obj["metadata"]["labels"] = json!({});
    assert!(mutate_with(&Policy::default(), RC, &obj).allowed());
    // A queue label of the wrong type: whether it is managed cannot be known.
    obj["metadata"]["labels"] = json!({QUEUE_NAME_KEY: ["q"]});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        errors(&d)[0],
        "metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"array\": must be of type string"
    );
    obj["metadata"] = json!("c");
    let d = mutate_with(&Policy::default(), RC, &obj);
    assert_eq!(
        errors(&d),
        ["metadata: Invalid value: \"string\": must be of type object"]
    );
}

#[test]
fn all_violations_are_reported_together() {
    let obj = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {
        "enableInTreeAutoscaling": true,
        "workerGroupSpecs": [{"groupName": "head"}, {"groupName": "a"}, {"groupName": "A"},
            {"groupName": "b"}, {"groupName": "c"}, {"groupName": "d"}, {"groupName": "e"}, {"groupName": "f"}]
    }}});
    let d = validate_with(&Policy::default(), Operation::Create, RS, &obj, None);
    let rules: Vec<Rule> = d.violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [
            Rule::TooManyWorkerGroups,
            Rule::InvalidGroupName,
            Rule::InvalidGroupName,
            Rule::AutoscalingEnabled
        ]
    );
}

#[test]
fn deletes_connects_subresources_and_terminating_objects_pass() {
    let bad = json!({"metadata": {"labels": {QUEUE_NAME_KEY: "q"}, "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"enableInTreeAutoscaling": true}});
    let text = bad.to_string();
    for op in [Operation::Delete, Operation::Connect] {
        assert!(
            validate(request(op, RC, &text, Some(&text)), &Policy::default())
                .unwrap()
                .allowed()
        );
    }
    // Finalizers must always be removable, even without oldObject.
    let req = request(Operation::Update, RC, &text, None);
    assert!(validate(req, &Policy::default()).unwrap().allowed());
    let mut req = request(Operation::Create, RC, &text, None);
    req.sub_resource = Some("status");
    assert!(validate(req, &Policy::default()).unwrap().allowed());
}

#[test]
fn undecidable_requests_are_errors() {
    let req = Request {
        operation: Operation::Create,
        kind: RC,
        sub_resource: None,
        namespace: None,
        object: Field::Absent,
        old_object: Field::Absent,
    };
    assert_eq!(
        mutate(req, &Policy::default()).unwrap_err(),
        RequestError::MissingObject {
            operation: "CREATE"
        }
    );
    let text = labelled("q").to_string();
    let req = request(Operation::Update, RC, &text, None);
    assert_eq!(
        validate(req, &Policy::default()).unwrap_err(),
        RequestError::MissingOldObject
    );
    let req = request(Operation::Update, RC, &text, Some("[]"));
    assert!(matches!(
        validate(req, &Policy::default()).unwrap_err(),
        RequestError::UnreadableObject {
            field: "oldObject",
            ..
        }
    ));
}
