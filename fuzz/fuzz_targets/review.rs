//! Any bytes to `admission::review`, on both webhooks and under several
//! policies: an answer for every input, well-formed (an AdmissionReview that
//! echoes the uid, or a 4xx with a plain-text reason), never a patch from the
//! validating webhook, and never more than `ANSWER_LIMIT` bytes.

#![no_main]

use base64::Engine as _;
use kueue_ray_webhook::admission::{ANSWER_LIMIT, Answer, Webhook, review};
use kueue_ray_webhook::policy::{Policy, RayServiceWorkload};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    let policy = policy_for(body);
    for webhook in [Webhook::Mutate, Webhook::Validate] {
        check(webhook, body, &review(webhook, body, &policy));
    }
});

/// A policy picked by the input's length, so every policy meets every shape.
fn policy_for(body: &[u8]) -> Policy {
    let bits = body.len();
    Policy {
        max_worker_groups: [7, 0, 1, 1024][bits % 4],
        default_queue: (bits & 4 != 0).then(|| "default-queue".to_string()),
        manage_jobs_without_queue_name: bits & 8 != 0,
        rayservice_workload: if bits & 16 != 0 {
            RayServiceWorkload::Rayservice
        } else {
            RayServiceWorkload::Raycluster
        },
        ..Policy::default()
    }
}

fn check(webhook: Webhook, body: &[u8], answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.body);
    assert!(
        answer.body.len() <= ANSWER_LIMIT,
        "answer of {} bytes",
        answer.body.len()
    );
    if answer.status != 200 {
        assert!(
            (400..500).contains(&answer.status),
            "status {}: {text}",
            answer.status
        );
        assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        assert!(!text.trim().is_empty(), "a 4xx without a reason");
        return;
    }
    // Invalid UTF-8 in a part the webhook skips unread (a key or string of
    // the object it does not look at) is not refused; read what was sent as
    // Go's decoder in the API server would, with replacement characters.
    let sent: Value = serde_json::from_slice(body)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(body)))
        .expect("a 200 for a body that is not JSON");
    let got: Value = serde_json::from_slice(&answer.body).expect("the answer is not JSON");
    assert_eq!(got["apiVersion"], "admission.k8s.io/v1", "{text}");
    assert_eq!(got["kind"], "AdmissionReview", "{text}");
    let response = &got["response"];
    assert!(
        sent["request"]["uid"].is_string(),
        "answered without a readable uid: {text}"
    );
    assert_eq!(response["uid"], sent["request"]["uid"], "{text}");
    let allowed = response["allowed"].as_bool().expect("allowed is a boolean");
    if !allowed {
        let code = response["status"]["code"].as_i64().unwrap_or(0);
        assert!(
            (400..500).contains(&code),
            "denial with code {code}: {text}"
        );
        assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "a denial without a message: {text}"
        );
    }
    match response.get("patch") {
        None => assert!(response.get("patchType").is_none(), "{text}"),
        Some(patch) => {
            assert!(allowed, "a denial carries a patch: {text}");
            assert_eq!(
                webhook,
                Webhook::Mutate,
                "the validating webhook patched: {text}"
            );
            assert_eq!(response["patchType"], "JSONPatch", "{text}");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch.as_str().expect("patch is a string"))
                .expect("patch is base64");
            let patch: Value = serde_json::from_slice(&bytes).expect("patch is JSON");
            assert!(patch.is_array(), "patch is not a JSON Patch: {patch}");
        }
    }
}
