//! Arbitrary input at the HTTP level: reviews with arbitrary JSON in every
//! place, and raw byte damage, sent over one TLS keep-alive connection to the
//! real binary. Every answer is a well-formed AdmissionReview or a plain-text
//! 4xx, never a 5xx, and the connection keeps serving.
//! (tests/proptest_review.rs covers `admission::review` itself in depth.)

mod common;

use base64::Engine as _;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};

/// Keys and strings the rules read, so that generated values hit them.
const WORDS: &[&str] = &[
    "metadata",
    "labels",
    "annotations",
    "kueue.x-k8s.io/queue-name",
    "ownerReferences",
    "spec",
    "suspend",
    "workerGroupSpecs",
    "groupName",
    "enableInTreeAutoscaling",
    "rayClusterConfig",
    "RayCluster",
    "RayService",
    "CREATE",
    "UPDATE",
    "uid",
    "head",
    "",
];

/// Places of a review where arbitrary values go.
const PLACES: &[&str] = &[
    "",
    "/apiVersion",
    "/kind",
    "/request",
    "/request/uid",
    "/request/kind",
    "/request/kind/kind",
    "/request/kind/group",
    "/request/operation",
    "/request/subResource",
    "/request/dryRun",
    "/request/options",
    "/request/object",
    "/request/object/metadata",
    "/request/object/metadata/labels",
    "/request/object/metadata/labels/kueue.x-k8s.io~1queue-name",
    "/request/object/metadata/annotations",
    "/request/object/metadata/ownerReferences",
    "/request/object/metadata/deletionTimestamp",
    "/request/object/spec",
    "/request/object/spec/suspend",
    "/request/object/spec/enableInTreeAutoscaling",
    "/request/object/spec/workerGroupSpecs",
    "/request/object/spec/workerGroupSpecs/0",
    "/request/object/spec/workerGroupSpecs/0/groupName",
    "/request/oldObject",
    "/request/oldObject/metadata/labels",
    "/request/oldObject/spec",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A valid review (CREATE or UPDATE of a labelled RayCluster) with
/// arbitrary values put at a few places.
fn damaged_review() -> impl Strategy<Value = Value> {
    let base = prop_oneof![
        Just(review(
            "fuzz-uid",
            "CREATE",
            Some(raycluster("rc", Some("user-queue"))),
            None
        )),
        Just(review(
            "fuzz-uid",
            "UPDATE",
            Some(raycluster("rc", Some("user-queue"))),
            Some(raycluster("rc", Some("user-queue")))
        )),
    ];
    let edits = prop::collection::vec((prop::sample::select(PLACES), arbitrary_json()), 0..4);
    (base, edits).prop_map(|(mut review, edits)| {
        for (place, value) in edits {
            if place.is_empty() {
                review = value;
            } else if let Some(slot) = review.pointer_mut(place) {
                *slot = value;
            } else if let Some((parent, key)) = place.rsplit_once('/') {
                if let Some(Value::Object(map)) = review.pointer_mut(parent) {
                    map.insert(key.replace("~1", "/"), value);
                }
            }
        }
        review
    })
}

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
        6 => damaged_review().prop_map(Body::Json),
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
