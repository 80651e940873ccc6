//! The real `serve` binary over real TLS on loopback: protocols, routes,
//! keep-alive, HTTP/2, concurrency, the README's curl call.

mod common;

use common::*;
use http_body_util::Full;
use hyper::{Request, StatusCode};
use std::sync::Arc;

fn server() -> (CertDir, Server) {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &[]);
    (certs, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_only_client_gets_many_reviews_on_one_keep_alive_connection() {
    let (certs, server) = server();
    let stream = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(stream);

    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    assert!(matches!(client, Client::Http1(_)));
    for i in 0..200 {
        let uid = format!("keep-alive-{i}");
        let (path, mutating) = if i % 2 == 0 {
            ("/mutate", true)
        } else {
            ("/validate", false)
        };
        let reply = client.post(path, create_review(&uid)).await.unwrap();
        let response = assert_review_answer(&reply, &uid, mutating);
        assert_eq!(response["allowed"], true, "{response}");
        assert_eq!(response.get("patch").is_some(), mutating, "{response}");
    }
    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_admission_requests_total{webhook="mutate",kind="RayCluster",operation="CREATE",allowed="true",mutated="true"}"#
        ),
        100.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_client_multiplexes_reviews_on_one_connection() {
    let (certs, server) = server();
    let client = Client::connect(server.addr, h2_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let Client::Http2(sender) = client else {
        panic!("ALPN h2 was not chosen");
    };
    // One exchange first, so that the client knows the server's stream limit
    // (8) and queues the rest instead of having them refused.
    let reply = Client::Http2(sender.clone())
        .post("/validate", create_review("h2-first"))
        .await
        .unwrap();
    assert_review_answer(&reply, "h2-first", false);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let mut client = Client::Http2(sender.clone());
        tasks.spawn(async move {
            let uid = format!("h2-{i}");
            let reply = client
                .post("/validate?timeout=10s", create_review(&uid))
                .await
                .unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_review_answer(&reply, &uid, false);
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_alias_answers_whatever_the_query_string() {
    let (certs, server) = server();
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    for (path, mutating) in [
        ("/mutate", true),
        ("/mutate?timeout=10s", true),
        ("/mutate-ray-io-v1-raycluster?timeout=10s", true),
        ("/mutate-ray-io-v1-rayservice?timeout=5s&x=y", true),
        ("/validate", false),
        ("/validate?timeout=10s", false),
        ("/validate-ray-io-v1-raycluster?timeout=10s", false),
        ("/validate-ray-io-v1-rayservice", false),
    ] {
        let uid = format!("route {path}");
        let reply = client.post(path, create_review(&uid)).await.unwrap();
        let response = assert_review_answer(&reply, &uid, mutating);
        // A labelled RayCluster is suspended by the mutating webhook only.
        assert_eq!(
            response.get("patch").is_some(),
            mutating,
            "{path}: {response}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_and_unknown_path_get_plain_text_reasons() {
    let (certs, server) = server();
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();

    let get = Request::get("/mutate")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap();
    let reply = client.send(get).await.unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers["allow"], "POST");
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        reply.text().contains("GET") && reply.text().contains("POST"),
        "{}",
        reply.text()
    );

    let reply = client
        .post("/mutate-pods", create_review("x"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("/mutate-pods"), "{}", reply.text());

    // The connection is still good for a review.
    let reply = client
        .post("/validate", create_review("after"))
        .await
        .unwrap();
    assert_review_answer(&reply, "after", false);

    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="405"}"#
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_http_errors_total{code="404"}"#
        ),
        1.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_connections_are_all_answered() {
    let (certs, server) = server();
    let config = http11_config(&certs.ca.cert_pem);
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..100 {
        let config = config.clone();
        let addr = server.addr;
        tasks.spawn(async move {
            let mut client = Client::connect(addr, config).await.unwrap();
            for request in 0..5 {
                let uid = format!("c{connection}-r{request}");
                let reply = client.post("/mutate", create_review(&uid)).await.unwrap();
                assert_review_answer(&reply, &uid, true);
            }
        });
    }
    let mut done = 0;
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
        done += 1;
    }
    assert_eq!(done, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_12_and_13_are_served_and_older_or_foreign_clients_are_not() {
    let (certs, server) = server();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(certs.ca.cert_pem.as_bytes())
        {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut client = Client::connect(server.addr, Arc::new(config))
            .await
            .unwrap();
        let uid = format!("{version:?}");
        let reply = client.post("/validate", create_review(&uid)).await.unwrap();
        assert_review_answer(&reply, &uid, false);
    }
    // A client that does not trust the CA is refused at the handshake.
    let stranger = TestCa::new("another CA");
    assert!(
        connect(server.addr, http11_config(&stranger.cert_pem))
            .await
            .is_err()
    );
    // And the server goes on serving.
    assert_still_serves(&server, &certs.ca.cert_pem).await;
}

#[test]
fn livez_answers_on_the_admin_listener() {
    let (_certs, server) = server();
    assert_eq!(
        admin_get_blocking(server.admin, "/livez"),
        (200, "ok\n".to_owned())
    );
    assert_eq!(
        admin_get_blocking(server.admin, "/readyz"),
        (200, "ok\n".to_owned())
    );
    let (status, body) = admin_get_blocking(server.admin, "/nope");
    assert_eq!(status, 404, "{body}");
}

/// The README's call, with curl, on the example review kept in the repository.
#[test]
fn readme_curl_example_gets_a_suspending_patch() {
    let (certs, server) = server();
    let ca = certs.path().join("ca.crt");
    std::fs::write(&ca, &certs.ca.cert_pem).unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/review-raycluster-create.json"
    );
    let url = format!("https://localhost:{}/mutate", server.addr.port());
    let (code, body, status) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-H",
        "Content-Type: application/json",
        "--data",
        &format!("@{example}"),
        &url,
    ]);
    assert!(status.success(), "curl failed: {body}");
    assert_eq!(code, "200", "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["response"]["uid"],
        "b7f1c2a4-5d3e-4c8a-9e21-6f0a1d2b3c4d"
    );
    assert_eq!(answer["response"]["allowed"], true);
    assert_eq!(answer["response"]["patchType"], "JSONPatch");
    use base64::Engine as _;
    let patch = base64::engine::general_purpose::STANDARD
        .decode(answer["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: serde_json::Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(
        patch,
        serde_json::json!([{"op": "add", "path": "/spec/suspend", "value": true}])
    );
}

/// A 404 answered before its small body arrived leaves the HTTP/1.1
/// connection usable: the next request on it is answered (hyper used to
/// close such a connection without a word).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_with_a_late_body_keeps_the_connection_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    install_crypto_provider();
    let (certs, server) = server();
    let mut stream = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    let body = vec![b'x'; 1500];
    let head = format!(
        "POST /nowhere HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    // The body comes after the server has seen the headers and answered.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(&body).await.unwrap();
    let review = create_review("after-404");
    let next = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        review.len()
    );
    stream.write_all(next.as_bytes()).await.unwrap();
    stream.write_all(&review).await.unwrap();
    stream.flush().await.unwrap();
    let mut answers = Vec::new();
    let _ = stream.read_to_end(&mut answers).await;
    let answers = String::from_utf8_lossy(&answers);
    let statuses: Vec<&str> = answers
        .lines()
        .filter(|line| line.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"],
        "{answers}"
    );
    assert!(answers.contains("after-404"), "{answers}");
}

/// A body that arrives in many pieces (slow writes, chunked encoding, HTTP/2
/// DATA frames) is joined and decided exactly like one sent at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_in_pieces_gets_the_answer_of_the_whole_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (certs, server) = server();
    let ca = &certs.ca.cert_pem;
    // A CREATE to suspend (the answer carries a patch); a long annotation
    // makes the body span many TLS records.
    let mut object = raycluster("pieces", Some("user-queue"));
    object["metadata"]["annotations"] = serde_json::json!({ "note": "n".repeat(100_000) });
    let body = serde_json::to_vec(&review("pieces", "CREATE", Some(object), None)).unwrap();

    let mut whole = Client::connect(server.addr, http11_config(ca))
        .await
        .unwrap();
    let expected = whole.post("/mutate", body.clone()).await.unwrap();
    let expected = assert_review_answer(&expected, "pieces", true);
    assert!(expected["patch"].is_string(), "{expected}");

    // HTTP/1.1, `Content-Length`, written in small pieces with pauses.
    let pieces: Vec<&[u8]> = body.chunks(body.len() / 5 + 1).collect();
    let head = format!(
        "POST /mutate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The same with chunked transfer encoding (no length declared).
    let chunked_head = "POST /mutate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    for chunked in [false, true] {
        let mut stream = connect(server.addr, http11_config(ca)).await.unwrap();
        let head = if chunked { chunked_head } else { head.as_str() };
        stream.write_all(head.as_bytes()).await.unwrap();
        for piece in &pieces {
            if chunked {
                stream
                    .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await
                    .unwrap();
            }
            stream.write_all(piece).await.unwrap();
            if chunked {
                stream.write_all(b"\r\n").await.unwrap();
            }
            stream.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if chunked {
            stream.write_all(b"0\r\n\r\n").await.unwrap();
        }
        stream.flush().await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        let (head, json) = answer.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.1 200 OK"),
            "chunked {chunked}: {answer}"
        );
        let got: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(got["response"], expected, "chunked {chunked}");
    }

    // HTTP/2: the body goes in DATA frames of at most 16 KiB.
    let mut h2 = Client::connect(server.addr, h2_config(ca)).await.unwrap();
    let reply = h2.post("/mutate", body).await.unwrap();
    assert_eq!(assert_review_answer(&reply, "pieces", true), expected);
}
