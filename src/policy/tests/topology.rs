//! Topology-aware scheduling annotations on the head's and the workers'
//! pod templates, and the PodSets they shape.

use super::helpers::*;
use crate::policy::topology::{
    GROUP_NAME, PREFERRED, REQUIRED, SLICE_LAYERS, SLICE_REQUIRED, SLICE_SIZE, SPREADING,
    UNCONSTRAINED,
};

/// More pods than any slice size below asks for.
const MANY: i64 = i32::MAX as i64;
const ZONE: &str = "topology.kubernetes.io/zone";
const RACK: &str = "cloud.com/rack";

/// A labelled RayCluster whose first worker group (`replicas` pods) carries
/// `worker` and whose head carries `head`.
fn cluster(head: Value, worker: Value, replicas: i64) -> Value {
    let mut obj = cluster_with_groups(1);
    obj["spec"]["headGroupSpec"]["template"]["metadata"] = json!({ "annotations": head });
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = json!(replicas);
    obj["spec"]["workerGroupSpecs"][0]["template"] =
        json!({"metadata": {"annotations": worker}, "spec": {}});
    obj
}

/// A labelled RayCluster whose one worker group (many pods) carries `annotations`.
fn annotated(annotations: Value) -> Value {
    cluster(json!({}), annotations, MANY)
}

const AT: &str = "spec.workerGroupSpecs[0].template.metadata.annotations";
const HEAD: &str = "spec.headGroupSpec.template.metadata.annotations";

/// The violations of `obj` under `policy`: (field, error kind) pairs, all
/// of this rule.
fn found_in(policy: &Policy, obj: &Value) -> Vec<(String, ErrorKind)> {
    let d = validate_with(policy, Operation::Create, RC, obj, None);
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

fn found(policy: &Policy, annotations: Value) -> Vec<(String, ErrorKind)> {
    found_in(policy, &annotated(annotations))
}

/// The messages of `obj` under `policy`.
fn messages(policy: &Policy, obj: &Value) -> Vec<String> {
    errors(&validate_with(policy, Operation::Create, RC, obj, None))
}

fn at(key: &str) -> String {
    format!("{AT}[{key}]")
}

fn head_at(key: &str) -> String {
    format!("{HEAD}[{key}]")
}

/// The v0.20 row with the cluster's `TASTopologySpreading` gate on.
fn spreading_on() -> Policy {
    Policy {
        tas_topology_spreading: true,
        ..release("v0.20")
    }
}

#[test]
fn one_level_annotation_at_most() {
    let p = Policy::default();
    for key in [REQUIRED, PREFERRED] {
        assert_eq!(found(&p, json!({ key: ZONE })), []);
    }
    assert_eq!(found(&p, json!({ UNCONSTRAINED: "true" })), []);
    for pair in [
        json!({REQUIRED: ZONE, PREFERRED: ZONE}),
        json!({REQUIRED: ZONE, UNCONSTRAINED: "true"}),
        json!({PREFERRED: ZONE, UNCONSTRAINED: "true"}),
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
    let errors = messages(&p, &annotated(json!({REQUIRED: "Bad Label"})));
    assert!(
        errors[0].starts_with(&format!(
            "{}: Invalid value: \"Bad Label\": must name a node label (a topology level): ",
            at(REQUIRED)
        )),
        "{errors:?}"
    );
}

#[test]
fn slices_need_both_annotations_and_a_positive_int32_size() {
    let p = Policy::default();
    for size in ["1", "8", "2147483647"] {
        assert_eq!(
            found(&p, json!({SLICE_REQUIRED: RACK, SLICE_SIZE: size})),
            []
        );
    }
    for size in ["0", "-1", "2147483648", "two", "", " 1"] {
        assert_eq!(
            found(&p, json!({SLICE_REQUIRED: RACK, SLICE_SIZE: size})),
            [(at(SLICE_SIZE), ErrorKind::Invalid)],
            "{size:?}"
        );
    }
    assert_eq!(
        found(&p, json!({ SLICE_REQUIRED: RACK })),
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
fn a_slice_holds_at_most_the_podsets_pods_and_need_not_divide_them() {
    let p = Policy::default();
    let sliced = |size: &str| json!({SLICE_REQUIRED: RACK, SLICE_SIZE: size});
    // 4 replicas of 2 hosts: 8 pods.
    let workers = |size: &str, replicas: Value, hosts: Value| {
        let mut obj = cluster(json!({}), sliced(size), 0);
        obj["spec"]["workerGroupSpecs"][0]["replicas"] = replicas;
        obj["spec"]["workerGroupSpecs"][0]["numOfHosts"] = hosts;
        found_in(&p, &obj)
    };
    for size in ["1", "3", "8"] {
        assert_eq!(workers(size, json!(4), json!(2)), [], "{size}");
    }
    let too_big = [(at(SLICE_SIZE), ErrorKind::Invalid)];
    assert_eq!(workers("9", json!(4), json!(2)), too_big);
    // numOfHosts 0 or 1 counts replicas alone.
    assert_eq!(workers("4", json!(4), json!(1)), []);
    assert_eq!(workers("5", json!(4), json!(0)), too_big);
    assert_eq!(workers("5", json!(4), Value::Null), too_big);
    // Absent replicas are the CRD's default, 0: no slice fits.
    let mut obj = cluster(json!({}), sliced("1"), 0);
    obj["spec"]["workerGroupSpecs"][0]
        .as_object_mut()
        .unwrap()
        .remove("replicas");
    assert_eq!(found_in(&p, &obj), too_big);
    // Go's int32 arithmetic wraps: 65536 × 65536 pods are 0.
    assert_eq!(workers("1", json!(65536), json!(65536)), too_big);
    // A count that is not an int32 is the API server's to reject: unknown here.
    assert_eq!(workers("9", json!("4"), json!(2)), []);
    assert_eq!(workers("9", json!(4.5), json!(2)), []);
    assert_eq!(workers("9", json!(4), json!(2_147_483_648i64)), []);
    // The head is one pod.
    let head = |size: &str| found_in(&p, &cluster(sliced(size), json!({}), 1));
    assert_eq!(head("1"), []);
    assert_eq!(head("2"), [(head_at(SLICE_SIZE), ErrorKind::Invalid)]);
    let errors = messages(&p, &cluster(sliced("2"), json!({}), 1));
    assert_eq!(
        errors,
        [format!(
            "{}: Invalid value: \"2\": must not be greater than the PodSet's pod count 1 (1 for \
             the head; replicas times numOfHosts for a worker group): lower the slice size or \
             raise replicas",
            head_at(SLICE_SIZE)
        )]
    );
}

#[test]
fn a_podset_kueue_cannot_build_skips_the_count_and_group_rules() {
    let p = Policy::default();
    // The head's unconstrained annotation is no boolean: Kueue builds no
    // PodSets, so the worker's oversized slice is not compared.
    let head = json!({ UNCONSTRAINED: "maybe" });
    let worker = json!({SLICE_REQUIRED: RACK, SLICE_SIZE: "9"});
    assert_eq!(
        found_in(&p, &cluster(head, worker.clone(), 8)),
        [(head_at(UNCONSTRAINED), ErrorKind::Invalid)]
    );
    // A slice size that is no int32 beside a level stops the build too.
    let head = json!({SLICE_REQUIRED: RACK, SLICE_SIZE: "x", GROUP_NAME: "g", REQUIRED: ZONE});
    assert_eq!(
        found_in(&p, &cluster(head, worker.clone(), 8)),
        [
            (head_at(GROUP_NAME), ErrorKind::Forbidden),
            (head_at(GROUP_NAME), ErrorKind::Forbidden),
            (head_at(SLICE_SIZE), ErrorKind::Invalid),
        ]
    );
    // One off: the same head with a valid size builds, and both rules apply.
    let head = json!({SLICE_REQUIRED: RACK, SLICE_SIZE: "2", GROUP_NAME: "g", REQUIRED: ZONE});
    assert_eq!(
        found_in(&release("v0.20"), &cluster(head, worker, 8)),
        [
            (head_at(SLICE_SIZE), ErrorKind::Invalid),
            (at(SLICE_SIZE), ErrorKind::Invalid),
            (head_at(GROUP_NAME), ErrorKind::Invalid),
        ]
    );
}

#[test]
fn a_group_name_needs_a_level_no_slices_before_v0_20_and_is_not_a_number() {
    let p = Policy::default();
    let pair = |worker: Value| {
        let mut head = worker.clone();
        head.as_object_mut()
            .unwrap()
            .retain(|k, _| k == GROUP_NAME || k == REQUIRED || k == PREFERRED);
        cluster(head, worker, 4)
    };
    for level in [REQUIRED, PREFERRED] {
        assert_eq!(
            found_in(&p, &pair(json!({GROUP_NAME: "pair", level: ZONE}))),
            []
        );
    }
    // Go's ParseUint takes digits only: "+7" and one past u64 are names.
    for name in ["7a", "+7", "-7", "18446744073709551616"] {
        let named = pair(json!({GROUP_NAME: name, PREFERRED: ZONE}));
        assert_eq!(found_in(&p, &named), [], "{name}");
    }
    assert_eq!(
        found_in(&p, &pair(json!({GROUP_NAME: "42", PREFERRED: ZONE}))),
        [
            (head_at(GROUP_NAME), ErrorKind::Invalid),
            (at(GROUP_NAME), ErrorKind::Invalid)
        ]
    );
    // Without a level the name groups nothing: only its own error.
    assert_eq!(
        found(&p, json!({ GROUP_NAME: "pair" })),
        [(at(GROUP_NAME), ErrorKind::Forbidden)]
    );
    let sliced = json!({GROUP_NAME: "pair", REQUIRED: ZONE, SLICE_REQUIRED: RACK, SLICE_SIZE: "2"});
    for text in ["v0.14", "v0.19"] {
        assert_eq!(
            found_in(&release(text), &pair(sliced.clone())),
            [
                (at(GROUP_NAME), ErrorKind::Forbidden),
                (at(GROUP_NAME), ErrorKind::Forbidden)
            ],
            "{text}"
        );
    }
    // v0.20 (TASGroupedPodSetSlicing): a grouped PodSet may be sliced.
    assert_eq!(found_in(&release("v0.20"), &pair(sliced)), []);
}

#[test]
fn a_group_is_two_podsets_one_of_them_a_single_pod_with_one_level() {
    let p = Policy::default();
    let member = |level: &str, value: &str| json!({GROUP_NAME: "g", level: value});
    // The head and a worker group of 4: exactly the allowed pairing.
    let ok = cluster(member(REQUIRED, ZONE), member(REQUIRED, ZONE), 4);
    assert_eq!(found_in(&p, &ok), []);
    // One member alone.
    let alone = cluster(json!({}), member(REQUIRED, ZONE), 4);
    assert_eq!(found_in(&p, &alone), [(at(GROUP_NAME), ErrorKind::Invalid)]);
    // Three members.
    let mut three = ok.clone();
    let mut copy = three["spec"]["workerGroupSpecs"][0].clone();
    copy["groupName"] = json!("g1");
    three["spec"]["workerGroupSpecs"]
        .as_array_mut()
        .unwrap()
        .push(copy);
    let second = "spec.workerGroupSpecs[1].template.metadata.annotations";
    assert_eq!(
        found_in(&p, &three),
        [
            (head_at(GROUP_NAME), ErrorKind::Invalid),
            (at(GROUP_NAME), ErrorKind::Invalid),
            (format!("{second}[{GROUP_NAME}]"), ErrorKind::Invalid),
        ]
    );
    // Two worker groups: one must be a single pod.
    let workers = |a: i64, b: i64| {
        let mut obj = cluster(json!({}), member(PREFERRED, RACK), a);
        let mut copy = obj["spec"]["workerGroupSpecs"][0].clone();
        copy["groupName"] = json!("g1");
        copy["replicas"] = json!(b);
        obj["spec"]["workerGroupSpecs"]
            .as_array_mut()
            .unwrap()
            .push(copy);
        found_in(&p, &obj)
    };
    assert_eq!(workers(1, 5), []);
    assert_eq!(workers(5, 1), []);
    assert_eq!(
        workers(2, 3),
        [
            (at(GROUP_NAME), ErrorKind::Invalid),
            (format!("{second}[{GROUP_NAME}]"), ErrorKind::Invalid),
        ]
    );
    assert_eq!(workers(0, 0).len(), 2);
    // Levels must agree: value and kind.
    for (head, worker) in [
        (member(REQUIRED, ZONE), member(REQUIRED, RACK)),
        (member(REQUIRED, ZONE), member(PREFERRED, ZONE)),
    ] {
        assert_eq!(
            found_in(&p, &cluster(head, worker, 4)),
            [
                (HEAD.to_string(), ErrorKind::Invalid),
                (AT.to_string(), ErrorKind::Invalid)
            ]
        );
    }
    let errors = messages(
        &p,
        &cluster(member(REQUIRED, ZONE), member(REQUIRED, RACK), 4),
    );
    assert_eq!(
        errors[0],
        format!(
            "{HEAD}: Invalid value: must ask for the same {REQUIRED} or {PREFERRED} level as \
             {AT} in group \"g\""
        )
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
fn slice_layers_are_unknown_before_v0_17_gated_off_until_v0_19_then_checked() {
    let layers =
        r#"[{"topology":"cloud.com/block","size":4},{"topology":"cloud.com/rack","size":2}]"#;
    let obj = cluster(
        json!({}),
        json!({ REQUIRED: ZONE, SLICE_LAYERS: layers }),
        8,
    );
    assert_eq!(found_in(&release("v0.16"), &obj), []);
    for text in ["v0.17", "v0.18"] {
        assert_eq!(
            found_in(&release(text), &obj),
            [(at(SLICE_LAYERS), ErrorKind::Forbidden)],
            "{text}"
        );
    }
    for text in ["v0.19", "v0.20"] {
        assert_eq!(found_in(&release(text), &obj), [], "{text}");
    }
    // Case does not matter to Go's decoder, nor do other keys.
    let loose = r#"[{"Topology":"cloud.com/rack","SIZE":2,"other":1}]"#;
    assert_eq!(found(&release("v0.19"), json!({ SLICE_LAYERS: loose })), []);
}

#[test]
fn slice_layers_are_one_to_three_distinct_levels_each_dividing_the_one_above() {
    let p = release("v0.19");
    let layers = |text: &str| found(&p, json!({ SLICE_LAYERS: text }));
    let whole = [(at(SLICE_LAYERS), ErrorKind::Invalid)];
    for bad in [
        "",
        "x",
        "{}",
        "[1]",
        "null",
        "[]",
        r#"[{"topology":5}]"#,
        r#"[{"size":1.5}]"#,
    ] {
        assert_eq!(layers(bad), whole, "{bad:?}");
    }
    let four = r#"[{"topology":"a","size":8},{"topology":"b","size":4},{"topology":"c","size":2},{"topology":"d","size":1}]"#;
    assert_eq!(layers(four), whole);
    let three =
        r#"[{"topology":"a","size":8},{"topology":"b","size":4},{"topology":"c","size":2}]"#;
    assert_eq!(layers(three), []);
    let item = |i: usize, field: &str| format!("{}[{i}].{field}", at(SLICE_LAYERS));
    assert_eq!(
        layers(r#"[{"topology":"Bad Label","size":0}]"#),
        [
            (item(0, "topology"), ErrorKind::Invalid),
            (item(0, "size"), ErrorKind::Invalid)
        ]
    );
    // A null layer is Go's zero value: no level, size 0.
    assert_eq!(layers("[null]").len(), 2);
    assert_eq!(
        layers(r#"[{"topology":"a","size":4},{"topology":"a","size":2}]"#),
        [(item(1, "topology"), ErrorKind::Duplicate)]
    );
    assert_eq!(
        layers(r#"[{"topology":"a","size":6},{"topology":"b","size":4}]"#),
        [(item(1, "size"), ErrorKind::Invalid)]
    );
    assert_eq!(
        layers(r#"[{"topology":"a","size":6},{"topology":"b","size":3}]"#),
        []
    );
    // Not beside the single-layer form; nor, before v0.20, in a group.
    let both = json!({SLICE_LAYERS: r#"[{"topology":"a","size":2}]"#, SLICE_REQUIRED: RACK, SLICE_SIZE: "2"});
    assert_eq!(
        found(&p, both),
        [
            (at(SLICE_LAYERS), ErrorKind::Forbidden),
            (at(SLICE_LAYERS), ErrorKind::Forbidden)
        ]
    );
    let grouped = |p: &Policy| {
        let member = json!({GROUP_NAME: "g", REQUIRED: ZONE});
        let mut worker = member.clone();
        worker[SLICE_LAYERS] = json!(r#"[{"topology":"a","size":2}]"#);
        found_in(p, &cluster(member, worker, 4))
    };
    assert_eq!(grouped(&p), [(at(GROUP_NAME), ErrorKind::Forbidden)]);
    assert_eq!(grouped(&release("v0.20")), []);
}

#[test]
fn the_outer_layer_fits_the_pods_and_from_v0_20_divides_them_when_there_are_more_layers() {
    let two = r#"[{"topology":"a","size":4},{"topology":"b","size":2}]"#;
    let one = r#"[{"topology":"a","size":4}]"#;
    let with = |text: &str, layers: &str, pods: i64| {
        found_in(
            &release(text),
            &cluster(json!({}), json!({ SLICE_LAYERS: layers }), pods),
        )
    };
    let wrong = [(at(SLICE_LAYERS), ErrorKind::Invalid)];
    for text in ["v0.19", "v0.20"] {
        assert_eq!(with(text, two, 4), [], "{text}");
        assert_eq!(with(text, two, 8), [], "{text}");
        assert_eq!(with(text, two, 3), wrong, "{text}");
        assert_eq!(with(text, one, 10), [], "{text}");
        assert_eq!(with(text, one, 3), wrong, "{text}");
    }
    assert_eq!(with("v0.19", two, 10), []);
    assert_eq!(with("v0.20", two, 10), wrong);
    // v0.17 denies the annotation and still compares it, as Kueue does.
    assert_eq!(
        with("v0.17", one, 3),
        [
            (at(SLICE_LAYERS), ErrorKind::Forbidden),
            (at(SLICE_LAYERS), ErrorKind::Invalid)
        ]
    );
    assert_eq!(with("v0.16", one, 3), []);
}

const SPREAD: &str = r#"{"workloadLabelSelectors":[{"key":"app","operator":"In","values":["infer"]}],"rules":[{"topologyKey":"topology.kubernetes.io/zone","maxShareAllowingPlacement":"0.45"}]}"#;

#[test]
fn spreading_is_checked_only_from_v0_20_with_the_gate_on() {
    for garbage in ["", "x", "{}"] {
        let annotations = json!({ SPREADING: garbage });
        assert_eq!(found(&release("v0.20"), annotations.clone()), []);
        let gated_old = Policy {
            tas_topology_spreading: true,
            ..release("v0.19")
        };
        assert_eq!(found(&gated_old, annotations.clone()), []);
        assert_eq!(
            found(&spreading_on(), annotations),
            [(at(SPREADING), ErrorKind::Forbidden)],
            "{garbage:?}"
        );
    }
    assert_eq!(
        found(
            &spreading_on(),
            json!({ REQUIRED: ZONE, SPREADING: SPREAD })
        ),
        []
    );
    // Only beside a required level.
    for level in [PREFERRED, UNCONSTRAINED] {
        let value = if level == PREFERRED { ZONE } else { "true" };
        assert_eq!(
            found(&spreading_on(), json!({ level: value, SPREADING: SPREAD })),
            [(at(SPREADING), ErrorKind::Forbidden)]
        );
    }
}

#[test]
fn spreading_is_one_or_two_rules_of_a_share_strictly_between_0_and_1() {
    let p = spreading_on();
    let spread = |text: &str| found(&p, json!({ REQUIRED: ZONE, SPREADING: text }));
    let rule = |key: &str, share: Value, mode: Option<&str>| {
        let mut r = json!({"topologyKey": key, "maxShareAllowingPlacement": share});
        if let Some(mode) = mode {
            r["enforcementMode"] = json!(mode);
        }
        r
    };
    let spec = |rules: Vec<Value>| json!({"rules": rules}).to_string();
    let item = |i: usize, field: &str| format!("{}.rules[{i}].{field}", at(SPREADING));
    let whole = [(at(SPREADING), ErrorKind::Invalid)];
    // Absent or empty selectors are Kueue's default (the job's own workloads).
    assert_eq!(spread(&spec(vec![rule(ZONE, json!("0.45"), None)])), []);
    assert_eq!(
        spread(&spec(vec![
            rule(ZONE, json!("999m"), Some("Required")),
            rule(RACK, json!(0.5), Some("Preferred"))
        ])),
        []
    );
    for bad in ["", "x", "[]", "null", "{}", r#"{"rules":{}}"#] {
        assert_eq!(spread(bad), whole, "{bad:?}");
    }
    let three = (0..3)
        .map(|i| rule(&format!("l{i}"), json!("0.5"), None))
        .collect();
    assert_eq!(spread(&spec(three)), whole);
    for share in [
        json!("0"),
        json!("1"),
        json!("1000m"),
        json!("-0.5"),
        json!(1),
        Value::Null,
    ] {
        assert_eq!(
            spread(&spec(vec![rule(ZONE, share.clone(), None)])),
            [(item(0, "maxShareAllowingPlacement"), ErrorKind::Invalid)],
            "{share}"
        );
    }
    // Not a quantity at all: the JSON does not decode.
    assert_eq!(spread(&spec(vec![rule(ZONE, json!("half"), None)])), whole);
    assert_eq!(
        spread(&spec(vec![rule(ZONE, json!("0.5"), Some("Soft"))])),
        [(item(0, "enforcementMode"), ErrorKind::NotSupported)]
    );
    assert_eq!(
        spread(&spec(vec![rule("Bad Label", json!("0.5"), None)])),
        [(item(0, "topologyKey"), ErrorKind::Invalid)]
    );
    assert_eq!(
        spread(&spec(vec![
            rule(ZONE, json!("0.5"), None),
            rule(ZONE, json!("0.4"), None)
        ])),
        [(item(1, "topologyKey"), ErrorKind::Duplicate)]
    );
}

#[test]
fn spreading_selects_workloads_with_one_in_requirement() {
    let p = spreading_on();
    let rules = r#""rules":[{"topologyKey":"zone","maxShareAllowingPlacement":"0.5"}]"#;
    let spread = |selectors: &str| {
        let text = format!(r#"{{"workloadLabelSelectors":{selectors},{rules}}}"#);
        found(&p, json!({ REQUIRED: ZONE, SPREADING: text }))
    };
    let selectors = format!("{}.workloadLabelSelectors", at(SPREADING));
    assert_eq!(
        spread(r#"[{"key":"app","operator":"In","values":["a","b"]}]"#),
        []
    );
    assert_eq!(spread("[]"), []);
    assert_eq!(spread("null"), []);
    for bad in [
        r#"[{"key":"app","operator":"In","values":[]}]"#,
        r#"[{"key":"app","operator":"Exists","values":["a"]}]"#,
        r#"[{"key":"app","operator":"Gt","values":["1"]}]"#,
        r#"[{"key":"Bad Key","operator":"In","values":["a"]}]"#,
        r#"[{"key":"app","operator":"In","values":["-a"]}]"#,
    ] {
        assert_eq!(
            spread(bad),
            [(selectors.clone(), ErrorKind::Invalid)],
            "{bad}"
        );
    }
    for op in ["NotIn", "Exists", "DoesNotExist"] {
        let values = if op == "NotIn" { r#"["a"]"# } else { "[]" };
        assert_eq!(
            spread(&format!(
                r#"[{{"key":"app","operator":"{op}","values":{values}}}]"#
            )),
            [(format!("{selectors}[0].operator"), ErrorKind::NotSupported)],
            "{op}"
        );
    }
    let two = r#"[{"key":"a","operator":"In","values":["x"]},{"key":"b","operator":"In","values":["y"]}]"#;
    assert_eq!(spread(two), [(selectors, ErrorKind::TooMany)]);
}

#[test]
fn a_group_spreads_alike_or_not_at_all() {
    let member = |spreading: Option<&str>| {
        let mut m = json!({GROUP_NAME: "g", REQUIRED: ZONE});
        if let Some(s) = spreading {
            m[SPREADING] = json!(s);
        }
        m
    };
    let pair = |head, worker, p: &Policy| found_in(p, &cluster(member(head), member(worker), 4));
    let p = spreading_on();
    assert_eq!(pair(Some(SPREAD), Some(SPREAD), &p), []);
    assert_eq!(pair(None, None, &p), []);
    let differ = [
        (HEAD.to_string(), ErrorKind::Invalid),
        (AT.to_string(), ErrorKind::Invalid),
    ];
    assert_eq!(pair(Some(SPREAD), None, &p), differ);
    // Gate off: Kueue ignores the annotation in groups too.
    assert_eq!(pair(Some(SPREAD), None, &release("v0.20")), []);
    // Absent and empty agree (Go reads a missing key as ""); the empty one
    // is still no JSON.
    assert_eq!(
        pair(Some(""), None, &p),
        [(head_at(SPREADING), ErrorKind::Invalid)]
    );
}

#[test]
fn the_head_and_unmanaged_objects_are_checked_too() {
    let mut obj = cluster_with_groups(0);
    obj["metadata"]["labels"] = json!({});
    obj["spec"]["headGroupSpec"]["template"]["metadata"] =
        json!({"annotations": {SLICE_SIZE: "1"}});
    let d = validate_with(&Policy::default(), Operation::Create, RC, &obj, None);
    assert_eq!(
        d.violations
            .iter()
            .map(|v| v.path.as_str())
            .collect::<Vec<_>>(),
        [head_at(SLICE_SIZE)]
    );
    // Other annotations and other value types are not this rule's.
    let quiet = annotated(json!({"example.com/x": "1", REQUIRED: 5, SPREADING: 7}));
    assert!(validate_with(&spreading_on(), Operation::Create, RC, &quiet, None).allowed());
}

#[test]
fn a_rayservice_is_checked_at_its_cluster_config() {
    // Unlabelled: only this rule speaks.
    let obj = json!({"metadata": {"name": "s"},
        "spec": {"rayClusterConfig": {
            "headGroupSpec": {"template": {"metadata": {"annotations": {GROUP_NAME: "g", REQUIRED: ZONE}},
                "spec": {"containers": [{"name": "h"}]}}},
            "workerGroupSpecs": [{"groupName": "w", "replicas": 2, "numOfHosts": 2,
                "template": {"metadata": {"annotations": {GROUP_NAME: "g", REQUIRED: ZONE,
                    SLICE_REQUIRED: RACK, SLICE_SIZE: "5"}}, "spec": {}}}]}}});
    let d = validate_with(&release("v0.20"), Operation::Create, RS, &obj, None);
    let paths: Vec<&str> = d.violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        [format!(
            "spec.rayClusterConfig.workerGroupSpecs[0].template.metadata.annotations[{SLICE_SIZE}]"
        )]
    );
}

/// A labelled RayJob bringing its cluster: head and one worker group (4
/// pods) annotated `head` and `worker`, the submitter template `submitter`.
fn job(head: Value, worker: Value, submitter: Option<Value>, mode: &str) -> Value {
    let mut obj = json!({"metadata": {"name": "j", "labels": {"kueue.x-k8s.io/queue-name": "q"}},
        "spec": {"shutdownAfterJobFinishes": true, "submissionMode": mode,
            "rayClusterSpec": cluster(head, worker, 4)["spec"].clone()}});
    if let Some(annotations) = submitter {
        obj["spec"]["submitterPodTemplate"] = json!({"metadata": {"annotations": annotations}});
    }
    obj
}

const RJ: Option<RayKind> = Some(RayKind::RayJob);
const JOB_HEAD: &str = "spec.rayClusterSpec.headGroupSpec.template.metadata.annotations";
const JOB_WORKER: &str = "spec.rayClusterSpec.workerGroupSpecs[0].template.metadata.annotations";
const SUBMITTER: &str = "spec.submitterPodTemplate.metadata.annotations";

fn job_errors(obj: &Value) -> Vec<(String, ErrorKind)> {
    let d = validate_with(&release("v0.20"), Operation::Create, RJ, obj, None);
    d.violations
        .iter()
        .map(|v| (v.path.clone(), v.kind))
        .collect()
}

#[test]
fn a_rayjobs_submitter_is_one_more_podset_in_groups() {
    let member = json!({GROUP_NAME: "g", REQUIRED: ZONE});
    // The submitter and the head: a pair, the worker alone elsewhere.
    let pair = job(json!({}), json!({}), Some(member.clone()), "K8sJobMode");
    assert_eq!(
        job_errors(&pair),
        [(format!("{SUBMITTER}[{GROUP_NAME}]"), ErrorKind::Invalid)]
    );
    let pair = job(
        member.clone(),
        json!({}),
        Some(member.clone()),
        "K8sJobMode",
    );
    assert_eq!(job_errors(&pair), []);
    // Head, worker and submitter: three.
    let three = job(
        member.clone(),
        member.clone(),
        Some(member.clone()),
        "K8sJobMode",
    );
    let group = |at: &str| (format!("{at}[{GROUP_NAME}]"), ErrorKind::Invalid);
    assert_eq!(
        job_errors(&three),
        [group(JOB_HEAD), group(JOB_WORKER), group(SUBMITTER)]
    );
    // No submitter Job, no submitter PodSet.
    let sidecar = job(
        member.clone(),
        member.clone(),
        Some(member.clone()),
        "SidecarMode",
    );
    assert_eq!(job_errors(&sidecar), []);
    // Its annotations are not validated, but one Kueue cannot build denies.
    let loose = job(
        json!({}),
        json!({}),
        Some(json!({GROUP_NAME: "42"})),
        "K8sJobMode",
    );
    assert_eq!(job_errors(&loose), []);
    let unbuilt = job(
        json!({}),
        json!({}),
        Some(json!({ UNCONSTRAINED: "maybe" })),
        "K8sJobMode",
    );
    assert_eq!(
        job_errors(&unbuilt),
        [(SUBMITTER.to_string(), ErrorKind::Invalid)]
    );
}
