//! The priority-class and max-exec-time labels on UPDATE.

use super::helpers::*;

#[test]
fn workload_labels_follow_kueues_update_rules() {
    use labels::{MAX_EXEC_TIME_KEY, PRIORITY_CLASS_KEY};
    let policy = Policy::default();
    let with = |labels: Value, suspend: bool| {
        let mut obj = labelled("q");
        for (key, value) in labels.as_object().unwrap() {
            obj["metadata"]["labels"][key] = value.clone();
        }
        obj["spec"]["suspend"] = json!(suspend);
        obj
    };
    let rules = |new: &Value, old: &Value| -> Vec<Rule> {
        validate_with(&policy, Operation::Update, RC, new, Some(old))
            .violations
            .iter()
            .map(|v| v.rule)
            .collect()
    };
    let high = with(json!({PRIORITY_CLASS_KEY: "high"}), false);
    let none = with(json!({}), false);
    assert_eq!(rules(&none, &high), [Rule::PriorityClassImmutable]);
    assert_eq!(rules(&high, &none), [Rule::PriorityClassImmutable]);
    assert!(rules(&with(json!({PRIORITY_CLASS_KEY: "high"}), true), &none).is_empty());
    assert!(rules(&with(json!({PRIORITY_CLASS_KEY: "low"}), false), &high).is_empty());
    let hour = |suspend| with(json!({MAX_EXEC_TIME_KEY: "3600"}), suspend);
    let two = |suspend| with(json!({MAX_EXEC_TIME_KEY: "7200"}), suspend);
    assert!(rules(&two(true), &hour(true)).is_empty());
    assert_eq!(
        rules(&two(false), &hour(true)),
        [Rule::MaxExecTimeImmutable]
    );
    assert_eq!(
        rules(&two(true), &hour(false)),
        [Rule::MaxExecTimeImmutable]
    );
    // Formats, on CREATE too.
    let bad = with(
        json!({PRIORITY_CLASS_KEY: "A", MAX_EXEC_TIME_KEY: "-1"}),
        true,
    );
    let d = validate_with(&policy, Operation::Create, RC, &bad, None);
    assert_eq!(
        d.violations.iter().map(|v| v.rule).collect::<Vec<_>>(),
        [Rule::InvalidPriorityClass, Rule::InvalidMaxExecTime]
    );
    // Unmanaged objects: not this webhook's business.
    let mut unmanaged = bad.clone();
    unmanaged["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove(QUEUE_NAME_KEY);
    assert!(validate_with(&policy, Operation::Create, RC, &unmanaged, None).allowed());
    // A RayService's RayCluster (raycluster mode) or a RayJob's: the owner's labels rule.
    let mut child = none.clone();
    child["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "ray.io/v1", "kind": "RayJob", "controller": true}]);
    let mut old_child = high.clone();
    old_child["metadata"]["ownerReferences"] = child["metadata"]["ownerReferences"].clone();
    assert!(rules(&child, &old_child).is_empty());
}
