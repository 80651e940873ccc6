//! The wire format end to end: answers to readable, denied, oversized and
//! unreadable reviews.

use super::*;
use crate::policy::ECHO_LIMIT;
use serde_json::{Value, json};

fn review_json(operation: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": API_VERSION, "kind": REVIEW_KIND,
        "request": {
            "uid": "u-1", "operation": operation, "namespace": "ns", "name": "c",
            "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
            "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
            "userInfo": {"username": "alice"},
            "object": object,
        }
    }))
    .unwrap()
}

fn answer(webhook: Webhook, body: &[u8]) -> (Answer, Value) {
    let answer = review(webhook, body, &Policy::default());
    let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer, json)
}

#[test]
fn mutating_answer_carries_a_base64_patch() {
    let body = review_json(
        "CREATE",
        json!({"metadata": {"name": "c", "labels": {"kueue.x-k8s.io/queue-name": "q"}}, "spec": {}}),
    );
    let (a, json) = answer(Webhook::Mutate, &body);
    assert_eq!(a.status, 200);
    assert_eq!(json["apiVersion"], API_VERSION);
    assert_eq!(json["kind"], REVIEW_KIND);
    assert_eq!(json["response"]["uid"], "u-1");
    assert_eq!(json["response"]["allowed"], true);
    assert_eq!(json["response"]["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(json["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(
        patch,
        json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
    assert!(a.record.mutated);
    assert_eq!(a.record.changes, ["suspend"]);
    // The validating route never patches.
    let (_, json) = answer(Webhook::Validate, &body);
    assert_eq!(json["response"].get("patch"), None);
    assert_eq!(json["response"].get("patchType"), None);
}

#[test]
fn denial_lists_every_violation() {
    let groups: Vec<Value> = (0..8)
        .map(|i| json!({"groupName": format!("g{i}")}))
        .collect();
    let body = review_json(
        "CREATE",
        json!({"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "q"}},
               "spec": {"enableInTreeAutoscaling": true, "workerGroupSpecs": groups}}),
    );
    let (a, json) = answer(Webhook::Validate, &body);
    let status = &json["response"]["status"];
    assert_eq!(json["response"]["allowed"], false);
    assert_eq!(status["code"], 403);
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "RayCluster.ray.io \"c\" is invalid: [spec.workerGroupSpecs: Too many: 8: must have at most 7 items, \
         spec.enableInTreeAutoscaling: Invalid value: true: Kueue sizes the cluster, so KubeRay's in-tree \
         autoscaler must be off; set it to false or remove it; Kueue's elastic jobs, which may \
         autoscale, are off in this configuration (--elastic-jobs)]"
    );
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.workerGroupSpecs"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueTooMany"
    );
    assert_eq!(
        a.record.denials,
        ["too_many_worker_groups", "autoscaling_enabled"]
    );
}

#[test]
fn a_denial_lists_the_first_violations_and_counts_the_rest() {
    // 5,000 badly named groups against a limit of 1,024: "Too many", then
    // only the groups that may stay are checked, and of those violations
    // the first are listed.
    let groups = vec![json!({"groupName": "A."}); 5_000];
    let body = review_json(
        "CREATE",
        json!({"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "q"}},
               "spec": {"suspend": true, "workerGroupSpecs": groups}}),
    );
    let policy = Policy {
        max_worker_groups: 1_024,
        ..Policy::default()
    };
    let a = review(Webhook::Validate, &body, &policy);
    assert!(a.body.len() <= ANSWER_LIMIT, "{}", a.body.len());
    let json: Value = serde_json::from_slice(&a.body).unwrap();
    let status = &json["response"]["status"];
    let causes = status["details"]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), policy::LISTED_VIOLATIONS + 1);
    assert_eq!(
        causes[0]["message"],
        "Too many: 5000: must have at most 1024 items"
    );
    for (i, cause) in causes[1..policy::LISTED_VIOLATIONS].iter().enumerate() {
        assert_eq!(
            cause["field"],
            format!("spec.workerGroupSpecs[{i}].groupName")
        );
    }
    let more = 1 + 1_024 - policy::LISTED_VIOLATIONS;
    assert_eq!(
        causes[policy::LISTED_VIOLATIONS]["message"],
        format!("{more} more violations not listed: an answer lists the first 32 of 1025")
    );
    let message = status["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!(", and {more} more violations not listed]")),
        "{message}"
    );
    // Each violated rule once, for the metrics and the log line.
    assert_eq!(
        a.record.denials,
        ["too_many_worker_groups", "invalid_group_name"]
    );
}

#[test]
fn values_from_the_request_are_cut() {
    let long = "Q".repeat(10_240);
    let body = review_json(
        "CREATE",
        json!({"metadata": {"name": long, "labels": {"kueue.x-k8s.io/queue-name": long}},
               "spec": {"suspend": true}}),
    );
    let (a, json) = answer(Webhook::Mutate, &body);
    assert!(a.body.len() < 4_096, "{}", a.body.len());
    let cut = format!("{}...[truncated: 10240 bytes]", "Q".repeat(ECHO_LIMIT));
    let cause = &json["response"]["status"]["details"]["causes"][0];
    assert_eq!(
        cause["message"],
        format!("Invalid value: \"{cut}\": must be no more than 253 characters")
    );
    // The request's name is "c"; a long object name is cut too.
    let mut review: Value = serde_json::from_slice(&body).unwrap();
    review["request"]["name"] = Value::Null;
    let (a, json) = answer(Webhook::Mutate, &serde_json::to_vec(&review).unwrap());
    assert_eq!(json["response"]["status"]["details"]["name"], cut.as_str());
    assert_eq!(a.record.name.as_deref(), Some(cut.as_str()));
    // A wrong type where a string belongs: serde's message quotes it, cut.
    review["request"]["dryRun"] = Value::from(long.as_str());
    let (a, json) = answer(Webhook::Mutate, &serde_json::to_vec(&review).unwrap());
    assert!(a.body.len() < 2_048, "{}", a.body.len());
    assert_eq!(json["response"]["status"]["code"], 400);
}

#[test]
fn a_uid_too_long_to_echo_is_refused_with_400() {
    let mut review: Value = serde_json::from_slice(&review_json("CREATE", json!({}))).unwrap();
    review["request"]["uid"] = Value::from("u".repeat(ECHO_LIMIT + 1));
    let (a, _) = answer(Webhook::Validate, &serde_json::to_vec(&review).unwrap());
    assert_eq!(a.status, 400);
    assert!(
        String::from_utf8_lossy(&a.body).contains("request.uid is 257 bytes long"),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
}

#[test]
fn unreadable_bodies() {
    for (body, status, needle) in [
        (&b""[..], 400, "empty"),
        (b"{\"request\":", 400, "not valid JSON"),
        (b"[1]", 400, "not an AdmissionReview"),
        (b"{\"kind\":\"AdmissionReview\"}", 400, "without a request"),
        (
            b"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{}}",
            400,
            "v1beta1",
        ),
    ] {
        let (a, _) = answer(Webhook::Mutate, body);
        let text = String::from_utf8_lossy(&a.body);
        assert_eq!(a.status, status, "{text}");
        assert!(text.contains(needle), "{text}");
    }
    // Nesting where a review should be: a 400 that says so.
    let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let (a, _) = answer(Webhook::Mutate, deep(100_000).as_bytes());
    assert_eq!(a.status, 400);
    assert!(String::from_utf8_lossy(&a.body).contains("not an AdmissionReview"));
    // Nesting inside an object is skipped without recursion: no stack overflow,
    // and a wrong type where the rules read is a field error.
    let object = format!(
        r#"{{"metadata":{{"labels":{{"kueue.x-k8s.io/queue-name":"q"}}}},
            "spec":{{"suspend":true,"x":{d},"workerGroupSpecs":[{d}]}}}}"#,
        d = deep(100_000)
    );
    let body = format!(
        r#"{{"request":{{"uid":"u","operation":"CREATE","object":{object},
            "kind":{{"group":"ray.io","version":"v1","kind":"RayCluster"}}}}}}"#
    );
    let (a, json) = answer(Webhook::Validate, body.as_bytes());
    assert_eq!(a.status, 200);
    assert_eq!(
        json["response"]["status"]["details"]["causes"][0]["field"],
        "spec.workerGroupSpecs[0]"
    );
}

#[test]
fn readable_uid_gets_a_denial_with_code_400() {
    let body = br#"{"request":{"uid":"u-2","operation":"CREATE","kind":{"group":"ray.io","version":"v1","kind":"RayCluster"}}}"#;
    let (a, json) = answer(Webhook::Mutate, body);
    assert_eq!(a.status, 200);
    assert_eq!(json["response"]["uid"], "u-2");
    assert_eq!(json["response"]["allowed"], false);
    assert_eq!(json["response"]["status"]["code"], 400);
    assert!(
        json["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("without request.object")
    );
    let body = br#"{"request":{"uid":"u-3","operation":"EXPLODE"}}"#;
    let (_, json) = answer(Webhook::Validate, body);
    assert_eq!(json["response"]["uid"], "u-3");
    assert_eq!(json["response"]["status"]["code"], 400);
}
