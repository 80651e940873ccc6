//! `check` and `review` answer what the HTTPS server answers: the same
//! objects, the same policy flags, the real server over real TLS on loopback.

mod common;
mod offline_support;

use base64::Engine as _;
use common::{CertDir, Client, Server, http11_config};
use offline_support::{path_str, run, samples, without_positions};
use serde_json::{Value, json};

/// Policy flag sets under which check and server must agree.
const POLICIES: [&[&str]; 4] = [
    &["--default-queue", "user-queue"],
    &[
        "--default-queue",
        "user-queue",
        "--rayjob-workload",
        "raycluster",
    ],
    &[
        "--manage-jobs-without-queue-name",
        "--rayservice-workload",
        "rayservice",
    ],
    &["--max-worker-groups", "0", "--default-queue", "q"],
];

/// The CREATE review kube-apiserver sends for `object` (written here, not
/// taken from `check`, so that both sides are built independently).
fn create_review(uid: &str, object: &Value, namespace: &str) -> Value {
    let mut object = object.clone();
    object["metadata"]["namespace"] = json!(namespace);
    let (_, version) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let kind = object["kind"].as_str().unwrap();
    let resource = kueue_ray_webhook::policy::RayKind::named(kind)
        .unwrap()
        .plural();
    let gvk = json!({"group": "ray.io", "version": version, "kind": kind});
    let gvr = json!({"group": "ray.io", "version": version, "resource": resource});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": object["metadata"]["name"], "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "system:admin"}, "object": object, "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

/// The document a `check` report's `source` points at.
fn source_document(source: &Value) -> Value {
    let text = std::fs::read_to_string(source["file"].as_str().unwrap()).unwrap();
    let index = source["document"].as_u64().unwrap() as usize;
    let document = serde_yaml_ng::Deserializer::from_str(&text)
        .nth(index)
        .unwrap();
    serde::Deserialize::deserialize(document).unwrap()
}

/// The Kueue-style path the manifests register for this kind.
fn mutate_path(kind: &str) -> String {
    format!("/mutate-ray-io-v1-{}", kind.to_lowercase())
}

fn decoded_patch(response: &Value) -> Value {
    match response.get("patch") {
        None => json!([]),
        Some(patch) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch.as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        }
    }
}

/// The violations of a server answer, in check's report form.
fn violations(response: &Value) -> Value {
    let causes = response["status"]["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Value::Array(
        causes
            .iter()
            .map(|c| json!({"path": c["field"], "message": c["message"], "reason": c["reason"]}))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_shared_samples, ignore = "needs ../shared/samples/kuberay")]
async fn check_verdicts_and_patches_equal_the_https_servers_answers() {
    common::install_crypto_provider();
    let certs = CertDir::new();
    let samples = samples();
    let (mut patches, mut denials) = (0, 0);
    for policy in POLICIES {
        let server = Server::start(&certs.cert(), &certs.key(), policy);
        let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
            .await
            .unwrap();
        let mut args = vec!["check", "--output", "json", "--namespace", "ml"];
        args.extend_from_slice(policy);
        args.push(samples.to_str().unwrap());
        let out = run(&args, None);
        let report = out.json();
        let objects = report["objects"].as_array().unwrap();
        assert_eq!(
            objects.len(),
            18,
            "every RayCluster, RayService, RayJob and RayCronJob sample"
        );
        let mut denied = 0;
        for (index, verdict) in objects.iter().enumerate() {
            let object = source_document(&verdict["source"]);
            let uid = format!("equivalence-{index}");
            let body = create_review(&uid, &object, "ml");
            let kind = verdict["kind"].as_str().unwrap();
            let reply = client
                .post(&mutate_path(kind), serde_json::to_vec(&body).unwrap())
                .await
                .unwrap();
            let response = common::assert_review_answer(&reply, &uid, true);
            let context = format!("{policy:?} {}", verdict["source"]);
            // Every policy here manages every object (a default queue or
            // manage-all), except the RayJob itself when its RayCluster is
            // Kueue's workload (and the RayCronJob that creates RayJobs):
            // the server allows it, and check says why.
            let left_alone =
                (kind == "RayJob" || kind == "RayCronJob") && policy.contains(&"raycluster");
            let word = match (response["allowed"] == true, left_alone) {
                (false, _) => "denied",
                (true, false) => "admitted",
                (true, true) => "unmanaged",
            };
            assert_eq!(verdict["verdict"], word, "{context}");
            assert_eq!(
                without_positions(&verdict["patch"]),
                decoded_patch(&response),
                "{context}"
            );
            patches += usize::from(response.get("patch").is_some());
            let warnings = response.get("warnings").cloned().unwrap_or(json!([]));
            let messages: Vec<&Value> = verdict["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| &w["message"])
                .collect();
            assert_eq!(json!(messages), warnings, "{context}");
            let mut expected = violations(&response);
            for violation in expected.as_array_mut().unwrap() {
                // check leaves an empty reason out of its report.
                if violation["reason"] == "" || violation["reason"].is_null() {
                    violation.as_object_mut().unwrap().remove("reason");
                }
            }
            assert_eq!(
                without_positions(&verdict["violations"]),
                expected,
                "{context}"
            );
            if response["allowed"] == false {
                denied += 1;
                assert_eq!(
                    verdict["message"], response["status"]["message"],
                    "{context}"
                );
            }
        }
        assert_eq!(report["summary"]["denied"], denied, "{policy:?}");
        denials += denied;
        assert_eq!(out.code, if denied > 0 { 1 } else { 0 }, "{policy:?}");
    }
    // Both kinds of answer were compared, not only empty ones.
    assert!(
        patches > 0 && denials > 0,
        "{patches} patches, {denials} denials"
    );
}

/// One review each way: `review` prints the server's body, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_prints_the_bytes_the_server_sends() {
    common::install_crypto_provider();
    let certs = CertDir::new();
    let policy = ["--default-queue", "user-queue"];
    let server = Server::start(&certs.cert(), &certs.key(), &policy);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let cluster = common::raycluster("rc", None);
    let mut autoscaling = common::raycluster("scaling", Some("q"));
    autoscaling["spec"]["enableInTreeAutoscaling"] = json!(true);
    let old = common::raycluster("rc", Some("a"));
    let new = common::raycluster("rc", Some("b"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "mutate",
            serde_json::to_vec(&create_review("u1", &cluster, "ml")).unwrap(),
        ),
        (
            "mutate",
            serde_json::to_vec(&create_review("u2", &autoscaling, "ml")).unwrap(),
        ),
        (
            "validate",
            serde_json::to_vec(&create_review("u3", &autoscaling, "ml")).unwrap(),
        ),
        (
            "validate",
            serde_json::to_vec(&common::review("u4", "UPDATE", Some(new), Some(old))).unwrap(),
        ),
    ];
    for (index, (webhook, body)) in cases.iter().enumerate() {
        let reply = client
            .post(&format!("/{webhook}"), body.clone())
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let file = dir.path().join(format!("review-{index}.json"));
        std::fs::write(&file, body).unwrap();
        let mut args = vec!["review", "--webhook", webhook, file.to_str().unwrap()];
        args.extend_from_slice(&policy);
        let out = run(&args, None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout.as_bytes(), &reply.body[..], "case {index}");
        // The same through standard input.
        let mut args = vec!["review", "--webhook", webhook, "-"];
        args.extend_from_slice(&policy);
        assert_eq!(run(&args, Some(body)).stdout.as_bytes(), &reply.body[..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_of_a_bad_request_prints_the_servers_400_and_exits_2() {
    common::install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &[]);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    for body in [&b"not json"[..], b"", b"{\"kind\": \"AdmissionReview\"}"] {
        let reply = client.post("/mutate", body.to_vec()).await.unwrap();
        assert_eq!(reply.status, 400);
        let out = run(&["review", "-"], Some(body));
        assert_eq!(out.code, 2);
        assert_eq!(out.stdout, reply.text());
        assert!(out.stderr.contains("HTTP 400"), "{}", out.stderr);
    }
}

#[test]
fn review_of_a_missing_file_is_exit_2() {
    let out = run(&["review", "/nonexistent/review.json"], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("cannot read /nonexistent/review.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn review_refuses_a_body_over_the_servers_limit_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 8 << 20]).unwrap();
    for args in [vec!["review", path_str(&big)], vec!["review", "/dev/zero"]] {
        let out = run(&args, None);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{args:?}");
        assert!(
            out.stderr.contains(
                "the server would answer HTTP 413: request body is larger than 7340032 bytes (7 MiB)"
            ),
            "{args:?}: {}",
            out.stderr
        );
    }
}
