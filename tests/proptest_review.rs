//! Property tests: arbitrary JSON in every place of an AdmissionReview.
//!
//! Whatever a client sends, [`review`] answers a well-formed AdmissionReview
//! (uid echoed) or a 4xx, never panics, never patches from the validating
//! webhook, and every patch applies cleanly to the object it was computed
//! for and is idempotent (the patched object gets no further patch).

mod arbitrary;

use arbitrary::{arb_json, arb_review};
use base64::Engine as _;
use kueue_ray_webhook::admission::{Answer, Webhook, review};
use kueue_ray_webhook::policy::{Policy, RayJobWorkload, RayServiceWorkload};
use proptest::prelude::*;
use serde_json::Value;

fn policies() -> impl Strategy<Value = Policy> {
    let flags = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    (flags, 0usize..9).prop_map(
        |((default, manage, service, job, elastic, exclude), max)| Policy {
            max_worker_groups: max,
            default_queue: default.then(|| "default-queue".to_string()),
            manage_jobs_without_queue_name: manage,
            rayservice_workload: if service {
                RayServiceWorkload::Rayservice
            } else {
                RayServiceWorkload::Raycluster
            },
            rayjob_workload: if job {
                RayJobWorkload::Raycluster
            } else {
                RayJobWorkload::Rayjob
            },
            elastic_jobs: elastic,
            // The generated reviews' namespace.
            exclude_namespaces: if exclude {
                vec!["ns".into()]
            } else {
                Vec::new()
            },
            ..Policy::default()
        },
    )
}

/// What a well-formed answer said.
#[derive(Debug, PartialEq)]
enum Checked {
    /// A 4xx with a plain-text reason.
    Refused,
    /// An AdmissionReview answer, with its decoded patch.
    Reviewed {
        allowed: bool,
        patch: Option<json_patch::Patch>,
    },
}

/// Checks the answer's invariants and says what it decided.
fn check_answer(webhook: Webhook, sent: &Value, answer: &Answer) -> Result<Checked, TestCaseError> {
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    if answer.status != 200 {
        prop_assert!(
            (400..500).contains(&answer.status),
            "status {}: {text}",
            answer.status
        );
        prop_assert!(!text.trim().is_empty(), "a 4xx must say what is wrong");
        prop_assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        return Ok(Checked::Refused);
    }
    let got: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    prop_assert_eq!(&got["apiVersion"], "admission.k8s.io/v1");
    prop_assert_eq!(&got["kind"], "AdmissionReview");
    let response = &got["response"];
    prop_assert!(
        sent["request"]["uid"].is_string(),
        "answered a review without a readable uid: {text}"
    );
    prop_assert_eq!(&response["uid"], &sent["request"]["uid"]);
    let allowed = response["allowed"]
        .as_bool()
        .ok_or_else(|| TestCaseError::fail("allowed is not a boolean"))?;
    if !allowed {
        let code = response["status"]["code"].as_i64().unwrap_or(0);
        prop_assert!(
            (400..500).contains(&code),
            "denial with code {code}: {text}"
        );
        prop_assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        prop_assert!(
            response.get("patch").is_none(),
            "a denial carries a patch: {text}"
        );
    }
    let Some(patch) = response.get("patch") else {
        prop_assert!(response.get("patchType").is_none());
        return Ok(Checked::Reviewed {
            allowed,
            patch: None,
        });
    };
    prop_assert_eq!(
        webhook,
        Webhook::Mutate,
        "the validating webhook patched: {}",
        text
    );
    prop_assert_eq!(&response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch.as_str().unwrap_or_default())
        .map_err(|e| TestCaseError::fail(format!("patch is not base64: {e}")))?;
    let patch: json_patch::Patch =
        serde_json::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(Checked::Reviewed {
        allowed,
        patch: Some(patch),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn any_review_gets_a_well_formed_answer(sent in arb_review(), policy in policies()) {
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            let answer = review(webhook, &body, &policy);
            let Checked::Reviewed { patch: Some(patch), .. } = check_answer(webhook, &sent, &answer)? else {
                continue;
            };
            // The patch applies to the object it was computed for...
            let mut patched = sent["request"]["object"].clone();
            json_patch::patch(&mut patched, &patch)
                .map_err(|e| TestCaseError::fail(format!("patch does not apply: {e}")))?;
            // ...and the webhook admits its own result as it is: allowed, no
            // further patch (a 4xx or a denial is not idempotent either).
            let mut again = sent.clone();
            again["request"]["object"] = patched;
            let answer = review(webhook, &serde_json::to_vec(&again).unwrap(), &policy);
            prop_assert_eq!(
                check_answer(webhook, &again, &answer)?,
                Checked::Reviewed { allowed: true, patch: None },
                "not idempotent: {}",
                String::from_utf8_lossy(&answer.body)
            );
        }
    }

    #[test]
    fn any_json_body_gets_a_well_formed_answer(sent in arb_json()) {
        let body = serde_json::to_vec(&sent).unwrap();
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            check_answer(webhook, &sent, &review(webhook, &body, &Policy::default()))?;
        }
    }

    #[test]
    fn any_bytes_get_a_well_formed_answer(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        // What was sent, as far as it is JSON: a 200 needs a readable uid.
        let sent = serde_json::from_slice(&body).unwrap_or(Value::Null);
        for webhook in [Webhook::Mutate, Webhook::Validate] {
            check_answer(webhook, &sent, &review(webhook, &body, &Policy::default()))?;
        }
    }
}
