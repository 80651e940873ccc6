//! Lifecycle of the real binary: readiness, graceful shutdown on SIGTERM with
//! requests in flight, the second signal, metrics and logs after a known
//! sequence of requests.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn closed(client: &Client) -> bool {
    match client {
        Client::Http1(sender) => sender.is_closed(),
        Client::Http2(sender) => sender.is_closed(),
    }
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_unready_drains_in_flight_requests_closes_idle_connections_and_exits_0() {
    install_crypto_provider();
    let certs = CertDir::new();
    let mut server = Server::start(
        &certs.cert(),
        &certs.key(),
        &[
            "--shutdown-delay",
            "3s",
            "--shutdown-timeout",
            "20s",
            "--request-timeout",
            "1m",
            // The in-flight body below waits out the shutdown delay.
            "--body-read-timeout",
            "1m",
        ],
    );
    let ca = certs.ca.cert_pem.clone();

    // Idle keep-alive connections, HTTP/1.1 and HTTP/2, each used once.
    let mut idle_h1 = Client::connect(server.addr, http11_config(&ca))
        .await
        .unwrap();
    let mut idle_h2 = Client::connect(server.addr, h2_config(&ca)).await.unwrap();
    assert_review_answer(
        &idle_h1
            .post("/validate", create_review("h1"))
            .await
            .unwrap(),
        "h1",
        false,
    );
    assert_review_answer(
        &idle_h2
            .post("/validate", create_review("h2"))
            .await
            .unwrap(),
        "h2",
        false,
    );

    // A request in flight: headers and half of the body sent.
    let body = create_review("in-flight");
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut in_flight = connect(server.addr, http11_config(&ca)).await.unwrap();
    let head = format!(
        "POST /mutate?timeout=10s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(first_half).await.unwrap();
    in_flight.flush().await.unwrap();
    wait_until("the in-flight request is counted", || {
        metric(&server.metrics(), "kueue_ray_webhook_requests_in_flight") == 1.0
    })
    .await;

    server.signal("TERM");
    wait_until("/readyz turns 503", || {
        admin_get_blocking(server.admin, "/readyz") == (503, "shutting down\n".to_owned())
    })
    .await;
    assert_eq!(admin_get_blocking(server.admin, "/livez").0, 200);
    // During the shutdown delay, new connections are still served.
    if server.logs_with("no new connections").is_empty() {
        let mut late = Client::connect(server.addr, http11_config(&ca))
            .await
            .unwrap();
        let reply = late.post("/validate", create_review("late")).await.unwrap();
        assert_review_answer(&reply, "late", false);
        // ... and told to close, so pooled clients move to other replicas.
        assert_eq!(reply.headers["connection"], "close");
    }

    // After the delay: the listener is closed, idle connections are closed.
    server.wait_for_log("no new connections");
    let addr = server.addr;
    let deadline = Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until("idle HTTP/1.1 connection closed", || closed(&idle_h1)).await;
    wait_until("idle HTTP/2 connection closed", || closed(&idle_h2)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    // The in-flight request completes and is answered.
    in_flight.write_all(second_half).await.unwrap();
    in_flight.flush().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, in_flight.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains(r#""uid":"in-flight""#), "{answer}");

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{:#?}", server.logs());
    server.wait_for_log("shutdown complete");
}

#[test]
fn a_second_signal_exits_at_once() {
    install_crypto_provider();
    let certs = CertDir::new();
    // A delay far longer than the test's patience: only the second signal
    // ends it. Given through the flag's environment twin.
    let mut command = Server::command(&certs.cert(), &certs.key());
    command.env("KUEUE_RAY_WEBHOOK_SHUTDOWN_DELAY", "10m");
    let mut server = Server::spawn(command);
    server.signal("TERM");
    let line = server.wait_for_log("still serving during the shutdown delay");
    assert_eq!(line["delay"], "10m", "{line}");
    server.signal("INT");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(1));
    let line = server.wait_for_log("second signal");
    assert_eq!(line["signal"], "SIGINT", "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_a_valid_certificate() {
    install_crypto_provider();
    let certs = CertDir::new();
    let missing = certs.path().join("later");
    std::fs::create_dir(&missing).unwrap();
    let mut command = Server::command(&missing.join("tls.crt"), &missing.join("tls.key"));
    command.args(["--cert-reload-interval", "100ms"]);
    let mut server = Server::spawn_unready(command);
    assert_eq!(admin_get_blocking(server.admin, "/livez").0, 200);
    let (status, body) = admin_get_blocking(server.admin, "/readyz");
    assert_eq!(status, 503);
    assert!(body.contains("certificate"), "{body}");
    let error = server.wait_for_log("cannot load serving certificate");
    assert!(
        error["error"].as_str().unwrap().contains("tls.crt"),
        "{error}"
    );

    std::fs::copy(certs.cert(), missing.join("tls.crt")).unwrap();
    std::fs::copy(certs.key(), missing.join("tls.key")).unwrap();
    server.wait_ready();
    let line = server.wait_for_log("serving admission webhooks over HTTPS");
    server.addr = line["addr"].as_str().unwrap().parse().unwrap();
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    assert_review_answer(
        &client
            .post("/validate", create_review("ready"))
            .await
            .unwrap(),
        "ready",
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_logs_after_a_known_sequence_of_requests() {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &[]);
    let mut client = Client::connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    for i in 0..3 {
        let uid = format!("create-{i}");
        let response = assert_review_answer(
            &client.post("/mutate", create_review(&uid)).await.unwrap(),
            &uid,
            true,
        );
        assert!(response.get("patch").is_some());
    }
    let mut autoscaling = raycluster("autoscaled", Some("user-queue"));
    autoscaling["spec"]["enableInTreeAutoscaling"] = serde_json::json!(true);
    for i in 0..2 {
        let uid = format!("denied-{i}");
        let body =
            serde_json::to_vec(&review(&uid, "CREATE", Some(autoscaling.clone()), None)).unwrap();
        let response =
            assert_review_answer(&client.post("/validate", body).await.unwrap(), &uid, false);
        assert_eq!(response["allowed"], false, "{response}");
    }
    assert_eq!(client.post("/validate", "{").await.unwrap().status, 400);
    assert_eq!(client.post("/nowhere", "{}").await.unwrap().status, 404);
    for _ in 0..3 {
        assert_eq!(admin_get_blocking(server.admin, "/readyz").0, 200);
    }

    let (status, metrics) = admin_get_blocking(server.admin, "/metrics");
    assert_eq!(status, 200);
    let series = |s: &str| metric(&metrics, s);
    let p = "kueue_ray_webhook_";
    assert_eq!(
        series(&format!(
            r#"{p}admission_requests_total{{webhook="mutate",kind="RayCluster",operation="CREATE",allowed="true",mutated="true"}}"#
        )),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        series(&format!(
            r#"{p}admission_requests_total{{webhook="validate",kind="RayCluster",operation="CREATE",allowed="false",mutated="false"}}"#
        )),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        series(&format!(
            r#"{p}admission_denials_total{{kind="RayCluster",reason="autoscaling_enabled"}}"#
        )),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        series(&format!("{p}admission_duration_seconds_count")),
        5.0,
        "{metrics}"
    );
    assert_eq!(
        series(&format!(
            r#"{p}admission_duration_seconds_bucket{{le="+Inf"}}"#
        )),
        5.0,
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            r#"{p}admission_duration_seconds_bucket{{le="0.0001"}}"#
        )),
        "sub-millisecond buckets"
    );
    assert_eq!(
        series(&format!(r#"{p}http_errors_total{{code="400"}}"#)),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        series(&format!(r#"{p}http_errors_total{{code="404"}}"#)),
        1.0,
        "{metrics}"
    );
    assert_eq!(series(&format!("{p}requests_in_flight")), 0.0, "{metrics}");
    assert_eq!(
        series(&format!(
            r#"{p}certificate_reloads_total{{result="success"}}"#
        )),
        1.0,
        "{metrics}"
    );
    assert!(
        series(&format!("{p}certificate_expiry_timestamp_seconds")) > 1.0e9,
        "{metrics}"
    );
    assert_eq!(
        series(&format!(
            r#"{p}build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0,
        "{metrics}"
    );
    assert!(
        !metrics.contains("team-a") && !metrics.contains("autoscaled"),
        "no names in labels"
    );

    // One info line per admission request, with the decision and never the object.
    let lines = server.wait_for_logs("admission review", 6);
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let denied = lines.iter().find(|l| l["uid"] == "denied-0").unwrap();
    assert_eq!(denied["level"], "INFO");
    assert!(denied["timestamp"].is_string(), "{denied}");
    assert_eq!(denied["kind"], "RayCluster");
    assert_eq!(denied["namespace"], "team-a");
    assert_eq!(denied["operation"], "CREATE");
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["dry_run"], false);
    assert_eq!(denied["denials"], "autoscaling_enabled");
    assert!(denied["elapsed_us"].is_u64(), "{denied}");
    let created = lines.iter().find(|l| l["uid"] == "create-0").unwrap();
    assert_eq!(created["mutated"], true);
    assert_eq!(created["changes"], "suspend");
    let all = format!("{:?}", server.logs());
    assert!(
        !all.contains("rayproject/ray"),
        "an object was logged: {all}"
    );
    assert!(!all.contains("readyz"), "probes are not logged");
}

#[test]
fn log_filter_from_flag_or_rust_log_and_text_format() {
    install_crypto_provider();
    let certs = CertDir::new();
    let quiet = "info,kueue_ray_webhook::server::routes=warn";
    let mut by_flag = Server::command(&certs.cert(), &certs.key());
    by_flag.args(["--log-level", quiet, "--shutdown-delay", "0s"]);
    let mut by_env = Server::command(&certs.cert(), &certs.key());
    by_env
        .env("RUST_LOG", quiet)
        .args(["--shutdown-delay", "0s"]);
    for command in [by_flag, by_env] {
        let mut server = Server::spawn(command);
        let ca = certs.path().join("ca.crt");
        std::fs::write(&ca, &certs.ca.cert_pem).unwrap();
        std::fs::write(certs.path().join("r.json"), create_review("quiet")).unwrap();
        let url = format!("https://localhost:{}/validate", server.addr.port());
        let data = format!("@{}", certs.path().join("r.json").display());
        let (code, body, _) = curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            "--data-binary",
            &data,
            &url,
        ]);
        assert_eq!(code, "200", "{body}");
        server.signal("TERM");
        assert_eq!(server.wait_exit().code(), Some(0));
        server.wait_for_log("shutdown complete");
        assert!(
            server.logs_with("admission review").is_empty(),
            "{:#?}",
            server.logs()
        );
    }

    // Text format: human lines, not JSON (the server waits for a certificate).
    let mut text = std::process::Command::new(BIN)
        .args(["serve", "--log-format", "text", "--listen", "127.0.0.1:0"])
        .args([
            "--admin-listen",
            "127.0.0.1:0",
            "--tls-cert-file",
            "/nonexistent/tls.crt",
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(text.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    text.kill().unwrap();
    text.wait().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&first).is_err(),
        "{first}"
    );
    assert!(
        // The first line is the effective policy, logged once at startup.
        first.contains("INFO") && first.contains("effective policy"),
        "{first}"
    );

    // A bad filter is a usage error.
    let output = std::process::Command::new(BIN)
        .args(["serve", "--log-level", "not a [valid directive"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--log-level"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outliving_the_shutdown_timeout_is_cut_and_the_exit_code_says_so() {
    install_crypto_provider();
    let certs = CertDir::new();
    let mut server = Server::start(
        &certs.cert(),
        &certs.key(),
        &[
            "--shutdown-timeout",
            "500ms",
            "--request-timeout",
            "10m",
            "--body-read-timeout",
            "10m",
        ],
    );
    let mut stuck = connect(server.addr, http11_config(&certs.ca.cert_pem))
        .await
        .unwrap();
    stuck
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    stuck.flush().await.unwrap();
    wait_until("the stuck request is counted", || {
        metric(&server.metrics(), "kueue_ray_webhook_requests_in_flight") == 1.0
    })
    .await;
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(1));
    let line = server.wait_for_log("shutdown timeout passed");
    assert_eq!(line["open_connections"], 1, "{line}");
}

#[test]
fn a_zero_timeout_or_interval_is_a_usage_error() {
    for flag in [
        "--request-timeout",
        "--tls-handshake-timeout",
        "--header-read-timeout",
        "--cert-reload-interval",
    ] {
        // The bad log filter ends a serve that took the zero (exit 2, another message).
        let output = std::process::Command::new(BIN)
            .args(["serve", flag, "0s", "--log-level", "not a [valid directive"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains("longer than 0s"),
            "{flag}: {stderr}"
        );
    }
}

/// The runtime's worker threads, by their name in `/proc`.
fn worker_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter(|task| {
            let comm = task.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).unwrap_or_default().trim() == "tokio-rt-worker"
        })
        .count()
}

#[test]
fn worker_threads_default_to_one_and_follow_the_flag() {
    let certs = CertDir::new();
    let default = Server::start(&certs.cert(), &certs.key(), &[]);
    assert_eq!(worker_threads(default.pid()), 1);
    let three = Server::start(&certs.cert(), &certs.key(), &["--worker-threads", "3"]);
    assert_eq!(worker_threads(three.pid()), 3);

    for (count, why) in [("0", "at least 1"), ("257", "at most 256")] {
        // The bad log filter ends a serve that took the count (exit 2, another message).
        let output = std::process::Command::new(BIN)
            .args(["serve", "--worker-threads", count])
            .args(["--log-level", "not a [valid directive"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--worker-threads") && stderr.contains(why),
            "{stderr}"
        );
    }
}
