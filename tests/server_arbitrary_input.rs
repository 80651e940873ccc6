//! Arbitrary input at the HTTP level: reviews with arbitrary JSON in every
//! place, and raw byte damage, sent over one TLS keep-alive connection to the
//! real binary. Every answer is a well-formed AdmissionReview or a plain-text
//! 4xx, never a 5xx, and the connection keeps serving.
//! (tests/proptest_review.rs covers `admission::review` itself in depth,
//! with the same generators, from tests/arbitrary.)

mod arbitrary;
mod common;

use arbitrary::arb_review;
use base64::Engine as _;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};
use serde_json::Value;
use std::cell::{Cell, RefCell};

#[derive(Clone, Debug)]
enum Body {
    Json(Value),
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
            move |cut| Body::Bytes(valid[..cut].to_vec())
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
    if let Body::Json(review) = sent {
        if let Some(uid) = review.pointer("/request/uid").and_then(Value::as_str) {
            prop_assert_eq!(&response["uid"], uid);
        }
        if let Some(patch) = response.get("patch") {
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
        }
    } else {
        prop_assert!(response.get("patch").is_none() || path.starts_with("/mutate"));
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
    runner
        .run(&(paths, arbitrary_body()), |(path, body)| {
            let bytes = match &body {
                Body::Json(value) => serde_json::to_vec(value).unwrap(),
                Body::Bytes(bytes) => bytes.clone(),
            };
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
    // The generator reaches decisions, patches and refusals alike.
    let seen = (reviews.get(), patches.get(), refusals.get());
    eprintln!("(reviews, patches, refusals) = {seen:?}");
    assert!(
        seen.0 > 20 && seen.1 > 20 && seen.2 > 20,
        "(reviews, patches, refusals) = {seen:?}"
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
