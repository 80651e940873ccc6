//! Arbitrary input at the HTTP level: reviews with arbitrary JSON in every
//! place, and raw byte damage, sent over one TLS keep-alive connection to the
//! real binary. Every answer is a well-formed AdmissionReview or a plain-text
//! 4xx, never a 5xx, and the connection keeps serving. A share of the
//! cases is designed to be patched (sent to a mutating route) or refused
//! (truncated bytes), and each of those is checked to be, case by case: the
//! test does not count on how often arbitrary input happens to be patched.
//! (tests/proptest_review.rs covers `admission::review` itself in depth,
//! with the same generators, from tests/arbitrary.)

mod arbitrary;
mod common;

use arbitrary::{arb_patched_review, arb_review};
use base64::Engine as _;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};
use serde_json::Value;
use std::cell::{Cell, RefCell};

#[derive(Clone, Debug)]
enum Body {
    /// An arbitrary review: any well-formed answer.
    Json(Value),
    /// A review designed to be patched by a mutating route.
    Patched(Value),
    /// A proper prefix of a valid review: not JSON, so always refused.
    Truncated(Vec<u8>),
    /// Damaged or arbitrary bytes.
    Bytes(Vec<u8>),
}

fn arbitrary_body() -> impl Strategy<Value = Body> {
    let valid = serde_json::to_vec(&review(
        "bytes",
        "CREATE",
        Some(raycluster("rc", Some("q"))),
        None,
    ))
    .unwrap();
    let length = valid.len();
    prop_oneof![
        6 => arb_review().prop_map(Body::Json),
        1 => (0..length).prop_map({
            let valid = valid.clone();
            move |cut| Body::Truncated(valid[..cut].to_vec())
        }),
        1 => prop::collection::vec((0..length, any::<u8>()), 1..8).prop_map(move |flips| {
            let mut bytes = valid.clone();
            for (at, byte) in flips {
                bytes[at] = byte;
            }
            Body::Bytes(bytes)
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
    ]
}

fn check(path: &str, sent: &Body, reply: &Reply) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    prop_assert!(
        status == 200 || (400..500).contains(&status),
        "{status} for {sent:?}: {}",
        reply.text()
    );
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Body::Truncated(_) = sent {
        prop_assert!(
            status != 200,
            "truncated bytes were decided: {}",
            reply.text()
        );
    }
    if let Body::Patched(_) = sent {
        prop_assert_eq!(status, 200, "{}", reply.text());
    }
    if status != 200 {
        prop_assert!(content_type.starts_with("text/plain"), "{content_type}");
        prop_assert!(!reply.body.is_empty());
        return Ok(());
    }
    prop_assert_eq!(content_type, "application/json");
    let answer: Value =
        serde_json::from_slice(&reply.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&answer["apiVersion"], "admission.k8s.io/v1");
    prop_assert_eq!(&answer["kind"], "AdmissionReview");
    let response = &answer["response"];
    prop_assert!(response["allowed"].is_boolean(), "{answer}");
    let (review, must_patch) = match sent {
        Body::Json(review) => (review, false),
        Body::Patched(review) => (review, true),
        Body::Truncated(_) | Body::Bytes(_) => {
            prop_assert!(response.get("patch").is_none() || path.starts_with("/mutate"));
            return Ok(());
        }
    };
    if let Some(uid) = review.pointer("/request/uid").and_then(Value::as_str) {
        prop_assert_eq!(&response["uid"], uid);
    }
    let Some(patch) = response.get("patch") else {
        prop_assert!(!must_patch, "not patched on {path}: {answer}");
        return Ok(());
    };
    prop_assert!(
        path.starts_with("/mutate"),
        "a validating route patched: {answer}"
    );
    prop_assert_eq!(&response["patchType"], "JSONPatch");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(patch.as_str().unwrap_or_default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let patch: json_patch::Patch =
        serde_json::from_slice(&decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut object = review
        .pointer("/request/object")
        .cloned()
        .unwrap_or(Value::Null);
    json_patch::patch(&mut object, &patch)
        .map_err(|e| TestCaseError::fail(format!("patch does not apply: {e}: {answer}")))?;
    if must_patch {
        // What the patch is for: the object is stored suspended, with its queue label.
        prop_assert_eq!(&response["allowed"], true, "{}", answer);
        let suspend = match object["kind"].as_str() {
            Some("RayService") => "/spec/rayClusterConfig/suspend",
            _ => "/spec/suspend",
        };
        prop_assert_eq!(
            object.pointer(suspend),
            Some(&Value::Bool(true)),
            "{}",
            object
        );
        prop_assert!(
            object
                .pointer("/metadata/labels/kueue.x-k8s.io~1queue-name")
                .is_some_and(Value::is_string),
            "no queue label: {object}"
        );
    }
    Ok(())
}

#[test]
fn arbitrary_reviews_and_damaged_bytes_get_well_formed_answers_on_one_connection() {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = RefCell::new(
        runtime
            .block_on(Client::connect(
                server.addr,
                http11_config(&certs.ca.cert_pem),
            ))
            .unwrap(),
    );
    let (reviews, refusals, patches) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let (designed_patches, designed_refusals) = (Cell::new(0), Cell::new(0));
    // A fixed seed: the same 400 cases on every run, so a failure reproduces.
    let config = Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let paths = prop::sample::select(vec![
        "/mutate",
        "/validate?timeout=10s",
        "/mutate-ray-io-v1-rayservice",
    ]);
    let mutating = prop::sample::select(vec!["/mutate", "/mutate-ray-io-v1-rayservice"]);
    let cases = prop_oneof![
        8 => (paths, arbitrary_body()),
        1 => (mutating, arb_patched_review().prop_map(Body::Patched)),
    ];
    runner
        .run(&cases, |(path, body)| {
            let bytes = match &body {
                Body::Json(value) | Body::Patched(value) => serde_json::to_vec(value).unwrap(),
                Body::Truncated(bytes) | Body::Bytes(bytes) => bytes.clone(),
            };
            let designed = match &body {
                Body::Patched(_) => Some(&designed_patches),
                Body::Truncated(_) => Some(&designed_refusals),
                Body::Json(_) | Body::Bytes(_) => None,
            };
            if let Some(designed) = designed {
                designed.set(designed.get() + 1);
            }
            let reply = runtime
                .block_on(client.borrow_mut().post(path, bytes))
                .map_err(|e| TestCaseError::fail(format!("connection failed: {e}")))?;
            let counter = if reply.status != 200 {
                &refusals
            } else if reply.body.windows(8).any(|w| w == b"\"patch\":") {
                &patches
            } else {
                &reviews
            };
            counter.set(counter.get() + 1);
            check(path, &body, &reply)
        })
        .unwrap();
    // Designed patches and refusals were each checked case by case in
    // `check`; here only that both shares ran (about 1/9 and 1/11 of 400
    // cases: never zero), and that arbitrary input also reached decisions.
    let seen = (reviews.get(), patches.get(), refusals.get());
    let designed = (designed_patches.get(), designed_refusals.get());
    eprintln!(
        "(reviews, patches, refusals) = {seen:?}, designed (patches, refusals) = {designed:?}"
    );
    assert!(
        designed.0 > 0 && designed.1 > 0 && seen.0 > 0,
        "(reviews, patches, refusals) = {seen:?}, designed (patches, refusals) = {designed:?}"
    );
    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="500"}"#
        ),
        0.0,
        "{metrics}"
    );
}
