//! Topology-aware scheduling annotations on the head's and the workers'
//! pod templates.

use super::helpers::*;
use crate::policy::topology::{
    GROUP_NAME, PREFERRED, REQUIRED, SLICE_REQUIRED, SLICE_SIZE, UNCONSTRAINED,
};

/// A labelled RayCluster whose first worker group's template carries `annotations`.
fn annotated(annotations: Value) -> Value {
    let mut obj = cluster_with_groups(1);
    obj["spec"]["workerGroupSpecs"][0]["template"] =
        json!({"metadata": {"annotations": annotations}, "spec": {}});
    obj
}

const AT: &str = "spec.workerGroupSpecs[0].template.metadata.annotations";

/// The violations of `annotations` under `policy`: (field, error kind) pairs.
fn found(policy: &Policy, annotations: Value) -> Vec<(String, ErrorKind)> {
    let d = validate_with(policy, Operation::Create, RC, &annotated(annotations), None);
    assert!(
        d.violations
            .iter()
            .all(|v| v.rule == Rule::InvalidTopologyAnnotation),
        "{:?}",
        errors(&d)
    );
    d.violations
        .iter()
        .map(|v| (v.path.clone(), v.kind))
        .collect()
}

fn at(key: &str) -> String {
    format!("{AT}[{key}]")
}

#[test]
fn one_level_annotation_at_most() {
    let p = Policy::default();
    let zone = "topology.kubernetes.io/zone";
    for key in [REQUIRED, PREFERRED] {
        assert_eq!(found(&p, json!({ key: zone })), []);
    }
    assert_eq!(found(&p, json!({ UNCONSTRAINED: "true" })), []);
    for pair in [
        json!({REQUIRED: zone, PREFERRED: zone}),
        json!({REQUIRED: zone, UNCONSTRAINED: "true"}),
        json!({PREFERRED: zone, UNCONSTRAINED: "true"}),
    ] {
        assert_eq!(
            found(&p, pair.clone()),
            [(AT.to_string(), ErrorKind::Invalid)],
            "{pair}"
        );
    }
}

#[test]
fn levels_are_label_names_and_empty_is_not_one() {
    let p = Policy::default();
    for key in [REQUIRED, PREFERRED] {
        for bad in ["", "Bad Label", "a/b/c", "-rack"] {
            assert_eq!(
                found(&p, json!({ key: bad })),
                [(at(key), ErrorKind::Invalid)],
                "{key}={bad:?}"
            );
        }
    }
    let d = validate_with(
        &p,
        Operation::Create,
        RC,
        &annotated(json!({REQUIRED: "Bad Label"})),
        None,
    );
    assert!(
        errors(&d)[0].starts_with(&format!(
            "{}: Invalid value: \"Bad Label\": must name a node label (a topology level): ",
            at(REQUIRED)
        )),
        "{:?}",
        errors(&d)
    );
}

#[test]
fn slices_need_both_annotations_and_a_positive_int32_size() {
    let p = Policy::default();
    let rack = "cloud.com/rack";
    for size in ["1", "8", "2147483647"] {
        assert_eq!(
            found(&p, json!({SLICE_REQUIRED: rack, SLICE_SIZE: size})),
            []
        );
    }
    for size in ["0", "-1", "2147483648", "two", "", " 1"] {
        assert_eq!(
            found(&p, json!({SLICE_REQUIRED: rack, SLICE_SIZE: size})),
            [(at(SLICE_SIZE), ErrorKind::Invalid)],
            "{size:?}"
        );
    }
    assert_eq!(
        found(&p, json!({ SLICE_REQUIRED: rack })),
        [(at(SLICE_SIZE), ErrorKind::Required)]
    );
    assert_eq!(
        found(&p, json!({ SLICE_SIZE: "2" })),
        [(at(SLICE_SIZE), ErrorKind::Forbidden)]
    );
    assert_eq!(
        found(&p, json!({SLICE_REQUIRED: "Bad Label", SLICE_SIZE: "2"})),
        [(at(SLICE_REQUIRED), ErrorKind::Invalid)]
    );
}

#[test]
fn a_group_name_needs_a_level_no_slices_and_is_not_a_number() {
    let p = Policy::default();
    let zone = "topology.kubernetes.io/zone";
    assert_eq!(found(&p, json!({GROUP_NAME: "pair", REQUIRED: zone})), []);
    assert_eq!(found(&p, json!({GROUP_NAME: "pair", PREFERRED: zone})), []);
    assert_eq!(found(&p, json!({GROUP_NAME: "7a", PREFERRED: zone})), []);
    assert_eq!(
        found(&p, json!({GROUP_NAME: "42", PREFERRED: zone})),
        [(at(GROUP_NAME), ErrorKind::Invalid)]
    );
    assert_eq!(
        found(&p, json!({ GROUP_NAME: "pair" })),
        [(at(GROUP_NAME), ErrorKind::Forbidden)]
    );
    assert_eq!(
        found(
            &p,
            json!({GROUP_NAME: "pair", REQUIRED: zone, SLICE_REQUIRED: zone, SLICE_SIZE: "2"})
        ),
        [
            (at(GROUP_NAME), ErrorKind::Forbidden),
            (at(GROUP_NAME), ErrorKind::Forbidden)
        ]
    );
}

#[test]
fn unconstrained_is_a_boolean_and_false_is_rejected_from_v0_20() {
    for value in ["true", "True", "1", "t"] {
        assert_eq!(
            found(&release("v0.20"), json!({ UNCONSTRAINED: value })),
            []
        );
    }
    for value in ["false", "0", "F"] {
        assert_eq!(
            found(&release("v0.19"), json!({ UNCONSTRAINED: value })),
            []
        );
        assert_eq!(
            found(&release("v0.20"), json!({ UNCONSTRAINED: value })),
            [(at(UNCONSTRAINED), ErrorKind::Invalid)],
            "{value}"
        );
    }
    for value in ["yes", "", "truE"] {
        for text in ["v0.19", "v0.20"] {
            assert_eq!(
                found(&release(text), json!({ UNCONSTRAINED: value })),
                [(at(UNCONSTRAINED), ErrorKind::Invalid)],
                "{text} {value:?}"
            );
        }
    }
}

#[test]
fn the_head_and_unmanaged_objects_are_checked_too() {
    let mut obj = cluster_with_groups(0);
    obj["metadata"]["labels"] = json!({});
    obj["spec"]["headGroupSpec"]["template"]["metadata"] =
        json!({"annotations": {SLICE_SIZE: "4"}});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        [format!(
            "spec.headGroupSpec.template.metadata.annotations[{SLICE_SIZE}]"
        )]
    );
    // Other annotations and other value types are not this rule's.
    let quiet = annotated(json!({"example.com/x": "1", REQUIRED: 5}));
    assert!(validate_with(&Policy::default(), Operation::Create, RC, &quiet, None).allowed());
}
