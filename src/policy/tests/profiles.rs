//! Each row of the release table, as the rules see it.

use super::helpers::*;

#[test]
fn every_release_row_limits_the_worker_groups() {
    // (release, most groups allowed)
    for (text, limit) in [
        ("v0.14", 7),
        ("v0.16", 7),
        ("v0.17", 7),
        ("v0.18", 9),
        ("v0.19", 17),
        ("v0.25", 17),
    ] {
        let policy = release(text);
        for groups in [8, 9, 10, 17, 18] {
            let d = validate_with(
                &policy,
                Operation::Create,
                RC,
                &cluster_with_groups(groups),
                None,
            );
            assert_eq!(
                d.allowed(),
                groups <= limit,
                "{text} with {groups} groups: {:?}",
                errors(&d)
            );
        }
    }
}

#[test]
fn every_release_row_picks_who_is_suspended_for_a_rayservice() {
    let service = json!({"metadata": {"name": "s", "labels": {QUEUE_NAME_KEY: "q"}}, "spec": {"rayClusterConfig": {}}});
    for (text, suspended) in [
        ("v0.14", false),
        ("v0.16", false),
        ("v0.17", true),
        ("v0.18", true),
        ("v0.19", true),
    ] {
        let d = mutate_with(&release(text), RS, &service);
        let expected = if suspended {
            json!([{"op": "add", "path": "/spec/rayClusterConfig/suspend", "value": true}])
        } else {
            json!([])
        };
        assert_eq!(patch_json(&d), expected, "{text}");
    }
}
