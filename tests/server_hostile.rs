//! Hostile and broken input against the real binary over real TLS: every
//! malformed request gets a clear answer, oversized bodies a 413 that the
//! client receives, slow or silent clients are dropped, and the server keeps
//! serving throughout.

mod common;

use common::*;
use hyper::StatusCode;
use kueue_ray_webhook::admission::ANSWER_LIMIT;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server(extra: &[&str]) -> (CertDir, Server) {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), extra);
    (certs, server)
}

/// Nested objects `depth` deep: past serde_json's recursion limit (128).
fn deeply_nested(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_400_with_the_problem_named_and_serving_goes_on() {
    let (certs, server) = server(&[]);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let truncated = {
        let full = create_review("t");
        full[..full.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("truncated", truncated, "JSON"),
        ("not JSON", b"kind: AdmissionReview\n".to_vec(), "JSON"),
        // Unknown fields are skipped without recursion: what is missing is named.
        (
            "deeply nested",
            deeply_nested(10_000).into_bytes(),
            "without a request",
        ),
        (
            "not a review",
            br#"{"apiVersion":"v1","kind":"Pod"}"#.to_vec(),
            "AdmissionReview",
        ),
        (
            "review without request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            "request",
        ),
    ];
    for (name, body, named) in cases {
        for path in ["/mutate", "/validate"] {
            let reply = client.post(path, body.clone()).await.unwrap();
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{name} on {path}: {}",
                reply.text()
            );
            let content_type = reply.headers["content-type"].to_str().unwrap();
            assert!(
                content_type.starts_with("text/plain"),
                "{name}: {content_type}"
            );
            let text = reply.text();
            assert!(
                text.len() > 10 && text.contains(named),
                "{name} on {path}: {text:?}"
            );
        }
    }
    // The same keep-alive connection still serves reviews.
    let reply = client
        .post("/mutate", create_review("still-serving"))
        .await
        .unwrap();
    assert_review_answer(&reply, "still-serving", true);
    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="400"}"#
        ),
        12.0,
        "{metrics}"
    );
}

/// An object nested far deeper than any Kubernetes object, inside an
/// otherwise valid review: decided like any object (the policy reads only the
/// fields it needs and skips the rest without recursion), never a 400 or a
/// crash, and the server goes on. Without a queue label it is not Kueue's:
/// allowed, unpatched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_object_inside_a_review_is_decided() {
    let (certs, server) = server(&[]);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let nested_review = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"deep","operation":"CREATE","kind":{{"group":"ray.io","version":"v1","kind":"RayCluster"}},"object":{}}}}}"#,
        deeply_nested(10_000)
    );
    for path in ["/mutate", "/validate"] {
        let reply = client.post(path, nested_review.clone()).await.unwrap();
        let response = assert_review_answer(&reply, "deep", path == "/mutate");
        assert_eq!(response["allowed"], true, "{path}: {response}");
        assert!(response.get("patch").is_none(), "{path}: {response}");
    }
    let reply = client
        .post("/validate", create_review("after"))
        .await
        .unwrap();
    assert_review_answer(&reply, "after", false);
}

/// Issue 11's attack: a 3 MB review with 160,000 worker groups named `A.`
/// (under kube-apiserver's 3 MiB request limit) once got a 123 MB answer.
/// The answer follows the policy: `Too many`, then the 7 groups that may
/// stay; the log line's denials and the metric increments name each violated
/// rule once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_with_160000_badly_named_groups_gets_an_answer_bounded_by_the_policy() {
    let (certs, server) = server(&[]);
    let mut object = raycluster("many", Some("user-queue"));
    object["spec"]["workerGroupSpecs"] =
        serde_json::Value::Array(vec![json!({"groupName": "A."}); 160_000]);
    let body = serde_json::to_vec(&review("many-groups", "CREATE", Some(object), None)).unwrap();
    assert!(body.len() > 3_000_000, "{}", body.len());
    // Connected when the request is ready: a first request must come
    // within --header-read-timeout of accept.
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let reply = client.post("/validate", body).await.unwrap();
    assert!(
        reply.body.len() <= ANSWER_LIMIT,
        "{} bytes",
        reply.body.len()
    );
    let response = assert_review_answer(&reply, "many-groups", false);
    assert_eq!(response["allowed"], false);
    let causes = response["status"]["details"]["causes"].as_array().unwrap();
    let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
    let mut expected = vec!["spec.workerGroupSpecs".to_string()];
    expected.extend((0..7).map(|i| format!("spec.workerGroupSpecs[{i}].groupName")));
    assert_eq!(fields, expected);
    assert_eq!(
        causes[0]["message"],
        "Too many: 160000: must have at most 7 items"
    );
    let line = server.wait_for_log("admission review");
    assert_eq!(line["uid"], "many-groups", "{line}");
    assert_eq!(line["denials"], "too_many_worker_groups,invalid_group_name");
    let metrics = server.metrics();
    for reason in ["too_many_worker_groups", "invalid_group_name"] {
        let series = format!(
            r#"kueue_ray_webhook_admission_denials_total{{kind="RayCluster",reason="{reason}"}}"#
        );
        assert_eq!(metric(&metrics, &series), 1.0, "{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_without_object_is_a_400_denial_with_the_uid_echoed() {
    let (certs, server) = server(&[]);
    let mut client = Client::connect(server.addr, h2_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    for (path, operation) in [("/mutate", "CREATE"), ("/validate", "UPDATE")] {
        let body = serde_json::to_vec(&review("no-object", operation, None, None)).unwrap();
        let reply = client.post(path, body).await.unwrap();
        let response = assert_review_answer(&reply, "no-object", path == "/mutate");
        assert_eq!(response["allowed"], false, "{response}");
        assert_eq!(response["status"]["code"], 400, "{response}");
        assert!(
            response["status"]["message"]
                .as_str()
                .unwrap()
                .contains("object"),
            "{response}"
        );
        assert!(response.get("patch").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mib_update_review_is_decided() {
    let (certs, server) = server(&[]);
    let filler = "x".repeat(5 * 1024 * 1024 / 2);
    let mut old = raycluster("big", Some("user-queue"));
    old["metadata"]["annotations"] = json!({ "filler": filler });
    old["spec"]["suspend"] = json!(true);
    let new = old.clone();
    let body = serde_json::to_vec(&review("big-update", "UPDATE", Some(new), Some(old))).unwrap();
    assert!(
        body.len() > 5 * 1024 * 1024 && body.len() < 7 * 1024 * 1024,
        "{}",
        body.len()
    );
    for config in [
        http11_config(&certs.ca.cert_pem),
        h2_config(&certs.ca.cert_pem),
    ] {
        let mut client = Client::connect(server.addr, config).await.unwrap();
        for path in ["/validate", "/mutate"] {
            let reply = client.post(path, body.clone()).await.unwrap();
            let response = assert_review_answer(&reply, "big-update", path == "/mutate");
            assert_eq!(response["allowed"], true, "{response}");
        }
    }
}

#[test]
fn a_9_mib_body_is_refused_with_413_that_curl_receives() {
    let (certs, server) = server(&[]);
    let ca = certs.path().join("ca.crt");
    std::fs::write(&ca, &certs.ca.cert_pem).unwrap();
    let big = certs.path().join("big.json");
    std::fs::write(&big, vec![b' '; 9 * 1024 * 1024]).unwrap();
    let url = format!(
        "https://localhost:{}/validate?timeout=10s",
        server.addr.port()
    );
    let data = format!("@{}", big.display());
    for protocol in ["--http1.1", "--http2"] {
        for expect in ["Expect:", "Expect: 100-continue"] {
            let (code, body, status) = curl(&[
                protocol,
                "--cacert",
                ca.to_str().unwrap(),
                "-H",
                expect,
                "--data-binary",
                &data,
                &url,
            ]);
            assert!(status.success(), "{protocol} {expect}: curl failed: {body}");
            assert_eq!(code, "413", "{protocol} {expect}: {body}");
            assert!(
                body.contains("larger than") && body.contains("7 MiB"),
                "{body}"
            );
        }
    }
    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="413"}"#
        ),
        4.0,
        "{metrics}"
    );
    // Still serving.
    let small = certs.path().join("small.json");
    std::fs::write(&small, create_review("after-413")).unwrap();
    let (code, body, _) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--data-binary",
        &format!("@{}", small.display()),
        &url,
    ]);
    assert_eq!(code, "200", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_9_mib_body_over_hyper_gets_413_on_both_protocols() {
    let (certs, server) = server(&[]);
    let body = vec![b' '; 9 * 1024 * 1024];
    for config in [
        http11_config(&certs.ca.cert_pem),
        h2_config(&certs.ca.cert_pem),
    ] {
        let mut client = Client::connect(server.addr, config).await.unwrap();
        let reply = client.post("/mutate", body.clone()).await.unwrap();
        assert_eq!(
            reply.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            reply.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_handshakes_is_dropped() {
    let (certs, server) = server(&["--tls-handshake-timeout", "500ms"]);
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the server should close a silent connection: {read:?}"
    );
    assert_still_serves(&server, &certs.ca.cert_pem).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_headers_one_byte_at_a_time_is_dropped() {
    let (certs, server) = server(&["--header-read-timeout", "1s"]);
    let mut stream = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    stream
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    // A header that never ends, one byte every 100 ms, for far longer than
    // the header-read timeout; the server must close the connection first.
    let header = format!("X-Slow: {}", "a".repeat(600));
    let mut closed = false;
    for byte in header.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!(
                "unexpected answer: {:?}",
                String::from_utf8_lossy(&buffer[..n])
            ),
            Err(_) => {}
        }
    }
    assert!(closed, "a slow-header client was never dropped");
    assert_still_serves(&server, &certs.ca.cert_pem).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_within_the_request_timeout() {
    let (certs, server) = server(&["--request-timeout", "500ms"]);
    let mut stream = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    stream
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"apiVersion\":")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("request timeout") {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .unwrap()
        {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request timeout (500ms)"), "{answer}");
}

/// The body deadline (`--body-read-timeout`) comes before the request
/// timeout: a body that stops arriving is answered 408 well within the
/// apiserver's budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_at_the_body_read_timeout() {
    let (certs, server) = server(&["--body-read-timeout", "300ms"]);
    let mut stream = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    stream
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body read timeout (300ms)"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_handshakes_and_never_sends_a_request_is_dropped() {
    let (certs, server) = server(&["--header-read-timeout", "500ms"]);
    for config in [
        http11_config(&certs.ca.cert_pem),
        h2_config(&certs.ca.cert_pem),
    ] {
        let mut stream = connect(server.addr, config).await.unwrap();
        // Read (the HTTP/2 server's SETTINGS arrive first) until the server closes.
        let mut buffer = [0u8; 1024];
        let closed = tokio::time::timeout(PATIENCE, async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an idle fresh connection was never dropped");
    }
    let mut client = Client::connect(server.addr, h2_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    assert_review_answer(
        &client.post("/validate", create_review("ok")).await.unwrap(),
        "ok",
        false,
    );
}

/// curl sends `Expect: 100-continue` for bodies over 1 MiB on HTTP/1.1, as
/// some apiserver proxies do: the server must answer the 100 and decide.
#[test]
fn a_5_mib_review_from_curl_with_expect_100_continue_is_decided() {
    let (certs, server) = server(&[]);
    let ca = certs.path().join("ca.crt");
    std::fs::write(&ca, &certs.ca.cert_pem).unwrap();
    let mut object = raycluster("big", Some("user-queue"));
    object["metadata"]["annotations"] = json!({ "filler": "y".repeat(5 * 1024 * 1024) });
    let body = certs.path().join("big-review.json");
    std::fs::write(
        &body,
        serde_json::to_vec(&review("curl-5mib", "CREATE", Some(object), None)).unwrap(),
    )
    .unwrap();
    let url = format!(
        "https://localhost:{}/mutate?timeout=10s",
        server.addr.port()
    );
    for expect in ["Expect: 100-continue", "Expect:"] {
        let (code, answer, status) = curl(&[
            "--http1.1",
            "--cacert",
            ca.to_str().unwrap(),
            "-H",
            "Content-Type: application/json",
            "-H",
            expect,
            "--data-binary",
            &format!("@{}", body.display()),
            &url,
        ]);
        assert!(status.success(), "{expect}: {answer}");
        assert_eq!(code, "200", "{expect}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["response"]["uid"], "curl-5mib");
        assert_eq!(
            answer["response"]["patchType"], "JSONPatch",
            "{expect}: the cluster is suspended"
        );
    }
}

#[test]
fn a_slow_header_client_on_the_admin_port_is_dropped_and_probes_still_answer() {
    use std::io::{Read, Write};
    let (_certs, server) = server(&["--header-read-timeout", "1s"]);
    let mut slow = std::net::TcpStream::connect(server.admin).unwrap();
    slow.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // One header byte every 100 ms, for far longer than the 1s bound.
    let mut closed = false;
    for _ in 0..300 {
        if slow.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 256];
        match slow.read(&mut buffer) {
            Ok(0) => {
                closed = true;
                break;
            }
            // hyper answers a timed-out header read with 408 before closing.
            Ok(n) => {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                assert!(text.starts_with("HTTP/1.1 408"), "{text}");
                closed = true;
                break;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "a slow-header client on the admin port was never dropped"
    );
    assert_eq!(admin_get_blocking(server.admin, "/readyz").0, 200);
    assert_eq!(admin_get_blocking(server.admin, "/livez").0, 200);
}
